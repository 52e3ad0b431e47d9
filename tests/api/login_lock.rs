//! The login lock: failed logins are counted on the account in the store, so
//! every gateway instance sees one count; the fifth failure in a row locks
//! the login (423 `LOGIN_LOCKED`), even for the right password, until the
//! business clock passes the lock. Unknown logins answer exactly the same.

use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletgate::clock::Clock;

use crate::helpers::{
    StoreKind, TestApp, assert_error, json_of, spawn_app, spawn_second_instance, unique_phone, without_request_id,
};
use crate::on_both_stores;

on_both_stores!(
    five_wrong_passwords_lock_the_login_and_the_right_one_waits_for_the_clock,
    two_instances_share_one_failed_login_count,
    unknown_logins_answer_exactly_like_wrong_passwords_through_the_lock,
);

fn credentials(phone: &str, password: &str) -> Value {
    json!({ "phone": phone, "password": password })
}

fn locked_until(body: &Value) -> DateTime<Utc> {
    body["error"]["details"]["locked_until"].as_str().expect("locked_until").parse().expect("an RFC 3339 time")
}

async fn refused(app: &TestApp, phone: &str) {
    let response = app.login(&credentials(phone, "wrong-horse")).await;
    assert_error(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

async fn five_wrong_passwords_lock_the_login_and_the_right_one_waits_for_the_clock(store: StoreKind) {
    let app = spawn_app(store).await;
    let user = app.new_phone_user().await;
    for _ in 0..4 {
        refused(&app, &user.phone).await;
    }
    let fifth = app.login(&credentials(&user.phone, "wrong-horse")).await;
    let body = assert_error(fifth, StatusCode::LOCKED, "LOGIN_LOCKED").await;
    let until = locked_until(&body);
    assert_eq!(until, app.clock.now() + Duration::minutes(15));

    let right = credentials(&user.phone, "correct-horse");
    app.clock.advance(Duration::minutes(15) - Duration::seconds(1));
    let body = assert_error(app.login(&right).await, StatusCode::LOCKED, "LOGIN_LOCKED").await;
    assert_eq!(locked_until(&body), until);
    app.clock.advance(Duration::seconds(1));
    json_of(app.login(&right).await, StatusCode::OK).await;
}

async fn two_instances_share_one_failed_login_count(store: StoreKind) {
    let first = spawn_app(store).await;
    let second = spawn_second_instance(&first).await;
    let user = first.new_phone_user().await;
    for app in [&first, &second, &first, &second] {
        refused(app, &user.phone).await;
    }
    let fifth = second.login(&credentials(&user.phone, "wrong-horse")).await;
    assert_error(fifth, StatusCode::LOCKED, "LOGIN_LOCKED").await;
    let right = first.login(&credentials(&user.phone, "correct-horse")).await;
    assert_error(right, StatusCode::LOCKED, "LOGIN_LOCKED").await;
}

async fn unknown_logins_answer_exactly_like_wrong_passwords_through_the_lock(store: StoreKind) {
    let app = spawn_app(store).await;
    let user = app.new_phone_user().await;
    let unknown = unique_phone();
    for attempt in 1..=6 {
        let known = app.login(&credentials(&user.phone, "wrong-horse")).await;
        let stranger = app.login(&credentials(&unknown, "wrong-horse")).await;
        assert_eq!(known.status(), stranger.status(), "attempt {attempt}");
        let (known, stranger): (Value, Value) = (known.json().await.unwrap(), stranger.json().await.unwrap());
        assert_eq!(without_request_id(known), without_request_id(stranger), "attempt {attempt}");
    }
}
