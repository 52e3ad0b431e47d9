//! Wipe: every piece of this deployment's state deleted at once, for the
//! simulator's reset (`POST /v1/sim/reset`).
//!
//! Kept apart from the data models because it reads none of them and no
//! request path calls it: it exists only so a simulator can start over
//! without a restart. It deletes what belongs to this deployment and nothing
//! else: on Redis every key under the store's prefix (never `FLUSHALL`, as
//! the Redis may be shared), on a cluster on every master. The stored layout
//! marker stays, since it describes the prefix rather than its state.
//!
//! Not atomic on Redis: a write that lands while the keys are being deleted
//! may survive in part. A reset is for a quiet simulator.

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait Wipe: Send + Sync {
    /// Deletes every account, document, index, schedule, log and short-lived
    /// value of this deployment; returns how many entries it removed (Redis
    /// keys, or the memory store's map entries).
    async fn wipe(&self) -> Result<u64, StoreError>;
}
