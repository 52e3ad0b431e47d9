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
//! - `count_scheduled`: how long a queue is, without reading it (the worker's gauges);
//! - `scheduled_page`: read a schedule as a list, a page at a time, either
//!   way round (schedules that are indexes rather than work: the withdrawals
//!   by creation time, the identity checks waiting for an operator);
//! - `unschedule`: take a member off whatever its time;
//! - `claim_scheduled`: take due members with a lease, atomically;
//! - `reschedule_if_at`: a claimer's finish (retry later, or done) that
//!   changes nothing if someone moved the member since;
//! - `findable_by_subject` and `owners_at`: a schedule as an index from a
//!   subject and its time to its owner (a withdrawal's id, whose time is
//!   its creation's, to its account, by the list of withdrawals), so no
//!   index entry of its own need be written.

use async_trait::async_trait;

use super::{StoreError, UniqueIndexes};

#[async_trait]
pub trait Schedules: Send + Sync {
    /// Puts `member` on a schedule at `at_ms` (milliseconds since the epoch);
    /// scheduling a member again moves it.
    async fn schedule(&self, schedule: &str, member: &str, at_ms: i64) -> Result<(), StoreError>;

    /// Up to `limit` members scheduled at or before `until_ms`, earliest first, with their times.
    async fn scheduled(&self, schedule: &str, until_ms: i64, limit: usize) -> Result<Vec<(String, i64)>, StoreError>;

    /// How many members are scheduled at or before `until_ms` (`i64::MAX`:
    /// all of them), counting no further than `cap`.
    async fn count_scheduled(&self, schedule: &str, until_ms: i64, cap: usize) -> Result<usize, StoreError>;

    /// Up to `limit` members strictly beyond `from` in `order` (from the
    /// start when `None`), with their times, due or not. Members are ordered
    /// by time, and members of one millisecond by name (bytewise), so a
    /// page's last member is exactly where the next page starts.
    async fn scheduled_page(
        &self,
        schedule: &str,
        order: ScheduleOrder,
        from: Option<&SchedulePosition>,
        limit: usize,
    ) -> Result<Vec<(String, i64)>, StoreError>;

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

    /// Whether `owners_at` finds a member `<owner>/<subject>` by its
    /// subject: a store that spreads schedules over shards keeps a member in
    /// its owner's and looks for it in its subject's, so both must be one.
    /// A caller choosing a new subject (an id) picks one for which this holds.
    fn findable_by_subject(&self, owner: &str, subject: &str) -> bool;

    /// The owners of the members `<owner>/<subject>` of `schedule` at
    /// exactly `at_ms`, of those `findable_by_subject`.
    async fn owners_at(&self, schedule: &str, subject: &str, at_ms: i64) -> Result<Vec<String>, StoreError>;
}

/// The owner a schedule member names, `<owner>/<subject>` (an account id,
/// for the work of a partition); `None` for a member without one. A store
/// keeps a member beside its owner's partition (on a cluster, in its slot).
pub fn member_owner(member: &str) -> Option<&str> {
    member.split_once('/').map(|(owner, _)| owner)
}

/// The owner of `subject`: by its member `<owner>/<subject>` of `schedule`
/// at `at_ms` when the subject names that time (see `owners_at`), or else by
/// the unique index entry `index_key`, which subjects made otherwise have.
pub async fn owner_by_subject(
    store: &(impl Schedules + UniqueIndexes + ?Sized),
    schedule: &str,
    subject: &str,
    at_ms: Option<i64>,
    index_key: &str,
) -> Result<Option<String>, StoreError> {
    if let Some(at_ms) = at_ms
        && let Some(owner) = store.owners_at(schedule, subject, at_ms).await?.into_iter().next()
    {
        return Ok(Some(owner));
    }
    store.get_index(index_key).await
}

/// The owner `member` names if its subject is `subject`.
pub(crate) fn owner_of_subject(member: &str, subject: &str) -> Option<String> {
    let (owner, named) = member.split_once('/')?;
    (named == subject).then(|| owner.to_owned())
}

/// A member put on a schedule at a time (milliseconds since the epoch), by a partition commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleEntry {
    pub schedule: &'static str,
    pub member: String,
    pub at_ms: i64,
}

/// Which way round `Schedules::scheduled_page` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleOrder {
    EarliestFirst,
    NewestFirst,
}

/// Where a member sits in a schedule: its time, then its name (which orders
/// members of the same millisecond).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SchedulePosition {
    pub at_ms: i64,
    pub member: String,
}

impl SchedulePosition {
    pub fn new(at_ms: i64, member: impl Into<String>) -> SchedulePosition {
        SchedulePosition { at_ms, member: member.into() }
    }

    /// Whether `(at_ms, member)` lies strictly beyond this position in `order`.
    pub fn is_before(&self, at_ms: i64, member: &str, order: ScheduleOrder) -> bool {
        let other = (at_ms, member);
        let this = (self.at_ms, self.member.as_str());
        match order {
            ScheduleOrder::EarliestFirst => other > this,
            ScheduleOrder::NewestFirst => other < this,
        }
    }
}
