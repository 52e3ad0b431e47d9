//! Bad input gets a clear 4xx in the catalogue's shape and changes nothing.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{StoreKind, assert_error, spawn_app};
use crate::on_both_stores;

on_both_stores!(
    bad_amounts_are_refused_naming_the_field,
    malformed_bodies_are_refused_not_crashed_on,
    oversized_bodies_are_refused,
    unknown_routes_answer_in_json,
);

async fn bad_amounts_are_refused_naming_the_field(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let path = "/v1/ops/accounts/acc_demo_alice/credit";
    let cases = [
        (json!({ "amount": 100.5, "memo": "m" }), "amount", "not a JSON number"),
        (json!({ "amount": 100, "memo": "m" }), "amount", "not a JSON number"),
        (json!({ "amount": "100.505", "memo": "m" }), "amount", "at most 2 decimal places"),
        (json!({ "amount": "-1.00", "memo": "m" }), "amount", "negative"),
        (json!({ "amount": "0.00", "memo": "m" }), "amount", "greater than 0.00"),
        (json!({ "amount": "1e3", "memo": "m" }), "amount", "plain decimal string"),
        (json!({ "amount": " 1.00", "memo": "m" }), "amount", "plain decimal string"),
        (json!({ "amount": "99999999999999999999.00", "memo": "m" }), "amount", "must not exceed"),
        (json!({ "amount": "", "memo": "m" }), "amount", "must not be empty"),
        (json!({ "amount": null, "memo": "m" }), "amount", "decimal string"),
        (json!({ "amount": ["1.00"], "memo": "m" }), "amount", "decimal string"),
        (json!({ "amount": "1.00", "memo": "" }), "memo", "1 to 200 characters"),
        (json!({ "amount": "1.00", "memo": "m".repeat(201) }), "memo", "1 to 200 characters"),
        (json!({ "amount": "1.00" }), "", "missing field `memo`"),
        (json!({ "amount": "1.00", "memo": "m", "currency": "USD" }), "currency", "unknown field `currency`"),
    ];
    for (body, field, message) in cases {
        let error =
            assert_error(app.post(path, Some(&operator), &body).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
                .await;
        if !field.is_empty() {
            assert_eq!(error["error"]["details"]["field"], field, "{body}: {error}");
        }
        assert!(error["error"]["message"].as_str().unwrap().contains(message), "{body}: {error}");
    }
    let alice = app.login_phone("13800000001", "alice-demo").await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.available(&alice).await, "800.00");
    app.assert_ledger_balanced().await;
}

async fn malformed_bodies_are_refused_not_crashed_on(store: StoreKind) {
    let app = spawn_app(store).await;
    let bodies = [
        ("application/json", "{\"phone\": \"13800000001\", \"password\": "),
        ("application/json", "not json at all"),
        ("application/json", ""),
        ("application/json", "[1, 2, 3]"),
        ("application/json", "\"a string\""),
        ("application/json", "{\"phone\": \"13800000001\", \"password\": \"alice-demo\"} {}"),
        ("application/json", "{\"phone\": \"\\ud800\", \"password\": \"x\"}"),
        ("application/json; charset=utf-8", "{\"phone\": \"\u{0}\", \"password\": \"alice-demo\"}"),
        ("text/plain", "{\"phone\": \"13800000001\", \"password\": \"alice-demo\"}"),
        ("application/x-www-form-urlencoded", "phone=13800000001&password=alice-demo"),
    ];
    for (content_type, body) in bodies {
        let response = app.post_raw("/v1/auth/login", None, content_type, body.to_owned()).await;
        assert_error(response, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    }
    let invalid_utf8 = app
        .client
        .post(app.url("/v1/auth/register"))
        .header("content-type", "application/json")
        .body(vec![b'{', 0xff, 0xfe, b'}'])
        .send()
        .await
        .unwrap();
    assert_error(invalid_utf8, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
}

async fn oversized_bodies_are_refused(store: StoreKind) {
    let app = spawn_app(store).await;
    let huge = format!("{{\"phone\": \"13800000001\", \"password\": \"{}\"}}", "x".repeat(100_000));
    let response = app.post_raw("/v1/auth/login", None, "application/json", huge).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
}

async fn unknown_routes_answer_in_json(store: StoreKind) {
    let app = spawn_app(store).await;
    assert_error(app.get("/v1/nothing-here", None).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let wrong_method = app.client.delete(app.url("/v1/wallet")).send().await.unwrap();
    assert_eq!(wrong_method.headers()["allow"], "GET");
    let error = assert_error(wrong_method, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
    assert_eq!(error["error"]["details"]["allowed"], json!(["GET"]));
    let two_methods = app.client.put(app.url("/v1/withdrawals")).send().await.unwrap();
    assert_eq!(two_methods.headers()["allow"], "POST, GET");
    assert_error(two_methods, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
}
