//! `WeChatClient` over HTTP, for the mock at `{base}/sns/...` or any host
//! shaped like `https://api.weixin.qq.com`. WeChat answers errors with HTTP
//! 200 and an `{errcode, errmsg}` body, so every body is checked for a
//! non-zero `errcode` before it is read as a success.

use std::time::Duration;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::mock::{AccessTokenQuery, AccessTokenUse};
use super::{OAuthToken, UserInfo, WeChatApiError, WeChatClient, WeChatError};

/// A slow WeChat must not hold a gateway request for long.
const REQUEST_TIMEOUT_SECS: u64 = 5;

#[derive(Debug, Clone)]
pub struct HttpWeChatClient {
    http: reqwest::Client,
    /// Without a trailing slash, e.g. `http://127.0.0.1:8080/mock/wechat`.
    base_url: String,
    app_id: String,
    app_secret: SecretString,
}

impl HttpWeChatClient {
    /// Fails only if the HTTP client cannot be set up (at startup).
    pub fn new(
        base_url: impl Into<String>,
        app_id: impl Into<String>,
        app_secret: SecretString,
    ) -> Result<HttpWeChatClient, WeChatError> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(REQUEST_TIMEOUT_SECS))
            .build()
            .map_err(|e| WeChatError::Unavailable(format!("HTTP client setup failed: {e}")))?;
        Ok(HttpWeChatClient {
            http,
            base_url: base_url.into().trim_end_matches('/').to_owned(),
            app_id: app_id.into(),
            app_secret,
        })
    }

    async fn call<T: DeserializeOwned>(&self, path: &str, query: &impl Serialize) -> Result<T, WeChatError> {
        let url = format!("{}{path}", self.base_url);
        let response = self.http.get(&url).query(query).send().await.map_err(|e| unavailable(path, e))?;
        if !response.status().is_success() {
            let status = response.status();
            return Err(WeChatError::Unavailable(format!("{path}: HTTP {status}")));
        }
        let body = response.bytes().await.map_err(|e| unavailable(path, e))?;
        read_body(path, &body)
    }
}

/// Without the URL: it carries the secret or a token in its query.
fn unavailable(path: &str, error: reqwest::Error) -> WeChatError {
    WeChatError::Unavailable(format!("{path}: {}", error.without_url()))
}

/// A non-zero `errcode` is WeChat's error; anything unreadable is an outage.
fn read_body<T: DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, WeChatError> {
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| WeChatError::Unavailable(format!("{path}: unreadable body: {e}")))?;
    if value.get("errcode").and_then(serde_json::Value::as_i64).is_some_and(|code| code != 0) {
        let error: WeChatApiError = serde_json::from_value(value)
            .map_err(|e| WeChatError::Unavailable(format!("{path}: unreadable error: {e}")))?;
        return Err(WeChatError::Api(error));
    }
    serde_json::from_value(value).map_err(|e| WeChatError::Unavailable(format!("{path}: unexpected body: {e}")))
}

#[async_trait]
impl WeChatClient for HttpWeChatClient {
    async fn exchange_code(&self, code: &str) -> Result<OAuthToken, WeChatError> {
        let query = AccessTokenQuery {
            appid: self.app_id.clone(),
            secret: self.app_secret.expose_secret().to_owned(),
            code: code.to_owned(),
            grant_type: "authorization_code".to_owned(),
        };
        self.call("/sns/oauth2/access_token", &query).await
    }

    async fn user_info(&self, access_token: &str, openid: &str) -> Result<UserInfo, WeChatError> {
        let query = AccessTokenUse {
            access_token: access_token.to_owned(),
            openid: openid.to_owned(),
            lang: "zh_CN".to_owned(),
        };
        self.call("/sns/userinfo", &query).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_bodies_become_api_errors_and_garbage_an_outage() {
        let error = read_body::<OAuthToken>("/x", br#"{"errcode":40029,"errmsg":"invalid code"}"#);
        assert!(matches!(error, Err(WeChatError::Api(e)) if e.errcode == 40029));
        let garbage = read_body::<OAuthToken>("/x", b"<html>");
        assert!(matches!(garbage, Err(WeChatError::Unavailable(_))));
        let partial = read_body::<OAuthToken>("/x", br#"{"access_token":"a"}"#);
        assert!(matches!(partial, Err(WeChatError::Unavailable(_))));
    }

    #[test]
    fn a_zero_errcode_is_not_an_error() {
        let info = read_body::<UserInfo>(
            "/x",
            br#"{"errcode":0,"openid":"o1","nickname":"n","sex":0,"province":"","city":"","country":"CN","headimgurl":"","privilege":[]}"#,
        );
        assert_eq!(info.unwrap().openid, "o1");
    }
}
