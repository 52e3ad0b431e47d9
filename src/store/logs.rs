//! Logs: lists of text read newest first — append-only logs kept whole (the
//! operators' audit log), capped logs (the simulator's request journal) and
//! capped recent lists (the mock SMS outbox).
//!
//! All are outside any account partition and never change an entry once
//! written; a log gives each entry a stable position so readers page back
//! through it, a capped log keeps those positions while dropping its oldest
//! entries, a recent list keeps only its newest items so it never grows.
//!
//! Why each primitive exists:
//! - `append_log`: record something for good, learning its position;
//! - `read_log`: page back from the newest (or below a position);
//! - `append_capped_log`: record something for a while, learning its
//!   position; positions count on and are never reused, so a reader's
//!   cursor stays meaningful while old entries fall off, and after a clear;
//! - `read_capped_log`: page back through what is still kept;
//! - `clear_capped_log`: drop every entry at once;
//! - `push_recent`: add to a capped list, dropping what falls off its end;
//! - `recent`: the newest items of a capped list.

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait Logs: Send + Sync {
    /// Appends to an append-only log; returns the entry's position.
    async fn append_log(&self, log: &str, body: &str) -> Result<u64, StoreError>;

    /// Up to `limit` entries of a log below position `before` (or from the newest), newest first.
    async fn read_log(&self, log: &str, before: Option<u64>, limit: usize) -> Result<Vec<LogEntry>, StoreError>;

    /// Appends to a capped log, dropping its oldest entries beyond the newest
    /// `keep` (at least one is kept); returns the entry's position, which
    /// is the number of entries ever appended before it (a clear included).
    async fn append_capped_log(&self, log: &str, body: &str, keep: usize) -> Result<u64, StoreError>;

    /// Up to `limit` entries of a capped log still kept, below position
    /// `before` (or from the newest), newest first.
    async fn read_capped_log(&self, log: &str, before: Option<u64>, limit: usize) -> Result<Vec<LogEntry>, StoreError>;

    /// Drops every entry of a capped log; its positions go on counting.
    async fn clear_capped_log(&self, log: &str) -> Result<(), StoreError>;

    /// Prepends `value` to a list, keeping only the newest `keep` items.
    async fn push_recent(&self, list: &str, value: &str, keep: usize) -> Result<(), StoreError>;

    /// Up to `limit` items of a list, newest first.
    async fn recent(&self, list: &str, limit: usize) -> Result<Vec<String>, StoreError>;
}

/// An entry of an append-only log, with its position (0 = oldest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogEntry {
    pub seq: u64,
    pub body: String,
}
