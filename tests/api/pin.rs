//! The payment PIN: set, change, reset, the wrong-entry countdown and lock,
//! SMS codes and rate limits.

use chrono::Duration;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletgate::clock::Clock;
use walletgate::settings::RateLimit;

use crate::helpers::{StoreKind, TestApp, TestUser, assert_error, json_of, spawn_app, spawn_app_with, unique_phone};
use crate::on_both_stores;

on_both_stores!(
    a_pin_is_set_with_an_sms_code_changed_with_the_old_pin_and_reset_with_a_reset_code,
    trivial_and_malformed_pins_are_refused,
    wrong_pins_count_down_then_lock_and_the_lock_ends_by_the_clock,
    repeated_locks_last_longer,
    a_reset_lifts_the_lock,
    a_verified_accounts_reset_also_needs_the_last_six_of_its_id_number,
    concurrent_wrong_pins_never_get_more_tries_than_allowed,
    sms_codes_expire_are_single_use_and_bound_to_their_purpose,
    wrong_sms_codes_void_the_code,
    a_code_is_checked_ahead_of_its_change_without_being_used_up,
    sms_codes_and_pin_entries_are_rate_limited,
    logins_are_rate_limited_per_address,
    the_stored_pin_is_a_salted_keyed_digest,
);

const PIN: &str = "135790";
const OTHER_PIN: &str = "246813";
const WRONG_PIN: &str = "975310";

async fn verify(app: &TestApp, user: &TestUser, pin: &str) -> reqwest::Response {
    app.verify_pin(&user.token, pin).await
}

async fn me(app: &TestApp, user: &TestUser) -> Value {
    json_of(app.me(&user.token).await, StatusCode::OK).await
}

/// Enters the wrong PIN until it locks; returns the lock's end.
async fn lock_pin(app: &TestApp, user: &TestUser) -> String {
    for _ in 0..4 {
        assert_error(verify(app, user, WRONG_PIN).await, StatusCode::UNPROCESSABLE_ENTITY, "PIN_INCORRECT").await;
    }
    let locked = assert_error(verify(app, user, WRONG_PIN).await, StatusCode::LOCKED, "PIN_LOCKED").await;
    locked["error"]["details"]["locked_until"].as_str().unwrap().to_owned()
}

async fn a_pin_is_set_with_an_sms_code_changed_with_the_old_pin_and_reset_with_a_reset_code(store: StoreKind) {
    let generous = RateLimit { burst: 100, per_minute: 100 };
    let app = spawn_app_with(store, |settings| settings.rate_limits.sms.per_account = generous).await;
    let user = app.new_phone_user().await;
    assert_eq!(me(&app, &user).await["pin_set"], false);
    assert_error(verify(&app, &user, PIN).await, StatusCode::UNPROCESSABLE_ENTITY, "PIN_NOT_SET").await;
    assert_error(app.request_sms_code(&user.token, "reset_pin").await, StatusCode::UNPROCESSABLE_ENTITY, "PIN_NOT_SET")
        .await;

    let sent = json_of(app.request_sms_code(&user.token, "set_pin").await, StatusCode::ACCEPTED).await;
    assert_eq!(sent["sent_to"], format!("{}****{}", &user.phone[..3], &user.phone[7..]));
    let code = app.latest_sms_code(&user.phone, "set_pin").await;
    json_of(app.put_pin(&user.token, &json!({ "pin": PIN, "sms_code": code })).await, StatusCode::OK).await;
    let profile = me(&app, &user).await;
    assert_eq!((profile["pin_set"].as_bool(), profile["pin_attempts_remaining"].as_u64()), (Some(true), Some(5)));
    assert_eq!(json_of(verify(&app, &user, PIN).await, StatusCode::OK).await["verified"], true);
    assert_error(app.request_sms_code(&user.token, "set_pin").await, StatusCode::CONFLICT, "PIN_ALREADY_SET").await;

    let change = json!({ "pin": OTHER_PIN, "old_pin": PIN });
    json_of(app.put_pin(&user.token, &change).await, StatusCode::OK).await;
    assert_error(verify(&app, &user, PIN).await, StatusCode::UNPROCESSABLE_ENTITY, "PIN_INCORRECT").await;
    json_of(verify(&app, &user, OTHER_PIN).await, StatusCode::OK).await;
    let stale_change = json!({ "pin": PIN, "old_pin": WRONG_PIN });
    assert_error(app.put_pin(&user.token, &stale_change).await, StatusCode::UNPROCESSABLE_ENTITY, "PIN_INCORRECT")
        .await;

    json_of(app.request_sms_code(&user.token, "reset_pin").await, StatusCode::ACCEPTED).await;
    let code = app.latest_sms_code(&user.phone, "reset_pin").await;
    json_of(app.put_pin(&user.token, &json!({ "pin": PIN, "sms_code": code })).await, StatusCode::OK).await;
    json_of(verify(&app, &user, PIN).await, StatusCode::OK).await;
}

async fn trivial_and_malformed_pins_are_refused(store: StoreKind) {
    let app = spawn_app(store).await;
    let user = app.new_phone_user().await;
    json_of(app.request_sms_code(&user.token, "set_pin").await, StatusCode::ACCEPTED).await;
    let code = app.latest_sms_code(&user.phone, "set_pin").await;
    for trivial in ["111111", "123456", "654321", "121212", "123123"] {
        let refused = app.put_pin(&user.token, &json!({ "pin": trivial, "sms_code": code })).await;
        assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "PIN_TOO_SIMPLE").await;
    }
    let cases = [
        json!({ "pin": "12345", "sms_code": code }),
        json!({ "pin": "1234567", "sms_code": code }),
        json!({ "pin": 135790, "sms_code": code }),
        json!({ "pin": "13579a", "sms_code": code }),
        json!({ "pin": PIN }),
        json!({ "pin": PIN, "sms_code": code, "old_pin": OTHER_PIN }),
        json!({ "pin": PIN, "sms_code": "12" }),
    ];
    for body in cases {
        assert_error(app.put_pin(&user.token, &body).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    }
    // None of that used up the code.
    json_of(app.put_pin(&user.token, &json!({ "pin": PIN, "sms_code": code })).await, StatusCode::OK).await;
}

async fn wrong_pins_count_down_then_lock_and_the_lock_ends_by_the_clock(store: StoreKind) {
    let app = spawn_app(store).await;
    let mut user = app.new_phone_user().await;
    app.set_pin(&user, PIN).await;
    for remaining in [4, 3, 2, 1] {
        let wrong =
            assert_error(verify(&app, &user, WRONG_PIN).await, StatusCode::UNPROCESSABLE_ENTITY, "PIN_INCORRECT").await;
        assert_eq!(wrong["error"]["details"]["attempts_remaining"], remaining);
    }
    let locked = assert_error(verify(&app, &user, WRONG_PIN).await, StatusCode::LOCKED, "PIN_LOCKED").await;
    let expected_until = app.clock.now() + Duration::hours(3);
    let until = locked["error"]["details"]["locked_until"].as_str().unwrap();
    assert_eq!(chrono::DateTime::parse_from_rfc3339(until).unwrap(), expected_until);
    let profile = me(&app, &user).await;
    assert_eq!(
        (profile["pin_attempts_remaining"].as_u64(), profile["pin_locked_until"].as_str()),
        (Some(0), Some(until))
    );

    app.clock.advance(Duration::hours(3) - Duration::seconds(1));
    app.log_in_again(&mut user).await;
    assert_error(verify(&app, &user, PIN).await, StatusCode::LOCKED, "PIN_LOCKED").await;
    app.clock.advance(Duration::seconds(1));
    json_of(verify(&app, &user, PIN).await, StatusCode::OK).await;
    assert_eq!(me(&app, &user).await["pin_locked_until"], Value::Null);
}

async fn repeated_locks_last_longer(store: StoreKind) {
    let generous = RateLimit { burst: 100, per_minute: 100 };
    let app = spawn_app_with(store, |settings| settings.rate_limits.pin.per_account = generous).await;
    let mut user = app.new_phone_user().await;
    app.set_pin(&user, PIN).await;
    lock_pin(&app, &user).await;
    app.clock.advance(Duration::hours(3));
    app.log_in_again(&mut user).await;
    let second = lock_pin(&app, &user).await;
    let expected = app.clock.now() + Duration::hours(6);
    assert_eq!(chrono::DateTime::parse_from_rfc3339(&second).unwrap(), expected);
}

async fn a_reset_lifts_the_lock(store: StoreKind) {
    let app = spawn_app(store).await;
    let user = app.new_phone_user().await;
    app.set_pin(&user, PIN).await;
    lock_pin(&app, &user).await;
    json_of(app.request_sms_code(&user.token, "reset_pin").await, StatusCode::ACCEPTED).await;
    let code = app.latest_sms_code(&user.phone, "reset_pin").await;
    json_of(app.put_pin(&user.token, &json!({ "pin": OTHER_PIN, "sms_code": code })).await, StatusCode::OK).await;
    json_of(verify(&app, &user, OTHER_PIN).await, StatusCode::OK).await;
    assert_eq!(me(&app, &user).await["pin_attempts_remaining"], 5);
}

async fn a_verified_accounts_reset_also_needs_the_last_six_of_its_id_number(store: StoreKind) {
    let app = spawn_app(store).await;
    let user = app.new_phone_user().await;
    app.set_pin(&user, PIN).await;
    let id_number = crate::kyc::resident_id("11010519491231002");
    let verification = json!({ "level": "L1", "real_name": "张三丰", "id_number": id_number });
    json_of(app.post("/v1/kyc", Some(&user.token), &verification).await, StatusCode::ACCEPTED).await;
    app.clock.advance(Duration::seconds(5));
    let reset_code = || async {
        json_of(app.request_sms_code(&user.token, "reset_pin").await, StatusCode::ACCEPTED).await;
        app.latest_sms_code(&user.phone, "reset_pin").await
    };

    // Without the answer: refused naming the field, and the code still works.
    let code = reset_code().await;
    let missing = app.put_pin(&user.token, &json!({ "pin": OTHER_PIN, "sms_code": code })).await;
    let refused = assert_error(missing, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(refused["error"]["details"]["field"], "id_number_last6");
    let malformed = json!({ "pin": OTHER_PIN, "sms_code": code, "id_number_last6": "31-02X" });
    let refused =
        assert_error(app.put_pin(&user.token, &malformed).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(refused["error"]["details"]["field"], "id_number_last6");
    // A wrong answer spends the code; the PIN is unchanged.
    let wrong = json!({ "pin": OTHER_PIN, "sms_code": code, "id_number_last6": "310029" });
    assert_error(app.put_pin(&user.token, &wrong).await, StatusCode::UNPROCESSABLE_ENTITY, "IDENTITY_CHECK_FAILED")
        .await;
    let right = json!({ "pin": OTHER_PIN, "sms_code": code, "id_number_last6": "31002x" });
    assert_error(app.put_pin(&user.token, &right).await, StatusCode::UNPROCESSABLE_ENTITY, "SMS_CODE_EXPIRED").await;
    json_of(verify(&app, &user, PIN).await, StatusCode::OK).await;
    // A new code and the right answer (either case of X) reset it.
    let right = json!({ "pin": OTHER_PIN, "sms_code": reset_code().await, "id_number_last6": "31002x" });
    json_of(app.put_pin(&user.token, &right).await, StatusCode::OK).await;
    json_of(verify(&app, &user, OTHER_PIN).await, StatusCode::OK).await;
}

async fn concurrent_wrong_pins_never_get_more_tries_than_allowed(store: StoreKind) {
    let generous = RateLimit { burst: 1000, per_minute: 1000 };
    let app = spawn_app_with(store, |settings| {
        settings.rate_limits.pin.per_account = generous;
        settings.rate_limits.pin.per_ip = generous;
    })
    .await;
    let user = app.new_phone_user().await;
    app.set_pin(&user, PIN).await;
    let statuses: Vec<StatusCode> =
        join_all((0..100).map(|_| verify(&app, &user, WRONG_PIN))).await.iter().map(|r| r.status()).collect();
    let judged = statuses.iter().filter(|s| **s == StatusCode::UNPROCESSABLE_ENTITY).count();
    let locked = statuses.iter().filter(|s| **s == StatusCode::LOCKED).count();
    assert_eq!((judged, locked), (4, 96), "statuses: {statuses:?}");
    assert_error(verify(&app, &user, PIN).await, StatusCode::LOCKED, "PIN_LOCKED").await;
}

async fn sms_codes_expire_are_single_use_and_bound_to_their_purpose(store: StoreKind) {
    let app = spawn_app(store).await;
    let user = app.new_phone_user().await;
    json_of(app.request_sms_code(&user.token, "set_pin").await, StatusCode::ACCEPTED).await;
    let code = app.latest_sms_code(&user.phone, "set_pin").await;
    app.clock.advance(Duration::seconds(300));
    let expired = app.put_pin(&user.token, &json!({ "pin": PIN, "sms_code": code })).await;
    assert_error(expired, StatusCode::UNPROCESSABLE_ENTITY, "SMS_CODE_EXPIRED").await;

    json_of(app.request_sms_code(&user.token, "set_pin").await, StatusCode::ACCEPTED).await;
    let code = app.latest_sms_code(&user.phone, "set_pin").await;
    json_of(app.put_pin(&user.token, &json!({ "pin": PIN, "sms_code": code })).await, StatusCode::OK).await;
    // Used once; and a set_pin code is no reset_pin code.
    let reused = app.put_pin(&user.token, &json!({ "pin": OTHER_PIN, "sms_code": code })).await;
    assert_error(reused, StatusCode::UNPROCESSABLE_ENTITY, "SMS_CODE_EXPIRED").await;
    let unknown_purpose = app.request_sms_code(&user.token, "withdraw_everything").await;
    let refused = assert_error(unknown_purpose, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(refused["error"]["details"]["field"], "purpose");
}

async fn wrong_sms_codes_void_the_code(store: StoreKind) {
    let app = spawn_app(store).await;
    let user = app.new_phone_user().await;
    json_of(app.request_sms_code(&user.token, "set_pin").await, StatusCode::ACCEPTED).await;
    let code = app.latest_sms_code(&user.phone, "set_pin").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for remaining in [2, 1, 0] {
        let refused = app.put_pin(&user.token, &json!({ "pin": PIN, "sms_code": wrong })).await;
        let body = assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "SMS_CODE_INCORRECT").await;
        assert_eq!(body["error"]["details"]["attempts_remaining"], remaining);
    }
    let too_late = app.put_pin(&user.token, &json!({ "pin": PIN, "sms_code": code })).await;
    assert_error(too_late, StatusCode::UNPROCESSABLE_ENTITY, "SMS_CODE_EXPIRED").await;
    assert_eq!(me(&app, &user).await["pin_set"], false);
}

async fn a_code_is_checked_ahead_of_its_change_without_being_used_up(store: StoreKind) {
    let app = spawn_app(store).await;
    let user = app.new_phone_user().await;
    let check = |purpose: &'static str, code: String| {
        let body = json!({ "purpose": purpose, "sms_code": code });
        let token = user.token.clone();
        let app = &app;
        async move { app.post("/v1/sms/codes/check", Some(&token), &body).await }
    };
    let none_sent = check("set_pin", "123456".into()).await;
    assert_error(none_sent, StatusCode::UNPROCESSABLE_ENTITY, "SMS_CODE_EXPIRED").await;
    json_of(app.request_sms_code(&user.token, "set_pin").await, StatusCode::ACCEPTED).await;
    let code = app.latest_sms_code(&user.phone, "set_pin").await;
    let wrong = if code == "000000" { "111111" } else { "000000" };

    let refused =
        assert_error(check("set_pin", wrong.into()).await, StatusCode::UNPROCESSABLE_ENTITY, "SMS_CODE_INCORRECT")
            .await;
    assert_eq!(refused["error"]["details"]["attempts_remaining"], 2, "a wrong check costs a try");
    assert_eq!(json_of(check("set_pin", code.clone()).await, StatusCode::OK).await, json!({ "valid": true }));
    assert_eq!(json_of(check("set_pin", code.clone()).await, StatusCode::OK).await["valid"], true, "still there");
    let for_reset = check("reset_pin", code.clone()).await;
    assert_error(for_reset, StatusCode::UNPROCESSABLE_ENTITY, "PIN_NOT_SET").await;
    let malformed =
        assert_error(check("set_pin", "12345".into()).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(malformed["error"]["details"]["field"], "sms_code");
    let register =
        assert_error(check("register", code.clone()).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(register["error"]["details"]["field"], "purpose");

    // The checked code still sets the PIN, once.
    json_of(app.put_pin(&user.token, &json!({ "pin": PIN, "sms_code": code })).await, StatusCode::OK).await;
    assert_error(check("set_pin", code).await, StatusCode::CONFLICT, "PIN_ALREADY_SET").await;
}

async fn sms_codes_and_pin_entries_are_rate_limited(store: StoreKind) {
    let app = spawn_app(store).await;
    let user = app.new_phone_user().await;
    for _ in 0..3 {
        json_of(app.request_sms_code(&user.token, "set_pin").await, StatusCode::ACCEPTED).await;
    }
    let limited = app.request_sms_code(&user.token, "set_pin").await;
    assert!(limited.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap() >= 1);
    assert_error(limited, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;

    let code = app.latest_sms_code(&user.phone, "set_pin").await;
    json_of(app.put_pin(&user.token, &json!({ "pin": PIN, "sms_code": code })).await, StatusCode::OK).await;
    // The PUT above was the first of 10 PIN entries allowed at once.
    for _ in 0..9 {
        json_of(verify(&app, &user, PIN).await, StatusCode::OK).await;
    }
    let limited = verify(&app, &user, PIN).await;
    assert!(limited.headers().contains_key("retry-after"));
    assert_error(limited, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
}

async fn logins_are_rate_limited_per_address(store: StoreKind) {
    let app =
        spawn_app_with(store, |settings| settings.rate_limits.login.per_ip = RateLimit { burst: 3, per_minute: 1 })
            .await;
    for _ in 0..3 {
        let unknown = app.login(&json!({ "phone": unique_phone(), "password": "some-guess" })).await;
        assert_error(unknown, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    }
    let limited = app.login(&json!({ "phone": "13800000001", "password": "alice-demo" })).await;
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_error(limited, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
}

async fn the_stored_pin_is_a_salted_keyed_digest(store: StoreKind) {
    let app = spawn_app(store).await;
    let (first, second) = (app.new_phone_user().await, app.new_phone_user().await);
    app.set_pin(&first, PIN).await;
    app.set_pin(&second, PIN).await;
    let mut records = Vec::new();
    for user in [&first, &second] {
        let id = walletgate::domain::account::AccountId::parse(&user.id).unwrap();
        let stored = app.services.partitions.store.load_account(&id).await.unwrap().unwrap().value;
        let dump = serde_json::to_string(&stored).unwrap();
        assert!(!dump.contains(PIN), "the PIN appears in the stored record: {dump}");
        records.push(stored.pin.clone().unwrap());
    }
    assert_ne!(records[0].salt, records[1].salt);
    assert_ne!(records[0].digest, records[1].digest, "same PIN, different accounts, different digests");
    assert_eq!(records[0].digest.len(), 64);
}
