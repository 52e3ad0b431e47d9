//! The shared store: a single Redis through an auto-reconnecting
//! `ConnectionManager`, or a Redis Cluster through the cluster client (which
//! follows MOVED/ASK, re-reads the topology and reconnects by itself), so
//! several gateway processes see one state and a Redis restart or failover
//! heals by itself (requests meanwhile fail fast with 503).
//!
//! This file holds the connection, the scripts and how Redis errors read;
//! `keys.rs` holds the key layout (a partition's keys and its shard's work
//! share one cluster hash tag, so every script touches one slot);
//! `replication.rs` waits for replicas after a commit when the settings ask
//! (`store.wait_replicas`, docs/durability.md); `cluster_watch.rs` replaces
//! a cluster connection whose requests keep timing out; `packing.rs` says how a
//! partition's texts are written (packed) and read; and each data model's trait
//! is implemented in the file of the same name as the trait's
//! (`partitions.rs` beside `store/partitions.rs`, and so on), with its Lua
//! scripts next to them. The scripts decide nothing: the caller
//! computed the change in Rust. Both modes run the same code and scripts;
//! they differ only in the connection and in how event wake-ups travel
//! (`events.rs`).

use std::sync::{Arc, Once};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::{Cmd, ErrorKind, Pipeline, RedisError, RedisFuture, Script, ScriptInvocation, ServerErrorKind, Value};
use tokio::sync::broadcast;

use self::cluster_watch::WatchedCluster;
use self::keys::KeyLayout;
use self::replication::ReplicaWait;
use super::{Health, StoreError};
use crate::domain::account::AccountId;
use crate::settings::StoreSettings;

mod cluster_watch;
mod documents;
mod ephemeral;
mod events;
mod indexes;
mod keys;
mod logs;
mod packing;
mod partition_documents;
mod partitions;
mod replication;
mod schedules;
mod wipe;

/// How many times the connection manager retries a failed (re)connect
/// before giving the error to the caller.
const RECONNECT_RETRIES: usize = 2;
/// Event wake-ups a slow listener may fall behind by (see `MemoryStore`).
const EVENT_SIGNALS_BUFFERED: usize = 1024;
/// Pause before re-subscribing after the pub/sub connection is lost.
const RESUBSCRIBE_PAUSE: Duration = Duration::from_millis(500);

/// Retries of a cluster request (after MOVED, ASK, TRYAGAIN or a lost
/// node) before its error reaches the caller; each waits a little longer, so
/// a failover's few seconds end in a 503 rather than a hang.
const CLUSTER_RETRIES: u32 = 3;

/// One connection to Redis, whichever mode: both are multiplexed and cheap to clone.
#[derive(Clone)]
pub(super) enum Connection {
    Single(ConnectionManager),
    /// Replaced when it keeps timing out (`cluster_watch`).
    Cluster(WatchedCluster),
}

impl ConnectionLike for Connection {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Connection::Single(connection) => connection.req_packed_command(cmd),
            Connection::Cluster(connection) => connection.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Connection::Single(connection) => connection.req_packed_commands(pipeline, offset, count),
            Connection::Cluster(connection) => connection.req_packed_commands(pipeline, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Connection::Single(connection) => connection.get_db(),
            Connection::Cluster(connection) => connection.get_db(),
        }
    }
}

/// Where the event wake-ups are heard.
#[derive(Clone)]
enum Subscriptions {
    /// A single Redis: one pub/sub connection of this client.
    Single(redis::Client),
    /// A cluster: the seed nodes, for a RESP3 cluster connection that
    /// subscribes to every shard's channel.
    Cluster(Vec<String>),
}

#[derive(Clone)]
pub struct RedisStore {
    subscriptions: Subscriptions,
    /// The timeouts every connection is opened with (for the event listener's own).
    timeouts: StoreSettings,
    connection: Connection,
    keys: KeyLayout,
    /// Replicas a landed commit waits for (`replication.rs`), if any.
    replica_wait: Option<ReplicaWait>,
    create_partition: Script,
    commit_partition: Script,
    save_documents: Script,
    swap_index: Script,
    claim_schedule: Script,
    reschedule_if_at: Script,
    append_capped_log: Script,
    read_capped_log: Script,
    event_signals: broadcast::Sender<AccountId>,
    /// Accounts with new events, for this process's publisher (`events.rs`).
    wake_ups: events::WakeUps,
    /// The pub/sub listener starts with the first subscriber.
    listening: Arc<Once>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("prefix", &self.keys.prefix()).finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects (failing fast if Redis is not there at startup).
    pub async fn connect(url: &str, settings: &StoreSettings) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError::Unavailable(format!("bad redis url: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(Duration::from_millis(settings.command_timeout_ms)))
            .set_connection_timeout(Some(Duration::from_millis(settings.connect_timeout_ms)))
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_max_delay(Duration::from_millis(500));
        let connection = client.get_connection_manager_with_config(config).await.map_err(unavailable)?;
        RedisStore::open(Connection::Single(connection), Subscriptions::Single(client), settings).await
    }

    /// Connects to a Redis Cluster through its seed nodes (`redis://host:port` each).
    pub async fn connect_cluster(nodes: &[String], settings: &StoreSettings) -> Result<RedisStore, StoreError> {
        let client = cluster_builder(nodes, settings)
            .build()
            .map_err(|e| StoreError::Unavailable(format!("bad redis cluster nodes: {e}")))?;
        let connection = client.get_async_connection().await.map_err(unavailable)?;
        // A new connection reads the slot map and connects to every master.
        let open_within = 2 * Duration::from_millis(settings.connect_timeout_ms + settings.command_timeout_ms);
        let connection = WatchedCluster::new(connection, client, open_within);
        RedisStore::open(Connection::Cluster(connection), Subscriptions::Cluster(nodes.to_vec()), settings).await
    }

    async fn open(
        connection: Connection,
        subscriptions: Subscriptions,
        settings: &StoreSettings,
    ) -> Result<RedisStore, StoreError> {
        let keys = KeyLayout::new(&settings.key_prefix);
        let store = RedisStore {
            subscriptions,
            timeouts: settings.clone(),
            wake_ups: events::spawn_wake_up_publisher(connection.clone(), keys.clone()),
            connection,
            keys,
            replica_wait: ReplicaWait::from_settings(settings),
            create_partition: Script::new(include_str!("create_partition.lua")),
            commit_partition: Script::new(&partitions::commit_partition_script()),
            save_documents: Script::new(include_str!("save_documents.lua")),
            swap_index: Script::new(include_str!("swap_index.lua")),
            claim_schedule: Script::new(include_str!("claim_schedule.lua")),
            reschedule_if_at: Script::new(include_str!("reschedule_if_at.lua")),
            append_capped_log: Script::new(include_str!("append_capped_log.lua")),
            read_capped_log: Script::new(include_str!("read_capped_log.lua")),
            event_signals: broadcast::channel(EVENT_SIGNALS_BUFFERED).0,
            listening: Arc::new(Once::new()),
        };
        store.check_layout().await?;
        Ok(store)
    }

    fn is_cluster(&self) -> bool {
        matches!(self.connection, Connection::Cluster(_))
    }

    /// Records this version's key layout on first use, and refuses data
    /// written with another (a different shard count would lose accounts).
    /// Data of the layouts before (`v2`, expiring documents inside the
    /// partition's `documents` hash; `v3`, texts as plain JSON; `v4`, a
    /// partition's events in a stream beside its record) is read as it
    /// is, and its marker moved on, so a gateway of a version before refuses
    /// to start on it rather than miss what the new way keeps (docs/redis.md,
    /// "Key layout").
    async fn check_layout(&self) -> Result<(), StoreError> {
        let key = self.keys.layout();
        let marker = keys::layout_marker();
        let _: Option<String> = self.query(redis::cmd("SET").arg(&key).arg(&marker).arg("NX")).await?;
        let mut stored: Option<String> = self.query(redis::cmd("GET").arg(&key)).await?;
        if stored.as_ref().is_some_and(|stored| keys::earlier_layout_markers().contains(stored)) {
            let _: () = self.query(redis::cmd("SET").arg(&key).arg(&marker)).await?;
            stored = Some(marker.clone());
        }
        match stored {
            Some(stored) if stored == marker => Ok(()),
            stored => Err(StoreError::Corrupt {
                key,
                reason: format!(
                    "the data under this key prefix is laid out as {stored:?}, this version reads {marker:?}; \
                     use another store.key_prefix or an empty Redis"
                ),
            }),
        }
    }

    async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, StoreError> {
        let mut connection = self.connection.clone();
        command.query_async(&mut connection).await.map_err(unavailable)
    }

    /// Runs a script over `keys`, which must lie in one cluster slot (checked
    /// here in every mode, so a layout mistake shows on a single Redis too).
    /// A script missing on a node (after a failover or restart) is loaded
    /// and the call repeated by `invoke_async`.
    async fn run_script<T: redis::FromRedisValue>(
        &self,
        keys: &[String],
        invocation: &ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        keys::one_slot(keys.iter().map(String::as_str))
            .map_err(|reason| StoreError::Corrupt { key: keys.first().cloned().unwrap_or_default(), reason })?;
        let mut connection = self.connection.clone();
        invocation.invoke_async(&mut connection).await.map_err(unavailable)
    }
}

/// A cluster client on the seed nodes, with the store's timeouts.
fn cluster_builder(nodes: &[String], settings: &StoreSettings) -> ClusterClientBuilder {
    ClusterClientBuilder::new(nodes.to_vec())
        .connection_timeout(Duration::from_millis(settings.connect_timeout_ms))
        .response_timeout(Duration::from_millis(settings.command_timeout_ms))
        .retries(CLUSTER_RETRIES)
}

/// Connection trouble, and a Redis that says to wait (still loading its
/// data after a restart, a cluster or master down, try again), is
/// "unavailable" (503, retry); anything else is a bug the caller reports as
/// an internal error.
fn unavailable(error: RedisError) -> StoreError {
    let connection_trouble =
        error.is_io_error() || error.is_timeout() || error.is_connection_dropped() || error.is_connection_refusal();
    if connection_trouble || server_says_wait(&error) {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Corrupt { key: "redis".into(), reason: error.to_string() }
    }
}

/// Whether Redis answered "wait and retry": still loading its data after a
/// restart, a cluster or master down, a script not yet on a newly promoted master, or a master refusing writes for want
/// of replicas (`min-replicas-to-write`, docs/durability.md) — alone, or for
/// any command of a pipeline or transaction (then the transaction is aborted
/// as a whole).
fn server_says_wait(error: &RedisError) -> bool {
    let says_wait = |kind: Option<ServerErrorKind>| {
        matches!(
            kind,
            Some(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ClusterDown
                    | ServerErrorKind::Moved
                    | ServerErrorKind::Ask
                    | ServerErrorKind::ReadOnly
                    // A script still missing after `invoke_async` loaded it:
                    // its slot moved to another node (a replica promoted)
                    // between the load and the call; asked again, it is found.
                    | ServerErrorKind::NoScript
            )
        )
    };
    let alone = match error.kind() {
        ErrorKind::Server(kind) => says_wait(Some(kind)),
        _ => false,
    };
    let too_few_replicas = |code: &str| code == "NOREPLICAS";
    alone
        || error
            .clone()
            .into_server_errors()
            .is_some_and(|errors| errors.iter().any(|(_, e)| says_wait(e.kind()) || too_few_replicas(e.code())))
}

#[async_trait]
impl Health for RedisStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let _: String = self.query(&redis::cmd("PING")).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use redis::{ErrorKind, RedisError, ServerErrorKind};

    use super::{StoreError, unavailable};

    fn server_error(kind: ServerErrorKind) -> RedisError {
        RedisError::from((ErrorKind::Server(kind), "server error"))
    }

    #[test]
    fn a_redis_that_is_loading_or_says_wait_is_unavailable_not_corrupt() {
        for kind in [
            ServerErrorKind::BusyLoading,
            ServerErrorKind::TryAgain,
            ServerErrorKind::MasterDown,
            ServerErrorKind::ClusterDown,
            ServerErrorKind::NoScript,
        ] {
            assert!(matches!(unavailable(server_error(kind)), StoreError::Unavailable(_)), "{kind:?}");
        }
        let short_of_replicas =
            redis::make_extension_error("NOREPLICAS".into(), Some("Not enough good replicas to write.".into()));
        assert!(matches!(unavailable(short_of_replicas), StoreError::Unavailable(_)));
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(unavailable(refused), StoreError::Unavailable(_)));
        for kind in [ServerErrorKind::ResponseError, ServerErrorKind::CrossSlot] {
            assert!(matches!(unavailable(server_error(kind)), StoreError::Corrupt { .. }), "{kind:?}");
        }
    }
}
