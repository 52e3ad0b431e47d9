//! A user's transfer decided in one call, in the order the user is told:
//! the recipient (to oneself, unknown, frozen: no PIN try spent on a typo),
//! then the PIN (counted either way), then the sender's own state, level,
//! limits and balance, and the send itself (`transfer`'s step 1). The
//! outcome is a decision — sent, or refused for the user's own reason —
//! that the service commits as it is and keeps under the request's
//! idempotency key, so a replay answers with the same decision. Faults that
//! are nobody's refusal (an overflow, a broken posting) are errors instead.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::account::{Account, AccountId};
use super::asset::Quantity;
use super::ledger::{JournalEntry, LedgerAccount, LedgerError};
use super::transfer::{
    PartyNames, Transfer, TransferError, TransferId, TransferOrder, TransferPurpose, TransferStatus,
};
use super::transfer_policy::{TransferLimit, TransferPolicy};
use super::withdrawal_decision::{PinEntry, PinRefusal};

/// What the sender's side knows of the recipient, read before the decision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecipientState {
    /// No such user (or an account that holds no money, as operators').
    Unknown,
    /// A user's account that takes money now.
    Receives(AccountId),
    Frozen(AccountId),
}

impl RecipientState {
    /// Whom `sender` may send to, or why not: the recipient checks of a
    /// transfer, in the order the user is told (also what the recipient
    /// lookup answers before anything is sent).
    pub fn accepts_from(&self, sender: &AccountId) -> Result<&AccountId, TransferRefusal> {
        match self {
            RecipientState::Unknown => Err(TransferRefusal::RecipientNotFound),
            RecipientState::Receives(to) | RecipientState::Frozen(to) if to == sender => Err(TransferRefusal::ToSelf),
            RecipientState::Frozen(_) => Err(TransferRefusal::RecipientFrozen),
            RecipientState::Receives(to) => Ok(to),
        }
    }
}

/// What a user asks to send.
#[derive(Debug, Clone)]
pub struct TransferAsk {
    pub recipient: RecipientState,
    /// How each side is shown to the other.
    pub names: PartyNames,
    /// Positive, of one asset.
    pub amount: Quantity,
    pub memo: String,
}

/// Why a transfer was refused: the user's business, answered as a client
/// error and replayed under the same idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "refusal", content = "because", rename_all = "snake_case")]
pub enum TransferRefusal {
    #[error("a transfer goes to another account")]
    ToSelf,
    #[error("no user with this phone number or account id")]
    RecipientNotFound,
    #[error("the recipient's account is frozen")]
    RecipientFrozen,
    #[error("the payment PIN was not accepted: {0:?}")]
    Pin(PinRefusal),
    #[error("the sending account is frozen")]
    AccountFrozen,
    #[error("this verification level cannot send transfers")]
    VerificationRequired,
    #[error("over the {} limit", limit.as_str())]
    LimitExceeded { limit: TransferLimit, remaining: Quantity },
    #[error("the available balance is too low")]
    InsufficientBalance { available: Quantity, requested: Quantity },
}

/// What became of a transfer request.
// One per request, moved once into the commit: not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum TransferDecision {
    /// Sent: the debit's entry, and the transfer in flight.
    Sent(Transfer, JournalEntry),
    /// Refused; the account may still have changed (a wrong PIN counts).
    Refused(TransferRefusal),
}

impl Account {
    /// Decides a user's transfer (see the module's order) and, when it is
    /// allowed, sends it: the amount and fee leave `user_available`, and
    /// the amount counts against today's limit.
    pub fn decide_transfer<F: FnOnce(&str) -> String>(
        &mut self,
        ask: TransferAsk,
        id: TransferId,
        pin: PinEntry<'_, F>,
        policy: &TransferPolicy,
        now: DateTime<Utc>,
    ) -> Result<TransferDecision, TransferError> {
        let refused = |refusal| Ok(TransferDecision::Refused(refusal));
        let to = match ask.recipient.accepts_from(&self.id) {
            Ok(to) => to.clone(),
            Err(refusal) => return refused(refusal),
        };
        if !self.role.has_wallet() {
            return Err(TransferError::SenderHasNoWallet);
        }
        if let Some(refusal) = PinRefusal::of(self.verify_pin(pin.digest_of, pin.policy, now)) {
            return refused(TransferRefusal::Pin(refusal));
        }
        if self.frozen {
            return refused(TransferRefusal::AccountFrozen);
        }
        let rules = policy.rules(self.level_at(now));
        if !rules.allowed {
            return refused(TransferRefusal::VerificationRequired);
        }
        let today = policy.local_date(now);
        let amount = ask.amount;
        if let Some((limit, remaining)) = self.transfer_usage.check(rules.limits(amount.asset()), amount, today)? {
            return refused(TransferRefusal::LimitExceeded { limit, remaining });
        }
        let fee = policy.fee(amount.asset()).fee_for(amount)?;
        let order = TransferOrder {
            purpose: TransferPurpose::Payment,
            to,
            amount,
            source: LedgerAccount::UserAvailable,
            fee: Some(fee),
            memo: ask.memo,
            names: ask.names,
        };
        match self.send_transfer(order, id, now) {
            Ok((transfer, entry)) => {
                self.transfer_usage.record(amount, today)?;
                Ok(TransferDecision::Sent(transfer, entry))
            }
            Err(TransferError::Ledger(LedgerError::InsufficientFunds {
                account: LedgerAccount::UserAvailable,
                balance,
                ..
            })) => {
                let requested = amount.checked_add(fee)?;
                refused(TransferRefusal::InsufficientBalance { available: balance, requested })
            }
            Err(TransferError::SenderFrozen) => refused(TransferRefusal::AccountFrozen),
            Err(error) => Err(error),
        }
    }

    /// A user's transfer that came back gives its share of the daily limit
    /// back, if it was sent today.
    pub fn transfer_came_back(&mut self, transfer: &Transfer, policy: &TransferPolicy) -> Result<(), TransferError> {
        if transfer.purpose == TransferPurpose::Payment && transfer.status == TransferStatus::Returned {
            self.transfer_usage.release(transfer.amount, policy.local_date(transfer.created_at))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use chrono_tz::Asia::Shanghai;
    use rust_decimal::Decimal;

    use super::*;
    use crate::domain::account::Posting;
    use crate::domain::account::VerificationLevel;
    use crate::domain::account::fixtures::{account_at, now};
    use crate::domain::asset::Asset;
    use crate::domain::ledger::{EntryKind, leg};
    use crate::domain::pin::{PinPolicy, PinRecord};
    use crate::domain::transfer_policy::{AssetLimits, LevelTransferRules, TransferFee};

    fn q(asset: Asset, text: &str) -> Quantity {
        Quantity::parse(asset, text).unwrap()
    }

    fn policy() -> TransferPolicy {
        let level = |allowed| LevelTransferRules {
            allowed,
            cny: AssetLimits { per_transfer_max: q(Asset::Cny, "50.00"), daily_amount_max: q(Asset::Cny, "80.00") },
            usdt: AssetLimits {
                per_transfer_max: q(Asset::Usdt, "10.000000"),
                daily_amount_max: q(Asset::Usdt, "10.000000"),
            },
        };
        TransferPolicy {
            time_zone: Shanghai,
            levels: [level(false), level(true), level(true)],
            cny_fee: TransferFee { rate: Decimal::new(1, 2), min: Decimal::ZERO, max: None },
            usdt_fee: TransferFee::FREE,
            idempotency_ttl: Duration::hours(24),
            redeliver_after: Duration::seconds(5),
        }
    }

    fn sender() -> Account {
        let mut account = account_at("acc_alice");
        account.level = VerificationLevel::L1;
        let posting = Posting {
            kind: EntryKind::DemoSeed,
            memo: "seed".into(),
            actor: None,
            legs: vec![leg(LedgerAccount::Funding, LedgerAccount::UserAvailable, "100.00".parse().unwrap())],
        };
        account.post(posting, now()).unwrap();
        account.pin =
            Some(PinRecord { salt: "salt".into(), digest: "right".into(), set_at: now(), replaces_earlier: false });
        account
    }

    fn bob() -> AccountId {
        AccountId::parse("acc_bob").unwrap()
    }

    fn ask(recipient: RecipientState, amount: &str) -> TransferAsk {
        TransferAsk { recipient, names: PartyNames::default(), amount: q(Asset::Cny, amount), memo: "lunch".into() }
    }

    fn decide(account: &mut Account, ask: TransferAsk, pin: &str) -> TransferDecision {
        let policy =
            PinPolicy { attempts_max: 5, lock: Duration::hours(3), lock_growth: 2, lock_max: Duration::hours(24) };
        let entry = PinEntry { digest_of: |_: &str| pin.to_owned(), policy: &policy };
        account.decide_transfer(ask, TransferId::generate(), entry, &super::tests::policy(), now()).unwrap()
    }

    fn refusal(decision: TransferDecision) -> TransferRefusal {
        match decision {
            TransferDecision::Refused(refusal) => refusal,
            TransferDecision::Sent(..) => panic!("sent"),
        }
    }

    #[test]
    fn the_recipient_is_checked_before_the_pin_costs_a_try() {
        let mut alice = sender();
        let before = alice.clone();
        let to_self = ask(RecipientState::Receives(alice.id.clone()), "1.00");
        assert_eq!(refusal(decide(&mut alice, to_self, "wrong")), TransferRefusal::ToSelf);
        assert_eq!(
            refusal(decide(&mut alice, ask(RecipientState::Unknown, "1.00"), "wrong")),
            TransferRefusal::RecipientNotFound
        );
        assert_eq!(
            refusal(decide(&mut alice, ask(RecipientState::Frozen(bob()), "1.00"), "wrong")),
            TransferRefusal::RecipientFrozen
        );
        assert_eq!(alice, before, "no PIN try counted");
        let wrong = refusal(decide(&mut alice, ask(RecipientState::Receives(bob()), "1.00"), "wrong"));
        assert!(matches!(wrong, TransferRefusal::Pin(PinRefusal::Incorrect { .. })), "{wrong:?}");
        assert_ne!(alice.pin_guard, before.pin_guard, "a wrong PIN counts");
    }

    #[test]
    fn levels_limits_and_balance_refuse_in_order() {
        let mut alice = sender();
        alice.level = VerificationLevel::L0;
        assert_eq!(
            refusal(decide(&mut alice, ask(RecipientState::Receives(bob()), "1.00"), "right")),
            TransferRefusal::VerificationRequired
        );
        alice.level = VerificationLevel::L1;
        let over = refusal(decide(&mut alice, ask(RecipientState::Receives(bob()), "50.01"), "right"));
        assert_eq!(
            over,
            TransferRefusal::LimitExceeded { limit: TransferLimit::PerTransfer, remaining: q(Asset::Cny, "50.00") }
        );
        let TransferDecision::Sent(transfer, entry) =
            decide(&mut alice, ask(RecipientState::Receives(bob()), "50.00"), "right")
        else {
            panic!("refused")
        };
        // 1% fee on top: 0.50.
        assert_eq!((transfer.fee, entry.legs.len()), (Some(q(Asset::Cny, "0.50")), 2));
        assert_eq!(alice.ledger.get(LedgerAccount::UserAvailable).to_string(), "49.50");
        let daily = refusal(decide(&mut alice, ask(RecipientState::Receives(bob()), "30.01"), "right"));
        assert_eq!(
            daily,
            TransferRefusal::LimitExceeded { limit: TransferLimit::Daily, remaining: q(Asset::Cny, "30.00") }
        );
        alice.ledger = sender().ledger;
        alice
            .post(
                Posting {
                    kind: EntryKind::OperatorDebit,
                    memo: "drain".into(),
                    actor: None,
                    legs: vec![leg(LedgerAccount::UserAvailable, LedgerAccount::Funding, "95.00".parse().unwrap())],
                },
                now(),
            )
            .unwrap();
        let short = refusal(decide(&mut alice, ask(RecipientState::Receives(bob()), "5.00"), "right"));
        assert_eq!(
            short,
            TransferRefusal::InsufficientBalance { available: q(Asset::Cny, "5.00"), requested: q(Asset::Cny, "5.05") }
        );
        alice.frozen = true;
        assert_eq!(
            refusal(decide(&mut alice, ask(RecipientState::Receives(bob()), "1.00"), "right")),
            TransferRefusal::AccountFrozen
        );
    }

    #[test]
    fn a_returned_transfer_gives_its_share_of_the_day_back() {
        let mut alice = sender();
        let TransferDecision::Sent(mut transfer, _) =
            decide(&mut alice, ask(RecipientState::Receives(bob()), "40.00"), "right")
        else {
            panic!("refused")
        };
        assert_eq!(alice.transfer_usage.sent_on(Asset::Cny, policy().local_date(now())), q(Asset::Cny, "40.00"));
        transfer.status = TransferStatus::Returned;
        alice.transfer_came_back(&transfer, &policy()).unwrap();
        assert!(alice.transfer_usage.sent_on(Asset::Cny, policy().local_date(now())).is_zero());
    }

    #[test]
    fn refusals_survive_a_round_trip_through_json() {
        let refusals = [
            TransferRefusal::RecipientNotFound,
            TransferRefusal::Pin(PinRefusal::Incorrect { attempts_remaining: 2 }),
            TransferRefusal::LimitExceeded { limit: TransferLimit::Daily, remaining: q(Asset::Usdt, "1.5") },
            TransferRefusal::InsufficientBalance { available: q(Asset::Cny, "1.00"), requested: q(Asset::Cny, "2.00") },
        ];
        for refusal in refusals {
            let text = serde_json::to_string(&refusal).unwrap();
            assert_eq!(serde_json::from_str::<TransferRefusal>(&text).unwrap(), refusal, "{text}");
        }
    }
}
