//! The embedded store: everything in one process's memory, gone on exit.
//! The default, so `cargo run` needs nothing else installed.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use tokio::sync::broadcast;

use super::sharded_map::{SHARDS, ShardedMap};
use super::{
    AccountCommit, CommitOutcome, DocumentWrite, EVENTS_KEPT_PER_ACCOUNT, EXPIRED_RECLAIMED_PER_COMMIT, EventPosition,
    LogEntry, Store, StoreError, StoredEvent, Versioned, journal_window,
};
use crate::domain::account::{Account, AccountId};
use crate::domain::ledger::JournalEntry;

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
    /// The event stream: position and body, oldest first, capped.
    events: VecDeque<(EventPosition, String)>,
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
        // every mutation below is a single insert or push after all checks.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn ping(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn create_account(&self, account: &Account, opening_entries: &[JournalEntry]) -> Result<(), StoreError> {
        let mut state = self.state();
        let login_key = account.login.index_key();
        if state.partitions.contains_key(&account.id) || state.logins.contains_key(&login_key) {
            return Err(StoreError::AlreadyExists);
        }
        state.logins.insert(login_key, account.id.clone());
        let partition = Partition {
            version: 1,
            account: Arc::new(account.clone()),
            journal: opening_entries.to_vec(),
            documents: ShardedMap::default(),
            expiring: Schedule::default(),
            events: VecDeque::new(),
            events_appended: 0,
        };
        state.partitions.insert(account.id.clone(), partition);
        Ok(())
    }

    async fn account_id_by_login(&self, login_index_key: &str) -> Result<Option<AccountId>, StoreError> {
        Ok(self.state().logins.get(login_index_key).cloned())
    }

    async fn load_account(&self, id: &AccountId) -> Result<Option<Versioned<Account>>, StoreError> {
        let found = self.state().partitions.get(id).map(|p| (p.version, p.account.clone()));
        Ok(found.map(|(version, account)| Versioned { version, value: Account::clone(&account) }))
    }

    async fn load_account_with(
        &self,
        id: &AccountId,
        documents: &[&str],
    ) -> Result<Option<(Versioned<Account>, Vec<Option<String>>)>, StoreError> {
        let (version, account, found) = {
            let state = self.state();
            let Some(partition) = state.partitions.get(id) else { return Ok(None) };
            let found = documents.iter().map(|name| partition.documents.get(name).cloned()).collect();
            (partition.version, partition.account.clone(), found)
        };
        Ok(Some((Versioned { version, value: Account::clone(&account) }, found)))
    }

    async fn commit_account(&self, commit: AccountCommit<'_>) -> Result<CommitOutcome, StoreError> {
        // Copied before taking the lock, so the lock is held for moves and
        // map updates only (a thread preempted while holding it stalls every
        // other), and what the commit replaces is freed after letting go.
        let id = commit.account.id.clone();
        let mut account = Arc::new(commit.account.into_owned());
        let new_entries = commit.new_entries.to_vec();
        let documents_put = commit.documents_put.to_vec();
        let documents_expiring = commit.documents_expiring.to_vec();
        let events = commit.events.to_vec();
        let indexed = commit.indexed.to_vec();
        let mut replaced = Vec::new();
        let mut state = self.state();
        let Some(partition) = state.partitions.get_mut(&id) else {
            return Ok(CommitOutcome::VersionConflict);
        };
        if partition.version != commit.expected_version {
            return Ok(CommitOutcome::VersionConflict);
        }
        let now_ms = self.elapsed_ms();
        partition.version += 1;
        std::mem::swap(&mut partition.account, &mut account);
        partition.journal.extend(new_entries);
        for (name, body) in documents_put {
            replaced.extend(partition.documents.insert(name, body));
        }
        for name in commit.documents_deleted {
            replaced.extend(partition.documents.remove(name));
        }
        if !documents_expiring.is_empty() {
            let reclaim = documents_expiring.len() + EXPIRED_RECLAIMED_PER_COMMIT;
            for (_, name) in partition.expiring.due(now_ms, reclaim) {
                partition.expiring.remove(&name);
                replaced.extend(partition.documents.remove(&name));
            }
            let reclaim_at = now_ms.saturating_add(i64::try_from(commit.expiring_ttl.as_millis()).unwrap_or(i64::MAX));
            for (name, body) in documents_expiring {
                partition.expiring.set(&name, reclaim_at);
                replaced.extend(partition.documents.insert(name, body));
            }
        }
        for body in events {
            partition.events_appended += 1;
            partition.events.push_back((EventPosition(partition.events_appended, 0), body));
            if partition.events.len() > EVENTS_KEPT_PER_ACCOUNT {
                replaced.extend(partition.events.pop_front().map(|(_, body)| body));
            }
        }
        for entry in commit.scheduled {
            // Looked up by `&str` first: the schedule's name is copied only the first time.
            match state.schedules.get_mut(entry.schedule) {
                Some(schedule) => schedule.set(&entry.member, entry.at_ms),
                None => state.schedules.entry(entry.schedule.to_owned()).or_default().set(&entry.member, entry.at_ms),
            }
        }
        for (schedule, member) in commit.unscheduled {
            if let Some(entries) = state.schedules.get_mut(*schedule) {
                entries.remove(member);
            }
        }
        for (key, value) in indexed {
            replaced.extend(state.indexes.insert(key, value));
        }
        drop(state);
        drop((account, replaced));
        if !commit.events.is_empty() {
            // No listener is not an error: nobody is following this account.
            let _ = self.event_signals.send(id);
        }
        Ok(CommitOutcome::Committed)
    }

    async fn journal(
        &self,
        id: &AccountId,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let state = self.state();
        let Some(partition) = state.partitions.get(id) else {
            return Ok(Vec::new());
        };
        let window = journal_window(partition.journal.len() as u64, before_seq, limit);
        let slice = &partition.journal[window.start as usize..window.end as usize];
        Ok(slice.iter().rev().cloned().collect())
    }

    async fn partition_document(&self, id: &AccountId, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.state().partitions.get(id).and_then(|p| p.documents.get(name).cloned()))
    }

    async fn partition_documents(&self, id: &AccountId, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut matching: Vec<(String, String)> = {
            let state = self.state();
            let Some(partition) = state.partitions.get(id) else { return Ok(Vec::new()) };
            let named = partition.documents.iter().filter(|(name, _)| name.starts_with(prefix));
            named.map(|(name, body)| (name.clone(), body.clone())).collect()
        };
        matching.sort();
        Ok(matching)
    }

    async fn account_ids(&self) -> Result<Vec<AccountId>, StoreError> {
        let mut ids: Vec<AccountId> = self.state().partitions.keys().cloned().collect();
        ids.sort();
        Ok(ids)
    }

    async fn put_ephemeral(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let (key_owned, value_owned) = (key.to_owned(), value.to_owned());
        let mut guard = self.state();
        let state = &mut *guard;
        let shard = state.ephemeral.shard_of(key);
        state.ephemeral_sweep_at.resize(SHARDS, EPHEMERAL_SWEEP_THRESHOLD_PER_SHARD);
        if state.ephemeral.shard_len(shard) >= state.ephemeral_sweep_at[shard] {
            let left = state.ephemeral.retain_in_shard(shard, |_, (_, expires)| *expires > now);
            state.ephemeral_sweep_at[shard] = (left * 2).max(EPHEMERAL_SWEEP_THRESHOLD_PER_SHARD);
        }
        state.ephemeral.insert(key_owned, (value_owned, now + ttl));
        Ok(())
    }

    async fn take_ephemeral(&self, key: &str) -> Result<Option<String>, StoreError> {
        let taken = self.state().ephemeral.remove(key);
        Ok(taken.filter(|(_, expires)| *expires > Instant::now()).map(|(value, _)| value))
    }

    async fn get_ephemeral(&self, key: &str) -> Result<Option<String>, StoreError> {
        let state = self.state();
        let found = state.ephemeral.get(key);
        Ok(found.filter(|(_, expires)| *expires > Instant::now()).map(|(value, _)| value.clone()))
    }

    async fn load_document(&self, collection: &str, id: &str) -> Result<Option<Versioned<String>>, StoreError> {
        let state = self.state();
        let found = state.documents.get(collection).and_then(|documents| documents.get(id));
        Ok(found.map(|(version, body)| Versioned { version: *version, value: body.clone() }))
    }

    async fn load_documents(&self, ids: &[(&str, &str)]) -> Result<Vec<Option<Versioned<String>>>, StoreError> {
        let state = self.state();
        Ok(ids
            .iter()
            .map(|(collection, id)| {
                let found = state.documents.get(*collection).and_then(|documents| documents.get(id));
                found.map(|(version, body)| Versioned { version: *version, value: body.clone() })
            })
            .collect())
    }

    async fn save_documents(&self, writes: &[DocumentWrite<'_>]) -> Result<CommitOutcome, StoreError> {
        let mut state = self.state();
        let version_of = |state: &State, write: &DocumentWrite<'_>| {
            let found = state.documents.get(write.collection).and_then(|documents| documents.get(write.id));
            found.map_or(0, |(version, _)| *version)
        };
        if writes.iter().any(|write| version_of(&state, write) != write.expected_version) {
            return Ok(CommitOutcome::VersionConflict);
        }
        for write in writes {
            let documents = state.documents.entry(write.collection.to_owned()).or_default();
            documents.insert(write.id.to_owned(), (write.expected_version + 1, write.body.to_owned()));
        }
        Ok(CommitOutcome::Committed)
    }

    async fn list_documents(&self, collection: &str, limit: usize) -> Result<Vec<(String, String)>, StoreError> {
        let state = self.state();
        let Some(documents) = state.documents.get(collection) else {
            return Ok(Vec::new());
        };
        Ok(documents.iter().take(limit).map(|(id, (_, body))| (id.clone(), body.clone())).collect())
    }

    async fn get_index(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(self.state().indexes.get(key).cloned())
    }

    async fn swap_index(&self, key: &str, expected: Option<&str>, new: Option<&str>) -> Result<bool, StoreError> {
        let mut state = self.state();
        if state.indexes.get(key).map(String::as_str) != expected {
            return Ok(false);
        }
        match new {
            Some(value) => state.indexes.insert(key.to_owned(), value.to_owned()),
            None => state.indexes.remove(key),
        };
        Ok(true)
    }

    async fn push_recent(&self, list: &str, value: &str, keep: usize) -> Result<(), StoreError> {
        let mut state = self.state();
        let items = state.lists.entry(list.to_owned()).or_default();
        items.push_front(value.to_owned());
        items.truncate(keep);
        Ok(())
    }

    async fn recent(&self, list: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        let state = self.state();
        Ok(state.lists.get(list).map(|items| items.iter().take(limit).cloned().collect()).unwrap_or_default())
    }

    async fn schedule(&self, schedule: &str, member: &str, at_ms: i64) -> Result<(), StoreError> {
        let mut state = self.state();
        state.schedules.entry(schedule.to_owned()).or_default().set(member, at_ms);
        Ok(())
    }

    async fn scheduled(&self, schedule: &str, until_ms: i64, limit: usize) -> Result<Vec<(String, i64)>, StoreError> {
        let state = self.state();
        let Some(entries) = state.schedules.get(schedule) else { return Ok(Vec::new()) };
        Ok(entries.due(until_ms, limit).into_iter().map(|(at, member)| (member, at)).collect())
    }

    async fn unschedule(&self, schedule: &str, member: &str) -> Result<bool, StoreError> {
        let mut state = self.state();
        Ok(state.schedules.get_mut(schedule).is_some_and(|entries| entries.remove(member)))
    }

    async fn claim_scheduled(
        &self,
        schedule: &str,
        until_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut state = self.state();
        let Some(entries) = state.schedules.get_mut(schedule) else { return Ok(Vec::new()) };
        let due = entries.due(until_ms, limit);
        for (_, member) in &due {
            entries.set(member, lease_until_ms);
        }
        Ok(due.into_iter().map(|(at, member)| (member, at)).collect())
    }

    async fn reschedule_if_at(
        &self,
        schedule: &str,
        member: &str,
        expected_at_ms: i64,
        to_ms: Option<i64>,
    ) -> Result<bool, StoreError> {
        let mut state = self.state();
        let Some(entries) = state.schedules.get_mut(schedule) else { return Ok(false) };
        if entries.times.get(member) != Some(&expected_at_ms) {
            return Ok(false);
        }
        match to_ms {
            Some(at_ms) => entries.set(member, at_ms),
            None => {
                entries.remove(member);
            }
        }
        Ok(true)
    }

    async fn delete_partition_document(&self, id: &AccountId, name: &str) -> Result<(), StoreError> {
        if let Some(partition) = self.state().partitions.get_mut(id) {
            partition.documents.remove(name);
        }
        Ok(())
    }

    async fn events(
        &self,
        id: &AccountId,
        after: Option<EventPosition>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let state = self.state();
        let Some(partition) = state.partitions.get(id) else { return Ok(Vec::new()) };
        let newer = partition.events.iter().filter(|(position, _)| after.is_none_or(|after| *position > after));
        Ok(newer
            .take(limit)
            .map(|(position, body)| StoredEvent { id: position.to_string(), body: body.clone() })
            .collect())
    }

    fn event_signals(&self) -> broadcast::Receiver<AccountId> {
        self.event_signals.subscribe()
    }

    async fn append_log(&self, log: &str, body: &str) -> Result<u64, StoreError> {
        let mut state = self.state();
        let entries = state.logs.entry(log.to_owned()).or_default();
        entries.push(body.to_owned());
        Ok(entries.len() as u64 - 1)
    }

    async fn read_log(&self, log: &str, before: Option<u64>, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
        let state = self.state();
        let Some(entries) = state.logs.get(log) else { return Ok(Vec::new()) };
        let window = journal_window(entries.len() as u64, before, limit);
        Ok(window.rev().map(|seq| LogEntry { seq, body: entries[seq as usize].clone() }).collect())
    }
}
