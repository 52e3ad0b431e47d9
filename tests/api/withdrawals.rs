//! Quoting withdrawals: cost, limits left, review, and every refusal a
//! submission would meet (except the PIN), in the order a user meets them.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::bindings::{Choice, Phone};
use futures_util::future::join_all;

use crate::helpers::{StoreKind, TestApp, TestUser, assert_error, json_of, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    a_quote_shows_fee_limits_review_and_arrival,
    quotes_refuse_what_a_withdrawal_would_refuse,
    the_daily_cap_starts_again_at_midnight_in_shanghai,
    a_withdrawal_holds_amount_and_fee_at_once,
    a_wrong_pin_refuses_and_counts,
    a_quote_holds_its_price_or_the_withdrawal_is_refused,
    the_same_key_replays_and_a_reused_key_is_refused,
    a_balance_affording_k_withdrawals_grants_exactly_k_of_50,
    the_daily_cap_holds_under_concurrency,
    twenty_concurrent_submissions_with_one_key_make_one_withdrawal,
    a_level_that_may_not_withdraw_is_told_to_verify,
    each_withdrawal_is_queued_for_its_review,
);

const PIN: &str = "135790";

/// A funded, bound user with a payment PIN.
pub(crate) async fn ready_user(app: &TestApp, balance: &str) -> (TestUser, String) {
    let (user, binding_id) = funded_user(app, balance).await;
    app.set_pin(&user, PIN).await;
    (user, binding_id)
}

pub(crate) async fn withdraw(app: &TestApp, user: &TestUser, key: impl AsRef<str>, body: Value) -> reqwest::Response {
    app.client
        .post(app.url("/v1/withdrawals"))
        .bearer_auth(&user.token)
        .header("idempotency-key", key.as_ref())
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub(crate) fn body(binding_id: &str, amount: &str) -> Value {
    json!({ "amount": amount, "binding_id": binding_id, "pin": PIN })
}

async fn a_withdrawal_holds_amount_and_fee_at_once(store: StoreKind) {
    let app = spawn_app(store).await;
    let (user, binding_id) = ready_user(&app, "1500.00").await;
    // Spend the free quota first, so this one pays the fee.
    let first = json_of(withdraw(&app, &user, "k-1", body(&binding_id, "1000.00")).await, StatusCode::ACCEPTED).await;
    assert_eq!((first["status"].as_str(), first["fee"].as_str()), (Some("in_review"), Some("0.00")));
    assert_eq!(first["review_reasons"], json!(["first_to_destination"]));
    let operator = app.operator_token().await;
    json_of(app.credit(&operator, &user.id, "1000.00").await, StatusCode::CREATED).await;

    app.clock.advance(Duration::days(1));
    let mut user = user;
    app.log_in_again(&mut user).await;
    let second = json_of(withdraw(&app, &user, "k-2", body(&binding_id, "500.00")).await, StatusCode::ACCEPTED).await;
    assert_eq!((second["status"].as_str(), second["review"].as_str()), (Some("pending"), Some("auto")));
    assert_eq!((second["fee"].as_str(), second["total_debit"].as_str()), (Some("0.50"), Some("500.50")));
    assert_eq!(second["history"][0]["status"], "pending");

    let wallet = json_of(app.wallet(&user.token).await, StatusCode::OK).await;
    assert_eq!((wallet["available"].as_str(), wallet["held"].as_str()), (Some("999.50"), Some("1500.50")));
    assert_eq!(wallet["fee_free_quota_remaining"], "0.00");
    // The statement names each hold's withdrawal, its fee and the wallet it
    // goes to; a top-up has none of them.
    let history = json_of(app.transactions(&user.token, "").await, StatusCode::OK).await;
    let items = history["items"].as_array().unwrap();
    let of = |item: &Value| {
        (item["kind"].clone(), item["withdrawal_id"].clone(), item["fee"].clone(), item["provider"].clone())
    };
    assert_eq!(of(&items[0]), (json!("withdrawal_hold"), second["id"].clone(), json!("0.50"), json!("wechat")));
    assert_eq!(items[0]["available_change"], "-500.50");
    assert_eq!(of(&items[1]), (json!("operator_credit"), Value::Null, Value::Null, Value::Null));
    assert_eq!(of(&items[2]), (json!("withdrawal_hold"), first["id"].clone(), json!("0.00"), json!("wechat")));
    let shown = json_of(
        app.get(&format!("/v1/withdrawals/{}", second["id"].as_str().unwrap()), Some(&user.token)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(shown, second);
    let list = json_of(app.get("/v1/withdrawals?status=in_review", Some(&user.token)).await, StatusCode::OK).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["id"], first["id"]);
    let page = json_of(app.get("/v1/withdrawals?limit=1", Some(&user.token)).await, StatusCode::OK).await;
    assert_eq!(page["items"][0]["id"], second["id"]);
    let next = json_of(
        app.get(
            &format!("/v1/withdrawals?limit=1&cursor={}", page["next_cursor"].as_str().unwrap()),
            Some(&user.token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!((next["items"][0]["id"].clone(), next["next_cursor"].clone()), (first["id"].clone(), Value::Null));
    let stranger = app.new_phone_user().await;
    let hidden = app.get(&format!("/v1/withdrawals/{}", second["id"].as_str().unwrap()), Some(&stranger.token)).await;
    assert_error(hidden, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    app.assert_ledger_balanced().await;
}

async fn a_wrong_pin_refuses_and_counts(store: StoreKind) {
    let app = spawn_app(store).await;
    let (user, binding_id) = ready_user(&app, "100.00").await;
    let wrong = json!({ "amount": "10.00", "binding_id": binding_id, "pin": "975310" });
    let refused =
        assert_error(withdraw(&app, &user, "w-1", wrong).await, StatusCode::UNPROCESSABLE_ENTITY, "PIN_INCORRECT")
            .await;
    assert_eq!(refused["error"]["details"]["attempts_remaining"], 4);
    assert_eq!(app.available(&user.token).await, "100.00");
    let missing_key = app.post("/v1/withdrawals", Some(&user.token), &body(&binding_id, "10.00")).await;
    let refused = assert_error(missing_key, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(refused["error"]["details"]["field"], "Idempotency-Key");
    let poor = withdraw(&app, &user, "w-2", body(&binding_id, "100.01")).await;
    assert_error(poor, StatusCode::UNPROCESSABLE_ENTITY, "INSUFFICIENT_BALANCE").await;
}

async fn a_quote_holds_its_price_or_the_withdrawal_is_refused(store: StoreKind) {
    let app = spawn_app(store).await;
    let (user, binding_id) = ready_user(&app, "1500.00").await;
    // Verified to L1, so the daily cap (10,000.00) is not what stops these.
    let identity = json!({ "level": "L1", "real_name": "张三丰", "id_number": "11010519491231002X" });
    json_of(app.post("/v1/kyc", Some(&user.token), &identity).await, StatusCode::ACCEPTED).await;
    app.clock.advance(Duration::seconds(5));
    let quoted = json_of(quote(&app, &user, &binding_id, "200.00").await, StatusCode::OK).await;
    let with_quote =
        json!({ "amount": "200.00", "binding_id": binding_id, "pin": PIN, "quote_id": quoted["quote_id"] });
    let done = json_of(withdraw(&app, &user, "q-1", with_quote).await, StatusCode::ACCEPTED).await;
    assert_eq!(
        (done["fee"].clone(), done["total_debit"].clone()),
        (quoted["fee"].clone(), quoted["total_debit"].clone())
    );

    // A quote for 700.00 is free now; after 200.00 more of the quota goes, it would cost a fee.
    let stale = json_of(quote(&app, &user, &binding_id, "700.00").await, StatusCode::OK).await;
    assert_eq!(stale["fee"], "0.00");
    json_of(withdraw(&app, &user, "q-2", body(&binding_id, "200.00")).await, StatusCode::ACCEPTED).await;
    let priced = json!({ "amount": "700.00", "binding_id": binding_id, "pin": PIN, "quote_id": stale["quote_id"] });
    assert_error(withdraw(&app, &user, "q-3", priced).await, StatusCode::CONFLICT, "QUOTE_EXPIRED").await;

    let late = json_of(quote(&app, &user, &binding_id, "1.00").await, StatusCode::OK).await;
    app.clock.advance(Duration::seconds(300));
    let mut user = user;
    app.log_in_again(&mut user).await;
    let expired = json!({ "amount": "1.00", "binding_id": binding_id, "pin": PIN, "quote_id": late["quote_id"] });
    assert_error(withdraw(&app, &user, "q-4", expired).await, StatusCode::CONFLICT, "QUOTE_EXPIRED").await;
}

async fn the_same_key_replays_and_a_reused_key_is_refused(store: StoreKind) {
    let app = spawn_app(store).await;
    let (user, binding_id) = ready_user(&app, "100.00").await;
    let first = withdraw(&app, &user, "same-key", body(&binding_id, "10.00")).await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = json_of(first, StatusCode::ACCEPTED).await;
    let again = withdraw(&app, &user, "same-key", body(&binding_id, "10.00")).await;
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(json_of(again, StatusCode::ACCEPTED).await, first);
    assert_eq!(app.available(&user.token).await, "90.00", "charged once");
    let other = withdraw(&app, &user, "same-key", body(&binding_id, "20.00")).await;
    assert_error(other, StatusCode::CONFLICT, "IDEMPOTENCY_KEY_REUSED").await;

    // A refusal is replayed too, even once the balance would allow it.
    let refused = withdraw(&app, &user, "poor-key", body(&binding_id, "95.00")).await;
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "INSUFFICIENT_BALANCE").await;
    let operator = app.operator_token().await;
    json_of(app.credit(&operator, &user.id, "100.00").await, StatusCode::CREATED).await;
    let replayed = withdraw(&app, &user, "poor-key", body(&binding_id, "95.00")).await;
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_error(replayed, StatusCode::UNPROCESSABLE_ENTITY, "INSUFFICIENT_BALANCE").await;
    // Keys are per user: another user's same key is a new request.
    let (other_user, other_binding) = ready_user(&app, "50.00").await;
    json_of(withdraw(&app, &other_user, "same-key", body(&other_binding, "10.00")).await, StatusCode::ACCEPTED).await;
}

async fn a_balance_affording_k_withdrawals_grants_exactly_k_of_50(store: StoreKind) {
    let app = spawn_app_with(store, generous_pin_limits).await;
    let (user, binding_id) = ready_user(&app, "30.00").await;
    let submissions = (0..50).map(|i| withdraw(&app, &user, format!("k-{i}"), body(&binding_id, "7.00")));
    let statuses: Vec<StatusCode> = join_all(submissions).await.iter().map(|r| r.status()).collect();
    let accepted = statuses.iter().filter(|s| **s == StatusCode::ACCEPTED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY).count();
    assert_eq!((accepted, refused), (4, 46), "statuses: {statuses:?}");
    let wallet = json_of(app.wallet(&user.token).await, StatusCode::OK).await;
    assert_eq!((wallet["available"].as_str(), wallet["held"].as_str()), (Some("2.00"), Some("28.00")));
    app.assert_ledger_balanced().await;
}

async fn the_daily_cap_holds_under_concurrency(store: StoreKind) {
    let app = spawn_app_with(store, generous_pin_limits).await;
    let (user, binding_id) = ready_user(&app, "5000.00").await;
    let submissions = (0..50).map(|i| withdraw(&app, &user, format!("d-{i}"), body(&binding_id, "300.00")));
    let replies = join_all(submissions).await;
    let mut accepted = 0;
    for reply in replies {
        if reply.status() == StatusCode::ACCEPTED {
            accepted += 1;
        } else {
            let refused = assert_error(reply, StatusCode::UNPROCESSABLE_ENTITY, "LIMIT_EXCEEDED").await;
            assert_eq!(refused["error"]["details"], json!({ "limit": "daily", "remaining": "100.00" }));
        }
    }
    assert_eq!(accepted, 3);
    assert_eq!(app.available(&user.token).await, "4100.00");
}

async fn twenty_concurrent_submissions_with_one_key_make_one_withdrawal(store: StoreKind) {
    let app = spawn_app_with(store, generous_pin_limits).await;
    let (user, binding_id) = ready_user(&app, "100.00").await;
    let submissions = (0..20).map(|_| withdraw(&app, &user, "one-key", body(&binding_id, "10.00")));
    let replies = join_all(submissions).await;
    let mut ids = std::collections::BTreeSet::new();
    for reply in replies {
        ids.insert(json_of(reply, StatusCode::ACCEPTED).await["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1);
    assert_eq!(app.available(&user.token).await, "90.00");
    let list = json_of(app.get("/v1/withdrawals", Some(&user.token)).await, StatusCode::OK).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
}

fn generous_pin_limits(settings: &mut walletgate::settings::Settings) {
    let generous = walletgate::settings::RateLimit { burst: 1000, per_minute: 1000 };
    settings.rate_limits.pin.per_account = generous;
    settings.rate_limits.pin.per_ip = generous;
}

/// A user with an active WeChat binding and `balance` in the wallet.
async fn funded_user(app: &TestApp, balance: &str) -> (TestUser, String) {
    let user = app.new_phone_user().await;
    let binding = Phone::of(app, &user).bind(Choice::NewUser { nickname: "张三丰", snapshot: false }).await;
    let operator = app.operator_token().await;
    json_of(app.credit(&operator, &user.id, balance).await, StatusCode::CREATED).await;
    (user, binding["id"].as_str().unwrap().to_owned())
}

async fn quote(app: &TestApp, user: &TestUser, binding_id: &str, amount: &str) -> reqwest::Response {
    app.post("/v1/withdrawals/quote", Some(&user.token), &json!({ "amount": amount, "binding_id": binding_id })).await
}

async fn a_quote_shows_fee_limits_review_and_arrival(store: StoreKind) {
    let app = spawn_app(store).await;
    let (user, binding_id) = funded_user(&app, "1500.00").await;
    let quoted = json_of(quote(&app, &user, &binding_id, "300.00").await, StatusCode::OK).await;
    assert_eq!(quoted["amount"], "300.00");
    assert_eq!(quoted["fee"], "0.00", "within the free quota");
    assert_eq!(quoted["total_debit"], "300.00");
    assert_eq!(quoted["arrives"], "300.00");
    assert_eq!(quoted["destination"]["nickname"], "张*丰");
    assert_eq!(quoted["review"], "manual");
    assert_eq!(quoted["review_reasons"], json!(["first_to_destination"]));
    // Reviewed first: decided within the operators' promise (2 h by default), paid out then.
    let at = |field: &str| chrono::DateTime::parse_from_rfc3339(quoted[field].as_str().unwrap()).unwrap();
    assert_eq!(at("review_decided_by"), walletgate::clock::Clock::now(&*app.clock) + chrono::Duration::hours(2));
    assert_eq!(at("expected_settlement_at"), at("review_decided_by"));
    assert_eq!(quoted["limits_after"]["daily_remaining"], "700.00");
    assert_eq!(quoted["limits_after"]["daily_count_remaining"], 4);
    assert_eq!(quoted["fee_free_quota_after"], "700.00");
    assert_eq!(quoted["fee_rule"], json!({ "rate": "0.001", "minimum": "0.10" }), "the rule it was priced by");
    assert!(quoted["quote_id"].as_str().unwrap().starts_with("quo_"));
    // A quote reserves nothing.
    let wallet = json_of(app.wallet(&user.token).await, StatusCode::OK).await;
    assert_eq!((wallet["available"].as_str(), wallet["held"].as_str()), (Some("1500.00"), Some("0.00")));
}

async fn quotes_refuse_what_a_withdrawal_would_refuse(store: StoreKind) {
    let app = spawn_app(store).await;
    let (user, binding_id) = funded_user(&app, "50.00").await;
    let below = assert_error(
        quote(&app, &user, &binding_id, "0.09").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "AMOUNT_BELOW_MINIMUM",
    )
    .await;
    assert_eq!(below["error"]["details"]["minimum"], "0.10");
    let over = assert_error(
        quote(&app, &user, &binding_id, "1000.01").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "LIMIT_EXCEEDED",
    )
    .await;
    assert_eq!(over["error"]["details"], json!({ "limit": "per_transaction", "remaining": "1000.00" }));
    let poor = assert_error(
        quote(&app, &user, &binding_id, "50.01").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INSUFFICIENT_BALANCE",
    )
    .await;
    assert_eq!(poor["error"]["details"], json!({ "available": "50.00", "requested": "50.01" }));
    json_of(quote(&app, &user, &binding_id, "50.00").await, StatusCode::OK).await;

    let stranger = app.new_phone_user().await;
    assert_error(quote(&app, &stranger, &binding_id, "1.00").await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let unbound_user = app.new_phone_user().await;
    let started =
        json_of(app.post("/v1/bindings/wechat", Some(&unbound_user.token), &json!({})).await, StatusCode::CREATED)
            .await;
    let pending = started["binding_id"].as_str().unwrap();
    assert_error(
        quote(&app, &unbound_user, pending, "1.00").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "NO_ACTIVE_BINDING",
    )
    .await;
    let malformed =
        app.post("/v1/withdrawals/quote", Some(&user.token), &json!({ "amount": 1.5, "binding_id": binding_id })).await;
    assert_error(malformed, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
}

async fn the_daily_cap_starts_again_at_midnight_in_shanghai(store: StoreKind) {
    let app = spawn_app(store).await;
    let (mut user, binding_id) = ready_user(&app, "5000.00").await;
    json_of(withdraw(&app, &user, "day-1", body(&binding_id, "1000.00")).await, StatusCode::ACCEPTED).await;
    let capped =
        assert_error(quote(&app, &user, &binding_id, "0.10").await, StatusCode::UNPROCESSABLE_ENTITY, "LIMIT_EXCEEDED")
            .await;
    assert_eq!(capped["error"]["details"], json!({ "limit": "daily", "remaining": "0.00" }));

    // The test clock starts at 2026-03-01 09:30 UTC = 17:30 in Shanghai; midnight there is 16:00 UTC.
    app.clock.advance(Duration::hours(6) + Duration::minutes(29));
    app.log_in_again(&mut user).await;
    let refused = withdraw(&app, &user, "day-1-again", body(&binding_id, "0.10")).await;
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "LIMIT_EXCEEDED").await;
    app.clock.advance(Duration::minutes(1));
    let next_day = json_of(withdraw(&app, &user, "day-2", body(&binding_id, "0.10")).await, StatusCode::ACCEPTED).await;
    assert_eq!(next_day["status"], "pending");
    let wallet = json_of(app.wallet(&user.token).await, StatusCode::OK).await;
    assert_eq!(wallet["limits"]["daily_remaining"], "999.90");
    assert_eq!(wallet["limits"]["monthly_remaining"], "1999.90", "the month still counts yesterday");
}

async fn a_level_that_may_not_withdraw_is_told_to_verify(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.withdrawals.levels.l0.withdrawals_allowed = false).await;
    let (user, binding_id) = ready_user(&app, "100.00").await;
    let refused = withdraw(&app, &user, "v-1", body(&binding_id, "10.00")).await;
    assert_error(refused, StatusCode::FORBIDDEN, "VERIFICATION_REQUIRED").await;
    let unknown_binding = withdraw(
        &app,
        &user,
        "v-2",
        json!({ "amount": "10.00", "binding_id": "bnd_00000000000000000000000000000000", "pin": "975310" }),
    )
    .await;
    assert_error(unknown_binding, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let me = json_of(app.me(&user.token).await, StatusCode::OK).await;
    assert_eq!(me["pin_attempts_remaining"], 5, "a wrong destination costs no PIN try");
    assert_eq!(app.available(&user.token).await, "100.00");
}

async fn each_withdrawal_is_queued_for_its_review(store: StoreKind) {
    use walletgate::services::keys::{MANUAL_REVIEW_SCHEDULE, PAYOUT_SCHEDULE};
    let app = spawn_app(store).await;
    let (user, binding_id) = ready_user(&app, "100.00").await;
    let first = json_of(withdraw(&app, &user, "r-1", body(&binding_id, "10.00")).await, StatusCode::ACCEPTED).await;
    let second = json_of(withdraw(&app, &user, "r-2", body(&binding_id, "10.00")).await, StatusCode::ACCEPTED).await;
    assert_error(
        withdraw(&app, &user, "r-3", body(&binding_id, "500.00")).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INSUFFICIENT_BALANCE",
    )
    .await;
    let store = &app.services.partitions.store;
    let member = |w: &Value| format!("{}/{}", user.id, w["id"].as_str().unwrap());
    let manual = store.scheduled(MANUAL_REVIEW_SCHEDULE, i64::MAX, 10).await.unwrap();
    assert_eq!(
        manual.iter().map(|(m, _)| m.clone()).collect::<Vec<_>>(),
        [member(&first)],
        "the first to a destination waits for an operator"
    );
    let now_ms = app.services.partitions.now().timestamp_millis();
    assert!(store.scheduled(PAYOUT_SCHEDULE, now_ms + 4_999, 10).await.unwrap().is_empty(), "not due before the delay");
    let due = store.scheduled(PAYOUT_SCHEDULE, now_ms + 5_000, 10).await.unwrap();
    assert_eq!(due, [(member(&second), now_ms + 5_000)]);
}
