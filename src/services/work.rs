//! The schedules as work: what is due is claimed with a lease (so several
//! worker instances never take the same item and a dead worker's items come
//! back after the lease), in bounded batches, and each claim ends in a
//! `ClaimOutcome` that the worker's step (`worker_step`) adds to its report.
//!
//! Who writes schedule entries, and why nothing is stranded:
//! - An entry is set or taken off by the commit that changes the state it
//!   stands for (a new withdrawal, an approval, a parking, a settlement), in
//!   the same atomic step, so the entry and its subject never disagree.
//! - A claimer finishes its claim (drops the entry, or moves it to a later
//!   time) only while the entry still sits at its lease's end
//!   (`Store::reschedule_if_at`): if a commit moved the entry meanwhile, the
//!   claimer's decision was made on older state and changes nothing.
//! - An entry whose subject is missing (written by an older version, or a
//!   foreign writer) is looked at again shortly and dropped once it has
//!   stayed subject-less for `ORPHAN_GRACE_SECS`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::keys::member_parts;
use crate::domain::account::AccountId;
use crate::error::ApiError;
use crate::providers::alipay::payouts::SharedAlipayPayouts;
use crate::providers::payouts::SharedPayouts;
use crate::store::SharedStore;

/// How long a schedule entry may point at nothing before it is dropped.
/// Far longer than any commit takes (bounded attempts of milliseconds each).
pub const ORPHAN_GRACE_SECS: i64 = 60;
/// How soon an entry whose subject is not there yet is looked at again.
const ORPHAN_RECHECK_MS: i64 = 1_000;

/// How the worker settles withdrawals.
#[derive(Debug, Clone)]
pub struct SettlementPolicy {
    /// Where payouts to WeChat wallets go; without one, they wait.
    pub payouts: Option<SharedPayouts>,
    /// Where payouts to Alipay accounts go; without one, they wait.
    pub alipay: Option<AlipayPayoutPolicy>,
    pub lease: chrono::Duration,
    pub batch_size: usize,
    pub concurrency: usize,
    pub payout_attempts_max: u32,
    pub backoff_initial: chrono::Duration,
    pub backoff_max: chrono::Duration,
    /// How long a payout waits on a bill under way before it is parked.
    pub bill_wait_max: chrono::Duration,
    /// The `notify_url` of every WeChat Pay bill (`wechat.pay.notify_url`), if any.
    pub notify_url: Option<String>,
}

/// Paying Alipay destinations: the client, and the title the payee's bill shows.
#[derive(Debug, Clone)]
pub struct AlipayPayoutPolicy {
    pub payouts: SharedAlipayPayouts,
    pub order_title: String,
}

impl SettlementPolicy {
    /// The same policy paying Alipay destinations through `alipay`.
    pub fn with_alipay(self, alipay: Option<AlipayPayoutPolicy>) -> SettlementPolicy {
        SettlementPolicy { alipay, ..self }
    }

    /// The pause before payout attempt `attempts + 1`: doubling from the initial pause, capped.
    pub fn backoff(&self, attempts: u32) -> chrono::Duration {
        let doublings = attempts.saturating_sub(1).min(20);
        let pause = self.backoff_initial.checked_mul(1 << doublings).unwrap_or(self.backoff_max);
        pause.min(self.backoff_max)
    }
}

/// A claimed schedule entry: `<account id>/<subject id>`, due at `due_ms`.
#[derive(Debug, Clone)]
pub struct Claim {
    pub schedule: &'static str,
    pub member: String,
    pub due_ms: i64,
    /// Where the claim moved the entry: it stays there while the claim holds.
    pub lease_until_ms: i64,
}

impl Claim {
    pub fn parts(&self) -> Option<(AccountId, &str)> {
        member_parts(&self.member)
    }
}

/// What became of one claimed entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClaimOutcome {
    Settled,
    Failed,
    Rejected,
    /// The payout met an unreachable provider; tried again later.
    Retried,
    /// The payout's bill is under way; looked at again later (no attempt spent).
    Awaiting,
    /// Too many attempts: left for an operator.
    Parked,
    /// Nothing (left) to do: finished already, or an entry without a subject.
    Dropped,
    /// Its subject is not committed yet; looked at again shortly.
    Deferred,
    WebhookDelivered,
    WebhookRetried,
    WebhookAbandoned,
    /// A transfer a process left sent but not delivered, delivered.
    TransferDelivered,
    /// A mock WeChat Pay bill moved on by itself.
    MockBillMoved,
    /// A mock WeChat Pay notification was answered 200 or 204.
    MockNoticeDelivered,
    /// A mock WeChat Pay notification was refused or unanswered; sent again later (or given up).
    MockNoticeRetried,
}

/// What one step did: how many claimed items ended each way.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({
    "claimed": 2, "settled": 1, "failed": 0, "rejected": 0, "retried": 1, "awaiting": 0, "parked": 0,
    "dropped": 0, "deferred": 0, "webhooks_delivered": 1, "webhooks_retried": 0, "webhooks_abandoned": 0,
    "transfers_delivered": 0, "mock_bills_moved": 0, "mock_notices_delivered": 0, "mock_notices_retried": 0,
    "errors": 0
}))]
pub struct WorkReport {
    pub claimed: usize,
    pub settled: usize,
    pub failed: usize,
    pub rejected: usize,
    pub retried: usize,
    /// Payouts whose bill is under way, to be looked at again.
    pub awaiting: usize,
    pub parked: usize,
    pub dropped: usize,
    pub deferred: usize,
    pub webhooks_delivered: usize,
    pub webhooks_retried: usize,
    pub webhooks_abandoned: usize,
    /// Transfers left sent but not delivered, delivered by the worker.
    pub transfers_delivered: usize,
    /// The mock WeChat Pay's bills moved on (to their next state, or final), in a simulator.
    pub mock_bills_moved: usize,
    /// The mock WeChat Pay's `MCHTRANSFER.BILL.FINISHED` notifications answered 200/204.
    pub mock_notices_delivered: usize,
    /// The mock WeChat Pay's notifications refused or unanswered (sent again later, or given up).
    pub mock_notices_retried: usize,
    /// Items whose work met an error (the store went away, say); their lease brings them back.
    pub errors: usize,
}

impl WorkReport {
    fn count(&mut self, outcome: ClaimOutcome) {
        self.claimed += 1;
        let counter = match outcome {
            ClaimOutcome::Settled => &mut self.settled,
            ClaimOutcome::Failed => &mut self.failed,
            ClaimOutcome::Rejected => &mut self.rejected,
            ClaimOutcome::Retried => &mut self.retried,
            ClaimOutcome::Awaiting => &mut self.awaiting,
            ClaimOutcome::Parked => &mut self.parked,
            ClaimOutcome::Dropped => &mut self.dropped,
            ClaimOutcome::Deferred => &mut self.deferred,
            ClaimOutcome::WebhookDelivered => &mut self.webhooks_delivered,
            ClaimOutcome::WebhookRetried => &mut self.webhooks_retried,
            ClaimOutcome::WebhookAbandoned => &mut self.webhooks_abandoned,
            ClaimOutcome::TransferDelivered => &mut self.transfers_delivered,
            ClaimOutcome::MockBillMoved => &mut self.mock_bills_moved,
            ClaimOutcome::MockNoticeDelivered => &mut self.mock_notices_delivered,
            ClaimOutcome::MockNoticeRetried => &mut self.mock_notices_retried,
        };
        *counter += 1;
    }

    pub(crate) fn add(&mut self, outcomes: Vec<Result<ClaimOutcome, ApiError>>) {
        for outcome in outcomes {
            match outcome {
                Ok(outcome) => self.count(outcome),
                Err(error) => {
                    self.claimed += 1;
                    self.errors += 1;
                    tracing::warn!(%error, "a worker item failed; its lease will bring it back");
                }
            }
        }
    }

    /// Adds another step's counts to these.
    pub fn absorb(&mut self, other: &WorkReport) {
        let WorkReport {
            claimed,
            settled,
            failed,
            rejected,
            retried,
            awaiting,
            parked,
            dropped,
            deferred,
            webhooks_delivered,
            webhooks_retried,
            webhooks_abandoned,
            transfers_delivered,
            mock_bills_moved,
            mock_notices_delivered,
            mock_notices_retried,
            errors,
        } = *other;
        self.claimed += claimed;
        self.settled += settled;
        self.failed += failed;
        self.rejected += rejected;
        self.retried += retried;
        self.awaiting += awaiting;
        self.parked += parked;
        self.dropped += dropped;
        self.deferred += deferred;
        self.webhooks_delivered += webhooks_delivered;
        self.webhooks_retried += webhooks_retried;
        self.webhooks_abandoned += webhooks_abandoned;
        self.transfers_delivered += transfers_delivered;
        self.mock_bills_moved += mock_bills_moved;
        self.mock_notices_delivered += mock_notices_delivered;
        self.mock_notices_retried += mock_notices_retried;
        self.errors += errors;
    }

    /// Whether the step had a full batch somewhere, so another step should follow at once.
    pub fn had_work(&self) -> bool {
        self.claimed > self.deferred + self.errors
    }
}

/// The schedules as work to claim: claims with a lease, and the conditional
/// ways a claimer finishes one.
#[derive(Debug, Clone)]
pub struct WorkQueue {
    pub store: SharedStore,
    pub lease: chrono::Duration,
    pub batch_size: usize,
}

impl WorkQueue {
    /// Claims up to a batch of `schedule`'s entries due by `until`, leased from `now`.
    pub async fn claim(
        &self,
        schedule: &'static str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Vec<Claim>, ApiError> {
        let lease_until_ms = (now + self.lease).timestamp_millis();
        let claimed =
            self.store.claim_scheduled(schedule, until.timestamp_millis(), lease_until_ms, self.batch_size).await?;
        Ok(claimed.into_iter().map(|(member, due_ms)| Claim { schedule, member, due_ms, lease_until_ms }).collect())
    }

    /// Takes a claimed entry off its schedule, unless a commit moved it since the claim.
    pub async fn drop_claim(&self, claim: &Claim, why: &str) -> Result<ClaimOutcome, ApiError> {
        let dropped = self.store.reschedule_if_at(claim.schedule, &claim.member, claim.lease_until_ms, None).await?;
        tracing::debug!(schedule = claim.schedule, member = %claim.member, why, dropped, "claim finished without work");
        Ok(ClaimOutcome::Dropped)
    }

    /// Moves a claimed entry to `at_ms`, unless a commit moved it since the claim.
    pub async fn requeue_claim(&self, claim: &Claim, at_ms: i64) -> Result<(), ApiError> {
        self.store.reschedule_if_at(claim.schedule, &claim.member, claim.lease_until_ms, Some(at_ms)).await?;
        Ok(())
    }

    /// An entry whose subject is not (yet) there: looked at again in a moment,
    /// dropped once it has been missing for `ORPHAN_GRACE_SECS`.
    pub async fn not_ready(&self, claim: &Claim, now: DateTime<Utc>) -> Result<ClaimOutcome, ApiError> {
        let marker = format!("orphan:{}:{}", claim.schedule, claim.member);
        let first_seen = match self.store.get_ephemeral(&marker).await? {
            Some(text) => text.parse::<DateTime<Utc>>().unwrap_or(now),
            None => {
                let keep = Duration::from_secs(ORPHAN_GRACE_SECS as u64 * 10);
                self.store.put_ephemeral(&marker, &now.to_rfc3339(), keep).await?;
                now
            }
        };
        if now - first_seen >= chrono::Duration::seconds(ORPHAN_GRACE_SECS) {
            self.store.take_ephemeral(&marker).await?;
            return self.drop_claim(claim, "its subject never appeared").await;
        }
        self.requeue_claim(claim, now.timestamp_millis() + ORPHAN_RECHECK_MS).await?;
        Ok(ClaimOutcome::Deferred)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> SettlementPolicy {
        SettlementPolicy {
            payouts: None,
            alipay: None,
            lease: chrono::Duration::seconds(30),
            batch_size: 10,
            concurrency: 2,
            payout_attempts_max: 5,
            backoff_initial: chrono::Duration::seconds(1),
            backoff_max: chrono::Duration::seconds(60),
            bill_wait_max: chrono::Duration::hours(25),
            notify_url: None,
        }
    }

    #[test]
    fn payout_retries_back_off_by_doubling_up_to_the_cap() {
        let seconds: Vec<i64> = (1..=9).map(|attempts| policy().backoff(attempts).num_seconds()).collect();
        assert_eq!(seconds, [1, 2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(policy().backoff(u32::MAX).num_seconds(), 60);
    }

    #[test]
    fn claims_name_an_account_and_a_subject() {
        let claim = Claim { schedule: "s", member: "acc_demo_alice/wd_1".into(), due_ms: 0, lease_until_ms: 0 };
        let (account, subject) = claim.parts().unwrap();
        assert_eq!((account.as_str(), subject), ("acc_demo_alice", "wd_1"));
        for bad in ["", "acc_demo_alice", "alice/wd_1", "/wd_1"] {
            assert!(
                Claim { schedule: "s", member: bad.into(), due_ms: 0, lease_until_ms: 0 }.parts().is_none(),
                "{bad}"
            );
        }
    }
}
