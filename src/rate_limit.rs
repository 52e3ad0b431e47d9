//! Request-rate limits (governor's GCRA) on endpoints that guess secrets.
//!
//! Login attempts are limited per login identifier, so one account cannot be
//! brute-forced however many addresses the guesses come from, and a limited
//! attempt costs no password hashing. These limits are per process; the
//! protections that must hold across instances (PIN attempt counters) are
//! kept in the store instead.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::error::ApiError;
use crate::settings::RateLimitSettings;

/// Forget idle keys once the table holds this many.
const KEYS_BEFORE_CLEANUP: usize = 10_000;

#[derive(Debug)]
pub struct RateLimits {
    login: DefaultKeyedRateLimiter<String>,
}

impl RateLimits {
    pub fn new(settings: &RateLimitSettings) -> RateLimits {
        RateLimits { login: keyed(settings.login_burst, settings.login_per_minute) }
    }

    /// Counts one login attempt for `login_key`; 429 with the wait once over.
    pub fn check_login(&self, login_key: &str) -> Result<(), ApiError> {
        check(&self.login, login_key)
    }
}

fn keyed(burst: u32, per_minute: u32) -> DefaultKeyedRateLimiter<String> {
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    let per_minute = per_minute.max(1);
    let period = Duration::from_secs(60) / per_minute;
    let quota = Quota::with_period(period).unwrap_or_else(|| Quota::per_minute(NonZeroU32::MIN)).allow_burst(burst);
    DefaultKeyedRateLimiter::keyed(quota)
}

fn check(limiter: &DefaultKeyedRateLimiter<String>, key: &str) -> Result<(), ApiError> {
    if limiter.len() > KEYS_BEFORE_CLEANUP {
        limiter.retain_recent();
    }
    limiter.check_key(&key.to_owned()).map_err(|not_until| {
        let wait = not_until.wait_time_from(DefaultClock::default().now());
        // Round up: a client that waits the advertised seconds must succeed.
        let retry_after_secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        ApiError::RateLimited { retry_after_secs: retry_after_secs.max(1) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refused_with_a_wait_per_key() {
        let limits = RateLimits::new(&RateLimitSettings { login_burst: 3, login_per_minute: 6 });
        for _ in 0..3 {
            assert!(limits.check_login("phone:13800000001").is_ok());
        }
        match limits.check_login("phone:13800000001") {
            Err(ApiError::RateLimited { retry_after_secs }) => {
                assert!((1..=10).contains(&retry_after_secs))
            }
            other => panic!("expected a rate limit, got {other:?}"),
        }
        assert!(limits.check_login("phone:13800000002").is_ok(), "other logins are unaffected");
    }
}
