//! Health, readiness, metrics and request ids.

use reqwest::StatusCode;

use crate::helpers::{StoreKind, json_of, spawn_app};
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
