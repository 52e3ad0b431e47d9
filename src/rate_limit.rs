//! Request-rate limits (governor's GCRA) on the endpoints that guess secrets
//! or reveal facts: login, registration (whose 409 says a phone or email is
//! taken), SMS codes and PIN entry, each per account (for login and
//! registration, per phone or email whether it exists or not, so answers never
//! reveal which do) and per client IP. A refused request costs no password
//! hashing or PIN check.
//!
//! These limits live in each process. What must hold across instances — the
//! payment-PIN lock and the login lock — is counted in the store instead (see
//! `domain::pin` and `domain::login_guard`). A simulator reset forgets them
//! (`RateLimits::forget_all`), as it forgets everything else.

use std::hash::Hash;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{RwLock, RwLockReadGuard};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::ApiError;
use crate::settings::{RateLimit, RateLimitPair, RateLimitSettings};

/// Forget idle keys once a table holds this many; after a cleanup, the next
/// waits until the table has doubled, so a table of many busy keys is not
/// scanned again on every request.
const KEYS_BEFORE_CLEANUP: usize = 10_000;
/// How often (in checks) a table's size is looked at; counting its keys
/// visits every shard of the map.
const CHECKS_PER_SIZE_LOOK: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Login,
    Register,
    SmsCode,
    PinEntry,
    /// Looking a transfer's recipient up (which tells whether a phone has an account).
    RecipientLookup,
}

#[derive(Debug)]
pub struct RateLimits {
    login: Limiters,
    register: Limiters,
    sms: Limiters,
    pin: Limiters,
    recipient_lookup: Limiters,
}

#[derive(Debug)]
struct Limiters {
    per_account: Limiter<String>,
    per_ip: Limiter<IpAddr>,
}

/// One keyed limiter and when to clean its table next.
#[derive(Debug)]
struct Limiter<K: Hash + Eq + Clone> {
    quota: Quota,
    // Read-locked by every check (an uncontended read lock costs next to
    // nothing beside the limiter's own work), write-locked only to replace
    // the table when a reset forgets every key: governor has no `clear`.
    table: RwLock<DefaultKeyedRateLimiter<K>>,
    checks: AtomicUsize,
    cleanup_at: AtomicUsize,
}

impl Limiters {
    fn new(pair: RateLimitPair) -> Limiters {
        Limiters { per_account: Limiter::new(pair.per_account), per_ip: Limiter::new(pair.per_ip) }
    }

    fn forget_all(&self) {
        self.per_account.forget_all();
        self.per_ip.forget_all();
    }
}

impl RateLimits {
    pub fn new(settings: &RateLimitSettings) -> RateLimits {
        RateLimits {
            login: Limiters::new(settings.login),
            register: Limiters::new(settings.register),
            sms: Limiters::new(settings.sms),
            pin: Limiters::new(settings.pin),
            recipient_lookup: Limiters::new(settings.recipient_lookup),
        }
    }

    /// Counts one request for `action` by `account_key` from `ip`; 429 with the
    /// wait once either is over its limit.
    pub fn check(&self, action: Action, account_key: &str, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let limiters = match action {
            Action::Login => &self.login,
            Action::Register => &self.register,
            Action::SmsCode => &self.sms,
            Action::PinEntry => &self.pin,
            Action::RecipientLookup => &self.recipient_lookup,
        };
        if let Some(ip) = ip {
            limiters.per_ip.check(&ip)?;
        }
        limiters.per_account.check(&account_key.to_owned())
    }

    /// Forgets every request counted so far, for a simulator reset: the
    /// accounts and addresses they were counted for start afresh.
    pub fn forget_all(&self) {
        for limiters in [&self.login, &self.register, &self.sms, &self.pin, &self.recipient_lookup] {
            limiters.forget_all();
        }
    }
}

impl<K: Hash + Eq + Clone> Limiter<K> {
    fn new(limit: RateLimit) -> Limiter<K> {
        let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
        let period = Duration::from_secs(60) / limit.per_minute.max(1);
        let quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN)).allow_burst(burst);
        Limiter {
            quota,
            table: RwLock::new(DefaultKeyedRateLimiter::keyed(quota)),
            checks: AtomicUsize::new(0),
            cleanup_at: AtomicUsize::new(KEYS_BEFORE_CLEANUP),
        }
    }

    fn table(&self) -> RwLockReadGuard<'_, DefaultKeyedRateLimiter<K>> {
        // The table is replaced whole or not at all: a poisoned lock holds a usable one.
        self.table.read().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn forget_all(&self) {
        let fresh = DefaultKeyedRateLimiter::keyed(self.quota);
        *self.table.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = fresh;
        self.cleanup_at.store(KEYS_BEFORE_CLEANUP, Ordering::Relaxed);
    }

    fn check(&self, key: &K) -> Result<(), ApiError> {
        if self.checks.fetch_add(1, Ordering::Relaxed).is_multiple_of(CHECKS_PER_SIZE_LOOK) {
            self.clean_up_if_big();
        }
        self.table().check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            // Round up: a client that waits the advertised seconds must succeed.
            let retry_after_secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            ApiError::RateLimited { retry_after_secs: retry_after_secs.max(1) }
        })
    }

    /// Forgets keys whose limit has fully recovered, once the table is big.
    fn clean_up_if_big(&self) {
        let table = self.table();
        if table.len() > self.cleanup_at.load(Ordering::Relaxed) {
            table.retain_recent();
            table.shrink_to_fit();
            self.cleanup_at.store((table.len() * 2).max(KEYS_BEFORE_CLEANUP), Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_account: u32, per_ip: u32) -> RateLimits {
        let pair = RateLimitPair {
            per_account: RateLimit { burst: per_account, per_minute: 6 },
            per_ip: RateLimit { burst: per_ip, per_minute: 6 },
        };
        RateLimits::new(&RateLimitSettings {
            login: pair,
            register: pair,
            sms: pair,
            pin: pair,
            recipient_lookup: pair,
        })
    }

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_wait_per_account() {
        let limits = limits(3, 100);
        let ip = Some("10.1.2.3".parse().unwrap());
        for _ in 0..3 {
            assert!(limits.check(Action::Login, "phone:13800000001", ip).is_ok());
        }
        match limits.check(Action::Login, "phone:13800000001", ip) {
            Err(ApiError::RateLimited { retry_after_secs }) => assert!((1..=10).contains(&retry_after_secs)),
            other => panic!("expected a rate limit, got {other:?}"),
        }
        assert!(limits.check(Action::Login, "phone:13800000002", ip).is_ok(), "other accounts are unaffected");
        assert!(limits.check(Action::PinEntry, "phone:13800000001", ip).is_ok(), "other actions are unaffected");
    }

    #[test]
    fn one_address_is_limited_across_accounts() {
        let limits = limits(100, 2);
        let ip = Some("10.1.2.3".parse().unwrap());
        assert!(limits.check(Action::SmsCode, "acc_a", ip).is_ok());
        assert!(limits.check(Action::SmsCode, "acc_b", ip).is_ok());
        assert!(matches!(limits.check(Action::SmsCode, "acc_c", ip), Err(ApiError::RateLimited { .. })));
        assert!(limits.check(Action::SmsCode, "acc_c", Some("10.9.9.9".parse().unwrap())).is_ok());
    }

    #[test]
    fn forgetting_all_lets_every_account_and_address_start_afresh() {
        let limits = limits(1, 1);
        let ip = Some("10.1.2.3".parse().unwrap());
        assert!(limits.check(Action::Login, "phone:13800000001", ip).is_ok());
        assert!(limits.check(Action::Login, "phone:13800000001", ip).is_err());
        assert!(limits.check(Action::PinEntry, "acc_a", ip).is_ok());
        limits.forget_all();
        assert!(limits.check(Action::Login, "phone:13800000001", ip).is_ok());
        assert!(limits.check(Action::PinEntry, "acc_a", ip).is_ok());
        assert!(limits.check(Action::PinEntry, "acc_a", ip).is_err(), "and counts again from there");
    }

    #[test]
    fn a_table_of_busy_keys_is_not_rescanned_on_every_request() {
        let limiter = Limiter::new(RateLimit { burst: 10, per_minute: 1 });
        for n in 0..=KEYS_BEFORE_CLEANUP {
            limiter.check(&n).unwrap();
        }
        // Every key used part of its burst a moment ago, so a cleanup keeps all.
        limiter.clean_up_if_big();
        assert_eq!(limiter.table().len(), KEYS_BEFORE_CLEANUP + 1);
        let next = limiter.cleanup_at.load(Ordering::Relaxed);
        assert_eq!(next, 2 * (KEYS_BEFORE_CLEANUP + 1), "the next cleanup waits for the table to double");
        assert!(limiter.check(&0).is_ok());
    }
}
