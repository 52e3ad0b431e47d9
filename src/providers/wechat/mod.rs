//! WeChat as the gateway sees it: the `WeChatClient` trait mirrors the real
//! web-authorization API (`/sns/oauth2/access_token`, `/sns/userinfo`), with
//! WeChat's own field names and `{errcode, errmsg}` errors, so the same
//! gateway code can talk to the built-in mock in-process, to the mock over
//! HTTP, or to a real host.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

pub mod builtin_client;
pub mod http_client;
pub mod http_payouts;
pub mod mock;

/// A WeChat Pay signature's nonce as the official SDKs make them: 32 upper-case hex digits.
pub fn pay_nonce() -> String {
    format!("{:032X}", rand::random::<u128>())
}

/// The success body of `/sns/oauth2/access_token` and `/sns/oauth2/refresh_token`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "access_token": "ACCESS_TOKEN_3k9XzQ2mV7pL", "expires_in": 7200, "refresh_token": "REFRESH_TOKEN_8vT1nR4wY6sJ",
    "openid": "oAb1CdEfGhIjKlMnOpQrStUvWxYz", "scope": "snsapi_userinfo", "unionid": "oZy9XwVuTsRqPoNmLkJiHgFeDcBa"
}))]
pub struct OAuthToken {
    pub access_token: String,
    pub expires_in: u64,
    pub refresh_token: String,
    pub openid: String,
    /// Comma-separated scopes, e.g. `snsapi_userinfo`.
    pub scope: String,
    /// Present (= 1) only for snapshot-mode users, whose identity is virtual.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_snapshotuser: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
}

impl OAuthToken {
    pub fn is_snapshot_user(&self) -> bool {
        self.is_snapshotuser == Some(1)
    }
}

/// The success body of `/sns/userinfo`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "openid": "oAb1CdEfGhIjKlMnOpQrStUvWxYz", "nickname": "张三丰", "sex": 0, "province": "", "city": "",
    "country": "", "headimgurl": "https://thirdwx.qlogo.cn/mmopen/vi_32/Q3auHgzwzM4fYt2bTqNk0A/132",
    "privilege": [], "unionid": "oZy9XwVuTsRqPoNmLkJiHgFeDcBa"
}))]
pub struct UserInfo {
    pub openid: String,
    pub nickname: String,
    /// 1 male, 2 female, 0 unknown.
    pub sex: u8,
    pub province: String,
    pub city: String,
    pub country: String,
    pub headimgurl: String,
    pub privilege: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unionid: Option<String>,
}

/// WeChat's error body, sent with HTTP 200: `{"errcode": 40029, "errmsg": "invalid code"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error, utoipa::ToSchema)]
#[error("WeChat error {errcode}: {errmsg}")]
#[schema(example = json!({"errcode": 40029, "errmsg": "invalid code"}))]
pub struct WeChatApiError {
    pub errcode: i64,
    pub errmsg: String,
}

/// Error numbers the gateway and the mock both use (reference §1.6).
pub mod errcode {
    pub const SYSTEM_BUSY: i64 = -1;
    pub const INVALID_CREDENTIAL: i64 = 40001;
    pub const INVALID_GRANT_TYPE: i64 = 40002;
    pub const INVALID_OPENID: i64 = 40003;
    pub const INVALID_APPID: i64 = 40013;
    pub const INVALID_CODE: i64 = 40029;
    pub const INVALID_REFRESH_TOKEN: i64 = 40030;
    pub const INVALID_APPSECRET: i64 = 40125;
    pub const CODE_BEEN_USED: i64 = 40163;
    pub const ACCESS_TOKEN_EXPIRED: i64 = 42001;
    pub const REFRESH_TOKEN_EXPIRED: i64 = 42002;
    pub const CODE_EXPIRED: i64 = 42003;
    pub const API_UNAUTHORIZED: i64 = 48001;
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum WeChatError {
    /// WeChat answered with an error body.
    #[error(transparent)]
    Api(#[from] WeChatApiError),
    /// WeChat could not be reached or answered something unreadable.
    #[error("WeChat unavailable: {0}")]
    Unavailable(String),
}

/// The calls the gateway makes to WeChat, server-side (the app secret never
/// leaves the server).
#[async_trait]
pub trait WeChatClient: Send + Sync + std::fmt::Debug {
    /// `GET /sns/oauth2/access_token?appid&secret&code&grant_type=authorization_code`
    async fn exchange_code(&self, code: &str) -> Result<OAuthToken, WeChatError>;

    /// `GET /sns/userinfo?access_token&openid&lang=zh_CN`
    async fn user_info(&self, access_token: &str, openid: &str) -> Result<UserInfo, WeChatError>;
}
