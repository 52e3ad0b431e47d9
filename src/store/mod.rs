//! State behind one small trait, with an in-memory and a Redis implementation.
//!
//! The store decides nothing: it loads and saves state atomically. Business
//! rules run in Rust (`domain/`), then the result is committed with an
//! optimistic compare-and-set on the account's version — so a rule is written
//! once and both stores behave the same, which `tests/api/store_conformance.rs`
//! checks by running one suite against each.
//!
//! Data model:
//! - an **account partition** per wallet account: the versioned `Account`
//!   record, its append-only journal and its named documents (withdrawals;
//!   idempotency records, which expire), always changed together — and
//!   with them, in the same atomic commit, the schedule and index entries
//!   the change needs (so a new withdrawal is queued exactly when it exists);
//! - a unique **login index** from login key to account id;
//! - **ephemeral values**: short-lived, single-use things (refresh tokens,
//!   OAuth states and codes). Their expiry is decided by the service with the
//!   injectable clock; the store's TTL only reclaims space.
//! - **documents**: versioned JSON records grouped in named collections
//!   (mock WeChat users, transfer bills), changed by compare-and-set like
//!   accounts, several at once when they must change together;
//! - **unique indexes**: keys owned by one value at a time (an openid bound to
//!   one account), changed only by compare-and-swap;
//! - **recent lists**: capped newest-first lists (the mock SMS outbox);
//! - **schedules**: members ordered by a time (work queues such as withdrawals
//!   waiting for review), read in time order, *claimed* with a lease (the
//!   claim moves them past the lease's end, so a claimer that dies gives the
//!   member back by simply not finishing) and removed when done;
//! - **event streams**: each account partition's capped stream of
//!   notifications, appended in the same atomic commit as the change they
//!   describe; every process hears of new events through `event_signals`
//!   (Redis pub/sub across processes);
//! - **logs**: append-only lists read newest first (the operators' audit log).

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::account::{Account, AccountId};
use crate::domain::ledger::JournalEntry;

pub mod memory;
pub mod redis;
mod sharded_map;

pub use memory::MemoryStore;
pub use redis::RedisStore;

pub type SharedStore = Arc<dyn Store>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backing service cannot be reached or did not answer in time.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// A create met an existing account id or login.
    #[error("already exists")]
    AlreadyExists,
    /// Stored data could not be read back; a bug or a foreign writer.
    #[error("corrupt stored data at {key}: {reason}")]
    Corrupt { key: String, reason: String },
}

/// A stored value with the version it was read at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned<T> {
    pub version: u64,
    pub value: T,
}

/// A change to one account partition: its new record and the journal entries
/// that explain the change, written only if the record is still at
/// `expected_version`.
#[derive(Debug)]
pub struct AccountCommit<'a> {
    pub expected_version: u64,
    /// The record as it is after the change; owned when the caller is done
    /// with it, so a store that keeps records as values need not copy it.
    pub account: Cow<'a, Account>,
    pub new_entries: &'a [JournalEntry],
    /// Records of the partition (withdrawals, idempotency keys) to write, by name.
    pub documents_put: &'a [(String, String)],
    /// Records of the partition to delete, by name.
    pub documents_deleted: &'a [String],
    /// Notifications (JSON) appended to the partition's event stream.
    pub events: &'a [String],
    /// Records of the partition the store may reclaim once `expiring_ttl`
    /// has passed (saved idempotency replies), by name. Whether one is still
    /// valid is the caller's decision, by its own clock.
    pub documents_expiring: &'a [(String, String)],
    pub expiring_ttl: Duration,
    /// Schedule entries set (or moved) with the change.
    pub scheduled: &'a [ScheduleEntry],
    /// Schedule members `(schedule, member)` taken off with the change (work it finishes).
    pub unscheduled: &'a [(&'static str, String)],
    /// Unique index entries `(key, value)` set with the change (to keys
    /// nobody else can hold, such as a new withdrawal's id).
    pub indexed: &'a [(String, String)],
}

/// A member put on a schedule at a time (milliseconds since the epoch).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduleEntry {
    pub schedule: &'static str,
    pub member: String,
    pub at_ms: i64,
}

/// One document of a multi-document compare-and-set (see `Store::save_documents`).
#[derive(Debug, Clone, Copy)]
pub struct DocumentWrite<'a> {
    pub collection: &'a str,
    pub id: &'a str,
    /// 0: create, must not exist yet.
    pub expected_version: u64,
    pub body: &'a str,
}

impl<'a> AccountCommit<'a> {
    /// A commit of the record and journal only.
    pub fn new(expected_version: u64, account: &'a Account, new_entries: &'a [JournalEntry]) -> AccountCommit<'a> {
        AccountCommit::of(expected_version, Cow::Borrowed(account), new_entries)
    }

    /// As `new`, handing the record over.
    pub fn owning(expected_version: u64, account: Account, new_entries: &'a [JournalEntry]) -> AccountCommit<'a> {
        AccountCommit::of(expected_version, Cow::Owned(account), new_entries)
    }

    fn of(expected_version: u64, account: Cow<'a, Account>, new_entries: &'a [JournalEntry]) -> AccountCommit<'a> {
        AccountCommit {
            expected_version,
            account,
            new_entries,
            documents_put: &[],
            documents_deleted: &[],
            events: &[],
            documents_expiring: &[],
            expiring_ttl: Duration::ZERO,
            scheduled: &[],
            unscheduled: &[],
            indexed: &[],
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// Someone else committed first; reload and decide again.
    VersionConflict,
}

/// One notification of an account's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Stream position, `<n>-<m>`, increasing; clients resume after it.
    pub id: String,
    pub body: String,
}

/// A position in an event stream, as `<n>-<m>` (Redis stream ids).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventPosition(pub u64, pub u64);

impl EventPosition {
    /// Reads `<n>-<m>` (or a bare `<n>`); anything else is no position.
    pub fn parse(text: &str) -> Option<EventPosition> {
        let (major, minor) = text.split_once('-').unwrap_or((text, "0"));
        let digits = |part: &str| !part.is_empty() && part.len() <= 20 && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(major) || !digits(minor) {
            return None;
        }
        Some(EventPosition(major.parse().ok()?, minor.parse().ok()?))
    }
}

impl std::fmt::Display for EventPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

/// How many events each account's stream keeps (older ones are trimmed).
pub const EVENTS_KEPT_PER_ACCOUNT: usize = 1000;

/// Expired partition documents a commit reclaims beyond the ones it adds, so
/// reclaiming keeps up with adding and costs O(log n) per commit.
pub(crate) const EXPIRED_RECLAIMED_PER_COMMIT: usize = 8;

/// An entry of an append-only log, with its position (0 = oldest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub seq: u64,
    pub body: String,
}

#[async_trait]
pub trait Store: Send + Sync + std::fmt::Debug + 'static {
    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates a partition at version 1 with its opening entries and claims its
    /// login. `AlreadyExists` if the id or the login is taken; then nothing is left behind.
    async fn create_account(&self, account: &Account, opening_entries: &[JournalEntry]) -> Result<(), StoreError>;

    async fn account_id_by_login(&self, login_index_key: &str) -> Result<Option<AccountId>, StoreError>;

    async fn load_account(&self, id: &AccountId) -> Result<Option<Versioned<Account>>, StoreError>;

    /// An account and some of its partition's documents (by name, `None`
    /// where missing), read together in one round trip, as of one moment.
    async fn load_account_with(
        &self,
        id: &AccountId,
        documents: &[&str],
    ) -> Result<Option<(Versioned<Account>, Vec<Option<String>>)>, StoreError>;

    /// Compare-and-set of one partition: record and entries together or not at all.
    async fn commit_account(&self, commit: AccountCommit<'_>) -> Result<CommitOutcome, StoreError>;

    /// Up to `limit` journal entries of a partition, newest first, starting
    /// below `before_seq` (or at the newest entry).
    async fn journal(
        &self,
        id: &AccountId,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError>;

    /// One named document of an account partition.
    async fn partition_document(&self, id: &AccountId, name: &str) -> Result<Option<String>, StoreError>;

    /// The documents of a partition whose names start with `prefix`, as `(name, body)`.
    async fn partition_documents(&self, id: &AccountId, prefix: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// Every account id, for whole-ledger checks.
    async fn account_ids(&self) -> Result<Vec<AccountId>, StoreError>;

    /// Stores a value under `key` for at least `ttl`, replacing any old one.
    async fn put_ephemeral(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError>;

    /// Reads and deletes in one step: of concurrent takers, exactly one gets the value.
    async fn take_ephemeral(&self, key: &str) -> Result<Option<String>, StoreError>;

    async fn get_ephemeral(&self, key: &str) -> Result<Option<String>, StoreError>;

    async fn load_document(&self, collection: &str, id: &str) -> Result<Option<Versioned<String>>, StoreError>;

    /// Several documents (of any collections) in one round trip, `None` where missing.
    async fn load_documents(&self, ids: &[(&str, &str)]) -> Result<Vec<Option<Versioned<String>>>, StoreError>;

    /// Compare-and-set of several documents at once: all are written (each
    /// one version up) if every one is at its expected version, else none.
    async fn save_documents(&self, writes: &[DocumentWrite<'_>]) -> Result<CommitOutcome, StoreError>;

    /// Compare-and-set of one document. `expected_version` 0 means "create:
    /// must not exist yet"; the stored version is then 1.
    async fn save_document(
        &self,
        collection: &str,
        id: &str,
        expected_version: u64,
        body: &str,
    ) -> Result<CommitOutcome, StoreError> {
        self.save_documents(&[DocumentWrite { collection, id, expected_version, body }]).await
    }

    /// Up to `limit` documents of a collection as `(id, body)`, in no particular order.
    async fn list_documents(&self, collection: &str, limit: usize) -> Result<Vec<(String, String)>, StoreError>;

    async fn get_index(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Sets `key` to `new` (or removes it for `None`) only if it currently
    /// holds `expected` (`None`: absent). Returns whether it swapped.
    async fn swap_index(&self, key: &str, expected: Option<&str>, new: Option<&str>) -> Result<bool, StoreError>;

    /// Prepends `value` to a list, keeping only the newest `keep` items.
    async fn push_recent(&self, list: &str, value: &str, keep: usize) -> Result<(), StoreError>;

    /// Up to `limit` items of a list, newest first.
    async fn recent(&self, list: &str, limit: usize) -> Result<Vec<String>, StoreError>;

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

    /// Removes a named document of a partition that no decision reads (a
    /// delivered notification), without a version change.
    async fn delete_partition_document(&self, id: &AccountId, name: &str) -> Result<(), StoreError>;

    /// Up to `limit` events of an account's stream after `after` (from the
    /// oldest kept when `None`), oldest first.
    async fn events(
        &self,
        id: &AccountId,
        after: Option<EventPosition>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// Told the id of every account that gains events, in this process or
    /// (on Redis) in any other. A wake-up only: read the stream for the data.
    fn event_signals(&self) -> tokio::sync::broadcast::Receiver<AccountId>;

    /// Appends to an append-only log; returns the entry's position.
    async fn append_log(&self, log: &str, body: &str) -> Result<u64, StoreError>;

    /// Up to `limit` entries of a log below position `before` (or from the newest), newest first.
    async fn read_log(&self, log: &str, before: Option<u64>, limit: usize) -> Result<Vec<LogEntry>, StoreError>;
}

/// The journal's newest-first window as a range of sequence numbers.
/// Shared by both stores so paging means the same everywhere.
pub(crate) fn journal_window(journal_len: u64, before_seq: Option<u64>, limit: usize) -> std::ops::Range<u64> {
    let end = before_seq.map_or(journal_len, |before| before.min(journal_len));
    let start = end.saturating_sub(limit as u64);
    start..end
}

#[cfg(test)]
mod tests {
    use super::{EventPosition, journal_window};

    #[test]
    fn event_positions_read_like_redis_stream_ids() {
        assert_eq!(EventPosition::parse("1700000000000-3"), Some(EventPosition(1_700_000_000_000, 3)));
        assert_eq!(EventPosition::parse("42"), Some(EventPosition(42, 0)));
        assert!(EventPosition(2, 0) > EventPosition(1, 9));
        for bad in ["", "-", "1-", "-1", "a-1", "1-2-3", "99999999999999999999999-0", "1 -0"] {
            assert_eq!(EventPosition::parse(bad), None, "{bad}");
        }
        assert_eq!(EventPosition(5, 1).to_string(), "5-1");
    }

    #[test]
    fn journal_windows_page_backwards() {
        assert_eq!(journal_window(10, None, 3), 7..10);
        assert_eq!(journal_window(10, Some(7), 3), 4..7);
        assert_eq!(journal_window(10, Some(2), 3), 0..2);
        assert_eq!(journal_window(10, Some(0), 3), 0..0);
        assert_eq!(journal_window(10, Some(99), 3), 7..10);
        assert_eq!(journal_window(0, None, 3), 0..0);
    }
}
