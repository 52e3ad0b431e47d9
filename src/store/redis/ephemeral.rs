//! Short-lived values on Redis: a string key each with a time to live;
//! taking one is `GETDEL`, so exactly one taker gets it.

use std::time::Duration;

use async_trait::async_trait;

use super::RedisStore;
use crate::store::{EphemeralValues, StoreError};

#[async_trait]
impl EphemeralValues for RedisStore {
    async fn put_ephemeral(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        let ttl_ms = ttl.as_millis().max(1) as u64;
        let _: () =
            self.query(redis::cmd("SET").arg(self.keys.ephemeral(key)).arg(value).arg("PX").arg(ttl_ms)).await?;
        Ok(())
    }

    async fn take_ephemeral(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.query(redis::cmd("GETDEL").arg(self.keys.ephemeral(key))).await
    }

    async fn get_ephemeral(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.query(redis::cmd("GET").arg(self.keys.ephemeral(key))).await
    }
}
