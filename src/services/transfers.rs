//! Moving money between two accounts, exactly once: the reusable service
//! step over `domain::transfer`'s three single-partition steps.
//!
//! - `send` commits the sender's step with the transfer's record and its
//!   entry on the `transfers:outbox` schedule, due at once;
//! - `deliver` commits the recipient's step (the credit, or the refusal,
//!   kept as a receipt under the transfer's id; `transfer.received` for a
//!   credit), then the sender's finish (complete, or the money back:
//!   `transfer.completed` or `transfer.returned`) with the outbox entry
//!   taken off;
//! - `deliver_due` is the worker's part: whatever a dead process left sent
//!   but not delivered, the outbox hands to a worker after its lease.
//!
//! Every step decides on the state its own commit checks, so any of them
//! may run again, or concurrently, with one effect. A step reads that state
//! unless its caller holds it (`Held`): the sender's record as the send
//! committed it (with the transfer in hand), the recipient's as read before
//! the send (when no receipt can exist yet). A held record is only a first
//! guess: the commit's version check refuses it if anything changed since,
//! and the step then reads and decides again. So a request that sends and
//! delivers reads neither partition again. No commit ever spans two
//! partitions: on a Redis Cluster each lies in its own slot.

use chrono::{DateTime, Utc};

use super::keys::{TRANSFER_OUTBOX, receipt_document, review_member, transfer_document};
use super::notifications::{Event, EventType};
use super::partitions::{AccountChange, Guess, Partitions};
use super::work::{Claim, ClaimOutcome, WorkQueue};
use crate::domain::account::{Account, AccountId};
use crate::domain::transfer::{
    Receipt, ReceiptOutcome, ReturnReason, Transfer, TransferId, TransferOrder, TransferStatus,
};
use crate::domain::transfer_policy::TransferPolicy;
use crate::error::ApiError;
use crate::store::typed::{decode_document, encode_document};
use crate::store::{ScheduleEntry, Versioned};

/// Transfers between accounts, and the worker's share of them.
#[derive(Debug, Clone)]
pub struct Transfers {
    pub partitions: Partitions,
    pub work: WorkQueue,
    /// Users' limits and fees, when to redeliver, the days a return gives back.
    pub policy: TransferPolicy,
}

impl Transfers {
    /// The sender's step: the debit, the transfer's record and its outbox
    /// entry, committed together. Refusals change nothing.
    pub async fn send(&self, from: &AccountId, order: TransferOrder) -> Result<Transfer, ApiError> {
        Ok(self.send_holding(from, order).await?.0)
    }

    /// As `send`, with the sender's record as the send committed it, for
    /// `deliver_holding` (a caller that read the recipient before sending
    /// adds that record too).
    pub async fn send_holding(&self, from: &AccountId, order: TransferOrder) -> Result<(Transfer, Held), ApiError> {
        let id = TransferId::generate();
        let (transfer, sender) = self
            .partitions
            .update_account_guessing(
                from,
                &[],
                Guess::Read,
                |_| Ok(()),
                |account, (), now| {
                    let (transfer, entry) = account.send_transfer(order.clone(), id.clone(), now)?;
                    let outbox = self.outbox_entry(&transfer, now);
                    Ok(AccountChange {
                        entries: vec![entry],
                        scheduled: vec![outbox],
                        documents: vec![(transfer_document(&transfer.id), encode_document(&transfer)?)],
                        ..AccountChange::new(transfer)
                    })
                },
            )
            .await?;
        Ok((transfer, Held { sender: Some(sender), recipient: None }))
    }

    /// Where the worker finds a transfer its sender did not deliver: due
    /// `redeliver_after` after the send, so a live sender normally finishes first.
    pub fn outbox_entry(&self, transfer: &Transfer, now: DateTime<Utc>) -> ScheduleEntry {
        ScheduleEntry {
            schedule: TRANSFER_OUTBOX,
            member: review_member(&transfer.from, &transfer.id),
            at_ms: (now + self.policy.redeliver_after).timestamp_millis(),
        }
    }

    /// The recipient's step and then the sender's finish, for a transfer
    /// `from` sent: what it came to. Safe to repeat: a delivered transfer is
    /// left as it is.
    pub async fn deliver(&self, from: &AccountId, id: &TransferId) -> Result<Transfer, ApiError> {
        let transfer = self.load(from, id).await?.ok_or(ApiError::NotFound { resource: "transfer" })?;
        self.deliver_sent(&transfer).await
    }

    /// The same for a transfer in hand (what it names never changes), each
    /// step reading its partition.
    pub async fn deliver_sent(&self, transfer: &Transfer) -> Result<Transfer, ApiError> {
        self.deliver_holding(transfer, Held::default()).await
    }

    /// As `deliver_sent`, with what the caller holds of the two partitions:
    /// each step whose record is held decides on it without a read, and
    /// reads only if its commit finds the record changed since.
    pub async fn deliver_holding(&self, transfer: &Transfer, held: Held) -> Result<Transfer, ApiError> {
        if transfer.status != TransferStatus::InFlight {
            return Ok(transfer.clone());
        }
        // A record held of another account than the step's is no guess at all.
        let recipient = held.recipient.filter(|record| record.value.id == transfer.to);
        let sender = held.sender.filter(|record| record.value.id == transfer.from);
        let receipt = self.receive(transfer, recipient).await?;
        self.finish(transfer, &receipt, sender).await
    }

    /// Claims the outbox entries due by `now` and delivers each.
    /// The schedule `deliver_due` claims from (its entries fall due at their time).
    pub(crate) fn due_schedule(&self) -> (&'static str, chrono::Duration) {
        (TRANSFER_OUTBOX, chrono::Duration::zero())
    }

    pub async fn deliver_due(&self, now: DateTime<Utc>) -> Result<Vec<Result<ClaimOutcome, ApiError>>, ApiError> {
        let claims = self.work.claim(TRANSFER_OUTBOX, now, now).await?;
        let deliveries = claims.iter().map(|claim| self.deliver_claimed(claim, now));
        Ok(futures_util::future::join_all(deliveries).await)
    }

    async fn deliver_claimed(&self, claim: &Claim, now: DateTime<Utc>) -> Result<ClaimOutcome, ApiError> {
        let Some((from, subject)) = claim.parts() else {
            return self.work.drop_claim(claim, "not a transfer member").await;
        };
        let Some(id) = TransferId::parse(subject) else {
            return self.work.drop_claim(claim, "not a transfer id").await;
        };
        match self.load(&from, &id).await? {
            None => self.work.not_ready(claim, now).await,
            Some(transfer) if transfer.status != TransferStatus::InFlight => {
                self.work.drop_claim(claim, "delivered already").await
            }
            Some(transfer) => {
                self.deliver_sent(&transfer).await?;
                Ok(ClaimOutcome::TransferDelivered)
            }
        }
    }

    /// The transfer `from` sent. Read alone (one document, not the record):
    /// a worker delivers a batch at once, whose deliveries mostly change the
    /// sender before its finish, so the record read here would rarely hold.
    async fn load(&self, from: &AccountId, id: &TransferId) -> Result<Option<Transfer>, ApiError> {
        let document = transfer_document(id);
        let text = self.partitions.store.partition_document(from, &document).await?;
        Ok(text.map(|text| decode_document(&document, &text)).transpose()?)
    }

    /// The recipient's step: its receipt, kept once under the transfer's id.
    /// A recipient that is gone refuses it (nothing is kept: there is no
    /// partition to keep it in, and ids are never reused).
    async fn receive(&self, transfer: &Transfer, held: Option<Versioned<Account>>) -> Result<Receipt, ApiError> {
        let document = receipt_document(&transfer.id);
        let guess = held.map_or(Guess::Read, |record| Guess::Known(record, None));
        let read = |mut found: Vec<Option<String>>| -> Result<Option<Receipt>, ApiError> {
            Ok(found.pop().flatten().map(|text| decode_document(&document, &text)).transpose()?)
        };
        let received = self
            .partitions
            .update_account_guessing(&transfer.to, &[&document], guess, read, |account, earlier, now| {
                let is_new = earlier.is_none();
                let (receipt, entry) = account.receive_transfer(transfer, earlier, now)?;
                let mut change = AccountChange::new(receipt.clone());
                if is_new {
                    change.documents.push((document.clone(), encode_document(&receipt)?));
                    if entry.is_some() {
                        change.events.push(Event::transfer(EventType::TransferReceived, &transfer.to, transfer, now));
                    }
                    change.entries.extend(entry);
                }
                Ok(change)
            })
            .await;
        match received {
            Ok((receipt, _)) => Ok(receipt),
            Err(ApiError::NotFound { resource: "account" }) => Ok(Receipt {
                transfer_id: transfer.id.clone(),
                from: transfer.from.clone(),
                amount: transfer.amount,
                memo: transfer.memo.clone(),
                names: transfer.names.clone(),
                outcome: ReceiptOutcome::Refused(ReturnReason::RecipientHasNoWallet),
                decided_at: self.partitions.now(),
            }),
            Err(error) => Err(error),
        }
    }

    /// The sender's finish, with the outbox entry taken off.
    async fn finish(
        &self,
        transfer: &Transfer,
        receipt: &Receipt,
        held: Option<Versioned<Account>>,
    ) -> Result<Transfer, ApiError> {
        let document = transfer_document(&transfer.id);
        let guess = held.map_or(Guess::Read, |record| Guess::Known(record, transfer.clone()));
        let read = |mut found: Vec<Option<String>>| -> Result<Transfer, ApiError> {
            let text = found.pop().flatten().ok_or(ApiError::NotFound { resource: "transfer" })?;
            Ok(decode_document(&document, &text)?)
        };
        let (finished, _) = self
            .partitions
            .update_account_guessing(&transfer.from, &[&document], guess, read, |account, mut current, now| {
                if current.status != TransferStatus::InFlight {
                    return Ok(AccountChange::new(current));
                }
                let entry = current.finish(account, receipt, now)?;
                account.transfer_came_back(&current, &self.policy)?;
                let kind = match current.status {
                    TransferStatus::Returned => EventType::TransferReturned,
                    _ => EventType::TransferCompleted,
                };
                Ok(AccountChange {
                    events: vec![Event::transfer(kind, &transfer.from, &current, now)],
                    entries: entry.into_iter().collect(),
                    unscheduled: vec![(TRANSFER_OUTBOX, review_member(&transfer.from, &transfer.id))],
                    documents: vec![(document.clone(), encode_document(&current)?)],
                    ..AccountChange::new(current)
                })
            })
            .await?;
        Ok(finished)
    }
}

/// What a deliverer already holds of a transfer's two partitions, each as
/// it stood at its version: a held record spares its step a read (the step
/// reads only if its commit finds the record changed since).
#[derive(Debug, Clone, Default)]
pub struct Held {
    /// The sender's record at a version that keeps the transfer as it is in
    /// hand: the send's own commit, or a read of both together.
    pub sender: Option<Versioned<Account>>,
    /// The recipient's record as read *before* the transfer was sent: no
    /// receipt of it can exist at that version (a receipt is written only
    /// after the send, and moves the version).
    pub recipient: Option<Versioned<Account>>,
}
