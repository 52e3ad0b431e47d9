//! Unique indexes: keys owned by one value at a time (an openid bound to one
//! account; a withdrawal id leading to its account).
//!
//! A key changes only by compare-and-swap, so of two accounts racing to bind
//! one openid exactly one wins, and a stale release never frees a key
//! someone else has since taken. Keys nobody else can hold (a new
//! withdrawal's id) are also set by the partition commit that creates them.
//!
//! Why each primitive exists:
//! - `get_index`: who holds a key now;
//! - `swap_index`: claim, move or release a key, only from the value the caller saw.

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait UniqueIndexes: Send + Sync {
    async fn get_index(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Sets `key` to `new` (or removes it for `None`) only if it currently
    /// holds `expected` (`None`: absent). Returns whether it swapped.
    async fn swap_index(&self, key: &str, expected: Option<&str>, new: Option<&str>) -> Result<bool, StoreError>;
}
