//! Request-rate limits (governor's GCRA) on the endpoints that guess secrets:
//! login, SMS codes and PIN entry, each per account (for login, per phone or
//! email whether it exists or not, so answers never reveal which do) and per
//! client IP. A refused request costs no password hashing or PIN check.
//!
//! These limits live in each process. What must hold across instances — the
//! payment-PIN lock — is counted in the store instead (see `domain::pin`).

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::ApiError;
use crate::settings::{RateLimit, RateLimitPair, RateLimitSettings};

/// Forget idle keys once a table holds this many.
const KEYS_BEFORE_CLEANUP: usize = 10_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Login,
    SmsCode,
    PinEntry,
}

#[derive(Debug)]
pub struct RateLimits {
    login: Limiters,
    sms: Limiters,
    pin: Limiters,
}

#[derive(Debug)]
struct Limiters {
    per_account: DefaultKeyedRateLimiter<String>,
    per_ip: DefaultKeyedRateLimiter<IpAddr>,
}

impl Limiters {
    fn new(pair: RateLimitPair) -> Limiters {
        Limiters { per_account: keyed(pair.per_account), per_ip: keyed(pair.per_ip) }
    }
}

impl RateLimits {
    pub fn new(settings: &RateLimitSettings) -> RateLimits {
        RateLimits {
            login: Limiters::new(settings.login),
            sms: Limiters::new(settings.sms),
            pin: Limiters::new(settings.pin),
        }
    }

    /// Counts one request for `action` by `account_key` from `ip`; 429 with the
    /// wait once either is over its limit.
    pub fn check(&self, action: Action, account_key: &str, ip: Option<IpAddr>) -> Result<(), ApiError> {
        let limiters = match action {
            Action::Login => &self.login,
            Action::SmsCode => &self.sms,
            Action::PinEntry => &self.pin,
        };
        if let Some(ip) = ip {
            check(&limiters.per_ip, &ip)?;
        }
        check(&limiters.per_account, &account_key.to_owned())
    }
}

fn keyed<K: std::hash::Hash + Eq + Clone>(limit: RateLimit) -> DefaultKeyedRateLimiter<K> {
    let burst = NonZeroU32::new(limit.burst).unwrap_or(NonZeroU32::MIN);
    let period = Duration::from_secs(60) / limit.per_minute.max(1);
    let quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN)).allow_burst(burst);
    DefaultKeyedRateLimiter::keyed(quota)
}

fn check<K: std::hash::Hash + Eq + Clone>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), ApiError> {
    if limiter.len() > KEYS_BEFORE_CLEANUP {
        limiter.retain_recent();
    }
    limiter.check_key(key).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        // Round up: a client that waits the advertised seconds must succeed.
        let retry_after_secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::RateLimited { retry_after_secs: retry_after_secs.max(1) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_account: u32, per_ip: u32) -> RateLimits {
        let pair = RateLimitPair {
            per_account: RateLimit { burst: per_account, per_minute: 6 },
            per_ip: RateLimit { burst: per_ip, per_minute: 6 },
        };
        RateLimits::new(&RateLimitSettings { login: pair, sms: pair, pin: pair })
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
}
