//! The simulator's rules and magic amounts: forced payout outcomes, errors
//! and faults reach the worker's retry, backoff and parking paths, through
//! the in-process payouts and through the HTTP payout client alike; the mock
//! WeChat Pay endpoints answer as a rule says; rules on WeChat OAuth and the
//! SMS gateway fail a binding's callback or a code's text, and the user's
//! next attempt goes through; the rules API refuses what is ill formed and
//! is for operators only.

use std::time::Instant;

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletgate::settings::{Settings, WeChatClientKind};

use crate::bindings::{Choice, Phone};
use crate::helpers::{StoreKind, TestApp, assert_error, json_of, spawn_app, spawn_app_with};
use crate::on_both_stores;
use crate::settlement::{Payee, approve, id_of, mock_wallet, payee, settle, withdraw, withdrawal};

on_both_stores!(
    a_rule_making_the_next_two_payouts_time_out_is_retried_with_backoff_then_settled_once,
    a_payout_a_rule_keeps_failing_is_parked_after_its_attempts_and_paid_once_the_rule_is_gone,
    a_forced_failure_releases_the_hold_with_the_rules_reason_for_the_matched_payee_only,
    magic_amounts_force_outcomes_without_a_rule,
    the_http_payout_client_retries_a_reset_connection_and_pays_once,
    the_mock_wechat_pay_endpoints_answer_as_a_rule_says,
    rules_are_checked_counted_listed_and_for_operators_only,
    a_bill_is_found_by_either_number_and_every_answer_names_its_request,
    a_binding_whose_code_exchange_meets_a_reset_fails_and_the_next_attempt_binds,
    a_profile_read_a_rule_refuses_fails_the_binding_with_wechats_number,
    a_pin_reset_whose_text_fails_is_asked_again_and_completes,
    a_binding_whose_text_fails_gets_a_new_code_and_is_confirmed,
    the_mock_wechat_oauth_endpoints_answer_as_a_rule_says,
);

const BILLS: &str = "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills";

async fn add_rule(app: &TestApp, operator: &str, rule: Value) -> Value {
    json_of(app.post("/v1/sim/rules", Some(operator), &rule).await, StatusCode::CREATED).await
}

async fn rules(app: &TestApp, operator: &str) -> Vec<Value> {
    let list = json_of(app.get("/v1/sim/rules", Some(operator)).await, StatusCode::OK).await;
    list["rules"].as_array().unwrap().clone()
}

/// A withdrawal of `amount`, approved by the operator if it waits for one
/// (a first one to the destination), else due after the automatic review
/// delay: due for payout at the latest `AUTO_REVIEW` from now.
async fn approved_withdrawal(app: &TestApp, payee: &Payee, operator: &str, amount: &str) -> String {
    let created = withdraw(app, payee, amount).await;
    let id = id_of(&created);
    if created["status"] == "in_review" {
        json_of(approve(app, operator, &id).await, StatusCode::OK).await;
    }
    id
}

/// `withdrawals.auto_review_delay_secs` of the test settings.
const AUTO_REVIEW: Duration = Duration::seconds(5);

async fn status_of(app: &TestApp, payee: &mut Payee, id: &str) -> Value {
    app.log_in_again(&mut payee.user).await;
    withdrawal(app, payee, id).await
}

async fn a_rule_making_the_next_two_payouts_time_out_is_retried_with_backoff_then_settled_once(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let mut payee = payee(&app, "800.00", json!({})).await;
    let rule = add_rule(
        &app,
        &operator,
        json!({
            "description": "the next two payouts time out",
            "match": {"operation": "wechat_pay.transfer"},
            "respond": {"type": "fault", "fault": "timeout"},
            "times": 2
        }),
    )
    .await;
    assert_eq!((rule["remaining"].as_u64(), rule["matched"].as_u64()), (Some(2), Some(0)), "{rule}");
    let id = approved_withdrawal(&app, &payee, &operator, "10.00").await;

    assert_eq!(settle(&app).await.retried, 1, "the first attempt times out");
    app.clock.advance(Duration::milliseconds(999));
    assert_eq!(settle(&app).await.retried, 0, "backing off 1 s");
    app.clock.advance(Duration::milliseconds(1));
    assert_eq!(settle(&app).await.retried, 1, "the second attempt times out");
    app.clock.advance(Duration::seconds(1));
    assert_eq!(settle(&app).await.settled, 0, "backing off 2 s now");
    app.clock.advance(Duration::seconds(1));
    let report = settle(&app).await;
    assert_eq!((report.settled, report.retried), (1, 0), "{report:?}");

    let settled = status_of(&app, &mut payee, &id).await;
    assert_eq!(settled["status"], "settled", "{settled}");
    assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "10.00", "paid once");
    let kept = rules(&app, &operator).await;
    assert_eq!((kept[0]["remaining"].as_u64(), kept[0]["matched"].as_u64()), (Some(0), Some(2)), "{kept:?}");
    app.clock.advance(Duration::hours(1));
    assert_eq!(settle(&app).await.settled, 0, "nothing left to pay");
    app.assert_ledger_balanced().await;
}

async fn a_payout_a_rule_keeps_failing_is_parked_after_its_attempts_and_paid_once_the_rule_is_gone(store: StoreKind) {
    let app = spawn_app_with(store, |settings: &mut Settings| settings.worker.payout_attempts_max = 2).await;
    let operator = app.operator_token().await;
    let mut payee = payee(&app, "800.00", json!({})).await;
    let rule = add_rule(
        &app,
        &operator,
        json!({"match": {"operation": "wechat_pay.transfer"}, "respond": {"type": "system_error"}}),
    )
    .await;
    let id = approved_withdrawal(&app, &payee, &operator, "20.00").await;
    assert_eq!(settle(&app).await.retried, 1);
    app.clock.advance(Duration::seconds(1));
    assert_eq!(settle(&app).await.retried, 1);
    app.clock.advance(Duration::seconds(2));
    assert_eq!(settle(&app).await.parked, 1, "two attempts, then parked for an operator");
    let queue = json_of(app.get("/v1/ops/review-queue", Some(&operator)).await, StatusCode::OK).await;
    assert_eq!(queue["items"][0]["queue"], "parked_payout", "{queue}");

    let gone = app.delete(&format!("/v1/sim/rules/{}", rule["id"].as_str().unwrap()), Some(&operator)).await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    json_of(approve(&app, &operator, &id).await, StatusCode::OK).await;
    assert_eq!(settle(&app).await.settled, 1);
    assert_eq!(status_of(&app, &mut payee, &id).await["status"], "settled");
    assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "20.00");
    app.assert_ledger_balanced().await;
}

async fn a_forced_failure_releases_the_hold_with_the_rules_reason_for_the_matched_payee_only(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let mut frozen = payee(&app, "800.00", json!({})).await;
    let mut other = payee(&app, "800.00", json!({})).await;
    add_rule(
        &app,
        &operator,
        json!({
            "match": {"operation": "wechat_pay.transfer", "payee": frozen.openid, "amount_min": "100.00"},
            "respond": {"type": "fail", "fail_reason": "DAY_RECEIVED_QUOTA_EXCEED"}
        }),
    )
    .await;
    let small = approved_withdrawal(&app, &frozen, &operator, "99.99").await;
    let failing = approved_withdrawal(&app, &frozen, &operator, "300.00").await;
    let unmatched = approved_withdrawal(&app, &other, &operator, "300.00").await;
    app.clock.advance(AUTO_REVIEW);
    let report = settle(&app).await;
    assert_eq!((report.settled, report.failed), (2, 1), "{report:?}");

    let failed = status_of(&app, &mut frozen, &failing).await;
    assert_eq!(
        (failed["status"].as_str(), failed["failure_reason"].as_str()),
        (Some("failed"), Some("DAY_RECEIVED_QUOTA_EXCEED"))
    );
    assert_eq!(status_of(&app, &mut frozen, &small).await["status"], "settled", "under amount_min");
    assert_eq!(status_of(&app, &mut other, &unmatched).await["status"], "settled", "another payee");
    let wallet = json_of(app.wallet(&frozen.user.token).await, StatusCode::OK).await;
    assert_eq!((wallet["available"].as_str(), wallet["held"].as_str()), (Some("700.01"), Some("0.00")), "{wallet}");
    assert_eq!(mock_wallet(&app, &frozen.openid).await["balance"], "99.99");
    app.assert_ledger_balanced().await;
}

async fn magic_amounts_force_outcomes_without_a_rule(store: StoreKind) {
    let app = spawn_app_with(store, |settings: &mut Settings| settings.worker.payout_attempts_max = 2).await;
    let operator = app.operator_token().await;
    let mut payee = payee(&app, "800.00", json!({})).await;
    let refused = approved_withdrawal(&app, &payee, &operator, "91.02").await;
    let risky = approved_withdrawal(&app, &payee, &operator, "91.06").await;
    let processing = approved_withdrawal(&app, &payee, &operator, "92.01").await;
    let reset = approved_withdrawal(&app, &payee, &operator, "92.04").await;
    let short = approved_withdrawal(&app, &payee, &operator, "92.06").await;
    app.clock.advance(AUTO_REVIEW);
    let report = settle(&app).await;
    assert_eq!((report.failed, report.retried, report.awaiting), (2, 2, 1), "{report:?}");
    let failed = status_of(&app, &mut payee, &refused).await;
    assert_eq!(failed["failure_reason"], "REAL_NAME_CHECK_FAIL", "{failed}");
    assert_eq!(status_of(&app, &mut payee, &risky).await["failure_reason"], "TRANSFER_RISK");
    for id in [&processing, &reset, &short] {
        let pending = status_of(&app, &mut payee, id).await;
        assert_eq!(pending["status"], "processing", "{pending}");
    }
    let bill = json_of(
        app.wechat_pay_get(&format!("{BILLS}/out-bill-no/{}", processing.trim_start_matches("wd_"))).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(bill["state"], "PROCESSING", "a stalled bill, nothing paid: {bill}");
    app.clock.advance(Duration::seconds(1));
    let report = settle(&app).await;
    assert_eq!(
        (report.retried, report.awaiting),
        (2, 1),
        "NOT_ENOUGH is retried with the same bill, as SYSTEM_ERROR is; the stalled bill is looked at again: {report:?}"
    );
    app.clock.advance(Duration::seconds(2));
    let report = settle(&app).await;
    assert_eq!((report.parked, report.awaiting), (2, 1), "magic amounts answer the same every time: {report:?}");
    let waiting = status_of(&app, &mut payee, &processing).await;
    assert_eq!(waiting["status"], "processing", "looking at a bill spends no attempts: {waiting}");
    app.clock.advance(Duration::hours(25));
    assert_eq!(settle(&app).await.parked, 1, "a bill that never moves on parks its payout once the wait runs out");
    assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "0.00");
    app.assert_ledger_balanced().await;

    let plain = spawn_app_with(store, |settings: &mut Settings| settings.mock_wechat.magic_amounts = false).await;
    let operator = plain.operator_token().await;
    let mut payee = crate::settlement::payee(&plain, "800.00", json!({})).await;
    let id = approved_withdrawal(&plain, &payee, &operator, "91.02").await;
    assert_eq!(settle(&plain).await.settled, 1, "magic amounts switched off");
    assert_eq!(status_of(&plain, &mut payee, &id).await["status"], "settled");
}

async fn the_http_payout_client_retries_a_reset_connection_and_pays_once(store: StoreKind) {
    let app = spawn_app_with(store, |settings: &mut Settings| settings.wechat.client = WeChatClientKind::Http).await;
    let operator = app.operator_token().await;
    let mut payee = payee(&app, "800.00", json!({})).await;
    for fault in ["connection_reset", "malformed_body", "empty_response"] {
        let rule = json!({"match": {"operation": "wechat_pay.transfer"}, "respond": {"type": "fault", "fault": fault}, "times": 1});
        add_rule(&app, &operator, rule).await;
    }
    add_rule(
        &app,
        &operator,
        json!({"match": {"operation": "wechat_pay.transfer"}, "respond": {"type": "http_error", "status": 429, "code": "FREQUENCY_LIMITED", "message": "slow down"}, "times": 1}),
    )
    .await;
    let id = approved_withdrawal(&app, &payee, &operator, "30.00").await;
    let mut retried = 0;
    for pause in [0, 1, 2, 4] {
        app.clock.advance(Duration::seconds(pause));
        retried += settle(&app).await.retried;
    }
    assert_eq!(retried, 4, "a reset, a malformed and an empty answer, a 429: each retried");
    app.clock.advance(Duration::seconds(8));
    assert_eq!(settle(&app).await.settled, 1);
    let settled = status_of(&app, &mut payee, &id).await;
    assert_eq!(settled["status"], "settled", "{settled}");
    assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "30.00", "paid once over HTTP");

    add_rule(
        &app,
        &operator,
        json!({"match": {"operation": "wechat_pay.transfer"}, "respond": {"type": "http_error", "status": 400, "code": "NO_AUTH", "message": "merchant not allowed"}}),
    )
    .await;
    let refused = approved_withdrawal(&app, &payee, &operator, "40.00").await;
    app.clock.advance(AUTO_REVIEW);
    assert_eq!(settle(&app).await.failed, 1, "a 4xx other than 429 refuses the bill for good");
    assert_eq!(status_of(&app, &mut payee, &refused).await["failure_reason"], "NO_AUTH");
    app.assert_ledger_balanced().await;
}

async fn the_mock_wechat_pay_endpoints_answer_as_a_rule_says(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let openid = crate::settlement::wechat_user(&app, "王五", json!({})).await;
    let bill = |out_bill_no: &str, fen: i64| json!({"appid": "wx8a3f5c7e2b9d1046", "out_bill_no": out_bill_no, "openid": openid, "transfer_amount": fen, "transfer_remark": "rules", "transfer_scene_id": "1000"});
    let limited = add_rule(
        &app,
        &operator,
        json!({"match": {"operation": "wechat_pay.transfer", "out_bill_no": "RULED1"}, "respond": {"type": "http_error", "status": 429, "code": "FREQUENCY_LIMITED", "message": "slow down"}, "times": 1}),
    )
    .await;
    let answer = app.wechat_pay_post(BILLS, &bill("RULED1", 100)).await;
    assert_eq!(answer.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(answer.headers()["x-walletgate-sim-rule"], limited["id"].as_str().unwrap());
    assert_eq!(answer.json::<Value>().await.unwrap(), json!({"code": "FREQUENCY_LIMITED", "message": "slow down"}));
    let paid = json_of(app.wechat_pay_post(BILLS, &bill("RULED1", 100)).await, StatusCode::OK).await;
    assert_eq!(paid["state"], "SUCCESS", "the rule answered once: {paid}");

    add_rule(
        &app,
        &operator,
        json!({"match": {"operation": "wechat_pay.transfer", "out_bill_no": "RULED2"}, "respond": {"type": "fault", "fault": "connection_reset"}}),
    )
    .await;
    let body = bill("RULED2", 100).to_string();
    let authorization = app.wechat_pay_authorization("POST", BILLS, body.as_bytes());
    let reset = app.client.post(app.url(BILLS)).header("authorization", authorization).body(body).send().await;
    let broken = match reset {
        Err(_) => true,
        Ok(response) => response.bytes().await.is_err(),
    };
    assert!(broken, "the connection breaks with no readable answer");

    add_rule(
        &app,
        &operator,
        json!({"match": {"operation": "wechat_pay.query"}, "respond": {"type": "fault", "fault": "malformed_body"}, "delay": {"type": "fixed", "ms": 200}, "times": 1}),
    )
    .await;
    let started = Instant::now();
    let malformed = app.wechat_pay_get(&format!("{BILLS}/out-bill-no/RULED1")).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(200), "the delay is waited");
    assert_eq!(malformed.status(), StatusCode::OK);
    assert!(serde_json::from_slice::<Value>(&malformed.bytes().await.unwrap()).is_err(), "not JSON");
    let found = json_of(app.wechat_pay_get(&format!("{BILLS}/out-bill-no/RULED1")).await, StatusCode::OK).await;
    assert_eq!(found["state"], "SUCCESS");

    let unlikely = json!({"match": {"operation": "wechat_pay.transfer", "out_bill_no": "RULED3"}, "respond": {"type": "system_error"}, "probability": 0.0});
    add_rule(&app, &operator, unlikely).await;
    let paid = json_of(app.wechat_pay_post(BILLS, &bill("RULED3", 100)).await, StatusCode::OK).await;
    assert_eq!(paid["state"], "SUCCESS", "a rule whose probability never comes up");
    let slow = json!({"match": {"operation": "wechat_pay.transfer", "out_bill_no": "RULED4"}, "respond": {"type": "as_usual"}, "delay": {"type": "fixed", "ms": 150}});
    let slow = add_rule(&app, &operator, slow).await;
    let started = Instant::now();
    let answer = app.wechat_pay_post(BILLS, &bill("RULED4", 100)).await;
    assert!(started.elapsed() >= std::time::Duration::from_millis(150), "latency alone");
    assert_eq!(answer.headers()["x-walletgate-sim-rule"], slow["id"].as_str().unwrap());
    assert_eq!(json_of(answer, StatusCode::OK).await["state"], "SUCCESS");
    let magic = json_of(app.wechat_pay_post(BILLS, &bill("MAGIC1", 9101)).await, StatusCode::OK).await;
    assert_eq!((magic["state"].as_str(), magic["fail_reason"].as_str()), (Some("FAIL"), Some("ACCOUNT_FROZEN")));
}

async fn rules_are_checked_counted_listed_and_for_operators_only(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let transfer = json!({"operation": "wechat_pay.transfer"});
    let cases = [
        (json!({"match": transfer, "respond": {"type": "system_error"}, "times": 0}), "times"),
        (json!({"match": transfer, "respond": {"type": "system_error"}, "probability": 2}), "probability"),
        (json!({"match": transfer, "respond": {"type": "http_error", "status": 200, "code": "OK"}}), "respond.status"),
        (
            json!({"match": transfer, "respond": {"type": "system_error"}, "delay": {"type": "fixed", "ms": 600000}}),
            "delay",
        ),
        (json!({"match": {"operation": "wechat_pay.query"}, "respond": {"type": "processing"}}), "respond.type"),
        (json!({"match": {"operation": "sms.send"}, "respond": {"type": "api_error", "errcode": 1}}), "respond.type"),
        (
            json!({"match": {"operation": "sms.send", "amount_min": "1.00"}, "respond": {"type": "system_error"}}),
            "match.amount_min",
        ),
        (
            json!({"match": {"operation": "wechat_oauth.access_token", "payee": "oX"}, "respond": {"type": "system_error"}}),
            "match.payee",
        ),
    ];
    for (rule, field) in cases {
        let refused = assert_error(
            app.post("/v1/sim/rules", Some(&operator), &rule).await,
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        )
        .await;
        assert_eq!(refused["error"]["details"]["field"], field, "{rule}: {refused}");
    }
    for unknown in [
        json!({"match": {"operation": "bank.transfer"}, "respond": {"type": "system_error"}}),
        json!({"match": transfer, "respond": {"type": "explode"}}),
        json!({"match": transfer, "respond": {"type": "system_error"}, "when": "always"}),
    ] {
        assert_error(
            app.post("/v1/sim/rules", Some(&operator), &unknown).await,
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        )
        .await;
    }

    let user = app.new_phone_user().await;
    let rule = json!({"match": transfer, "respond": {"type": "system_error"}});
    assert_error(app.post("/v1/sim/rules", Some(&user.token), &rule).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    assert_error(app.get("/v1/sim/rules", Some(&user.token)).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    assert_error(app.get("/v1/sim/rules", None).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    assert_error(app.delete("/v1/sim/rules", Some(&user.token)).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;

    let first = add_rule(&app, &operator, rule.clone()).await;
    let second =
        add_rule(&app, &operator, json!({"match": transfer, "respond": {"type": "processing"}, "times": 3})).await;
    let listed: Vec<Value> = rules(&app, &operator).await.iter().map(|rule| rule["id"].clone()).collect();
    assert_eq!(listed, [first["id"].clone(), second["id"].clone()], "in the order they are consulted");
    assert_error(app.delete("/v1/sim/rules/rule_none", Some(&operator)).await, StatusCode::NOT_FOUND, "NOT_FOUND")
        .await;
    let cleared = json_of(app.delete("/v1/sim/rules", Some(&operator)).await, StatusCode::OK).await;
    assert_eq!(cleared["removed"], 2);
    assert!(rules(&app, &operator).await.is_empty());
    let log = json_of(app.get("/v1/ops/audit-log?limit=3", Some(&operator)).await, StatusCode::OK).await;
    let actions: Vec<&str> =
        log["items"].as_array().unwrap().iter().map(|item| item["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["sim.rules_cleared", "sim.rule_removed", "sim.rule_added"], "{log}");
}

/// The gateway with each WeChat client: in-process, and over HTTP.
async fn with_each_wechat_client(store: StoreKind) -> [TestApp; 2] {
    let builtin = spawn_app(store).await;
    let http = spawn_app_with(store, |settings| settings.wechat.client = WeChatClientKind::Http).await;
    [builtin, http]
}

async fn a_binding_whose_code_exchange_meets_a_reset_fails_and_the_next_attempt_binds(store: StoreKind) {
    for app in with_each_wechat_client(store).await {
        let operator = app.operator_token().await;
        let reset = json!({
            "match": {"operation": "wechat_oauth.access_token"},
            "respond": {"type": "fault", "fault": "connection_reset"},
            "times": 1
        });
        let rule = add_rule(&app, &operator, reset).await;
        let phone = Phone::new(&app).await;
        let started = phone.start().await;
        let location = phone
            .consent(started["authorize_url"].as_str().unwrap(), Choice::NewUser { nickname: "王五", snapshot: false })
            .await;
        assert_error(phone.callback(&location).await, StatusCode::SERVICE_UNAVAILABLE, "WECHAT_UNAVAILABLE").await;
        let failed = phone.binding(started["binding_id"].as_str().unwrap()).await;
        assert_eq!(
            (failed["status"].as_str(), failed["failure_reason"].as_str()),
            (Some("failed"), Some("provider_unavailable")),
            "{failed}"
        );
        let counted = rules(&app, &operator).await;
        assert_eq!((counted[0]["id"].clone(), counted[0]["remaining"].as_u64()), (rule["id"].clone(), Some(0)));

        let active = phone.bind(Choice::NewUser { nickname: "王五", snapshot: false }).await;
        assert_eq!(active["status"], "active", "the next attempt binds");
        let journal = json_of(app.get("/mock/requests?provider=wechat&limit=200", None).await, StatusCode::OK).await;
        let exchanges: Vec<&Value> = journal["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|entry| entry["request"]["path"] == "/mock/wechat/sns/oauth2/access_token")
            .collect();
        assert_eq!(exchanges.len(), 2, "{journal}");
        let broken =
            exchanges.iter().find(|entry| entry["matched_rule"] == rule["id"]).expect("the reset is journaled");
        assert_eq!(broken["response"]["fault"], "connection_reset", "{broken}");
    }
}

async fn a_profile_read_a_rule_refuses_fails_the_binding_with_wechats_number(store: StoreKind) {
    for app in with_each_wechat_client(store).await {
        let operator = app.operator_token().await;
        let refuse = json!({
            "match": {"operation": "wechat_oauth.userinfo"},
            "respond": {"type": "api_error", "errcode": 48001, "errmsg": "api unauthorized"},
            "times": 1
        });
        add_rule(&app, &operator, refuse).await;
        let phone = Phone::new(&app).await;
        let started = phone.start().await;
        let location = phone
            .consent(started["authorize_url"].as_str().unwrap(), Choice::NewUser { nickname: "赵六", snapshot: false })
            .await;
        let refused = assert_error(
            phone.callback(&location).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "WECHAT_AUTHORIZATION_FAILED",
        )
        .await;
        assert_eq!(refused["error"]["details"]["errcode"], 48001, "{refused}");
        let failed = phone.binding(started["binding_id"].as_str().unwrap()).await;
        assert_eq!(failed["failure_reason"], "authorization_rejected");

        let outage = json!({
            "match": {"operation": "wechat_oauth.userinfo"},
            "respond": {"type": "http_error", "status": 502, "code": "BAD_GATEWAY"},
            "times": 1
        });
        add_rule(&app, &operator, outage).await;
        let again = phone.start().await;
        let location = phone
            .consent(again["authorize_url"].as_str().unwrap(), Choice::NewUser { nickname: "赵六", snapshot: false })
            .await;
        assert_error(phone.callback(&location).await, StatusCode::SERVICE_UNAVAILABLE, "WECHAT_UNAVAILABLE").await;
        assert_eq!(phone.bind(Choice::NewUser { nickname: "赵六", snapshot: false }).await["status"], "active");
    }
}

async fn a_pin_reset_whose_text_fails_is_asked_again_and_completes(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let user = app.new_phone_user().await;
    app.set_pin(&user, "135790").await;
    let fail = json!({
        "match": {"operation": "sms.send", "phone": user.phone, "purpose": "reset_pin"},
        "respond": {"type": "system_error"},
        "times": 1
    });
    add_rule(&app, &operator, fail).await;
    let unsent = app.request_sms_code(&user.token, "reset_pin").await;
    assert_error(unsent, StatusCode::SERVICE_UNAVAILABLE, "SMS_NOT_SENT").await;
    let outbox = json_of(app.get(&format!("/mock/sms/outbox?phone={}", user.phone), None).await, StatusCode::OK).await;
    assert!(outbox["items"].as_array().unwrap().iter().all(|sms| sms["purpose"] != "reset_pin"), "{outbox}");

    json_of(app.request_sms_code(&user.token, "reset_pin").await, StatusCode::ACCEPTED).await;
    let code = app.latest_sms_code(&user.phone, "reset_pin").await;
    json_of(app.put_pin(&user.token, &json!({ "pin": "246801", "sms_code": code })).await, StatusCode::OK).await;
    json_of(app.verify_pin(&user.token, "246801").await, StatusCode::OK).await;
}

async fn a_binding_whose_text_fails_gets_a_new_code_and_is_confirmed(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let timeout = json!({
        "match": {"operation": "sms.send", "purpose": "bind_wechat"},
        "respond": {"type": "fault", "fault": "timeout"},
        "times": 1
    });
    add_rule(&app, &operator, timeout).await;
    let phone = Phone::new(&app).await;
    let started = phone.start().await;
    let binding_id = started["binding_id"].as_str().unwrap();
    let location = phone
        .consent(started["authorize_url"].as_str().unwrap(), Choice::NewUser { nickname: "钱七", snapshot: false })
        .await;
    assert_error(phone.callback(&location).await, StatusCode::SERVICE_UNAVAILABLE, "SMS_NOT_SENT").await;
    assert_eq!(phone.binding(binding_id).await["status"], "pending_confirmation", "the consent is kept");

    json_of(app.request_sms_code(phone.token(), "bind_wechat").await, StatusCode::ACCEPTED).await;
    let code = phone.latest_sms_code().await;
    assert_eq!(json_of(phone.confirm(binding_id, &code).await, StatusCode::OK).await["status"], "active");
}

async fn the_mock_wechat_oauth_endpoints_answer_as_a_rule_says(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let exchange = "/mock/wechat/sns/oauth2/access_token?appid=x&secret=y&code=z&grant_type=authorization_code";
    let unruled = json_of(app.get(exchange, None).await, StatusCode::OK).await;
    assert_eq!(unruled["errcode"], 40013, "an unknown app, as WeChat answers it: {unruled}");
    let busy = json!({
        "match": {"operation": "wechat_oauth.access_token"},
        "respond": {"type": "system_error"},
        "times": 1
    });
    let rule = add_rule(&app, &operator, busy).await;
    let answer = app.get(exchange, None).await;
    assert_eq!(answer.headers()["x-walletgate-sim-rule"], rule["id"].as_str().unwrap());
    assert_eq!(json_of(answer, StatusCode::OK).await["errcode"], -1);
    let outage = json!({
        "match": {"operation": "wechat_oauth.access_token"},
        "respond": {"type": "http_error", "status": 503, "code": "UNAVAILABLE"},
        "times": 1
    });
    add_rule(&app, &operator, outage).await;
    let unavailable = json_of(app.get(exchange, None).await, StatusCode::SERVICE_UNAVAILABLE).await;
    assert_eq!(unavailable["errcode"], -1, "{unavailable}");
    assert_eq!(json_of(app.get(exchange, None).await, StatusCode::OK).await["errcode"], 40013, "the rules are spent");
}

async fn a_bill_is_found_by_either_number_and_every_answer_names_its_request(store: StoreKind) {
    let app = spawn_app(store).await;
    let openid = crate::settlement::wechat_user(&app, "孙八", json!({})).await;
    let body = json!({"appid": "wx8a3f5c7e2b9d1046", "out_bill_no": "NUMBERED1", "openid": openid,
        "transfer_amount": 250, "transfer_remark": "numbers", "transfer_scene_id": "1000"});
    let created = app.wechat_pay_post(BILLS, &body).await;
    let request_id = |response: &reqwest::Response| response.headers().get("request-id").cloned();
    let first_id = request_id(&created).expect("a Request-ID");
    let created = json_of(created, StatusCode::OK).await;
    let number = created["transfer_bill_no"].as_str().unwrap();
    assert_eq!(number.len(), 32, "{created}");

    let by_number = app.wechat_pay_get(&format!("{BILLS}/transfer-bill-no/{number}")).await;
    assert_ne!(request_id(&by_number).expect("a Request-ID"), first_id, "one per answer");
    let by_number = json_of(by_number, StatusCode::OK).await;
    let by_out = json_of(app.wechat_pay_get(&format!("{BILLS}/out-bill-no/NUMBERED1")).await, StatusCode::OK).await;
    assert_eq!(by_number, by_out, "one bill, found by either number");
    assert_eq!((by_number["state"].as_str(), by_number["transfer_amount"].as_i64()), (Some("SUCCESS"), Some(250)));

    let unknown = app.wechat_pay_get(&format!("{BILLS}/transfer-bill-no/13300002026010100000000000000000")).await;
    assert!(request_id(&unknown).is_some(), "errors too");
    assert_eq!(json_of(unknown, StatusCode::NOT_FOUND).await["code"], "NOT_FOUND");
    let malformed =
        json_of(app.wechat_pay_get(&format!("{BILLS}/transfer-bill-no/12ab")).await, StatusCode::BAD_REQUEST).await;
    assert_eq!(malformed["code"], "PARAM_ERROR");
}
