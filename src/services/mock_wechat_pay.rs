//! The mock WeChat Pay's bills moving on by themselves, as worker work (in a
//! simulator only): each step claims the bills due on `BILLS_SCHEDULE` and
//! lets the mock do what is due (`MockWeChat::advance_bill`: `ACCEPTED` →
//! `PROCESSING` → final, a confirmation or a cancellation running out), on
//! the business clock, so a test or an operator advancing the clock moves
//! the bills as a worker would. It also sends the notifications due on
//! `NOTICES_SCHEDULE` (`MockWeChat::advance_notice`: a final bill's
//! `MCHTRANSFER.BILL.FINISHED` to its `notify_url`, retried on WeChat
//! Pay's pauses).

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::work::{Claim, ClaimOutcome, WorkQueue};
use crate::error::ApiError;
use crate::providers::wechat::mock::{
    BILLS_SCHEDULE, BillStep, MockPayNotifier, MockWeChat, NOTICES_SCHEDULE, NoticeStep,
};

/// Moving the mock's bills on, and telling their final states.
#[derive(Debug, Clone)]
pub struct MockPayBills {
    pub mock: Arc<MockWeChat>,
    pub work: WorkQueue,
    /// Sends the notifications; without it none is sent.
    pub notifier: Option<Arc<MockPayNotifier>>,
}

impl MockPayBills {
    /// The schedules `move_due` claims from; their entries fall due at their time.
    pub(crate) fn due_schedules(&self) -> Vec<(&'static str, chrono::Duration)> {
        let notices = self.notifier.as_ref().map(|_| (NOTICES_SCHEDULE, chrono::Duration::zero()));
        [(BILLS_SCHEDULE, chrono::Duration::zero())].into_iter().chain(notices).collect()
    }

    /// Moves on the bills due at `now`, a batch of them, then sends a batch
    /// of the notifications due (those of bills that just became final among them).
    pub(crate) async fn move_due(&self, now: DateTime<Utc>) -> Result<Vec<Result<ClaimOutcome, ApiError>>, ApiError> {
        let claims = self.work.claim(BILLS_SCHEDULE, now, now).await?;
        let mut outcomes = Vec::with_capacity(claims.len());
        for claim in claims {
            outcomes.push(self.move_bill(&claim, now).await);
        }
        if let Some(notifier) = &self.notifier {
            for claim in self.work.claim(NOTICES_SCHEDULE, now, now).await? {
                outcomes.push(self.send_notice(notifier, &claim, now).await);
            }
        }
        Ok(outcomes)
    }

    async fn move_bill(&self, claim: &Claim, now: DateTime<Utc>) -> Result<ClaimOutcome, ApiError> {
        let step = self.mock.advance_bill(&claim.member, now).await.map_err(|error| {
            tracing::warn!(%error, out_bill_no = %claim.member, "a mock bill could not move on; its lease brings it back");
            ApiError::internal(error)
        })?;
        match step {
            BillStep::Missing => self.work.not_ready(claim, now).await,
            BillStep::NextAt(at) => {
                self.work.requeue_claim(claim, at.timestamp_millis()).await?;
                Ok(ClaimOutcome::MockBillMoved)
            }
            BillStep::Moved => {
                self.work.drop_claim(claim, "the bill moved on").await?;
                Ok(ClaimOutcome::MockBillMoved)
            }
            BillStep::Idle => self.work.drop_claim(claim, "nothing due").await,
        }
    }

    async fn send_notice(
        &self,
        notifier: &MockPayNotifier,
        claim: &Claim,
        now: DateTime<Utc>,
    ) -> Result<ClaimOutcome, ApiError> {
        let step = self.mock.advance_notice(&claim.member, now, notifier).await.map_err(|error| {
            tracing::warn!(%error, out_bill_no = %claim.member, "a mock notification could not be sent; its lease brings it back");
            ApiError::internal(error)
        })?;
        match step {
            NoticeStep::NotReady => self.work.not_ready(claim, now).await,
            NoticeStep::Delivered => {
                self.work.drop_claim(claim, "the notification was delivered").await?;
                Ok(ClaimOutcome::MockNoticeDelivered)
            }
            NoticeStep::RetryAt(at, why) => {
                tracing::info!(out_bill_no = %claim.member, %why, %at, "mock notification refused; sent again later");
                self.work.requeue_claim(claim, at.timestamp_millis()).await?;
                Ok(ClaimOutcome::MockNoticeRetried)
            }
            NoticeStep::GaveUp(why) => {
                tracing::warn!(out_bill_no = %claim.member, %why, "mock notification refused for the last time");
                self.work.drop_claim(claim, "the notification's retries are spent").await?;
                Ok(ClaimOutcome::MockNoticeRetried)
            }
            NoticeStep::Idle(Some(at)) => {
                self.work.requeue_claim(claim, at.timestamp_millis()).await?;
                Ok(ClaimOutcome::Deferred)
            }
            NoticeStep::Idle(None) => self.work.drop_claim(claim, "nothing to send").await,
        }
    }
}
