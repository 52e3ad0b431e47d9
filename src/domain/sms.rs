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
    /// Confirms an Alipay binding waiting for its code.
    BindAlipay,
    SetPin,
    ResetPin,
    /// Proves a phone before an account is registered with it; asked for at
    /// `POST /v1/auth/register/code`, never at `/v1/sms/codes`.
    Register,
}

impl SmsPurpose {
    pub fn code(self) -> &'static str {
        match self {
            SmsPurpose::BindWechat => "bind_wechat",
            SmsPurpose::BindAlipay => "bind_alipay",
            SmsPurpose::SetPin => "set_pin",
            SmsPurpose::ResetPin => "reset_pin",
            SmsPurpose::Register => "register",
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

impl SmsChallenge {
    /// What presenting `digest` would give, without changing anything.
    pub fn verdict(&self, digest: &str, now: DateTime<Utc>) -> SmsVerdict {
        if now >= self.expires_at || self.attempts_left == 0 {
            return SmsVerdict::NoValidCode;
        }
        if bool::from(self.code_digest.as_bytes().ct_eq(digest.as_bytes())) {
            SmsVerdict::Accepted
        } else {
            SmsVerdict::Incorrect { attempts_remaining: self.attempts_left - 1 }
        }
    }

    /// Presents a code to a challenge kept on its own (no account holds it
    /// yet): the verdict, and the challenge to keep for another try — none
    /// once the code is used, voided by wrong tries or expired.
    pub fn present(mut self, digest: &str, now: DateTime<Utc>) -> (SmsVerdict, Option<SmsChallenge>) {
        let verdict = self.verdict(digest, now);
        match verdict {
            SmsVerdict::Incorrect { attempts_remaining } if attempts_remaining > 0 => {
                self.attempts_left = attempts_remaining;
                (verdict, Some(self))
            }
            _ => (verdict, None),
        }
    }
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
        challenge.verdict(digest, now)
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

    /// Checks a code ahead of the change it confirms, without using it up:
    /// a right one stays for that change (`present_sms_code`), a wrong one
    /// costs a try like any other.
    pub fn check_sms_code(
        &mut self,
        purpose: SmsPurpose,
        subject: &str,
        digest: &str,
        now: DateTime<Utc>,
    ) -> SmsVerdict {
        match self.sms_verdict(purpose, subject, digest, now) {
            SmsVerdict::Accepted => SmsVerdict::Accepted,
            _ => self.present_sms_code(purpose, subject, digest, now),
        }
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
    fn a_checked_code_stays_for_its_change_and_a_wrong_check_costs_a_try() {
        let mut account = account_with_code("right");
        let check =
            |account: &mut Account, digest| account.check_sms_code(SmsPurpose::BindWechat, "bnd_1", digest, now());
        assert_eq!(check(&mut account, "right"), SmsVerdict::Accepted);
        assert_eq!(check(&mut account, "wrong"), SmsVerdict::Incorrect { attempts_remaining: 2 });
        assert_eq!(check(&mut account, "right"), SmsVerdict::Accepted, "a wrong try does not void a right code");
        assert_eq!(
            account.present_sms_code(SmsPurpose::BindWechat, "bnd_1", "wrong", now()),
            SmsVerdict::Incorrect { attempts_remaining: 1 }
        );
        assert_eq!(account.present_sms_code(SmsPurpose::BindWechat, "bnd_1", "right", now()), SmsVerdict::Accepted);
        assert_eq!(check(&mut account, "right"), SmsVerdict::NoValidCode, "used by the change");
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
    fn a_challenge_kept_on_its_own_is_used_once_and_voided_by_wrong_tries() {
        let challenge = SmsChallenge {
            purpose: SmsPurpose::Register,
            subject: String::new(),
            code_digest: "right".into(),
            expires_at: now() + Duration::minutes(5),
            attempts_left: 2,
        };
        assert_eq!(challenge.clone().present("right", now()), (SmsVerdict::Accepted, None));
        let (verdict, kept) = challenge.clone().present("wrong", now());
        assert_eq!(verdict, SmsVerdict::Incorrect { attempts_remaining: 1 });
        let kept = kept.expect("one try left");
        assert_eq!(kept.clone().present("wrong", now()), (SmsVerdict::Incorrect { attempts_remaining: 0 }, None));
        assert_eq!(kept.present("right", now()).0, SmsVerdict::Accepted);
        let late = now() + Duration::minutes(5);
        assert_eq!(challenge.present("right", late), (SmsVerdict::NoValidCode, None));
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
