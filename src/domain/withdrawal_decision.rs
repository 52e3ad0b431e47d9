//! A withdrawal submission decided in one call: the destination, the PIN,
//! the plan (level, limits, fees, balance), the quote it names, and the
//! hold. The outcome is a decision — held, or refused for the user's own
//! reason — that the service commits as it is and keeps under the request's
//! idempotency key, so a replay answers with the same decision. Faults that
//! are nobody's business refusal (an arithmetic overflow, a broken ledger
//! posting) are errors instead, and nothing is committed.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::account::{Account, AccountId};
use super::binding::BindingId;
use super::ledger::{JournalEntry, LedgerAccount, LedgerError};
use super::limits::LimitError;
use super::money::{Amount, Money, MoneyError};
use super::pin::{PinPolicy, PinVerdict};
use super::withdrawal::{Withdrawal, WithdrawalError, WithdrawalId};
use super::withdrawal_policy::WithdrawalPolicy;

/// The longest `Idempotency-Key`, in bytes.
pub const IDEMPOTENCY_KEY_BYTES_MAX: usize = 255;

/// A client's `Idempotency-Key`: 1 to 255 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub fn parse(text: &str) -> Option<IdempotencyKey> {
        let valid =
            !text.is_empty() && text.len() <= IDEMPOTENCY_KEY_BYTES_MAX && text.bytes().all(|b| b.is_ascii_graphic());
        valid.then(|| IdempotencyKey(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The price a quote promised; a submission that names the quote must
/// match it, while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuoteTerms {
    pub account_id: AccountId,
    pub binding_id: BindingId,
    pub amount: Money,
    pub fee: Money,
    pub expires_at: DateTime<Utc>,
}

/// What a user asks to withdraw.
#[derive(Debug, Clone, Copy)]
pub struct WithdrawalAsk<'a> {
    pub amount: Amount,
    pub binding_id: &'a BindingId,
    /// The quote the request names, as found (`None` when it names none).
    pub quote: Option<&'a QuoteTerms>,
}

/// How the PIN entered with the request is checked.
pub struct PinEntry<'a, F: FnOnce(&str) -> String> {
    /// The keyed digest of the entered PIN under a record's salt.
    pub digest_of: F,
    pub policy: &'a PinPolicy,
}

/// A PIN entry that was not accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "pin", rename_all = "snake_case")]
pub enum PinRefusal {
    Incorrect { attempts_remaining: u8 },
    Locked { until: DateTime<Utc> },
    NotSet,
}

impl PinRefusal {
    /// The refusal a verdict amounts to; `None` when the PIN was accepted.
    pub fn of(verdict: PinVerdict) -> Option<PinRefusal> {
        match verdict {
            PinVerdict::Accepted => None,
            PinVerdict::Incorrect { attempts_remaining } => Some(PinRefusal::Incorrect { attempts_remaining }),
            PinVerdict::Locked { until } => Some(PinRefusal::Locked { until }),
            PinVerdict::NotSet => Some(PinRefusal::NotSet),
        }
    }
}

/// Why a submission was refused: the user's business, answered as a
/// client error and replayed under the same idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "refusal", content = "because", rename_all = "snake_case")]
pub enum WithdrawalRefusal {
    #[error(transparent)]
    Withdrawal(WithdrawalError),
    #[error("the payment PIN was not accepted: {0:?}")]
    Pin(PinRefusal),
    #[error("the quote has expired or no longer matches the request")]
    QuoteExpired,
}

/// What became of a submission.
// One per request, moved once into the commit: not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum WithdrawalDecision {
    /// Amount and fee are held; the withdrawal and its journal entry are to be committed.
    Held(Withdrawal, JournalEntry),
    /// Refused; the account may still have changed (a wrong PIN counts).
    Refused(WithdrawalRefusal),
}

impl WithdrawalError {
    /// Whether this is a refusal for the user's own reason (as opposed to a
    /// fault of the service, which no replay should repeat).
    pub fn is_refusal(&self) -> bool {
        match self {
            WithdrawalError::Limit(LimitError::Money(_)) | WithdrawalError::Money(_) => false,
            WithdrawalError::Ledger(LedgerError::InsufficientFunds { account, .. }) => {
                *account == LedgerAccount::UserAvailable
            }
            WithdrawalError::Ledger(LedgerError::Money(MoneyError::Overflow)) => true,
            WithdrawalError::Ledger(_) => false,
            _ => true,
        }
    }
}

impl Account {
    /// Decides a submission in the order the user is told: the destination
    /// first (a mistyped binding costs no PIN try), then the PIN (counted
    /// either way), the plan, the quote, and the hold.
    pub fn decide_withdrawal<F: FnOnce(&str) -> String>(
        &mut self,
        ask: WithdrawalAsk<'_>,
        id: WithdrawalId,
        pin: PinEntry<'_, F>,
        policy: &WithdrawalPolicy,
        now: DateTime<Utc>,
    ) -> Result<WithdrawalDecision, WithdrawalError> {
        let refused = |error: WithdrawalError| {
            if error.is_refusal() {
                Ok(WithdrawalDecision::Refused(WithdrawalRefusal::Withdrawal(error)))
            } else {
                Err(error)
            }
        };
        if let Err(error) = self.withdrawal_destination(ask.binding_id) {
            return refused(error);
        }
        if let Some(refusal) = PinRefusal::of(self.verify_pin(pin.digest_of, pin.policy, now)) {
            return Ok(WithdrawalDecision::Refused(WithdrawalRefusal::Pin(refusal)));
        }
        let rules = policy.rules(self.level_at(now));
        let today = policy.local_date(now);
        let plan = match self.plan_withdrawal(ask.binding_id, ask.amount, policy.plan_rules(rules), today, now) {
            Ok(plan) => plan,
            Err(error) => return refused(error),
        };
        if let Some(quote) = ask.quote {
            let same = quote.account_id == self.id
                && &quote.binding_id == ask.binding_id
                && quote.amount == ask.amount.money()
                && quote.fee == plan.fee.fee;
            if !same || quote.expires_at <= now {
                return Ok(WithdrawalDecision::Refused(WithdrawalRefusal::QuoteExpired));
            }
        }
        match self.hold_withdrawal(plan, id, today, now) {
            Ok((withdrawal, entry)) => Ok(WithdrawalDecision::Held(withdrawal, entry)),
            Err(error) => refused(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idempotency_keys_are_one_to_255_visible_characters() {
        assert!(IdempotencyKey::parse("5f0c1d8e-2b7a-4c39-9e61-0a4d3b2c1f00").is_some());
        assert!(IdempotencyKey::parse(&"k".repeat(255)).is_some());
        for refused in ["", "has space", "tab\there", "ключ", &"k".repeat(256)] {
            assert!(IdempotencyKey::parse(refused).is_none(), "{refused:?}");
        }
    }

    #[test]
    fn faults_of_the_service_are_not_refusals() {
        assert!(WithdrawalError::NoActiveBinding.is_refusal());
        assert!(WithdrawalError::Limit(LimitError::NotAllowed).is_refusal());
        assert!(!WithdrawalError::Money(MoneyError::Overflow).is_refusal());
        assert!(!WithdrawalError::Ledger(LedgerError::EmptyEntry).is_refusal());
        let short = LedgerError::InsufficientFunds {
            account: LedgerAccount::UserAvailable,
            balance: crate::domain::asset::Quantity::zero(crate::domain::asset::Asset::Cny),
            change: crate::domain::asset::Quantity::zero(crate::domain::asset::Asset::Cny),
        };
        assert!(WithdrawalError::Ledger(short).is_refusal());
    }

    #[test]
    fn refusals_survive_a_round_trip_through_json() {
        let refusals = [
            WithdrawalRefusal::QuoteExpired,
            WithdrawalRefusal::Pin(PinRefusal::Incorrect { attempts_remaining: 4 }),
            WithdrawalRefusal::Withdrawal(WithdrawalError::Limit(LimitError::CountExceeded { remaining: 0 })),
        ];
        for refusal in refusals {
            let text = serde_json::to_string(&refusal).unwrap();
            assert_eq!(serde_json::from_str::<WithdrawalRefusal>(&text).unwrap(), refusal, "{text}");
        }
    }
}
