//! Two gateway processes that share nothing but one Redis: seeding races,
//! and concurrent debits spread over both, still give exact balances. Each
//! case runs on a single Redis and on a three-master Redis Cluster. The
//! helpers that start, stop and speak to the real binary are shared with
//! the other multi-process tests (`transfer_processes`).

use std::process::Stdio;
use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::helpers::{RedisKeysGuard, count_granted_and_refused, json_of, unique_phone, unique_prefix};

/// Longest wait for a started binary to report its address.
const STARTUP_WAIT: Duration = Duration::from_secs(30);

pub(crate) struct GatewayProcess {
    pub(crate) address: String,
    child: Child,
}

impl GatewayProcess {
    /// Kills the process with SIGKILL, as a crash would: no request is
    /// finished, no worker step completed, nothing said goodbye to.
    pub(crate) async fn kill(&mut self) {
        self.child.start_kill().expect("the gateway can be killed");
        self.child.wait().await.expect("the killed gateway is reaped");
    }
}

/// How the port and store URL reach the binary; both ways must work.
#[derive(Clone, Copy)]
pub(crate) enum StoreVia {
    Flag,
    Environment,
}

/// Starts the real `walletgate` binary on a free port, with the key prefix
/// as a `WALLETGATE__…` environment variable.
pub(crate) async fn start_gateway(
    store_url: &str,
    via: StoreVia,
    key_prefix: &str,
    extra_env: &[(&str, &str)],
) -> GatewayProcess {
    start_gateway_with(store_url, via, key_prefix, extra_env, &[]).await
}

/// As `start_gateway`, with more command-line arguments.
pub(crate) async fn start_gateway_with(
    store_url: &str,
    via: StoreVia,
    key_prefix: &str,
    extra_env: &[(&str, &str)],
    extra_args: &[&str],
) -> GatewayProcess {
    let mut command = Command::new(env!("CARGO_BIN_EXE_walletgate"));
    command.args(["--port", "0"]).args(extra_args).env_remove("WALLETGATE__STORE__URL");
    match via {
        StoreVia::Flag => command.args(["--store", store_url]),
        StoreVia::Environment => command.env("WALLETGATE__STORE__URL", store_url),
    };
    command
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("WALLETGATE__STORE__KEY_PREFIX", key_prefix)
        .env("WALLETGATE__LOG__FORMAT", "json")
        .env("WALLETGATE__LOG__LEVEL", "info")
        .env("WALLETGATE__SERVER__WORKERS", "2")
        .env_remove("RUST_LOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    command.envs(extra_env.iter().copied());
    let mut child = command.spawn().expect("walletgate binary starts");
    let stdout = child.stdout.take().expect("piped stdout");
    let address = tokio::time::timeout(STARTUP_WAIT, async move {
        let mut lines = BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await.expect("readable stdout") {
            if let Some(rest) = line.split("listening on ").nth(1) {
                let address: String = rest.chars().take_while(|c| !c.is_whitespace() && *c != '"').collect();
                // Keep draining the pipe so the process never blocks on a full one.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                return address;
            }
        }
        panic!("walletgate exited before listening");
    })
    .await
    .expect("walletgate reported its address in time");
    GatewayProcess { address, child }
}

pub(crate) async fn post(client: &reqwest::Client, url: String, token: Option<&str>, body: Value) -> reqwest::Response {
    let mut request = client.post(url).json(&body);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await.expect("request sent")
}

pub(crate) async fn login(client: &reqwest::Client, gateway: &GatewayProcess, body: Value) -> String {
    let response = post(client, format!("{}/v1/auth/login", gateway.address), None, body).await;
    json_of(response, StatusCode::OK).await["access_token"].as_str().unwrap().to_owned()
}

/// Runs each named `async fn case(store_url: &str)` on both shared Redis
/// stores, as `case::redis` (one node) and `case::cluster` (three masters).
macro_rules! on_redis_and_cluster {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn redis() {
                super::$case(&crate::helpers::redis_url()).await
            }
            #[tokio::test]
            async fn cluster() {
                super::$case(&crate::helpers::redis_cluster_url()).await
            }
        }
    )*};
}
pub(crate) use on_redis_and_cluster;

on_redis_and_cluster!(
    two_processes_sharing_redis_grant_exactly_the_affordable_debits,
    two_processes_sharing_redis_count_wrong_pins_together,
    two_processes_sharing_redis_grant_exactly_the_affordable_withdrawals,
);

async fn two_processes_sharing_redis_grant_exactly_the_affordable_debits(store_url: &str) {
    let prefix = unique_prefix();
    let _keys = RedisKeysGuard::new(store_url, &prefix);
    let (a, b) = tokio::join!(
        start_gateway(store_url, StoreVia::Flag, &prefix, &[]),
        start_gateway(store_url, StoreVia::Environment, &prefix, &[])
    );
    let client = reqwest::Client::new();

    // Both seeded at once; each demo account exists exactly once, usable from both.
    let operator_body = json!({ "email": "ops@walletgate.test", "password": "operator-demo" });
    let operator_a = login(&client, &a, operator_body.clone()).await;
    let operator_b = login(&client, &b, operator_body).await;

    let phone = unique_phone();
    let register = json!({ "phone": phone, "password": "correct-horse" });
    let profile =
        json_of(post(&client, format!("{}/v1/auth/register", a.address), None, register).await, StatusCode::CREATED)
            .await;
    let user_id = profile["id"].as_str().unwrap().to_owned();
    let user = login(&client, &b, json!({ "phone": phone, "password": "correct-horse" })).await;

    let credit = json!({ "amount": "100.00", "memo": "multi-process top-up" });
    let url = format!("{}/v1/ops/accounts/{user_id}/credit", b.address);
    json_of(post(&client, url, Some(&operator_b), credit).await, StatusCode::CREATED).await;

    let debits = (0..50).map(|i| {
        let (gateway, token) = if i % 2 == 0 { (&a, &operator_a) } else { (&b, &operator_b) };
        let url = format!("{}/v1/ops/accounts/{user_id}/debit", gateway.address);
        post(&client, url, Some(token), json!({ "amount": "7.00", "memo": "concurrent" }))
    });
    let statuses: Vec<StatusCode> = join_all(debits).await.iter().map(|r| r.status()).collect();
    assert_eq!(count_granted_and_refused(&statuses), (14, 36), "statuses: {statuses:?}");

    for (gateway, operator) in [(&a, &operator_a), (&b, &operator_b)] {
        let wallet = client.get(format!("{}/v1/wallet", gateway.address)).bearer_auth(&user).send().await.unwrap();
        assert_eq!(json_of(wallet, StatusCode::OK).await["available"], "2.00");
        let check =
            client.get(format!("{}/v1/ops/ledger/check", gateway.address)).bearer_auth(operator).send().await.unwrap();
        let report = json_of(check, StatusCode::OK).await;
        assert_eq!(report["balanced"], true, "{report}");
        assert_eq!(report["accounts_checked"], 5, "seeded once, not twice: {report}");
        assert_eq!(report["totals"]["user_available"], "125802.00", "{report}");
    }
}

/// The per-process PIN rate limits out of the way (they would hide the
/// races these tests are about), and identity checks approved at once, so a
/// test can verify without waiting.
pub(crate) const WITHOUT_PIN_LIMITS: [(&str, &str); 3] = [
    ("WALLETGATE__RATE_LIMITS__PIN__PER_ACCOUNT__BURST", "1000"),
    ("WALLETGATE__RATE_LIMITS__PIN__PER_IP__BURST", "1000"),
    ("WALLETGATE__KYC__AUTO_APPROVE_AFTER_SECS", "0"),
];

/// Two gateways on one fresh key prefix, `WITHOUT_PIN_LIMITS` and with
/// `extra_env` (`WALLETGATE__…` settings of the test's own).
pub(crate) async fn two_gateways_without_pin_limits(
    store_url: &str,
    extra_env: &[(&str, &str)],
) -> (GatewayProcess, GatewayProcess, RedisKeysGuard) {
    let env: Vec<(&str, &str)> = WITHOUT_PIN_LIMITS.iter().chain(extra_env).copied().collect();
    let prefix = unique_prefix();
    let keys = RedisKeysGuard::new(store_url, &prefix);
    let (a, b) = tokio::join!(
        start_gateway(store_url, StoreVia::Flag, &prefix, &env),
        start_gateway(store_url, StoreVia::Environment, &prefix, &env)
    );
    (a, b, keys)
}

async fn two_processes_sharing_redis_count_wrong_pins_together(store_url: &str) {
    let (a, b, _keys) = two_gateways_without_pin_limits(store_url, &[]).await;
    let client = reqwest::Client::new();
    let phone = unique_phone();
    let register = json!({ "phone": phone, "password": "correct-horse" });
    json_of(post(&client, format!("{}/v1/auth/register", a.address), None, register).await, StatusCode::CREATED).await;
    let token = login(&client, &a, json!({ "phone": phone, "password": "correct-horse" })).await;
    set_pin(&client, [&b, &a], &token, &phone).await;

    let attempts = (0..100).map(|i| {
        let gateway = if i % 2 == 0 { &a } else { &b };
        post(&client, format!("{}/v1/pin/verify", gateway.address), Some(&token), json!({ "pin": "975310" }))
    });
    let statuses: Vec<StatusCode> = join_all(attempts).await.iter().map(|r| r.status()).collect();
    let judged = statuses.iter().filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY).count();
    let locked = statuses.iter().filter(|s| **s == StatusCode::LOCKED).count();
    assert_eq!((judged, locked), (4, 96), "statuses: {statuses:?}");
    for gateway in [&a, &b] {
        let right =
            post(&client, format!("{}/v1/pin/verify", gateway.address), Some(&token), json!({ "pin": "135790" })).await;
        assert_eq!(right.status(), StatusCode::LOCKED, "locked on every instance");
    }
}

/// Sets the PIN `135790`: the code is asked of one gateway, read and used through the other.
pub(crate) async fn set_pin(client: &reqwest::Client, [ask, set]: [&GatewayProcess; 2], token: &str, phone: &str) {
    let sms = post(client, format!("{}/v1/sms/codes", ask.address), Some(token), json!({ "purpose": "set_pin" })).await;
    json_of(sms, StatusCode::ACCEPTED).await;
    let code = latest_code(client, set, phone).await;
    let body = json!({ "pin": "135790", "sms_code": code });
    let response = client.put(format!("{}/v1/pin", set.address)).bearer_auth(token).json(&body).send().await.unwrap();
    json_of(response, StatusCode::OK).await;
}

/// Reads a query parameter of a URL.
fn query_param(url: &str, name: &str) -> String {
    let parsed = url::Url::parse(url).expect("a URL");
    parsed.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned()).expect("parameter present")
}

async fn latest_code(client: &reqwest::Client, gateway: &GatewayProcess, phone: &str) -> String {
    let outbox = client.get(format!("{}/mock/sms/outbox?phone={phone}", gateway.address)).send().await.unwrap();
    json_of(outbox, StatusCode::OK).await["items"][0]["code"].as_str().unwrap().to_owned()
}

/// Binds a new mock WeChat user (张三丰) as `phone`'s WeChat wallet: started
/// and consented to through gateway `start`'s mock, confirmed through
/// `confirm`; returns the binding's id.
pub(crate) async fn bind_wechat(
    client: &reqwest::Client,
    [start, confirm]: [&GatewayProcess; 2],
    token: &str,
    phone: &str,
) -> String {
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let started = post(client, format!("{}/v1/bindings/wechat", start.address), Some(token), json!({})).await;
    let started = json_of(started, StatusCode::CREATED).await;
    let authorize_url = started["authorize_url"].as_str().unwrap();
    let form = [
        ("appid", query_param(authorize_url, "appid")),
        ("redirect_uri", query_param(authorize_url, "redirect_uri")),
        ("scope", query_param(authorize_url, "scope")),
        ("state", query_param(authorize_url, "state")),
        ("action", "allow".to_owned()),
        ("nickname", "张三丰".to_owned()),
    ];
    let consent = browser
        .post(format!("{}/mock/wechat/connect/oauth2/authorize", start.address))
        .form(&form)
        .send()
        .await
        .unwrap();
    let callback = consent.headers()["location"].to_str().unwrap().to_owned();
    json_of(browser.get(&callback).send().await.unwrap(), StatusCode::OK).await;
    let binding_id = started["binding_id"].as_str().unwrap().to_owned();
    let code = latest_code(client, confirm, phone).await;
    let url = format!("{}/v1/bindings/{binding_id}/confirm", confirm.address);
    json_of(post(client, url, Some(token), json!({ "sms_code": code })).await, StatusCode::OK).await;
    binding_id
}

async fn two_processes_sharing_redis_grant_exactly_the_affordable_withdrawals(store_url: &str) {
    let (a, b, _keys) = two_gateways_without_pin_limits(store_url, &[]).await;
    let client = reqwest::Client::new();
    let phone = unique_phone();
    let credentials = json!({ "phone": phone, "password": "correct-horse" });
    let profile = json_of(
        post(&client, format!("{}/v1/auth/register", a.address), None, credentials.clone()).await,
        StatusCode::CREATED,
    )
    .await;
    let token = login(&client, &a, credentials).await;
    let binding_id = bind_wechat(&client, [&a, &b], &token, &phone).await;

    // A PIN, and 30.00 to withdraw from: enough for exactly four of 7.00.
    set_pin(&client, [&a, &b], &token, &phone).await;
    let operator = login(&client, &b, json!({ "email": "ops@walletgate.test", "password": "operator-demo" })).await;
    let user_id = profile["id"].as_str().unwrap();
    let credit = json!({ "amount": "30.00", "memo": "multi-process withdrawals" });
    json_of(
        post(&client, format!("{}/v1/ops/accounts/{user_id}/credit", a.address), Some(&operator), credit).await,
        StatusCode::CREATED,
    )
    .await;

    let withdraw = |i: usize, key: String, amount: &'static str| {
        let gateway = if i.is_multiple_of(2) { &a } else { &b };
        client
            .post(format!("{}/v1/withdrawals", gateway.address))
            .bearer_auth(&token)
            .header("idempotency-key", key)
            .json(&json!({ "amount": amount, "binding_id": binding_id, "pin": "135790" }))
            .send()
    };
    let statuses: Vec<StatusCode> = join_all((0..50).map(|i| withdraw(i, format!("mp-{i}"), "7.00")))
        .await
        .into_iter()
        .map(|r| r.unwrap().status())
        .collect();
    let accepted = statuses.iter().filter(|s| **s == StatusCode::ACCEPTED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY).count();
    assert_eq!((accepted, refused), (4, 46), "statuses: {statuses:?}");
    for gateway in [&a, &b] {
        let wallet = client.get(format!("{}/v1/wallet", gateway.address)).bearer_auth(&token).send().await.unwrap();
        let wallet = json_of(wallet, StatusCode::OK).await;
        assert_eq!((wallet["available"].as_str(), wallet["held"].as_str()), (Some("2.00"), Some("28.00")));
        let check =
            client.get(format!("{}/v1/ops/ledger/check", gateway.address)).bearer_auth(&operator).send().await.unwrap();
        assert_eq!(json_of(check, StatusCode::OK).await["balanced"], true);
    }

    // The daily cap holds the same way: verified to L1 (10,000.00 a day) with
    // 9,972.00 left today, 50 concurrent 3,000.00 withdrawals get exactly three.
    let identity = json!({ "level": "L1", "real_name": "张三丰", "id_number": "11010519491231002X" });
    json_of(post(&client, format!("{}/v1/kyc", b.address), Some(&token), identity).await, StatusCode::ACCEPTED).await;
    let credit = json!({ "amount": "20000.00", "memo": "room for the daily cap" });
    json_of(
        post(&client, format!("{}/v1/ops/accounts/{user_id}/credit", a.address), Some(&operator), credit).await,
        StatusCode::CREATED,
    )
    .await;
    let replies = join_all((0..50).map(|i| withdraw(i, format!("cap-{i}"), "3000.00"))).await;
    let mut accepted = 0;
    for reply in replies {
        let reply = reply.unwrap();
        if reply.status() == StatusCode::ACCEPTED {
            accepted += 1;
        } else {
            let body = json_of(reply, StatusCode::UNPROCESSABLE_ENTITY).await;
            assert_eq!(body["error"]["details"], json!({ "limit": "daily", "remaining": "972.00" }), "{body}");
        }
    }
    assert_eq!(accepted, 3);

    // And 20 concurrent submissions under one key, spread over both gateways, make one withdrawal.
    let replies = join_all((0..20).map(|i| withdraw(i, "one-key".to_owned(), "1.00"))).await;
    let mut ids = std::collections::BTreeSet::new();
    for reply in replies {
        ids.insert(json_of(reply.unwrap(), StatusCode::ACCEPTED).await["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    let wallet = client.get(format!("{}/v1/wallet", b.address)).bearer_auth(&token).send().await.unwrap();
    // 28.00 + 3 × 3,000.00 + 1.00, plus fees past the 972.00 of free quota
    // left: 2.03 + 3.00 + 3.00 + 0.10 (the minimum).
    assert_eq!(json_of(wallet, StatusCode::OK).await["held"], "9037.13");
}
