//! How a mock transfer bill moves over business time (reference §3.1):
//! created `ACCEPTED`, then `PROCESSING` after `mock_wechat.pay.accepted_secs`,
//! then `SUCCESS` or `FAIL` after `processing_secs`; or, for a payee who
//! must confirm (a scene of `confirm_scene_ids`, or a user flagged
//! `confirm_required`), `WAIT_USER_CONFIRM` with `package_info` until the
//! payee confirms (then `PROCESSING` …) or `confirm_timeout_secs` pass
//! (`CANCELLED`); the merchant may cancel before the payee confirmed
//! (`CANCELING`, then `CANCELLED`). With both delays 0 a bill is decided
//! in the call that creates it.
//!
//! Each bill that moves on by itself is on `BILLS_SCHEDULE` (member: its
//! `out_bill_no`) at the time it next moves (`BillRecord::moves_at`); the
//! worker's step (`services::mock_wechat_pay`) claims what is due and calls
//! `advance_bill`, which does what is due and says when to look again. The
//! entry is written before the bill that needs it, so an entry may point at
//! a bill that does not move (it is dropped), never the other way round.
//!
//! A bill created with a `notify_url` is put on the notifications'
//! schedule just before it is written final (`notify`).
//!
//! Every step changes one document by compare-and-set (`store::kept_apart`:
//! each under its own hash tag): the bill, or the payee's wallet.
//! `finish_bill` says why a bill pays at most once.

#[allow(unused_imports)]
use super::*;

use crate::providers::payouts::{BillState, FailReason, PayoutError, TransferBill, TransferRequest, refusal_code};
use crate::retry::Rounds;

/// The schedule of bills that move on by themselves (member: the `out_bill_no`).
pub const BILLS_SCHEDULE: &str = "mock_wechat:bills";
/// How many random characters a `package_info` carries.
const PACKAGE_INFO_CHARS: usize = 48;

/// A bill as stored: the bill, and what the mock needs to move it on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct BillRecord {
    pub(super) bill: TransferBill,
    /// A simulator rule's reason to fail it, fixed when it was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) forced: Option<FailReason>,
    /// Kept `PROCESSING` by a rule (a stalled bill) until the same bill is
    /// sent again without it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(super) held: bool,
    /// When the bill moves on by itself; none while it waits on a call, or once final.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) moves_at: Option<DateTime<Utc>>,
    /// Where to tell the bill's final state (`notify`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) notify_url: Option<String>,
    /// The payee's name the bill was sent with (`user_name`, decrypted),
    /// checked against the payee's real name when the bill is decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) user_name: Option<String>,
    /// How telling it stands, once a delivery was tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) notice: Option<NoticeProgress>,
}

impl BillRecord {
    /// A `PROCESSING` bill whose time has come to be decided.
    fn due_for_decision(&self, now: DateTime<Utc>) -> bool {
        self.bill.state == BillState::Processing && !self.held && self.moves_at.is_none_or(|at| reached(at, now))
    }
}

/// Whether `now` has reached `at`, to the millisecond: schedules keep
/// milliseconds, so a worker woken at an entry's time must find it due
/// however finely the clock that set it ticks.
fn reached(at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    at.timestamp_millis() <= now.timestamp_millis()
}

/// What the worker's look at a scheduled bill found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BillStep {
    /// No such bill (yet): its creation may still land.
    Missing,
    /// It moves on again at this time.
    NextAt(DateTime<Utc>),
    /// It moved on, and does not move on by itself any more (final, or waiting on a call).
    Moved,
    /// Nothing was due.
    Idle,
}

/// How the merchant's cancellation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancellation {
    /// `CANCELING` or `CANCELLED`, with the bill as it now stands.
    Accepted(TransferBill),
    /// No bill with this `out_bill_no`.
    NotFound,
}

/// How the payee's confirmation ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    Confirmed(TransferBill),
    NotFound,
    /// The openid is not the bill's payee.
    NotThePayee,
    /// The bill does not wait for a confirmation (its state says why).
    NotWaiting(BillState),
}

impl MockWeChat {
    pub(super) async fn transfer_as(
        &self,
        request: &TransferRequest,
        forcing: Option<Forcing>,
    ) -> Result<TransferBill, PayoutError> {
        let mut rounds = Rounds::pausing_after(BILL_ATTEMPTS_MAX, BILL_ATTEMPTS_UNCONTENDED);
        while rounds.next().await {
            let found = match self.load_bill(&request.out_bill_no).await? {
                Some(found) => found,
                None => match self.create_bill(request, forcing).await? {
                    Some(found) => found,
                    // Created by another call meanwhile: compared with it next round.
                    None => continue,
                },
            };
            check_same_bill(&found.value.bill, request)?;
            let now = self.clock.now();
            if found.value.held && forcing != Some(Forcing::Processing) {
                // Sent again without the rule that stalled it: it goes on.
                match self.release(found, now).await? {
                    Some(bill) => return Ok(bill),
                    None => continue,
                }
            }
            if found.value.due_for_decision(now) {
                let bill = self.finish_bill(&found.value.bill).await?;
                tracing::info!(out_bill_no = %bill.out_bill_no, state = bill.state.as_str(), fail_reason = ?bill.fail_reason, "mock transfer bill decided");
                return Ok(bill);
            }
            return Ok(found.value.bill);
        }
        tracing::warn!(out_bill_no = %request.out_bill_no, "mock transfer bill left undecided after the attempt limit");
        Err(busy())
    }

    /// Creates the bill in its first state with a fresh WeChat Pay number;
    /// `None` when a bill with its `out_bill_no` exists by now. The number's
    /// index entry and the schedule entry are written first: either may
    /// lead to no bill (its creation then did not land), never the other
    /// way round.
    async fn create_bill(
        &self,
        request: &TransferRequest,
        forcing: Option<Forcing>,
    ) -> Result<Option<Versioned<BillRecord>>, PayoutError> {
        let now = self.clock.now();
        let pay = &self.settings.pay;
        let confirms = self.settings.pay.confirm_scene_ids.contains(&request.scene_id)
            || self.load_payee(&request.openid).await?.is_some_and(|payee| payee.value.confirm_required);
        let (state, moves_at) = if forcing == Some(Forcing::Processing) {
            (BillState::Processing, None)
        } else if confirms {
            (BillState::WaitUserConfirm, Some(after_secs(now, pay.confirm_timeout_secs)))
        } else if pay.accepted_secs > 0 {
            (BillState::Accepted, Some(after_secs(now, pay.accepted_secs)))
        } else if pay.processing_secs > 0 {
            (BillState::Processing, Some(after_secs(now, pay.processing_secs)))
        } else {
            (BillState::Processing, None)
        };
        let transfer_bill_no = self.new_bill_number(&request.out_bill_no, now).await?;
        let record = BillRecord {
            bill: TransferBill {
                out_bill_no: request.out_bill_no.clone(),
                transfer_bill_no,
                openid: request.openid.clone(),
                amount: request.amount,
                remark: request.remark.clone(),
                state,
                fail_reason: None,
                create_time: now,
                update_time: now,
                package_info: (state == BillState::WaitUserConfirm).then(new_package_info),
            },
            forced: match forcing {
                Some(Forcing::Fail(reason)) => Some(reason),
                _ => None,
            },
            held: forcing == Some(Forcing::Processing),
            moves_at,
            notify_url: request.notify_url.clone(),
            user_name: request.user_name.as_deref().map(str::trim).filter(|name| !name.is_empty()).map(str::to_owned),
            notice: None,
        };
        if let Some(at) = moves_at {
            self.schedule_bill(&record.bill.out_bill_no, at).await?;
        }
        let body = to_json(&record, &record.bill.out_bill_no).map_err(unavailable)?;
        match self
            .store
            .save_document(BILLS_COLLECTION, &record.bill.out_bill_no, 0, &body)
            .await
            .map_err(unavailable)?
        {
            CommitOutcome::Committed => Ok(Some(Versioned { version: 1, value: record })),
            CommitOutcome::VersionConflict => Ok(None),
        }
    }

    /// A new `transfer_bill_no` leading to `out_bill_no`, its index entry written.
    async fn new_bill_number(&self, out_bill_no: &str, now: DateTime<Utc>) -> Result<String, PayoutError> {
        let body = to_json(&out_bill_no, out_bill_no).map_err(unavailable)?;
        for _ in 0..BILL_NUMBER_ATTEMPTS_MAX {
            let number = new_transfer_bill_no(now);
            let saved = self.store.save_document(BILL_NUMBERS_COLLECTION, &number, 0, &body).await;
            if saved.map_err(unavailable)? == CommitOutcome::Committed {
                return Ok(number);
            }
        }
        Err(busy())
    }

    async fn schedule_bill(&self, out_bill_no: &str, at: DateTime<Utc>) -> Result<(), PayoutError> {
        self.store.schedule(BILLS_SCHEDULE, out_bill_no, at.timestamp_millis()).await.map_err(unavailable)
    }

    /// Writes `record` over the version found; `false` when it changed meanwhile.
    pub(super) async fn save_bill(&self, version: u64, record: &BillRecord) -> Result<bool, PayoutError> {
        let body = to_json(record, &record.bill.out_bill_no).map_err(unavailable)?;
        let saved = self.store.save_document(BILLS_COLLECTION, &record.bill.out_bill_no, version, &body).await;
        Ok(saved.map_err(unavailable)? == CommitOutcome::Committed)
    }

    /// Moves a bill to `state` at `now`, to be moved on again after
    /// `delay_secs` (scheduled first) or, with no delay, at once by the
    /// caller; `None` when the bill changed meanwhile.
    async fn move_to(
        &self,
        found: Versioned<BillRecord>,
        state: BillState,
        delay_secs: Option<u64>,
        now: DateTime<Utc>,
    ) -> Result<Option<BillRecord>, PayoutError> {
        let mut record = found.value;
        record.bill.state = state;
        record.bill.update_time = now;
        record.held = false;
        record.moves_at = delay_secs.filter(|secs| *secs > 0).map(|secs| after_secs(now, secs));
        if state != BillState::WaitUserConfirm {
            record.bill.package_info = None;
        }
        if state.is_terminal() {
            record.moves_at = None;
        }
        if let Some(at) = record.moves_at {
            self.schedule_bill(&record.bill.out_bill_no, at).await?;
        }
        self.schedule_notice(&record, now).await?;
        Ok(self.save_bill(found.version, &record).await?.then_some(record))
    }

    /// A stalled bill sent again: `PROCESSING` for `processing_secs`, or decided now.
    async fn release(
        &self,
        found: Versioned<BillRecord>,
        now: DateTime<Utc>,
    ) -> Result<Option<TransferBill>, PayoutError> {
        let Some(record) =
            self.move_to(found, BillState::Processing, Some(self.settings.pay.processing_secs), now).await?
        else {
            return Ok(None);
        };
        if record.due_for_decision(now) {
            return self.finish_bill(&record.bill).await.map(Some);
        }
        Ok(Some(record.bill))
    }

    /// The worker's look at a scheduled bill at `now`: does what is due.
    pub async fn advance_bill(&self, out_bill_no: &str, now: DateTime<Utc>) -> Result<BillStep, PayoutError> {
        let mut rounds = Rounds::pausing_after(BILL_ATTEMPTS_MAX, BILL_ATTEMPTS_UNCONTENDED);
        while rounds.next().await {
            let Some(found) = self.load_bill(out_bill_no).await? else { return Ok(BillStep::Missing) };
            if found.value.bill.state.is_terminal() {
                // A decision a crash left in the wallet goes now.
                self.forget_decision(&found.value.bill.openid, out_bill_no).await;
                return Ok(BillStep::Idle);
            }
            let Some(at) = found.value.moves_at.filter(|_| !found.value.held) else { return Ok(BillStep::Idle) };
            if !reached(at, now) {
                return Ok(BillStep::NextAt(at));
            }
            let processing_secs = self.settings.pay.processing_secs;
            let moved = match found.value.bill.state {
                BillState::Accepted => self.move_to(found, BillState::Processing, Some(processing_secs), now).await?,
                BillState::Processing => {
                    Some(BillRecord { bill: self.finish_bill(&found.value.bill).await?, ..found.value })
                }
                // Not confirmed in time, or a cancellation that has run its course.
                BillState::WaitUserConfirm | BillState::Canceling => {
                    self.move_to(found, BillState::Cancelled, None, now).await?
                }
                _ => return Ok(BillStep::Idle),
            };
            let Some(record) = moved else { continue };
            tracing::info!(out_bill_no, state = record.bill.state.as_str(), "mock transfer bill moved on");
            return Ok(match record.moves_at {
                Some(at) if !record.bill.state.is_terminal() => BillStep::NextAt(at),
                _ if record.due_for_decision(now) => {
                    self.finish_bill(&record.bill).await?;
                    BillStep::Moved
                }
                _ => BillStep::Moved,
            });
        }
        Err(busy())
    }

    /// The payee `openid` confirms bill `out_bill_no` (what
    /// `wx.requestMerchantTransfer` does in the real app): it goes on to
    /// `PROCESSING` (decided after `processing_secs`, or at once).
    pub async fn confirm_bill(&self, out_bill_no: &str, openid: &str) -> Result<Confirmation, PayoutError> {
        check_out_bill_no(out_bill_no)?;
        let mut rounds = Rounds::pausing_after(BILL_ATTEMPTS_MAX, BILL_ATTEMPTS_UNCONTENDED);
        while rounds.next().await {
            let Some(found) = self.load_bill(out_bill_no).await? else { return Ok(Confirmation::NotFound) };
            if found.value.bill.openid != openid {
                return Ok(Confirmation::NotThePayee);
            }
            if found.value.bill.state != BillState::WaitUserConfirm {
                return Ok(Confirmation::NotWaiting(found.value.bill.state));
            }
            let now = self.clock.now();
            let Some(record) =
                self.move_to(found, BillState::Processing, Some(self.settings.pay.processing_secs), now).await?
            else {
                continue;
            };
            if record.due_for_decision(now) {
                return Ok(Confirmation::Confirmed(self.finish_bill(&record.bill).await?));
            }
            return Ok(Confirmation::Confirmed(record.bill));
        }
        Err(busy())
    }

    /// `POST /v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel`:
    /// allowed before the payee confirmed (`ACCEPTED`, `WAIT_USER_CONFIRM`):
    /// `CANCELING`, then `CANCELLED` after `processing_secs` (at once with
    /// none). A bill cancelling or cancelled answers as it stands; one being
    /// paid or paid cannot be cancelled.
    pub async fn cancel_bill(&self, out_bill_no: &str) -> Result<Cancellation, PayoutError> {
        check_out_bill_no(out_bill_no)?;
        let mut rounds = Rounds::pausing_after(BILL_ATTEMPTS_MAX, BILL_ATTEMPTS_UNCONTENDED);
        while rounds.next().await {
            let Some(found) = self.load_bill(out_bill_no).await? else { return Ok(Cancellation::NotFound) };
            let now = self.clock.now();
            let moved = match found.value.bill.state {
                BillState::Canceling | BillState::Cancelled => return Ok(Cancellation::Accepted(found.value.bill)),
                BillState::Accepted | BillState::WaitUserConfirm => match self.settings.pay.processing_secs {
                    0 => self.move_to(found, BillState::Cancelled, None, now).await?,
                    secs => self.move_to(found, BillState::Canceling, Some(secs), now).await?,
                },
                state => {
                    let message = format!("a {} bill can no longer be cancelled", state.as_str());
                    return Err(refused(refusal_code::INVALID_REQUEST, &message));
                }
            };
            if let Some(record) = moved {
                tracing::info!(out_bill_no, state = record.bill.state.as_str(), "mock transfer bill cancelled");
                return Ok(Cancellation::Accepted(record.bill));
            }
        }
        Err(busy())
    }

    /// Takes a `PROCESSING` bill to `SUCCESS` or `FAIL` in two
    /// single-document steps: the payee's wallet decides (and is credited,
    /// for a success), keeping the decision under the bill's number; then the
    /// bill is written final, and the wallet forgets the decision. Any number
    /// of callers may finish one bill at once, or again after a crash
    /// between the steps: the wallet is read before the bill, so a caller
    /// that finds no decision in the wallet either finds the bill final
    /// (the decision was made and forgotten before) or decides on that very
    /// wallet version, which no other decision can have changed. So the
    /// wallet is credited at most once, and the bill always says what the
    /// wallet decided. A bill in any other state is answered as it stands.
    pub(super) async fn finish_bill(&self, bill: &TransferBill) -> Result<TransferBill, PayoutError> {
        let mut rounds = Rounds::pausing_after(BILL_ATTEMPTS_MAX, BILL_ATTEMPTS_UNCONTENDED);
        while rounds.next().await {
            let payee = self.load_payee(&bill.openid).await?;
            let Some(found) = self.load_bill(&bill.out_bill_no).await? else {
                return Err(PayoutError::Unavailable(format!("bill {} vanished", bill.out_bill_no)));
            };
            if found.value.bill.state != BillState::Processing || found.value.held {
                if found.value.bill.state.is_terminal() {
                    self.forget_decision(&bill.openid, &bill.out_bill_no).await;
                }
                return Ok(found.value.bill);
            }
            let decided = match payee {
                // No wallet can ever be credited for it: nothing to decide together.
                None => DecidedBill::failed(&bill.out_bill_no, FailReason::OpenidInvalid),
                Some(payee) => match payee.value.wallet.decision(&bill.out_bill_no) {
                    Some(decided) => decided.clone(),
                    None => match self.decide_on_wallet(payee, &found.value).await? {
                        Some(decided) => decided,
                        None => continue,
                    },
                },
            };
            let mut record = found.value;
            (record.bill.state, record.bill.fail_reason) = (decided.state, decided.fail_reason);
            record.bill.update_time = self.clock.now();
            record.moves_at = None;
            self.schedule_notice(&record, record.bill.update_time).await?;
            if !self.save_bill(found.version, &record).await? {
                continue;
            }
            self.forget_decision(&bill.openid, &bill.out_bill_no).await;
            return Ok(record.bill);
        }
        Err(busy())
    }

    /// The payee, if `openid` is one.
    async fn load_payee(&self, openid: &str) -> Result<Option<Versioned<MockWeChatUser>>, PayoutError> {
        self.load_user(openid).await.map_err(unavailable)
    }

    /// Decides the bill on the payee's wallet as loaded (a rule's forced
    /// reason over the payee's) and saves the wallet with the decision
    /// (credited, for a success). `None` when the wallet changed meanwhile:
    /// the caller loads it again.
    async fn decide_on_wallet(
        &self,
        payee: Versioned<MockWeChatUser>,
        record: &BillRecord,
    ) -> Result<Option<DecidedBill>, PayoutError> {
        let (now, bill) = (self.clock.now(), &record.bill);
        let Versioned { version, value: mut user } = payee;
        let payment = Payment { amount: bill.amount, user_name: record.user_name.as_deref() };
        let refusal = record.forced.or_else(|| refusal(&user, &self.settings.app_id, payment, now));
        let decided = match refusal {
            Some(reason) => DecidedBill::failed(&bill.out_bill_no, reason),
            None => {
                credit(&mut user.wallet, bill, payment.user_name, now)?;
                DecidedBill { out_bill_no: bill.out_bill_no.clone(), state: BillState::Success, fail_reason: None }
            }
        };
        user.wallet.deciding.push(decided.clone());
        match self.save_user(version, &user).await.map_err(unavailable)? {
            CommitOutcome::Committed => Ok(Some(decided)),
            CommitOutcome::VersionConflict => Ok(None),
        }
    }

    /// Takes a final bill's decision out of its payee's wallet. Best effort:
    /// a decision left behind changes nothing (its bill is final, so no one
    /// decides it again), and the worker's next look at the bill takes it out.
    async fn forget_decision(&self, openid: &str, out_bill_no: &str) {
        for _ in 0..FORGET_ATTEMPTS_MAX {
            let Ok(Some(Versioned { version, value: mut user })) = self.load_user(openid).await else { return };
            let before = user.wallet.deciding.len();
            user.wallet.deciding.retain(|decided| decided.out_bill_no != out_bill_no);
            if user.wallet.deciding.len() == before {
                return;
            }
            if let Ok(CommitOutcome::Committed) = self.save_user(version, &user).await {
                return;
            }
        }
        tracing::info!(out_bill_no, "a bill's decision stays in its payee's wallet for now");
    }
}

/// What the payee's app would open to confirm: random, like WeChat Pay's.
fn new_package_info() -> String {
    format!("ABBQO+oYAAABAAAAAAB{}", random_url_safe(PACKAGE_INFO_CHARS))
}
