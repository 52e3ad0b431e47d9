//! Operator review of withdrawals: the queue (manual reviews and parked
//! payouts, oldest first, with the account's context), approve and reject,
//! and the worker's rejection of reviews nobody decided in time.
//!
//! Approving puts the payout on its schedule in the same commit that
//! approves, and every decision takes the withdrawal off the schedules it
//! leaves in that commit too, so a decided withdrawal can never be left
//! without the entry its next step needs (nor keep one it no longer needs).

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::audit::{AuditLog, AuditTarget};
use super::keys::{
    MANUAL_REVIEW_SCHEDULE, PARKED_SCHEDULE, PAYOUT_SCHEDULE, member_parts, off_every_schedule, review_member,
};
use super::notifications::EventType;
use super::partitions::{Changed, Partitions};
use super::settlement::Settlement;
use super::withdrawal_reads::WithdrawalReads;
use super::withdrawals::WithdrawalPolicy;
use super::work::{Claim, ClaimOutcome, ORPHAN_GRACE_SECS, WorkQueue};
use crate::domain::account::{AccountId, VerificationLevel};
use crate::domain::ledger::LedgerAccount;
use crate::domain::money::Money;
use crate::domain::withdrawal::{RejectionReason, Unpaid, Withdrawal, WithdrawalError, WithdrawalId, WithdrawalStatus};
use crate::error::ApiError;
use crate::providers::payouts::BillState;
use crate::store::ScheduleEntry;

/// The reason given when a review times out.
/// How many of the account's latest withdrawals a queue item shows.
const RECENT_WITHDRAWALS: usize = 5;
/// Entries read from each review schedule per queue page: the bound on the
/// scan, far above any queue operators work through.
const QUEUE_SCAN_MAX: usize = 10_000;

/// One withdrawal waiting for an operator.
#[derive(Debug, Clone)]
pub struct ReviewItem {
    pub account_id: AccountId,
    pub withdrawal: Withdrawal,
    /// `manual_review` or `parked_payout`.
    pub queue: &'static str,
    /// Why it waits: the review reasons, or `payout_attempts_exhausted`.
    pub reasons: Vec<String>,
    pub context: AccountContext,
}

/// What an operator needs to judge a withdrawal.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountContext {
    pub level: VerificationLevel,
    #[schema(example = false)]
    pub frozen: bool,
    pub available: Money,
    pub held: Money,
    /// How long the destination has been bound, in seconds.
    #[schema(example = 1800)]
    pub binding_age_secs: Option<i64>,
    /// The account's latest withdrawals other than this one, newest first.
    pub recent_withdrawals: Vec<RecentWithdrawal>,
}

/// One of the account's other withdrawals, in brief.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "wd_0196a0b1c2d37e40a1f3c9e2d4b5a6c7", "status": "settled", "amount": "300.00",
    "created_at": "2025-04-28T12:00:00Z"
}))]
pub struct RecentWithdrawal {
    #[schema(value_type = String)]
    pub id: WithdrawalId,
    pub status: WithdrawalStatus,
    pub amount: Money,
    pub created_at: DateTime<Utc>,
}

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
    /// Up to `limit` withdrawals waiting for an operator after `after` (or
    /// from the start), oldest first: by id, which is time-ordered, so a
    /// page's last id is where the next one starts.
    pub async fn review_queue(&self, after: Option<&WithdrawalId>, limit: usize) -> Result<Vec<ReviewItem>, ApiError> {
        let now = self.partitions.now();
        let mut entries = Vec::new();
        for (schedule, queue) in [(MANUAL_REVIEW_SCHEDULE, "manual_review"), (PARKED_SCHEDULE, "parked_payout")] {
            for (member, at_ms) in self.partitions.store.scheduled(schedule, i64::MAX, QUEUE_SCAN_MAX).await? {
                let Some(id) = member_parts(&member).and_then(|(_, id)| WithdrawalId::parse(id)) else { continue };
                if after.is_none_or(|after| id > *after) {
                    entries.push((id, schedule, queue, member, at_ms));
                }
            }
        }
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut items = Vec::new();
        for (_, schedule, queue, member, at_ms) in entries {
            if items.len() == limit {
                break;
            }
            if let Some(item) = self.review_item(schedule, queue, &member, at_ms, now).await? {
                items.push(item);
            }
        }
        Ok(items)
    }

    /// The queue item of one schedule entry; entries with nothing left to
    /// decide are taken off the schedule on the way.
    async fn review_item(
        &self,
        schedule: &str,
        queue: &'static str,
        member: &str,
        at_ms: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<ReviewItem>, ApiError> {
        let Some((account_id, withdrawal_id)) = member_parts(member) else { return Ok(None) };
        let withdrawals = self.reads.withdrawals(&account_id).await?;
        let Some(withdrawal) = withdrawals.iter().find(|w| w.id.as_str() == withdrawal_id).cloned() else {
            if now.timestamp_millis() - at_ms > ORPHAN_GRACE_SECS * 1000 {
                // Only if nobody moved it since it was read.
                self.partitions.store.reschedule_if_at(schedule, member, at_ms, None).await?;
            }
            return Ok(None);
        };
        let waits_here = match queue {
            "manual_review" => withdrawal.status == WithdrawalStatus::InReview,
            _ => withdrawal.awaits_operator() && withdrawal.status == WithdrawalStatus::Processing,
        };
        if !waits_here {
            // The commits that decide a withdrawal take its entries off; one
            // left over is dropped once the withdrawal can never come back
            // here. (One whose state moved on after the entry was read is
            // left alone: a commit may have just put it here.)
            if withdrawal.is_finished() {
                self.partitions.store.reschedule_if_at(schedule, member, at_ms, None).await?;
            }
            return Ok(None);
        }
        let account = self.partitions.load_account(&account_id).await?;
        let binding_age_secs = account
            .binding(&withdrawal.binding_id)
            .and_then(|binding| binding.activated_at)
            .map(|activated| (now - activated).num_seconds());
        let recent_withdrawals = withdrawals
            .iter()
            .filter(|other| other.id != withdrawal.id)
            .take(RECENT_WITHDRAWALS)
            .map(|other| RecentWithdrawal {
                id: other.id.clone(),
                status: other.status,
                amount: other.amount.money(),
                created_at: other.created_at,
            })
            .collect();
        let mut reasons: Vec<String> = withdrawal
            .review_reasons
            .iter()
            .map(|reason| {
                serde_json::to_value(reason).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
            })
            .collect();
        if queue == "parked_payout" {
            reasons = vec!["payout_attempts_exhausted".to_owned()];
        }
        let context = AccountContext {
            level: account.level_at(now),
            frozen: account.frozen,
            available: account.ledger.get(LedgerAccount::UserAvailable),
            held: account.ledger.get(LedgerAccount::UserHeld),
            binding_age_secs,
            recent_withdrawals,
        };
        Ok(Some(ReviewItem { account_id, withdrawal, queue, reasons, context }))
    }

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

    /// A parked payout may have reached WeChat before its answer was lost:
    /// ask the provider. A paid bill settles the withdrawal instead (and the
    /// rejection is refused); a bill still under way cannot be rejected yet.
    async fn check_never_paid(&self, account_id: &AccountId, withdrawal: &Withdrawal) -> Result<(), ApiError> {
        let Some(payouts) = &self.settlement.policy.payouts else { return Ok(()) };
        let bill = payouts.bill(&withdrawal.out_bill_no()).await.map_err(|error| {
            tracing::warn!(%error, "payout provider unreachable while checking a bill");
            ApiError::WeChatUnavailable
        })?;
        match bill {
            None => Ok(()),
            Some(bill) if bill.state == BillState::Fail => Ok(()),
            Some(bill) if bill.state == BillState::Success => {
                self.settlement.settle_paid(account_id, withdrawal.id.as_str(), &bill).await?;
                Err(ApiError::PayoutAlreadyMade { transfer_bill_no: bill.transfer_bill_no })
            }
            Some(_) => Err(WithdrawalError::AlreadyDecided(withdrawal.status).into()),
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
