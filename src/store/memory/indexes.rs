//! Unique indexes in memory: one map, compared and swapped under the store's lock.

use async_trait::async_trait;

use super::MemoryStore;
use crate::store::{StoreError, UniqueIndexes};

#[async_trait]
impl UniqueIndexes for MemoryStore {
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
}
