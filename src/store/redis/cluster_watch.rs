//! The store's Redis Cluster connection, replaced when it stops being
//! answered.
//!
//! The cluster client (`redis::cluster_async`) retries a request that timed
//! out on the very connection it used, and keeps that connection. A node
//! that goes silent on it while it would answer a new one (a half-open TCP
//! connection: a firewall or load balancer that forgot it, a stalled
//! network, a node restarted under load) then leaves every request to that
//! node timing out for as long as the process lives: the cluster soak found
//! a gateway answering nothing but 503 for minutes while the cluster was
//! whole (docs/soak.md; tests/api/redis_silence.rs stages it).
//!
//! So the connection is watched: once `TIMEOUTS_TO_REPLACE` requests have
//! timed out within `WINDOW`, a new connection is opened from the seed
//! nodes (in the background; requests meanwhile go on as before) and takes
//! the old one's place for every request after it; the old one ends with
//! its last request. At most one replacement per `WINDOW`, so a node that is
//! really down (every connection times out) costs one new connection and a
//! slot-map read every few seconds, nothing more.

use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use redis::aio::ConnectionLike;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::RoutingInfo;
use redis::{Cmd, Pipeline, RedisFuture, RedisResult, Value};

/// Requests that time out within `WINDOW` before the connection is replaced.
const TIMEOUTS_TO_REPLACE: u32 = 5;
/// The window those timeouts are counted in, and the least time between two replacements.
const WINDOW: Duration = Duration::from_secs(5);

/// The cluster connection every request of the store takes; cheap to clone.
#[derive(Clone)]
pub(crate) struct WatchedCluster {
    shared: Arc<Shared>,
}

struct Shared {
    current: RwLock<ClusterConnection>,
    /// Opens the replacement (the seed nodes and the store's timeouts).
    client: ClusterClient,
    /// The longest a replacement may take to open.
    open_within: Duration,
    silence: Mutex<Silence>,
}

impl WatchedCluster {
    pub(super) fn new(connection: ClusterConnection, client: ClusterClient, open_within: Duration) -> WatchedCluster {
        WatchedCluster {
            shared: Arc::new(Shared {
                current: RwLock::new(connection),
                client,
                open_within,
                silence: Mutex::new(Silence::default()),
            }),
        }
    }

    /// The connection requests go to now.
    fn current(&self) -> ClusterConnection {
        self.shared.current.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    /// `command` on the node `routing` names (the cluster client's own routing bypassed).
    pub(super) async fn route_command(&self, command: Cmd, routing: RoutingInfo) -> RedisResult<Value> {
        let outcome = self.current().route_command(command, routing).await;
        self.observe(&outcome);
        outcome
    }

    /// Counts a timed-out request; replaces the connection when they keep coming.
    fn observe<T>(&self, outcome: &RedisResult<T>) {
        let Err(error) = outcome else { return };
        if !error.is_timeout() {
            return;
        }
        let replace =
            self.shared.silence.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).timed_out(Instant::now());
        if replace {
            let shared = self.shared.clone();
            tokio::spawn(async move { shared.replace().await });
        }
    }
}

impl Shared {
    async fn replace(&self) {
        match tokio::time::timeout(self.open_within, self.client.get_async_connection()).await {
            Ok(Ok(connection)) => {
                *self.current.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = connection;
                tracing::warn!(
                    timeouts = TIMEOUTS_TO_REPLACE,
                    window_secs = WINDOW.as_secs(),
                    "the Redis Cluster connection kept timing out; a new one took its place"
                );
            }
            Ok(Err(error)) => tracing::warn!(%error, "the Redis Cluster connection kept timing out; a new one failed"),
            Err(_) => tracing::warn!("the Redis Cluster connection kept timing out; a new one did not open in time"),
        }
    }
}

impl ConnectionLike for WatchedCluster {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        let mut connection = self.current();
        Box::pin(async move {
            let outcome = connection.req_packed_command(cmd).await;
            self.observe(&outcome);
            outcome
        })
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        pipeline: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        let mut connection = self.current();
        Box::pin(async move {
            let outcome = connection.req_packed_commands(pipeline, offset, count).await;
            self.observe(&outcome);
            outcome
        })
    }

    fn get_db(&self) -> i64 {
        self.current().get_db()
    }
}

/// The timeouts counted so far in the current window, and the last
/// replacement. On the monotonic clock, not the business one: it measures
/// the connection, which the simulator's clock does not move.
#[derive(Debug, Default)]
struct Silence {
    window_started: Option<Instant>,
    timeouts: u32,
    replaced_at: Option<Instant>,
}

impl Silence {
    /// A request timed out at `now`: whether the connection is to be replaced now.
    fn timed_out(&mut self, now: Instant) -> bool {
        match self.window_started {
            Some(started) if now.duration_since(started) < WINDOW => self.timeouts += 1,
            _ => {
                self.window_started = Some(now);
                self.timeouts = 1;
            }
        }
        let replaced_lately = self.replaced_at.is_some_and(|at| now.duration_since(at) < WINDOW);
        if self.timeouts < TIMEOUTS_TO_REPLACE || replaced_lately {
            return false;
        }
        self.replaced_at = Some(now);
        self.window_started = None;
        self.timeouts = 0;
        true
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::{Silence, TIMEOUTS_TO_REPLACE, WINDOW};

    #[test]
    fn timeouts_that_keep_coming_replace_the_connection_once_a_window() {
        let start = Instant::now();
        let mut silence = Silence::default();
        let at = |ms: u64| start + Duration::from_millis(ms);
        let decisions: Vec<bool> =
            (0..TIMEOUTS_TO_REPLACE).map(|n| silence.timed_out(at(u64::from(n) * 300))).collect();
        assert_eq!(decisions.iter().filter(|replace| **replace).count(), 1);
        assert_eq!(decisions.last(), Some(&true), "the fifth timeout within the window replaces it");
        // Timing out again at once: not before a window has passed since.
        let again: Vec<bool> =
            (0..TIMEOUTS_TO_REPLACE).map(|n| silence.timed_out(at(2_000 + u64::from(n) * 100))).collect();
        assert!(again.iter().all(|replace| !replace));
        let later = WINDOW.as_millis() as u64 + 2_000;
        let after: Vec<bool> = (0..TIMEOUTS_TO_REPLACE).map(|n| silence.timed_out(at(later + u64::from(n)))).collect();
        assert_eq!(after.last(), Some(&true), "a window later it may be replaced again");
    }

    #[test]
    fn timeouts_spread_wider_than_the_window_replace_nothing() {
        let start = Instant::now();
        let mut silence = Silence::default();
        let spread = WINDOW.as_millis() as u64 / u64::from(TIMEOUTS_TO_REPLACE - 1) + 1;
        let replaced = (0..20u64).any(|n| silence.timed_out(start + Duration::from_millis(n * spread)));
        assert!(!replaced, "an occasional timeout is not a silent connection");
    }
}
