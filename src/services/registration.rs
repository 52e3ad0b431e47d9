//! Proving a phone before registering with it: a `register` SMS code texted
//! to a number no account holds yet, and redeemed by the registration.
//!
//! There is no account to keep the challenge on, so it lives in an expiring
//! store entry of its own, by phone number. Presenting a code takes the entry
//! (of concurrent takers exactly one gets it) and puts it back only after a
//! wrong try with tries left, so however many requests race, a code is used
//! at most once and guessed at most `attempts_max` times. A new code for the
//! same phone replaces the old one.
//!
//! The request for a code says nothing about whether the phone is already
//! registered (the registration's 409 does, rate-limited like a guess).

use std::time::Duration;

use super::sms::{SmsCodes, sms_refusal};
use crate::domain::credentials::Login;
use crate::domain::sms::{SmsChallenge, SmsPurpose};
use crate::error::ApiError;
use crate::services::pin::{SentCode, sms_text};
use crate::store::SharedStore;
use crate::store::typed::TypedEphemeralValues;

/// Whether registering with a phone needs a code.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationPolicy {
    /// `sms.register_code_required`: a phone registration without `sms_code`
    /// is refused; otherwise a code is checked only when one is given.
    pub code_required: bool,
}

/// `register` SMS codes: sending them, and checking the one a registration carries.
#[derive(Debug, Clone)]
pub struct Registration {
    pub store: SharedStore,
    pub sms: SmsCodes,
    pub policy: RegistrationPolicy,
}

fn challenge_key(phone: &str) -> String {
    format!("register_code:{phone}")
}

impl Registration {
    /// Texts a `register` code to `phone` (a well-formed mainland number).
    pub async fn send_code(&self, phone: &str) -> Result<SentCode, ApiError> {
        let purpose = SmsPurpose::Register;
        let (challenge, message) = self.sms.new_phone_challenge(phone, purpose, |code| sms_text(purpose, code));
        self.keep(phone, &challenge).await?;
        self.sms.send(&message).await?;
        let masked = Login::phone(phone).map(|login| login.masked()).unwrap_or_default();
        Ok(SentCode { purpose, sent_to: masked, expires_at: challenge.expires_at })
    }

    /// Checks what a registration of `login` brings: the code of its phone
    /// (used up when right), or nothing where none is needed. A wrong code is
    /// 422 `SMS_CODE_INCORRECT` (tries left); none sent, expired, used or
    /// voided is 422 `SMS_CODE_EXPIRED`.
    pub async fn check(&self, login: &Login, sms_code: Option<&str>) -> Result<(), ApiError> {
        let Some(phone) = login.phone_number() else {
            return match sms_code {
                Some(_) => Err(ApiError::validation("sms_code", "only a phone registration is proved by SMS")),
                None => Ok(()),
            };
        };
        let Some(code) = sms_code else {
            return match self.policy.code_required {
                true => Err(ApiError::validation("sms_code", "the register code texted to this phone is required")),
                false => Ok(()),
            };
        };
        let Some(challenge) = self.store.take_ephemeral_as::<SmsChallenge>(&challenge_key(phone)).await? else {
            return Err(ApiError::SmsCodeExpired);
        };
        let digest = self.sms.phone_digest(phone, SmsPurpose::Register, code);
        let (verdict, kept) = challenge.present(&digest, self.sms.clock.now());
        if let Some(kept) = kept {
            self.keep(phone, &kept).await?;
        }
        match sms_refusal(verdict) {
            None => Ok(()),
            Some(refusal) => Err(refusal),
        }
    }

    /// Stores `challenge` until it expires (a second more, so the clock, not
    /// the store, decides).
    async fn keep(&self, phone: &str, challenge: &SmsChallenge) -> Result<(), ApiError> {
        let left = (challenge.expires_at - self.sms.clock.now()).num_seconds().max(0) as u64;
        let ttl = Duration::from_secs(left + 1);
        self.store.put_ephemeral_as(&challenge_key(phone), challenge, ttl).await?;
        Ok(())
    }
}
