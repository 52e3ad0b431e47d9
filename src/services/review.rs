//! Operator review of withdrawals: approve and reject, and the worker's
//! rejection of reviews nobody decided in time (the queue they are decided
//! from is read in `review_queue`).
//!
//! Approving puts the payout on its schedule in the same commit that
//! approves, and every decision takes the withdrawal off the schedules it
//! leaves in that commit too, so a decided withdrawal can never be left
//! without the entry its next step needs (nor keep one it no longer needs).

use chrono::{DateTime, Utc};
use serde_json::json;

use super::audit::{AuditLog, AuditTarget};
use super::keys::{MANUAL_REVIEW_SCHEDULE, PARKED_SCHEDULE, PAYOUT_SCHEDULE, off_every_schedule, review_member};
use super::notifications::EventType;
use super::partitions::{Changed, Partitions};
use super::settlement::Settlement;
use super::withdrawal_reads::WithdrawalReads;
use super::withdrawals::WithdrawalPolicy;
use super::work::{Claim, ClaimOutcome, WorkQueue};
use crate::domain::account::AccountId;
use crate::domain::binding::DestinationProvider;
use crate::domain::withdrawal::{RejectionReason, Unpaid, Withdrawal, WithdrawalError, WithdrawalId, WithdrawalStatus};
use crate::error::ApiError;
use crate::providers::alipay::payouts::{PayoutOutcome, order_outcome};
use crate::providers::payouts::BillState;
use crate::store::ScheduleEntry;

/// Operators' decisions on withdrawals, and the worker's time-outs of reviews.
#[derive(Debug, Clone)]
pub struct Review {
    pub partitions: Partitions,
    pub reads: WithdrawalReads,
    pub settlement: Settlement,
    pub work: WorkQueue,
    pub withdrawals: WithdrawalPolicy,
    pub audit: AuditLog,
}

impl Review {
    /// A withdrawal waiting for an operator, by id, with its account.
    async fn awaiting_operator(&self, withdrawal_id: &WithdrawalId) -> Result<(AccountId, Withdrawal), ApiError> {
        let account_id = self.reads.withdrawal_owner(withdrawal_id).await?;
        let withdrawal = self.reads.withdrawal(&account_id, withdrawal_id).await?;
        if !withdrawal.awaits_operator() {
            return Err(WithdrawalError::AlreadyDecided(withdrawal.status).into());
        }
        Ok((account_id, withdrawal))
    }

    /// Approves a withdrawal in review (it is paid out next), or sends a
    /// parked payout back for another round of attempts; audited.
    pub async fn approve_withdrawal(
        &self,
        operator: &AccountId,
        withdrawal_id: &WithdrawalId,
    ) -> Result<Withdrawal, ApiError> {
        let target = self.audit_target(withdrawal_id).await;
        let approved = self.approve(operator, withdrawal_id).await;
        self.audit.record(operator, "withdrawal.approve", target, json!({}), &approved).await;
        approved
    }

    /// Rejects a withdrawal in review, or a parked payout that was never
    /// paid; audited with the reason and the note.
    pub async fn reject_withdrawal(
        &self,
        operator: &AccountId,
        withdrawal_id: &WithdrawalId,
        reason: RejectionReason,
        note: Option<&str>,
    ) -> Result<Withdrawal, ApiError> {
        let target = self.audit_target(withdrawal_id).await;
        let rejected = self.reject(operator, withdrawal_id, reason, note).await;
        let detail = json!({ "reason": reason.code(), "note": note });
        self.audit.record(operator, "withdrawal.reject", target, detail, &rejected).await;
        rejected
    }

    async fn audit_target(&self, withdrawal_id: &WithdrawalId) -> AuditTarget {
        let owner = self.reads.withdrawal_owner(withdrawal_id).await.ok();
        AuditTarget::new("withdrawal", withdrawal_id.as_str(), owner.as_ref())
    }

    async fn approve(&self, operator: &AccountId, withdrawal_id: &WithdrawalId) -> Result<Withdrawal, ApiError> {
        let (account_id, _) = self.awaiting_operator(withdrawal_id).await?;
        let member = review_member(&account_id, withdrawal_id);
        let ((), withdrawal) = self
            .partitions
            .change_withdrawal(&account_id, withdrawal_id.as_str(), |_, withdrawal, now| {
                let mut changed = Changed::new(());
                match withdrawal.status {
                    WithdrawalStatus::InReview => {
                        withdrawal.approve(operator.as_str(), now)?;
                        changed.events.push(EventType::WithdrawalApproved);
                    }
                    _ => withdrawal.retry_payout(operator.as_str(), now)?,
                }
                let at_ms = now.timestamp_millis();
                changed.scheduled.push(ScheduleEntry { schedule: PAYOUT_SCHEDULE, member: member.clone(), at_ms });
                changed.unscheduled = vec![(MANUAL_REVIEW_SCHEDULE, member.clone()), (PARKED_SCHEDULE, member.clone())];
                Ok(changed)
            })
            .await?;
        Ok(withdrawal)
    }

    /// Rejects a withdrawal in review, or a parked payout that was never
    /// paid: the hold, the limits and the free quota come back in full.
    async fn reject(
        &self,
        operator: &AccountId,
        withdrawal_id: &WithdrawalId,
        reason: RejectionReason,
        note: Option<&str>,
    ) -> Result<Withdrawal, ApiError> {
        let (account_id, withdrawal) = self.awaiting_operator(withdrawal_id).await?;
        if withdrawal.status == WithdrawalStatus::Processing {
            self.check_never_paid(&account_id, &withdrawal).await?;
        }
        let member = review_member(&account_id, withdrawal_id);
        let ((), withdrawal) = self
            .partitions
            .change_withdrawal(&account_id, withdrawal_id.as_str(), |account, withdrawal, now| {
                let today = self.withdrawals.local_date(now);
                let entry = account.reject_withdrawal(withdrawal, operator.as_str(), reason, note, today, now)?;
                Ok(Changed {
                    entries: vec![entry],
                    events: vec![EventType::WithdrawalRejected],
                    unscheduled: off_every_schedule(&member),
                    ..Changed::new(())
                })
            })
            .await?;
        Ok(withdrawal)
    }

    /// A parked payout may have reached its provider before its answer was
    /// lost: ask the provider. A paid bill settles the withdrawal instead
    /// (and the rejection is refused); a bill still under way cannot be
    /// rejected yet.
    async fn check_never_paid(&self, account_id: &AccountId, withdrawal: &Withdrawal) -> Result<(), ApiError> {
        if withdrawal.destination.provider == DestinationProvider::Alipay {
            return self.check_never_paid_by_alipay(account_id, withdrawal).await;
        }
        let Some(payouts) = &self.settlement.policy.payouts else { return Ok(()) };
        let bill = payouts.bill(&withdrawal.out_bill_no()).await.map_err(|error| {
            tracing::warn!(%error, "payout provider unreachable while checking a bill");
            ApiError::WeChatUnavailable
        })?;
        match bill {
            None => Ok(()),
            Some(bill) if bill.state.is_terminal() && bill.state != BillState::Success => Ok(()),
            Some(bill) if bill.state == BillState::Success => {
                self.settlement.settle_paid(account_id, withdrawal.id.as_str(), &bill.transfer_bill_no).await?;
                Err(ApiError::PayoutAlreadyMade { transfer_bill_no: bill.transfer_bill_no })
            }
            Some(_) => Err(WithdrawalError::AlreadyDecided(withdrawal.status).into()),
        }
    }

    /// `check_never_paid` for an Alipay destination: the order by `out_biz_no`.
    async fn check_never_paid_by_alipay(
        &self,
        account_id: &AccountId,
        withdrawal: &Withdrawal,
    ) -> Result<(), ApiError> {
        let Some(alipay) = &self.settlement.policy.alipay else { return Ok(()) };
        let order = alipay.payouts.query(&withdrawal.out_bill_no()).await.map_err(|error| {
            tracing::warn!(%error, "Alipay unreachable while checking an order");
            ApiError::WeChatUnavailable
        })?;
        let Some(order) = order else { return Ok(()) };
        match order_outcome(&order) {
            PayoutOutcome::Failed { .. } => Ok(()),
            PayoutOutcome::Paid { order_id } => {
                self.settlement.settle_paid(account_id, withdrawal.id.as_str(), &order_id).await?;
                Err(ApiError::PayoutAlreadyMade { transfer_bill_no: order_id })
            }
            PayoutOutcome::Pending { .. } => Err(WithdrawalError::AlreadyDecided(withdrawal.status).into()),
        }
    }

    /// The schedule `time_out_reviews` claims from, and how long after an
    /// entry's time it falls due; none when reviews never time out.
    pub(crate) fn due_schedule(&self) -> Option<(&'static str, chrono::Duration)> {
        self.withdrawals.manual_review_timeout.map(|timeout| (MANUAL_REVIEW_SCHEDULE, timeout))
    }

    /// Rejects, as the worker, the reviews that waited longer than the timeout.
    pub(crate) async fn time_out_reviews(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<ClaimOutcome, ApiError>>, ApiError> {
        let Some(timeout) = self.withdrawals.manual_review_timeout else { return Ok(Vec::new()) };
        let claims = self.work.claim(MANUAL_REVIEW_SCHEDULE, now - timeout, now).await?;
        let mut outcomes = Vec::with_capacity(claims.len());
        for claim in claims {
            outcomes.push(self.time_out_review(claim, now).await);
        }
        Ok(outcomes)
    }

    async fn time_out_review(&self, claim: Claim, now: DateTime<Utc>) -> Result<ClaimOutcome, ApiError> {
        let Some((account_id, withdrawal_id)) = claim.parts() else {
            return self.work.drop_claim(&claim, "unreadable member").await;
        };
        let rejected = self
            .partitions
            .change_withdrawal(&account_id, withdrawal_id, |account, withdrawal, now| {
                if withdrawal.status != WithdrawalStatus::InReview {
                    return Ok(Changed::new(false));
                }
                let today = self.withdrawals.local_date(now);
                let entry = account.release_withdrawal(
                    withdrawal,
                    Unpaid::Rejected,
                    RejectionReason::ReviewTimedOut.code(),
                    today,
                    now,
                )?;
                Ok(Changed {
                    entries: vec![entry],
                    events: vec![EventType::WithdrawalRejected],
                    unscheduled: off_every_schedule(&claim.member),
                    ..Changed::new(true)
                })
            })
            .await;
        match rejected {
            Ok((true, _)) => Ok(ClaimOutcome::Rejected),
            Ok((false, _)) => self.work.drop_claim(&claim, "decided already").await,
            Err(ApiError::NotFound { .. }) => self.work.not_ready(&claim, now).await,
            Err(error) => Err(error),
        }
    }
}
