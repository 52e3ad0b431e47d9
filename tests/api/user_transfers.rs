//! `/v1/transfers` over HTTP, on every store: a user sends CNY or USDT to
//! another by phone number or account id, sees the recipient masked
//! first, gets each refusal with its catalogue code (and nothing moved),
//! replays a request under its `Idempotency-Key`, and both sides find the
//! transfer in their lists, by id, and in their wallet history; operators
//! list an account's transfers.

use futures_util::future::join_all;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};

use walletgate::settings::RateLimit;

use crate::helpers::{TestApp, TestUser, assert_error, json_of, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    a_user_sends_money_to_another_by_phone_and_both_see_it,
    the_recipient_is_shown_masked_before_sending,
    refusals_carry_their_codes_and_move_nothing,
    a_repeated_request_is_answered_once,
    limits_count_per_asset_and_per_day,
    concurrent_transfers_grant_exactly_what_the_balance_affords,
    fees_from_config_are_charged_on_top,
    operators_list_an_accounts_transfers_both_ways,
    the_statement_names_each_transfers_other_side_and_adds_up_each_month,
);

const PIN: &str = "135790";

/// An app that lets one user enter PINs as fast as a test sends them.
async fn spawn_without_pin_rate_limits(store: crate::helpers::StoreKind) -> TestApp {
    spawn_app_with(store, |settings| {
        let generous = RateLimit { burst: 1000, per_minute: 1000 };
        settings.rate_limits.pin.per_ip = generous;
        settings.rate_limits.pin.per_account = generous;
    })
    .await
}

/// A user with a PIN and, when asked, a CNY and a USDT balance.
async fn user_with(app: &TestApp, operator: &str, cny: &str, usdt: &str) -> TestUser {
    let user = app.new_phone_user().await;
    app.set_pin(&user, PIN).await;
    if cny != "0" {
        json_of(app.credit(operator, &user.id, cny).await, StatusCode::CREATED).await;
    }
    if usdt != "0" {
        let body = json!({ "asset": "USDT", "amount": usdt, "memo": "usdt" });
        let key = format!("usdt-{}", user.id);
        json_of(app.adjust_once(operator, "credit", &user.id, &body, &key).await, StatusCode::CREATED).await;
    }
    user
}

async fn send(app: &TestApp, from: &TestUser, key: &str, body: &Value) -> Response {
    app.client
        .post(app.url("/v1/transfers"))
        .bearer_auth(&from.token)
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .expect("request sent")
}

fn cny(to: &str, amount: &str) -> Value {
    json!({ "to": to, "amount": amount, "memo": "晚饭", "pin": PIN })
}

async fn balance(app: &TestApp, user: &TestUser, asset: &str) -> String {
    let wallet = json_of(app.wallet(&user.token).await, StatusCode::OK).await;
    let assets = wallet["assets"].as_array().unwrap();
    let found = assets.iter().find(|a| a["asset"] == asset);
    found.map_or(String::new(), |a| a["available"].as_str().unwrap().to_owned())
}

async fn a_user_sends_money_to_another_by_phone_and_both_see_it(store: crate::helpers::StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let alice = user_with(&app, &operator, "100.00", "5").await;
    let bob = user_with(&app, &operator, "0", "0").await;

    let sent = json_of(send(&app, &alice, "t-1", &cny(&bob.phone, "30.50")).await, StatusCode::CREATED).await;
    assert_eq!((sent["status"].as_str(), sent["direction"].as_str()), (Some("completed"), Some("sent")));
    assert_eq!((sent["asset"].as_str(), sent["amount"].as_str()), (Some("CNY"), Some("30.50")));
    assert_eq!((sent["fee"].as_str(), sent["total_debit"].as_str()), (Some("0.00"), Some("30.50")));
    assert_eq!(sent["counterparty"]["account_id"], bob.id.as_str());
    let masked = format!("{}****{}", &bob.phone[..3], &bob.phone[7..]);
    assert_eq!(sent["counterparty"]["name"], masked.as_str());
    assert_eq!(sent["memo"], "晚饭");
    // USDT by account id, at its six places.
    let usdt = json!({ "to": bob.id, "asset": "USDT", "amount": "1.234567", "pin": PIN });
    let sent_usdt = json_of(send(&app, &alice, "t-2", &usdt).await, StatusCode::CREATED).await;
    assert_eq!(sent_usdt["amount"], "1.234567");

    assert_eq!(balance(&app, &alice, "CNY").await, "69.50");
    assert_eq!(balance(&app, &bob, "CNY").await, "30.50");
    assert_eq!(balance(&app, &alice, "USDT").await, "3.765433");
    assert_eq!(balance(&app, &bob, "USDT").await, "1.234567");

    // Both sides list it, newest first, and read it by id; nobody else does.
    let bobs = json_of(app.get("/v1/transfers", Some(&bob.token)).await, StatusCode::OK).await;
    let items = bobs["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!((items[0]["direction"].as_str(), items[0]["asset"].as_str()), (Some("received"), Some("USDT")));
    assert_eq!(items[1]["counterparty"]["account_id"], alice.id.as_str());
    assert_eq!(items[1]["fee"], Value::Null);
    let id = sent["id"].as_str().unwrap();
    let as_bob = json_of(app.get(&format!("/v1/transfers/{id}"), Some(&bob.token)).await, StatusCode::OK).await;
    assert_eq!((as_bob["direction"].as_str(), as_bob["amount"].as_str()), (Some("received"), Some("30.50")));
    let as_alice = json_of(app.get(&format!("/v1/transfers/{id}"), Some(&alice.token)).await, StatusCode::OK).await;
    assert_eq!(as_alice["direction"], "sent");
    let carol = app.new_phone_user().await;
    assert_error(app.get(&format!("/v1/transfers/{id}"), Some(&carol.token)).await, StatusCode::NOT_FOUND, "NOT_FOUND")
        .await;
    assert_error(app.get("/v1/transfers/tr_nonsense", Some(&carol.token)).await, StatusCode::NOT_FOUND, "NOT_FOUND")
        .await;
    // Paged one at a time, the cursor reaches the older one.
    let first = json_of(app.get("/v1/transfers?limit=1", Some(&alice.token)).await, StatusCode::OK).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    let second =
        json_of(app.get(&format!("/v1/transfers?limit=1&cursor={cursor}"), Some(&alice.token)).await, StatusCode::OK)
            .await;
    assert_eq!(second["items"][0]["id"], sent["id"]);
    assert_eq!(second["next_cursor"], Value::Null);

    // The recipient's history has the credit, tied to the transfer.
    let history = json_of(app.transactions(&bob.token, "").await, StatusCode::OK).await;
    let credit = &history["items"][1];
    assert_eq!((credit["kind"].as_str(), credit["available_change"].as_str()), (Some("transfer_in"), Some("30.50")));
    assert_eq!(credit["transfer_id"], sent["id"]);
    let report = app.assert_ledger_balanced().await;
    let assets = report["assets"].as_array().unwrap();
    assert!(assets.iter().all(|a| a["totals"]["in_flight"].as_str().is_none_or(|v| v.trim_end_matches('0') == "0.")));
}

async fn lookup(app: &TestApp, user: &TestUser, to: &str) -> Response {
    app.get(&format!("/v1/transfers/recipient?to={to}"), Some(&user.token)).await
}

async fn the_recipient_is_shown_masked_before_sending(store: crate::helpers::StoreKind) {
    let app = spawn_app(store).await;
    let alice = app.new_phone_user().await;
    let bob = app.new_phone_user().await;
    let found = json_of(lookup(&app, &alice, &bob.phone).await, StatusCode::OK).await;
    assert_eq!(found["name"], format!("{}****{}", &bob.phone[..3], &bob.phone[7..]).as_str());
    assert_eq!(found["verified"], false);
    // A verified user is shown by their real name, all but its last character hidden.
    let identity = json!({ "level": "L1", "real_name": "李小明", "id_number": "11010519491231002X" });
    json_of(app.post("/v1/kyc", Some(&bob.token), &identity).await, StatusCode::ACCEPTED).await;
    app.clock.advance(chrono::Duration::minutes(10));
    let mut alice = alice;
    app.log_in_again(&mut alice).await;
    let found = json_of(lookup(&app, &alice, &bob.id).await, StatusCode::OK).await;
    assert_eq!((found["name"].as_str(), found["verified"].as_bool()), (Some("**明"), Some(true)));
    assert_error(lookup(&app, &alice, &alice.phone).await, StatusCode::UNPROCESSABLE_ENTITY, "TRANSFER_TO_SELF").await;
    assert_error(lookup(&app, &alice, "13999999999").await, StatusCode::UNPROCESSABLE_ENTITY, "RECIPIENT_NOT_FOUND")
        .await;
    assert_error(
        lookup(&app, &alice, "acc_demo_operator").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "RECIPIENT_NOT_FOUND",
    )
    .await;
    assert_error(lookup(&app, &alice, &"x".repeat(65)).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
}

async fn refusals_carry_their_codes_and_move_nothing(store: crate::helpers::StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let alice = user_with(&app, &operator, "50.00", "0").await;
    let bob = user_with(&app, &operator, "0", "0").await;
    let frozen = app.new_phone_user().await;
    let frozen_id = walletgate::domain::account::AccountId::parse(&frozen.id).unwrap();
    app.services
        .partitions
        .update_account(&frozen_id, |account, _| {
            account.frozen = true;
            Ok(((), Vec::new()))
        })
        .await
        .unwrap();
    let no_pin = app.new_phone_user().await;
    let cases: Vec<(&TestUser, Value, StatusCode, &str)> = vec![
        (&alice, cny(&alice.phone, "1.00"), StatusCode::UNPROCESSABLE_ENTITY, "TRANSFER_TO_SELF"),
        (&alice, cny("13999999998", "1.00"), StatusCode::UNPROCESSABLE_ENTITY, "RECIPIENT_NOT_FOUND"),
        (&alice, cny(&frozen.phone, "1.00"), StatusCode::UNPROCESSABLE_ENTITY, "RECIPIENT_FROZEN"),
        (&alice, cny(&bob.phone, "50.01"), StatusCode::UNPROCESSABLE_ENTITY, "INSUFFICIENT_BALANCE"),
        (&alice, cny(&bob.phone, "500.01"), StatusCode::UNPROCESSABLE_ENTITY, "LIMIT_EXCEEDED"),
        (&alice, cny(&bob.phone, "1.001"), StatusCode::BAD_REQUEST, "VALIDATION_FAILED"),
        (&alice, json!({ "to": bob.phone, "amount": 1.5, "pin": PIN }), StatusCode::BAD_REQUEST, "VALIDATION_FAILED"),
        (
            &alice,
            json!({ "to": bob.phone, "asset": "USDT", "amount": "1.0000001", "pin": PIN }),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            &alice,
            json!({ "to": bob.phone, "asset": "BTC", "amount": "1", "pin": PIN }),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (&alice, json!({ "to": bob.phone, "amount": "0", "pin": PIN }), StatusCode::BAD_REQUEST, "VALIDATION_FAILED"),
        (
            &alice,
            json!({ "to": bob.phone, "amount": "1", "pin": "12ab56" }),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            &alice,
            json!({ "to": bob.phone, "amount": "1", "pin": PIN, "memo": "m".repeat(101) }),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (
            &alice,
            json!({ "to": bob.phone, "amount": "1", "pin": PIN, "extra": 1 }),
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        ),
        (&no_pin, cny(&bob.phone, "1.00"), StatusCode::UNPROCESSABLE_ENTITY, "PIN_NOT_SET"),
        (
            &alice,
            json!({ "to": bob.phone, "amount": "1.00", "pin": "000000" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "PIN_INCORRECT",
        ),
    ];
    for (n, (from, body, status, code)) in cases.into_iter().enumerate() {
        let body_text = body.to_string();
        let error = assert_error(send(&app, from, &format!("refused-{n}"), &body).await, status, code).await;
        if code == "LIMIT_EXCEEDED" {
            let details = &error["error"]["details"];
            assert_eq!((details["limit"].as_str(), details["asset"].as_str()), (Some("per_transfer"), Some("CNY")));
            assert_eq!(details["remaining"], "500.00", "{body_text}");
        }
        if code == "INSUFFICIENT_BALANCE" {
            assert_eq!(error["error"]["details"]["available"], "50.00");
        }
    }
    // A request without a key is refused before anything is read.
    let keyless = app.post("/v1/transfers", Some(&alice.token), &cny(&bob.phone, "1.00")).await;
    assert_error(keyless, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(balance(&app, &alice, "CNY").await, "50.00");
    assert_eq!(balance(&app, &bob, "CNY").await, "0.00");
    let listed = json_of(app.get("/v1/transfers", Some(&alice.token)).await, StatusCode::OK).await;
    assert!(listed["items"].as_array().unwrap().is_empty());
    // Only the wrong PIN counted: four tries are left.
    let verify = app.verify_pin(&alice.token, "000001").await;
    let error = assert_error(verify, StatusCode::UNPROCESSABLE_ENTITY, "PIN_INCORRECT").await;
    assert_eq!(error["error"]["details"]["attempts_remaining"], 3);
    app.assert_ledger_balanced().await;
}

async fn a_repeated_request_is_answered_once(store: crate::helpers::StoreKind) {
    let app = spawn_without_pin_rate_limits(store).await;
    let operator = app.operator_token().await;
    let alice = user_with(&app, &operator, "10.00", "0").await;
    let bob = user_with(&app, &operator, "0", "0").await;
    let body = cny(&bob.phone, "4.00");
    // Ten at once under one key: one transfer.
    let replies = join_all((0..10).map(|_| send(&app, &alice, "same-key", &body))).await;
    let mut ids = Vec::new();
    let mut replayed = 0;
    for reply in replies {
        replayed += usize::from(reply.headers().get("idempotent-replayed").is_some_and(|v| v == "true"));
        ids.push(json_of(reply, StatusCode::CREATED).await["id"].as_str().unwrap().to_owned());
    }
    ids.dedup();
    assert_eq!((ids.len(), replayed), (1, 9), "{ids:?}");
    assert_eq!(balance(&app, &alice, "CNY").await, "6.00");
    assert_eq!(balance(&app, &bob, "CNY").await, "4.00");
    // The same key with another request is refused; a refusal replays as a refusal.
    let other = send(&app, &alice, "same-key", &cny(&bob.phone, "5.00")).await;
    assert_error(other, StatusCode::CONFLICT, "IDEMPOTENCY_KEY_REUSED").await;
    let short = cny(&bob.phone, "7.00");
    assert_error(send(&app, &alice, "short", &short).await, StatusCode::UNPROCESSABLE_ENTITY, "INSUFFICIENT_BALANCE")
        .await;
    json_of(app.credit(&operator, &alice.id, "100.00").await, StatusCode::CREATED).await;
    let again = send(&app, &alice, "short", &short).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_error(again, StatusCode::UNPROCESSABLE_ENTITY, "INSUFFICIENT_BALANCE").await;
}

async fn limits_count_per_asset_and_per_day(store: crate::helpers::StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    // L0: CNY 500.00 per transfer and 1,000.00 a day; USDT counted apart.
    let alice = user_with(&app, &operator, "2000.00", "300").await;
    let bob = user_with(&app, &operator, "0", "0").await;
    for n in 0..2 {
        json_of(send(&app, &alice, &format!("day-{n}"), &cny(&bob.phone, "500.00")).await, StatusCode::CREATED).await;
    }
    let over = assert_error(
        send(&app, &alice, "day-2", &cny(&bob.phone, "0.01")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "LIMIT_EXCEEDED",
    )
    .await;
    assert_eq!(
        (over["error"]["details"]["limit"].as_str(), over["error"]["details"]["remaining"].as_str()),
        (Some("daily"), Some("0.00"))
    );
    let usdt = json!({ "to": bob.phone, "asset": "USDT", "amount": "100", "pin": PIN });
    json_of(send(&app, &alice, "usdt-0", &usdt).await, StatusCode::CREATED).await;
    // A new day in Asia/Shanghai starts the count again.
    app.clock.advance(chrono::Duration::days(1));
    let (mut alice, mut bob) = (alice, bob);
    app.log_in_again(&mut alice).await;
    app.log_in_again(&mut bob).await;
    json_of(send(&app, &alice, "day-3", &cny(&bob.phone, "500.00")).await, StatusCode::CREATED).await;
    assert_eq!(balance(&app, &bob, "CNY").await, "1500.00");
}

async fn concurrent_transfers_grant_exactly_what_the_balance_affords(store: crate::helpers::StoreKind) {
    let app = spawn_without_pin_rate_limits(store).await;
    let operator = app.operator_token().await;
    let alice = user_with(&app, &operator, "30.00", "0").await;
    let bob = user_with(&app, &operator, "0", "0").await;
    // 50 of 7.00 at once from 30.00: exactly four.
    let replies = join_all((0..50).map(|n| {
        let body = cny(&bob.phone, "7.00");
        let alice = &alice;
        let app = &app;
        async move { send(app, alice, &format!("race-{n}"), &body).await.status() }
    }))
    .await;
    let sent = replies.iter().filter(|s| **s == StatusCode::CREATED).count();
    let refused = replies.iter().filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY).count();
    assert_eq!((sent, refused), (4, 46), "{replies:?}");
    assert_eq!(balance(&app, &alice, "CNY").await, "2.00");
    assert_eq!(balance(&app, &bob, "CNY").await, "28.00");
    app.assert_ledger_balanced().await;
}

async fn fees_from_config_are_charged_on_top(store: crate::helpers::StoreKind) {
    let app = spawn_app_with(store, |settings| {
        settings.transfers.fees.cny.fee_rate = "0.01".into();
        settings.transfers.fees.cny.fee_min = "0.10".into();
        settings.transfers.fees.cny.fee_max = "2.00".into();
    })
    .await;
    let operator = app.operator_token().await;
    let alice = user_with(&app, &operator, "300.00", "0").await;
    let bob = user_with(&app, &operator, "0", "0").await;
    // 1% of 12.50 is 0.125: half-up to 0.13.
    let sent = json_of(send(&app, &alice, "fee-1", &cny(&bob.phone, "12.50")).await, StatusCode::CREATED).await;
    assert_eq!((sent["fee"].as_str(), sent["total_debit"].as_str()), (Some("0.13"), Some("12.63")));
    let capped = json_of(send(&app, &alice, "fee-2", &cny(&bob.phone, "280.00")).await, StatusCode::CREATED).await;
    assert_eq!(capped["fee"], "2.00");
    // What is left (5.37) cannot pay 5.37 and its fee.
    let short = assert_error(
        send(&app, &alice, "fee-3", &cny(&bob.phone, "5.37")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INSUFFICIENT_BALANCE",
    )
    .await;
    assert_eq!(short["error"]["details"]["requested"], "5.47");
    assert_eq!(balance(&app, &bob, "CNY").await, "292.50");
    let report = app.assert_ledger_balanced().await;
    assert_eq!(report["totals"]["fees"], "2.13", "{report}");
}

async fn operators_list_an_accounts_transfers_both_ways(store: crate::helpers::StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let alice = user_with(&app, &operator, "100.00", "0").await;
    let bob = user_with(&app, &operator, "0", "0").await;
    json_of(send(&app, &alice, "t-ops-1", &cny(&bob.phone, "1.00")).await, StatusCode::CREATED).await;
    let sent = json_of(send(&app, &alice, "t-ops-2", &cny(&bob.phone, "12.30")).await, StatusCode::CREATED).await;

    let of = |id: &str| format!("/v1/ops/accounts/{id}/transfers");
    let bobs = json_of(app.get(&format!("{}?limit=1", of(&bob.id)), Some(&operator)).await, StatusCode::OK).await;
    let received = &bobs["items"][0];
    assert_eq!((received["id"].as_str(), received["direction"].as_str()), (sent["id"].as_str(), Some("received")));
    assert_eq!((received["asset"].as_str(), received["amount"].as_str()), (Some("CNY"), Some("12.30")));
    assert_eq!(received["counterparty"]["account_id"], alice.id.as_str());
    let cursor = bobs["next_cursor"].as_str().unwrap();
    let next_page = format!("{}?cursor={cursor}", of(&bob.id));
    let older = json_of(app.get(&next_page, Some(&operator)).await, StatusCode::OK).await;
    assert_eq!((older["items"][0]["amount"].as_str(), &older["next_cursor"]), (Some("1.00"), &Value::Null));
    let alices = json_of(app.get(&of(&alice.id), Some(&operator)).await, StatusCode::OK).await;
    assert!(alices["items"].as_array().unwrap().iter().all(|item| item["direction"] == "sent"));

    assert_error(app.get(&of(&alice.id), Some(&bob.token)).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    assert_error(app.get(&of("acc_nobody"), Some(&operator)).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    // The user's own list issues cursors of its own.
    let own = json_of(app.get("/v1/transfers?limit=1", Some(&alice.token)).await, StatusCode::OK).await;
    let foreign = format!("{}?cursor={}", of(&alice.id), own["next_cursor"].as_str().unwrap());
    assert_error(app.get(&foreign, Some(&operator)).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
}

/// `(month, asset, incoming, outgoing)` of a statement page's month totals.
fn month_totals(page: &Value) -> Vec<(String, String, String, String)> {
    let field = |m: &Value, name: &str| m[name].as_str().unwrap().to_owned();
    let months = page["months"].as_array().unwrap().iter();
    months.map(|m| (field(m, "month"), field(m, "asset"), field(m, "incoming"), field(m, "outgoing"))).collect()
}

fn totals(month: &str, asset: &str, incoming: &str, outgoing: &str) -> (String, String, String, String) {
    (month.into(), asset.into(), incoming.into(), outgoing.into())
}

async fn the_statement_names_each_transfers_other_side_and_adds_up_each_month(store: crate::helpers::StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let (mut alice, mut bob) =
        (user_with(&app, &operator, "100.00", "0").await, user_with(&app, &operator, "0", "0").await);
    json_of(send(&app, &alice, "march", &cny(&bob.phone, "30.50")).await, StatusCode::CREATED).await;
    // The test clock starts on 1 March; a month on, in April (Asia/Shanghai).
    app.clock.advance(chrono::Duration::days(31));
    app.log_in_again(&mut alice).await;
    app.log_in_again(&mut bob).await;
    json_of(send(&app, &bob, "april-1", &cny(&alice.phone, "10.00")).await, StatusCode::CREATED).await;
    json_of(send(&app, &alice, "april-2", &cny(&bob.phone, "5.00")).await, StatusCode::CREATED).await;

    let masked = |phone: &str| format!("{}****{}", &phone[..3], &phone[7..]);
    let april = json_of(app.transactions(&alice.token, "?limit=2").await, StatusCode::OK).await;
    assert_eq!(april["time_zone"], "Asia/Shanghai");
    let rows = april["items"].as_array().unwrap();
    assert_eq!((rows[0]["kind"].as_str(), rows[1]["kind"].as_str()), (Some("transfer_out"), Some("transfer_in")));
    assert_eq!(rows[0]["counterparty"], masked(&bob.phone).as_str());
    assert_eq!(rows[1]["counterparty"], masked(&bob.phone).as_str(), "received from Bob");
    assert_eq!(month_totals(&april), [totals("2026-04", "CNY", "10.00", "5.00")]);

    // The older page's month is added up whole, its top-up included.
    let cursor = april["next_cursor"].as_str().unwrap();
    let march =
        json_of(app.transactions(&alice.token, &format!("?limit=1&cursor={cursor}")).await, StatusCode::OK).await;
    assert_eq!(march["items"][0]["counterparty"], masked(&bob.phone).as_str());
    assert_eq!(month_totals(&march), [totals("2026-03", "CNY", "100.00", "30.50")]);
    let top_up = json_of(app.transactions(&alice.token, "?limit=10").await, StatusCode::OK).await;
    let top_up = top_up["items"].as_array().unwrap().iter().find(|i| i["kind"] == "operator_credit").unwrap().clone();
    assert_eq!(top_up["counterparty"], Value::Null, "only transfers have another side");

    let bobs = json_of(app.transactions(&bob.token, "").await, StatusCode::OK).await;
    let received = bobs["items"].as_array().unwrap().iter().find(|i| i["kind"] == "transfer_in").unwrap().clone();
    assert_eq!(received["counterparty"], masked(&alice.phone).as_str());
    let expected = [totals("2026-04", "CNY", "5.00", "10.00"), totals("2026-03", "CNY", "30.50", "0.00")];
    assert_eq!(month_totals(&bobs), expected);
}
