//! Short-lived values in memory: each with its expiry, swept shard by shard
//! as shards grow (see `EPHEMERAL_SWEEP_THRESHOLD_PER_SHARD`).

use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::{EPHEMERAL_SWEEP_THRESHOLD_PER_SHARD, MemoryStore};
use crate::store::sharded_map::SHARDS;
use crate::store::{EphemeralValues, StoreError};

#[async_trait]
impl EphemeralValues for MemoryStore {
    async fn put_ephemeral(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        let now = Instant::now();
        let (key_owned, value_owned) = (key.to_owned(), value.to_owned());
        let mut guard = self.state();
        let state = &mut *guard;
        let shard = state.ephemeral.shard_of(key);
        state.ephemeral_sweep_at.resize(SHARDS, EPHEMERAL_SWEEP_THRESHOLD_PER_SHARD);
        if state.ephemeral.shard_len(shard) >= state.ephemeral_sweep_at[shard] {
            let left = state.ephemeral.retain_in_shard(shard, |_, (_, expires)| *expires > now);
            state.ephemeral_sweep_at[shard] = (left * 2).max(EPHEMERAL_SWEEP_THRESHOLD_PER_SHARD);
        }
        state.ephemeral.insert(key_owned, (value_owned, now + ttl));
        Ok(())
    }

    async fn take_ephemeral(&self, key: &str) -> Result<Option<String>, StoreError> {
        let taken = self.state().ephemeral.remove(key);
        Ok(taken.filter(|(_, expires)| *expires > Instant::now()).map(|(value, _)| value))
    }

    async fn get_ephemeral(&self, key: &str) -> Result<Option<String>, StoreError> {
        let state = self.state();
        let found = state.ephemeral.get(key);
        Ok(found.filter(|(_, expires)| *expires > Instant::now()).map(|(value, _)| value.clone()))
    }
}
