//! Logs and recent lists on Redis: a list each, appended at the tail (logs,
//! index = position) or pushed at the head and trimmed (capped logs, whose
//! count of appends maps an index to a position, and recent lists).

use async_trait::async_trait;

use super::{RedisStore, unavailable};
use crate::store::{LogEntry, Logs, StoreError, journal_window};

#[async_trait]
impl Logs for RedisStore {
    async fn append_log(&self, log: &str, body: &str) -> Result<u64, StoreError> {
        let length: u64 = self.query(redis::cmd("RPUSH").arg(self.keys.log(log)).arg(body)).await?;
        Ok(length.saturating_sub(1))
    }

    async fn read_log(&self, log: &str, before: Option<u64>, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
        let key = self.keys.log(log);
        let length: u64 = self.query(redis::cmd("LLEN").arg(&key)).await?;
        let window = journal_window(length, before, limit);
        if window.is_empty() {
            return Ok(Vec::new());
        }
        let bodies: Vec<String> =
            self.query(redis::cmd("LRANGE").arg(&key).arg(window.start).arg(window.end - 1)).await?;
        let mut entries: Vec<LogEntry> =
            bodies.into_iter().zip(window).map(|(body, seq)| LogEntry { seq, body }).collect();
        entries.reverse();
        Ok(entries)
    }

    async fn append_capped_log(&self, log: &str, body: &str, keep: usize) -> Result<u64, StoreError> {
        let keys = self.keys.capped_log(log);
        let mut invocation = self.append_capped_log.prepare_invoke();
        invocation.key(&keys[0]).key(&keys[1]).arg(body).arg(keep.max(1));
        self.run_script(&keys, &invocation).await
    }

    async fn read_capped_log(&self, log: &str, before: Option<u64>, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
        let keys = self.keys.capped_log(log);
        let mut invocation = self.read_capped_log.prepare_invoke();
        let before = before.map_or(-1, |before| i64::try_from(before).unwrap_or(i64::MAX));
        invocation.key(&keys[0]).key(&keys[1]).arg(before).arg(limit);
        let mut read: Vec<String> = self.run_script(&keys, &invocation).await?;
        let corrupt = |reason: &str| StoreError::Corrupt { key: keys[1].clone(), reason: reason.to_owned() };
        if read.is_empty() {
            return Err(corrupt("the read script answered nothing"));
        }
        let count: u64 = read.remove(0).parse().map_err(|_| corrupt("not a count"))?;
        let window = journal_window(count, before.try_into().ok(), limit);
        Ok(window.rev().zip(read).map(|(seq, body)| LogEntry { seq, body }).collect())
    }

    async fn clear_capped_log(&self, log: &str) -> Result<(), StoreError> {
        let [entries, _count] = self.keys.capped_log(log);
        self.query(redis::cmd("DEL").arg(entries)).await
    }

    async fn push_recent(&self, list: &str, value: &str, keep: usize) -> Result<(), StoreError> {
        let key = self.keys.list(list);
        let mut pipeline = redis::pipe();
        pipeline.atomic().cmd("LPUSH").arg(&key).arg(value).ignore();
        pipeline.cmd("LTRIM").arg(&key).arg(0).arg(keep.max(1) as i64 - 1).ignore();
        let mut connection = self.connection.clone();
        let _: () = pipeline.query_async(&mut connection).await.map_err(unavailable)?;
        Ok(())
    }

    async fn recent(&self, list: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.query(redis::cmd("LRANGE").arg(self.keys.list(list)).arg(0).arg(limit as i64 - 1)).await
    }
}
