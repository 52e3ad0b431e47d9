//! The Alipay side of a binding: the consent URL at Alipay's
//! `publicAppAuthorize.htm` (`scope=auth_user`), and the callback's
//! exchange of the `auth_code` through the signing client
//! (`alipay.system.oauth.token`, then `alipay.user.info.share`) for the
//! destination: the user id or open id the app is given, the nickname and
//! avatar, and the certified real name a transfer's `payee_info.name` carries.

use super::{AuthorizedBinding, Bindings};
use crate::domain::binding::{BindingFailure, Destination, DestinationProvider};
use crate::error::ApiError;
use crate::providers::alipay::client::AlipayCallError;

/// The scope asked for: the consent page, and the profile with it.
const SCOPE: &str = "auth_user";
/// The longest user id or open id taken from Alipay (theirs are 16 and 46 characters).
const IDENTITY_CHARS_MAX: usize = 64;
/// The longest nickname kept (longer ones are cut).
const NICKNAME_CHARS_MAX: usize = 64;
const AVATAR_CHARS_MAX: usize = 512;
const REAL_NAME_CHARS_MAX: usize = 64;

/// What Alipay appends to the redirect URI.
#[derive(Debug, Clone, Copy, Default)]
pub struct AlipayCallback<'a> {
    /// Absent when the user denied the consent.
    pub auth_code: Option<&'a str>,
    pub state: Option<&'a str>,
    /// The app the consent was given to: this gateway's, when present.
    pub app_id: Option<&'a str>,
}

impl Bindings {
    /// `publicAppAuthorize.htm?app_id&scope&redirect_uri&state`, in the order Alipay documents.
    pub(super) fn alipay_authorize_url(&self, state: &str) -> Result<String, ApiError> {
        let policy = &self.policy.alipay;
        let query = serde_urlencoded::to_string([
            ("app_id", policy.app_id.as_str()),
            ("scope", SCOPE),
            ("redirect_uri", policy.redirect_uri.as_str()),
            ("state", state),
        ])
        .map_err(ApiError::internal)?;
        Ok(format!("{}?{query}", policy.authorize_endpoint))
    }

    /// The browser comes back from Alipay. The state names the account and
    /// binding (no bearer token here); the `auth_code` is exchanged
    /// server-side through the signing client.
    pub async fn complete_alipay_authorization(
        &self,
        callback: AlipayCallback<'_>,
    ) -> Result<AuthorizedBinding, ApiError> {
        if callback.app_id.is_some_and(|app_id| app_id != self.policy.alipay.app_id) {
            return Err(ApiError::validation("app_id", "not the Alipay app this gateway binds with"));
        }
        let (record, auth_code) =
            self.consented(callback.state, callback.auth_code, DestinationProvider::Alipay).await?;
        let fetched = self.fetch_alipay_destination(auth_code).await;
        self.authorize_fetched(&record, fetched).await
    }

    /// Exchanges the `auth_code` and reads the profile; on failure, why the
    /// binding failed and what to tell the client.
    async fn fetch_alipay_destination(&self, auth_code: &str) -> Result<Destination, (BindingFailure, ApiError)> {
        let client = self.policy.alipay.client.as_ref().ok_or_else(|| unavailable("no Alipay gateway"))?;
        let token = client.oauth_token(auth_code).await.map_err(alipay_failure)?;
        let identity = token
            .identity()
            .filter(|id| id.chars().count() <= IDENTITY_CHARS_MAX)
            .ok_or_else(|| unavailable("the token answer names no usable user id"))?
            .to_owned();
        let info = client.user_info(&token.access_token).await.map_err(alipay_failure)?;
        if info.open_id.as_deref().or(info.user_id.as_deref()).is_some_and(|id| id != identity) {
            return Err(unavailable("the user info names another user than the token"));
        }
        // Alipay's `user_name` means something only for a certified user.
        let certified = info.is_certified.as_deref() == Some("T");
        let real_name =
            info.user_name.filter(|name| certified && !name.is_empty() && name.chars().count() <= REAL_NAME_CHARS_MAX);
        let avatar_url = info.avatar.filter(|url| url.len() <= AVATAR_CHARS_MAX).unwrap_or_default();
        Ok(Destination {
            provider: DestinationProvider::Alipay,
            openid: identity,
            unionid: None,
            nickname: info.nick_name.unwrap_or_default().chars().take(NICKNAME_CHARS_MAX).collect(),
            avatar_url,
            real_name,
        })
    }
}

fn unavailable(reason: &str) -> (BindingFailure, ApiError) {
    tracing::warn!(%reason, "Alipay unavailable during a binding");
    (
        BindingFailure::ProviderUnavailable,
        ApiError::ProviderUnavailable { provider: DestinationProvider::Alipay.as_str() },
    )
}

fn alipay_failure(error: AlipayCallError) -> (BindingFailure, ApiError) {
    match error {
        AlipayCallError::Failed(failure) => (
            BindingFailure::AuthorizationRejected,
            ApiError::AlipayAuthorizationFailed { sub_code: failure.sub_code, sub_msg: failure.sub_msg },
        ),
        AlipayCallError::Unknown(reason) => unavailable(&reason),
    }
}
