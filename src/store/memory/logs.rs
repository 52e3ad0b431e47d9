//! Logs and recent lists in memory: a vector per log, a bounded deque per list.

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
