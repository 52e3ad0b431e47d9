//! Liveness, readiness and metrics.

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::error::ApiError;
use crate::services::Services;
use crate::telemetry::metrics_handle;

/// The process is up and serving HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The process can reach its store; 503 `STORE_UNAVAILABLE` otherwise.
pub async fn readyz(services: web::Data<Services>) -> Result<HttpResponse, ApiError> {
    services.store.ping().await?;
    Ok(HttpResponse::Ok().json(json!({ "status": "ready" })))
}

/// Prometheus text exposition.
pub async fn metrics() -> HttpResponse {
    let handle = metrics_handle();
    handle.run_upkeep();
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(handle.render())
}
