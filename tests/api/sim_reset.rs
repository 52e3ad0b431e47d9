//! `POST /v1/sim/reset`: the deployment wiped and the demo accounts back,
//! for operators of a simulator only.

use reqwest::StatusCode;
use serde_json::{Value, json};
use walletgate::settings::WeChatClientKind;

use crate::helpers::{StoreKind, TestApp, assert_error, json_of, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    a_reset_brings_back_the_demo_accounts_and_removes_what_was_created,
    a_reset_into_an_unknown_scenario_refuses_before_wiping_anything,
    a_reset_forgets_the_request_rate_limits,
    a_reset_is_for_operators_only,
    a_reset_takes_away_the_simulators_rules_and_its_time,
);

pub async fn reset(app: &TestApp, token: &str, body: Option<&Value>) -> reqwest::Response {
    let mut request = app.client.post(app.url("/v1/sim/reset")).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.expect("request sent")
}

async fn alice_token(app: &TestApp) -> String {
    let tokens = app.login_phone("13800000001", "alice-demo").await;
    tokens["access_token"].as_str().unwrap().to_owned()
}

async fn a_reset_brings_back_the_demo_accounts_and_removes_what_was_created(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let alice = alice_token(&app).await;
    let newcomer = app.new_phone_user().await;
    json_of(app.credit(&operator, "acc_demo_alice", "100.00").await, StatusCode::CREATED).await;
    assert_eq!(app.available(&alice).await, "900.00");
    let mock_user =
        json_of(app.post("/mock/wechat/users", None, &json!({ "nickname": "小红" })).await, StatusCode::CREATED).await;
    let openid = mock_user["openid"].as_str().unwrap();

    let report = json_of(reset(&app, &operator, None).await, StatusCode::OK).await;
    assert!(report["removed"].as_u64().unwrap() > 0, "{report}");
    let demo = ["acc_demo_operator", "acc_demo_alice", "acc_demo_bob", "acc_demo_carol"];
    assert_eq!(report["demo_accounts"], json!(demo), "{report}");
    assert_eq!(report["scenario"], Value::Null);

    // The demo accounts are back as seeded, and their tokens still work.
    assert_eq!(app.available(&alice).await, "800.00");
    assert_eq!(app.available(&alice_token(&app).await).await, "800.00");
    // What was created is gone: the newcomer, their token, the mock user.
    let gone = assert_error(app.me(&newcomer.token).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_eq!(gone["error"]["details"]["resource"], "account");
    let refused = app.post("/v1/events/ticket", Some(&newcomer.token), &json!({})).await;
    assert_error(refused, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let login = app.login(&json!({ "phone": newcomer.phone, "password": "correct-horse" })).await;
    assert_error(login, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let gone = app.get(&format!("/mock/wechat/users/{openid}"), None).await;
    assert_eq!(gone.status(), StatusCode::NOT_FOUND);
    // The reset is the audit log's first entry, made by the operator whose token still works.
    let log = json_of(app.get("/v1/ops/audit-log", Some(&operator)).await, StatusCode::OK).await;
    let entries = log["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!((entries[0]["seq"].as_u64(), entries[0]["action"].as_str()), (Some(0), Some("sim.reset")));
    assert_eq!(entries[0]["operator_id"], "acc_demo_operator");
    let ledger = app.assert_ledger_balanced().await;
    assert_eq!(ledger["accounts_checked"], 4, "{ledger}");
    // A second reset finds only what the first seeded.
    json_of(reset(&app, &operator, Some(&json!({}))).await, StatusCode::OK).await;
    assert_eq!(app.available(&alice).await, "800.00");
}

async fn a_reset_into_an_unknown_scenario_refuses_before_wiping_anything(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let newcomer = app.new_phone_user().await;
    let refused = reset(&app, &operator, Some(&json!({ "scenario": "no-such-scenario" }))).await;
    let body = assert_error(refused, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_eq!(body["error"]["details"]["resource"], "scenario");
    json_of(app.me(&newcomer.token).await, StatusCode::OK).await;
    let unknown_field = reset(&app, &operator, Some(&json!({ "scenarios": "limits" }))).await;
    assert_error(unknown_field, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    let not_json = app.post_raw("/v1/sim/reset", Some(&operator), "text/plain", "limits".into()).await;
    assert_error(not_json, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    json_of(app.me(&newcomer.token).await, StatusCode::OK).await;
}

/// The per-process limits count requests of accounts a reset made anew: it
/// forgets them, as the store forgets everything else.
async fn a_reset_forgets_the_request_rate_limits(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let alice = alice_token(&app).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(app.request_sms_code(&alice, "set_pin").await.status());
    }
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS), "{statuses:?}");
    json_of(reset(&app, &operator, None).await, StatusCode::OK).await;
    assert_eq!(app.request_sms_code(&alice, "set_pin").await.status(), StatusCode::ACCEPTED);
}

async fn a_reset_is_for_operators_only(store: StoreKind) {
    let app = spawn_app(store).await;
    let alice = alice_token(&app).await;
    assert_error(reset(&app, &alice, None).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let anonymous = app.client.post(app.url("/v1/sim/reset")).send().await.unwrap();
    assert_error(anonymous, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    assert_eq!(app.available(&alice).await, "800.00");
}

/// Without the simulator's mock providers, `/v1/sim` is not served at all.
#[tokio::test]
async fn a_gateway_without_the_mock_providers_serves_no_reset() {
    let app = spawn_app_with(StoreKind::Memory, |settings| {
        settings.mock_wechat.enabled = false;
        settings.wechat.client = WeChatClientKind::Http;
        // Without the mock, WeChat's addresses are named (no fallback to it).
        settings.wechat.api_base_url = "http://127.0.0.1:9/wechat".into();
        settings.wechat.authorize_base_url = "http://127.0.0.1:9/wechat".into();
    })
    .await;
    let operator = app.operator_token().await;
    for (method, path) in [("POST", "/v1/sim/reset"), ("GET", "/v1/sim/scenarios"), ("POST", "/v1/sim/scenarios")] {
        let request = app.client.request(method.parse().unwrap(), app.url(path)).bearer_auth(&operator);
        let body = assert_error(request.send().await.unwrap(), StatusCode::NOT_FOUND, "NOT_FOUND").await;
        assert_eq!(body["error"]["details"]["resource"], "route", "{method} {path}");
    }
    let document = json_of(app.get("/openapi.json", None).await, StatusCode::OK).await;
    assert!(document["paths"].as_object().unwrap().keys().all(|path| !path.starts_with("/v1/sim/")));
}

async fn a_reset_takes_away_the_simulators_rules_and_its_time(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let rule = serde_json::json!({"match": {"operation": "wechat_pay.transfer"}, "respond": {"type": "system_error"}});
    let added = app.post("/v1/sim/rules", Some(&operator), &rule).await;
    assert_eq!(added.status(), StatusCode::CREATED);
    let advanced = app.post("/v1/sim/clock/advance", Some(&operator), &serde_json::json!({"by_secs": 86_400})).await;
    let advanced = json_of(advanced, StatusCode::OK).await;
    assert_eq!(advanced["clock"]["offset_secs"], 86_400, "{advanced}");

    json_of(reset(&app, &operator, None).await, StatusCode::OK).await;
    let clock = json_of(app.get("/v1/sim/clock", Some(&operator)).await, StatusCode::OK).await;
    assert_eq!(
        (clock["offset_secs"].as_i64(), clock["frozen"].as_bool()),
        (Some(0), Some(false)),
        "wall time again: {clock}"
    );
    let rules = json_of(app.get("/v1/sim/rules", Some(&operator)).await, StatusCode::OK).await;
    assert_eq!(rules["rules"], serde_json::json!([]));
}
