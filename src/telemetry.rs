//! Logs, request ids and metrics.
//!
//! - Logs: a `tracing` subscriber (pretty or JSON), one root span per request
//!   from `tracing-actix-web`, carrying its `request_id`, and one access line
//!   per request at INFO (target `walletgate::access`). URLs are logged with
//!   their secret query values redacted (`observability::redact_url`).
//! - Request ids: a client's `X-Request-Id` (if sane) is echoed back and
//!   recorded as `client_request_id`; otherwise the generated id is returned.
//!   The same id is the `request_id` of an error body (`current_request_id`).
//! - Metrics: Prometheus counters and latency histograms per route pattern
//!   (never per raw path, which would let clients create unbounded series);
//!   every metric of the service is listed, with its help, in
//!   `observability::catalogue`, which this module installs.
//!
//! Each worker thread remembers, per request path, the route pattern it
//! matched and the metric handles of its series, so a request costs one hash
//! lookup rather than a second walk of the routing table and a registry
//! lookup per metric.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::http::header::{HeaderName, HeaderValue, USER_AGENT};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage};
use metrics::{Counter, Histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Span;
use tracing::field::Empty;
use tracing_actix_web::{DefaultRootSpanBuilder, RequestId, RootSpanBuilder};
use tracing_subscriber::EnvFilter;

use crate::observability::{catalogue, redact_url};
use crate::settings::{LogFormat, LogSettings};

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");
/// The target of the access lines, one per request: how to filter them
/// (`log.level = "info,walletgate::access=warn"` turns them off).
pub const ACCESS_LOG_TARGET: &str = "walletgate::access";
const CLIENT_REQUEST_ID_BYTES_MAX: usize = 128;
/// Paths a worker thread remembers; past this it forgets them all and starts
/// over (paths carrying ids are unbounded, the routes they match are not).
const PATHS_CACHED_PER_THREAD: usize = 1024;
/// The route label of a request no route matched.
const UNMATCHED_ROUTE: &str = "unmatched";

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

/// The process-wide Prometheus recorder (the `metrics` facade has one
/// global), with the catalogue's help texts and buckets. Metric handles
/// taken before it is installed record nothing, so whatever keeps handles
/// (the timed store) is built after a call to this.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let mut builder = PrometheusBuilder::new();
        for metric in catalogue::CATALOGUE.iter().filter(|metric| !metric.buckets.is_empty()) {
            builder = builder
                .set_buckets_for_metric(Matcher::Full(metric.name.into()), metric.buckets)
                .expect("the catalogue's bucket lists are not empty");
        }
        match builder.install_recorder() {
            Ok(handle) => {
                catalogue::describe();
                catalogue::start_at_zero();
                handle
            }
            // Another recorder is already global (only possible if an embedding
            // program installed one): keep a private one so /metrics still answers.
            Err(_) => PrometheusBuilder::new().build_recorder().handle(),
        }
    })
}

/// Folds the histograms' samples into their buckets every `every`, as a
/// scrape of `/metrics` also does: the recorder keeps each sample until
/// then, so a gateway nobody scrapes would otherwise grow with its traffic
/// (several samples per request, one per store call). Stops with the runtime.
pub fn keep_metrics_folded(every: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            metrics_handle().run_upkeep();
        }
    });
}

/// A client-supplied request id we are willing to echo and log.
fn client_request_id(request: &ServiceRequest) -> Option<&str> {
    let value = request.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?;
    let sane = !value.is_empty()
        && value.len() <= CLIENT_REQUEST_ID_BYTES_MAX
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    sane.then_some(value)
}

/// How one (app, method, path) appears in the logs and metrics.
struct RouteTelemetry {
    method: &'static str,
    route: Box<str>,
    /// The request counter and latency histogram for each status seen so far.
    series: RefCell<Vec<(u16, Counter, Histogram)>>,
}

impl RouteTelemetry {
    fn record(&self, status: u16, elapsed: Duration) {
        let mut series = self.series.borrow_mut();
        let index = match series.iter().position(|(seen, ..)| *seen == status) {
            Some(index) => index,
            None => {
                let labels = [
                    ("method", self.method.to_owned()),
                    ("route", self.route.to_string()),
                    ("status", status.to_string()),
                ];
                let counter = metrics::counter!(catalogue::HTTP_REQUESTS_TOTAL, &labels);
                let histogram = metrics::histogram!(catalogue::HTTP_REQUEST_DURATION_SECONDS, &labels);
                series.push((status, counter, histogram));
                series.len() - 1
            }
        };
        let (_, counter, histogram) = &series[index];
        counter.increment(1);
        histogram.record(elapsed.as_secs_f64());
    }
}

/// By path: the app (its routing table's address), the method's label, and
/// what they map to (keyed by label, so made-up methods cannot grow it).
type PathCache = HashMap<Box<str>, Vec<(usize, &'static str, Rc<RouteTelemetry>)>>;

thread_local! {
    static PATHS: RefCell<PathCache> = RefCell::default();
}

/// A bounded label for the method: the standard ones by name, anything else as `OTHER`.
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

fn route_telemetry(request: &ServiceRequest) -> Rc<RouteTelemetry> {
    let app = std::ptr::from_ref(request.resource_map()) as usize;
    let method = method_label(request.method());
    let path = request.path();
    PATHS.with_borrow_mut(|paths| {
        let known = paths.get(path).and_then(|seen| seen.iter().find(|(a, m, _)| *a == app && *m == method));
        if let Some((.., telemetry)) = known {
            return telemetry.clone();
        }
        if paths.len() >= PATHS_CACHED_PER_THREAD {
            paths.clear();
        }
        let route = request.match_pattern().map_or_else(|| UNMATCHED_ROUTE.into(), String::into_boxed_str);
        let telemetry = Rc::new(RouteTelemetry { method, route, series: RefCell::default() });
        paths.entry(path.into()).or_default().push((app, method, telemetry.clone()));
        telemetry
    })
}

tokio::task_local! {
    /// The `X-Request-Id` of the request being handled, for the error
    /// bodies rendered while it is (`ApiError::body`). Task-local rather than
    /// thread-local: one worker thread interleaves many requests, and the
    /// value is put in place on each poll of that request's future only.
    static REQUEST_ID: Option<Box<str>>;
}

/// The id the response to the request being handled carries in
/// `X-Request-Id`; `None` outside a request.
pub fn current_request_id() -> Option<Box<str>> {
    REQUEST_ID.try_with(Clone::clone).ok().flatten()
}

/// The request id as the header carries it.
fn request_id_header(request: &ServiceRequest) -> Option<HeaderValue> {
    if let Some(id) = client_request_id(request) {
        return HeaderValue::from_str(id).ok();
    }
    let id = *request.extensions().get::<RequestId>()?;
    let mut text = [0u8; uuid::fmt::Hyphenated::LENGTH];
    HeaderValue::from_str(id.hyphenated().encode_lower(&mut text)).ok()
}

/// The root span of a request: OpenTelemetry's HTTP field names, the
/// generated request id, and the client's own one when it sent one. Field
/// values are only formatted when a subscriber records the span.
pub struct WalletgateRootSpan;

impl RootSpanBuilder for WalletgateRootSpan {
    fn on_request_start(request: &ServiceRequest) -> Span {
        let telemetry = route_telemetry(request);
        let request_id = request.extensions().get::<RequestId>().copied();
        let user_agent = request.headers().get(USER_AGENT).and_then(|value| value.to_str().ok()).unwrap_or("");
        tracing::info_span!(
            "HTTP request",
            http.method = telemetry.method,
            http.route = &*telemetry.route,
            http.target = &*redact_url(request.uri().path_and_query().map_or("", |target| target.as_str())),
            http.client_ip = %request.peer_addr().map(|address| address.ip().to_string()).unwrap_or_default(),
            http.user_agent = user_agent,
            http.status_code = Empty,
            otel.kind = "server",
            otel.status_code = Empty,
            request_id = %request_id.map(|id| id.to_string()).unwrap_or_default(),
            client_request_id = client_request_id(request).unwrap_or(""),
            exception.message = Empty,
            exception.details = Empty,
        )
    }

    fn on_request_end<B: MessageBody>(span: Span, outcome: &Result<ServiceResponse<B>, Error>) {
        DefaultRootSpanBuilder::on_request_end(span, outcome);
    }
}

/// Echoes the request id, records the request in the metrics and writes its
/// access line. Runs inside `TracingLogger`, which has put the generated
/// `RequestId` in place (and whose span the line carries).
pub async fn observe_request(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let started = Instant::now();
    let echoed = request_id_header(&request);
    let telemetry = route_telemetry(&request);
    let request_id = echoed.as_ref().and_then(|id| id.to_str().ok()).map(Box::from);
    let mut response = REQUEST_ID.scope(request_id, next.call(request)).await?;
    let (status, elapsed) = (response.status().as_u16(), started.elapsed());
    telemetry.record(status, elapsed);
    tracing::info!(
        target: ACCESS_LOG_TARGET,
        method = %telemetry.method,
        route = %telemetry.route,
        status,
        duration_ms = elapsed.as_micros() as f64 / 1000.0,
        request_id = %echoed.as_ref().and_then(|id| id.to_str().ok()).unwrap_or(""),
        "request answered"
    );
    if let Some(id) = echoed {
        response.headers_mut().insert(REQUEST_ID_HEADER, id);
    }
    Ok(response)
}
