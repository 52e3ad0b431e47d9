//! Users sending money to each other: the recipient looked up (by phone
//! number or account id, shown masked before the user confirms), the
//! request decided in one call (`domain::transfer_decision`) and committed
//! with its reply under the user's `Idempotency-Key`, then delivered at once
//! through the transfer step (`transfers`); the worker delivers what a
//! stopped process left. Reading back: a user's transfers both ways, and one
//! by id.
//!
//! The sender's commit is one partition's, like every commit: the
//! recipient is read before it (whether it exists, is frozen), and a
//! recipient frozen in between is caught by the recipient's own step, which
//! sends the money back.

use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use super::idempotency::{Replayed, SavedReply, replay, reply_document};
use super::keys::{receipt_document, transfer_document};
use super::partitions::AccountChange;
use super::pin::Pins;
use super::transfers::Transfers;
use crate::auth::one_time_codes::keyed_digest;
use crate::auth::{Principal, admit, session_ended};
use crate::domain::account::{Account, AccountId};
use crate::domain::asset::Quantity;
use crate::domain::credentials::Login;
use crate::domain::pin::Pin;
use crate::domain::transfer::{PartyNames, Receipt, ReceiptOutcome, Transfer, TransferId};
use crate::domain::transfer_decision::{RecipientState, TransferAsk, TransferDecision, TransferRefusal};
use crate::domain::withdrawal_decision::{IdempotencyKey, PinEntry};
use crate::error::ApiError;
use crate::store::typed::{TypedPartitionDocuments, encode_document};

/// What a user sends.
#[derive(Debug, Clone)]
pub struct TransferRequest {
    /// A phone number or an account id, as typed.
    pub to: String,
    pub amount: Quantity,
    pub memo: String,
    pub pin: Pin,
}

/// A recipient as the sender sees it before confirming.
#[derive(Debug, Clone)]
pub struct Recipient {
    pub account_id: AccountId,
    /// The verified real name masked (`*明`), else the phone masked.
    pub display_name: String,
    pub verified: bool,
    pub frozen: bool,
}

impl Recipient {
    /// The recipient as the transfer decision weighs it.
    pub fn state(&self) -> RecipientState {
        match self.frozen {
            true => RecipientState::Frozen(self.account_id.clone()),
            false => RecipientState::Receives(self.account_id.clone()),
        }
    }
}

/// What a request came to, as kept for its idempotency key.
// One per request, moved once: not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum TransferSubmitted {
    Sent { transfer: Transfer },
    Refused { refusal: TransferRefusal },
}

/// One of a user's transfers, from either side.
#[derive(Debug, Clone)]
pub enum UserTransfer {
    Sent(Transfer),
    Received(Receipt),
}

impl UserTransfer {
    pub fn id(&self) -> &TransferId {
        match self {
            UserTransfer::Sent(transfer) => &transfer.id,
            UserTransfer::Received(receipt) => &receipt.transfer_id,
        }
    }
}

/// Users' transfers: send, look up a recipient, read back.
#[derive(Debug, Clone)]
pub struct UserTransfers {
    pub transfers: Transfers,
    pub pins: Pins,
    /// Tells requests under one key apart without keeping the PIN.
    pub fingerprint_secret: SecretString,
}

impl UserTransfers {
    /// The recipient `to` names (a phone number or an account id), or
    /// `None` when it names no user who can receive money.
    pub async fn find_recipient(&self, to: &str) -> Result<Option<Recipient>, ApiError> {
        let store = &self.transfers.partitions.store;
        let id = match AccountId::parse(to.trim()) {
            Some(id) => Some(id),
            None => match Login::phone(to.trim()) {
                Ok(login) => store.account_id_by_login(&login.index_key()).await?,
                Err(_) => None,
            },
        };
        let Some(id) = id else { return Ok(None) };
        let Some(account) = store.load_account(&id).await? else { return Ok(None) };
        let account = account.value;
        if !account.role.has_wallet() {
            return Ok(None);
        }
        let now = self.transfers.partitions.now();
        Ok(Some(Recipient {
            display_name: display_name(&account, now),
            verified: account.verified_identity(now).is_some(),
            frozen: account.frozen,
            account_id: account.id,
        }))
    }

    /// Sends (or replays) a transfer under `key`, and delivers it at once.
    pub async fn submit(
        &self,
        caller: &Principal,
        key: &IdempotencyKey,
        request: TransferRequest,
    ) -> Result<(TransferSubmitted, Replayed), ApiError> {
        let partitions = &self.transfers.partitions;
        let recipient = self.find_recipient(&request.to).await?;
        // Nobody to send to is decided as such (and kept under the key) all the same.
        let (recipient, to_name) =
            recipient.map_or((RecipientState::Unknown, String::new()), |found| (found.state(), found.display_name));
        let ask = TransferAsk {
            recipient,
            // The sender's own name is read from the record the commit decides on.
            names: PartyNames { from: String::new(), to: to_name },
            amount: request.amount,
            memo: request.memo.clone(),
        };
        let document = reply_document(None, key);
        let fingerprint = self.fingerprint(&request);
        // One id for every attempt of this request.
        let id = TransferId::generate();
        let ttl = self.transfers.policy.idempotency_ttl;
        let updated = partitions
            .update_account_reading(&caller.account_id, &[&document], |account, mut found, now| {
                admit(caller, account)?;
                if let Some(saved) = replay(found.pop().flatten().as_deref(), &fingerprint, ttl, now)? {
                    return Ok(AccountChange::new((saved, Replayed::Saved)));
                }
                let pin = PinEntry {
                    digest_of: |salt: &str| self.pins.pin_digest(salt, &request.pin),
                    policy: &self.pins.policy,
                };
                let mut ask = ask.clone();
                ask.names.from = display_name(account, now);
                let decision = account.decide_transfer(ask, id.clone(), pin, &self.transfers.policy, now)?;
                let (outcome, entries, scheduled, documents) = match decision {
                    TransferDecision::Sent(transfer, entry) => {
                        let outbox = self.transfers.outbox_entry(&transfer, now);
                        let document = (transfer_document(&transfer.id), encode_document(&transfer)?);
                        (TransferSubmitted::Sent { transfer }, vec![entry], vec![outbox], vec![document])
                    }
                    TransferDecision::Refused(refusal) => {
                        (TransferSubmitted::Refused { refusal }, Vec::new(), Vec::new(), Vec::new())
                    }
                };
                let reply = SavedReply { fingerprint: fingerprint.clone(), outcome, created_at: now };
                Ok(AccountChange {
                    entries,
                    scheduled,
                    documents,
                    expiring: vec![(document.clone(), encode_document(&reply)?)],
                    expiring_ttl: ttl.to_std().unwrap_or_default(),
                    ..AccountChange::new((reply.outcome, Replayed::Fresh))
                })
            })
            .await;
        let (outcome, replayed) = match updated {
            Ok((answer, _)) => answer,
            Err(ApiError::NotFound { resource: "account" }) => return Err(session_ended()),
            Err(error) => return Err(error),
        };
        let TransferSubmitted::Sent { transfer } = outcome else { return Ok((outcome, replayed)) };
        // Delivered now, or (a store fault in between) by the worker later:
        // the answer says where it stands either way.
        let current = match self.transfers.deliver_sent(&transfer).await {
            Ok(delivered) => delivered,
            Err(error) => {
                tracing::warn!(transfer_id = %transfer.id, error = %error, "transfer left to the worker to deliver");
                transfer
            }
        };
        Ok((TransferSubmitted::Sent { transfer: current }, replayed))
    }

    /// The caller's transfers, sent and received, newest first.
    pub async fn transfers_of(&self, account_id: &AccountId) -> Result<Vec<UserTransfer>, ApiError> {
        let store = &self.transfers.partitions.store;
        let (sent, received) = futures_util::future::try_join(
            store.partition_documents_as::<Transfer>(account_id, "transfer:"),
            store.partition_documents_as::<Receipt>(account_id, "receipt:"),
        )
        .await?;
        let sent = sent.into_iter().map(|(_, transfer)| UserTransfer::Sent(transfer));
        let received = received
            .into_iter()
            .map(|(_, receipt)| receipt)
            .filter(|receipt| receipt.outcome == ReceiptOutcome::Credited)
            .map(UserTransfer::Received);
        let mut all: Vec<UserTransfer> = sent.chain(received).collect();
        // Ids are time-ordered (UUIDv7): newest first is descending id.
        all.sort_by(|a, b| b.id().cmp(a.id()));
        Ok(all)
    }

    /// One of the caller's transfers, sent or received.
    pub async fn transfer_of(&self, account_id: &AccountId, id: &TransferId) -> Result<UserTransfer, ApiError> {
        let store = &self.transfers.partitions.store;
        if let Some(transfer) = store.partition_document_as::<Transfer>(account_id, &transfer_document(id)).await? {
            return Ok(UserTransfer::Sent(transfer));
        }
        let receipt: Option<Receipt> = store.partition_document_as(account_id, &receipt_document(id)).await?;
        receipt
            .filter(|receipt| receipt.outcome == ReceiptOutcome::Credited)
            .map(UserTransfer::Received)
            .ok_or(ApiError::NotFound { resource: "transfer" })
    }

    fn fingerprint(&self, request: &TransferRequest) -> String {
        let text = format!(
            "{}|{}|{}|{}|{}",
            request.to.trim(),
            request.amount.asset(),
            request.amount,
            request.memo,
            request.pin.expose()
        );
        keyed_digest(&self.fingerprint_secret, &["transfer_request"], &text)
    }
}

/// How an account is shown to a counterparty: its verified real name
/// masked (`*明`), else its phone number masked (`138****0002`).
pub fn display_name(account: &Account, now: DateTime<Utc>) -> String {
    match account.verified_identity(now) {
        Some(identity) => identity.real_name.masked(),
        None => account.login.masked(),
    }
}
