//! Withdrawal rules as configured: limits and fees per verification level,
//! review thresholds, lifetimes of quotes and idempotency keys, and the time
//! zone whose calendar days and months the caps count in. Built from the
//! settings (`settings::WithdrawalSettings::policy`), read by the use cases.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;

use crate::domain::account::VerificationLevel;
use crate::domain::fees::DestinationFees;
use crate::domain::limits::LevelLimits;
use crate::domain::withdrawal::{PlanRules, ReviewPolicy};

/// WeChat Pay's fixed minimum per transfer, in fen (¥0.10): the mock refuses
/// less, and a level's `amount_min` may not go below it, since a smaller
/// withdrawal could only fail at payout.
pub const PAYOUT_AMOUNT_MIN_FEN: i64 = 10;

/// The rules of one verification level.
#[derive(Debug, Clone, Copy)]
pub struct LevelRules {
    pub limits: LevelLimits,
    /// The fee schedule of each destination, at this level.
    pub fees: DestinationFees,
    /// How long an automatically reviewed withdrawal waits before payout.
    pub auto_review_delay: chrono::Duration,
}

#[derive(Debug, Clone)]
pub struct WithdrawalPolicy {
    pub time_zone: Tz,
    pub quote_ttl: chrono::Duration,
    pub review: ReviewPolicy,
    /// Manual reviews older than this are rejected by the worker.
    pub manual_review_timeout: Option<chrono::Duration>,
    /// How soon operators promise to decide a manual review.
    pub review_sla: chrono::Duration,
    pub idempotency_ttl: chrono::Duration,
    pub levels: [LevelRules; 3],
}

impl WithdrawalPolicy {
    /// By when a manual review submitted at `submitted` is decided: the
    /// operators' promise, or the time-out if that comes first.
    pub fn review_decided_by(&self, submitted: DateTime<Utc>) -> DateTime<Utc> {
        let promise = self.manual_review_timeout.map_or(self.review_sla, |timeout| timeout.min(self.review_sla));
        submitted + promise
    }

    /// When a withdrawal submitted at `submitted` is expected to be paid
    /// out, and — if an operator reviews it first — by when they decide: a
    /// payout follows an approval at once, an automatic review the level's
    /// delay.
    pub fn expected_settlement(
        &self,
        rules: &LevelRules,
        reviewed_by_operator: bool,
        submitted: DateTime<Utc>,
    ) -> (DateTime<Utc>, Option<DateTime<Utc>>) {
        if reviewed_by_operator {
            let decided_by = self.review_decided_by(submitted);
            (decided_by, Some(decided_by))
        } else {
            (submitted + rules.auto_review_delay, None)
        }
    }

    pub fn rules(&self, level: VerificationLevel) -> &LevelRules {
        match level {
            VerificationLevel::L0 => &self.levels[0],
            VerificationLevel::L1 => &self.levels[1],
            VerificationLevel::L2 => &self.levels[2],
        }
    }

    /// A level's rules as the domain plans with them.
    pub fn plan_rules<'a>(&'a self, level: &'a LevelRules) -> PlanRules<'a> {
        PlanRules { limits: &level.limits, fees: &level.fees, review: &self.review }
    }

    /// The calendar date at `now` in the configured zone.
    pub fn local_date(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.time_zone).date_naive()
    }
}
