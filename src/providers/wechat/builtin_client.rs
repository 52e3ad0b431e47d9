//! `WeChatClient` on the built-in mock, in-process: each call goes to the
//! same `MockWeChat` method the `/mock/wechat/sns/...` handlers call, so the
//! gateway sees exactly what it would see over HTTP, without a round trip.

use std::sync::Arc;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use super::mock::{AccessTokenQuery, AccessTokenUse, MockWeChat};
use super::{OAuthToken, UserInfo, WeChatClient, WeChatError};

#[derive(Debug, Clone)]
pub struct BuiltinWeChatClient {
    mock: Arc<MockWeChat>,
    app_id: String,
    app_secret: SecretString,
}

impl BuiltinWeChatClient {
    /// Calls `mock` as the app `app_id` with its secret.
    pub fn new(mock: Arc<MockWeChat>, app_id: impl Into<String>, app_secret: SecretString) -> BuiltinWeChatClient {
        BuiltinWeChatClient { mock, app_id: app_id.into(), app_secret }
    }
}

#[async_trait]
impl WeChatClient for BuiltinWeChatClient {
    async fn exchange_code(&self, code: &str) -> Result<OAuthToken, WeChatError> {
        let query = AccessTokenQuery {
            appid: self.app_id.clone(),
            secret: self.app_secret.expose_secret().to_owned(),
            code: code.to_owned(),
            grant_type: "authorization_code".to_owned(),
        };
        Ok(self.mock.exchange_code(&query).await?)
    }

    async fn user_info(&self, access_token: &str, openid: &str) -> Result<UserInfo, WeChatError> {
        let query = AccessTokenUse {
            access_token: access_token.to_owned(),
            openid: openid.to_owned(),
            lang: "zh_CN".to_owned(),
        };
        Ok(self.mock.user_info(&query).await?)
    }
}
