//! The login lock: failed password logins counted per account in the store.
//!
//! The per-process request-rate limits (`rate_limit`) slow guessing down in
//! one gateway; this lock holds across every gateway on one store. It is the
//! payment PIN's guard (`lockout`) over passwords: `attempts_max` failures in
//! a row (5 by default) lock the login for `lock` (15 minutes), each further
//! lock without a successful login in between lasts `lock_growth` times longer
//! (twice), up to `lock_max` (24 hours). A successful login resets the count;
//! while locked even the right password is refused, and is not even checked.
//! The answer to a locked login is 423 `LOGIN_LOCKED` with
//! `details.locked_until` (like `PIN_LOCKED`): the wait is a fact about the
//! account, not about the request rate, so it is not a 429.
//!
//! A login nobody has registered is guarded the same way (the service keeps
//! its guard in an expiring store entry), so that a lock never tells a known
//! login from an unknown one.

use chrono::{DateTime, Utc};

use super::account::Account;
use super::lockout::{Attempt, LockoutPolicy};

/// How failed logins are punished.
pub type LoginPolicy = LockoutPolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginVerdict {
    Accepted,
    Refused,
    Locked { until: DateTime<Utc> },
}

impl From<Attempt> for LoginVerdict {
    fn from(attempt: Attempt) -> LoginVerdict {
        match attempt {
            Attempt::Accepted => LoginVerdict::Accepted,
            Attempt::Incorrect { .. } => LoginVerdict::Refused,
            Attempt::Locked { until } => LoginVerdict::Locked { until },
        }
    }
}

impl Account {
    pub fn login_locked_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.login_guard.locked_until(now)
    }

    /// Counts one login whose password was (or was not) right.
    pub fn attempt_login(&mut self, password_matches: bool, policy: &LoginPolicy, now: DateTime<Utc>) -> LoginVerdict {
        self.login_guard.judge(|| password_matches, policy, now).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::fixtures::{alice, now};
    use chrono::Duration;

    fn policy() -> LoginPolicy {
        LoginPolicy { attempts_max: 5, lock: Duration::minutes(15), lock_growth: 2, lock_max: Duration::hours(24) }
    }

    #[test]
    fn five_failures_lock_and_the_right_password_waits_for_the_lock_to_end() {
        let mut account = alice();
        for _ in 0..4 {
            assert_eq!(account.attempt_login(false, &policy(), now()), LoginVerdict::Refused);
        }
        let until = now() + Duration::minutes(15);
        assert_eq!(account.attempt_login(false, &policy(), now()), LoginVerdict::Locked { until });
        assert_eq!(account.login_locked_until(now()), Some(until));
        assert_eq!(
            account.attempt_login(true, &policy(), until - Duration::seconds(1)),
            LoginVerdict::Locked { until }
        );
        assert_eq!(account.attempt_login(true, &policy(), until), LoginVerdict::Accepted);
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut account = alice();
        for _ in 0..4 {
            account.attempt_login(false, &policy(), now());
        }
        assert_eq!(account.attempt_login(true, &policy(), now()), LoginVerdict::Accepted);
        for _ in 0..4 {
            assert_eq!(account.attempt_login(false, &policy(), now()), LoginVerdict::Refused);
        }
    }

    #[test]
    fn locks_in_a_row_double_up_to_a_day() {
        let mut account = alice();
        let mut at = now();
        let mut minutes = Vec::new();
        for _ in 0..9 {
            let verdict = (0..5).map(|_| account.attempt_login(false, &policy(), at)).last().unwrap();
            let LoginVerdict::Locked { until } = verdict else { panic!("expected a lock, got {verdict:?}") };
            minutes.push((until - at).num_minutes());
            at = until;
        }
        assert_eq!(minutes, [15, 30, 60, 120, 240, 480, 960, 1440, 1440]);
    }
}
