//! Paying out due withdrawals: each claimed withdrawal is marked
//! `processing` (one more attempt counted), paid through its destination's
//! provider (WeChat Pay's transfer bills, or Alipay's transfers) under its
//! own bill number, then settled (the hold leaves to the provider's
//! settlement account and the fee account) or failed (the hold comes back
//! in full) — each step one compare-and-set commit of the account
//! partition with its events. An answer that leaves the result unknown
//! (Alipay's DEALING, 20000, `SYSTEM_ERROR`; a lost answer from either) is
//! followed by a query of the bill or order, and the payout is sent again
//! later under the same number.
//!
//! A WeChat Pay bill moves on by itself (`ACCEPTED`, `PROCESSING`,
//! `WAIT_USER_CONFIRM`, `CANCELING`, then `SUCCESS`, `FAIL` or
//! `CANCELLED`): while it is under way the withdrawal waits on it, and the
//! worker looks at it again with growing pauses (sending the same bill,
//! which answers its state) without counting attempts, until it is final or
//! the wait (`worker.payout_bill_wait_max_secs`) runs out and the payout is
//! parked. `SUCCESS` settles, `FAIL` and `CANCELLED` give the hold back with
//! the reason, and so does a bill WeChat Pay refuses outright (a 4xx such
//! as `PARAM_ERROR`: the reason is its code). From ¥2,000 a bill carries the
//! payee's real name, the identity verified on the account (WeChat Pay
//! fails a name that is not the payee's, `NAME_NOT_CORRECT`, and refuses a
//! bill without one, `PARAM_ERROR`).
//!
//! Why a payout happens once: the bill number is the withdrawal's, so a retry
//! after a crash (before or after the provider was called) meets the same bill
//! and never pays twice; and settling needs the `processing` status, so of two
//! workers finishing the same withdrawal only the first commit counts.
//!
//! Why a payout is never forgotten: every commit that makes a withdrawal
//! payable (created without review, approved, sent back for more attempts)
//! puts it on the payout schedule in the same step, every commit that ends or
//! parks it takes it off, and a worker that decided on older state leaves the
//! entry alone (see `work`).

use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use super::keys::{PARKED_SCHEDULE, PAYOUT_SCHEDULE, off_every_schedule, review_member, withdrawal_document};
use super::notifications::EventType;
use super::partitions::{Changed, Partitions};
use super::withdrawals::WithdrawalPolicy;
use super::work::AlipayPayoutPolicy;
use super::work::{Claim, ClaimOutcome, SettlementPolicy, WorkQueue};
use crate::domain::account::AccountId;
use crate::domain::binding::DestinationProvider;
use crate::domain::withdrawal::{PayoutAttempt, Unpaid, Withdrawal, WithdrawalError, WithdrawalStatus};
use crate::error::ApiError;
use crate::providers::alipay::client::AlipayTransferRequest;
use crate::providers::alipay::payouts::{AlipayPayouts, PayoutOutcome, order_outcome, transfer_outcome};
use crate::providers::payouts::{
    BillState, PayoutError, PayoutProvider, TRANSFER_SCENE_ID, TransferRequest, user_name_required,
};
use crate::store::ScheduleEntry;
use crate::store::typed::TypedPartitionDocuments;

/// What the payee sees on the transfer (≤ 32 characters, like WeChat's `transfer_remark`).
const TRANSFER_REMARK: &str = "OK钱包余额提现";

/// What a payout attempt asks its destination's provider for.
enum PayoutOrder {
    Wechat(TransferRequest),
    Alipay(AlipayTransferRequest),
}

/// What became of a claimed withdrawal's next payout attempt.
enum PayoutStart {
    /// An attempt is counted: ask the provider for this.
    Begun(PayoutOrder),
    /// The bill is under way: look at it again (no attempt counted).
    Look(PayoutOrder),
    /// Its attempts are spent: parked for an operator by this commit.
    Parked,
    /// It is not there to be paid (gone, finished, parked, in review).
    NotPayable,
}

/// Paying out due withdrawals through the payout provider.
#[derive(Debug, Clone)]
pub struct Settlement {
    pub partitions: Partitions,
    pub work: WorkQueue,
    pub policy: SettlementPolicy,
    /// For the calendar days whose caps a failed payout gives back.
    pub withdrawals: WithdrawalPolicy,
}

impl Settlement {
    /// The schedule `pay_out_due` claims from (its entries fall due at their
    /// time); none without a payout provider, when nothing is paid out.
    pub(crate) fn due_schedule(&self) -> Option<(&'static str, chrono::Duration)> {
        let any = self.policy.payouts.is_some() || self.policy.alipay.is_some();
        any.then_some((PAYOUT_SCHEDULE, chrono::Duration::zero()))
    }

    pub(crate) async fn pay_out_due(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<Result<ClaimOutcome, ApiError>>, ApiError> {
        if self.due_schedule().is_none() {
            return Ok(Vec::new());
        }
        let claims = self.work.claim(PAYOUT_SCHEDULE, now, now).await?;
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        // Each payout is a task of its own, so a batch spreads over the
        // runtime's threads instead of being polled on this one.
        let settlement = std::sync::Arc::new(self.clone());
        let work = claims.into_iter().map(|claim| {
            let settlement = settlement.clone();
            async move {
                let payout = tokio::spawn(async move { settlement.pay_out(claim, now).await });
                payout.await.unwrap_or_else(|stopped| Err(ApiError::internal(stopped)))
            }
        });
        Ok(futures_util::stream::iter(work).buffer_unordered(self.policy.concurrency).collect().await)
    }

    /// Pays out one claimed withdrawal through its destination's provider
    /// and records the outcome.
    pub async fn pay_out(&self, claim: Claim, now: DateTime<Utc>) -> Result<ClaimOutcome, ApiError> {
        let order = match self.begin_payout(&claim).await? {
            PayoutStart::Begun(order) | PayoutStart::Look(order) => order,
            PayoutStart::Parked => return Ok(ClaimOutcome::Parked),
            PayoutStart::NotPayable => return self.payout_not_begun(&claim, now).await,
        };
        match order {
            PayoutOrder::Wechat(request) => match &self.policy.payouts {
                Some(payouts) => self.pay_wechat(payouts.as_ref(), &claim, &request, now).await,
                None => self.payout_pending(&claim, "no WeChat Pay provider configured", now).await,
            },
            PayoutOrder::Alipay(request) => match &self.policy.alipay {
                Some(alipay) => self.pay_alipay(alipay, &claim, &request, now).await,
                None => self.payout_pending(&claim, "no Alipay client configured", now).await,
            },
        }
    }

    /// A WeChat Pay bill under the withdrawal's bill number (sent again, it
    /// answers the bill as it stands); a lost answer is followed by a query
    /// of the bill, and what that cannot tell is sent again later.
    async fn pay_wechat(
        &self,
        payouts: &dyn PayoutProvider,
        claim: &Claim,
        request: &TransferRequest,
        now: DateTime<Utc>,
    ) -> Result<ClaimOutcome, ApiError> {
        let (account_id, withdrawal_id) = claim.parts().ok_or(WithdrawalError::NotFound)?;
        let bill = match payouts.transfer(request).await {
            Ok(bill) => bill,
            Err(PayoutError::Refused { code, message }) => {
                tracing::warn!(withdrawal_id, code, message, "WeChat Pay refused the bill: the payout fails");
                return self.fail_payout(&account_id, withdrawal_id, &code).await;
            }
            Err(error @ PayoutError::Unavailable(_)) => match payouts.bill(&request.out_bill_no).await {
                Ok(Some(bill)) => bill,
                Ok(None) => return self.payout_pending(claim, &format!("{error}; no bill yet"), now).await,
                Err(query) => return self.payout_pending(claim, &format!("{error}; query: {query}"), now).await,
            },
        };
        match bill.state {
            BillState::Success => self.settle_paid(&account_id, withdrawal_id, &bill.transfer_bill_no).await,
            BillState::Fail | BillState::Cancelled => {
                let reason = bill.fail_reason.as_deref().unwrap_or(bill.state.as_str());
                self.fail_payout(&account_id, withdrawal_id, reason).await
            }
            under_way => self.await_bill(claim, under_way, now).await,
        }
    }

    /// The bill is under way: the withdrawal waits on it and the worker
    /// looks again after a pause that grows with the looks.
    async fn await_bill(&self, claim: &Claim, state: BillState, now: DateTime<Utc>) -> Result<ClaimOutcome, ApiError> {
        let (account_id, withdrawal_id) = claim.parts().ok_or(WithdrawalError::NotFound)?;
        let ((), withdrawal) = self
            .partitions
            .change_withdrawal(&account_id, withdrawal_id, |_, withdrawal, now| {
                if !withdrawal.is_finished() {
                    withdrawal.await_bill(state.as_str(), now);
                }
                Ok(Changed::new(()))
            })
            .await?;
        let looks = withdrawal.payout.awaiting.as_ref().map_or(0, |awaiting| awaiting.looks);
        let at = now + self.policy.backoff(looks.saturating_add(1));
        tracing::debug!(withdrawal_id, state = state.as_str(), looks, "payout waits on its bill");
        self.work.requeue_claim(claim, at.timestamp_millis()).await?;
        Ok(ClaimOutcome::Awaiting)
    }

    /// An Alipay transfer under the withdrawal's bill number; an unknown
    /// result is queried at once, and what the query cannot settle is sent
    /// again later with the same `out_biz_no`.
    async fn pay_alipay(
        &self,
        alipay: &AlipayPayoutPolicy,
        claim: &Claim,
        request: &AlipayTransferRequest,
        now: DateTime<Utc>,
    ) -> Result<ClaimOutcome, ApiError> {
        let (account_id, withdrawal_id) = claim.parts().ok_or(WithdrawalError::NotFound)?;
        let outcome = match transfer_outcome(alipay.payouts.transfer(request).await) {
            PayoutOutcome::Pending { why } => {
                self.query_alipay(alipay.payouts.as_ref(), &request.out_biz_no, why).await
            }
            decided => decided,
        };
        match outcome {
            PayoutOutcome::Paid { order_id } => self.settle_paid(&account_id, withdrawal_id, &order_id).await,
            PayoutOutcome::Failed { sub_code } => self.fail_payout(&account_id, withdrawal_id, &sub_code).await,
            PayoutOutcome::Pending { why } => self.payout_pending(claim, &why, now).await,
        }
    }

    /// What Alipay's order says after an unknown result: paid, failed, or
    /// still pending (no order, `DEALING`, or the query itself unanswered).
    async fn query_alipay(&self, alipay: &dyn AlipayPayouts, out_biz_no: &str, why: String) -> PayoutOutcome {
        match alipay.query(out_biz_no).await {
            Ok(Some(order)) => match order_outcome(&order) {
                PayoutOutcome::Pending { why: dealing } => PayoutOutcome::Pending { why: format!("{why}; {dealing}") },
                decided => decided,
            },
            Ok(None) => PayoutOutcome::Pending { why: format!("{why}; no order yet") },
            Err(error) => PayoutOutcome::Pending { why: format!("{why}; query: {error}") },
        }
    }

    /// Counts an attempt and returns what to ask the provider for; parks the
    /// withdrawal (moving it to the operators' schedule in the same commit)
    /// once its attempts are spent.
    async fn begin_payout(&self, claim: &Claim) -> Result<PayoutStart, ApiError> {
        let Some((account_id, withdrawal_id)) = claim.parts() else { return Ok(PayoutStart::NotPayable) };
        let (attempts_max, wait_max) = (self.policy.payout_attempts_max, self.policy.bill_wait_max);
        let mut payee_name = None;
        let begun = self
            .partitions
            .change_withdrawal(&account_id, withdrawal_id, |account, withdrawal, now| {
                // WeChat Pay checks the payee's real name from ¥2,000: the identity verified on the account.
                payee_name = user_name_required(withdrawal.amount.money())
                    .then(|| account.verified_identity(now).map(|identity| identity.real_name.as_str().to_owned()))
                    .flatten();
                match withdrawal.next_payout_attempt(attempts_max, wait_max, now) {
                    Ok(PayoutAttempt::Look) => Ok(Changed::new(Some(PayoutAttempt::Look))),
                    Ok(attempt @ PayoutAttempt::Begun { first }) => {
                        let mut changed = Changed::new(Some(attempt));
                        if first {
                            changed.events.push(EventType::WithdrawalProcessing);
                        }
                        Ok(changed)
                    }
                    Ok(attempt @ PayoutAttempt::Parked) => {
                        let member = claim.member.clone();
                        let at_ms = withdrawal.created_at.timestamp_millis();
                        Ok(Changed {
                            scheduled: vec![ScheduleEntry { schedule: PARKED_SCHEDULE, member: member.clone(), at_ms }],
                            unscheduled: vec![(PAYOUT_SCHEDULE, member)],
                            ..Changed::new(Some(attempt))
                        })
                    }
                    Err(WithdrawalError::NotPayable(_)) => Ok(Changed::new(None)),
                    Err(error) => Err(error.into()),
                }
            })
            .await;
        let (begun, withdrawal) = match begun {
            Ok(done) => done,
            Err(ApiError::NotFound { .. }) => return Ok(PayoutStart::NotPayable),
            Err(error) => return Err(error),
        };
        match begun {
            Some(PayoutAttempt::Begun { .. }) => Ok(PayoutStart::Begun(self.payout_order(&withdrawal, payee_name))),
            Some(PayoutAttempt::Look) => Ok(PayoutStart::Look(self.payout_order(&withdrawal, payee_name))),
            Some(PayoutAttempt::Parked) => {
                tracing::warn!(withdrawal_id, attempts = withdrawal.payout.attempts, "payout parked for an operator");
                Ok(PayoutStart::Parked)
            }
            None => Ok(PayoutStart::NotPayable),
        }
    }

    /// What to ask the withdrawal's destination provider for; `payee_name`:
    /// the verified real name WeChat Pay is to check (from ¥2,000).
    fn payout_order(&self, withdrawal: &Withdrawal, payee_name: Option<String>) -> PayoutOrder {
        let destination = &withdrawal.destination;
        match destination.provider {
            DestinationProvider::Wechat => PayoutOrder::Wechat(TransferRequest {
                out_bill_no: withdrawal.out_bill_no(),
                openid: destination.openid.clone(),
                amount: withdrawal.amount.money(),
                remark: TRANSFER_REMARK.to_owned(),
                scene_id: TRANSFER_SCENE_ID.to_owned(),
                notify_url: self.policy.notify_url.clone(),
                user_name: payee_name,
            }),
            DestinationProvider::Alipay => PayoutOrder::Alipay(AlipayTransferRequest {
                out_biz_no: withdrawal.out_bill_no(),
                amount: withdrawal.amount.money(),
                payee: destination.openid.clone(),
                payee_name: destination.real_name.clone(),
                order_title: self.policy.alipay.as_ref().map_or(TRANSFER_REMARK, |a| &a.order_title).to_owned(),
            }),
        }
    }

    /// A claimed withdrawal that was not there to be paid: what to do with
    /// its entry, decided on the withdrawal as it is now. The entry is only
    /// ever touched while it still holds this claim, so an approval that
    /// landed meanwhile keeps the entry its commit wrote.
    async fn payout_not_begun(&self, claim: &Claim, now: DateTime<Utc>) -> Result<ClaimOutcome, ApiError> {
        let Some((account_id, withdrawal_id)) = claim.parts() else {
            return self.work.drop_claim(claim, "unreadable member").await;
        };
        let document = withdrawal_document(withdrawal_id);
        let found = self.partitions.store.partition_document_as::<Withdrawal>(&account_id, &document).await?;
        let Some(withdrawal) = found else { return self.work.not_ready(claim, now).await };
        match withdrawal.status {
            // Payable after all: a commit made it so after `begin_payout`
            // looked (an approval, say). Pay it in the next step.
            WithdrawalStatus::Pending | WithdrawalStatus::Processing if !withdrawal.payout.parked => {
                self.work.requeue_claim(claim, now.timestamp_millis()).await?;
                Ok(ClaimOutcome::Deferred)
            }
            // Finished, parked (it waits on the operators' schedule) or in
            // review (its approval will schedule it): nothing to pay here.
            _ => self.work.drop_claim(claim, "nothing to pay").await,
        }
    }

    /// The provider has not finished: try again after a pause that grows with the attempts.
    async fn payout_pending(&self, claim: &Claim, error: &str, now: DateTime<Utc>) -> Result<ClaimOutcome, ApiError> {
        let (account_id, withdrawal_id) = claim.parts().ok_or(WithdrawalError::NotFound)?;
        let ((), withdrawal) = self
            .partitions
            .change_withdrawal(&account_id, withdrawal_id, |_, withdrawal, _| {
                withdrawal.payout_interrupted(error, false);
                Ok(Changed::new(()))
            })
            .await?;
        let at = now + self.policy.backoff(withdrawal.payout.attempts);
        tracing::info!(withdrawal_id, attempts = withdrawal.payout.attempts, error, "payout will be retried");
        self.work.requeue_claim(claim, at.timestamp_millis()).await?;
        Ok(ClaimOutcome::Retried)
    }

    /// Records a paid bill (WeChat's `transfer_bill_no`, Alipay's
    /// `order_id`): the withdrawal settles (once; a repeat changes nothing).
    pub(crate) async fn settle_paid(
        &self,
        account_id: &AccountId,
        withdrawal_id: &str,
        transfer_bill_no: &str,
    ) -> Result<ClaimOutcome, ApiError> {
        let settled = self
            .partitions
            .change_withdrawal(account_id, withdrawal_id, |account, withdrawal, now| {
                if withdrawal.status == WithdrawalStatus::Settled {
                    return Ok(Changed::new(false));
                }
                let entry = account.settle_withdrawal(withdrawal, transfer_bill_no, now)?;
                Ok(Changed {
                    entries: vec![entry],
                    events: vec![EventType::WithdrawalSettled],
                    unscheduled: off_every_schedule(&review_member(account_id, withdrawal_id)),
                    ..Changed::new(true)
                })
            })
            .await;
        self.finish_claim(account_id, withdrawal_id, settled, ClaimOutcome::Settled).await
    }

    pub(crate) async fn fail_payout(
        &self,
        account_id: &AccountId,
        withdrawal_id: &str,
        reason: &str,
    ) -> Result<ClaimOutcome, ApiError> {
        let failed = self
            .partitions
            .change_withdrawal(account_id, withdrawal_id, |account, withdrawal, now| {
                if withdrawal.is_finished() {
                    return Ok(Changed::new(false));
                }
                let today = self.withdrawals.local_date(now);
                let entry = account.release_withdrawal(withdrawal, Unpaid::Failed, reason, today, now)?;
                Ok(Changed {
                    entries: vec![entry],
                    events: vec![EventType::WithdrawalFailed],
                    unscheduled: off_every_schedule(&review_member(account_id, withdrawal_id)),
                    ..Changed::new(true)
                })
            })
            .await;
        self.finish_claim(account_id, withdrawal_id, failed, ClaimOutcome::Failed).await
    }

    async fn finish_claim(
        &self,
        account_id: &AccountId,
        withdrawal_id: &str,
        result: Result<(bool, Withdrawal), ApiError>,
        outcome: ClaimOutcome,
    ) -> Result<ClaimOutcome, ApiError> {
        let (changed, _) = result?;
        if !changed {
            // Finished before (the change took its entry off): a stale claim.
            self.partitions.store.unschedule(PAYOUT_SCHEDULE, &review_member(account_id, withdrawal_id)).await?;
            return Ok(ClaimOutcome::Dropped);
        }
        Ok(outcome)
    }
}
