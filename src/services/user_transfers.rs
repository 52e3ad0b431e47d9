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
use serde_json::value::RawValue;

use super::idempotency::{Replayed, SavedReply, replay, reply_document};
use super::keys::{receipt_document, transfer_document};
use super::partitions::{AccountChange, Guess};
use super::pin::Pins;
use super::transfers::{Held, Transfers};
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
use crate::store::Versioned;
use crate::store::typed::{TypedPartitionDocuments, encode_document, encode_raw_document};

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

/// A `TransferSubmitted` as its key keeps it (the same JSON), borrowing
/// what it saves: a sent transfer's text is its record's, encoded once.
#[derive(Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
enum SavedOutcome<'a> {
    Sent { transfer: &'a RawValue },
    Refused { refusal: &'a TransferRefusal },
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
        Ok(self.recipient_record(to).await?.map(|(recipient, _)| recipient))
    }

    /// As `find_recipient`, with the record it was read from.
    async fn recipient_record(&self, to: &str) -> Result<Option<(Recipient, Versioned<Account>)>, ApiError> {
        let store = &self.transfers.partitions.store;
        let id = match AccountId::parse(to.trim()) {
            Some(id) => Some(id),
            None => match Login::phone(to.trim()) {
                Ok(login) => store.account_id_by_login(&login.index_key()).await?,
                Err(_) => None,
            },
        };
        let Some(id) = id else { return Ok(None) };
        let Some(record) = store.load_account(&id).await? else { return Ok(None) };
        let account = &record.value;
        if !account.role.has_wallet() {
            return Ok(None);
        }
        let now = self.transfers.partitions.now();
        let recipient = Recipient {
            display_name: display_name(account, now),
            verified: account.verified_identity(now).is_some(),
            frozen: account.frozen,
            account_id: account.id.clone(),
        };
        Ok(Some((recipient, record)))
    }

    /// Sends (or replays) a transfer under `key`, and delivers it at once.
    pub async fn submit(
        &self,
        caller: &Principal,
        key: &IdempotencyKey,
        request: TransferRequest,
    ) -> Result<(TransferSubmitted, Replayed), ApiError> {
        let partitions = &self.transfers.partitions;
        // Read before the send, so no receipt of this transfer can exist at
        // its version: the recipient's step may decide on it unread.
        let (recipient, recipient_record) = self.recipient_record(&request.to).await?.unzip();
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
        let read = |mut found: Vec<Option<String>>| Ok(found.pop().flatten());
        // Decided first on the record this process last committed, if it
        // remembers it, with no reply saved under the key (the commit checks).
        let guess = Guess::Remembered(None);
        let updated = partitions
            .update_account_guessing(&caller.account_id, &[&document], guess, read, |account, saved, now| {
                admit(caller, account)?;
                if let Some(saved) = replay(saved.as_deref(), &fingerprint, ttl, now)? {
                    return Ok(AccountChange::new((saved, Replayed::Saved)));
                }
                let pin = PinEntry {
                    digest_of: |salt: &str| self.pins.pin_digest(salt, &request.pin),
                    policy: &self.pins.policy,
                };
                let mut ask = ask.clone();
                ask.names.from = display_name(account, now);
                let decision = account.decide_transfer(ask, id.clone(), pin, &self.transfers.policy, now)?;
                let mut change = match decision {
                    TransferDecision::Sent(transfer, entry) => {
                        // Encoded once, for its record and inside the saved reply.
                        let text = encode_raw_document(&transfer)?;
                        let saved = SavedReply {
                            fingerprint: fingerprint.clone(),
                            outcome: SavedOutcome::Sent { transfer: &text },
                            created_at: now,
                        };
                        let expiring = vec![(document.clone(), encode_document(&saved)?)];
                        AccountChange {
                            entries: vec![entry],
                            scheduled: vec![self.transfers.outbox_entry(&transfer, now)],
                            documents: vec![(transfer_document(&transfer.id), text.get().to_owned())],
                            expiring,
                            ..AccountChange::new((TransferSubmitted::Sent { transfer }, Replayed::Fresh))
                        }
                    }
                    TransferDecision::Refused(refusal) => {
                        let outcome = SavedOutcome::Refused { refusal: &refusal };
                        let saved = SavedReply { fingerprint: fingerprint.clone(), outcome, created_at: now };
                        AccountChange {
                            expiring: vec![(document.clone(), encode_document(&saved)?)],
                            ..AccountChange::new((TransferSubmitted::Refused { refusal }, Replayed::Fresh))
                        }
                    }
                };
                change.expiring_ttl = ttl.to_std().unwrap_or_default();
                Ok(change)
            })
            .await;
        let ((outcome, replayed), sender_record) = match updated {
            Ok(updated) => updated,
            Err(ApiError::NotFound { resource: "account" }) => return Err(session_ended()),
            Err(error) => return Err(error),
        };
        let TransferSubmitted::Sent { transfer } = outcome else { return Ok((outcome, replayed)) };
        // A fresh transfer is delivered on the records in hand: the sender's
        // as its commit left it, the recipient's as read before it. A saved
        // one was sent earlier, so neither vouches for it: its steps read.
        let held = match replayed {
            Replayed::Fresh => Held { sender: Some(sender_record), recipient: recipient_record },
            Replayed::Saved => Held::default(),
        };
        // Delivered now, or (a store fault in between) by the worker later:
        // the answer says where it stands either way.
        let current = match self.transfers.deliver_holding(&transfer, held).await {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::fixtures::{account_at, now};
    use crate::domain::asset::Asset;
    use crate::domain::ledger::LedgerAccount;
    use crate::domain::transfer::{TransferPurpose, TransferStatus};
    use crate::store::typed::decode_document;

    fn transfer() -> Transfer {
        Transfer {
            id: TransferId::generate(),
            purpose: TransferPurpose::Payment,
            from: account_at("acc_alice").id,
            to: account_at("acc_bob").id,
            amount: Quantity::parse(Asset::Usdt, "1.5").unwrap(),
            source: LedgerAccount::UserAvailable,
            fee: None,
            memo: "午饭 \"lunch\"".into(),
            names: PartyNames { from: "*丽".into(), to: "*博".into() },
            status: TransferStatus::InFlight,
            created_at: now(),
            finished_at: None,
            return_reason: None,
        }
    }

    /// What a key keeps is read back as the reply it was: the borrowed
    /// form saves exactly the JSON of the owned one.
    #[test]
    fn a_saved_reply_is_the_json_of_the_outcome_it_keeps() {
        let transfer = transfer();
        let text = encode_raw_document(&transfer).unwrap();
        let refusal = TransferRefusal::RecipientFrozen;
        let cases = [
            (SavedOutcome::Sent { transfer: &text }, TransferSubmitted::Sent { transfer: transfer.clone() }),
            (SavedOutcome::Refused { refusal: &refusal }, TransferSubmitted::Refused { refusal: refusal.clone() }),
        ];
        for (borrowed, owned) in cases {
            let saved = SavedReply { fingerprint: "f".into(), outcome: borrowed, created_at: now() };
            let kept = SavedReply { fingerprint: "f".into(), outcome: owned.clone(), created_at: now() };
            let saved = encode_document(&saved).unwrap();
            assert_eq!(saved, encode_document(&kept).unwrap());
            let read: SavedReply<TransferSubmitted> = decode_document("reply", &saved).unwrap();
            assert_eq!(read.outcome, owned);
        }
    }
}
