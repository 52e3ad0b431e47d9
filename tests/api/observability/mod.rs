//! Logs and metrics as an operator sees them: after traffic that touches
//! every metric (a payout settled by a worker step, webhooks delivered, a
//! PIN locked), `/metrics` has a `# HELP` line for every family of the
//! catalogue and a sample of every metric the Grafana dashboard charts
//! (`dashboard`); the counters count; and the real binary logs one access
//! line per request with no secret of its URL (`logs`).

use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::json;
use walletgate::observability::catalogue::CATALOGUE;

use crate::helpers::{StoreKind, TestApp, assert_error, json_of, spawn_app_with};
use crate::notifications::{WEBHOOK_SECRET, start_receiver};
use crate::on_both_stores;
use crate::settlement::{Payee, approve, id_of, payee, settle, withdraw};

mod dashboard;
mod logs;

on_both_stores!(
    every_catalogued_family_has_its_help_after_traffic,
    every_metric_the_dashboard_charts_is_exported_after_traffic,
    a_settled_payout_and_a_locked_pin_are_counted,
);

/// The `/metrics` text.
pub(crate) async fn metrics_text(app: &TestApp) -> String {
    let response = app.get("/metrics", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.expect("metrics text")
}

/// The value of the sample of `name` whose labels include every one of `labels`
/// (`outcome="settled"`, say); `None` when there is none.
pub(crate) fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with(['{', ' '])))
        .find(|line| labels.iter().all(|label| line.contains(label)))
        .and_then(|line| line.rsplit_once(' '))
        .and_then(|(_, value)| value.parse().ok())
}

/// An app that delivers webhooks to a local receiver, and a payee of it.
async fn app_with_webhooks(store: StoreKind) -> (TestApp, Payee) {
    let receiver = start_receiver(0).await;
    let app = spawn_app_with(store, move |settings| {
        settings.webhooks.url = receiver.url;
        settings.webhooks.secret = SecretString::from(WEBHOOK_SECRET);
    })
    .await;
    let payee = payee(&app, "800.00", json!({})).await;
    (app, payee)
}

/// A first withdrawal, approved and settled by one worker step (which also
/// delivers the webhooks so far and samples the queues).
async fn settle_a_payout(app: &TestApp, payee: &Payee) {
    let operator = app.operator_token().await;
    let id = id_of(&withdraw(app, payee, "10.00").await);
    json_of(approve(app, &operator, &id).await, StatusCode::OK).await;
    let report = settle(app).await;
    assert_eq!(report.settled, 1, "{report:?}");
    assert!(report.webhooks_delivered >= 1, "{report:?}");
}

/// Wrong PINs (not the payee's `PIN`) until the payee's PIN locks.
async fn lock_the_pin(app: &TestApp, payee: &Payee) {
    const WRONG_PIN: &str = "975310";
    for _ in 1..5 {
        let refused = app.verify_pin(&payee.user.token, WRONG_PIN).await;
        assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "PIN_INCORRECT").await;
    }
    assert_error(app.verify_pin(&payee.user.token, WRONG_PIN).await, StatusCode::LOCKED, "PIN_LOCKED").await;
}

/// Traffic that touches every metric; returns `/metrics` after it.
async fn metrics_after_traffic(store: StoreKind) -> String {
    let (app, payee) = app_with_webhooks(store).await;
    settle_a_payout(&app, &payee).await;
    lock_the_pin(&app, &payee).await;
    metrics_text(&app).await
}

async fn every_catalogued_family_has_its_help_after_traffic(store: StoreKind) {
    let text = metrics_after_traffic(store).await;
    for metric in CATALOGUE {
        let help = format!("# HELP {} {}", metric.name, metric.help);
        assert!(text.lines().any(|line| line == help), "no `{help}` in:\n{text}");
    }
}

async fn every_metric_the_dashboard_charts_is_exported_after_traffic(store: StoreKind) {
    let text = metrics_after_traffic(store).await;
    for name in dashboard::charted_metrics() {
        assert!(sample(&text, &name, &[]).is_some(), "the dashboard charts `{name}`, which /metrics lacks:\n{text}");
    }
}

/// Counters are process-wide and other tests run alongside, so each is
/// checked to have grown by at least what this test did.
async fn a_settled_payout_and_a_locked_pin_are_counted(store: StoreKind) {
    let (app, payee) = app_with_webhooks(store).await;
    let counted = |text: &str, name: &str, labels: &[&str]| sample(text, name, labels).unwrap_or(0.0);
    let before = metrics_text(&app).await;
    settle_a_payout(&app, &payee).await;
    lock_the_pin(&app, &payee).await;
    let after = metrics_text(&app).await;
    for (name, labels) in [
        ("payouts_total", &[r#"outcome="settled""#][..]),
        ("webhook_deliveries_total", &[r#"outcome="delivered""#]),
        ("pin_locks_total", &[]),
        ("store_operation_duration_seconds_count", &[r#"operation="commit_account""#]),
    ] {
        let grown = counted(&after, name, labels) - counted(&before, name, labels);
        assert!(grown >= 1.0, "{name}{labels:?} grew by {grown}:\n{after}");
    }
    let queued = sample(&after, "worker_queue_depth", &[r#"queue="withdrawals:payout""#, r#"entries="all""#]);
    assert!(queued.is_some(), "the payout queue is sampled:\n{after}");
}
