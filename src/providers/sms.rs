//! The SMS gateway: `SmsSender` is what services call to text a phone; the
//! mock implementation writes each message to an outbox in the store that
//! `GET /mock/sms/outbox?phone=` shows, standing in for the user's phone.
//! The simulator's rules (operation `sms.send`) can make it fail to send,
//! slowly or at once, as a real SMS gateway sometimes does.
//! It exists only in the simulator profile: outside it (production),
//! walletgate has no SMS gateway at all, and `NoSmsGateway` refuses to send
//! rather than keep codes where nobody should read them.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::providers::journal::{CallAnswer, CallStart, MockProvider, RequestJournal};
use crate::providers::sim::{Answer, ProviderCall, Respond, RuleBook, Ruled};
use crate::store::{SharedStore, StoreError};

/// One text message as the phone received it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "phone": "13800000001", "purpose": "set_pin", "code": "482913",
    "text": "【walletgate】验证码 482913，用于设置支付密码，5分钟内有效。请勿告诉他人。",
    "sent_at": "2025-05-01T08:30:00Z", "expires_at": "2025-05-01T08:35:00Z"
}))]
pub struct SmsMessage {
    pub phone: String,
    /// What the code is for, e.g. `bind_wechat`.
    pub purpose: String,
    pub code: String,
    pub text: String,
    pub sent_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

#[async_trait]
pub trait SmsSender: Send + Sync + std::fmt::Debug {
    async fn send(&self, message: &SmsMessage) -> Result<(), SmsError>;
}

#[derive(Debug, thiserror::Error)]
pub enum SmsError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No SMS gateway is configured (the simulator is off).
    #[error("no SMS gateway is configured")]
    NoGateway,
    /// The gateway did not send the message (it failed or could not be reached).
    #[error("the SMS gateway did not send the message: {0}")]
    NotSent(String),
}

impl From<SmsError> for crate::error::ApiError {
    fn from(error: SmsError) -> crate::error::ApiError {
        match error {
            SmsError::Store(error) => error.into(),
            SmsError::NoGateway => crate::error::ApiError::SmsUnavailable,
            SmsError::NotSent(reason) => {
                tracing::warn!(%reason, "an SMS code was not sent");
                crate::error::ApiError::SmsNotSent
            }
        }
    }
}

/// The SMS gateway outside the simulator profile: none. Every send is
/// refused (`SMS_UNAVAILABLE`), so nothing that needs a code goes on.
#[derive(Debug, Clone, Copy)]
pub struct NoSmsGateway;

#[async_trait]
impl SmsSender for NoSmsGateway {
    async fn send(&self, _message: &SmsMessage) -> Result<(), SmsError> {
        Err(SmsError::NoGateway)
    }
}

/// The mock SMS gateway: a capped, newest-first outbox per phone number.
/// Each message sent is journaled as `POST /mock/sms/outbox`.
#[derive(Debug, Clone)]
pub struct MockSmsOutbox {
    store: SharedStore,
    keep: usize,
    journal: RequestJournal,
    /// The simulator's rules, when there are any to obey.
    rules: Option<RuleBook>,
}

fn outbox_list(phone: &str) -> String {
    format!("sms_outbox:{phone}")
}

impl MockSmsOutbox {
    pub fn new(store: SharedStore, keep: usize, journal: RequestJournal) -> MockSmsOutbox {
        MockSmsOutbox { store, keep, journal, rules: None }
    }

    /// The same outbox, sending as the simulator's `rules` say.
    pub fn obeying(self, rules: RuleBook) -> MockSmsOutbox {
        MockSmsOutbox { rules: Some(rules), ..self }
    }

    /// Puts `message` in the outbox, unless a rule says the gateway fails:
    /// with an HTTP error (`system_error` is a 500) or a broken connection.
    async fn deliver(&self, message: &SmsMessage) -> Ruled<Result<(), StoreError>> {
        let forced = match &self.rules {
            Some(rules) => rules.consult_and_wait(&ProviderCall::sms(&message.phone, &message.purpose)).await,
            None => Ok(None),
        };
        let forced = match forced {
            Ok(Some(forced)) => forced,
            Ok(None) => return Ruled::unruled(self.put(message).await),
            Err(error) => return Ruled::unruled(Err(error)),
        };
        let answer = match forced.respond {
            Respond::AsUsual => Answer::Normal(self.put(message).await),
            // Payout outcomes and WeChat errors never match a text (`NewRule::check`).
            respond => Answer::forced_failure(respond, "the gateway failed to send"),
        };
        Ruled { rule: Some(forced.rule), answer }
    }

    async fn put(&self, message: &SmsMessage) -> Result<(), StoreError> {
        let text = serde_json::to_string(message)
            .map_err(|e| StoreError::Corrupt { key: outbox_list(&message.phone), reason: e.to_string() })?;
        self.store.push_recent(&outbox_list(&message.phone), &text, self.keep).await
    }

    /// The newest messages sent to `phone`, newest first.
    pub async fn messages(&self, phone: &str, limit: usize) -> Result<Vec<SmsMessage>, StoreError> {
        let texts = self.store.recent(&outbox_list(phone), limit.min(self.keep)).await?;
        texts
            .iter()
            .map(|text| {
                serde_json::from_str(text)
                    .map_err(|e| StoreError::Corrupt { key: outbox_list(phone), reason: e.to_string() })
            })
            .collect()
    }
}

#[async_trait]
impl SmsSender for MockSmsOutbox {
    async fn send(&self, message: &SmsMessage) -> Result<(), SmsError> {
        let described = |call: &mut CallStart| {
            call.method = "POST".into();
            call.path = "/mock/sms/outbox".into();
            call.body = serde_json::to_vec(message).ok();
        };
        let answer = |ruled: &Ruled<Result<(), StoreError>>| match &ruled.answer {
            Answer::Normal(result) => CallAnswer::status(if result.is_ok() { 200 } else { 503 }),
            Answer::Error { status, code, message } => {
                CallAnswer::json(*status, &serde_json::json!({ "code": code, "message": message }))
            }
            Answer::Broken(fault) => CallAnswer::broken(fault.as_str()),
        };
        let ruled = self.journal.in_process(MockProvider::Sms, described, self.deliver(message), answer).await;
        match ruled.answer {
            Answer::Normal(result) => Ok(result?),
            Answer::Error { status, code, .. } => Err(SmsError::NotSent(format!("HTTP {status} {code}"))),
            Answer::Broken(fault) => Err(SmsError::NotSent(format!("simulated fault: {}", fault.as_str()))),
        }
    }
}
