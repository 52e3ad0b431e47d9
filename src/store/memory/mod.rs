//! The embedded store: everything in one process's memory, gone on exit.
//! The default, so `cargo run` needs nothing else installed.
//!
//! This file holds the state and its one lock; each data model's trait is
//! implemented in the file of the same name as the trait's (`partitions.rs`
//! beside `store/partitions.rs`, and so on).

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::sharded_map::ShardedMap;
use super::{EventPosition, Health, ScheduleOrder, SchedulePosition, StoreError};
use crate::domain::account::{Account, AccountId};
use crate::domain::ledger::JournalEntry;

mod documents;
mod ephemeral;
mod events;
mod indexes;
mod logs;
mod partition_documents;
mod partitions;
mod schedules;
mod wipe;

/// Each shard of the ephemeral values is first swept for expiry when it holds
/// this many; after a sweep, the next comes when the shard has doubled, so
/// sweeping costs O(1) per insert however many live values there are, and
/// one sweep touches one shard only.
const EPHEMERAL_SWEEP_THRESHOLD_PER_SHARD: usize = 256;
/// Event wake-ups a slow listener may fall behind by before it skips some
/// (it then re-reads the streams it follows, so nothing is lost).
const EVENT_SIGNALS_BUFFERED: usize = 1024;

#[derive(Debug)]
pub struct MemoryStore {
    // One std Mutex over all state: every operation is a few map lookups with
    // no await inside, so the lock is held for microseconds and never across an
    // await point (mini-redis's reasoning). One lock also makes multi-map
    // operations (create = record + journal + login) trivially atomic.
    state: Mutex<State>,
    event_signals: broadcast::Sender<AccountId>,
    /// The origin of the store's own clock for reclaiming expired documents.
    started: Instant,
}

impl Default for MemoryStore {
    fn default() -> MemoryStore {
        MemoryStore {
            state: Mutex::default(),
            event_signals: broadcast::channel(EVENT_SIGNALS_BUFFERED).0,
            started: Instant::now(),
        }
    }
}

#[derive(Debug, Default)]
struct State {
    partitions: HashMap<AccountId, Partition>,
    logins: HashMap<String, AccountId>,
    ephemeral: ShardedMap<(String, Instant)>,
    /// By ephemeral shard: the size at which it is next swept.
    ephemeral_sweep_at: Vec<usize>,
    documents: HashMap<String, ShardedMap<(u64, String)>>,
    indexes: ShardedMap<String>,
    lists: HashMap<String, VecDeque<String>>,
    schedules: HashMap<String, Schedule>,
    logs: HashMap<String, Vec<String>>,
    /// Where a new partition's event positions start: the highest any
    /// partition reached before the last wipe, so a client resuming a
    /// stream after a reset is never told of positions it has seen.
    event_positions_floor: u64,
    capped_logs: HashMap<String, CappedLog>,
}

/// A capped log: the entries still kept, oldest first, and how many were
/// ever appended (the next position).
#[derive(Debug, Default)]
struct CappedLog {
    appended: u64,
    kept: VecDeque<String>,
}

/// Members by time, and each member's time, kept in step.
#[derive(Debug, Default)]
struct Schedule {
    by_time: BTreeSet<(i64, String)>,
    times: ShardedMap<i64>,
}

impl Schedule {
    fn set(&mut self, member: &str, at_ms: i64) {
        if let Some(previous) = self.times.insert(member.to_owned(), at_ms) {
            self.by_time.remove(&(previous, member.to_owned()));
        }
        self.by_time.insert((at_ms, member.to_owned()));
    }

    fn remove(&mut self, member: &str) -> bool {
        match self.times.remove(member) {
            Some(at) => self.by_time.remove(&(at, member.to_owned())),
            None => false,
        }
    }

    /// Up to `limit` members due at or before `until_ms`, earliest first.
    fn due(&self, until_ms: i64, limit: usize) -> Vec<(i64, String)> {
        self.by_time.iter().take_while(|(at, _)| *at <= until_ms).take(limit).cloned().collect()
    }

    /// The members at exactly `at_ms`.
    fn at(&self, at_ms: i64) -> impl Iterator<Item = &str> {
        let from = (at_ms, String::new());
        self.by_time.range(from..).take_while(move |(at, _)| *at == at_ms).map(|(_, member)| member.as_str())
    }

    fn count_due(&self, until_ms: i64, cap: usize) -> usize {
        self.by_time.iter().take_while(|(at, _)| *at <= until_ms).take(cap).count()
    }

    /// Up to `limit` members strictly beyond `from` in `order`.
    fn page(&self, order: ScheduleOrder, from: Option<&SchedulePosition>, limit: usize) -> Vec<(i64, String)> {
        let bound = from.map(|from| (from.at_ms, from.member.clone()));
        match (order, bound) {
            (ScheduleOrder::EarliestFirst, None) => self.by_time.iter().take(limit).cloned().collect(),
            (ScheduleOrder::EarliestFirst, Some(bound)) => {
                self.by_time.range((Bound::Excluded(bound), Bound::Unbounded)).take(limit).cloned().collect()
            }
            (ScheduleOrder::NewestFirst, None) => self.by_time.iter().rev().take(limit).cloned().collect(),
            (ScheduleOrder::NewestFirst, Some(bound)) => {
                self.by_time.range((Bound::Unbounded, Bound::Excluded(bound))).rev().take(limit).cloned().collect()
            }
        }
    }
}

#[derive(Debug)]
struct Partition {
    version: u64,
    /// Shared so a read copies it after letting go of the lock, not under it.
    account: Arc<Account>,
    journal: Vec<JournalEntry>,
    /// By name; hashed, as a partition's documents are read one by one on
    /// every request and listed by prefix only now and then.
    documents: ShardedMap<String>,
    /// Expiring documents by the time (ms of the store's clock) they may be reclaimed.
    expiring: Schedule,
    /// The event stream: the version of the commit that appended each
    /// event, its position and body, oldest first; the events of the newest
    /// `EVENTS_KEPT_PER_ACCOUNT` commits.
    events: VecDeque<(u64, EventPosition, String)>,
    events_appended: u64,
}

impl MemoryStore {
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    fn elapsed_ms(&self) -> i64 {
        i64::try_from(self.started.elapsed().as_millis()).unwrap_or(i64::MAX)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-written partition:
        // every mutation (in this folder's files) is a single insert or push
        // after all checks.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Health for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
