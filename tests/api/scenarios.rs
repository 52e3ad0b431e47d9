//! Scenario files (`scenarios/`): loaded by a reset, through
//! `POST /v1/sim/scenarios` and at startup (`--scenario`), every one through
//! the services, and refused with the line and field of what is wrong.

use std::path::PathBuf;

use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{RedisKeysGuard, StoreKind, TestApp, assert_error, json_of, spawn_app, unique_prefix};
use crate::multi_process::{StoreVia, start_gateway_with};
use crate::on_both_stores;
use crate::sim_reset::reset;

on_both_stores!(
    resetting_into_the_review_queue_holds_a_dozen_withdrawals_for_review,
    the_limits_scenario_leaves_its_users_at_the_edge_of_their_limits,
    the_two_assets_scenario_users_send_each_other_usdt,
    the_two_assets_scenario_adds_up_per_asset_in_the_ledger_check,
    scenario_mistakes_are_refused_naming_the_line_and_field,
);

fn scenario_file(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scenarios").join(format!("{name}.toml"))
}

async fn load(app: &TestApp, token: &str, toml: &str) -> Response {
    app.post_raw("/v1/sim/scenarios", Some(token), "application/toml", toml.to_owned()).await
}

/// The report's user of `name`.
fn user<'a>(report: &'a Value, name: &str) -> &'a Value {
    let users = report["users"].as_array().expect("users");
    users.iter().find(|user| user["name"] == name).unwrap_or_else(|| panic!("no {name} in {report}"))
}

async fn token_of(app: &TestApp, phone: &str, password: &str) -> String {
    app.login_phone(phone, password).await["access_token"].as_str().unwrap().to_owned()
}

async fn resetting_into_the_review_queue_holds_a_dozen_withdrawals_for_review(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let report =
        json_of(reset(&app, &operator, Some(&json!({ "scenario": "review-queue" }))).await, StatusCode::OK).await;
    let scenario = &report["scenario"];
    assert_eq!(scenario["scenario"], "review-queue");
    assert_eq!(scenario["users"].as_array().unwrap().len(), 12);

    let queue = json_of(app.get("/v1/ops/review-queue?limit=200", Some(&operator)).await, StatusCode::OK).await;
    let items = queue["items"].as_array().unwrap();
    assert_eq!(items.len(), 12, "{queue}");
    let reasons = |item: &Value| {
        item["reasons"].as_array().unwrap().iter().map(|r| r.as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    let large = items.iter().filter(|item| reasons(item) == ["large_amount"]).count();
    let first = items.iter().filter(|item| reasons(item) == ["first_to_destination"]).count();
    assert_eq!((first, large), (8, 3), "{queue}");
    // The large ones follow a withdrawal that was approved and paid.
    let l2 = user(scenario, "reviewer-09");
    let statuses: Vec<&str> =
        l2["withdrawals"].as_array().unwrap().iter().map(|w| w["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["settled", "in_review"]);
    assert_eq!(l2["level"], "L2");

    let reviewer = token_of(&app, "13900000101", "review-demo").await;
    let mine = json_of(app.get("/v1/withdrawals", Some(&reviewer)).await, StatusCode::OK).await;
    assert_eq!(mine["items"][0]["status"], "in_review", "{mine}");
    let wallet = json_of(app.wallet(&reviewer).await, StatusCode::OK).await;
    assert_eq!((wallet["available"].as_str(), wallet["held"].as_str()), (Some("5880.00"), Some("120.00")));
    json_of(app.verify_pin(&reviewer, "246810").await, StatusCode::OK).await;
    let ledger = app.assert_ledger_balanced().await;
    assert_eq!(ledger["accounts_checked"], 16, "the demo accounts and the dozen: {ledger}");
}

async fn the_limits_scenario_leaves_its_users_at_the_edge_of_their_limits(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let toml = std::fs::read_to_string(scenario_file("limits")).unwrap();
    let report = json_of(load(&app, &operator, &toml).await, StatusCode::CREATED).await;
    let statuses = |name: &str| -> Vec<String> {
        let withdrawals = user(&report, name)["withdrawals"].as_array().unwrap().clone();
        withdrawals.iter().map(|w| w["status"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(statuses("daily-count"), ["settled", "settled", "settled", "pending"]);
    assert_eq!(statuses("given-back"), ["rejected", "failed"]);

    let daily = token_of(&app, "13900000201", "limits-demo").await;
    let wallet = json_of(app.wallet(&daily).await, StatusCode::OK).await;
    assert_eq!(wallet["limits"]["daily_remaining"], "10.00", "{wallet}");
    assert_eq!(wallet["fee_free_quota_remaining"], "10.00", "{wallet}");
    let binding = user(&report, "daily-amount")["binding_id"].as_str().unwrap().to_owned();
    let over =
        app.post("/v1/withdrawals/quote", Some(&daily), &json!({ "amount": "10.01", "binding_id": binding })).await;
    let body = assert_error(over, StatusCode::UNPROCESSABLE_ENTITY, "LIMIT_EXCEEDED").await;
    assert_eq!(body["error"]["details"]["limit"], "daily");
    let edge =
        app.post("/v1/withdrawals/quote", Some(&daily), &json!({ "amount": "10.00", "binding_id": binding })).await;
    json_of(edge, StatusCode::OK).await;

    let counted = token_of(&app, "13900000202", "limits-demo").await;
    let wallet = json_of(app.wallet(&counted).await, StatusCode::OK).await;
    assert_eq!(wallet["limits"]["daily_count_remaining"], 1, "{wallet}");
    let l1 = token_of(&app, "13900000203", "limits-demo").await;
    let wallet = json_of(app.wallet(&l1).await, StatusCode::OK).await;
    assert_eq!(
        (wallet["verification_level"].as_str(), wallet["limits"]["daily_remaining"].as_str()),
        (Some("L1"), Some("100.00"))
    );
    let given_back = token_of(&app, "13900000204", "limits-demo").await;
    let wallet = json_of(app.wallet(&given_back).await, StatusCode::OK).await;
    assert_eq!((wallet["available"].as_str(), wallet["held"].as_str()), (Some("2000.00"), Some("0.00")));
    assert_eq!(wallet["limits"]["daily_remaining"], "1000.00", "{wallet}");
    // The load's operator steps are audited as the operator who loaded it.
    let log = json_of(app.get("/v1/ops/audit-log?limit=100", Some(&operator)).await, StatusCode::OK).await;
    let actions: Vec<&str> = log["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"withdrawal.reject") && actions.contains(&"kyc.approve"), "{actions:?}");
    app.assert_ledger_balanced().await;
    // Loaded once: its phones are taken now.
    let again =
        assert_error(load(&app, &operator, &toml).await, StatusCode::UNPROCESSABLE_ENTITY, "SCENARIO_INVALID").await;
    assert_eq!(again["error"]["details"]["field"], "users[0]", "{again}");
    assert!(again["error"]["message"].as_str().unwrap().contains("already registered"), "{again}");
}

async fn the_two_assets_scenario_users_send_each_other_usdt(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    json_of(reset(&app, &operator, Some(&json!({ "scenario": "two-assets" }))).await, StatusCode::OK).await;
    let zhao = token_of(&app, "13900000301", "zhao-assets").await;
    let send = |token: String, body: Value, key: &'static str| {
        let request = app.client.post(app.url("/v1/transfers")).bearer_auth(token).header("idempotency-key", key);
        request.json(&body).send()
    };
    let usdt = json!({ "to": "13900000302", "asset": "USDT", "amount": "100.000000", "pin": "258369" });
    json_of(send(zhao.clone(), usdt, "zhao-1").await.unwrap(), StatusCode::CREATED).await;
    let qian = token_of(&app, "13900000302", "qian-assets").await;
    let wallet = json_of(app.wallet(&qian).await, StatusCode::OK).await;
    let usdt_of = |wallet: &Value| {
        wallet["assets"].as_array().unwrap().iter().find(|a| a["asset"] == "USDT").unwrap()["available"].clone()
    };
    assert_eq!(usdt_of(&wallet), "112.500000", "{wallet}");
    let sun = token_of(&app, "13900000303", "sun-assets").await;
    let too_much = json!({ "to": "13900000304", "asset": "USDT", "amount": "0.000002", "pin": "258369" });
    let refused = send(sun, too_much, "sun-1").await.unwrap();
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "INSUFFICIENT_BALANCE").await;
    app.assert_ledger_balanced().await;
}

/// The asset's totals in a ledger report.
fn asset_totals<'a>(report: &'a Value, asset: &str) -> &'a Value {
    let assets = report["assets"].as_array().expect("assets");
    assets.iter().find(|totals| totals["asset"] == asset).unwrap_or_else(|| panic!("no {asset} in {report}"))
}

async fn the_two_assets_scenario_adds_up_per_asset_in_the_ledger_check(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    json_of(reset(&app, &operator, Some(&json!({ "scenario": "two-assets" }))).await, StatusCode::OK).await;
    // The file's USDT: 2500.000000 + 12.500000 + 0.000001, all issued by funding.
    let loaded = app.assert_ledger_balanced().await;
    let usdt = asset_totals(&loaded, "USDT");
    assert_eq!(usdt["totals"]["user_available"], "2512.500001", "{loaded}");
    assert_eq!(usdt["totals"]["funding"], "-2512.500001", "{loaded}");
    assert_eq!(usdt["sum"], "0.000000", "{loaded}");
    let cny_before = asset_totals(&loaded, "CNY")["totals"].clone();

    let zhao = token_of(&app, "13900000301", "zhao-assets").await;
    let body = json!({ "to": "13900000302", "asset": "USDT", "amount": "0.000001", "memo": "最小", "pin": "258369" });
    let request = app.client.post(app.url("/v1/transfers")).bearer_auth(&zhao).header("idempotency-key", "least");
    let sent = json_of(request.json(&body).send().await.unwrap(), StatusCode::CREATED).await;
    assert_eq!(sent["amount"], "0.000001", "{sent}");

    // A transfer moves USDT between users only: no asset's totals change,
    // nothing is left in flight, and CNY is untouched.
    let after = app.assert_ledger_balanced().await;
    let usdt = asset_totals(&after, "USDT");
    assert_eq!(usdt["totals"]["user_available"], "2512.500001", "{after}");
    assert_eq!(usdt["totals"]["in_flight"], "0.000000", "{after}");
    assert_eq!(usdt["sum"], "0.000000", "{after}");
    assert_eq!(asset_totals(&after, "CNY")["totals"], cny_before, "{after}");
    let qian_token = token_of(&app, "13900000302", "qian-assets").await;
    let wallet = json_of(app.wallet(&qian_token).await, StatusCode::OK).await;
    let usdt_row = wallet["assets"].as_array().unwrap().iter().find(|a| a["asset"] == "USDT").unwrap().clone();
    assert_eq!(usdt_row["available"], "12.500001", "{wallet}");
}

async fn scenario_mistakes_are_refused_naming_the_line_and_field(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let base = "version = 1\nname = \"mistakes\"\n\n[[users]]\nname = \"a\"\nphone = \"13900000401\"\npassword = \"a-password\"\n";
    let cases = [
        (format!("{base}colour = \"red\"\n"), "users[0].colour", 8, "unknown field"),
        (
            format!("{base}balances = {{ USDT = \"1.0000001\" }}\n"),
            "users[0].balances.USDT",
            8,
            "at most 6 decimal places",
        ),
        (format!("{base}balances = {{ BTC = \"1\" }}\n"), "users[0].balances.BTC", 8, "unknown asset"),
        (
            format!("{base}\n[[users]]\nname = \"b\"\nphone = \"13900000401\"\npassword = \"b-password\"\n"),
            "users[1].phone",
            11,
            "already the login of users[0]",
        ),
        (base.replace("13900000401", "13800000001"), "users[0]", 4, "already registered"),
    ];
    for (toml, field, line, message) in cases {
        let body =
            assert_error(load(&app, &operator, &toml).await, StatusCode::UNPROCESSABLE_ENTITY, "SCENARIO_INVALID")
                .await;
        let details = &body["error"]["details"];
        assert_eq!((details["field"].as_str(), details["line"].as_u64()), (Some(field), Some(line)), "{body}");
        assert_eq!(details["scenario"], "(request body)");
        assert!(body["error"]["message"].as_str().unwrap().contains(message), "{body}");
    }
    let json = app.post("/v1/sim/scenarios", Some(&operator), &json!({ "version": 1 })).await;
    assert_error(json, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    let huge = format!("{base}# {}\n", "x".repeat(300 * 1024));
    assert_error(load(&app, &operator, &huge).await, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
    let alice = token_of(&app, "13800000001", "alice-demo").await;
    assert_error(load(&app, &alice, base).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    // Nothing of a refused scenario was written.
    let login = app.login(&json!({ "phone": "13900000401", "password": "a-password" })).await;
    assert_error(login, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    // The rules' answers are met while loading: the withdrawal is named, what came before it stays.
    let withdrawing = |phone: &str, amount: &str, state: &str| {
        format!(
            "version = 1\nname = \"rules\"\n\n[[users]]\nname = \"c\"\nphone = \"{phone}\"\npassword = \"c-password\"\n\
             balances = {{ CNY = \"3000.00\" }}\npin = \"246810\"\nwechat = {{ nickname = \"c\" }}\n\n\
             [[users.withdrawals]]\namount = \"{amount}\"\nstate = \"{state}\"\n"
        )
    };
    let refusals = [
        (withdrawing("13900000403", "10.00", "pending"), "cannot be pending"),
        (withdrawing("13900000404", "2000.00", "in_review"), "(LIMIT_EXCEEDED)"),
    ];
    for (toml, message) in refusals {
        let body =
            assert_error(load(&app, &operator, &toml).await, StatusCode::UNPROCESSABLE_ENTITY, "SCENARIO_INVALID")
                .await;
        let details = &body["error"]["details"];
        assert_eq!(
            (details["field"].as_str(), details["line"].as_u64()),
            (Some("users[0].withdrawals[0]"), Some(12)),
            "{body}"
        );
        assert!(body["error"]["message"].as_str().unwrap().contains(message), "{body}");
    }
    json_of(app.login(&json!({ "phone": "13900000404", "password": "c-password" })).await, StatusCode::OK).await;
    let bundled = json_of(app.get("/v1/sim/scenarios", Some(&operator)).await, StatusCode::OK).await;
    let names: Vec<&str> = bundled["items"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["review-queue", "limits", "two-assets"]);
}

/// `--scenario` loads files at startup after the demo accounts; a second
/// gateway started with the same file on the same store skips it.
#[tokio::test]
async fn the_binary_loads_a_scenario_file_at_startup_and_skips_it_when_loaded() {
    for store_url in ["memory://".to_owned(), crate::helpers::redis_url()] {
        let prefix = unique_prefix();
        let _keys = store_url.starts_with("redis").then(|| RedisKeysGuard::new(&store_url, &prefix));
        let file = scenario_file("two-assets");
        let args = ["--scenario", file.to_str().unwrap()];
        let gateway = start_gateway_with(&store_url, StoreVia::Flag, &prefix, &[], &args).await;
        let client = reqwest::Client::new();
        for (phone, password) in [("13900000301", "zhao-assets"), ("13800000001", "alice-demo")] {
            let body = json!({ "phone": phone, "password": password });
            let response = client.post(format!("{}/v1/auth/login", gateway.address)).json(&body).send().await.unwrap();
            json_of(response, StatusCode::OK).await;
        }
        if store_url.starts_with("redis") {
            start_gateway_with(&store_url, StoreVia::Flag, &prefix, &[], &args).await;
        }
    }
}

/// A scenario file that cannot be loaded stops the binary at startup with
/// exit status 2 and one line naming the file, the line and the field.
#[tokio::test]
async fn the_binary_refuses_to_start_with_a_bad_scenario_file() {
    let dir = std::env::temp_dir().join(format!("walletgate-scenario-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("bad.toml");
    std::fs::write(&file, "version = 1\nname = \"bad\"\n[[users]]\nname = \"a\"\nphone = \"13900000501\"\npassword = \"a-password\"\nbalances = { CNY = \"1.005\" }\n").unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_walletgate"))
        .args(["--port", "0", "--store", "memory://", "--scenario", file.to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("WALLETGATE__LOG__LEVEL", "warn")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let expected = format!("walletgate: scenario {}: line 7: users[0].balances.CNY:", file.display());
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains("at most 2 decimal places for CNY"), "{stderr}");
}
