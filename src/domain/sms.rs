//! One-time SMS verification codes as the account keeps them: only a keyed
//! digest of each code, bound to a purpose (and the thing it confirms), with
//! an expiry and a number of tries. Counting tries on the account record
//! makes them atomic with everything else the account commits.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use utoipa::ToSchema;

use super::account::Account;

/// What a code may be used for; a code for one purpose never confirms another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "set_pin")]
pub enum SmsPurpose {
    BindWechat,
    SetPin,
    ResetPin,
}

impl SmsPurpose {
    pub fn code(self) -> &'static str {
        match self {
            SmsPurpose::BindWechat => "bind_wechat",
            SmsPurpose::SetPin => "set_pin",
            SmsPurpose::ResetPin => "reset_pin",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsChallenge {
    pub purpose: SmsPurpose,
    /// What the code confirms, e.g. a binding id; empty when nothing specific.
    pub subject: String,
    /// Keyed digest of the code (see `auth::one_time_codes`), never the code.
    pub code_digest: String,
    pub expires_at: DateTime<Utc>,
    pub attempts_left: u8,
}

/// The outcome of presenting a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsVerdict {
    Accepted,
    Incorrect {
        attempts_remaining: u8,
    },
    /// Expired, voided by too many wrong tries, already used, or never sent.
    NoValidCode,
}

impl Account {
    /// Stores a new challenge, replacing any earlier one for the same purpose and subject.
    pub fn issue_sms_challenge(&mut self, challenge: SmsChallenge) {
        self.sms_challenges.retain(|c| !(c.purpose == challenge.purpose && c.subject == challenge.subject));
        self.sms_challenges.push(challenge);
    }

    /// What presenting `digest` would give, without changing anything.
    pub fn sms_verdict(&self, purpose: SmsPurpose, subject: &str, digest: &str, now: DateTime<Utc>) -> SmsVerdict {
        let Some(challenge) = self.sms_challenges.iter().find(|c| c.purpose == purpose && c.subject == subject) else {
            return SmsVerdict::NoValidCode;
        };
        if now >= challenge.expires_at || challenge.attempts_left == 0 {
            return SmsVerdict::NoValidCode;
        }
        if bool::from(challenge.code_digest.as_bytes().ct_eq(digest.as_bytes())) {
            SmsVerdict::Accepted
        } else {
            SmsVerdict::Incorrect { attempts_remaining: challenge.attempts_left - 1 }
        }
    }

    /// Presents a code: a right one is used up, a wrong one costs a try, and
    /// a code with no tries left (or expired) is dropped.
    pub fn present_sms_code(
        &mut self,
        purpose: SmsPurpose,
        subject: &str,
        digest: &str,
        now: DateTime<Utc>,
    ) -> SmsVerdict {
        let verdict = self.sms_verdict(purpose, subject, digest, now);
        let matches = |c: &SmsChallenge| c.purpose == purpose && c.subject == subject;
        match verdict {
            SmsVerdict::Accepted | SmsVerdict::NoValidCode | SmsVerdict::Incorrect { attempts_remaining: 0 } => {
                self.sms_challenges.retain(|c| !matches(c));
            }
            SmsVerdict::Incorrect { attempts_remaining } => {
                if let Some(challenge) = self.sms_challenges.iter_mut().find(|c| matches(c)) {
                    challenge.attempts_left = attempts_remaining;
                }
            }
        }
        // Expired challenges of any purpose are dead weight in the record.
        self.sms_challenges.retain(|c| c.expires_at > now);
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::fixtures::{alice, now};
    use chrono::Duration;

    fn account_with_code(digest: &str) -> Account {
        let mut account = alice();
        account.issue_sms_challenge(SmsChallenge {
            purpose: SmsPurpose::BindWechat,
            subject: "bnd_1".into(),
            code_digest: digest.into(),
            expires_at: now() + Duration::minutes(5),
            attempts_left: 3,
        });
        account
    }

    #[test]
    fn a_right_code_is_accepted_once() {
        let mut account = account_with_code("right");
        assert_eq!(account.present_sms_code(SmsPurpose::BindWechat, "bnd_1", "right", now()), SmsVerdict::Accepted);
        assert_eq!(account.present_sms_code(SmsPurpose::BindWechat, "bnd_1", "right", now()), SmsVerdict::NoValidCode);
    }

    #[test]
    fn wrong_tries_count_down_and_then_void_the_code() {
        let mut account = account_with_code("right");
        let present =
            |account: &mut Account, digest| account.present_sms_code(SmsPurpose::BindWechat, "bnd_1", digest, now());
        assert_eq!(present(&mut account, "wrong"), SmsVerdict::Incorrect { attempts_remaining: 2 });
        assert_eq!(present(&mut account, "wrong"), SmsVerdict::Incorrect { attempts_remaining: 1 });
        assert_eq!(present(&mut account, "wrong"), SmsVerdict::Incorrect { attempts_remaining: 0 });
        assert_eq!(present(&mut account, "right"), SmsVerdict::NoValidCode);
    }

    #[test]
    fn codes_are_bound_to_purpose_subject_and_time() {
        let mut account = account_with_code("right");
        assert_eq!(account.sms_verdict(SmsPurpose::SetPin, "bnd_1", "right", now()), SmsVerdict::NoValidCode);
        assert_eq!(account.sms_verdict(SmsPurpose::BindWechat, "bnd_2", "right", now()), SmsVerdict::NoValidCode);
        let late = now() + Duration::minutes(5);
        assert_eq!(account.present_sms_code(SmsPurpose::BindWechat, "bnd_1", "right", late), SmsVerdict::NoValidCode);
        assert!(account.sms_challenges.is_empty());
    }

    #[test]
    fn a_new_code_replaces_the_old_one() {
        let mut account = account_with_code("first");
        let mut again = account.sms_challenges[0].clone();
        again.code_digest = "second".into();
        account.issue_sms_challenge(again);
        assert_eq!(account.sms_challenges.len(), 1);
        assert_eq!(
            account.sms_verdict(SmsPurpose::BindWechat, "bnd_1", "first", now()),
            SmsVerdict::Incorrect { attempts_remaining: 2 }
        );
    }
}
