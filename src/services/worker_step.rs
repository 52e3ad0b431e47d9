//! The worker's single step, `settle_due(now)`: reviews that timed out are
//! rejected, the mock WeChat Pay's due bills move on (in a simulator), due
//! withdrawals are paid out and settled (or failed), due
//! webhooks are delivered, transfers a dead process left sent are
//! delivered — each from its own schedule, in bounded batches
//! (see `work`) — and the step reports what happened, counts it in the
//! metrics and, now and then, samples the queues' gauges (`queue_gauges`).
//! The background loop (`crate::worker`) runs it over and over; tests and
//! operators run it once.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::audit::{AuditLog, AuditTarget};
use super::mock_wechat_pay::MockPayBills;
use super::notifications::Notifications;
use super::queue_gauges::QueueGauges;
use super::review::Review;
use super::settlement::Settlement;
use super::transfers::Transfers;
use super::work::WorkReport;
use crate::domain::account::AccountId;
use crate::error::ApiError;
use crate::observability::catalogue::{
    PAYOUT_OUTCOMES, PAYOUTS_TOTAL, REVIEW_TIMEOUTS_TOTAL, WEBHOOK_DELIVERIES_TOTAL, WEBHOOK_OUTCOMES,
};
use crate::providers::payouts::SharedPayouts;

/// Everything one step works through.
#[derive(Debug, Clone)]
pub struct WorkerStep {
    pub review: Review,
    pub settlement: Settlement,
    pub notifications: Notifications,
    pub audit: AuditLog,
    pub queues: QueueGauges,
    pub transfers: Transfers,
    /// The mock WeChat Pay's bills, moved on over business time (in a simulator).
    pub mock_bills: Option<MockPayBills>,
}

impl WorkerStep {
    /// One step at `now`. Safe to run from any number of instances at once.
    pub async fn settle_due(&self, now: DateTime<Utc>) -> Result<WorkReport, ApiError> {
        let mut report = WorkReport::default();
        report.add(self.review.time_out_reviews(now).await?);
        if let Some(mock_bills) = &self.mock_bills {
            report.add(mock_bills.move_due(now).await?);
        }
        report.add(self.settlement.pay_out_due(now).await?);
        report.add(self.notifications.deliver_webhooks(now).await?);
        report.add(self.transfers.deliver_due(now).await?);
        count_outcomes(&report);
        self.queues.sample_if_due(now).await;
        Ok(report)
    }

    /// The schedules a step claims from, each with how long after an entry's
    /// time it falls due: where to look for the next work, and when it is due.
    pub fn due_schedules(&self) -> Vec<(&'static str, chrono::Duration)> {
        let mock_bills = self.mock_bills.as_ref().map(MockPayBills::due_schedules).unwrap_or_default();
        let optional = [self.review.due_schedule(), self.settlement.due_schedule(), self.notifications.due_schedule()];
        optional.into_iter().flatten().chain(mock_bills).chain([self.transfers.due_schedule()]).collect()
    }

    /// One step at the business clock's now.
    pub async fn run_once(&self) -> Result<WorkReport, ApiError> {
        self.settle_due(self.audit.clock.now()).await
    }

    /// The same step paying out through `payouts` instead (a provider
    /// standing in for an outage, say).
    pub fn paying_through(&self, payouts: Option<SharedPayouts>) -> WorkerStep {
        let mut step = self.clone();
        step.settlement.policy.payouts = payouts.clone();
        step.review.settlement.policy.payouts = payouts;
        step
    }

    /// One step now, run by an operator; audited.
    pub async fn run_for(&self, operator: &AccountId) -> Result<WorkReport, ApiError> {
        let report = self.run_once().await;
        let target = AuditTarget::new("worker", "settlement", None);
        self.audit.record(operator, "worker.step", target, json!({}), &report).await;
        report
    }
}

/// Adds what one step did to the metrics' counters.
fn count_outcomes(report: &WorkReport) {
    let payouts = [report.settled, report.failed, report.retried, report.parked];
    let webhooks = [report.webhooks_delivered, report.webhooks_retried, report.webhooks_abandoned];
    let counted = PAYOUT_OUTCOMES.iter().map(|outcome| (PAYOUTS_TOTAL, *outcome)).zip(payouts);
    let counted =
        counted.chain(WEBHOOK_OUTCOMES.iter().map(|outcome| (WEBHOOK_DELIVERIES_TOTAL, *outcome)).zip(webhooks));
    for ((name, outcome), count) in counted.filter(|(_, count)| *count > 0) {
        metrics::counter!(name, "outcome" => outcome).increment(count as u64);
    }
    if report.rejected > 0 {
        metrics::counter!(REVIEW_TIMEOUTS_TOTAL).increment(report.rejected as u64);
    }
}
