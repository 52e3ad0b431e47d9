//! The payment PIN: SMS codes to set or reset it, changing it with the old
//! one, and verifying it for sensitive actions — every wrong entry committed
//! to the account before the answer, so the count holds across instances.
//!
//! PINs are stored as HMAC-SHA256(pepper, salt ‖ PIN) with a random salt per
//! account. A slow password hash would add little here: a 6-digit PIN has a
//! million values, so anyone holding the pepper could try them all whatever
//! the hash cost, while every withdrawal would pay tens of milliseconds. The
//! real defences are the pepper (never in the store, so a dump of the store
//! alone reveals nothing) and the attempt lock.

use chrono::{DateTime, Utc};
use rand::RngCore;

use super::partitions::Partitions;
use super::sms::{SmsCodes, sms_refusal};
use crate::auth::Principal;
use crate::auth::one_time_codes::keyed_digest;
use crate::domain::account::{Account, AccountId};
use crate::domain::binding::BindingStatus;
use crate::domain::kyc::IdentityAnswer;
use crate::domain::pin::{Pin, PinPolicy, PinRecord, PinVerdict};
use crate::domain::sms::SmsPurpose;
use crate::domain::withdrawal_decision::PinRefusal;
use crate::error::ApiError;

const PIN_SALT_BYTES: usize = 16;

/// An SMS code on its way.
#[derive(Debug)]
pub struct SentCode {
    pub purpose: SmsPurpose,
    pub sent_to: String,
    pub expires_at: DateTime<Utc>,
}

/// The API error for a PIN entry that was not accepted.
pub fn pin_refusal(verdict: PinVerdict) -> Option<ApiError> {
    PinRefusal::of(verdict).map(ApiError::from)
}

/// The payment PIN: setting it with an SMS code, changing it, checking entries.
#[derive(Debug, Clone)]
pub struct Pins {
    pub partitions: Partitions,
    pub policy: PinPolicy,
    pub sms: SmsCodes,
}

impl Pins {
    /// The keyed digest of `pin` under a record's `salt`.
    pub fn pin_digest(&self, salt: &str, pin: &Pin) -> String {
        keyed_digest(&self.sms.policy.pepper, &["payment_pin", salt], pin.expose())
    }

    pub fn new_pin_record(&self, pin: &Pin, now: DateTime<Utc>) -> PinRecord {
        let mut salt = [0u8; PIN_SALT_BYTES];
        rand::rng().fill_bytes(&mut salt);
        let salt = hex::encode(salt);
        PinRecord { digest: self.pin_digest(&salt, pin), salt, set_at: now, replaces_earlier: false }
    }

    /// Checks a PIN entry inside an account change: counts it, and returns the
    /// refusal to give once the count is committed (`None` when accepted).
    pub fn enter_pin(&self, account: &mut Account, pin: &Pin, now: DateTime<Utc>) -> Option<ApiError> {
        pin_refusal(account.verify_pin(|salt| self.pin_digest(salt, pin), &self.policy, now))
    }

    /// Texts a code for `purpose`, if the account is in a state to use one.
    pub async fn request_sms_code(&self, account_id: &AccountId, purpose: SmsPurpose) -> Result<SentCode, ApiError> {
        let (message, account) = self
            .partitions
            .update_account(account_id, |account, now| {
                let subject = sms_subject(account, purpose, now)?;
                let (challenge, message) =
                    self.sms.new_challenge(account, purpose, &subject, |code| sms_text(purpose, code))?;
                account.issue_sms_challenge(challenge);
                Ok((message, Vec::new()))
            })
            .await?;
        self.sms.send(&message).await?;
        Ok(SentCode { purpose, sent_to: account.login.masked(), expires_at: message.expires_at })
    }

    /// Sets the first PIN (with a `set_pin` code) or resets a forgotten one
    /// (with a `reset_pin` code), which also lifts a lock. A reset of an
    /// account with a verified ID number on record also needs the number's
    /// last six characters (`id_number_last6`): asked for before the code is
    /// looked at, checked after it is accepted, so a wrong answer spends the
    /// code and every guess costs a new, rate-limited SMS.
    pub async fn set_pin_with_sms(
        &self,
        caller: &Principal,
        pin: Pin,
        sms_code: &str,
        id_number_last6: Option<&str>,
    ) -> Result<(), ApiError> {
        let (refusal, _) = self
            .partitions
            .update_account_as(caller, |account, now| {
                let purpose = if account.pin.is_some() { SmsPurpose::ResetPin } else { SmsPurpose::SetPin };
                let identity = match purpose {
                    SmsPurpose::ResetPin => account.answers_identity(id_number_last6, now),
                    _ => None,
                };
                if identity == Some(IdentityAnswer::Missing) {
                    return Err(ApiError::validation(
                        "id_number_last6",
                        "a verified account's reset needs the last six characters of its ID number",
                    ));
                }
                let digest = self.sms.digest(&account.id, purpose, "", sms_code);
                let mut refusal = sms_refusal(account.present_sms_code(purpose, "", &digest, now));
                if refusal.is_none() && identity == Some(IdentityAnswer::Differs) {
                    refusal = Some(ApiError::IdentityCheckFailed);
                }
                if refusal.is_none() {
                    account.set_pin(self.new_pin_record(&pin, now));
                }
                Ok((refusal, Vec::new(), Vec::new()))
            })
            .await?;
        refusal.map_or(Ok(()), Err)
    }

    /// Checks a code for `purpose` ahead of the change it confirms, so an app
    /// can catch a wrong one before asking for more: a right code stays for
    /// that change, a wrong one costs a try.
    pub async fn check_sms_code(
        &self,
        caller: &Principal,
        purpose: SmsPurpose,
        sms_code: &str,
    ) -> Result<(), ApiError> {
        let (verdict, _) = self
            .partitions
            .update_account_as(caller, |account, now| {
                let subject = sms_subject(account, purpose, now)?;
                let digest = self.sms.digest(&account.id, purpose, &subject, sms_code);
                Ok((account.check_sms_code(purpose, &subject, &digest, now), Vec::new(), Vec::new()))
            })
            .await?;
        sms_refusal(verdict).map_or(Ok(()), Err)
    }

    /// Changes the PIN with the old one; a wrong old PIN counts like any entry.
    pub async fn change_pin(&self, caller: &Principal, old_pin: Pin, pin: Pin) -> Result<(), ApiError> {
        let (refusal, _) = self
            .partitions
            .update_account_as(caller, |account, now| {
                let refusal = self.enter_pin(account, &old_pin, now);
                if refusal.is_none() {
                    account.set_pin(self.new_pin_record(&pin, now));
                }
                Ok((refusal, Vec::new(), Vec::new()))
            })
            .await?;
        refusal.map_or(Ok(()), Err)
    }

    pub async fn verify_pin(&self, account_id: &AccountId, pin: Pin) -> Result<(), ApiError> {
        let (refusal, _) = self
            .partitions
            .update_account(account_id, |account, now| Ok((self.enter_pin(account, &pin, now), Vec::new())))
            .await?;
        refusal.map_or(Ok(()), Err)
    }
}

/// What a code for `purpose` will confirm, or why none can be sent now.
fn sms_subject(account: &Account, purpose: SmsPurpose, now: DateTime<Utc>) -> Result<String, ApiError> {
    match purpose {
        SmsPurpose::SetPin if account.pin.is_some() => Err(ApiError::PinAlreadySet),
        SmsPurpose::ResetPin if account.pin.is_none() => Err(ApiError::PinNotSet),
        SmsPurpose::SetPin | SmsPurpose::ResetPin => Ok(String::new()),
        SmsPurpose::BindWechat | SmsPurpose::BindAlipay => account
            .bindings
            .iter()
            .find(|b| b.status_at(now).0 == BindingStatus::PendingConfirmation && b.provider.sms_purpose() == purpose)
            .map(|b| b.id.to_string())
            .ok_or(ApiError::NoPendingBinding),
        SmsPurpose::Register => Err(ApiError::validation(
            "purpose",
            "register codes are for a phone not yet registered: POST /v1/auth/register/code",
        )),
    }
}

/// The text of an SMS carrying `code` for `purpose`.
pub fn sms_text(purpose: SmsPurpose, code: &str) -> String {
    let what = match purpose {
        SmsPurpose::SetPin => "设置支付密码",
        SmsPurpose::ResetPin => "重置支付密码",
        SmsPurpose::BindWechat => "绑定微信",
        SmsPurpose::BindAlipay => "绑定支付宝",
        SmsPurpose::Register => "注册账户",
    };
    format!("【walletgate】验证码 {code}，用于{what}，5分钟内有效。请勿告诉他人。")
}
