//! Unique indexes on Redis: a string key each, swapped by `swap_index.lua`.

use async_trait::async_trait;

use super::RedisStore;
use crate::store::{StoreError, UniqueIndexes};

#[async_trait]
impl UniqueIndexes for RedisStore {
    async fn get_index(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.query(redis::cmd("GET").arg(self.keys.index(key))).await
    }

    async fn swap_index(&self, key: &str, expected: Option<&str>, new: Option<&str>) -> Result<bool, StoreError> {
        let flag = |present: bool| if present { "1" } else { "0" };
        let key = self.keys.index(key);
        let mut invocation = self.swap_index.key(&key);
        invocation
            .arg(flag(expected.is_some()))
            .arg(expected.unwrap_or(""))
            .arg(flag(new.is_some()))
            .arg(new.unwrap_or(""));
        let swapped: i64 = self.run_script(std::slice::from_ref(&key), &invocation).await?;
        Ok(swapped == 1)
    }
}
