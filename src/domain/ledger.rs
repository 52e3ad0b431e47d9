//! Double-entry bookkeeping: ledger accounts, journal entries and the balances they produce.
//!
//! A journal entry is a list of legs; each leg debits one ledger account and
//! credits another by the same positive amount, so every entry balances by
//! construction (debits = credits) and the sum over all ledger accounts never
//! changes. A ledger account's balance is its credits minus its debits: a
//! user's `available` grows when credited, the `funding` account goes negative
//! as it issues demo money.
//!
//! Entries are partitioned by wallet account: an entry only touches the ledger
//! accounts of one partition — that user's `available` and `held`, and the
//! partition's share of each system account (funding, fees, WeChat settlement).
//! A system account's balance is the sum of its shares over all partitions.
//! This keeps every money movement a single-partition atomic write (no hot
//! global record to contend on) and lets a Redis Cluster place each partition
//! in one slot.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::money::{Amount, Money, MoneyError, MoneyTotal};

/// The ledger accounts of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LedgerAccount {
    /// What the user can spend or withdraw.
    UserAvailable,
    /// What is reserved for in-flight withdrawals (amount + fee).
    UserHeld,
    /// Where demo and operator top-ups come from; goes negative.
    Funding,
    /// Withdrawal fees collected.
    Fees,
    /// Money paid out to WeChat wallets.
    WechatSettlement,
}

impl LedgerAccount {
    pub const ALL: [LedgerAccount; 5] = [
        LedgerAccount::UserAvailable,
        LedgerAccount::UserHeld,
        LedgerAccount::Funding,
        LedgerAccount::Fees,
        LedgerAccount::WechatSettlement,
    ];

    /// User ledger accounts are what the platform owes the user; they may never go negative.
    pub fn is_user_owned(self) -> bool {
        matches!(self, LedgerAccount::UserAvailable | LedgerAccount::UserHeld)
    }

    pub fn code(self) -> &'static str {
        match self {
            LedgerAccount::UserAvailable => "user_available",
            LedgerAccount::UserHeld => "user_held",
            LedgerAccount::Funding => "funding",
            LedgerAccount::Fees => "fees",
            LedgerAccount::WechatSettlement => "wechat_settlement",
        }
    }
}

impl fmt::Display for LedgerAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One movement of `amount` from `debit` to `credit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Leg {
    pub debit: LedgerAccount,
    pub credit: LedgerAccount,
    pub amount: Amount,
}

/// Why an entry was written; shown in the user's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "withdrawal_hold")]
pub enum EntryKind {
    /// The opening balance of a seeded demo account.
    DemoSeed,
    /// An operator topped up the wallet from the funding account.
    OperatorCredit,
    /// An operator took demo money back to the funding account.
    OperatorDebit,
    /// A withdrawal's amount and fee moved from available to held.
    WithdrawalHold,
    /// A rejected or failed withdrawal's hold returned to available, in full.
    WithdrawalRelease,
    /// A paid-out withdrawal's hold left: the amount to WeChat, the fee to the fee account.
    WithdrawalSettlement,
}

const ENTRY_ID_PREFIX: &str = "je_";

/// An immutable, balanced record of one change to a partition's balances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    pub id: String,
    /// Position in the partition's journal, from 0; also the history cursor.
    pub seq: u64,
    pub kind: EntryKind,
    pub memo: String,
    pub created_at: DateTime<Utc>,
    /// Who caused it, when not the owner (an operator's account id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    pub legs: Vec<Leg>,
    /// The withdrawal this entry moves money for, and its fee's part in it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawal: Option<EntryWithdrawal>,
}

/// What a withdrawal's entry says of the withdrawal: its id, and the part of
/// the entry's movement that is its fee (held by the hold, returned by a
/// release, charged by the settlement), so a statement shows the fee
/// without reading the memo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryWithdrawal {
    pub id: String,
    pub fee: Money,
}

impl JournalEntry {
    pub fn new_id() -> String {
        format!("{ENTRY_ID_PREFIX}{}", uuid::Uuid::now_v7().simple())
    }

    /// Whether a text from outside could be an entry id at all.
    pub fn is_well_formed_id(text: &str) -> bool {
        text.strip_prefix(ENTRY_ID_PREFIX)
            .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
    }

    /// The net change this entry makes to one ledger account (credits − debits).
    pub fn change_to(&self, account: LedgerAccount) -> Result<Money, LedgerError> {
        self.legs.iter().try_fold(Money::ZERO, |net, leg| {
            let mut net = net;
            if leg.credit == account {
                net = net.checked_add(leg.amount.money())?;
            }
            if leg.debit == account {
                net = net.checked_sub(leg.amount.money())?;
            }
            Ok(net)
        })
    }
}

/// A leg as the domain asks for it, before it gets an entry around it.
pub fn leg(debit: LedgerAccount, credit: LedgerAccount, amount: Amount) -> Leg {
    Leg { debit, credit, amount }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum LedgerError {
    #[error("{account} would go below zero: balance {balance}, change {change}")]
    InsufficientFunds { account: LedgerAccount, balance: Money, change: Money },
    #[error("a journal entry needs at least one leg")]
    EmptyEntry,
    #[error("a leg must move money between two different accounts ({0})")]
    SelfTransfer(LedgerAccount),
    #[error(transparent)]
    Money(#[from] MoneyError),
}

/// The balances of one partition's ledger accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LedgerBalances {
    pub user_available: Money,
    pub user_held: Money,
    pub funding: Money,
    pub fees: Money,
    pub wechat_settlement: Money,
}

impl LedgerBalances {
    pub fn get(&self, account: LedgerAccount) -> Money {
        match account {
            LedgerAccount::UserAvailable => self.user_available,
            LedgerAccount::UserHeld => self.user_held,
            LedgerAccount::Funding => self.funding,
            LedgerAccount::Fees => self.fees,
            LedgerAccount::WechatSettlement => self.wechat_settlement,
        }
    }

    fn slot(&mut self, account: LedgerAccount) -> &mut Money {
        match account {
            LedgerAccount::UserAvailable => &mut self.user_available,
            LedgerAccount::UserHeld => &mut self.user_held,
            LedgerAccount::Funding => &mut self.funding,
            LedgerAccount::Fees => &mut self.fees,
            LedgerAccount::WechatSettlement => &mut self.wechat_settlement,
        }
    }

    /// Adds a signed change with no floor check: for audits that must see a
    /// negative balance rather than refuse it. Money moves through `apply`.
    pub fn add_change(&mut self, account: LedgerAccount, change: Money) -> Result<(), MoneyError> {
        let slot = self.slot(account);
        *slot = slot.checked_add(change)?;
        Ok(())
    }

    /// The sum over all ledger accounts: zero whenever only balanced entries were applied.
    pub fn sum(&self) -> Result<Money, MoneyError> {
        LedgerAccount::ALL.iter().try_fold(Money::ZERO, |sum, &account| sum.checked_add(self.get(account)))
    }

    /// Applies an entry's legs, all or nothing. User-owned accounts may not end
    /// below zero; system accounts may (funding issues money).
    pub fn apply(&mut self, legs: &[Leg]) -> Result<(), LedgerError> {
        if legs.is_empty() {
            return Err(LedgerError::EmptyEntry);
        }
        let mut next = self.clone();
        for leg in legs {
            if leg.debit == leg.credit {
                return Err(LedgerError::SelfTransfer(leg.debit));
            }
            let debited = next.slot(leg.debit);
            *debited = debited.checked_sub(leg.amount.money())?;
            let credited = next.slot(leg.credit);
            *credited = credited.checked_add(leg.amount.money())?;
        }
        for account in LedgerAccount::ALL.into_iter().filter(|a| a.is_user_owned()) {
            if next.get(account).is_negative() {
                let balance = self.get(account);
                return Err(LedgerError::InsufficientFunds {
                    account,
                    balance,
                    change: next.get(account).checked_sub(balance)?,
                });
            }
        }
        *self = next;
        Ok(())
    }
}

/// Balances summed over many partitions (the ledger audit's totals): each
/// partition's balances are bounded, their sums are not.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct LedgerTotals {
    pub user_available: MoneyTotal,
    pub user_held: MoneyTotal,
    pub funding: MoneyTotal,
    pub fees: MoneyTotal,
    pub wechat_settlement: MoneyTotal,
}

impl LedgerTotals {
    /// Adds one partition's balances.
    pub fn add(&mut self, balances: &LedgerBalances) -> Result<(), MoneyError> {
        for account in LedgerAccount::ALL {
            let slot = match account {
                LedgerAccount::UserAvailable => &mut self.user_available,
                LedgerAccount::UserHeld => &mut self.user_held,
                LedgerAccount::Funding => &mut self.funding,
                LedgerAccount::Fees => &mut self.fees,
                LedgerAccount::WechatSettlement => &mut self.wechat_settlement,
            };
            *slot = slot.checked_add(balances.get(account))?;
        }
        Ok(())
    }

    /// The sum over all ledger accounts: zero when every entry balanced.
    pub fn sum(&self) -> Result<MoneyTotal, MoneyError> {
        [self.user_available, self.user_held, self.funding, self.fees, self.wechat_settlement]
            .into_iter()
            .try_fold(MoneyTotal::ZERO, |sum, total| sum.checked_add_total(total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use LedgerAccount::*;
    use proptest::prelude::*;

    fn amount(fen: i64) -> Amount {
        Amount::new(Money::from_fen(fen).unwrap()).unwrap()
    }

    #[test]
    fn a_top_up_moves_money_from_funding_to_available() {
        let mut balances = LedgerBalances::default();
        balances.apply(&[leg(Funding, UserAvailable, amount(80_000))]).unwrap();
        assert_eq!(balances.user_available.to_string(), "800.00");
        assert_eq!(balances.funding.to_string(), "-800.00");
        assert_eq!(balances.sum().unwrap(), Money::ZERO);
    }

    #[test]
    fn user_accounts_cannot_be_overdrawn_and_a_refused_entry_changes_nothing() {
        let mut balances = LedgerBalances::default();
        balances.apply(&[leg(Funding, UserAvailable, amount(500))]).unwrap();
        let before = balances.clone();
        let error = balances
            .apply(&[leg(UserAvailable, UserHeld, amount(300)), leg(UserAvailable, Fees, amount(300))])
            .unwrap_err();
        assert!(matches!(error, LedgerError::InsufficientFunds { account: UserAvailable, .. }));
        assert_eq!(balances, before);
    }

    #[test]
    fn an_entry_may_pass_through_an_account_within_its_legs() {
        let mut balances = LedgerBalances::default();
        balances.apply(&[leg(Funding, UserAvailable, amount(1_000))]).unwrap();
        balances
            .apply(&[leg(UserAvailable, UserHeld, amount(1_000)), leg(UserHeld, WechatSettlement, amount(1_000))])
            .unwrap();
        assert_eq!(balances.user_held, Money::ZERO);
        assert_eq!(balances.wechat_settlement.to_string(), "10.00");
    }

    #[test]
    fn empty_and_self_transfers_are_refused() {
        let mut balances = LedgerBalances::default();
        assert_eq!(balances.apply(&[]), Err(LedgerError::EmptyEntry));
        assert_eq!(balances.apply(&[leg(Fees, Fees, amount(1))]), Err(LedgerError::SelfTransfer(Fees)));
    }

    #[test]
    fn entry_ids_are_recognised_by_shape() {
        assert!(JournalEntry::is_well_formed_id(&JournalEntry::new_id()));
        for bad in ["", "je_", "je_xyz", "acc_demo_alice", "je_0123456789abcdef0123456789abcdefff"] {
            assert!(!JournalEntry::is_well_formed_id(bad), "{bad}");
        }
    }

    fn any_leg() -> impl Strategy<Value = Leg> {
        let account = prop::sample::select(LedgerAccount::ALL.to_vec());
        (account.clone(), account, 1i64..=10_000_000).prop_map(|(debit, credit, fen)| leg(debit, credit, amount(fen)))
    }

    proptest! {
        #[test]
        fn the_sum_over_all_accounts_is_conserved(entries in prop::collection::vec(prop::collection::vec(any_leg(), 0..4), 0..60)) {
            let mut balances = LedgerBalances::default();
            for legs in &entries {
                let before = balances.clone();
                if balances.apply(legs).is_err() {
                    prop_assert_eq!(&balances, &before);
                }
                prop_assert_eq!(balances.sum().unwrap(), Money::ZERO);
                prop_assert!(!balances.user_available.is_negative());
                prop_assert!(!balances.user_held.is_negative());
            }
        }

        #[test]
        fn an_entrys_net_changes_sum_to_zero(legs in prop::collection::vec(any_leg(), 1..6)) {
            let entry = JournalEntry {
                id: "je".into(), seq: 0, kind: EntryKind::OperatorCredit, memo: String::new(),
                created_at: DateTime::<Utc>::UNIX_EPOCH, actor: None, legs, withdrawal: None,
            };
            let net = LedgerAccount::ALL.iter().try_fold(Money::ZERO, |sum, &a| sum.checked_add(entry.change_to(a).unwrap())).unwrap();
            prop_assert_eq!(net, Money::ZERO);
        }
    }
}
