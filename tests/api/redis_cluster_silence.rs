//! A cluster node that stops answering on the connections the gateway holds
//! while still taking new ones (a half-open connection: a stateful firewall
//! or a load balancer that forgot it, a node's network stalled) must not
//! hold the gateway hostage. The cluster client retries a request that
//! timed out on the very connection it used, so without help every request
//! after such a silence times out for as long as the process lives; the
//! store replaces the cluster connection once its requests keep timing out
//! (`store/redis/cluster_watch.rs`).
//!
//! The node sits behind a proxy of the test's (`cluster-announce-port`
//! makes the cluster name the proxy's port, so every connection of the
//! gateway goes through it), which can silence the connections open so far
//! and forward new ones as before.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};

use crate::helpers::{StoreKind, spawn_app_with, unique_phone};
use crate::redis_servers::{RedisServer, cluster_state_ok, free_port, query};

/// How long the gateway may take to find its way back after the silence.
const RECOVERY_WITHIN: Duration = Duration::from_secs(20);

/// A TCP proxy to `target` whose connections opened before a `silence()`
/// stop forwarding anything (kept open, what the client sends is read and
/// dropped), while connections opened after it forward as before.
struct SilencingProxy {
    port: u16,
    /// Connections of an earlier generation than this are silent.
    generation: Arc<AtomicU64>,
}

impl SilencingProxy {
    async fn start(listener: TcpListener, target: u16) -> SilencingProxy {
        let port = listener.local_addr().unwrap().port();
        let generation = Arc::new(AtomicU64::new(0));
        let current = generation.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let born = current.load(Ordering::SeqCst);
                let current = current.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(("127.0.0.1", target)).await else { return };
                    forward(client, server, born, current).await;
                });
            }
        });
        SilencingProxy { port, generation }
    }

    fn silence(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }
}

async fn forward(client: TcpStream, server: TcpStream, born: u64, current: Arc<AtomicU64>) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let silent = move || current.load(Ordering::SeqCst) > born;
    tokio::join!(pump(client_read, server_write, silent.clone()), pump(server_read, client_write, silent));
}

/// Copies `from` to `to` until either ends, dropping what it reads once `silent()`.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, silent: impl Fn() -> bool) {
    let mut buffer = vec![0u8; 16 * 1024];
    while let Ok(read) = from.read(&mut buffer).await {
        if read == 0 || (!silent() && to.write_all(&buffer[..read]).await.is_err()) {
            break;
        }
    }
}

#[tokio::test]
async fn a_gateway_replaces_cluster_connections_that_went_silent() {
    // The proxy's port first: the node announces it as its own.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy_port = listener.local_addr().unwrap().port();
    let bus_port = free_port().to_string();
    let announced = proxy_port.to_string();
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
    let url = format!("redis+cluster://127.0.0.1:{}", proxy.port);
    let app = spawn_app_with(StoreKind::Cluster, |settings| {
        settings.store.url = url;
        settings.store.command_timeout_ms = 300;
        settings.store.connect_timeout_ms = 300;
    })
    .await;
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
