//! The metric catalogue: every metric walletgate exports — name, kind,
//! labels, help text and, for histograms, buckets — and the one list of
//! names code records under (code names a metric only through a constant
//! here). `describe` gives each family its `# HELP` line; `start_at_zero`
//! creates the series whose label values are known in advance, so a counter
//! reads 0 rather than nothing before its first event and `rate()` sees that
//! event. docs/observability.md explains each metric; tests check that every
//! family has its help and that the Grafana dashboard names only these.

pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "http_request_duration_seconds";
pub const PAYOUTS_TOTAL: &str = "payouts_total";
pub const REVIEW_TIMEOUTS_TOTAL: &str = "withdrawal_review_timeouts_total";
pub const WEBHOOK_DELIVERIES_TOTAL: &str = "webhook_deliveries_total";
pub const PIN_LOCKS_TOTAL: &str = "pin_locks_total";
pub const LOGIN_LOCKS_TOTAL: &str = "login_locks_total";
pub const WORKER_QUEUE_DEPTH: &str = "worker_queue_depth";
pub const WORKER_LAG_SECONDS: &str = "worker_lag_seconds";
pub const STORE_OPERATION_DURATION_SECONDS: &str = "store_operation_duration_seconds";
pub const STORE_ERRORS_TOTAL: &str = "store_errors_total";
pub const STORE_REPLICA_WAITS_TOTAL: &str = "store_replica_waits_total";

/// `payouts_total{outcome}`: how a payout attempt of the worker ended.
pub const PAYOUT_OUTCOMES: [&str; 4] = ["settled", "failed", "retried", "parked"];
/// `webhook_deliveries_total{outcome}`.
pub const WEBHOOK_OUTCOMES: [&str; 3] = ["delivered", "retried", "abandoned"];
/// `login_locks_total{login}`: a registered account's login, or one nobody registered.
pub const LOGIN_KINDS: [&str; 2] = ["registered", "unknown"];
/// `store_replica_waits_total{outcome}` (Redis with `store.wait_replicas`).
pub const REPLICA_WAIT_OUTCOMES: [&str; 3] = ["reached", "short", "unconfirmed"];

/// Request latencies: from a cached read (well under a millisecond) to a
/// password hash or a slow store (seconds).
const HTTP_BUCKETS_SECS: &[f64] = &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];
/// Store calls: an in-memory read takes microseconds, a Redis round trip
/// about a tenth of a millisecond on one machine, a commit script more.
const STORE_BUCKETS_SECS: &[f64] =
    &[0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 2.5];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

/// One metric family.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    pub name: &'static str,
    pub kind: Kind,
    pub labels: &'static [&'static str],
    pub help: &'static str,
    /// A histogram's bucket bounds (empty for the other kinds).
    pub buckets: &'static [f64],
}

const fn metric(name: &'static str, kind: Kind, labels: &'static [&'static str], help: &'static str) -> Metric {
    Metric { name, kind, labels, help, buckets: &[] }
}

/// Every metric walletgate exports.
pub const CATALOGUE: &[Metric] = &[
    metric(
        HTTP_REQUESTS_TOTAL,
        Kind::Counter,
        &["method", "route", "status"],
        "HTTP requests answered, by method, route pattern and status code.",
    ),
    Metric {
        buckets: HTTP_BUCKETS_SECS,
        ..metric(
            HTTP_REQUEST_DURATION_SECONDS,
            Kind::Histogram,
            &["method", "route", "status"],
            "Time from a request's arrival to its response head, by method, route pattern and status code.",
        )
    },
    metric(
        PAYOUTS_TOTAL,
        Kind::Counter,
        &["outcome"],
        "Payout attempts of the worker: settled, failed (the provider refused; the hold is released), \
         retried (the provider was unreachable) or parked (left for an operator after too many attempts).",
    ),
    metric(
        REVIEW_TIMEOUTS_TOTAL,
        Kind::Counter,
        &[],
        "Withdrawals rejected by the worker because no operator decided within the review time-out.",
    ),
    metric(
        WEBHOOK_DELIVERIES_TOTAL,
        Kind::Counter,
        &["outcome"],
        "Webhook delivery attempts: delivered, retried (refused; tried again later) or abandoned (refused past the retry window).",
    ),
    metric(PIN_LOCKS_TOTAL, Kind::Counter, &[], "Payment PINs locked after too many wrong entries in a row."),
    metric(
        LOGIN_LOCKS_TOTAL,
        Kind::Counter,
        &["login"],
        "Logins locked after too many failed passwords in a row, for a registered login or one nobody registered.",
    ),
    metric(
        WORKER_QUEUE_DEPTH,
        Kind::Gauge,
        &["queue", "entries"],
        "Entries on a worker queue as last sampled: due now, or all of them (counted up to 1000).",
    ),
    metric(
        WORKER_LAG_SECONDS,
        Kind::Gauge,
        &["queue"],
        "How long the oldest due entry of a worker queue has been due, as last sampled (0 when none is).",
    ),
    Metric {
        buckets: STORE_BUCKETS_SECS,
        ..metric(
            STORE_OPERATION_DURATION_SECONDS,
            Kind::Histogram,
            &["operation"],
            "Time of a store call, by operation (the store method).",
        )
    },
    metric(
        STORE_ERRORS_TOTAL,
        Kind::Counter,
        &["operation"],
        "Store calls that failed (store unreachable or stored data unreadable), by operation.",
    ),
    metric(
        STORE_REPLICA_WAITS_TOTAL,
        Kind::Counter,
        &["outcome"],
        "Waits for Redis replicas after a commit (store.wait_replicas): reached, short or unconfirmed.",
    ),
];

/// Gives every family of the catalogue its help text (on the recorder installed now).
pub fn describe() {
    for metric in CATALOGUE {
        match metric.kind {
            Kind::Counter => metrics::describe_counter!(metric.name, metric.help),
            Kind::Gauge => metrics::describe_gauge!(metric.name, metric.help),
            Kind::Histogram => metrics::describe_histogram!(metric.name, metric.help),
        }
    }
}

/// Creates, at 0, the counters whose every label value is known.
pub fn start_at_zero() {
    for outcome in PAYOUT_OUTCOMES {
        metrics::counter!(PAYOUTS_TOTAL, "outcome" => outcome).increment(0);
    }
    for outcome in WEBHOOK_OUTCOMES {
        metrics::counter!(WEBHOOK_DELIVERIES_TOTAL, "outcome" => outcome).increment(0);
    }
    for login in LOGIN_KINDS {
        metrics::counter!(LOGIN_LOCKS_TOTAL, "login" => login).increment(0);
    }
    for outcome in REPLICA_WAIT_OUTCOMES {
        metrics::counter!(STORE_REPLICA_WAITS_TOTAL, "outcome" => outcome).increment(0);
    }
    metrics::counter!(REVIEW_TIMEOUTS_TOTAL).increment(0);
    metrics::counter!(PIN_LOCKS_TOTAL).increment(0);
}

#[cfg(test)]
mod tests {
    use super::{CATALOGUE, Kind};

    #[test]
    fn names_are_unique_and_follow_prometheus_conventions() {
        let mut names: Vec<&str> = CATALOGUE.iter().map(|metric| metric.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len(), "a name is listed twice");
        for metric in CATALOGUE {
            assert!(metric.name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{}", metric.name);
            assert_eq!(metric.kind == Kind::Counter, metric.name.ends_with("_total"), "{}", metric.name);
            assert_eq!(metric.kind == Kind::Histogram, !metric.buckets.is_empty(), "{}", metric.name);
            assert!(metric.buckets.is_sorted(), "{}", metric.name);
            assert!(metric.help.ends_with('.'), "{}", metric.name);
        }
    }
}
