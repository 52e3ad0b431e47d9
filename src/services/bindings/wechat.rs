//! The WeChat side of a binding: the consent URL at WeChat's
//! `connect/oauth2/authorize`, and the callback's exchange of the `code`
//! (`sns/oauth2/access_token`, then `sns/userinfo`) for the destination.

use super::{AuthorizedBinding, Bindings};
use crate::domain::binding::{BindingFailure, Destination, DestinationProvider};
use crate::error::ApiError;
use crate::providers::wechat::WeChatError;

impl Bindings {
    /// The real WeChat checks the parameter order, so it is kept as documented.
    pub(super) fn wechat_authorize_url(&self, state: &str) -> Result<String, ApiError> {
        let policy = &self.policy;
        let query = serde_urlencoded::to_string([
            ("appid", policy.app_id.as_str()),
            ("redirect_uri", policy.redirect_uri.as_str()),
            ("response_type", "code"),
            ("scope", policy.scope.as_str()),
            ("state", state),
        ])
        .map_err(ApiError::internal)?;
        Ok(format!("{}?{query}#wechat_redirect", policy.authorize_endpoint))
    }

    /// The browser comes back from WeChat. The state names the account and
    /// binding (no bearer token here); the code is exchanged server-side.
    pub async fn complete_wechat_authorization(
        &self,
        code: Option<&str>,
        state: Option<&str>,
    ) -> Result<AuthorizedBinding, ApiError> {
        let (record, code) = self.consented(state, code, DestinationProvider::Wechat).await?;
        let fetched = self.fetch_wechat_destination(code).await;
        self.authorize_fetched(&record, fetched).await
    }

    /// Exchanges the code and reads the profile; on failure, why the binding
    /// failed and what to tell the client.
    async fn fetch_wechat_destination(&self, code: &str) -> Result<Destination, (BindingFailure, ApiError)> {
        let client = &self.policy.client;
        let token = client.exchange_code(code).await.map_err(wechat_failure)?;
        if token.is_snapshot_user() {
            return Err((BindingFailure::SnapshotUser, ApiError::WeChatSnapshotUser));
        }
        let profile = client.user_info(&token.access_token, &token.openid).await.map_err(wechat_failure)?;
        Ok(Destination {
            provider: DestinationProvider::Wechat,
            openid: token.openid,
            unionid: token.unionid.or(profile.unionid),
            nickname: profile.nickname,
            avatar_url: profile.headimgurl,
            real_name: None,
        })
    }
}

fn wechat_failure(error: WeChatError) -> (BindingFailure, ApiError) {
    match error {
        WeChatError::Api(api) => (
            BindingFailure::AuthorizationRejected,
            ApiError::WeChatAuthorizationFailed { errcode: api.errcode, errmsg: api.errmsg },
        ),
        WeChatError::Unavailable(reason) => {
            tracing::warn!(%reason, "WeChat unavailable during a binding");
            (BindingFailure::ProviderUnavailable, ApiError::WeChatUnavailable)
        }
    }
}
