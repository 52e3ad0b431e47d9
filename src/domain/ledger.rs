//! Double-entry bookkeeping: ledger accounts, journal entries and the balances they produce.
//!
//! Every leg moves one asset, and balances are kept per asset: an entry
//! balances in each asset it moves, and no leg mixes two.
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

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use rust_decimal::Decimal;

use super::asset::{Asset, Quantity, QuantityError};
use super::binding::DestinationProvider;
use super::money::{Amount, Money, MoneyError};
use super::transfer::TransferId;

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
    /// Money paid out to Alipay accounts.
    AlipaySettlement,
    /// Money on its way between two partitions (`transfer`): this
    /// partition's share, up when it sends, down when it is credited.
    InFlight,
}

impl LedgerAccount {
    pub const ALL: [LedgerAccount; 7] = [
        LedgerAccount::UserAvailable,
        LedgerAccount::UserHeld,
        LedgerAccount::Funding,
        LedgerAccount::Fees,
        LedgerAccount::WechatSettlement,
        LedgerAccount::AlipaySettlement,
        LedgerAccount::InFlight,
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
            LedgerAccount::AlipaySettlement => "alipay_settlement",
            LedgerAccount::InFlight => "in_flight",
        }
    }
}

impl fmt::Display for LedgerAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One movement of `amount` (of one asset, positive) from `debit` to
/// `credit`. Stored as `{debit, credit, amount}` for CNY, as legs always
/// were, and with `asset` for any other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Leg {
    pub debit: LedgerAccount,
    pub credit: LedgerAccount,
    pub amount: Quantity,
}

#[derive(Serialize, Deserialize)]
struct LegWire {
    debit: LedgerAccount,
    credit: LedgerAccount,
    #[serde(default, skip_serializing_if = "is_cny")]
    asset: Asset,
    amount: String,
}

fn is_cny(asset: &Asset) -> bool {
    *asset == Asset::Cny
}

impl Serialize for Leg {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let wire = LegWire {
            debit: self.debit,
            credit: self.credit,
            asset: self.amount.asset(),
            amount: self.amount.to_string(),
        };
        wire.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Leg {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Leg, D::Error> {
        let wire = LegWire::deserialize(deserializer)?;
        let amount = Quantity::parse(wire.asset, &wire.amount).map_err(serde::de::Error::custom)?;
        leg_of(wire.debit, wire.credit, amount).map_err(serde::de::Error::custom)
    }
}

/// Why an entry was written; shown in the user's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "withdrawal_hold")]
pub enum EntryKind {
    /// The opening balance of a seeded account: a demo account, or a scenario's.
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
    /// Money sent to another account, on its way (`transfer`).
    TransferOut,
    /// Money another account sent, credited.
    TransferIn,
    /// A transfer the recipient's side refused, back with its sender.
    TransferReturn,
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
    /// The transfer this entry sends, credits or returns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transfer_id: Option<TransferId>,
    /// A transfer's other side, masked as the two sides were shown to each
    /// other when it was sent (`*明`, `138****0002`), so a statement row
    /// names it without reading the transfer; `None` elsewhere, and on
    /// entries written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub counterparty: Option<String>,
}

/// What a withdrawal's entry says of the withdrawal: its id, the part of
/// the entry's movement that is its fee (held by the hold, returned by a
/// release, charged by the settlement) and the wallet it goes to, so a
/// statement shows both without reading the memo or the withdrawal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryWithdrawal {
    pub id: String,
    pub fee: Money,
    /// `None` on entries written before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider: Option<DestinationProvider>,
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

    /// The net CNY change this entry makes to one ledger account (credits − debits).
    pub fn change_to(&self, account: LedgerAccount) -> Result<Money, LedgerError> {
        let change = self.change_in(Asset::Cny, account)?;
        Ok(change.as_money().unwrap_or(Money::ZERO))
    }

    /// The net change this entry makes to one ledger account in one asset.
    pub fn change_in(&self, asset: Asset, account: LedgerAccount) -> Result<Quantity, LedgerError> {
        self.legs.iter().filter(|leg| leg.amount.asset() == asset).try_fold(Quantity::zero(asset), |net, leg| {
            let mut net = net;
            if leg.credit == account {
                net = net.checked_add(leg.amount)?;
            }
            if leg.debit == account {
                net = net.checked_sub(leg.amount)?;
            }
            Ok(net)
        })
    }

    /// The assets this entry moves, each once, in code order.
    pub fn assets(&self) -> Vec<Asset> {
        let assets: BTreeSet<Asset> = self.legs.iter().map(|leg| leg.amount.asset()).collect();
        assets.into_iter().collect()
    }
}

/// A CNY leg as the domain asks for it, before it gets an entry around it.
pub fn leg(debit: LedgerAccount, credit: LedgerAccount, amount: Amount) -> Leg {
    Leg { debit, credit, amount: Quantity::cny(amount.money()) }
}

/// A leg of any asset; its amount must be positive.
pub fn leg_of(debit: LedgerAccount, credit: LedgerAccount, amount: Quantity) -> Result<Leg, LedgerError> {
    if !amount.is_positive() {
        return Err(LedgerError::NotPositive(amount.asset()));
    }
    Ok(Leg { debit, credit, amount })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize)]
pub enum LedgerError {
    #[error("{account} would go below zero: balance {balance} {}, change {change}", balance.asset())]
    InsufficientFunds { account: LedgerAccount, balance: Quantity, change: Quantity },
    #[error("a journal entry needs at least one leg")]
    EmptyEntry,
    #[error("a leg must move money between two different accounts ({0})")]
    SelfTransfer(LedgerAccount),
    #[error("a leg must move a positive amount of {0}")]
    NotPositive(Asset),
    #[error(transparent)]
    Money(#[from] MoneyError),
    #[error(transparent)]
    Quantity(#[from] QuantityError),
}

/// The balances of one partition's ledger accounts, per asset; only
/// balances other than zero are kept (an absent one is zero).
///
/// Stored as `{"CNY": {"user_available": "1.00", …}, "USDT": {…}}`; a record
/// written before there were assets (`{"user_available": "1.00", …}`) reads
/// as its CNY balances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerBalances {
    by_asset: BTreeMap<Asset, BTreeMap<LedgerAccount, Quantity>>,
}

impl LedgerBalances {
    /// A ledger account's CNY balance.
    pub fn get(&self, account: LedgerAccount) -> Money {
        self.get_in(Asset::Cny, account).as_money().unwrap_or(Money::ZERO)
    }

    /// A ledger account's balance in one asset.
    pub fn get_in(&self, asset: Asset, account: LedgerAccount) -> Quantity {
        self.by_asset.get(&asset).and_then(|balances| balances.get(&account)).copied().unwrap_or(Quantity::zero(asset))
    }

    /// The assets with a balance other than zero, in code order.
    pub fn assets(&self) -> impl Iterator<Item = Asset> + '_ {
        self.by_asset.keys().copied()
    }

    /// Adds a signed change with no floor check: for audits that must see a
    /// negative balance rather than refuse it. Money moves through `apply`.
    pub fn add_change(&mut self, account: LedgerAccount, change: Quantity) -> Result<(), QuantityError> {
        let balance = self.get_in(change.asset(), account).checked_add(change)?;
        // Zero balances are not kept, so two equal ledgers compare (and store) alike.
        let balances = self.by_asset.entry(change.asset()).or_default();
        if balance.is_zero() {
            balances.remove(&account);
        } else {
            balances.insert(account, balance);
        }
        if balances.is_empty() {
            self.by_asset.remove(&change.asset());
        }
        Ok(())
    }

    /// The sum over all ledger accounts of one asset: zero whenever only
    /// balanced entries were applied.
    pub fn sum(&self, asset: Asset) -> Result<Quantity, QuantityError> {
        LedgerAccount::ALL
            .iter()
            .try_fold(Quantity::zero(asset), |sum, &account| sum.checked_add(self.get_in(asset, account)))
    }

    /// Applies an entry's legs, all or nothing. User-owned accounts may not end
    /// below zero in any asset; system accounts may (funding issues money).
    pub fn apply(&mut self, legs: &[Leg]) -> Result<(), LedgerError> {
        if legs.is_empty() {
            return Err(LedgerError::EmptyEntry);
        }
        let mut next = self.clone();
        for leg in legs {
            if leg.debit == leg.credit {
                return Err(LedgerError::SelfTransfer(leg.debit));
            }
            next.add_change(leg.debit, leg.amount.negated())?;
            next.add_change(leg.credit, leg.amount)?;
        }
        for asset in next.by_asset.keys() {
            for account in LedgerAccount::ALL.into_iter().filter(|a| a.is_user_owned()) {
                let after = next.get_in(*asset, account);
                if after.is_negative() {
                    let balance = self.get_in(*asset, account);
                    return Err(LedgerError::InsufficientFunds {
                        account,
                        balance,
                        change: after.checked_sub(balance)?,
                    });
                }
            }
        }
        *self = next;
        Ok(())
    }
}

impl Serialize for LedgerBalances {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.by_asset.len()))?;
        for (asset, balances) in &self.by_asset {
            let texts: BTreeMap<LedgerAccount, String> =
                balances.iter().map(|(account, balance)| (*account, balance.to_string())).collect();
            map.serialize_entry(asset, &texts)?;
        }
        map.end()
    }
}

/// A stored `LedgerBalances`: per asset, or the CNY-only shape of records
/// written before there were assets.
#[derive(Deserialize)]
#[serde(untagged)]
enum LedgerBalancesWire {
    ByAsset(BTreeMap<Asset, BTreeMap<LedgerAccount, String>>),
    CnyOnly(BTreeMap<LedgerAccount, String>),
}

impl<'de> Deserialize<'de> for LedgerBalances {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<LedgerBalances, D::Error> {
        let by_asset = match LedgerBalancesWire::deserialize(deserializer)? {
            LedgerBalancesWire::ByAsset(by_asset) => by_asset,
            LedgerBalancesWire::CnyOnly(cny) => BTreeMap::from([(Asset::Cny, cny)]),
        };
        let mut balances = LedgerBalances::default();
        for (asset, texts) in by_asset {
            for (account, text) in texts {
                let balance = Quantity::parse(asset, &text).map_err(serde::de::Error::custom)?;
                balances.add_change(account, balance).map_err(serde::de::Error::custom)?;
            }
        }
        Ok(balances)
    }
}

/// Balances summed over many partitions (the ledger audit's totals), per
/// asset: each partition's balances are bounded, their sums are not (an
/// exact `Decimal` holds some 10^16 maximal balances).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerTotals {
    by_asset: BTreeMap<Asset, BTreeMap<LedgerAccount, Decimal>>,
}

impl LedgerTotals {
    /// Adds one partition's balances.
    pub fn add(&mut self, balances: &LedgerBalances) -> Result<(), MoneyError> {
        for (asset, accounts) in &balances.by_asset {
            let totals = self.by_asset.entry(*asset).or_default();
            for (account, balance) in accounts {
                let total = totals.entry(*account).or_default();
                *total = total.checked_add(balance.as_decimal()).ok_or(MoneyError::Overflow)?;
            }
        }
        Ok(())
    }

    /// The assets any partition has held, in code order (CNY always).
    pub fn assets(&self) -> Vec<Asset> {
        let mut assets: BTreeSet<Asset> = self.by_asset.keys().copied().collect();
        assets.insert(Asset::Cny);
        assets.into_iter().collect()
    }

    /// One ledger account's total in one asset, printed at the asset's scale.
    pub fn total(&self, asset: Asset, account: LedgerAccount) -> String {
        let total = self.by_asset.get(&asset).and_then(|totals| totals.get(&account)).copied().unwrap_or_default();
        at_scale(total, asset)
    }

    /// The sum over all ledger accounts of one asset, printed at its scale:
    /// zero when every entry balanced.
    pub fn sum(&self, asset: Asset) -> Result<String, MoneyError> {
        Ok(at_scale(self.exact_sum(asset)?, asset))
    }

    /// Whether every asset's ledger accounts add up to zero.
    pub fn all_sum_to_zero(&self) -> Result<bool, MoneyError> {
        for asset in self.by_asset.keys() {
            if !self.exact_sum(*asset)?.is_zero() {
                return Ok(false);
            }
        }
        Ok(true)
    }

    fn exact_sum(&self, asset: Asset) -> Result<Decimal, MoneyError> {
        let mut totals = self.by_asset.get(&asset).into_iter().flat_map(|totals| totals.values());
        totals.try_fold(Decimal::ZERO, |sum, total| sum.checked_add(*total).ok_or(MoneyError::Overflow))
    }
}

/// A total printed with exactly its asset's places, one zero unsigned.
fn at_scale(value: Decimal, asset: Asset) -> String {
    let mut exact = value;
    exact.rescale(asset.scale());
    exact.set_sign_positive(exact.is_sign_positive() || exact.is_zero());
    exact.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use LedgerAccount::*;
    use proptest::prelude::*;

    fn amount(fen: i64) -> Amount {
        Amount::new(Money::from_fen(fen).unwrap()).unwrap()
    }

    /// An entry written before the wallet was kept reads as naming none; a
    /// new one keeps it.
    #[test]
    fn a_withdrawals_entry_keeps_its_wallet_and_older_ones_name_none() {
        let older: EntryWithdrawal = serde_json::from_str(r#"{"id":"wd_1","fee":"0.10"}"#).unwrap();
        assert_eq!(older.provider, None);
        let new = EntryWithdrawal { provider: Some(DestinationProvider::Alipay), ..older };
        let text = serde_json::to_string(&new).unwrap();
        assert_eq!(serde_json::from_str::<EntryWithdrawal>(&text).unwrap(), new, "{text}");
        assert!(text.contains(r#""provider":"alipay""#), "{text}");
    }

    #[test]
    fn a_top_up_moves_money_from_funding_to_available() {
        let mut balances = LedgerBalances::default();
        balances.apply(&[leg(Funding, UserAvailable, amount(80_000))]).unwrap();
        assert_eq!(balances.get(UserAvailable).to_string(), "800.00");
        assert_eq!(balances.get(Funding).to_string(), "-800.00");
        assert!(balances.sum(Asset::Cny).unwrap().is_zero());
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
        assert_eq!(balances.get(UserHeld), Money::ZERO);
        assert_eq!(balances.get(WechatSettlement).to_string(), "10.00");
    }

    #[test]
    fn empty_and_self_transfers_are_refused() {
        let mut balances = LedgerBalances::default();
        assert_eq!(balances.apply(&[]), Err(LedgerError::EmptyEntry));
        assert_eq!(balances.apply(&[leg(Fees, Fees, amount(1))]), Err(LedgerError::SelfTransfer(Fees)));
    }

    fn usdt(text: &str) -> Quantity {
        Quantity::parse(Asset::Usdt, text).unwrap()
    }

    #[test]
    fn each_asset_balances_on_its_own() {
        let mut balances = LedgerBalances::default();
        balances.apply(&[leg(Funding, UserAvailable, amount(1_000))]).unwrap();
        balances.apply(&[leg_of(Funding, UserAvailable, usdt("2.5")).unwrap()]).unwrap();
        assert_eq!(balances.get_in(Asset::Usdt, UserAvailable).to_string(), "2.500000");
        assert_eq!(balances.get(UserAvailable).to_string(), "10.00");
        // USDT cannot be spent from a CNY balance, nor the other way round.
        let error = balances.apply(&[leg_of(UserAvailable, UserHeld, usdt("2.500001")).unwrap()]).unwrap_err();
        assert!(matches!(error, LedgerError::InsufficientFunds { account: UserAvailable, .. }), "{error}");
        assert!(balances.sum(Asset::Cny).unwrap().is_zero() && balances.sum(Asset::Usdt).unwrap().is_zero());
        assert_eq!(balances.assets().collect::<Vec<_>>(), [Asset::Cny, Asset::Usdt]);
        assert!(leg_of(Funding, UserAvailable, Quantity::zero(Asset::Usdt)).is_err());
    }

    #[test]
    fn balances_are_stored_per_asset_and_old_cny_records_still_read() {
        let mut balances = LedgerBalances::default();
        balances.apply(&[leg(Funding, UserAvailable, amount(150))]).unwrap();
        balances.apply(&[leg_of(Funding, UserAvailable, usdt("0.000001")).unwrap()]).unwrap();
        let stored = serde_json::to_value(&balances).unwrap();
        assert_eq!(stored["USDT"]["user_available"], "0.000001");
        assert_eq!(stored["CNY"]["funding"], "-1.50");
        assert_eq!(serde_json::from_value::<LedgerBalances>(stored).unwrap(), balances);
        let old = serde_json::json!({"user_available": "1.50", "user_held": "0.00", "funding": "-1.50",
            "fees": "0.00", "wechat_settlement": "0.00"});
        let read: LedgerBalances = serde_json::from_value(old).unwrap();
        assert_eq!(
            (read.get(UserAvailable).to_string(), read.get(Funding).to_string()),
            ("1.50".into(), "-1.50".into())
        );
        assert!(
            serde_json::from_value::<LedgerBalances>(serde_json::json!({"USDT": {"funding": "1.0000001"}})).is_err()
        );
    }

    #[test]
    fn legs_of_cny_are_stored_as_they_always_were() {
        let stored = serde_json::to_value(leg(Funding, UserAvailable, amount(150))).unwrap();
        assert_eq!(stored, serde_json::json!({"debit": "funding", "credit": "user_available", "amount": "1.50"}));
        let usdt_leg = leg_of(Funding, UserAvailable, usdt("3")).unwrap();
        let stored = serde_json::to_value(&usdt_leg).unwrap();
        assert_eq!(stored["asset"], "USDT");
        assert_eq!(serde_json::from_value::<Leg>(stored).unwrap(), usdt_leg);
        let negative = serde_json::json!({"debit": "funding", "credit": "fees", "amount": "-1.00"});
        assert!(serde_json::from_value::<Leg>(negative).is_err());
    }

    #[test]
    fn totals_are_kept_per_asset() {
        let mut one = LedgerBalances::default();
        one.apply(&[leg_of(Funding, UserAvailable, usdt("1.5")).unwrap()]).unwrap();
        let mut totals = LedgerTotals::default();
        totals.add(&one).unwrap();
        totals.add(&one).unwrap();
        assert_eq!(totals.assets(), [Asset::Cny, Asset::Usdt]);
        assert_eq!(totals.total(Asset::Usdt, UserAvailable), "3.000000");
        assert_eq!(totals.total(Asset::Cny, UserAvailable), "0.00");
        assert_eq!(
            (totals.sum(Asset::Usdt).unwrap(), totals.sum(Asset::Cny).unwrap()),
            ("0.000000".into(), "0.00".into())
        );
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
                prop_assert!(balances.sum(Asset::Cny).unwrap().is_zero());
                prop_assert!(!balances.get(UserAvailable).is_negative());
                prop_assert!(!balances.get(UserHeld).is_negative());
            }
        }

        #[test]
        fn an_entrys_net_changes_sum_to_zero(legs in prop::collection::vec(any_leg(), 1..6)) {
            let entry = JournalEntry {
                id: "je".into(), seq: 0, kind: EntryKind::OperatorCredit, memo: String::new(),
                created_at: DateTime::<Utc>::UNIX_EPOCH, actor: None, legs, withdrawal: None, transfer_id: None,
                counterparty: None,
            };
            let net = LedgerAccount::ALL.iter().try_fold(Money::ZERO, |sum, &a| sum.checked_add(entry.change_to(a).unwrap())).unwrap();
            prop_assert_eq!(net, Money::ZERO);
        }
    }
}
