//! Health, readiness, metrics and request ids.

use reqwest::StatusCode;

use serde_json::json;

use crate::helpers::{RedisKeysGuard, StoreKind, assert_error, json_of, redis_url, spawn_app};
use crate::on_both_stores;

on_both_stores!(health_and_readiness_answer, requests_are_counted_by_route_pattern, request_ids_are_echoed);

async fn health_and_readiness_answer(store: StoreKind) {
    let app = spawn_app(store).await;
    assert_eq!(json_of(app.get("/healthz", None).await, StatusCode::OK).await["status"], "ok");
    assert_eq!(json_of(app.get("/readyz", None).await, StatusCode::OK).await["status"], "ready");
}

async fn requests_are_counted_by_route_pattern(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    app.credit(&operator, "acc_demo_alice", "1.00").await;
    let made_up = reqwest::Method::from_bytes(b"FROBNICATE").unwrap();
    app.client.request(made_up, app.url("/healthz")).send().await.unwrap();
    let metrics = app.get("/metrics", None).await.text().await.unwrap();
    assert!(metrics.contains(r#"method="OTHER""#), "made-up methods share one label: {metrics}");
    assert!(!metrics.contains("FROBNICATE"), "a made-up method never becomes a label value");
    assert!(metrics.contains(r#"route="/v1/ops/accounts/{id}/credit""#), "{metrics}");
    assert!(metrics.contains("http_request_duration_seconds_bucket"), "{metrics}");
    assert!(!metrics.contains("acc_demo_alice"), "raw ids must not become label values");
}

async fn request_ids_are_echoed(store: StoreKind) {
    let app = spawn_app(store).await;
    let response = app.client.get(app.url("/healthz")).header("x-request-id", "trace-42.a").send().await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "trace-42.a");
    let generated = app.get("/healthz", None).await;
    let id = generated.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a generated uuid: {id}");
    let hostile = app.client.get(app.url("/healthz")).header("x-request-id", "a\tb<script>").send().await.unwrap();
    assert_ne!(hostile.headers()["x-request-id"], "a\tb<script>");
}

/// A Redis without persistence that restarts comes back empty: the demo
/// accounts return (here through `/readyz`; a periodic check does the same),
/// so the README's logins keep working without restarting the gateway.
#[tokio::test]
async fn demo_accounts_come_back_after_the_store_lost_them() {
    let app = spawn_app(StoreKind::Redis).await;
    let alice = json!({ "phone": "13800000001", "password": "alice-demo" });
    json_of(app.login(&alice).await, StatusCode::OK).await;

    // The store loses everything, as a restarted Redis without persistence would.
    drop(RedisKeysGuard::new(&redis_url(), &app.settings.store.key_prefix));
    assert_error(app.login(&alice).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;

    assert_eq!(json_of(app.get("/readyz", None).await, StatusCode::OK).await["status"], "ready");
    json_of(app.login(&alice).await, StatusCode::OK).await;
    let operator = app.operator_token().await;
    app.assert_ledger_balanced().await;
    assert!(!operator.is_empty());
}
