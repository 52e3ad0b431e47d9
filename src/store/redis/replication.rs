//! Waiting for replicas after a commit (`store.wait_replicas`). Redis
//! replicates asynchronously: a master answers a write before any replica
//! has it, so a failover can lose the last changes it acknowledged. With
//! the setting on, a commit that landed is followed by `WAIT <n> <timeout>`
//! on every node it wrote to, so it is answered only once that many
//! replicas hold it (docs/durability.md says what this does and does not
//! promise).
//!
//! `WAIT` covers the writes of the connection it is sent on, so it goes
//! down the very connection that carried the commit: the store's one
//! connection on a single Redis, and on a cluster the connection to the
//! master of the written key's slot (routed by slot, because the cluster
//! client would otherwise send `WAIT` to every master). Were that connection
//! replaced in between (a reconnect, the slot moved to another master), the
//! `WAIT` would speak for a connection that wrote nothing; a failover takes
//! far longer than the moment between the two, and a broken connection
//! fails the `WAIT` itself. A `WAIT` also holds up the commands behind it on
//! its connection until it returns: the cost docs/durability.md states.
//!
//! A node that answers with fewer replicas than asked still holds the
//! change, which every reader already sees: the commit is answered as
//! committed (failing it would tell the caller it did not happen), with a
//! warning and `store_replica_waits_total{outcome="short"}`. A node that
//! does not answer may have gone down with the change unreplicated: the
//! caller gets `Unavailable` (503, retry with the same Idempotency-Key,
//! which replays the change if it survived and makes it again if not), and
//! the metric counts it as `unconfirmed`.

use std::time::Duration;

use futures_util::future::join_all;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{RedisError, RedisResult};

use super::keys::slot_of_key;
use super::{Connection, RedisStore};
use crate::observability::catalogue::STORE_REPLICA_WAITS_TOTAL;
use crate::settings::StoreSettings;
use crate::store::StoreError;

/// How many replicas a commit waits for, and how long at most.
#[derive(Debug, Clone, Copy)]
pub(super) struct ReplicaWait {
    replicas: u32,
    timeout: Duration,
}

impl ReplicaWait {
    /// The wait the settings ask for; `None` when they ask for none.
    pub(super) fn from_settings(settings: &StoreSettings) -> Option<ReplicaWait> {
        (settings.wait_replicas > 0).then(|| ReplicaWait {
            replicas: settings.wait_replicas,
            timeout: Duration::from_millis(settings.wait_timeout_ms),
        })
    }
}

impl RedisStore {
    /// After a commit that landed: waits until `store.wait_replicas`
    /// replicas hold what was written to the keys `written`, node by node
    /// at once. Does nothing (and reads no key) when no wait is asked.
    pub(super) async fn wait_for_replicas(
        &self,
        written: impl IntoIterator<Item = String> + Send,
    ) -> Result<(), StoreError> {
        let Some(wait) = self.replica_wait else { return Ok(()) };
        let mut slots: Vec<u16> = written.into_iter().map(|key| slot_of_key(&key)).collect();
        slots.sort_unstable();
        slots.dedup();
        if !self.is_cluster() {
            // One connection carried every write: one WAIT covers them all.
            slots.truncate(1);
        }
        let waits = slots.into_iter().map(|slot| async move { (slot, self.wait_on_slot(slot, wait).await) });
        let mut unconfirmed = None;
        for (slot, reached) in join_all(waits).await {
            match reached {
                Ok(reached) if reached >= i64::from(wait.replicas) => {
                    metrics::counter!(STORE_REPLICA_WAITS_TOTAL, "outcome" => "reached").increment(1);
                }
                Ok(reached) => {
                    metrics::counter!(STORE_REPLICA_WAITS_TOTAL, "outcome" => "short").increment(1);
                    tracing::warn!(
                        slot,
                        reached,
                        asked = wait.replicas,
                        timeout_ms = wait.timeout.as_millis(),
                        "a commit reached fewer replicas than store.wait_replicas asks; \
                         a failover now could lose it"
                    );
                }
                Err(error) => {
                    metrics::counter!(STORE_REPLICA_WAITS_TOTAL, "outcome" => "unconfirmed").increment(1);
                    tracing::warn!(slot, %error, "a commit landed, then its node did not answer WAIT");
                    unconfirmed = Some(error);
                }
            }
        }
        match unconfirmed {
            None => Ok(()),
            Some(error) => Err(StoreError::Unavailable(format!(
                "a commit landed but its replication could not be confirmed (it may be lost in a failover): {error}"
            ))),
        }
    }

    /// `WAIT` on the connection that wrote to `slot`: how many replicas acknowledged.
    async fn wait_on_slot(&self, slot: u16, wait: ReplicaWait) -> RedisResult<i64> {
        let timeout_ms = u64::try_from(wait.timeout.as_millis()).unwrap_or(u64::MAX);
        let mut command = redis::cmd("WAIT");
        command.arg(wait.replicas).arg(timeout_ms);
        match &self.connection {
            Connection::Single(connection) => command.query_async(&mut connection.clone()).await,
            Connection::Cluster(connection) => {
                let master = Route::new(slot, SlotAddr::Master);
                let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(master));
                let reply = connection.route_command(command, routing).await?;
                redis::from_redis_value(reply).map_err(RedisError::from)
            }
        }
    }
}
