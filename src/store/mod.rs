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
//!   record, its append-only journal and its named documents (withdrawals,
//!   idempotency records), always changed together;
//! - a unique **login index** from login key to account id;
//! - **ephemeral values**: short-lived, single-use things (refresh tokens,
//!   OAuth states and codes). Their expiry is decided by the service with the
//!   injectable clock; the store's TTL only reclaims space.
//! - **documents**: versioned JSON records grouped in named collections
//!   (mock WeChat users), changed by compare-and-set like accounts;
//! - **unique indexes**: keys owned by one value at a time (an openid bound to
//!   one account), changed only by compare-and-swap;
//! - **recent lists**: capped newest-first lists (the mock SMS outbox);
//! - **schedules**: members ordered by a time (work queues such as withdrawals
//!   waiting for review), read in time order and removed when done.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use crate::domain::account::{Account, AccountId};
use crate::domain::ledger::JournalEntry;

pub mod memory;
pub mod redis;

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
    pub account: &'a Account,
    pub new_entries: &'a [JournalEntry],
    /// Records of the partition (withdrawals, idempotency keys) to write, by name.
    pub documents_put: &'a [(String, String)],
    /// Records of the partition to delete, by name.
    pub documents_deleted: &'a [String],
}

impl<'a> AccountCommit<'a> {
    /// A commit of the record and journal only.
    pub fn new(expected_version: u64, account: &'a Account, new_entries: &'a [JournalEntry]) -> AccountCommit<'a> {
        AccountCommit { expected_version, account, new_entries, documents_put: &[], documents_deleted: &[] }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// Someone else committed first; reload and decide again.
    VersionConflict,
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

    /// Compare-and-set of one document. `expected_version` 0 means "create:
    /// must not exist yet"; the stored version is then 1.
    async fn save_document(
        &self,
        collection: &str,
        id: &str,
        expected_version: u64,
        body: &str,
    ) -> Result<CommitOutcome, StoreError>;

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
    use super::journal_window;

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
