//! WeChat Pay's notifications as walletgate receives them (what a real WeChat
//! Pay calls at the bills' `notify_url`): `MCHTRANSFER.BILL.FINISHED` says a
//! transfer bill is final, so its withdrawal settles (or fails) at once
//! instead of at the worker's next look at the bill.
//!
//! The notification is checked first — the platform's signature over the
//! exact body within five minutes of the wall clock, then the resource
//! decrypted with the APIv3 key (`domain::wechatpay_crypto`) — and then only
//! used to name the bill: the bill is asked of WeChat Pay itself, as WeChat
//! Pay advises, and its answer goes through the same settlement steps the
//! worker uses (`Settlement::settle_paid`, `fail_payout`), which act once.
//! So a repeated, late or reordered notification changes nothing, and one
//! whose bill cannot be read now brings the withdrawal's payout step
//! forward to now instead.

use chrono::{DateTime, Utc};

use super::keys::{PAYOUT_SCHEDULE, review_member};
use super::settlement::Settlement;
use super::withdrawal_reads::WithdrawalReads;
use crate::clock::SharedClock;
use crate::domain::binding::DestinationProvider;
use crate::domain::wechatpay_crypto::{ApiV3Key, BILL_FINISHED_EVENT, BillFinished, NoticeFailure, open_notification};
use crate::domain::wechatpay_sign::{AnswerSignature, PlatformPublicKey};
use crate::domain::withdrawal::{WithdrawalId, WithdrawalStatus};
use crate::error::ApiError;
use crate::providers::payouts::BillState;
use crate::services::work::ClaimOutcome;

/// What walletgate checks notifications with (`wechat.pay`).
#[derive(Debug, Clone)]
pub struct NoticeKeys {
    pub mchid: String,
    pub platform: PlatformPublicKey,
    pub apiv3: ApiV3Key,
}

/// Receiving WeChat Pay's notifications.
#[derive(Debug, Clone)]
pub struct PayNotices {
    pub settlement: Settlement,
    pub reads: WithdrawalReads,
    pub keys: NoticeKeys,
    /// Signatures go by the wall clock, never the simulator's business time.
    pub wall_clock: SharedClock,
}

/// What a notification changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoticeOutcome {
    /// The bill was paid: the withdrawal settled now.
    Settled,
    /// The bill failed or was cancelled: the withdrawal failed now, its hold given back.
    Failed,
    /// The bill could not be read now: the withdrawal's payout step is due now.
    Scheduled,
    /// Nothing to do: told before, not a bill of ours, or not another event than a final bill.
    Unchanged,
}

/// Why a notification was not taken.
#[derive(Debug, thiserror::Error)]
pub enum NoticeError {
    /// Not from WeChat Pay as far as anyone can tell (WeChat Pay sends it again).
    #[error(transparent)]
    Refused(#[from] NoticeFailure),
    /// It could not be acted on now (the store); WeChat Pay sends it again.
    #[error(transparent)]
    Unavailable(#[from] ApiError),
}

impl PayNotices {
    /// Checks the notification with its signature headers (`None`: missing)
    /// and acts on the bill it names.
    pub async fn receive(&self, signed: Option<&AnswerSignature>, body: &[u8]) -> Result<NoticeOutcome, NoticeError> {
        let now = self.wall_clock.now().timestamp();
        let (notification, plaintext) = open_notification(&self.keys.platform, &self.keys.apiv3, signed, body, now)?;
        if notification.event_type != BILL_FINISHED_EVENT {
            tracing::info!(event_type = %notification.event_type, "WeChat Pay notification of another event ignored");
            return Ok(NoticeOutcome::Unchanged);
        }
        let finished: BillFinished = serde_json::from_slice(&plaintext).map_err(|_| NoticeFailure::Malformed)?;
        if finished.mchid != self.keys.mchid {
            tracing::warn!(mchid = %finished.mchid, "WeChat Pay notification for another merchant ignored");
            return Ok(NoticeOutcome::Unchanged);
        }
        let outcome = self.look_at_bill(&finished.out_bill_no, self.settlement.partitions.clock.now()).await?;
        tracing::info!(out_bill_no = %finished.out_bill_no, state = %finished.state, ?outcome, "WeChat Pay notification taken");
        Ok(outcome)
    }

    /// The withdrawal paid by bill `out_bill_no`, as its bill now stands.
    async fn look_at_bill(&self, out_bill_no: &str, now: DateTime<Utc>) -> Result<NoticeOutcome, ApiError> {
        let Some(withdrawal_id) = WithdrawalId::of_out_bill_no(out_bill_no) else {
            return Ok(NoticeOutcome::Unchanged);
        };
        let account_id = match self.reads.withdrawal_owner(&withdrawal_id).await {
            Ok(account_id) => account_id,
            Err(ApiError::NotFound { .. }) => return Ok(NoticeOutcome::Unchanged),
            Err(error) => return Err(error),
        };
        let withdrawal = self.reads.withdrawal(&account_id, &withdrawal_id).await?;
        if withdrawal.status != WithdrawalStatus::Processing
            || withdrawal.destination.provider != DestinationProvider::Wechat
        {
            return Ok(NoticeOutcome::Unchanged);
        }
        let id = withdrawal_id.as_str();
        let found = match &self.settlement.policy.payouts {
            Some(payouts) => payouts.bill(out_bill_no).await.ok().flatten(),
            None => None,
        };
        let outcome = match found {
            Some(bill) if bill.state == BillState::Success => {
                self.settlement.settle_paid(&account_id, id, &bill.transfer_bill_no).await?
            }
            Some(bill) if matches!(bill.state, BillState::Fail | BillState::Cancelled) => {
                let reason = bill.fail_reason.as_deref().unwrap_or(bill.state.as_str());
                self.settlement.fail_payout(&account_id, id, reason).await?
            }
            // Under way after all (a notification ahead of the bill): the worker keeps looking.
            Some(_) => return Ok(NoticeOutcome::Unchanged),
            None if withdrawal.payout.parked => return Ok(NoticeOutcome::Unchanged),
            None => {
                let member = review_member(&account_id, id);
                self.settlement.partitions.store.schedule(PAYOUT_SCHEDULE, &member, now.timestamp_millis()).await?;
                return Ok(NoticeOutcome::Scheduled);
            }
        };
        Ok(match outcome {
            ClaimOutcome::Settled => NoticeOutcome::Settled,
            ClaimOutcome::Failed => NoticeOutcome::Failed,
            _ => NoticeOutcome::Unchanged,
        })
    }
}
