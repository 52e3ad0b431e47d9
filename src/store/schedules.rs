//! Schedules: members ordered by a time — the work queues (withdrawals due
//! for payout or review, webhook deliveries).
//!
//! Members are read in time order and *claimed* with a lease: the claim
//! moves them past the lease's end, so any number of workers never take the
//! same item, and a claimer that dies gives its members back by simply not
//! finishing. Work is taken off when done — by the partition commit that
//! finishes it, or by the claimer only while the member still sits at its
//! lease's end, so a claimer's late decision never undoes a newer scheduling.
//!
//! Why each primitive exists:
//! - `schedule`: put a member on (or move it), outside a commit;
//! - `scheduled`: look at what is due without taking it (operators' views, checks);
//! - `unschedule`: take a member off whatever its time;
//! - `claim_scheduled`: take due members with a lease, atomically;
//! - `reschedule_if_at`: a claimer's finish (retry later, or done) that
//!   changes nothing if someone moved the member since.

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait Schedules: Send + Sync {
    /// Puts `member` on a schedule at `at_ms` (milliseconds since the epoch);
    /// scheduling a member again moves it.
    async fn schedule(&self, schedule: &str, member: &str, at_ms: i64) -> Result<(), StoreError>;

    /// Up to `limit` members scheduled at or before `until_ms`, earliest first, with their times.
    async fn scheduled(&self, schedule: &str, until_ms: i64, limit: usize) -> Result<Vec<(String, i64)>, StoreError>;

    /// Takes `member` off a schedule; returns whether it was there.
    async fn unschedule(&self, schedule: &str, member: &str) -> Result<bool, StoreError>;

    /// Atomically takes up to `limit` members due at or before `until_ms`,
    /// earliest first, and moves each to `lease_until_ms`, so no other
    /// claimer sees them until the lease ends. Returns them with the times
    /// they were due. A claimer finishes with `unschedule` or `schedule`;
    /// one that dies leaves the member to be claimed again after the lease.
    async fn claim_scheduled(
        &self,
        schedule: &str,
        until_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<(String, i64)>, StoreError>;

    /// Moves `member` to `to_ms` (or takes it off for `None`) only if it is
    /// still scheduled at `expected_at_ms`. How a claimer finishes its claim
    /// (`expected_at_ms` = its lease's end): if another writer moved the
    /// entry since (a commit that scheduled it again, say), the claimer's
    /// decision is stale and changes nothing. Returns whether it changed the entry.
    async fn reschedule_if_at(
        &self,
        schedule: &str,
        member: &str,
        expected_at_ms: i64,
        to_ms: Option<i64>,
    ) -> Result<bool, StoreError>;
}

/// A member put on a schedule at a time (milliseconds since the epoch), by a partition commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleEntry {
    pub schedule: &'static str,
    pub member: String,
    pub at_ms: i64,
}
