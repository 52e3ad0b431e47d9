//! Account partitions in memory: a partition is one map entry, so a commit is
//! a version check and a few moves under the store's lock.

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;

use super::{MemoryStore, Partition, Schedule};
use crate::domain::account::{Account, AccountId};
use crate::domain::ledger::JournalEntry;
use crate::store::sharded_map::ShardedMap;
use crate::store::{
    AccountCommit, AccountPartitions, CommitOutcome, EVENTS_KEPT_PER_ACCOUNT, EXPIRED_RECLAIMED_PER_COMMIT,
    EventPosition, StoreError, Versioned, journal_window,
};

#[async_trait]
impl AccountPartitions for MemoryStore {
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
            events_appended: state.event_positions_floor,
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
        commit.check_members()?;
        let id = commit.account.id.clone();
        let mut account = Arc::new(commit.account.into_owned());
        let new_entries = commit.new_entries.to_vec();
        let documents_put = commit.documents_put.to_vec();
        let documents_expiring = commit.documents_expiring.to_vec();
        let events = commit.events.to_vec();
        let indexed = commit.indexed.to_vec();
        let mut replaced = Vec::new();
        let mut state = self.state();
        // Index entries come first, landed or not (as on Redis, where they
        // lie outside the partition's slot).
        for (key, value) in indexed {
            replaced.extend(state.indexes.insert(key, value));
        }
        let Some(partition) = state.partitions.get_mut(&id) else {
            return Ok(CommitOutcome::VersionConflict);
        };
        if partition.version != commit.expected_version {
            return Ok(CommitOutcome::VersionConflict);
        }
        if commit.expiring_must_be_new
            && documents_expiring.iter().any(|(name, _)| partition.documents.get(name).is_some())
        {
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
            partition.events.push_back((partition.version, EventPosition(partition.events_appended, 0), body));
        }
        // The events of the newest EVENTS_KEPT_PER_ACCOUNT commits are kept.
        while partition
            .events
            .front()
            .is_some_and(|(version, ..)| version + EVENTS_KEPT_PER_ACCOUNT as u64 <= partition.version)
        {
            replaced.extend(partition.events.pop_front().map(|(.., body)| body));
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

    async fn account_ids(&self) -> Result<Vec<AccountId>, StoreError> {
        let mut ids: Vec<AccountId> = self.state().partitions.keys().cloned().collect();
        ids.sort();
        Ok(ids)
    }
}
