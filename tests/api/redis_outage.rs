//! When Redis goes away the service answers 503 STORE_UNAVAILABLE instead of
//! hanging or crashing, and heals by itself when Redis returns.

use std::process::Stdio;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;
use tokio::process::{Child, Command};

use walletgate::store::{AccountCommit, AccountPartitions, CommitOutcome, Health, RedisStore};

use crate::helpers::{StoreKind, assert_error, json_of, spawn_app_with, test_settings, unique_phone};
use crate::redis_servers::{free_port, require_program};

/// Bounded waits for a private redis-server to come up or go down.
const REDIS_WAIT: Duration = Duration::from_secs(10);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

pub(crate) async fn start_redis(port: u16) -> Child {
    require_program("redis-server");
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("redis-server starts");
    wait_until(|| async move { tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() }).await;
    child
}

async fn wait_until<F, Fut>(condition: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + REDIS_WAIT;
    while !condition().await {
        assert!(tokio::time::Instant::now() < deadline, "condition not met within {REDIS_WAIT:?}");
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

#[tokio::test]
async fn requests_get_503_while_redis_is_down_and_recover_when_it_returns() {
    let port = free_port();
    let mut redis = start_redis(port).await;
    let app = spawn_app_with(StoreKind::Redis, |settings| {
        settings.store.url = format!("redis://127.0.0.1:{port}/0");
        settings.store.command_timeout_ms = 300;
        settings.store.connect_timeout_ms = 300;
    })
    .await;
    let alice = app.login_phone("13800000001", "alice-demo").await["access_token"].as_str().unwrap().to_owned();

    redis.kill().await.unwrap();
    redis.wait().await.unwrap();
    assert_error(app.get("/readyz", None).await, StatusCode::SERVICE_UNAVAILABLE, "STORE_UNAVAILABLE").await;
    let wallet = app.wallet(&alice).await;
    assert_eq!(wallet.headers()["retry-after"], "1");
    assert_error(wallet, StatusCode::SERVICE_UNAVAILABLE, "STORE_UNAVAILABLE").await;
    let register = app.register(&json!({ "phone": unique_phone(), "password": "correct-horse" })).await;
    assert_error(register, StatusCode::SERVICE_UNAVAILABLE, "STORE_UNAVAILABLE").await;
    assert_eq!(app.get("/healthz", None).await.status(), StatusCode::OK, "the process itself stays up");

    let _redis = start_redis(port).await;
    let app = &app;
    wait_until(|| async move { app.get("/readyz", None).await.status() == StatusCode::OK }).await;
    // The restarted Redis kept nothing (no persistence), but the service works again.
    let registered = app.register(&json!({ "phone": unique_phone(), "password": "correct-horse" })).await;
    json_of(registered, StatusCode::CREATED).await;
}

/// A restart of Redis closes every connection the gateway kept. The first
/// commit after it still lands, on a new connection, rather than failing
/// on a dead one.
#[tokio::test]
async fn the_first_commit_after_a_redis_restart_lands() {
    let port = free_port();
    let mut redis = start_redis(port).await;
    let mut settings = test_settings(StoreKind::Redis).store;
    settings.url = format!("redis://127.0.0.1:{port}/0");
    let store = RedisStore::connect(&settings.url, &settings).await.unwrap();
    let account = crate::store_conformance::account("acc_outage_commit");
    store.create_account(&account, &[]).await.unwrap();
    assert_eq!(store.commit_account(AccountCommit::new(1, &account, &[])).await.unwrap(), CommitOutcome::Committed);

    redis.kill().await.unwrap();
    redis.wait().await.unwrap();
    let _redis = start_redis(port).await;
    let store = &store;
    wait_until(|| async move { store.ping().await.is_ok() }).await;
    // The restarted Redis kept nothing: the account is made again, at version 1.
    store.create_account(&account, &[]).await.unwrap();
    assert_eq!(store.commit_account(AccountCommit::new(1, &account, &[])).await.unwrap(), CommitOutcome::Committed);
}

/// A stand-in for a Redis that has just restarted and is still loading its
/// data: the connection handshake works, every data command (alone or queued
/// in a transaction) is answered `-LOADING` — except, when `layout_readable`,
/// the store's layout check at connect, so the test gets past it.
async fn start_loading_redis(layout_readable: bool) -> u16 {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (reader, mut writer) = socket.into_split();
                let mut reader = BufReader::new(reader);
                let mut queued_error = false;
                loop {
                    let mut header = String::new();
                    if reader.read_line(&mut header).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let Some(count) = header.trim().strip_prefix('*').and_then(|n| n.parse::<usize>().ok()) else {
                        return;
                    };
                    let mut words = Vec::new();
                    for _ in 0..count {
                        let mut length = String::new();
                        reader.read_line(&mut length).await.unwrap();
                        let length: usize = length.trim().trim_start_matches('$').parse().unwrap();
                        let mut word = vec![0; length + 2];
                        reader.read_exact(&mut word).await.unwrap();
                        words.push(String::from_utf8_lossy(&word[..length]).to_uppercase());
                    }
                    let layout = layout_readable && words.get(1).is_some_and(|key| key.ends_with(":LAYOUT"));
                    let reply: &[u8] = match words.first().map(String::as_str) {
                        Some("SET") if layout => b"$-1\r\n",
                        Some("GET") if layout => b"$12\r\nv2 shards=24\r\n",
                        Some("PING") => b"+PONG\r\n",
                        Some("CLIENT" | "HELLO" | "SELECT") => b"+OK\r\n",
                        Some("MULTI") => {
                            queued_error = false;
                            b"+OK\r\n"
                        }
                        Some("EXEC") if queued_error => {
                            b"-EXECABORT Transaction discarded because of previous errors.\r\n"
                        }
                        _ => {
                            queued_error = true;
                            b"-LOADING Redis is loading the dataset in memory\r\n"
                        }
                    };
                    if writer.write_all(reply).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

#[tokio::test]
async fn a_redis_still_loading_its_data_is_unavailable_not_corrupt() {
    use walletgate::domain::account::AccountId;
    use walletgate::store::{RedisStore, StoreError};

    let mut settings = crate::helpers::test_settings(StoreKind::Redis).store;
    settings.url = format!("redis://127.0.0.1:{}/0", start_loading_redis(false).await);
    let connecting = RedisStore::connect(&settings.url, &settings).await;
    assert!(matches!(connecting, Err(StoreError::Unavailable(_))), "connecting: {:?}", connecting.err());
    settings.url = format!("redis://127.0.0.1:{}/0", start_loading_redis(true).await);
    let store = RedisStore::connect(&settings.url, &settings).await.expect("the handshake works while loading");
    let id = AccountId::parse("acc_demo_alice").unwrap();
    use walletgate::store::prelude::*;
    let alone = store.account_ids().await;
    assert!(matches!(alone, Err(StoreError::Unavailable(_))), "a lone command: {alone:?}");
    let in_transaction = store.load_account_with(&id, &["withdrawal:wd_1"]).await;
    assert!(matches!(in_transaction, Err(StoreError::Unavailable(_))), "a transaction: {in_transaction:?}");
}

/// A gateway started before its Redis (or while Redis loads) waits for it,
/// up to `store.startup_wait_secs`, instead of exiting: the store comes up a
/// moment later and the gateway serves, demo accounts seeded.
#[tokio::test]
async fn a_gateway_started_before_its_redis_waits_for_it() {
    let port = free_port();
    let late_redis = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        start_redis(port).await
    });
    let app = spawn_app_with(StoreKind::Redis, |settings| {
        settings.store.url = format!("redis://127.0.0.1:{port}/0");
        settings.store.command_timeout_ms = 300;
        settings.store.connect_timeout_ms = 300;
        settings.store.startup_wait_secs = 20;
    })
    .await;
    let _redis = late_redis.await.unwrap();
    assert_eq!(json_of(app.get("/readyz", None).await, StatusCode::OK).await["status"], "ready");
    app.login_phone("13800000001", "alice-demo").await;
}
