//! Money that moves between two accounts' partitions, exactly once, without
//! a commit that spans both: a pending transfer in TigerBeetle's terms, the
//! transactional outbox with an idempotent receiver in microservices' terms.
//!
//! Three single-partition steps, each its own commit:
//! 1. **send** (the sender's partition): the amount leaves the sender's
//!    source balance for the `in_flight` ledger account, and the `Transfer`
//!    is recorded, in flight;
//! 2. **receive** (the recipient's partition): the transfer is credited
//!    from `in_flight` to the recipient's balance, or refused (the recipient
//!    is frozen, or has no wallet), and the outcome is kept as a `Receipt`
//!    under the transfer's id, so a repeat finds it and changes nothing;
//! 3. **finish** (the sender's partition): the transfer completes on a
//!    credited receipt, or its money comes back on a refused one.
//!
//! A partition's `in_flight` balance is its share of one system account: a
//! send adds to the sender's share, a credit takes from the recipient's,
//! and a return takes from the sender's again. Summed over every partition,
//! `in_flight` is exactly the money of transfers sent and neither credited
//! nor returned: zero once every transfer has finished.
//!
//! Any step may run again after a crash (each is decided on the state its
//! commit checks), so a worker can finish whatever a dead process left.
//! User payments use this, and so will escrow releases and appeal decisions
//! (`TransferPurpose`), with their own source balance.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::account::{Account, AccountId, Posting};
use super::asset::{Quantity, QuantityError};
use super::ids::hex_id;
use super::ledger::{EntryKind, JournalEntry, LedgerAccount, LedgerError, leg_of};

hex_id!(
    /// A transfer's id: `tr_` and 32 hex digits.
    #[schema(example = "tr_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")]
    TransferId,
    "tr_"
);

/// Why money moves between two accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransferPurpose {
    /// A user sends money to another user.
    Payment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "completed")]
pub enum TransferStatus {
    /// Sent: gone from the sender, not yet known to be credited or refused.
    InFlight,
    /// Credited to the recipient.
    Completed,
    /// Refused by the recipient's side; the money is back with the sender.
    Returned,
}

/// Why a recipient's side refused a transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[schema(example = "RECIPIENT_FROZEN")]
pub enum ReturnReason {
    /// The recipient's account was frozen when the credit came.
    RecipientFrozen,
    /// The recipient's account holds no money (an operator's).
    RecipientHasNoWallet,
}

/// A transfer as its sender's partition keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transfer {
    pub id: TransferId,
    pub purpose: TransferPurpose,
    pub from: AccountId,
    pub to: AccountId,
    /// Positive, of one asset.
    pub amount: Quantity,
    /// The sender's balance the amount left (and comes back to on a return).
    pub source: LedgerAccount,
    /// What the sender paid on top, into `fees` (given back on a return);
    /// `None` for a free transfer.
    #[serde(default)]
    pub fee: Option<Quantity>,
    pub memo: String,
    /// How each side was shown to the other when it was sent.
    #[serde(default)]
    pub names: PartyNames,
    pub status: TransferStatus,
    pub created_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
    pub return_reason: Option<ReturnReason>,
}

/// How the two sides of a transfer are shown to each other: masked, as
/// wallets show a counterparty (`*明`, `138****0002`). Empty when unknown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyNames {
    pub from: String,
    pub to: String,
}

/// One side's name as a journal entry keeps it: `None` when unknown.
fn known_name(name: &str) -> Option<String> {
    (!name.is_empty()).then(|| name.to_owned())
}

/// What the recipient's partition keeps of a transfer sent to it: its
/// outcome, decided once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub transfer_id: TransferId,
    pub from: AccountId,
    pub amount: Quantity,
    #[serde(default)]
    pub memo: String,
    #[serde(default)]
    pub names: PartyNames,
    pub outcome: ReceiptOutcome,
    pub decided_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", content = "reason", rename_all = "snake_case")]
pub enum ReceiptOutcome {
    Credited,
    Refused(ReturnReason),
}

/// What a sender asks for.
#[derive(Debug, Clone)]
pub struct TransferOrder {
    pub purpose: TransferPurpose,
    pub to: AccountId,
    /// Positive, of one asset.
    pub amount: Quantity,
    /// The sender's balance to take it from (`user_available` for a payment).
    pub source: LedgerAccount,
    /// Charged on top of the amount, from the same balance, into `fees`;
    /// `None` (or zero) for a free transfer.
    pub fee: Option<Quantity>,
    pub memo: String,
    pub names: PartyNames,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("an account cannot send money to itself")]
    ToSelf,
    #[error("the sending account is frozen")]
    SenderFrozen,
    #[error("the sending account holds no money")]
    SenderHasNoWallet,
    #[error("a transfer moves money between user balances only ({0})")]
    NotAUserBalance(LedgerAccount),
    #[error("receipt {receipt} does not belong to transfer {transfer}")]
    ForeignReceipt { transfer: TransferId, receipt: TransferId },
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    #[error(transparent)]
    Quantity(#[from] QuantityError),
}

impl Account {
    /// Step 1, in the sender's partition: the amount leaves `order.source`
    /// for `in_flight`, and the transfer is recorded in flight. Refused (with
    /// nothing changed) to oneself, from a frozen account or one without a
    /// wallet, and beyond the source balance.
    pub fn send_transfer(
        &mut self,
        order: TransferOrder,
        id: TransferId,
        now: DateTime<Utc>,
    ) -> Result<(Transfer, JournalEntry), TransferError> {
        if order.to == self.id {
            return Err(TransferError::ToSelf);
        }
        if !self.role.has_wallet() {
            return Err(TransferError::SenderHasNoWallet);
        }
        if self.frozen {
            return Err(TransferError::SenderFrozen);
        }
        if !order.source.is_user_owned() {
            return Err(TransferError::NotAUserBalance(order.source));
        }
        let fee = order.fee.filter(|fee| !fee.is_zero());
        let mut legs = vec![leg_of(order.source, LedgerAccount::InFlight, order.amount)?];
        if let Some(fee) = fee {
            legs.push(leg_of(order.source, LedgerAccount::Fees, fee)?);
        }
        let posting = Posting { kind: EntryKind::TransferOut, memo: order.memo.clone(), actor: None, legs };
        let mut entry = self.post(posting, now)?;
        entry.transfer_id = Some(id.clone());
        entry.counterparty = known_name(&order.names.to);
        let transfer = Transfer {
            id,
            purpose: order.purpose,
            from: self.id.clone(),
            to: order.to,
            amount: order.amount,
            source: order.source,
            fee,
            memo: order.memo,
            names: order.names,
            status: TransferStatus::InFlight,
            created_at: now,
            finished_at: None,
            return_reason: None,
        };
        Ok((transfer, entry))
    }

    /// Step 2, in the recipient's partition: credits the transfer once.
    /// `earlier` is the receipt already kept under its id, if any: then the
    /// same receipt comes back and nothing changes. A frozen account, or one
    /// without a wallet, refuses it (no entry; the sender gets it back).
    pub fn receive_transfer(
        &mut self,
        transfer: &Transfer,
        earlier: Option<Receipt>,
        now: DateTime<Utc>,
    ) -> Result<(Receipt, Option<JournalEntry>), TransferError> {
        if let Some(receipt) = earlier {
            if receipt.transfer_id != transfer.id {
                return Err(TransferError::ForeignReceipt {
                    transfer: transfer.id.clone(),
                    receipt: receipt.transfer_id,
                });
            }
            return Ok((receipt, None));
        }
        let refusal = if !self.role.has_wallet() {
            Some(ReturnReason::RecipientHasNoWallet)
        } else if self.frozen {
            Some(ReturnReason::RecipientFrozen)
        } else {
            None
        };
        let receipt = |outcome| Receipt {
            transfer_id: transfer.id.clone(),
            from: transfer.from.clone(),
            amount: transfer.amount,
            memo: transfer.memo.clone(),
            names: transfer.names.clone(),
            outcome,
            decided_at: now,
        };
        if let Some(reason) = refusal {
            return Ok((receipt(ReceiptOutcome::Refused(reason)), None));
        }
        let posting = Posting {
            kind: EntryKind::TransferIn,
            memo: transfer.memo.clone(),
            actor: None,
            legs: vec![leg_of(LedgerAccount::InFlight, LedgerAccount::UserAvailable, transfer.amount)?],
        };
        let mut entry = self.post(posting, now)?;
        entry.transfer_id = Some(transfer.id.clone());
        entry.counterparty = known_name(&transfer.names.from);
        Ok((receipt(ReceiptOutcome::Credited), Some(entry)))
    }
}

impl Transfer {
    /// Step 3, in the sender's partition, once the recipient's side decided:
    /// completes on a credit, or brings the money back on a refusal. A
    /// transfer already finished is left as it is (`None`, no entry).
    pub fn finish(
        &mut self,
        sender: &mut Account,
        receipt: &Receipt,
        now: DateTime<Utc>,
    ) -> Result<Option<JournalEntry>, TransferError> {
        if receipt.transfer_id != self.id {
            return Err(TransferError::ForeignReceipt {
                transfer: self.id.clone(),
                receipt: receipt.transfer_id.clone(),
            });
        }
        if self.status != TransferStatus::InFlight {
            return Ok(None);
        }
        self.finished_at = Some(now);
        match receipt.outcome {
            ReceiptOutcome::Credited => {
                self.status = TransferStatus::Completed;
                Ok(None)
            }
            ReceiptOutcome::Refused(reason) => {
                let mut legs = vec![leg_of(LedgerAccount::InFlight, self.source, self.amount)?];
                if let Some(fee) = self.fee {
                    legs.push(leg_of(LedgerAccount::Fees, self.source, fee)?);
                }
                let posting = Posting { kind: EntryKind::TransferReturn, memo: self.memo.clone(), actor: None, legs };
                let mut entry = sender.post(posting, now)?;
                entry.transfer_id = Some(self.id.clone());
                entry.counterparty = known_name(&self.names.to);
                self.status = TransferStatus::Returned;
                self.return_reason = Some(reason);
                Ok(Some(entry))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use proptest::prelude::*;
    use rust_decimal::Decimal;

    use super::*;
    use crate::domain::account::fixtures::{account_at, now};
    use crate::domain::asset::Asset;
    use crate::domain::ledger::leg;

    fn funded(id: &str, cny: i64) -> Account {
        let mut account = account_at(id);
        if cny == 0 {
            return account;
        }
        let posting = Posting {
            kind: EntryKind::DemoSeed,
            memo: "seed".into(),
            actor: None,
            legs: vec![leg(LedgerAccount::Funding, LedgerAccount::UserAvailable, format!("{cny}.00").parse().unwrap())],
        };
        account.post(posting, now()).unwrap();
        account
    }

    fn order(to: &Account, yuan: &str) -> TransferOrder {
        TransferOrder {
            purpose: TransferPurpose::Payment,
            to: to.id.clone(),
            amount: Quantity::parse(Asset::Cny, yuan).unwrap(),
            source: LedgerAccount::UserAvailable,
            fee: None,
            memo: "lunch".into(),
            names: PartyNames::default(),
        }
    }

    fn in_flight(accounts: &[&Account]) -> Decimal {
        accounts.iter().map(|a| a.ledger.get_in(Asset::Cny, LedgerAccount::InFlight).as_decimal()).sum()
    }

    #[test]
    fn a_credited_transfer_moves_the_money_once_and_leaves_nothing_in_flight() {
        let (mut alice, mut bob) = (funded("acc_alice", 100), funded("acc_bob", 0));
        let (mut transfer, sent) = alice.send_transfer(order(&bob, "30"), TransferId::generate(), now()).unwrap();
        assert_eq!(sent.kind, EntryKind::TransferOut);
        assert_eq!(alice.ledger.get(LedgerAccount::UserAvailable).to_string(), "70.00");
        assert_eq!(in_flight(&[&alice, &bob]), Decimal::new(3000, 2));

        let (receipt, credited) = bob.receive_transfer(&transfer, None, now()).unwrap();
        assert!(credited.is_some());
        // Told again (a worker after a crash): the kept receipt, no second credit.
        let (again, none) = bob.receive_transfer(&transfer, Some(receipt.clone()), now()).unwrap();
        assert_eq!((again, none), (receipt.clone(), None));
        assert_eq!(bob.ledger.get(LedgerAccount::UserAvailable).to_string(), "30.00");
        assert!(in_flight(&[&alice, &bob]).is_zero());

        assert_eq!(transfer.finish(&mut alice, &receipt, now()).unwrap(), None);
        assert_eq!(transfer.status, TransferStatus::Completed);
        assert_eq!(transfer.finish(&mut alice, &receipt, now()).unwrap(), None, "finishing twice changes nothing");
    }

    #[test]
    fn each_sides_entry_names_the_other_side_as_it_was_shown() {
        let (mut alice, mut bob) = (funded("acc_alice", 100), funded("acc_bob", 0));
        let names = PartyNames { from: "*丽".into(), to: "*博".into() };
        let (transfer, sent) =
            alice.send_transfer(TransferOrder { names, ..order(&bob, "30") }, TransferId::generate(), now()).unwrap();
        let (_, credited) = bob.receive_transfer(&transfer, None, now()).unwrap();
        assert_eq!(sent.counterparty.as_deref(), Some("*博"));
        assert_eq!(credited.unwrap().counterparty.as_deref(), Some("*丽"));
    }

    #[test]
    fn a_refused_transfer_comes_back_to_the_sender() {
        let (mut alice, mut bob) = (funded("acc_alice", 100), funded("acc_bob", 0));
        let (mut transfer, _) = alice.send_transfer(order(&bob, "30"), TransferId::generate(), now()).unwrap();
        bob.frozen = true;
        let (receipt, credited) = bob.receive_transfer(&transfer, None, now()).unwrap();
        assert_eq!((receipt.outcome, credited), (ReceiptOutcome::Refused(ReturnReason::RecipientFrozen), None));
        let returned = transfer.finish(&mut alice, &receipt, now()).unwrap().unwrap();
        assert_eq!(returned.kind, EntryKind::TransferReturn);
        assert_eq!(returned.counterparty, None, "no name was known when it was sent");
        assert_eq!(
            (transfer.status, transfer.return_reason),
            (TransferStatus::Returned, Some(ReturnReason::RecipientFrozen))
        );
        assert_eq!(alice.ledger.get(LedgerAccount::UserAvailable).to_string(), "100.00");
        assert!(in_flight(&[&alice, &bob]).is_zero());
        assert_eq!(transfer.finish(&mut alice, &receipt, now()).unwrap(), None, "returned once");
    }

    #[test]
    fn a_fee_is_charged_on_top_and_given_back_with_a_returned_transfer() {
        let (mut alice, mut bob) = (funded("acc_alice", 100), funded("acc_bob", 0));
        let fee = Some(Quantity::parse(Asset::Cny, "0.30").unwrap());
        let with_fee = TransferOrder { fee, ..order(&bob, "30") };
        let (mut transfer, sent) = alice.send_transfer(with_fee, TransferId::generate(), now()).unwrap();
        assert_eq!(sent.legs.len(), 2);
        assert_eq!(alice.ledger.get(LedgerAccount::UserAvailable).to_string(), "69.70");
        assert_eq!(alice.ledger.get(LedgerAccount::Fees).to_string(), "0.30");
        bob.frozen = true;
        let (receipt, _) = bob.receive_transfer(&transfer, None, now()).unwrap();
        transfer.finish(&mut alice, &receipt, now()).unwrap().unwrap();
        assert_eq!(alice.ledger.get(LedgerAccount::UserAvailable).to_string(), "100.00");
        assert!(alice.ledger.get(LedgerAccount::Fees).is_zero());
        // A zero fee is no fee: one leg, nothing kept.
        let free = TransferOrder { fee: Some(Quantity::zero(Asset::Cny)), ..order(&bob, "1") };
        let (transfer, entry) = alice.send_transfer(free, TransferId::generate(), now()).unwrap();
        assert_eq!((entry.legs.len(), transfer.fee), (1, None));
    }

    #[test]
    fn senders_are_refused_with_nothing_changed() {
        let (mut alice, bob) = (funded("acc_alice", 10), funded("acc_bob", 0));
        let before = alice.clone();
        let to_self = order(&alice, "1");
        assert_eq!(alice.send_transfer(to_self, TransferId::generate(), now()).unwrap_err(), TransferError::ToSelf);
        let too_much = alice.send_transfer(order(&bob, "10.01"), TransferId::generate(), now()).unwrap_err();
        assert!(matches!(too_much, TransferError::Ledger(LedgerError::InsufficientFunds { .. })), "{too_much}");
        alice.frozen = true;
        assert_eq!(
            alice.send_transfer(order(&bob, "1"), TransferId::generate(), now()).unwrap_err(),
            TransferError::SenderFrozen
        );
        alice.frozen = false;
        assert_eq!(alice, before);
    }

    #[test]
    fn transfer_ids_are_recognised_by_shape() {
        assert!(TransferId::parse(TransferId::generate().as_str()).is_some());
        for bad in ["", "tr_", "wd_1", "tr_a-b", &format!("tr_{}", "a".repeat(33)), &format!("tr_{}", "g".repeat(32))] {
            assert!(TransferId::parse(bad).is_none(), "{bad}");
        }
    }

    /// One step of a random history: which transfer, and which of its steps.
    #[derive(Debug, Clone)]
    enum Step {
        Send { from: usize, to: usize, fen: i64 },
        Receive(usize),
        Finish(usize),
        Freeze(usize),
    }

    fn any_step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..4usize, 0..4usize, 1i64..5_000).prop_map(|(from, to, fen)| Step::Send { from, to, fen }),
            (0..40usize).prop_map(Step::Receive),
            (0..40usize).prop_map(Step::Finish),
            (0..4usize).prop_map(Step::Freeze),
        ]
    }

    proptest! {
        /// Steps repeated and out of order (as crashed processes and workers
        /// would run them): money is conserved, no user balance goes below
        /// zero, and in flight is exactly what was sent and neither
        /// credited nor returned.
        #[test]
        fn money_moves_exactly_once_whatever_the_order(steps in prop::collection::vec(any_step(), 1..120)) {
            let mut accounts: Vec<Account> = (0..4).map(|n| funded(&format!("acc_{n}"), 100)).collect();
            let mut transfers: Vec<Transfer> = Vec::new();
            let mut receipts: BTreeMap<usize, Receipt> = BTreeMap::new();
            let index = |accounts: &[Account], id: &AccountId| accounts.iter().position(|a| &a.id == id).unwrap();
            for step in steps {
                match step {
                    Step::Send { from, to, fen } => {
                        let amount = Quantity::cny(crate::domain::money::Money::from_fen(fen).unwrap());
                        let order = TransferOrder { amount, ..order(&accounts[to], "1") };
                        if let Ok((transfer, _)) = accounts[from].send_transfer(order, TransferId::generate(), now()) {
                            transfers.push(transfer);
                        }
                    }
                    Step::Receive(n) if n < transfers.len() => {
                        let to = index(&accounts, &transfers[n].to);
                        let (receipt, _) = accounts[to].receive_transfer(&transfers[n], receipts.get(&n).cloned(), now()).unwrap();
                        receipts.insert(n, receipt);
                    }
                    Step::Finish(n) if receipts.contains_key(&n) => {
                        let from = index(&accounts, &transfers[n].from);
                        let receipt = receipts[&n].clone();
                        transfers[n].finish(&mut accounts[from], &receipt, now()).unwrap();
                    }
                    Step::Freeze(n) => accounts[n].frozen = !accounts[n].frozen,
                    _ => {}
                }
                let all: Vec<&Account> = accounts.iter().collect();
                let total: Decimal = accounts.iter().map(|a| {
                    LedgerAccount::ALL.iter().map(|l| a.ledger.get_in(Asset::Cny, *l).as_decimal()).sum::<Decimal>()
                }).sum();
                prop_assert!(total.is_zero());
                for account in &accounts {
                    prop_assert!(!account.ledger.get(LedgerAccount::UserAvailable).is_negative());
                }
                let outstanding: Decimal = transfers.iter().enumerate().filter(|(n, t)| {
                    let credited = receipts.get(n).is_some_and(|r| r.outcome == ReceiptOutcome::Credited);
                    !credited && t.status != TransferStatus::Returned
                }).map(|(_, t)| t.amount.as_decimal()).sum();
                prop_assert_eq!(in_flight(&all), outstanding);
            }
        }
    }
}
