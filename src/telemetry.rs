//! Logs, request ids and metrics.
//!
//! - Logs: a `tracing` subscriber (pretty or JSON), one root span per request
//!   from `tracing-actix-web`, carrying its `request_id`.
//! - Request ids: a client's `X-Request-Id` (if sane) is echoed back and
//!   recorded as `client_request_id`; otherwise the generated id is returned.
//! - Metrics: Prometheus counters and latency histograms per route pattern
//!   (never per raw path, which would let clients create unbounded series).

use std::sync::OnceLock;
use std::time::Instant;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Span;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::EnvFilter;

use crate::settings::{LogFormat, LogSettings};

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
const CLIENT_REQUEST_ID_BYTES_MAX: usize = 128;
const LATENCY_BUCKETS_SECS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// Installs the global log subscriber. A second call (several test servers in
/// one process) keeps the first one.
pub fn init_logging(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.level));
    // Colour only for a person at a terminal; never escape codes in files or pipes.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true).with_ansi(ansi);
    let _ = match settings.format {
        LogFormat::Pretty => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// The process-wide Prometheus recorder (the `metrics` facade has one global).
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full("http_request_duration_seconds".into()), &LATENCY_BUCKETS_SECS)
            .expect("the bucket list is a non-empty constant");
        match builder.install_recorder() {
            Ok(handle) => handle,
            // Another recorder is already global (only possible if an embedding
            // program installed one): keep a private one so /metrics still answers.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// A client-supplied request id we are willing to echo and log.
fn client_request_id(request: &ServiceRequest) -> Option<&str> {
    let value = request.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let sane = !value.is_empty()
        && value.len() <= CLIENT_REQUEST_ID_BYTES_MAX
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    sane.then_some(value)
}

/// The default root span plus the client's own request id, when it sent one.
pub struct WalletgateRootSpan;

impl RootSpanBuilder for WalletgateRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let client_id = client_request_id(request).unwrap_or("");
        tracing_actix_web::root_span!(request, client_request_id = client_id)
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Echoes the request id and records the request in the metrics.
/// Runs inside `TracingLogger`, which has put the generated `RequestId` in place.
pub async fn observe_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let echoed = match client_request_id(&request) {
        Some(id) => HeaderValue::from_str(id).ok(),
        None => request.extensions().get::<RequestId>().and_then(|id| HeaderValue::from_str(&id.to_string()).ok()),
    };
    let method = request.method().to_string();
    let route = request.match_pattern().unwrap_or_else(|| "unmatched".to_owned());
    let mut response = next.call(request).await?;
    let status = response.status().as_u16().to_string();
    let labels = [("method", method), ("route", route), ("status", status)];
    metrics::counter!("http_requests_total", &labels).increment(1);
    metrics::histogram!("http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    if let Some(id) = echoed {
        response.headers_mut().insert(REQUEST_ID_HEADER, id);
    }
    Ok(response)
}
