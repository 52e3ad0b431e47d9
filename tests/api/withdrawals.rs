//! Quoting withdrawals: cost, limits left, review, and every refusal a
//! submission would meet (except the PIN), in the order a user meets them.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::bindings::{Choice, Phone};
use crate::helpers::{StoreKind, TestApp, TestUser, assert_error, json_of, spawn_app};
use crate::on_both_stores;

on_both_stores!(
    a_quote_shows_fee_limits_review_and_arrival,
    quotes_refuse_what_a_withdrawal_would_refuse,
    the_daily_cap_starts_again_at_midnight_in_shanghai,
);

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
    assert_eq!(quoted["expected_settlement_at"], Value::Null);
    assert_eq!(quoted["limits_after"]["daily_remaining"], "700.00");
    assert_eq!(quoted["limits_after"]["daily_count_remaining"], 4);
    assert_eq!(quoted["fee_free_quota_after"], "700.00");
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
    let (mut user, binding_id) = funded_user(&app, "5000.00").await;
    // Spend the L0 daily cap directly in the store's usage counters, as
    // withdrawals will: 1,000.00 today (Shanghai time).
    let id = walletgate::domain::account::AccountId::parse(&user.id).unwrap();
    let today = app.services.withdrawals.local_date(app.services.now());
    app.services
        .update_account(&id, |account, _| {
            account
                .withdrawal_usage
                .record("1000.00".parse().unwrap(), today)
                .map_err(walletgate::error::ApiError::internal)?;
            Ok(((), Vec::new()))
        })
        .await
        .unwrap();
    let capped =
        assert_error(quote(&app, &user, &binding_id, "0.10").await, StatusCode::UNPROCESSABLE_ENTITY, "LIMIT_EXCEEDED")
            .await;
    assert_eq!(capped["error"]["details"], json!({ "limit": "daily", "remaining": "0.00" }));

    // The test clock starts at 2026-03-01 09:30 UTC = 17:30 in Shanghai; midnight there is 16:00 UTC.
    app.clock.advance(Duration::hours(6) + Duration::minutes(29));
    app.log_in_again(&mut user).await;
    assert_error(quote(&app, &user, &binding_id, "0.10").await, StatusCode::UNPROCESSABLE_ENTITY, "LIMIT_EXCEEDED")
        .await;
    app.clock.advance(Duration::minutes(1));
    let next_day = json_of(quote(&app, &user, &binding_id, "0.10").await, StatusCode::OK).await;
    assert_eq!(next_day["limits_after"]["daily_remaining"], "999.90");
    assert_eq!(next_day["limits_after"]["monthly_remaining"], "1999.90", "the month still counts yesterday");
}
