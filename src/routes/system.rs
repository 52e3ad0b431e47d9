//! Liveness, readiness and metrics.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::responses::StoreUnavailable;
use crate::error::ApiError;
use crate::services::partitions::Partitions;
use crate::services::seed::DemoData;
use crate::telemetry::metrics_handle;

/// `{"status": …}` of the health endpoints.
#[derive(Debug, Serialize, ToSchema)]
struct StatusView {
    /// `ok` (healthz) or `ready` (readyz).
    #[schema(value_type = String, example = "ok")]
    status: &'static str,
}

/// Liveness
///
/// The process is up and serving HTTP.
#[utoipa::path(
    get,
    path = "/healthz",
    tag = "system",
    responses((status = 200, description = "`{\"status\": \"ok\"}`.", body = StatusView))
)]
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(StatusView { status: "ok" })
}

/// Readiness
///
/// The process can reach its store. With demo seeding on, a store that came
/// back empty gets its demo accounts back first.
#[utoipa::path(
    get,
    path = "/readyz",
    tag = "system",
    responses(
        (status = 200, description = "`{\"status\": \"ready\"}`.", body = StatusView),
        StoreUnavailable,
    )
)]
pub async fn readyz(partitions: web::Data<Partitions>, demo: web::Data<DemoData>) -> Result<HttpResponse, ApiError> {
    partitions.store.ping().await?;
    demo.ensure().await?;
    Ok(HttpResponse::Ok().json(StatusView { status: "ready" }))
}

/// Prometheus metrics
///
/// The text exposition format: request counts and latencies by route
/// pattern, and the service's own counters.
#[utoipa::path(
    get,
    path = "/metrics",
    tag = "system",
    responses((status = 200, description = "Prometheus text.", body = String, content_type = "text/plain",
        example = "# TYPE http_requests_total counter\nhttp_requests_total{method=\"GET\",route=\"/v1/wallet\",status=\"200\"} 3\n"))
)]
pub async fn metrics() -> HttpResponse {
    let handle = metrics_handle();
    handle.run_upkeep();
    HttpResponse::Ok().content_type("text/plain; version=0.0.4").body(handle.render())
}
