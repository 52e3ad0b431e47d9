//! Issuing and checking SMS verification codes: a fresh code goes to the
//! phone through the `SmsSender`, only its keyed digest into the account.

use std::sync::Arc;

use chrono::Duration;
use secrecy::SecretString;

use crate::auth::one_time_codes::{keyed_digest, new_sms_code};
use crate::clock::SharedClock;
use crate::domain::account::{Account, AccountId};
use crate::domain::sms::{SmsChallenge, SmsPurpose, SmsVerdict};
use crate::error::ApiError;
use crate::providers::sms::{SmsMessage, SmsSender};

/// How codes are made and checked.
#[derive(Debug, Clone)]
pub struct SmsPolicy {
    pub sender: Arc<dyn SmsSender>,
    pub pepper: SecretString,
    pub code_ttl: Duration,
    pub attempts_max: u8,
}

/// SMS codes: new challenges, their digests, sending.
#[derive(Debug, Clone)]
pub struct SmsCodes {
    pub clock: SharedClock,
    pub policy: SmsPolicy,
}

impl SmsCodes {
    /// A new challenge for `account` and the message that carries its code.
    /// The caller commits the challenge with its own change, then sends.
    pub fn new_challenge(
        &self,
        account: &Account,
        purpose: SmsPurpose,
        subject: &str,
        text: impl FnOnce(&str) -> String,
    ) -> Result<(SmsChallenge, SmsMessage), ApiError> {
        let phone = account.login.phone_number().ok_or(ApiError::PhoneRequired)?;
        Ok(self.challenge_to(phone, account.id.as_str(), purpose, subject, text))
    }

    /// A new challenge for a phone no account holds yet (registering with
    /// it), and the message that carries its code.
    pub fn new_phone_challenge(
        &self,
        phone: &str,
        purpose: SmsPurpose,
        text: impl FnOnce(&str) -> String,
    ) -> (SmsChallenge, SmsMessage) {
        self.challenge_to(phone, &phone_context(phone), purpose, "", text)
    }

    /// The digest a code for a phone's own challenge is kept by.
    pub fn phone_digest(&self, phone: &str, purpose: SmsPurpose, code: &str) -> String {
        keyed_digest(&self.policy.pepper, &[&phone_context(phone), purpose.code(), ""], code)
    }

    fn challenge_to(
        &self,
        phone: &str,
        context: &str,
        purpose: SmsPurpose,
        subject: &str,
        text: impl FnOnce(&str) -> String,
    ) -> (SmsChallenge, SmsMessage) {
        let now = self.clock.now();
        let code = new_sms_code();
        let challenge = SmsChallenge {
            purpose,
            subject: subject.to_owned(),
            code_digest: keyed_digest(&self.policy.pepper, &[context, purpose.code(), subject], &code),
            expires_at: now + self.policy.code_ttl,
            attempts_left: self.policy.attempts_max,
        };
        let message = SmsMessage {
            phone: phone.to_owned(),
            purpose: purpose.code().to_owned(),
            text: text(&code),
            code,
            sent_at: now,
            expires_at: challenge.expires_at,
        };
        (challenge, message)
    }

    pub fn digest(&self, account_id: &AccountId, purpose: SmsPurpose, subject: &str, code: &str) -> String {
        keyed_digest(&self.policy.pepper, &[account_id.as_str(), purpose.code(), subject], code)
    }

    pub async fn send(&self, message: &SmsMessage) -> Result<(), ApiError> {
        self.policy.sender.send(message).await?;
        tracing::info!(purpose = %message.purpose, "SMS code sent");
        Ok(())
    }
}

/// What a phone's own challenge is bound to: never an account id (those
/// start `acc_`), so its digest cannot stand for an account's.
fn phone_context(phone: &str) -> String {
    format!("phone:{phone}")
}

/// The API error for a code that was not accepted.
pub fn sms_refusal(verdict: SmsVerdict) -> Option<ApiError> {
    match verdict {
        SmsVerdict::Accepted => None,
        SmsVerdict::Incorrect { attempts_remaining } => Some(ApiError::SmsCodeIncorrect { attempts_remaining }),
        SmsVerdict::NoValidCode => Some(ApiError::SmsCodeExpired),
    }
}
