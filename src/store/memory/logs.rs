//! Logs and recent lists in memory: a vector per log, a bounded deque per
//! capped log (with the count of all it was ever given) and per list.

use async_trait::async_trait;

use super::MemoryStore;
use crate::store::{LogEntry, Logs, StoreError, journal_window};

#[async_trait]
impl Logs for MemoryStore {
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

    async fn append_capped_log(&self, log: &str, body: &str, keep: usize) -> Result<u64, StoreError> {
        let mut state = self.state();
        let log = state.capped_logs.entry(log.to_owned()).or_default();
        log.kept.push_back(body.to_owned());
        while log.kept.len() > keep.max(1) {
            log.kept.pop_front();
        }
        log.appended += 1;
        Ok(log.appended - 1)
    }

    async fn read_capped_log(&self, log: &str, before: Option<u64>, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
        let state = self.state();
        let Some(log) = state.capped_logs.get(log) else { return Ok(Vec::new()) };
        let oldest_kept = log.appended - log.kept.len() as u64;
        let window = journal_window(log.appended, before, limit);
        let kept = window.start.max(oldest_kept)..window.end.max(oldest_kept);
        let body = |seq: u64| log.kept[(seq - oldest_kept) as usize].clone();
        Ok(kept.rev().map(|seq| LogEntry { seq, body: body(seq) }).collect())
    }

    async fn clear_capped_log(&self, log: &str) -> Result<(), StoreError> {
        if let Some(log) = self.state().capped_logs.get_mut(log) {
            log.kept.clear();
        }
        Ok(())
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
}
