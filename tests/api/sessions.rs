//! Login sessions: logging out ends a session's refresh and access tokens at
//! once (and no other session's), a browser app's refresh token kept in an
//! HttpOnly cookie, and registering a phone proved by an SMS code.

use reqwest::StatusCode;
use reqwest::header::{COOKIE, SET_COOKIE};
use serde_json::{Value, json};

use crate::helpers::{StoreKind, TestApp, assert_error, json_of, spawn_app, spawn_app_with, unique_phone};
use crate::on_both_stores;

on_both_stores!(
    logging_out_ends_its_session_and_no_other,
    logging_out_with_a_refresh_token_alone_ends_the_access_tokens_of_its_session,
    a_browser_login_keeps_its_refresh_token_in_an_http_only_cookie,
    registering_a_phone_needs_the_code_texted_to_it_when_required,
    a_registration_code_is_checked_whenever_given_and_dies_after_three_wrong_tries,
    registration_codes_are_rate_limited_per_phone,
);

async fn log_out(app: &TestApp, access: Option<&str>, body: &Value) -> reqwest::Response {
    app.post("/v1/auth/logout", access, body).await
}

fn text<'a>(tokens: &'a Value, field: &str) -> &'a str {
    tokens[field].as_str().unwrap_or_else(|| panic!("no {field}: {tokens}"))
}

/// The `walletgate_refresh` cookie an answer sets: (value, attributes).
fn refresh_cookie(response: &reqwest::Response) -> (String, String) {
    let header = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find(|value| value.starts_with("walletgate_refresh="))
        .unwrap_or_else(|| panic!("no refresh cookie: {:?}", response.headers()))
        .to_owned();
    let (pair, attributes) = header.split_once(';').unwrap_or((&header, ""));
    (pair.trim_start_matches("walletgate_refresh=").to_owned(), attributes.to_owned())
}

async fn logging_out_ends_its_session_and_no_other(store: StoreKind) {
    let app = spawn_app(store).await;
    let phone_a = app.login_phone("13800000001", "alice-demo").await;
    let laptop = app.login_phone("13800000001", "alice-demo").await;
    assert_eq!(app.wallet(text(&phone_a, "access_token")).await.status(), StatusCode::OK);

    // A body that is no object is a client's mistake, not a request to log out.
    for not_an_object in [json!([null]), json!([text(&phone_a, "refresh_token")]), json!(null)] {
        let refused = log_out(&app, Some(text(&phone_a, "access_token")), &not_an_object).await;
        assert_error(refused, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    }
    assert_eq!(app.wallet(text(&phone_a, "access_token")).await.status(), StatusCode::OK, "still logged in");

    let body = json!({ "refresh_token": text(&phone_a, "refresh_token") });
    let answer = log_out(&app, Some(text(&phone_a, "access_token")), &body).await;
    assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    let (value, attributes) = refresh_cookie(&answer);
    assert!(value.is_empty() && attributes.contains("Max-Age=0"), "the cookie is cleared: {attributes}");

    let wallet = app.wallet(text(&phone_a, "access_token")).await;
    assert_error(wallet, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let me = app.me(text(&phone_a, "access_token")).await;
    assert_error(me, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let refreshed = app.refresh(text(&phone_a, "refresh_token")).await;
    assert_error(refreshed, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;

    assert_eq!(app.wallet(text(&laptop, "access_token")).await.status(), StatusCode::OK, "another session goes on");
    let renewed = json_of(app.refresh(text(&laptop, "refresh_token")).await, StatusCode::OK).await;
    assert_eq!(app.wallet(text(&renewed, "access_token")).await.status(), StatusCode::OK);

    let again = log_out(&app, Some(text(&phone_a, "access_token")), &body).await;
    assert_eq!(again.status(), StatusCode::NO_CONTENT, "logging out twice is logging out");
    assert_eq!(log_out(&app, None, &json!({})).await.status(), StatusCode::NO_CONTENT, "nothing to end");
    let overlong = log_out(&app, None, &json!({ "refresh_token": "x".repeat(257) })).await;
    assert_error(overlong, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
}

async fn logging_out_with_a_refresh_token_alone_ends_the_access_tokens_of_its_session(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = json_of(
        app.login(&json!({ "email": "ops@walletgate.test", "password": "operator-demo" })).await,
        StatusCode::OK,
    )
    .await;
    let first = app.login_phone("13800000002", "bob-demo").await;
    let second = json_of(app.refresh(text(&first, "refresh_token")).await, StatusCode::OK).await;

    // The consumed first refresh token still names its session.
    let answer = log_out(&app, None, &json!({ "refresh_token": text(&first, "refresh_token") })).await;
    assert_eq!(answer.status(), StatusCode::NO_CONTENT);
    for access in [text(&first, "access_token"), text(&second, "access_token")] {
        assert_error(app.wallet(access).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    }
    let next = app.refresh(text(&second, "refresh_token")).await;
    assert_error(next, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    assert_eq!(app.login_phone("13800000002", "bob-demo").await["token_type"], "Bearer", "a new login works");

    // An operator's logged-out token gets no further either.
    let ops_token = text(&operator, "access_token");
    assert_eq!(app.ledger_check(ops_token).await.status(), StatusCode::OK);
    log_out(&app, Some(ops_token), &json!({})).await;
    assert_error(app.ledger_check(ops_token).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

async fn a_browser_login_keeps_its_refresh_token_in_an_http_only_cookie(store: StoreKind) {
    let app = spawn_app(store).await;
    let body = json!({ "phone": "13800000003", "password": "carol-demo", "refresh_cookie": true });
    let login = app.login(&body).await;
    assert_eq!(login.status(), StatusCode::OK);
    let (first, attributes) = refresh_cookie(&login);
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/v1/auth", "Max-Age=2592000"] {
        assert!(attributes.contains(attribute), "{attribute} missing: {attributes}");
    }
    let tokens: Value = login.json().await.unwrap();
    assert!(tokens.get("refresh_token").is_none(), "no script sees it: {tokens}");
    assert_eq!(tokens["refresh_expires_in"], 2_592_000);

    let by_cookie = |token: String| {
        app.client
            .post(app.url("/v1/auth/refresh"))
            .header(COOKIE, format!("walletgate_refresh={token}"))
            .json(&json!({}))
            .send()
    };
    let refreshed = by_cookie(first.clone()).await.unwrap();
    assert_eq!(refreshed.status(), StatusCode::OK);
    let (second, _) = refresh_cookie(&refreshed);
    assert_ne!(second, first, "the cookie rotates");
    let renewed: Value = refreshed.json().await.unwrap();
    assert!(renewed.get("refresh_token").is_none(), "{renewed}");
    let access = text(&renewed, "access_token").to_owned();
    assert_eq!(app.wallet(&access).await.status(), StatusCode::OK);

    let missing = app.post("/v1/auth/refresh", None, &json!({})).await;
    let missing = assert_error(missing, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(missing["error"]["details"]["field"], "refresh_token");

    let logout = app
        .client
        .post(app.url("/v1/auth/logout"))
        .header(COOKIE, format!("walletgate_refresh={second}"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    assert_error(app.wallet(&access).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let after = by_cookie(second).await.unwrap();
    assert_error(after, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

async fn send_register_code(app: &TestApp, phone: &str) -> reqwest::Response {
    app.post("/v1/auth/register/code", None, &json!({ "phone": phone })).await
}

fn other_than(code: &str) -> &'static str {
    if code == "000000" { "111111" } else { "000000" }
}

async fn registering_a_phone_needs_the_code_texted_to_it_when_required(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.sms.register_code_required = true).await;
    let phone = unique_phone();
    let without = app.register(&json!({ "phone": phone, "password": "correct-horse" })).await;
    let without = assert_error(without, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(without["error"]["details"]["field"], "sms_code");
    let none_sent = app.register(&json!({ "phone": phone, "password": "correct-horse", "sms_code": "123456" })).await;
    assert_error(none_sent, StatusCode::UNPROCESSABLE_ENTITY, "SMS_CODE_EXPIRED").await;

    let sent = json_of(send_register_code(&app, &phone).await, StatusCode::ACCEPTED).await;
    assert_eq!(sent["purpose"], "register");
    assert_eq!(sent["sent_to"], format!("{}****{}", &phone[..3], &phone[7..]));
    let code = app.latest_sms_code(&phone, "register").await;
    let wrong = json!({ "phone": phone, "password": "correct-horse", "sms_code": other_than(&code) });
    let wrong = assert_error(app.register(&wrong).await, StatusCode::UNPROCESSABLE_ENTITY, "SMS_CODE_INCORRECT").await;
    assert_eq!(wrong["error"]["details"]["attempts_remaining"], 2);

    let right = json!({ "phone": phone, "password": "correct-horse", "sms_code": code });
    let profile = json_of(app.register(&right).await, StatusCode::CREATED).await;
    assert_eq!(profile["verification_level"], "L0");
    assert_eq!(app.login_phone(&phone, "correct-horse").await["token_type"], "Bearer");
    let reused = app.register(&right).await;
    assert_error(reused, StatusCode::UNPROCESSABLE_ENTITY, "SMS_CODE_EXPIRED").await;

    let email = json!({ "email": "someone@example.com", "password": "correct-horse", "sms_code": code });
    let email = assert_error(app.register(&email).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(email["error"]["details"]["field"], "sms_code");
    let malformed =
        app.register(&json!({ "phone": unique_phone(), "password": "correct-horse", "sms_code": "12a" })).await;
    assert_error(malformed, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    let bad_phone =
        assert_error(send_register_code(&app, "12345").await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(bad_phone["error"]["details"]["field"], "phone");
}

async fn a_registration_code_is_checked_whenever_given_and_dies_after_three_wrong_tries(store: StoreKind) {
    let app = spawn_app(store).await;
    assert_eq!(
        app.register(&json!({ "phone": unique_phone(), "password": "correct-horse" })).await.status(),
        StatusCode::CREATED,
        "not required by default"
    );

    let phone = unique_phone();
    json_of(send_register_code(&app, &phone).await, StatusCode::ACCEPTED).await;
    let code = app.latest_sms_code(&phone, "register").await;
    let wrong = json!({ "phone": phone, "password": "correct-horse", "sms_code": other_than(&code) });
    for remaining in [2, 1, 0] {
        let refused =
            assert_error(app.register(&wrong).await, StatusCode::UNPROCESSABLE_ENTITY, "SMS_CODE_INCORRECT").await;
        assert_eq!(refused["error"]["details"]["attempts_remaining"], remaining);
    }
    let right = json!({ "phone": phone, "password": "correct-horse", "sms_code": code });
    assert_error(app.register(&right).await, StatusCode::UNPROCESSABLE_ENTITY, "SMS_CODE_EXPIRED").await;

    // A new code replaces the voided one, and expires by the clock.
    json_of(send_register_code(&app, &phone).await, StatusCode::ACCEPTED).await;
    let code = app.latest_sms_code(&phone, "register").await;
    app.clock.advance(chrono::Duration::seconds(300));
    let late = json!({ "phone": phone, "password": "correct-horse", "sms_code": code });
    assert_error(app.register(&late).await, StatusCode::UNPROCESSABLE_ENTITY, "SMS_CODE_EXPIRED").await;
    let profile = app.post("/v1/auth/register", None, &json!({ "phone": phone, "password": "correct-horse" })).await;
    assert_eq!(profile.status(), StatusCode::CREATED, "nothing was opened before");
}

async fn registration_codes_are_rate_limited_per_phone(store: StoreKind) {
    let app = spawn_app(store).await;
    let phone = unique_phone();
    for _ in 0..3 {
        json_of(send_register_code(&app, &phone).await, StatusCode::ACCEPTED).await;
    }
    let limited =
        assert_error(send_register_code(&app, &phone).await, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    assert!(limited["error"]["details"]["retry_after_secs"].as_u64().is_some_and(|secs| secs > 0), "{limited}");
    json_of(send_register_code(&app, &unique_phone()).await, StatusCode::ACCEPTED).await;
    let taken = json_of(send_register_code(&app, "13800000001").await, StatusCode::ACCEPTED).await;
    assert_eq!(taken["sent_to"], "138****0001", "a registered phone gets the same answer");
}
