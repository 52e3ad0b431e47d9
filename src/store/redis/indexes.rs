//! Unique indexes on Redis: a string key each, swapped by `swap_index.lua`.

use async_trait::async_trait;

use super::{RedisStore, unavailable};
use crate::store::{StoreError, UniqueIndexes};

#[async_trait]
impl UniqueIndexes for RedisStore {
    async fn get_index(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.query(redis::cmd("GET").arg(self.keys.index(key))).await
    }

    async fn swap_index(&self, key: &str, expected: Option<&str>, new: Option<&str>) -> Result<bool, StoreError> {
        let flag = |present: bool| if present { "1" } else { "0" };
        let mut invocation = self.swap_index.key(self.keys.index(key));
        invocation
            .arg(flag(expected.is_some()))
            .arg(expected.unwrap_or(""))
            .arg(flag(new.is_some()))
            .arg(new.unwrap_or(""));
        let mut connection = self.connection.clone();
        let swapped: i64 = invocation.invoke_async(&mut connection).await.map_err(unavailable)?;
        Ok(swapped == 1)
    }
}
