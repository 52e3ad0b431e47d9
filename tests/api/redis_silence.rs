//! A Redis that stops answering on the connections a gateway holds while
//! still taking new ones (a half-open connection: a stateful firewall or a
//! load balancer that forgot it, a node's network stalled) must not hold
//! the gateway hostage.
//!
//! - On a cluster, the cluster client retries a request that timed out on
//!   the very connection it used, so without help every request after such
//!   a silence times out for as long as the process lives; the store
//!   replaces the cluster connection once its requests keep timing out
//!   (`store/redis/cluster_watch.rs`).
//! - On a cluster and on a single Redis, the same silence on the connection
//!   that hears other gateways' wake-ups must not leave the gateway's live
//!   streams waiting for their heartbeat: the listener pings and subscribes
//!   again on a new connection when a ping goes unanswered
//!   (`store/redis/events.rs`).
//!
//! The server sits behind a proxy of the test's (a cluster node names the
//! proxy's port as its own, `cluster-announce-port`, so every connection of
//! the gateway goes through it), which can silence the connections open so
//! far, or only those that subscribed to a channel, and forward new ones as
//! before.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{StoreKind, TestApp, spawn_app_with, spawn_second_instance, unique_phone};
use crate::redis_cluster::ListeningStream;
use crate::redis_servers::{RedisServer, cluster_state_ok, free_port, query};

/// How long the gateway may take to find its way back after the silence.
const RECOVERY_WITHIN: Duration = Duration::from_secs(20);

/// A TCP proxy to `target` whose connections opened before a `silence()`
/// stop forwarding anything (kept open, what the client sends is read and
/// dropped), while connections opened after it forward as before;
/// `silence_subscriptions()` does the same to those of the connections
/// open so far that subscribed to a channel.
struct SilencingProxy {
    port: u16,
    /// Connections of an earlier generation than this are silent.
    generation: Arc<AtomicU64>,
    /// Subscribed connections of an earlier generation than this are silent.
    subscriptions: Arc<AtomicU64>,
}

/// What one proxied connection needs to know whether it is silent.
#[derive(Clone)]
struct Silence {
    born: (u64, u64),
    now: (Arc<AtomicU64>, Arc<AtomicU64>),
    subscribed: Arc<AtomicBool>,
}

impl Silence {
    fn is_on(&self) -> bool {
        self.now.0.load(Ordering::SeqCst) > self.born.0
            || (self.subscribed.load(Ordering::SeqCst) && self.now.1.load(Ordering::SeqCst) > self.born.1)
    }
}

impl SilencingProxy {
    async fn start(listener: TcpListener, target: u16) -> SilencingProxy {
        let port = listener.local_addr().unwrap().port();
        let generation = Arc::new(AtomicU64::new(0));
        let subscriptions = Arc::new(AtomicU64::new(0));
        let now = (generation.clone(), subscriptions.clone());
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let silence = Silence {
                    born: (now.0.load(Ordering::SeqCst), now.1.load(Ordering::SeqCst)),
                    now: now.clone(),
                    subscribed: Arc::new(AtomicBool::new(false)),
                };
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else { return };
                    forward(client, server, silence).await;
                });
            }
        });
        SilencingProxy { port, generation, subscriptions }
    }

    fn silence(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn silence_subscriptions(&self) {
        self.subscriptions.fetch_add(1, Ordering::SeqCst);
    }
}

async fn forward(client: TcpStream, server: TcpStream, silence: Silence) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        pump(client_read, server_write, silence.clone(), true),
        pump(server_read, client_write, silence, false)
    );
}

/// Copies `from` to `to` until either ends, dropping what it reads once the
/// silence is on; `from_client` notes a subscription the client asks for.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, silence: Silence, from_client: bool) {
    let mut buffer = vec![0u8; 16 * 1024];
    while let Ok(read) = from.read(&mut buffer).await {
        if from_client && buffer[..read].windows(9).any(|word| word.eq_ignore_ascii_case(b"SUBSCRIBE")) {
            silence.subscribed.store(true, Ordering::SeqCst);
        }
        if read == 0 || (!silence.is_on() && to.write_all(&buffer[..read]).await.is_err()) {
            break;
        }
    }
}

/// A one-node cluster (every slot) that names the proxy in front of it as
/// itself, so every connection to it goes through the proxy.
async fn node_behind_proxy() -> (RedisServer, SilencingProxy) {
    // The proxy's port first: the node announces it as its own.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let announced = listener.local_addr().unwrap().port().to_string();
    let bus_port = free_port().to_string();
    let node = RedisServer::start(&[
        "--cluster-enabled",
        "yes",
        "--cluster-config-file",
        "{dir}/nodes.conf",
        "--cluster-port",
        &bus_port,
        "--cluster-announce-port",
        &announced,
    ]);
    query(node.port, &["CLUSTER", "ADDSLOTSRANGE", "0", "16383"]).unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !cluster_state_ok(node.port) {
        assert!(tokio::time::Instant::now() < deadline, "the one-node cluster did not come up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let proxy = SilencingProxy::start(listener, node.port).await;
    (node, proxy)
}

/// A gateway on the Redis (`kind`: a single one or a cluster) behind
/// `proxy`, with short timeouts.
async fn gateway_through(proxy: &SilencingProxy, kind: StoreKind) -> TestApp {
    let url = match kind {
        StoreKind::Cluster => format!("redis+cluster://127.0.0.1:{}", proxy.port),
        _ => format!("redis://127.0.0.1:{}/0", proxy.port),
    };
    spawn_app_with(kind, |settings| {
        settings.store.url = url;
        settings.store.command_timeout_ms = 300;
        settings.store.connect_timeout_ms = 300;
    })
    .await
}

#[tokio::test]
async fn a_gateway_replaces_cluster_connections_that_went_silent() {
    let (_node, proxy) = node_behind_proxy().await;
    let app = gateway_through(&proxy, StoreKind::Cluster).await;
    let token = app.login_phone("13800000001", "alice-demo").await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.wallet(&token).await.status(), StatusCode::OK);

    proxy.silence();
    assert_eq!(app.wallet(&token).await.status(), StatusCode::SERVICE_UNAVAILABLE, "the node went silent");
    let deadline = tokio::time::Instant::now() + RECOVERY_WITHIN;
    loop {
        if app.wallet(&token).await.status() == StatusCode::OK {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "every request still fails {RECOVERY_WITHIN:?} after the connections went silent, though new ones \
             would be answered"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let register = app.register(&json!({ "phone": unique_phone(), "password": "correct-horse" })).await;
    assert_eq!(register.status(), StatusCode::CREATED, "writes go through again too");
}

#[tokio::test]
async fn wake_ups_reach_a_gateway_whose_subscriptions_went_silent() {
    let (_node, proxy) = node_behind_proxy().await;
    let app = gateway_through(&proxy, StoreKind::Cluster).await;
    wake_ups_are_heard_after_the_subscriptions_go_silent(app, &proxy).await;
}

#[tokio::test]
async fn wake_ups_reach_a_gateway_whose_subscription_went_silent_on_a_single_redis() {
    let server = RedisServer::start(&[]);
    let proxy = SilencingProxy::start(TcpListener::bind("127.0.0.1:0").await.unwrap(), server.port).await;
    let app = gateway_through(&proxy, StoreKind::Redis).await;
    wake_ups_are_heard_after_the_subscriptions_go_silent(app, &proxy).await;
}

/// A live stream on `app` hears a withdrawal made on another gateway; then
/// the proxy silences the subscriptions, and one of the next withdrawals
/// must still be heard long before the stream's heartbeat.
async fn wake_ups_are_heard_after_the_subscriptions_go_silent(app: TestApp, proxy: &SilencingProxy) {
    let other = spawn_second_instance(&app).await;
    let mut listening = ListeningStream::open(&app, &other).await;
    proxy.silence_subscriptions();
    assert!(
        listening.hears_one_of(&other, 4, Duration::from_millis(2500)).await,
        "no withdrawal made on the other gateway was heard at once in the 10 s after the subscriptions went silent"
    );
}
