//! Transfers between users across real `walletgate` processes that share
//! one Redis (a single node, or a three-master Redis Cluster): each is
//! credited exactly once whichever process sends it, and through a crash.
//!
//! - A ring of users sends 200 transfers at once through two gateways; at
//!   quiescence every asset is conserved and every acknowledged transfer is
//!   credited once.
//! - A gateway killed (SIGKILL) under a load of transfers leaves some of
//!   them between the debit and the credit; once it is restarted, its
//!   worker credits each exactly once.
//! - On a private cluster the window is made certain, with nothing added to
//!   the gateway: the recipients' master refuses writes (`CLIENT PAUSE …
//!   WRITE`) while the senders' master takes them, so every transfer the
//!   gateway records is still to be credited when it is killed, mid-request.
//!
//! A second gateway without a worker reads the store after the kill, so
//! what the kill left is seen as it was left. Waits are on the wall clock
//! and bounded: they poll real processes. The business clock never moves.

use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::{Response, StatusCode};
use rust_decimal::Decimal;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::helpers::{RedisKeysGuard, json_of, unique_phone, unique_prefix};
use crate::multi_process::{
    GatewayProcess, StoreVia, WITHOUT_PIN_LIMITS, login, on_redis_and_cluster, post, set_pin, start_gateway,
    two_gateways_without_pin_limits,
};
use crate::redis_servers::{RedisCluster, query, query_as};

/// The PIN `multi_process::set_pin` sets.
const PIN: &str = "135790";
const RING_SIZE: usize = 10;
const RING_TRANSFERS: usize = 200;
/// Transfers sent at once through the gateway that is killed.
const LOAD_TRANSFERS: usize = 400;
/// Acknowledged transfers before the kill: the rest of the load is open.
const ACKNOWLEDGED_BEFORE_KILL: usize = 30;
/// Longest wait for the workers to finish what the requests left in flight.
const DRAIN_WAIT: Duration = Duration::from_secs(30);
/// Longest wait for the paused master's senders to have sent.
const SENT_WAIT: Duration = Duration::from_secs(10);
const POLL_PAUSE: Duration = Duration::from_millis(100);
/// Tries of one transfer request answered 503, and the pause between them.
const SEND_ATTEMPTS: usize = 5;
const RETRY_PAUSE: Duration = Duration::from_millis(200);
/// A pooled connection idle this long is dropped: before the gateway's
/// keep-alive (actix's 5 s) closes it, since a request sent on a connection
/// the gateway is closing that moment is lost, and these tests count lost requests.
const CLIENT_IDLE_MAX: Duration = Duration::from_secs(2);
/// The paused master's pause, should the test die before it lifts it.
const PAUSE_MS: &str = "30000";

/// Every gateway here: a transfer its request did not deliver is the
/// worker's a second after it was sent, a dead worker's claims come back
/// after two, and the many users register, log in and ask for SMS codes
/// from one address, at once, on a test machine busy with other servers
/// (their password hashes wait their turn rather than answer 503).
const TRANSFER_SETTINGS: [(&str, &str); 6] = [
    ("WALLETGATE__TRANSFERS__REDELIVER_AFTER_SECS", "1"),
    ("WALLETGATE__WORKER__LEASE_SECS", "2"),
    ("WALLETGATE__RATE_LIMITS__REGISTER__PER_IP__BURST", "1000"),
    ("WALLETGATE__RATE_LIMITS__LOGIN__PER_IP__BURST", "1000"),
    ("WALLETGATE__RATE_LIMITS__SMS__PER_IP__BURST", "1000"),
    ("WALLETGATE__AUTH__PASSWORD_HASHING_WAIT_MS", "60000"),
];
/// A gateway that serves HTTP only: it delivers nothing of its own accord.
const WITHOUT_WORKER: (&str, &str) = ("WALLETGATE__WORKER__ENABLED", "false");
/// A request whose credit waits on a paused master stays open until the kill.
const PATIENT_STORE: (&str, &str) = ("WALLETGATE__STORE__COMMAND_TIMEOUT_MS", "60000");

on_redis_and_cluster!(
    transfers_around_a_ring_through_two_gateways_are_each_credited_once,
    a_gateway_killed_under_load_has_each_transfer_credited_once_after_restart,
);

struct User {
    id: String,
    phone: String,
    token: String,
}

/// What each user is credited, asset by asset, before sending.
type Funds = [(&'static str, &'static str); 2];

/// How one transfer request ended.
enum Reply {
    /// Answered 201: the transfer, and whether it was the reply saved under the key.
    Acknowledged { transfer: Value, replayed: bool },
    /// Refused for the balance: nothing moved.
    Refused,
    /// No answer (why): the gateway died with the request open.
    Lost(String),
}

fn settings_with(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    WITHOUT_PIN_LIMITS.iter().chain(&TRANSFER_SETTINGS).chain(extra).copied().collect()
}

fn operator_credentials() -> Value {
    json!({ "email": "ops@walletgate.test", "password": "operator-demo" })
}

/// A user registered through one gateway and logged in through the other,
/// with the PIN and `funds` credited by the operator (one asset through each gateway).
async fn funded_user(client: &reqwest::Client, [a, b]: [&GatewayProcess; 2], operator: &str, funds: &Funds) -> User {
    let phone = unique_phone();
    let credentials = json!({ "phone": phone, "password": "correct-horse" });
    let register = post(client, format!("{}/v1/auth/register", a.address), None, credentials.clone()).await;
    let id = json_of(register, StatusCode::CREATED).await["id"].as_str().unwrap().to_owned();
    let token = login(client, b, credentials).await;
    set_pin(client, [a, b], &token, &phone).await;
    for (gateway, (asset, amount)) in [a, b].into_iter().zip(funds) {
        let body = json!({ "asset": asset, "amount": amount, "memo": "transfer test funds" });
        let credit = client
            .post(format!("{}/v1/ops/accounts/{id}/credit", gateway.address))
            .bearer_auth(operator)
            .header("idempotency-key", format!("fund-{asset}-{id}"))
            .json(&body)
            .send()
            .await
            .expect("request sent");
        json_of(credit, StatusCode::CREATED).await;
    }
    User { id, phone, token }
}

/// `RING_SIZE` users, each with `funds`, set up through both gateways.
struct Ring {
    client: reqwest::Client,
    operator: String,
    users: Vec<User>,
    /// The ledger once they are funded, before they send.
    before: Value,
}

async fn funded_ring(gateways: [&GatewayProcess; 2], funds: &Funds) -> Ring {
    let client = reqwest::Client::builder().pool_idle_timeout(CLIENT_IDLE_MAX).build().expect("a client");
    let operator = login(&client, gateways[1], operator_credentials()).await;
    let users = join_all((0..RING_SIZE).map(|_| funded_user(&client, gateways, &operator, funds))).await;
    let before = ledger(&client, gateways[1], &operator).await;
    Ring { client, operator, users, before }
}

/// User `n % len` sends user `n % len + 1` 1.00 CNY, or every fourth time 0.5 USDT.
fn ring_transfer(users: &[User], n: usize) -> (usize, Value) {
    let (from, to) = (n % users.len(), (n + 1) % users.len());
    let (asset, amount) = if n % 4 == 3 { ("USDT", "0.5") } else { ("CNY", "1.00") };
    (from, json!({ "to": users[to].phone, "asset": asset, "amount": amount, "memo": "ring", "pin": PIN }))
}

/// Sends a transfer as a client does: a 503 (the store slow to answer on a
/// busy machine, say) is asked again under the same key, a few times.
async fn send(client: &reqwest::Client, address: &str, token: &str, key: &str, body: &Value) -> Reply {
    for _ in 0..SEND_ATTEMPTS {
        let sent = client
            .post(format!("{address}/v1/transfers"))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .json(body)
            .send()
            .await;
        match sent {
            Ok(response) if response.status() == StatusCode::SERVICE_UNAVAILABLE => {
                tokio::time::sleep(RETRY_PAUSE).await;
            }
            Ok(response) => return reply_of(response).await,
            Err(error) => return Reply::Lost(format!("{error:?}")),
        }
    }
    Reply::Lost(format!("503 {SEND_ATTEMPTS} times"))
}

async fn reply_of(response: Response) -> Reply {
    let status = response.status();
    let replayed = response.headers().get("idempotent-replayed").is_some_and(|value| value == "true");
    let body = match response.json::<Value>().await {
        Ok(body) => body,
        Err(error) => return Reply::Lost(format!("{status}, then {error:?}")),
    };
    match status {
        StatusCode::CREATED => Reply::Acknowledged { transfer: body, replayed },
        StatusCode::UNPROCESSABLE_ENTITY if body["error"]["code"] == "INSUFFICIENT_BALANCE" => Reply::Refused,
        _ => panic!("unexpected reply {status}: {body}"),
    }
}

/// How a batch of transfer requests (each with its request number) ended.
#[derive(Default)]
struct Tally {
    /// Each with its sender's index.
    acknowledged: Vec<(usize, Value)>,
    /// Of the acknowledged, how many were saved replies.
    replayed: usize,
    refused: usize,
    /// The request numbers, and why.
    lost: Vec<(usize, String)>,
}

fn tally(users: &[User], replies: Vec<(usize, Reply)>) -> Tally {
    let mut tally = Tally::default();
    for (n, reply) in replies {
        match reply {
            Reply::Acknowledged { transfer, replayed } => {
                tally.acknowledged.push((ring_transfer(users, n).0, transfer));
                tally.replayed += usize::from(replayed);
            }
            Reply::Refused => tally.refused += 1,
            Reply::Lost(why) => tally.lost.push((n, why)),
        }
    }
    tally
}

async fn get_json(client: &reqwest::Client, gateway: &GatewayProcess, path: &str, token: &str) -> Value {
    let response = client.get(format!("{}{path}", gateway.address)).bearer_auth(token).send().await.unwrap();
    json_of(response, StatusCode::OK).await
}

async fn ledger(client: &reqwest::Client, gateway: &GatewayProcess, operator: &str) -> Value {
    get_json(client, gateway, "/v1/ops/ledger/check", operator).await
}

fn decimal(value: &Value) -> Decimal {
    Decimal::from_str(value.as_str().unwrap_or_else(|| panic!("an amount: {value}"))).unwrap()
}

/// One ledger account's total in each asset of a ledger report.
fn totals(report: &Value, account: &str) -> BTreeMap<String, Decimal> {
    let assets = report["assets"].as_array().unwrap();
    assets.iter().map(|a| (a["asset"].as_str().unwrap().to_owned(), decimal(&a["totals"][account]))).collect()
}

/// Polls until every transfer the users sent is finished and the ledger
/// holds nothing in flight in any asset (a credit comes before the sender's
/// finish, so the ledger alone says too early): the ledger report, and how
/// long it took.
async fn wait_until_all_finished(
    client: &reqwest::Client,
    gateway: &GatewayProcess,
    operator: &str,
    users: &[User],
) -> (Value, Duration) {
    let started = Instant::now();
    loop {
        let unfinished = listed(client, gateway, users).await.unfinished;
        let report = ledger(client, gateway, operator).await;
        if unfinished.is_empty() && totals(&report, "in_flight").values().all(Decimal::is_zero) {
            return (report, started.elapsed());
        }
        assert!(started.elapsed() < DRAIN_WAIT, "unfinished after {DRAIN_WAIT:?}: {unfinished:?}\n{report}");
        tokio::time::sleep(POLL_PAUSE).await;
    }
}

/// The ledger balances in every asset with nothing in flight, and the users'
/// money is what it was `before`: transfers only moved it between them.
fn assert_conserved(before: &Value, after: &Value) {
    assert_eq!(after["balanced"], true, "{after}");
    for asset in after["assets"].as_array().unwrap() {
        assert!(decimal(&asset["sum"]).is_zero(), "{after}");
    }
    assert!(totals(after, "in_flight").values().all(Decimal::is_zero), "{after}");
    assert_eq!(totals(after, "user_available"), totals(before, "user_available"), "{before}\n{after}");
    assert_eq!(totals(after, "user_held"), totals(before, "user_held"), "{before}\n{after}");
}

/// Every transfer of `user`, both ways, over all pages.
async fn transfers_of(client: &reqwest::Client, gateway: &GatewayProcess, user: &User) -> Vec<Value> {
    let mut items = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = cursor.map_or(String::new(), |cursor| format!("&cursor={cursor}"));
        let page = get_json(client, gateway, &format!("/v1/transfers?limit=200{query}"), &user.token).await;
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return items,
        }
    }
}

/// The users' transfers as their lists show them.
struct Listed {
    /// How many the users sent.
    sent: usize,
    /// Those their senders have not finished.
    unfinished: Vec<Value>,
    /// The ids of every transfer the users were credited.
    credited: BTreeSet<String>,
}

async fn listed(client: &reqwest::Client, gateway: &GatewayProcess, users: &[User]) -> Listed {
    let lists = join_all(users.iter().map(|user| transfers_of(client, gateway, user))).await;
    let (sent, received): (Vec<Value>, Vec<Value>) =
        lists.into_iter().flatten().partition(|t| t["direction"] == "sent");
    Listed {
        sent: sent.len(),
        unfinished: sent.into_iter().filter(|t| t["status"] == "in_flight").collect(),
        credited: received.iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect(),
    }
}

/// Sums amounts by asset.
fn by_asset<'a>(transfers: impl IntoIterator<Item = &'a Value>) -> BTreeMap<String, Decimal> {
    let mut sums = BTreeMap::new();
    for transfer in transfers {
        *sums.entry(transfer["asset"].as_str().unwrap().to_owned()).or_default() += decimal(&transfer["amount"]);
    }
    sums
}

/// One transfer as both sides list it: who sent it, to whom, what.
fn signature(transfer: &Value, owner: &str) -> [String; 4] {
    let text = |value: &Value| value.as_str().unwrap().to_owned();
    let counterparty = text(&transfer["counterparty"]["account_id"]);
    let (from, to) = if transfer["direction"] == "sent" {
        (owner.to_owned(), counterparty)
    } else {
        (counterparty, owner.to_owned())
    };
    [from, to, text(&transfer["asset"]), text(&transfer["amount"])]
}

/// At quiescence, read through both gateways: every transfer recorded as
/// sent is completed and credited to its recipient exactly once, every
/// acknowledged one among them; each user holds exactly `funds` less what
/// they sent plus what they received, never below zero. Returns how many
/// transfers were recorded.
async fn assert_each_transfer_credited_once(
    client: &reqwest::Client,
    gateways: [&GatewayProcess; 2],
    users: &[User],
    funds: &Funds,
    acknowledged: &[(usize, Value)],
) -> usize {
    let lists = join_all(users.iter().enumerate().map(|(i, user)| transfers_of(client, gateways[i % 2], user))).await;
    let mut sent = BTreeMap::new();
    let mut received = BTreeMap::new();
    for (user, list) in users.iter().zip(&lists) {
        for transfer in list {
            let id = transfer["id"].as_str().unwrap().to_owned();
            let side = if transfer["direction"] == "sent" { &mut sent } else { &mut received };
            let earlier = side.insert(id, signature(transfer, &user.id));
            assert!(earlier.is_none(), "listed twice: {transfer}");
            if transfer["direction"] == "sent" {
                assert_eq!(transfer["status"], "completed", "{transfer}");
            }
        }
    }
    assert_eq!(sent, received, "each sent transfer is received once, as sent");
    for (n, (from, transfer)) in acknowledged.iter().enumerate() {
        let id = transfer["id"].as_str().unwrap();
        assert!(sent.contains_key(id), "acknowledged but not recorded: {transfer}");
        let read = get_json(client, gateways[n % 2], &format!("/v1/transfers/{id}"), &users[*from].token).await;
        assert_eq!((read["direction"].as_str(), read["status"].as_str()), (Some("sent"), Some("completed")), "{read}");
    }
    for (i, (user, list)) in users.iter().zip(&lists).enumerate() {
        let wallet = get_json(client, gateways[(i + 1) % 2], "/v1/wallet", &user.token).await;
        let sent = by_asset(list.iter().filter(|t| t["direction"] == "sent"));
        let received = by_asset(list.iter().filter(|t| t["direction"] == "received"));
        for (asset, funded) in funds {
            let held = wallet["assets"].as_array().unwrap().iter().find(|a| a["asset"] == *asset).unwrap();
            let available = decimal(&held["available"]);
            let expected = Decimal::from_str(funded).unwrap() - sent.get(*asset).copied().unwrap_or_default()
                + received.get(*asset).copied().unwrap_or_default();
            assert_eq!(available, expected, "{asset} of {}: {wallet}", user.id);
            assert!(available >= Decimal::ZERO, "{wallet}");
        }
    }
    sent.len()
}

async fn transfers_around_a_ring_through_two_gateways_are_each_credited_once(store_url: &str) {
    let (a, b, _keys) = two_gateways_without_pin_limits(store_url, &TRANSFER_SETTINGS).await;
    let funds: Funds = [("CNY", "10.00"), ("USDT", "2")];
    let Ring { client, operator, users, before } = funded_ring([&a, &b], &funds).await;

    // Each user sends 20: ten in a row through one gateway, then ten through the other.
    let started = Instant::now();
    let replies = join_all((0..RING_TRANSFERS).map(|n| {
        let gateway = if (n / RING_SIZE).is_multiple_of(2) { &a } else { &b };
        let (from, body) = ring_transfer(&users, n);
        let (client, users) = (&client, &users);
        async move { (n, send(client, &gateway.address, &users[from].token, &format!("ring-{n}"), &body).await) }
    }))
    .await;
    let sent_in = started.elapsed();
    let Tally { acknowledged, refused, lost, .. } = tally(&users, replies);
    assert_eq!(lost, [], "both gateways answered every request");
    assert!(!acknowledged.is_empty());

    let (report, drained_in) = wait_until_all_finished(&client, &b, &operator, &users).await;
    assert_conserved(&before, &report);
    let recorded = assert_each_transfer_credited_once(&client, [&a, &b], &users, &funds, &acknowledged).await;
    assert_eq!(recorded, acknowledged.len(), "only acknowledged transfers were recorded");
    let answered_in_flight = acknowledged.iter().filter(|(_, t)| t["status"] == "in_flight").count();
    eprintln!(
        "ring on {store_url}: {} acknowledged ({answered_in_flight} answered in flight), {refused} refused, \
         sent in {sent_in:?}, nothing in flight {drained_in:?} later",
        acknowledged.len()
    );
}

fn load_key(n: usize) -> String {
    format!("load-{n}")
}

/// Sends `LOAD_TRANSFERS` around the ring through `gateway` at once and
/// kills it once `ACKNOWLEDGED_BEFORE_KILL` are acknowledged. Every reply.
async fn load_then_kill(client: &reqwest::Client, gateway: &mut GatewayProcess, users: &[User]) -> Vec<(usize, Reply)> {
    let (replies, mut answered) = mpsc::unbounded_channel();
    for n in 0..LOAD_TRANSFERS {
        let (from, body) = ring_transfer(users, n);
        let (client, address, token) = (client.clone(), gateway.address.clone(), users[from].token.clone());
        let replies = replies.clone();
        tokio::spawn(async move {
            let reply = send(&client, &address, &token, &load_key(n), &body).await;
            let _ = replies.send((n, reply));
        });
    }
    drop(replies);
    let mut collected = Vec::new();
    let mut acknowledged = 0;
    while acknowledged < ACKNOWLEDGED_BEFORE_KILL {
        let (n, reply) = answered.recv().await.expect("the load runs until the kill");
        acknowledged += usize::from(matches!(reply, Reply::Acknowledged { .. }));
        collected.push((n, reply));
    }
    gateway.kill().await;
    while let Some(reply) = answered.recv().await {
        collected.push(reply);
    }
    collected
}

async fn a_gateway_killed_under_load_has_each_transfer_credited_once_after_restart(store_url: &str) {
    let prefix = unique_prefix();
    let _keys = RedisKeysGuard::new(store_url, &prefix);
    let (sender_settings, reader_settings) = (settings_with(&[]), settings_with(&[WITHOUT_WORKER]));
    let (mut sender, reader) = tokio::join!(
        start_gateway(store_url, StoreVia::Flag, &prefix, &sender_settings),
        start_gateway(store_url, StoreVia::Environment, &prefix, &reader_settings)
    );
    let funds: Funds = [("CNY", "100.00"), ("USDT", "20")];
    let Ring { client, operator, users, before } = funded_ring([&sender, &reader], &funds).await;

    let started = Instant::now();
    let load = tally(&users, load_then_kill(&client, &mut sender, &users).await);
    let killed_after = started.elapsed();
    let left = what_the_kill_left(&client, &reader, &operator, &users).await;
    assert!(!left.uncredited.is_empty(), "the kill left transfers between their debit and their credit");
    assert_eq!(load.refused, 0, "funds for the whole load");

    let restarted_at = Instant::now();
    let restarted = start_gateway(store_url, StoreVia::Flag, &prefix, &sender_settings).await;
    // The clients whose answers the kill lost ask again, under the same keys:
    // a request the dead gateway recorded answers its saved reply, the others send now.
    let retried = join_all(load.lost.iter().map(|(n, _)| {
        let (from, body) = ring_transfer(&users, *n);
        let (client, address, token) = (&client, &restarted.address, &users[from].token);
        async move { (*n, send(client, address, token, &load_key(*n), &body).await) }
    }))
    .await;
    let retried = tally(&users, retried);
    assert_eq!(
        (retried.refused, retried.lost.as_slice()),
        (0, [].as_slice()),
        "the restarted gateway took every retry"
    );
    assert_eq!(retried.replayed, left.recorded - load.acknowledged.len(), "a saved reply for each recorded request");
    let (report, drained_in) = wait_until_all_finished(&client, &reader, &operator, &users).await;
    assert_conserved(&before, &report);
    let (acknowledged_before_kill, lost) = (load.acknowledged.len(), load.lost.len());
    let acknowledged: Vec<(usize, Value)> = load.acknowledged.into_iter().chain(retried.acknowledged).collect();
    let recorded =
        assert_each_transfer_credited_once(&client, [&restarted, &reader], &users, &funds, &acknowledged).await;
    assert_eq!(recorded, LOAD_TRANSFERS, "one transfer per key");
    eprintln!(
        "kill under load on {store_url}: killed {killed_after:?} after the load started, {acknowledged_before_kill} \
         acknowledged, {lost} lost ({} of them recorded); at the kill {} unfinished, {} of them not credited; \
         after the restart the lost retried ({} replayed) and nothing in flight {:?} later ({drained_in:?} of polling)",
        left.recorded - acknowledged_before_kill,
        left.unfinished,
        left.uncredited.len(),
        retried.replayed,
        restarted_at.elapsed(),
    );
}

/// What a kill left: the transfers recorded, those their senders have not
/// finished (credited already or not), and those not credited, which are
/// exactly the ledger's `in_flight`.
struct Left {
    recorded: usize,
    unfinished: usize,
    uncredited: Vec<Value>,
}

/// Reads what a kill left through a gateway without a worker (so nothing
/// moves meanwhile), and checks the ledger holds in flight exactly the money
/// of the transfers not credited yet, asset by asset.
async fn what_the_kill_left(client: &reqwest::Client, reader: &GatewayProcess, operator: &str, users: &[User]) -> Left {
    let Listed { sent, unfinished, credited } = listed(client, reader, users).await;
    let report = ledger(client, reader, operator).await;
    let unfinished_count = unfinished.len();
    let uncredited: Vec<Value> =
        unfinished.into_iter().filter(|t| !credited.contains(t["id"].as_str().unwrap())).collect();
    let in_flight: BTreeMap<String, Decimal> =
        totals(&report, "in_flight").into_iter().filter(|(_, total)| !total.is_zero()).collect();
    assert_eq!(by_asset(&uncredited), in_flight, "{report}");
    assert_eq!(report["balanced"], true, "{report}");
    Left { recorded: sent, unfinished: unfinished_count, uncredited }
}

/// The port of the cluster master holding `user`'s partition.
fn master_of(ports: &[u16], prefix: &str, user: &User) -> u16 {
    let pattern = format!("{prefix}:*:a:{}:account", user.id);
    let holding = ports.iter().filter(|port| !query_as::<Vec<String>>(**port, &["KEYS", &pattern]).unwrap().is_empty());
    let holding: Vec<u16> = holding.copied().collect();
    assert_eq!(holding.len(), 1, "one master holds {}", user.id);
    holding[0]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_gateway_killed_while_its_credits_wait_on_a_paused_master_has_each_credited_once_after_restart() {
    let cluster = tokio::task::spawn_blocking(RedisCluster::start).await.expect("the cluster starts");
    let (store_url, prefix) = (cluster.url(), unique_prefix());
    let (sender_settings, reader_settings) = (settings_with(&[PATIENT_STORE]), settings_with(&[WITHOUT_WORKER]));
    let (mut sender, reader) = tokio::join!(
        start_gateway(&store_url, StoreVia::Flag, &prefix, &sender_settings),
        start_gateway(&store_url, StoreVia::Environment, &prefix, &reader_settings)
    );
    let funds: Funds = [("CNY", "10.00"), ("USDT", "1")];
    let Ring { client, operator, users, before } = funded_ring([&sender, &reader], &funds).await;
    // The recipients are the users on the first user's master, the senders all the others.
    let masters: Vec<u16> = users.iter().map(|user| master_of(&cluster.ports(), &prefix, user)).collect();
    let paused = masters[0];
    let (recipients, senders): (Vec<usize>, Vec<usize>) = (0..users.len()).partition(|i| masters[*i] == paused);
    assert!(!senders.is_empty(), "the users lie on more than one master: {masters:?}");

    query(paused, &["CLIENT", "PAUSE", PAUSE_MS, "WRITE"]).expect("the master pauses writes");
    let requests: Vec<_> = senders
        .iter()
        .enumerate()
        .flat_map(|(n, from)| [(n, *from, "CNY", "1.00"), (n, *from, "USDT", "0.5")])
        .map(|(n, from, asset, amount)| {
            let to = &users[recipients[n % recipients.len()]];
            let body = json!({ "to": to.id, "asset": asset, "amount": amount, "pin": PIN });
            let (client, address, token) = (client.clone(), sender.address.clone(), users[from].token.clone());
            tokio::spawn(async move { send(&client, &address, &token, &format!("paused-{asset}-{n}"), &body).await })
        })
        .collect();
    let sent = wait_until_sent(&client, &reader, &users).await;
    sender.kill().await;
    let open = requests.len();
    for reply in join_all(requests).await {
        let reply = reply.expect("the request task ends");
        assert!(matches!(reply, Reply::Lost(_)), "every request was open at the kill");
    }
    let left = what_the_kill_left(&client, &reader, &operator, &users).await;
    assert_eq!(left.unfinished, left.uncredited.len(), "nothing was credited while the master was paused");
    assert!(left.unfinished >= sent, "sends only add to what is in flight: {sent} seen, then {}", left.unfinished);
    query(paused, &["CLIENT", "UNPAUSE"]).expect("the master takes writes again");

    let restarted_at = Instant::now();
    let restarted = start_gateway(&store_url, StoreVia::Flag, &prefix, &sender_settings).await;
    let (report, _) = wait_until_all_finished(&client, &reader, &operator, &users).await;
    let drained_in = restarted_at.elapsed();
    assert_conserved(&before, &report);
    let recorded = assert_each_transfer_credited_once(&client, [&restarted, &reader], &users, &funds, &[]).await;
    assert_eq!(recorded, left.unfinished, "what the kill left, and nothing more, was credited");
    eprintln!(
        "kill with the recipients' master paused: {open} requests open, {} in flight at the kill, all credited \
         {drained_in:?} after the restart",
        left.unfinished
    );
}

/// Waits until the senders' transfers stop growing in number (every request
/// that could get past the paused master has sent), at least one sent.
async fn wait_until_sent(client: &reqwest::Client, reader: &GatewayProcess, users: &[User]) -> usize {
    let started = Instant::now();
    let mut seen = 0;
    loop {
        tokio::time::sleep(POLL_PAUSE).await;
        let now = listed(client, reader, users).await.unfinished.len();
        if now > 0 && now == seen {
            return now;
        }
        assert!(started.elapsed() < SENT_WAIT, "sent only {now} in {SENT_WAIT:?}");
        seen = now;
    }
}
