//! Attempt guards: the machinery behind the payment-PIN lock (`pin`) and the
//! login lock (`login_guard`).
//!
//! Wrong answers are counted in a guard kept on the account record, so every
//! gateway instance sees the same count, committed with the account's
//! compare-and-set. After `attempts_max` wrong answers in a row the guard
//! locks, and each lock that follows another without a right answer in
//! between lasts `lock_growth` times longer, up to `lock_max`. While locked
//! even the right answer is refused (and need not be checked).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// How wrong answers are punished.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    pub attempts_max: u8,
    pub lock: Duration,
    /// Each further lock lasts this many times the previous one…
    pub lock_growth: u32,
    /// …but never longer than this.
    pub lock_max: Duration,
}

impl LockoutPolicy {
    /// The length of the `nth` lock in a row (0-based).
    pub fn lock_length(&self, nth: u32) -> Duration {
        let mut length = self.lock;
        for _ in 0..nth {
            length = length * self.lock_growth as i32;
            if length >= self.lock_max {
                return self.lock_max;
            }
        }
        length.min(self.lock_max)
    }
}

/// Wrong-answer bookkeeping, kept with the account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptGuard {
    pub consecutive_failures: u8,
    pub locked_until: Option<DateTime<Utc>>,
    /// Locks since the last right answer; makes the next lock longer.
    pub locks_in_a_row: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Accepted,
    Incorrect { attempts_remaining: u8 },
    Locked { until: DateTime<Utc> },
}

impl AttemptGuard {
    pub fn locked_until(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.locked_until.filter(|until| *until > now)
    }

    pub fn attempts_remaining(&self, policy: &LockoutPolicy, now: DateTime<Utc>) -> u8 {
        if self.locked_until(now).is_some() {
            return 0;
        }
        policy.attempts_max.saturating_sub(self.consecutive_failures)
    }

    /// Judges one answer; `is_right` is asked only when the guard is open.
    /// Counts a wrong answer, locks on the last allowed one, and resets the
    /// count on a right one.
    pub fn judge(&mut self, is_right: impl FnOnce() -> bool, policy: &LockoutPolicy, now: DateTime<Utc>) -> Attempt {
        if let Some(until) = self.locked_until(now) {
            return Attempt::Locked { until };
        }
        if is_right() {
            *self = AttemptGuard::default();
            return Attempt::Accepted;
        }
        self.locked_until = None;
        self.consecutive_failures = self.consecutive_failures.saturating_add(1);
        if self.consecutive_failures < policy.attempts_max {
            return Attempt::Incorrect { attempts_remaining: policy.attempts_max - self.consecutive_failures };
        }
        let until = now + policy.lock_length(self.locks_in_a_row);
        self.locked_until = Some(until);
        self.locks_in_a_row = self.locks_in_a_row.saturating_add(1);
        self.consecutive_failures = 0;
        Attempt::Locked { until }
    }
}
