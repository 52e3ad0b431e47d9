//! The `sns` API's requests, the records behind codes and tokens, and its
//! `{errcode, errmsg}` errors.

#[allow(unused_imports)]
use super::*;

use crate::providers::sim::{Answer, ProviderCall, Respond, Ruled};

impl MockWeChat {
    /// `GET /sns/oauth2/access_token` as the simulator's rules have it
    /// answered. A forced error or broken connection leaves the code
    /// unused: the failure came before WeChat looked at it.
    pub async fn exchange_code_ruled(&self, query: &AccessTokenQuery) -> Ruled<Result<OAuthToken, WeChatApiError>> {
        self.sns_ruled(ProviderCall::code_exchange(), self.exchange_code(query)).await
    }

    /// `GET /sns/userinfo` as the simulator's rules have it answered.
    pub async fn user_info_ruled(&self, query: &AccessTokenUse) -> Ruled<Result<UserInfo, WeChatApiError>> {
        self.sns_ruled(ProviderCall::profile_read(&query.openid), self.user_info(query)).await
    }

    /// `call` answered by the first rule that matches it, else by `normal`
    /// (which runs only if the answer is the mock's own).
    async fn sns_ruled<T>(
        &self,
        call: ProviderCall<'_>,
        normal: impl std::future::Future<Output = Result<T, WeChatApiError>>,
    ) -> Ruled<Result<T, WeChatApiError>> {
        let forced = match self.rules.consult_and_wait(&call).await {
            Ok(Some(forced)) => forced,
            Ok(None) => return Ruled::unruled(normal.await),
            Err(error) => return Ruled::unruled(Err(system_busy(error))),
        };
        let answer = match forced.respond {
            Respond::AsUsual => Answer::Normal(normal.await),
            Respond::ApiError { errcode, errmsg } => {
                let errmsg = if errmsg.is_empty() { "simulated error".to_owned() } else { errmsg };
                Answer::Normal(Err(api_error(errcode, &errmsg)))
            }
            Respond::HttpError { status, code, message } => Answer::Error { status, code, message },
            Respond::Fault { fault } => Answer::Broken(fault),
            // Payout outcomes never match an `sns` call (`NewRule::check`).
            Respond::SystemError | Respond::Fail { .. } | Respond::AlipayFail { .. } | Respond::Processing => {
                Answer::Normal(Err(api_error(errcode::SYSTEM_BUSY, "system error")))
            }
        };
        Ruled { rule: Some(forced.rule), answer }
    }
}

/// `GET /sns/oauth2/access_token`.
#[derive(Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct AccessTokenQuery {
    /// The app's id.
    pub appid: String,
    /// The app's secret (server-side only).
    pub secret: String,
    /// The single-use code from the authorize redirect.
    pub code: String,
    /// Must be `authorization_code`.
    pub grant_type: String,
}

impl std::fmt::Debug for AccessTokenQuery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccessTokenQuery")
            .field("appid", &self.appid)
            .field("secret", &"[REDACTED]")
            .field("grant_type", &self.grant_type)
            .finish_non_exhaustive()
    }
}

/// `GET /sns/oauth2/refresh_token`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct RefreshTokenQuery {
    /// The app's id.
    pub appid: String,
    /// Must be `refresh_token`.
    pub grant_type: String,
    /// The refresh token of an earlier exchange.
    pub refresh_token: String,
}

/// `GET /sns/auth` and `GET /sns/userinfo` (which also takes `lang`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, utoipa::IntoParams)]
#[serde(default)]
#[into_params(parameter_in = Query)]
pub struct AccessTokenUse {
    /// A web-authorization access token (not the app's basic one).
    pub access_token: String,
    /// The user the token was issued for.
    pub openid: String,
    /// `zh_CN`, `zh_TW` or `en`; the mock answers the same in each.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub lang: String,
}

/// Who authorized which app for what; carried from a code to its tokens.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Grant {
    pub(super) appid: String,
    pub(super) openid: String,
    pub(super) unionid: String,
    pub(super) scope: Scope,
    pub(super) snapshot: bool,
}

/// A stored code, access token or refresh token.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Issued {
    pub(super) grant: Grant,
    pub(super) expires_at: DateTime<Utc>,
    /// On a refresh token: the access token it last issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) access_token: Option<String>,
}

pub(super) fn code_key(code: &str) -> String {
    format!("wechat:code:{code}")
}

pub(super) fn used_code_key(code: &str) -> String {
    format!("wechat:code_used:{code}")
}

pub(super) fn access_token_key(token: &str) -> String {
    format!("wechat:access_token:{token}")
}

pub(super) fn refresh_token_key(token: &str) -> String {
    format!("wechat:refresh_token:{token}")
}

/// An error body as WeChat writes it, with its request-id suffix.
pub fn api_error(errcode: i64, text: &str) -> WeChatApiError {
    let mut rng = rand::rng();
    let rid = format!("{:08x}-{:08x}-{:08x}", rng.random::<u32>(), rng.random::<u32>(), rng.random::<u32>());
    WeChatApiError { errcode, errmsg: format!("{text}, rid: {rid}") }
}

/// The store failed: the caller sees WeChat's "system busy" and may retry;
/// the cause goes to the log only.
pub(super) fn system_busy(error: StoreError) -> WeChatApiError {
    tracing::warn!(%error, "mock WeChat store failure");
    api_error(errcode::SYSTEM_BUSY, "system error")
}

pub(super) fn page_busy(error: StoreError) -> AuthorizeError {
    tracing::warn!(%error, "mock WeChat store failure");
    AuthorizeError::new(errcode::SYSTEM_BUSY, "系统繁忙，请稍后再试 (system busy)")
}

pub(super) fn invalid_access_token() -> WeChatApiError {
    api_error(errcode::INVALID_CREDENTIAL, "invalid credential, access_token is invalid or not latest")
}
