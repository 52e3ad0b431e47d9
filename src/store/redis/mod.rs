//! The shared store: Redis through an auto-reconnecting `ConnectionManager`,
//! so several gateway processes see one state and a Redis restart heals by
//! itself (requests meanwhile fail fast with 503).
//!
//! This file holds the connection, the scripts and how Redis errors read;
//! `keys.rs` holds the key layout (every partition's keys share one Cluster
//! hash tag), and each data model's trait is implemented in the file of the
//! same name as the trait's (`partitions.rs` beside `store/partitions.rs`,
//! and so on), with its Lua scripts next to them. The scripts decide
//! nothing: the caller computed the change in Rust.

use std::sync::{Arc, Once};
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, Script, ServerErrorKind};
use tokio::sync::broadcast;

use self::keys::KeyLayout;
use super::{Health, StoreError};
use crate::domain::account::AccountId;
use crate::settings::StoreSettings;

mod documents;
mod ephemeral;
mod events;
mod indexes;
mod keys;
mod logs;
mod partition_documents;
mod partitions;
mod schedules;

/// How many times the connection manager retries a failed (re)connect
/// before giving the error to the caller.
const RECONNECT_RETRIES: usize = 2;
/// Event wake-ups a slow listener may fall behind by (see `MemoryStore`).
const EVENT_SIGNALS_BUFFERED: usize = 1024;
/// Pause before re-subscribing after the pub/sub connection is lost.
const RESUBSCRIBE_PAUSE: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    connection: ConnectionManager,
    keys: KeyLayout,
    create_partition: Script,
    commit_partition: Script,
    save_documents: Script,
    swap_index: Script,
    claim_schedule: Script,
    reschedule_if_at: Script,
    event_signals: broadcast::Sender<AccountId>,
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
        Ok(RedisStore {
            client,
            connection,
            keys: KeyLayout::new(&settings.key_prefix),
            create_partition: Script::new(include_str!("create_partition.lua")),
            commit_partition: Script::new(include_str!("commit_partition.lua")),
            save_documents: Script::new(include_str!("save_documents.lua")),
            swap_index: Script::new(include_str!("swap_index.lua")),
            claim_schedule: Script::new(include_str!("claim_schedule.lua")),
            reschedule_if_at: Script::new(include_str!("reschedule_if_at.lua")),
            event_signals: broadcast::channel(EVENT_SIGNALS_BUFFERED).0,
            listening: Arc::new(Once::new()),
        })
    }

    async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, StoreError> {
        let mut connection = self.connection.clone();
        command.query_async(&mut connection).await.map_err(unavailable)
    }
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
/// restart, or a cluster or master down — alone, or for any command of a
/// pipeline or transaction (then the transaction is aborted as a whole).
fn server_says_wait(error: &RedisError) -> bool {
    let says_wait = |kind: Option<ServerErrorKind>| {
        matches!(
            kind,
            Some(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ClusterDown
            )
        )
    };
    let alone = match error.kind() {
        ErrorKind::Server(kind) => says_wait(Some(kind)),
        _ => false,
    };
    alone || error.clone().into_server_errors().is_some_and(|errors| errors.iter().any(|(_, e)| says_wait(e.kind())))
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
        ] {
            assert!(matches!(unavailable(server_error(kind)), StoreError::Unavailable(_)), "{kind:?}");
        }
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(unavailable(refused), StoreError::Unavailable(_)));
        for kind in [ServerErrorKind::ResponseError, ServerErrorKind::CrossSlot] {
            assert!(matches!(unavailable(server_error(kind)), StoreError::Corrupt { .. }), "{kind:?}");
        }
    }
}
