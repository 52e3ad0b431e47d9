//! `WeChatClient` on the built-in mock, in-process: each call goes to the
//! same `MockWeChat` method the `/mock/wechat/sns/...` handlers call, so the
//! gateway sees exactly what it would see over HTTP, without a round trip;
//! and into the request journal as the call of that path it stands for. A
//! simulator rule's HTTP error or broken connection reaches the gateway as
//! the HTTP client reports it: WeChat unavailable.

use std::sync::Arc;

use async_trait::async_trait;
use secrecy::{ExposeSecret, SecretString};

use super::mock::{AccessTokenQuery, AccessTokenUse, MockWeChat};
use super::{OAuthToken, UserInfo, WeChatApiError, WeChatClient, WeChatError};
use crate::providers::journal::{CallAnswer, CallStart, MockProvider, RequestJournal};
use crate::providers::sim::{Answer, Ruled};

#[derive(Debug, Clone)]
pub struct BuiltinWeChatClient {
    mock: Arc<MockWeChat>,
    journal: RequestJournal,
    app_id: String,
    app_secret: SecretString,
}

impl BuiltinWeChatClient {
    /// Calls `mock` as the app `app_id` with its secret, journaling each call.
    pub fn new(
        mock: Arc<MockWeChat>,
        journal: RequestJournal,
        app_id: impl Into<String>,
        app_secret: SecretString,
    ) -> BuiltinWeChatClient {
        BuiltinWeChatClient { mock, journal, app_id: app_id.into(), app_secret }
    }
}

/// The journal's view of an `sns` call: `GET path?query` (masked when recorded).
fn sns_call(path: &'static str, query: &impl serde::Serialize) -> impl FnOnce(&mut CallStart) {
    let query = serde_urlencoded::to_string(query).ok();
    move |call: &mut CallStart| {
        call.path = path.to_owned();
        call.query = query;
    }
}

/// As WeChat answers over HTTP: 200, with the value or `{errcode, errmsg}`;
/// a rule's error with its status; nothing for a broken connection.
fn sns_answer<T: serde::Serialize>(ruled: &Ruled<Result<T, WeChatApiError>>) -> CallAnswer {
    match &ruled.answer {
        Answer::Normal(Ok(value)) => CallAnswer::json(200, value),
        Answer::Normal(Err(error)) => CallAnswer::json(200, error),
        Answer::Error { status, code, message } => CallAnswer::json(*status, &http_error_body(code, message)),
        Answer::Broken(fault) => CallAnswer::broken(fault.as_str()),
    }
}

/// The body of a rule's HTTP error on an `sns` endpoint: WeChat's shape,
/// "system busy" with the rule's code and message.
pub fn http_error_body(code: &str, message: &str) -> WeChatApiError {
    WeChatApiError { errcode: super::errcode::SYSTEM_BUSY, errmsg: format!("{code}: {message}") }
}

/// A ruled answer as an in-process caller meets it.
fn in_process<T>(ruled: Ruled<Result<T, WeChatApiError>>) -> Result<T, WeChatError> {
    match ruled.answer {
        Answer::Normal(result) => Ok(result?),
        Answer::Error { status, code, .. } => Err(WeChatError::Unavailable(format!("HTTP {status} {code}"))),
        Answer::Broken(fault) => Err(WeChatError::Unavailable(format!("simulated fault: {}", fault.as_str()))),
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
        let call = sns_call("/mock/wechat/sns/oauth2/access_token", &query);
        let ruled = self.mock.exchange_code_ruled(&query);
        in_process(self.journal.in_process(MockProvider::Wechat, call, ruled, sns_answer).await)
    }

    async fn user_info(&self, access_token: &str, openid: &str) -> Result<UserInfo, WeChatError> {
        let query = AccessTokenUse {
            access_token: access_token.to_owned(),
            openid: openid.to_owned(),
            lang: "zh_CN".to_owned(),
        };
        let call = sns_call("/mock/wechat/sns/userinfo", &query);
        let ruled = self.mock.user_info_ruled(&query);
        in_process(self.journal.in_process(MockProvider::Wechat, call, ruled, sns_answer).await)
    }
}
