//! The payment PIN: what a valid PIN is, and the attempt guard around it.
//!
//! A PIN is six digits and must not be trivial to guess. Wrong entries are
//! counted on the account record (so every gateway instance sees the same
//! count, committed atomically); after `attempts_max` in a row the PIN locks,
//! and each lock that follows another without a correct entry in between lasts
//! longer, up to a cap. While locked even the right PIN is refused (the guard
//! itself is `lockout`, shared with the login lock). The PIN itself is never
//! here: only a keyed digest and its salt (see `auth::pin`).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use super::account::Account;
use super::lockout::{Attempt, AttemptGuard, LockoutPolicy};

pub const PIN_DIGITS: usize = 6;

/// PINs people pick first; refused in addition to the patterns below.
const COMMON_PINS: [&str; 12] = [
    "123123", "112233", "111222", "121212", "123321", "520520", "520131", "147258", "159357", "789456", "456789",
    "987654",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("must be exactly 6 digits")]
    Malformed,
    #[error("is too easy to guess (repeated digits, a run like 123456, or a common PIN)")]
    Trivial,
}

/// A PIN that meets the rules; its `Debug` never shows the digits.
#[derive(Clone)]
pub struct Pin(String);

impl Pin {
    /// Any well-formed PIN: what a user types to prove they know theirs.
    pub fn parse(text: &str) -> Result<Pin, PinError> {
        if text.len() != PIN_DIGITS || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PinError::Malformed);
        }
        Ok(Pin(text.to_owned()))
    }

    /// A PIN good enough to be chosen as a new one.
    pub fn choose(text: &str) -> Result<Pin, PinError> {
        let pin = Pin::parse(text)?;
        if is_trivial(text.as_bytes()) { Err(PinError::Trivial) } else { Ok(pin) }
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Pin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pin(<redacted>)")
    }
}

fn is_trivial(digits: &[u8]) -> bool {
    let steps: Vec<i16> = digits.windows(2).map(|w| i16::from(w[1]) - i16::from(w[0])).collect();
    let constant_step = steps.iter().all(|&step| step == steps[0]);
    let repeats_with_period = |period: usize| digits.iter().enumerate().all(|(i, &d)| d == digits[i % period]);
    // All one digit (step 0), or a run up or down (step ±1): 000000, 123456, 654321.
    (constant_step && steps[0].abs() <= 1)
        || repeats_with_period(2)
        || repeats_with_period(3)
        || COMMON_PINS.iter().any(|common| common.as_bytes() == digits)
}

/// How wrong entries are punished.
pub type PinPolicy = LockoutPolicy;

/// The stored PIN: a keyed digest of salt + PIN, and the salt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PinRecord {
    pub salt: String,
    pub digest: String,
    pub set_at: DateTime<Utc>,
    /// Whether it replaced an earlier PIN (a change or a reset, not the first one).
    #[serde(default)]
    pub replaces_earlier: bool,
}

/// Wrong-entry bookkeeping, kept with the account.
pub type PinGuard = AttemptGuard;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinVerdict {
    Accepted,
    Incorrect { attempts_remaining: u8 },
    Locked { until: DateTime<Utc> },
    NotSet,
}

impl Account {
    pub fn pin_locked_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.pin_guard.locked_until(now)
    }

    pub fn pin_attempts_remaining(&self, policy: &PinPolicy, now: DateTime<Utc>) -> u8 {
        self.pin_guard.attempts_remaining(policy, now)
    }

    /// Checks a PIN entry. `digest_of` computes the digest of the entered PIN
    /// with the stored salt. Counts a wrong entry, locks on the last allowed
    /// one, and resets the count on a right one. Refuses everything while locked.
    pub fn verify_pin(
        &mut self,
        digest_of: impl FnOnce(&str) -> String,
        policy: &PinPolicy,
        now: DateTime<Utc>,
    ) -> PinVerdict {
        let Some(record) = &self.pin else { return PinVerdict::NotSet };
        let is_right = || bool::from(digest_of(&record.salt).as_bytes().ct_eq(record.digest.as_bytes()));
        match self.pin_guard.judge(is_right, policy, now) {
            Attempt::Accepted => PinVerdict::Accepted,
            Attempt::Incorrect { attempts_remaining } => PinVerdict::Incorrect { attempts_remaining },
            Attempt::Locked { until } => PinVerdict::Locked { until },
        }
    }

    /// Sets (or, after SMS and identity checks, resets) the PIN; a reset also lifts any lock.
    pub fn set_pin(&mut self, record: PinRecord) {
        let replaces_earlier = self.pin.is_some();
        self.pin = Some(PinRecord { replaces_earlier, ..record });
        self.pin_guard = PinGuard::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::fixtures::{alice, now};
    use chrono::Duration;
    use proptest::prelude::*;

    fn policy() -> PinPolicy {
        PinPolicy { attempts_max: 5, lock: Duration::hours(3), lock_growth: 2, lock_max: Duration::hours(24) }
    }

    fn account_with_pin() -> Account {
        let mut account = alice();
        account.set_pin(PinRecord { salt: "s".into(), digest: "right".into(), set_at: now(), replaces_earlier: false });
        account
    }

    fn enter(account: &mut Account, digest: &'static str, at: DateTime<Utc>) -> PinVerdict {
        account.verify_pin(|_| digest.to_owned(), &policy(), at)
    }

    #[test]
    fn the_app_refuses_the_same_common_pins() {
        // web/app/pin-rules.js refuses weak PINs as they are first entered.
        let rules = include_str!("../../web/app/pin-rules.js");
        let listed: Vec<&str> =
            rules.split('"').filter(|part| part.len() == 6 && part.bytes().all(|b| b.is_ascii_digit())).collect();
        assert_eq!(listed, COMMON_PINS, "web/app/pin-rules.js lists other common PINs");
    }

    #[test]
    fn trivial_pins_are_refused() {
        for trivial in [
            "000000", "999999", "123456", "234567", "012345", "654321", "987654", "543210", "121212", "123123",
            "112233", "520520",
        ] {
            assert_eq!(Pin::choose(trivial).unwrap_err(), PinError::Trivial, "{trivial}");
        }
        for fine in ["135790", "284619", "902374", "100233"] {
            assert!(Pin::choose(fine).is_ok(), "{fine}");
        }
        for malformed in ["", "12345", "1234567", "12345a", "１２３４５６", " 13579"] {
            assert_eq!(Pin::parse(malformed).unwrap_err(), PinError::Malformed, "{malformed:?}");
        }
        assert!(!format!("{:?}", Pin::parse("135790").unwrap()).contains("135790"));
    }

    #[test]
    fn wrong_entries_count_down_then_lock_and_the_right_pin_waits() {
        let mut account = account_with_pin();
        for remaining in [4, 3, 2, 1] {
            assert_eq!(enter(&mut account, "wrong", now()), PinVerdict::Incorrect { attempts_remaining: remaining });
        }
        let until = now() + Duration::hours(3);
        assert_eq!(enter(&mut account, "wrong", now()), PinVerdict::Locked { until });
        assert_eq!(enter(&mut account, "right", now() + Duration::minutes(179)), PinVerdict::Locked { until });
        assert_eq!(enter(&mut account, "right", until), PinVerdict::Accepted);
    }

    #[test]
    fn a_right_entry_resets_the_count() {
        let mut account = account_with_pin();
        enter(&mut account, "wrong", now());
        enter(&mut account, "wrong", now());
        assert_eq!(enter(&mut account, "right", now()), PinVerdict::Accepted);
        assert_eq!(enter(&mut account, "wrong", now()), PinVerdict::Incorrect { attempts_remaining: 4 });
    }

    #[test]
    fn locks_in_a_row_grow_up_to_the_cap() {
        let mut account = account_with_pin();
        let mut at = now();
        let mut lengths = Vec::new();
        for _ in 0..5 {
            let verdict = (0..5).map(|_| enter(&mut account, "wrong", at)).last().unwrap();
            let PinVerdict::Locked { until } = verdict else { panic!("expected a lock, got {verdict:?}") };
            lengths.push((until - at).num_hours());
            at = until;
        }
        assert_eq!(lengths, [3, 6, 12, 24, 24]);
    }

    #[test]
    fn setting_a_new_pin_lifts_the_lock() {
        let mut account = account_with_pin();
        (0..5).for_each(|_| {
            enter(&mut account, "wrong", now());
        });
        account.set_pin(PinRecord { salt: "t".into(), digest: "new".into(), set_at: now(), replaces_earlier: false });
        assert_eq!(account.pin_locked_until(now()), None);
        assert_eq!(enter(&mut account, "new", now()), PinVerdict::Accepted);
    }

    proptest! {
        #[test]
        fn never_more_than_the_allowed_entries_are_judged_before_a_lock(entries in 1usize..60) {
            let mut account = account_with_pin();
            let judged = (0..entries)
                .map(|_| enter(&mut account, "wrong", now()))
                .filter(|verdict| matches!(verdict, PinVerdict::Incorrect { .. }))
                .count();
            prop_assert!(judged <= 4);
        }

        #[test]
        fn pin_checks_never_panic(text in "\\PC{0,12}") {
            let _ = Pin::choose(&text);
        }
    }
}
