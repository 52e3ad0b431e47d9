//! Durability with replicas (docs/durability.md): a commit waits for its
//! replica when `store.wait_replicas` asks, on a cluster and on a single
//! Redis, and one that cannot reach as many is answered and counted as the
//! docs say; a master refusing writes for want of replicas is unavailable
//! (503), not broken; and a cluster master killed under a withdrawal load is
//! replaced by its replica while two gateways carry on, losing and
//! repeating no acknowledged withdrawal.
//!
//! Each test starts servers of its own (the failover test kills one). Waits
//! are on the wall clock and bounded; the business clock (the gateways'
//! manual clock) never moves.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use reqwest::StatusCode;
use rust_decimal::Decimal;
use serde_json::Value;
use walletgate::settings::{RateLimit, Settings};

use crate::helpers::{StoreKind, TestApp, TestUser, assert_error, json_of, spawn_app_with, spawn_second_instance};
use crate::redis_servers::{ClusterNode, RedisCluster, RedisServer, query, query_as};
use crate::withdrawals::{body, ready_user, withdraw};

/// The replica-wait counters are one per test process: the tests that read
/// them take turns, so each sees only its own commits counted.
static REPLICA_WAIT_COUNTERS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A master not heard from for this long is failed over (Redis's default
/// is 15 s; small here to keep the test short).
const NODE_TIMEOUT_MS: u64 = 1000;
/// Longest wait for a replica to take over, and for the gateways to answer again.
const FAILOVER_WAIT: Duration = Duration::from_secs(15);
/// Pause before a request whose answer was 503 is sent again.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
const LOAD_USERS: usize = 6;
const OPENING_BALANCE: &str = "100000.00";
const AMOUNT: &str = "1.00";
/// Acknowledged withdrawals (over all users) before the master is killed.
const ACKNOWLEDGED_BEFORE_KILL: usize = 60;
/// Withdrawals each user must have acknowledged, sent after the promotion,
/// before the load stops: every user's account answers again.
const ACKNOWLEDGED_AFTER_PROMOTION: usize = 3;

/// A gateway on `url` that waits for `wait_replicas`, lets the load through
/// its per-process PIN rate limit, and lets an L0 user withdraw all day.
fn gateway_settings(url: String, wait_replicas: u32, wait_timeout_ms: u64) -> impl FnOnce(&mut Settings) {
    move |settings| {
        settings.store.url = url;
        settings.store.wait_replicas = wait_replicas;
        settings.store.wait_timeout_ms = wait_timeout_ms;
        // Requests to a dead master fail (503) within a second, so the load moves on.
        settings.store.command_timeout_ms = 1000;
        settings.store.connect_timeout_ms = 500;
        let unlimited = RateLimit { burst: 1_000_000, per_minute: 1_000_000 };
        settings.rate_limits.pin.per_account = unlimited;
        settings.rate_limits.pin.per_ip = unlimited;
        let l0 = &mut settings.withdrawals.levels.l0;
        l0.daily_count_max = 1_000_000;
        l0.daily_amount_max = "10000000.00".into();
        l0.monthly_amount_max = "10000000.00".into();
    }
}

/// The `store_replica_waits_total` counters by outcome, from `/metrics`.
async fn replica_waits(app: &TestApp) -> BTreeMap<String, u64> {
    let text = app.get("/metrics", None).await.text().await.expect("metrics text");
    text.lines()
        .filter_map(|line| line.strip_prefix("store_replica_waits_total{outcome=\""))
        .filter_map(|rest| {
            let (outcome, count) = rest.split_once("\"} ")?;
            Some((outcome.to_owned(), count.trim().parse().ok()?))
        })
        .collect()
}

/// How much each outcome's counter grew from `before` to `after`.
fn growth(before: &BTreeMap<String, u64>, after: &BTreeMap<String, u64>) -> BTreeMap<&'static str, u64> {
    ["reached", "short", "unconfirmed"]
        .into_iter()
        .map(|outcome| (outcome, after.get(outcome).unwrap_or(&0) - before.get(outcome).unwrap_or(&0)))
        .collect()
}

/// A single Redis and its replica, in sync.
async fn master_with_replica() -> (RedisServer, RedisServer) {
    tokio::task::spawn_blocking(|| {
        let master = RedisServer::start(&[]);
        let replica = RedisServer::start_replica_of(&master);
        (master, replica)
    })
    .await
    .expect("the servers start")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_waits_for_its_replica_on_a_cluster_and_is_counted_short_when_asking_for_more() {
    let _turn = REPLICA_WAIT_COUNTERS.lock().await;
    let cluster = tokio::task::spawn_blocking(|| RedisCluster::start_with_replicas(5000)).await.unwrap();
    commits_wait_for_replicas(StoreKind::Cluster, cluster.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_commit_waits_for_its_replica_on_a_single_redis_and_is_counted_short_when_asking_for_more() {
    let _turn = REPLICA_WAIT_COUNTERS.lock().await;
    let (master, _replica) = master_with_replica().await;
    commits_wait_for_replicas(StoreKind::Redis, master.url()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_master_refusing_writes_for_want_of_replicas_answers_503_and_takes_them_once_they_suffice() {
    let (master, _replica) = master_with_replica().await;
    let app = spawn_app_with(StoreKind::Redis, gateway_settings(master.url(), 0, 100)).await;
    let operator = app.operator_token().await;
    let (user_id, user_token) = app.new_user().await;
    let require_replicas = |count: &str| query(master.port, &["CONFIG", "SET", "min-replicas-to-write", count]);
    require_replicas("2").expect("the master takes the setting");
    assert_error(app.credit(&operator, &user_id, "5.00").await, StatusCode::SERVICE_UNAVAILABLE, "STORE_UNAVAILABLE")
        .await;
    require_replicas("1").expect("the master takes the setting");
    json_of(app.credit(&operator, &user_id, "5.00").await, StatusCode::CREATED).await;
    assert_eq!(app.available(&user_token).await, "5.00", "the refused credit left nothing behind");
}

/// On a store whose masters have one replica each: with one replica asked,
/// commits are answered once the replica has them, every wait reached;
/// with two asked, a commit is answered as committed after the
/// whole wait and counted short.
async fn commits_wait_for_replicas(kind: StoreKind, url: String) {
    const WAIT_TIMEOUT_MS: u64 = 400;
    let app = spawn_app_with(kind, gateway_settings(url.clone(), 1, WAIT_TIMEOUT_MS)).await;
    let operator = app.operator_token().await;
    let (user, binding_id) = ready_user(&app, "100.00").await;
    let before = replica_waits(&app).await;
    json_of(app.credit(&operator, &user.id, "50.00").await, StatusCode::CREATED).await;
    json_of(withdraw(&app, &user, "w-1", body(&binding_id, "10.00")).await, StatusCode::ACCEPTED).await;
    let waits = growth(&before, &replica_waits(&app).await);
    // On a cluster the withdrawal's index entry, in a slot of its own, is waited for too.
    assert!(waits["reached"] >= 2, "the credit and the withdrawal waited: {waits:?}");
    assert_eq!((waits["short"], waits["unconfirmed"]), (0, 0), "{waits:?}");
    assert_eq!(app.available(&user.token).await, "140.00");

    let greedy = spawn_app_with(kind, gateway_settings(url, 2, WAIT_TIMEOUT_MS)).await;
    let operator = greedy.operator_token().await;
    let (user_id, user_token) = greedy.new_user().await;
    let before = replica_waits(&greedy).await;
    let started = Instant::now();
    json_of(greedy.credit(&operator, &user_id, "25.00").await, StatusCode::CREATED).await;
    let took = started.elapsed();
    let waits = growth(&before, &replica_waits(&greedy).await);
    assert_eq!(waits, BTreeMap::from([("reached", 0), ("short", 1), ("unconfirmed", 0)]));
    assert!(took >= Duration::from_millis(WAIT_TIMEOUT_MS), "the whole wait passed first: {took:?}");
    assert_eq!(greedy.available(&user_token).await, "25.00", "answered as committed, and committed");
    greedy.assert_ledger_balanced().await;
}

/// A user of the load, and the withdrawals acknowledged to it.
struct LoadUser {
    user: TestUser,
    binding_id: String,
    acknowledged: Mutex<Vec<Acknowledged>>,
}

struct Acknowledged {
    id: String,
    total_debit: Decimal,
    /// When its first attempt was sent.
    sent_at: Instant,
}

/// The load's shared state: its users, the stop signal, and every 503 answer.
struct Load {
    gateways: [TestApp; 2],
    users: Vec<LoadUser>,
    stop: AtomicBool,
    unavailable_at: Mutex<Vec<Instant>>,
}

impl Load {
    fn acknowledged(&self, user: usize) -> usize {
        self.users[user].acknowledged.lock().unwrap().len()
    }

    fn acknowledged_since(&self, user: usize, since: Instant) -> usize {
        self.users[user].acknowledged.lock().unwrap().iter().filter(|done| done.sent_at >= since).count()
    }
}

/// One user's withdrawals, one at a time, alternating between the gateways, until told to stop.
async fn withdraw_until_stopped(load: Arc<Load>, user: usize) {
    for n in 0.. {
        if load.stop.load(Ordering::Relaxed) {
            return;
        }
        let acknowledged = withdraw_until_answered(&load, user, n).await;
        load.users[user].acknowledged.lock().unwrap().push(acknowledged);
    }
}

/// Sends withdrawal `n` until it is answered. A 503 leaves its outcome
/// unknown (the commit may have landed and the answer been lost), so the
/// same request goes again under the same Idempotency-Key, to the other
/// gateway: the saved reply if it landed, a new withdrawal if not.
async fn withdraw_until_answered(load: &Load, user: usize, n: usize) -> Acknowledged {
    let LoadUser { user: test_user, binding_id, .. } = &load.users[user];
    let key = format!("failover-{n}");
    let sent_at = Instant::now();
    for attempt in 0.. {
        let gateway = &load.gateways[(n + attempt) % 2];
        let reply = withdraw(gateway, test_user, &key, body(binding_id, AMOUNT)).await;
        match reply.status() {
            StatusCode::ACCEPTED => {
                let withdrawal: Value = reply.json().await.expect("a withdrawal");
                return Acknowledged {
                    id: withdrawal["id"].as_str().expect("an id").to_owned(),
                    total_debit: withdrawal["total_debit"].as_str().expect("a total").parse().expect("a decimal"),
                    sent_at,
                };
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                let refusal: Value = reply.json().await.expect("an error body");
                assert_eq!(refusal["error"]["code"], "STORE_UNAVAILABLE", "{refusal}");
                load.unavailable_at.lock().unwrap().push(Instant::now());
                assert!(sent_at.elapsed() < FAILOVER_WAIT, "{key} of user {user} unanswered for {FAILOVER_WAIT:?}");
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            other => panic!("{key} of user {user}: unexpected {other}: {}", reply.text().await.unwrap_or_default()),
        }
    }
    unreachable!("the loop returns or panics")
}

/// The master holding the most load users' accounts (each account's keys
/// name its id), with the number it holds.
fn busiest_master(cluster: &RedisCluster, prefix: &str, users: &[LoadUser]) -> (ClusterNode, usize) {
    let nodes = cluster.nodes_seen_by(cluster.ports()[0]);
    nodes
        .into_iter()
        .filter(ClusterNode::is_master)
        .map(|master| {
            let keys: Vec<String> =
                query_as(master.port, &["KEYS", &format!("{prefix}:*:account")]).expect("a master lists its keys");
            let held = users
                .iter()
                .filter(|load_user| keys.iter().any(|key| key.contains(&format!(":a:{}:", load_user.user.id))))
                .count();
            (master, held)
        })
        .max_by_key(|(_, held)| *held)
        .expect("the cluster has masters")
}

/// Polls `condition` on the wall clock until it holds, at most `within`.
async fn wait_until(within: Duration, what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + within;
    while !condition() {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_killed_master_is_replaced_by_its_replica_and_no_acknowledged_withdrawal_is_lost_or_repeated() {
    let _turn = REPLICA_WAIT_COUNTERS.lock().await;
    let mut cluster = tokio::task::spawn_blocking(|| RedisCluster::start_with_replicas(NODE_TIMEOUT_MS)).await.unwrap();
    let first = spawn_app_with(StoreKind::Cluster, gateway_settings(cluster.url(), 1, 100)).await;
    let second = spawn_second_instance(&first).await;
    let prefix = first.settings.store.key_prefix.clone();
    let users = futures_util::stream::iter(0..LOAD_USERS)
        .map(|_| async {
            let (user, binding_id) = ready_user(&first, OPENING_BALANCE).await;
            LoadUser { user, binding_id, acknowledged: Mutex::new(Vec::new()) }
        })
        .buffer_unordered(LOAD_USERS)
        .collect::<Vec<_>>()
        .await;
    let before = replica_waits(&first).await;
    let load = Arc::new(Load {
        gateways: [first, second],
        users,
        stop: AtomicBool::new(false),
        unavailable_at: Mutex::new(Vec::new()),
    });
    let workers: Vec<_> =
        (0..LOAD_USERS).map(|user| tokio::spawn(withdraw_until_stopped(load.clone(), user))).collect();

    let total = |load: &Load| (0..LOAD_USERS).map(|user| load.acknowledged(user)).sum::<usize>();
    wait_until(FAILOVER_WAIT, "the load gets going", || total(&load) >= ACKNOWLEDGED_BEFORE_KILL).await;
    let (victim, victims_users) = busiest_master(&cluster, &prefix, &load.users);
    assert!(victims_users > 0, "some load user's account is on the master killed");
    let acknowledged_at_kill = total(&load);
    let victim_port = victim.port;
    cluster.kill(victim_port);
    let killed_at = Instant::now();
    let (cluster, promoted) = tokio::task::spawn_blocking(move || {
        let promoted = cluster.wait_until_failed_over(&victim, FAILOVER_WAIT);
        (cluster, promoted)
    })
    .await
    .unwrap();
    let promoted_at = Instant::now();
    wait_until(FAILOVER_WAIT, "every user's withdrawals are answered again", || {
        (0..LOAD_USERS).all(|user| load.acknowledged_since(user, promoted_at) >= ACKNOWLEDGED_AFTER_PROMOTION)
    })
    .await;
    let recovered_at = Instant::now();
    load.stop.store(true, Ordering::Relaxed);
    for worker in workers {
        worker.await.expect("a load worker saw only 202s and 503s");
    }

    for gateway in &load.gateways {
        assert_eq!(gateway.get("/readyz", None).await.status(), StatusCode::OK);
    }
    load.gateways[0].assert_ledger_balanced().await;
    let mut acknowledged_total = 0;
    for (index, load_user) in load.users.iter().enumerate() {
        let acknowledged = load_user
            .acknowledged
            .lock()
            .unwrap()
            .iter()
            .map(|done| (done.id.clone(), done.total_debit))
            .collect::<Vec<_>>();
        acknowledged_total += acknowledged.len();
        check_exactly_once(&load.gateways[index % 2], &load_user.user, &acknowledged).await;
    }

    let unavailable = load.unavailable_at.lock().unwrap().clone();
    let waits = growth(&before, &replica_waits(&load.gateways[0]).await);
    println!(
        "failover: master :{victim_port} (holding {victims_users} of {LOAD_USERS} users) killed after \
         {acknowledged_at_kill} acknowledged withdrawals; replica :{promoted} master {:?} after the kill; every \
         user served again {:?} after the kill; {} answers 503 STORE_UNAVAILABLE, the last {:?} after the kill; \
         {acknowledged_total} withdrawals acknowledged in all; replica waits {waits:?}",
        promoted_at - killed_at,
        recovered_at - killed_at,
        unavailable.len(),
        unavailable.iter().max().map(|at| at.saturating_duration_since(killed_at)),
    );
    drop(load);
    drop(cluster);
}

/// Every acknowledged withdrawal of `user` can be read by its id, the
/// user's list holds each exactly once and nothing else, and the wallet
/// holds exactly their totals, taken from the opening balance.
async fn check_exactly_once(gateway: &TestApp, user: &TestUser, acknowledged: &[(String, Decimal)]) {
    let ids: BTreeSet<&str> = acknowledged.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids.len(), acknowledged.len(), "no two acknowledgements name one withdrawal");
    futures_util::stream::iter(&ids)
        .for_each_concurrent(16, |id| async move {
            let shown =
                json_of(gateway.get(&format!("/v1/withdrawals/{id}"), Some(&user.token)).await, StatusCode::OK).await;
            assert_eq!(shown["id"], *id);
        })
        .await;
    let mut listed = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = cursor.map_or(String::new(), |cursor| format!("&cursor={cursor}"));
        let page =
            json_of(gateway.get(&format!("/v1/withdrawals?limit=200{query}"), Some(&user.token)).await, StatusCode::OK)
                .await;
        listed.extend(page["items"].as_array().unwrap().iter().map(|item| item["id"].as_str().unwrap().to_owned()));
        cursor = page["next_cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let listed_once: BTreeSet<&str> = listed.iter().map(String::as_str).collect();
    assert_eq!(listed.len(), listed_once.len(), "the list names each withdrawal once");
    assert_eq!(listed_once, ids, "the list holds exactly the acknowledged withdrawals");
    let held: Decimal = acknowledged.iter().map(|(_, total)| total).sum();
    let opening: Decimal = OPENING_BALANCE.parse().unwrap();
    let wallet = json_of(gateway.wallet(&user.token).await, StatusCode::OK).await;
    assert_eq!(wallet["available"].as_str().unwrap().parse::<Decimal>().unwrap(), opening - held, "{wallet}");
    assert_eq!(wallet["held"].as_str().unwrap().parse::<Decimal>().unwrap(), held, "{wallet}");
}
