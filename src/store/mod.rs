//! State behind small traits, one per data model, each with an in-memory and
//! a Redis implementation.
//!
//! The store decides nothing: it loads and saves state atomically. Business
//! rules run in Rust (`domain/`), then the result is committed with an
//! optimistic compare-and-set on the account's version — so a rule is written
//! once and both stores behave the same, which `tests/api/store_conformance/`
//! checks by running one suite per trait against each.
//!
//! The data models, each owned by one trait in a file of its own:
//! - [`AccountPartitions`] (`partitions.rs`): an **account partition** per
//!   wallet account — the versioned `Account` record, its append-only journal
//!   and its named documents, always changed together by one atomic commit —
//!   and the unique **login index** that reaches it;
//! - [`PartitionDocuments`] (`partition_documents.rs`): reads of a
//!   partition's named documents outside a commit;
//! - [`Documents`] (`documents.rs`): versioned JSON records in named
//!   collections, changed by compare-and-set, several at once;
//! - [`UniqueIndexes`] (`indexes.rs`): keys owned by one value at a time;
//! - [`Schedules`] (`schedules.rs`): members ordered by a time, claimed with a lease;
//! - [`EventStreams`] (`events.rs`): each partition's capped stream of
//!   notifications and the wake-ups that tell listeners of new ones;
//! - [`Logs`] (`logs.rs`): append-only logs and capped recent lists;
//! - [`EphemeralValues`] (`ephemeral.rs`): short-lived, single-use values;
//! - [`Health`] (`health.rs`): the readiness round trip;
//! - [`Wipe`] (`wipe.rs`): the simulator's reset, deleting all of it.
//!
//! [`TimedStore`] (`timed.rs`) wraps any store to time its calls and count
//! its failures for the metrics.
//!
//! [`Store`] is all of them at once, with no method of its own, so a service
//! holds one [`SharedStore`] and calls any method through it with no import
//! (a trait object's methods, its supertraits' included, are always in
//! scope). On a concrete store (`MemoryStore`, `RedisStore`), and for the
//! [`typed`] helpers that read and write documents as Rust values rather
//! than JSON text, `use crate::store::prelude::*` brings every trait.

use std::sync::Arc;

pub mod documents;
pub mod ephemeral;
pub mod events;
pub mod health;
pub mod indexes;
pub mod logs;
pub mod memory;
pub mod partition_documents;
pub mod partitions;
pub mod redis;
pub mod schedules;
mod sharded_map;
pub mod timed;
pub mod typed;
pub mod wipe;

pub use documents::{APART_SUFFIX, DocumentWrite, Documents, kept_apart};
pub use ephemeral::EphemeralValues;
pub use events::{EVENTS_KEPT_PER_ACCOUNT, EventPosition, EventStreams, StoredEvent};
pub use health::Health;
pub use indexes::UniqueIndexes;
pub use logs::{LogEntry, Logs};
pub use memory::MemoryStore;
pub use partition_documents::PartitionDocuments;
pub(crate) use partitions::EXPIRED_RECLAIMED_PER_COMMIT;
pub use partitions::{AccountCommit, AccountPartitions};
pub use redis::RedisStore;
pub(crate) use schedules::owner_of_subject;
pub use schedules::{ScheduleEntry, ScheduleOrder, SchedulePosition, Schedules, member_owner, owner_by_subject};
pub use timed::TimedStore;
pub use typed::{TypedDocuments, TypedEphemeralValues, TypedPartitionDocuments};
pub use wipe::Wipe;

/// Every trait of the store and its typed helpers, so one
/// `use crate::store::prelude::*` lets a caller call any of them on any store.
pub mod prelude {
    pub use super::{
        AccountPartitions, Documents, EphemeralValues, EventStreams, Health, Logs, PartitionDocuments, Schedules,
        SharedStore, Store, TypedDocuments, TypedEphemeralValues, TypedPartitionDocuments, UniqueIndexes, Wipe,
    };
}

/// Every data model at once: what the application holds. It has no method of
/// its own; any type that implements all the small traits is a `Store`.
pub trait Store:
    AccountPartitions
    + PartitionDocuments
    + Documents
    + UniqueIndexes
    + Schedules
    + EventStreams
    + Logs
    + EphemeralValues
    + Health
    + Wipe
    + std::fmt::Debug
    + 'static
{
}

impl<S> Store for S where
    S: AccountPartitions
        + PartitionDocuments
        + Documents
        + UniqueIndexes
        + Schedules
        + EventStreams
        + Logs
        + EphemeralValues
        + Health
        + Wipe
        + std::fmt::Debug
        + 'static
{
}

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

/// How a compare-and-set ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// Someone else committed first; reload and decide again.
    VersionConflict,
}

/// A newest-first window of an append-only list (a journal, a log) as a
/// range of positions: up to `limit` below `before` (or the newest).
/// Shared by both stores so paging means the same everywhere.
pub(crate) fn journal_window(len: u64, before: Option<u64>, limit: usize) -> std::ops::Range<u64> {
    let end = before.map_or(len, |before| before.min(len));
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
