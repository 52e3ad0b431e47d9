//! The mock WeChat Pay's bills moving on by themselves, as worker work (in a
//! simulator only): each step claims the bills due on `BILLS_SCHEDULE` and
//! lets the mock do what is due (`MockWeChat::advance_bill`: `ACCEPTED` →
//! `PROCESSING` → final, a confirmation or a cancellation running out), on
//! the business clock, so a test or an operator advancing the clock moves
//! the bills as a worker would.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use super::work::{Claim, ClaimOutcome, WorkQueue};
use crate::error::ApiError;
use crate::providers::wechat::mock::{BILLS_SCHEDULE, BillStep, MockWeChat};

/// Moving the mock's bills on.
#[derive(Debug, Clone)]
pub struct MockPayBills {
    pub mock: Arc<MockWeChat>,
    pub work: WorkQueue,
}

impl MockPayBills {
    /// The schedule `move_due` claims from; its entries fall due at their time.
    pub(crate) fn due_schedule(&self) -> (&'static str, chrono::Duration) {
        (BILLS_SCHEDULE, chrono::Duration::zero())
    }

    /// Moves on the bills due at `now`, a batch of them.
    pub(crate) async fn move_due(&self, now: DateTime<Utc>) -> Result<Vec<Result<ClaimOutcome, ApiError>>, ApiError> {
        let claims = self.work.claim(BILLS_SCHEDULE, now, now).await?;
        let mut outcomes = Vec::with_capacity(claims.len());
        for claim in claims {
            outcomes.push(self.move_bill(&claim, now).await);
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
}
