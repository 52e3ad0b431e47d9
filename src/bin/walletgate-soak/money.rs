//! The money invariants, asset by asset (CNY at 2 places, USDT at 6): what
//! the harness recorded of credits and transfers (its model) against what
//! the wallets, the journals, the transfer lists and the ledger check say
//! after quiescence. Pure functions over plain data, so that the tests
//! below can feed them a deliberately wrong history.
//!
//! - **conserved**: the money the model credited (a keyed credit once
//!   however often it was sent; unanswered credits may or may not have
//!   landed, so a range) equals what the wallets hold plus what settled
//!   withdrawals and transfer fees took out plus what is in flight, and the
//!   ledger's `funding` moved by exactly the credited amount;
//! - **never negative**, in any asset, at the end and in every balance an
//!   answer showed during the run;
//! - **nothing in flight** once the worker drained: the ledger's `in_flight`
//!   of every asset is zero and no transfer is listed `in_flight`;
//! - **transfers exactly once**: a key acknowledged (201) names one
//!   transfer, for the body sent and to the recipient named; each
//!   acknowledged transfer left its sender once and reached its recipient
//!   once (or came back once), and no journal holds a transfer's movement
//!   twice;
//! - **a keyed credit once**: every 201 for a key names one journal entry,
//!   which the account's journal holds once, and each account's credits add
//!   up to what the model says.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::client::{decimal, units};
use crate::invariants::{Checked, JOURNAL, LEDGER};
use crate::world::{CreditFact, Credited, NegativeSeen, Sent, SentTransfer, TransferFact};

pub const CONSERVED: &str = "11. money is conserved in every asset";
pub const NEGATIVE: &str = "12. no balance is negative in any asset";
pub const IN_FLIGHT: &str = "13. nothing is left in flight once the worker drained";
pub const TRANSFERS: &str = "14. an acknowledged transfer moves money exactly once";
pub const CREDITS: &str = "15. a keyed credit is counted once";

/// Every asset a wallet can hold.
pub const ASSETS: [&str; 2] = ["CNY", "USDT"];

/// The places an asset's amounts keep (CNY's fen, USDT's micro-units).
pub fn places_of(asset: &str) -> u32 {
    if asset == "USDT" { 6 } else { 2 }
}

fn show(asset: &str, amount: i64) -> String {
    format!("{} {asset}", decimal(amount, places_of(asset)))
}

/// An amount of `asset` in `value` (a JSON string), in units of its last place.
fn amount_of(asset: &str, value: &Value) -> Option<i64> {
    units(value.as_str()?, places_of(asset))
}

/// What one account's journal (`GET /v1/wallet/transactions`, every page) adds up to.
#[derive(Debug, Default, Clone)]
pub struct JournalSummary {
    /// Per asset: the sums of `available_change` and `held_change`.
    pub sums: BTreeMap<String, (i64, i64)>,
    /// Per transfer id: its movements here, `(kind, asset, available_change)`.
    pub transfer_moves: BTreeMap<String, Vec<(String, String, i64)>>,
    /// Per `operator_credit` entry id: its asset, amount and how often it is listed.
    pub credits: BTreeMap<String, (String, i64, u32)>,
    /// Per withdrawal id: the wallet each of its rows names (`provider`,
    /// `none` where a row names none).
    pub withdrawal_providers: BTreeMap<String, Vec<String>>,
}

impl JournalSummary {
    /// Adds one history item; `None` if it cannot be read.
    pub fn add(&mut self, item: &Value) -> Option<()> {
        let asset = item["asset"].as_str()?.to_owned();
        let available = amount_of(&asset, &item["available_change"])?;
        let held = amount_of(&asset, &item["held_change"])?;
        let sums = self.sums.entry(asset.clone()).or_default();
        sums.0 += available;
        sums.1 += held;
        let kind = item["kind"].as_str().unwrap_or_default();
        if let Some(transfer) = item["transfer_id"].as_str() {
            self.transfer_moves.entry(transfer.to_owned()).or_default().push((
                kind.to_owned(),
                asset.clone(),
                available,
            ));
        }
        if let Some(withdrawal) = item["withdrawal_id"].as_str() {
            let provider = item["provider"].as_str().unwrap_or("none").to_owned();
            self.withdrawal_providers.entry(withdrawal.to_owned()).or_default().push(provider);
        }
        if kind == "operator_credit" {
            let credit = self.credits.entry(item["id"].as_str()?.to_owned()).or_insert((asset, available, 0));
            credit.2 += 1;
        }
        Some(())
    }
}

/// One transfer as an account's list (`GET /v1/transfers`) shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    pub direction: String,
    pub status: String,
    pub asset: String,
    pub amount: i64,
    /// The sender's fee; zero for the recipient.
    pub fee: i64,
}

impl Listed {
    pub fn read(item: &Value) -> Option<(String, Listed)> {
        let asset = item["asset"].as_str()?.to_owned();
        let listed = Listed {
            direction: item["direction"].as_str()?.to_owned(),
            status: item["status"].as_str()?.to_owned(),
            amount: amount_of(&asset, &item["amount"])?,
            fee: if item["fee"].is_null() { 0 } else { amount_of(&asset, &item["fee"])? },
            asset,
        };
        Some((item["id"].as_str()?.to_owned(), listed))
    }
}

/// One account of the harness as read after quiescence; `None` where a read failed.
#[derive(Debug, Clone, Default)]
pub struct AccountMoney {
    pub phone: String,
    pub id: String,
    /// Per asset: `available` and `held` of `GET /v1/wallet`'s `assets`.
    pub wallet: Option<BTreeMap<String, (i64, i64)>>,
    pub journal: Option<JournalSummary>,
    /// Its transfers both ways, by id.
    pub transfers: Option<BTreeMap<String, Listed>>,
    /// `total_debit` of its settled withdrawals (CNY): what left for WeChat and fees.
    pub settled_out: i64,
}

/// Reads `/v1/wallet`'s `assets`.
pub fn wallet_of(body: &Value) -> Option<BTreeMap<String, (i64, i64)>> {
    let mut wallet = BTreeMap::new();
    for balance in body["assets"].as_array()? {
        let asset = balance["asset"].as_str()?;
        let pair = (amount_of(asset, &balance["available"])?, amount_of(asset, &balance["held"])?);
        wallet.insert(asset.to_owned(), pair);
    }
    Some(wallet)
}

/// One asset's totals in the ledger check.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AssetTotals {
    pub user_available: i64,
    pub user_held: i64,
    pub funding: i64,
    pub fees: i64,
    pub wechat_settlement: i64,
    pub in_flight: i64,
    pub sum: i64,
}

/// The ledger check's report (`GET /v1/ops/ledger/check`), per asset.
#[derive(Debug, Clone, Default)]
pub struct LedgerSeen {
    pub assets: BTreeMap<String, AssetTotals>,
}

impl LedgerSeen {
    pub fn read(body: &Value) -> Option<LedgerSeen> {
        let mut assets = BTreeMap::new();
        for item in body["assets"].as_array()? {
            let asset = item["asset"].as_str()?;
            let total = |name: &str| amount_of(asset, &item["totals"][name]);
            let totals = AssetTotals {
                user_available: total("user_available")?,
                user_held: total("user_held")?,
                funding: total("funding")?,
                fees: total("fees")?,
                wechat_settlement: total("wechat_settlement")?,
                in_flight: total("in_flight")?,
                sum: amount_of(asset, &item["sum"])?,
            };
            assets.insert(asset.to_owned(), totals);
        }
        Some(LedgerSeen { assets })
    }

    fn of(&self, asset: &str) -> AssetTotals {
        self.assets.get(asset).copied().unwrap_or_default()
    }
}

/// Everything the money checks read.
pub struct MoneyRun<'a> {
    /// The accounts read after quiescence.
    pub accounts: &'a [AccountMoney],
    /// Accounts of the harness (with an id) that could not be read; their
    /// money is then taken from the ledger's user totals.
    pub unread: usize,
    /// `total_debit` of the settled withdrawals of the unread accounts.
    pub unread_settled_out: i64,
    pub credits: &'a [CreditFact],
    pub transfers: &'a [TransferFact],
    pub negatives: &'a [NegativeSeen],
    /// The ledger check before the workload (the demo accounts' money) and after quiescence.
    pub ledger_before: &'a LedgerSeen,
    pub ledger_after: &'a LedgerSeen,
}

impl MoneyRun<'_> {
    fn account_by_phone(&self, phone: &str) -> Option<&AccountMoney> {
        self.accounts.iter().find(|a| a.phone == phone)
    }

    fn account_by_id(&self, id: &str) -> Option<&AccountMoney> {
        self.accounts.iter().find(|a| a.id == id)
    }
}

/// Runs every money check.
pub fn check_money(checked: &mut Checked, run: &MoneyRun<'_>) {
    check_ledger_assets(checked, run.ledger_after);
    check_wallets(checked, run);
    let credited = credited(run.credits);
    check_credits(checked, run, &credited);
    check_transfers(checked, run);
    check_conservation(checked, run, &credited);
}

/// Every asset adds up to zero, and nothing is in flight.
fn check_ledger_assets(checked: &mut Checked, ledger: &LedgerSeen) {
    for asset in ASSETS {
        let totals = ledger.of(asset);
        let listed = ledger.assets.contains_key(asset) || asset == "CNY";
        checked.check(
            LEDGER,
            listed && totals.sum == 0,
            || format!("the ledger check's {asset} sums to {} ({totals:?})", show(asset, totals.sum)),
            &[],
        );
        checked.check(
            IN_FLIGHT,
            totals.in_flight == 0,
            || {
                format!(
                    "the ledger check's {asset} in_flight is {} after the worker drained",
                    show(asset, totals.in_flight)
                )
            },
            &[],
        );
    }
}

/// Each asset's balances equal its journal, are never negative, and no
/// answer during the run showed a negative balance.
fn check_wallets(checked: &mut Checked, run: &MoneyRun<'_>) {
    for account in run.accounts {
        let phone = account.phone.as_str();
        let (Some(wallet), Some(journal)) = (&account.wallet, &account.journal) else {
            checked.check(
                JOURNAL,
                false,
                || format!("{} ({phone}): wallet or journal unreadable", account.id),
                &[phone],
            );
            continue;
        };
        for asset in ASSETS {
            let balances = wallet.get(asset).copied();
            let sums = journal.sums.get(asset).copied().unwrap_or_default();
            checked.check(
                JOURNAL,
                balances == Some(sums),
                || {
                    let shown = |(a, h): (i64, i64)| format!("available {} held {}", show(asset, a), show(asset, h));
                    format!(
                        "{} ({phone}): wallet {:?} but journal sums {}",
                        account.id,
                        balances.map(shown),
                        shown(sums)
                    )
                },
                &[phone],
            );
            let (available, held) = balances.unwrap_or_default();
            checked.check(
                NEGATIVE,
                available >= 0 && held >= 0,
                || {
                    format!(
                        "{} ({phone}): {asset} available {} held {}",
                        account.id,
                        show(asset, available),
                        show(asset, held)
                    )
                },
                &[phone],
            );
        }
    }
    for seen in run.negatives {
        let before = checked.violations.len();
        checked.check(NEGATIVE, false, || format!("{}: {}", seen.phone, seen.detail), &[&seen.phone]);
        checked.showing(before, &[seen.seq]);
    }
}

/// What the model credited: per account and asset, what surely landed and
/// what may have (unanswered), each keyed credit once.
#[derive(Debug, Default)]
struct CreditModel {
    /// (account id, asset) → (sure, maybe).
    per_account: BTreeMap<(String, String), (i64, i64)>,
    /// Entry ids acknowledged, with the account and the keys that named them.
    entries: BTreeMap<String, (String, BTreeSet<String>)>,
}

impl CreditModel {
    fn add(&mut self, account: &str, asset: &str, sure: i64, maybe: i64) {
        let slot = self.per_account.entry((account.to_owned(), asset.to_owned())).or_default();
        slot.0 += sure;
        slot.1 += maybe;
    }

    /// Sure and maybe of one asset over every account.
    fn total(&self, asset: &str) -> (i64, i64) {
        self.per_account
            .iter()
            .filter(|((_, a), _)| a == asset)
            .fold((0, 0), |(sure, maybe), (_, (s, m))| (sure + s, maybe + m))
    }
}

fn credit_amount(fact: &CreditFact) -> i64 {
    units(&fact.amount, places_of(&fact.asset)).unwrap_or(0)
}

fn credited(credits: &[CreditFact]) -> CreditModel {
    let mut model = CreditModel::default();
    let mut by_key: BTreeMap<&str, Vec<&CreditFact>> = BTreeMap::new();
    for fact in credits {
        match (&fact.key, &fact.outcome) {
            (Some(key), _) => by_key.entry(key).or_default().push(fact),
            (None, Credited::Entry(entry)) => {
                model.add(&fact.account_id, &fact.asset, credit_amount(fact), 0);
                model.entries.entry(entry.clone()).or_insert_with(|| (fact.account_id.clone(), BTreeSet::new()));
            }
            (None, Credited::Unknown) => model.add(&fact.account_id, &fact.asset, 0, credit_amount(fact)),
            (None, Credited::Refused(_)) => {}
        }
    }
    for (key, facts) in by_key {
        let acknowledged: Vec<&&CreditFact> =
            facts.iter().filter(|f| matches!(f.outcome, Credited::Entry(_))).collect();
        if let Some(first) = acknowledged.first() {
            model.add(&first.account_id, &first.asset, credit_amount(first), 0);
        } else if let Some(largest) =
            facts.iter().filter(|f| f.outcome == Credited::Unknown).max_by_key(|f| credit_amount(f))
        {
            model.add(&largest.account_id, &largest.asset, 0, credit_amount(largest));
        }
        for fact in acknowledged {
            if let Credited::Entry(entry) = &fact.outcome {
                let slot =
                    model.entries.entry(entry.clone()).or_insert_with(|| (fact.account_id.clone(), BTreeSet::new()));
                slot.1.insert(key.to_owned());
            }
        }
    }
    model
}

/// Every 201 of a key names one entry, for one body; each acknowledged
/// entry is in its account's journal once; each account's credits add up
/// to the model's; the ledger's funding moved by what was credited.
fn check_credits(checked: &mut Checked, run: &MoneyRun<'_>, model: &CreditModel) {
    let mut by_key: BTreeMap<&str, Vec<&CreditFact>> = BTreeMap::new();
    for fact in run.credits {
        if let Some(key) = &fact.key {
            by_key.entry(key).or_default().push(fact);
        }
    }
    for (key, facts) in &by_key {
        let acknowledged: Vec<&&CreditFact> =
            facts.iter().filter(|f| matches!(f.outcome, Credited::Entry(_))).collect();
        let entries: BTreeSet<&str> = acknowledged
            .iter()
            .filter_map(|f| if let Credited::Entry(entry) = &f.outcome { Some(entry.as_str()) } else { None })
            .collect();
        let bodies: BTreeSet<(&str, &str, &str)> =
            acknowledged.iter().map(|f| (f.account_id.as_str(), f.asset.as_str(), f.amount.as_str())).collect();
        let phones: Vec<&str> = facts.iter().map(|f| f.phone.as_str()).collect();
        let seqs: Vec<u64> = facts.iter().map(|f| f.seq).collect();
        let before = checked.violations.len();
        checked.check(
            CREDITS,
            entries.len() <= 1 && bodies.len() <= 1,
            || format!("credit key {key}: acknowledged as {entries:?} for bodies {bodies:?}"),
            &phones[..1],
        );
        checked.showing(before, &seqs);
    }
    for (entry, (account_id, keys)) in &model.entries {
        checked.check(
            CREDITS,
            keys.len() <= 1,
            || format!("credit entry {entry} of {account_id} acknowledged for several keys {keys:?}"),
            &[],
        );
    }
    for account in run.accounts {
        let Some(journal) = &account.journal else { continue };
        let phone = account.phone.as_str();
        for (entry, (owner, _)) in model.entries.iter().filter(|(_, (owner, _))| *owner == account.id) {
            let listed = journal.credits.get(entry).map_or(0, |(_, _, count)| *count);
            checked.check(
                CREDITS,
                listed == 1,
                || format!("{owner} ({phone}): acknowledged credit entry {entry} is in its journal {listed}×"),
                &[phone],
            );
        }
        for asset in ASSETS {
            let (sure, maybe) =
                model.per_account.get(&(account.id.clone(), asset.to_owned())).copied().unwrap_or_default();
            let journal_total: i64 = journal
                .credits
                .values()
                .filter(|(a, _, _)| a == asset)
                .map(|(_, amount, n)| amount * i64::from(*n))
                .sum();
            checked.check(
                CREDITS,
                (sure..=sure + maybe).contains(&journal_total),
                || {
                    format!(
                        "{} ({phone}): its journal's {asset} credits add up to {}, but the model credited {} (and {} more unanswered)",
                        account.id,
                        show(asset, journal_total),
                        show(asset, sure),
                        show(asset, maybe)
                    )
                },
                &[phone],
            );
        }
    }
    for asset in ASSETS {
        let (sure, maybe) = model.total(asset);
        let issued = run.ledger_before.of(asset).funding - run.ledger_after.of(asset).funding;
        checked.check(
            CREDITS,
            (sure..=sure + maybe).contains(&issued),
            || {
                format!(
                    "the ledger's {asset} funding issued {} during the run, but the model credited {} (and {} more unanswered)",
                    show(asset, issued),
                    show(asset, sure),
                    show(asset, maybe)
                )
            },
            &[],
        );
    }
}

/// The transfer a fact's body asked for: asset (CNY by default) and amount.
fn asked(fact: &TransferFact) -> (String, Option<i64>) {
    let asset = fact.body["asset"].as_str().unwrap_or("CNY").to_owned();
    let amount = amount_of(&asset, &fact.body["amount"]);
    (asset, amount)
}

fn check_transfers(checked: &mut Checked, run: &MoneyRun<'_>) {
    let mut by_key: BTreeMap<(&str, &str), Vec<&TransferFact>> = BTreeMap::new();
    for fact in run.transfers {
        by_key.entry((&fact.phone, &fact.key)).or_default().push(fact);
    }
    // Each acknowledged transfer once, with its sender, recipient and what was asked.
    let mut acknowledged: BTreeMap<&str, (&TransferFact, &SentTransfer, BTreeSet<&str>)> = BTreeMap::new();
    // Per sender: keys whose every answer may have hidden a transfer (none acknowledged, some unanswered).
    let mut maybe_keys: BTreeMap<&str, usize> = BTreeMap::new();
    for ((phone, key), facts) in &by_key {
        let acks: Vec<(&TransferFact, &SentTransfer)> = facts
            .iter()
            .filter_map(|f| if let Sent::Accepted(sent) = &f.outcome { Some((*f, sent)) } else { None })
            .collect();
        let ids: BTreeSet<&str> = acks.iter().map(|(_, s)| s.id.as_str()).collect();
        let bodies: BTreeSet<String> = acks.iter().map(|(f, _)| f.body.to_string()).collect();
        let seqs: Vec<u64> = facts.iter().map(|f| f.seq).collect();
        let before = checked.violations.len();
        checked.check(
            TRANSFERS,
            ids.len() <= 1 && bodies.len() <= 1,
            || format!("{phone}: transfer key {key} acknowledged as {ids:?} for bodies {bodies:?}"),
            &[phone],
        );
        checked.showing(before, &seqs);
        for (fact, sent) in &acks {
            let (asset, amount) = asked(fact);
            let right = sent.asset == asset
                && amount_of(&asset, &Value::String(sent.amount.clone())) == amount
                && fact.to_id.as_ref().is_none_or(|to| *to == sent.to_id);
            let before = checked.violations.len();
            checked.check(
                TRANSFERS,
                right,
                || format!("{phone}: request #{} sent {} and was answered {sent:?}", fact.seq, fact.body),
                &[phone],
            );
            checked.showing(before, &[fact.seq]);
            acknowledged.entry(sent.id.as_str()).or_insert_with(|| (*fact, *sent, BTreeSet::new())).2.insert(key);
        }
        if acks.is_empty() && facts.iter().any(|f| f.outcome == Sent::Unknown) {
            *maybe_keys.entry(phone).or_default() += 1;
        }
    }
    for (id, (fact, sent, keys)) in &acknowledged {
        checked.check(
            TRANSFERS,
            keys.len() == 1,
            || format!("{}: transfer {id} acknowledged for several keys {keys:?}", fact.phone),
            &[&fact.phone],
        );
        check_delivered(checked, run, id, fact, sent);
    }
    for account in run.accounts {
        let phone = account.phone.as_str();
        if let Some(journal) = &account.journal {
            for (id, moves) in &journal.transfer_moves {
                let kinds: Vec<&str> = moves.iter().map(|(kind, _, _)| kind.as_str()).collect();
                let once = ["transfer_out", "transfer_in", "transfer_return"]
                    .iter()
                    .all(|kind| kinds.iter().filter(|k| *k == kind).count() <= 1);
                checked.check(
                    TRANSFERS,
                    once,
                    || {
                        format!(
                            "{} ({phone}): transfer {id} moved its money more than once here: {moves:?}",
                            account.id
                        )
                    },
                    &[phone],
                );
            }
        }
        let Some(listed) = &account.transfers else { continue };
        for (id, transfer) in listed.iter().filter(|(_, t)| t.direction == "sent") {
            checked.check(
                IN_FLIGHT,
                transfer.status != "in_flight",
                || format!("{} ({phone}): transfer {id} is still in_flight after the worker drained", account.id),
                &[phone],
            );
        }
        let unacknowledged =
            listed.iter().filter(|(id, t)| t.direction == "sent" && !acknowledged.contains_key(id.as_str())).count();
        let unanswered = maybe_keys.get(phone).copied().unwrap_or(0);
        checked.check(
            TRANSFERS,
            unacknowledged <= unanswered,
            || format!("{phone}: {unacknowledged} sent transfers were never acknowledged, but only {unanswered} keys got no answer"),
            &[phone],
        );
    }
}

/// An acknowledged transfer left its sender once, and reached its recipient
/// once (completed) or came back once (returned).
fn check_delivered(checked: &mut Checked, run: &MoneyRun<'_>, id: &str, fact: &TransferFact, sent: &SentTransfer) {
    let asset = sent.asset.as_str();
    let amount = amount_of(asset, &Value::String(sent.amount.clone())).unwrap_or(0);
    let fee = amount_of(asset, &Value::String(sent.fee.clone())).unwrap_or(0);
    let recipient = run.account_by_id(&sent.to_id);
    let mut phones = vec![fact.phone.as_str()];
    phones.extend(recipient.map(|r| r.phone.as_str()));
    let Some(sender) = run.account_by_phone(&fact.phone) else { return };
    let listed = sender.transfers.as_ref().and_then(|l| l.get(id));
    let status = listed.map(|l| l.status.as_str());
    checked.check(
        TRANSFERS,
        listed.is_some_and(|l| l.direction == "sent" && l.asset == asset && l.amount == amount),
        || format!("{}: acknowledged transfer {id} ({}) is listed as {listed:?}", fact.phone, show(asset, amount)),
        &phones,
    );
    let moves_of = |account: Option<&AccountMoney>, kind: &str| -> Option<Vec<i64>> {
        let journal = account?.journal.as_ref()?;
        let moves = journal.transfer_moves.get(id).map(Vec::as_slice).unwrap_or_default();
        Some(moves.iter().filter(|(k, a, _)| k == kind && a == asset).map(|(_, _, change)| *change).collect())
    };
    let returned = status == Some("returned");
    let checks = [
        ("the sender's transfer_out", moves_of(Some(sender), "transfer_out"), Some(vec![-(amount + fee)])),
        (
            "the sender's transfer_return",
            moves_of(Some(sender), "transfer_return"),
            Some(if returned { vec![amount + fee] } else { vec![] }),
        ),
        (
            "the recipient's transfer_in",
            moves_of(recipient, "transfer_in"),
            Some(if returned { vec![] } else { vec![amount] }),
        ),
    ];
    for (what, seen, expected) in checks {
        let Some(seen) = seen else { continue };
        checked.check(
            TRANSFERS,
            Some(&seen) == expected.as_ref(),
            || {
                format!(
                    "transfer {id} of {} ({}, {status:?}): {what} is {seen:?}, expected {expected:?}",
                    fact.phone,
                    show(asset, amount)
                )
            },
            &phones,
        );
    }
}

/// What the wallets hold, plus what left through settled withdrawals and
/// transfer fees, plus what is in flight, is what was credited.
fn check_conservation(checked: &mut Checked, run: &MoneyRun<'_>, model: &CreditModel) {
    for asset in ASSETS {
        let (sure, maybe) = model.total(asset);
        let (held_by_wallets, from) = if run.unread == 0 {
            let total = run.accounts.iter().filter_map(|a| a.wallet.as_ref()?.get(asset)).map(|(a, h)| a + h).sum();
            (total, "the wallets".to_owned())
        } else {
            let (before, after) = (run.ledger_before.of(asset), run.ledger_after.of(asset));
            let total = after.user_available + after.user_held - before.user_available - before.user_held;
            (total, format!("the ledger's user totals ({} accounts could not be read)", run.unread))
        };
        let settled_out = if asset == "CNY" {
            run.accounts.iter().map(|a| a.settled_out).sum::<i64>() + run.unread_settled_out
        } else {
            0
        };
        let fees: i64 = run
            .accounts
            .iter()
            .filter_map(|a| a.transfers.as_ref())
            .flat_map(|listed| listed.values())
            .filter(|t| t.direction == "sent" && t.status == "completed" && t.asset == asset)
            .map(|t| t.fee)
            .sum();
        let in_flight = run.ledger_after.of(asset).in_flight;
        let accounted = held_by_wallets + settled_out + fees + in_flight;
        checked.check(
            CONSERVED,
            (sure..=sure + maybe).contains(&accounted),
            || {
                format!(
                    "{asset}: {from} hold {}, settled withdrawals took {}, transfer fees {}, in flight {}: {} in all, but the model credited {} (and {} more unanswered)",
                    show(asset, held_by_wallets),
                    show(asset, settled_out),
                    show(asset, fees),
                    show(asset, in_flight),
                    show(asset, accounted),
                    show(asset, sure),
                    show(asset, maybe)
                )
            },
            &[],
        );
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_journal_summary_keeps_the_wallet_each_withdrawal_row_names() {
        let mut summary = JournalSummary::default();
        let row = |withdrawal: &str, provider: Value| {
            json!({"asset": "CNY", "available_change": "-1.00", "held_change": "1.00", "kind": "withdrawal_hold",
                   "withdrawal_id": withdrawal, "provider": provider})
        };
        summary.add(&row("wd_1", json!("wechat"))).unwrap();
        summary.add(&row("wd_1", json!("wechat"))).unwrap();
        summary.add(&row("wd_2", Value::Null)).unwrap();
        assert_eq!(summary.withdrawal_providers["wd_1"], ["wechat", "wechat"]);
        assert_eq!(summary.withdrawal_providers["wd_2"], ["none"]);
    }

    const ALICE: &str = "13900000001";
    const BOB: &str = "13900000002";

    fn credit(phone: &str, id: &str, key: Option<&str>, asset: &str, amount: &str, outcome: Credited) -> CreditFact {
        CreditFact {
            phone: phone.into(),
            account_id: id.into(),
            key: key.map(str::to_owned),
            asset: asset.into(),
            amount: amount.into(),
            outcome,
            seq: 0,
        }
    }

    fn sent(id: &str, amount: &str, to: &str, replayed: bool) -> Sent {
        Sent::Accepted(SentTransfer {
            id: id.into(),
            asset: "USDT".into(),
            amount: amount.into(),
            fee: "0.000000".into(),
            to_id: to.into(),
            replayed,
        })
    }

    fn transfer(key: &str, amount: &str, outcome: Sent) -> TransferFact {
        TransferFact {
            phone: ALICE.into(),
            key: key.into(),
            body: json!({ "to": BOB, "asset": "USDT", "amount": amount, "memo": "", "pin": "135790" }),
            to_id: Some("acc_bob".into()),
            outcome,
            seq: 0,
        }
    }

    fn journal(items: &[Value]) -> JournalSummary {
        let mut journal = JournalSummary::default();
        for item in items {
            journal.add(item).expect("readable item");
        }
        journal
    }

    fn item(id: &str, kind: &str, asset: &str, change: &str, transfer: Option<&str>) -> Value {
        let zero = if asset == "USDT" { "0.000000" } else { "0.00" };
        json!({ "id": id, "kind": kind, "asset": asset, "available_change": change, "held_change": zero, "transfer_id": transfer })
    }

    fn wallet(cny: i64, usdt: i64) -> Option<BTreeMap<String, (i64, i64)>> {
        Some(BTreeMap::from([("CNY".to_owned(), (cny, 0)), ("USDT".to_owned(), (usdt, 0))]))
    }

    fn listed(direction: &str, status: &str, amount: i64) -> Listed {
        Listed { direction: direction.into(), status: status.into(), asset: "USDT".into(), amount, fee: 0 }
    }

    fn ledger(usdt_funding: i64, usdt_users: i64, in_flight: i64) -> LedgerSeen {
        let usdt =
            AssetTotals { user_available: usdt_users, funding: usdt_funding, in_flight, ..AssetTotals::default() };
        LedgerSeen { assets: BTreeMap::from([("CNY".into(), AssetTotals::default()), ("USDT".into(), usdt)]) }
    }

    /// Alice is credited 10 USDT under one key (sent twice, the second a
    /// replay) and sends Bob 4 USDT (acknowledged, then replayed): the
    /// history as it should be.
    struct History {
        credits: Vec<CreditFact>,
        transfers: Vec<TransferFact>,
        alice: AccountMoney,
        bob: AccountMoney,
        ledger_after: LedgerSeen,
    }

    fn good_history() -> History {
        let credits = vec![
            credit(ALICE, "acc_alice", Some("k1"), "USDT", "10.000000", Credited::Entry("je_1".into())),
            credit(ALICE, "acc_alice", Some("k1"), "USDT", "10.000000", Credited::Entry("je_1".into())),
        ];
        let transfers = vec![
            transfer("t1", "4.000000", sent("tr_1", "4.000000", "acc_bob", false)),
            transfer("t1", "4.000000", sent("tr_1", "4.000000", "acc_bob", true)),
        ];
        let alice = AccountMoney {
            phone: ALICE.into(),
            id: "acc_alice".into(),
            wallet: wallet(0, 6_000_000),
            journal: Some(journal(&[
                item("je_1", "operator_credit", "USDT", "10.000000", None),
                item("je_2", "transfer_out", "USDT", "-4.000000", Some("tr_1")),
            ])),
            transfers: Some(BTreeMap::from([("tr_1".to_owned(), listed("sent", "completed", 4_000_000))])),
            settled_out: 0,
        };
        let bob = AccountMoney {
            phone: BOB.into(),
            id: "acc_bob".into(),
            wallet: wallet(0, 4_000_000),
            journal: Some(journal(&[item("je_3", "transfer_in", "USDT", "4.000000", Some("tr_1"))])),
            transfers: Some(BTreeMap::from([("tr_1".to_owned(), listed("received", "completed", 4_000_000))])),
            settled_out: 0,
        };
        History { credits, transfers, alice, bob, ledger_after: ledger(-10_000_000, 10_000_000, 0) }
    }

    fn violations(history: &History) -> Vec<(&'static str, String)> {
        let accounts = [history.alice.clone(), history.bob.clone()];
        let run = MoneyRun {
            accounts: &accounts,
            unread: 0,
            unread_settled_out: 0,
            credits: &history.credits,
            transfers: &history.transfers,
            negatives: &[],
            ledger_before: &LedgerSeen::default(),
            ledger_after: &history.ledger_after,
        };
        let mut checked = Checked::default();
        check_money(&mut checked, &run);
        checked.violations.into_iter().map(|v| (v.invariant, v.detail)).collect()
    }

    fn broken(history: &History) -> BTreeSet<&'static str> {
        violations(history).into_iter().map(|(invariant, _)| invariant).collect()
    }

    #[test]
    fn a_consistent_history_holds_every_money_invariant() {
        assert_eq!(violations(&good_history()), Vec::new());
    }

    #[test]
    fn a_transfer_credited_twice_to_its_recipient_is_a_violation() {
        let mut history = good_history();
        history.bob.journal = Some(journal(&[
            item("je_3", "transfer_in", "USDT", "4.000000", Some("tr_1")),
            item("je_4", "transfer_in", "USDT", "4.000000", Some("tr_1")),
        ]));
        history.bob.wallet = wallet(0, 8_000_000);
        history.ledger_after = ledger(-10_000_000, 14_000_000, -4_000_000);
        let broken = broken(&history);
        assert!(broken.contains(TRANSFERS), "{broken:?}");
        // The ledger still adds up: the second credit came out of in_flight,
        // which is now below zero.
        assert!(broken.contains(IN_FLIGHT), "{broken:?}");
    }

    #[test]
    fn a_replayed_key_answered_with_another_transfer_is_a_violation() {
        let mut history = good_history();
        history.transfers[1] = transfer("t1", "4.000000", sent("tr_2", "4.000000", "acc_bob", true));
        assert!(broken(&history).contains(TRANSFERS));
    }

    #[test]
    fn a_key_reused_with_another_body_and_accepted_is_a_violation() {
        let mut history = good_history();
        history.transfers[1] = transfer("t1", "4.000001", sent("tr_1", "4.000000", "acc_bob", true));
        assert!(broken(&history).contains(TRANSFERS));
    }

    #[test]
    fn an_acknowledged_transfer_that_never_arrived_is_a_violation() {
        let mut history = good_history();
        history.bob.journal = Some(JournalSummary::default());
        history.bob.wallet = wallet(0, 0);
        history.ledger_after = ledger(-10_000_000, 6_000_000, 4_000_000);
        let broken = broken(&history);
        assert!(broken.contains(TRANSFERS), "{broken:?}");
        assert!(broken.contains(IN_FLIGHT), "{broken:?}");
    }

    #[test]
    fn a_keyed_credit_counted_twice_is_a_violation() {
        let mut history = good_history();
        // The repeat wrote a second entry and moved the money again.
        history.credits[1].outcome = Credited::Entry("je_9".into());
        history.alice.journal = Some(journal(&[
            item("je_1", "operator_credit", "USDT", "10.000000", None),
            item("je_9", "operator_credit", "USDT", "10.000000", None),
            item("je_2", "transfer_out", "USDT", "-4.000000", Some("tr_1")),
        ]));
        history.alice.wallet = wallet(0, 16_000_000);
        history.ledger_after = ledger(-20_000_000, 20_000_000, 0);
        let broken = broken(&history);
        assert!(broken.contains(CREDITS), "{broken:?}");
        assert!(broken.contains(CONSERVED), "{broken:?}");
    }

    #[test]
    fn a_keyed_credit_repeated_silently_is_still_caught_by_the_funding() {
        let mut history = good_history();
        history.ledger_after = ledger(-20_000_000, 10_000_000, 0);
        let found = violations(&history);
        assert!(
            found.iter().any(|(invariant, detail)| *invariant == CREDITS && detail.contains("funding")),
            "{found:?}"
        );
    }

    #[test]
    fn an_unanswered_credit_may_or_may_not_have_landed() {
        let mut history = good_history();
        history.credits.push(credit(BOB, "acc_bob", Some("k2"), "USDT", "1.000000", Credited::Unknown));
        assert_eq!(violations(&history), Vec::new(), "not landed");
        history.bob.journal.as_mut().unwrap().add(&item("je_5", "operator_credit", "USDT", "1.000000", None));
        history.bob.wallet = wallet(0, 5_000_000);
        history.ledger_after = ledger(-11_000_000, 11_000_000, 0);
        assert_eq!(violations(&history), Vec::new(), "landed");
    }

    #[test]
    fn money_that_vanished_breaks_conservation() {
        let mut history = good_history();
        history.alice.wallet = wallet(0, 5_999_999);
        let broken = broken(&history);
        assert!(broken.contains(CONSERVED), "{broken:?}");
        assert!(broken.contains(JOURNAL), "{broken:?}");
    }

    #[test]
    fn a_negative_balance_is_a_violation() {
        let mut history = good_history();
        history.alice.wallet = wallet(-1, 6_000_000);
        history.alice.journal.as_mut().unwrap().add(&item("je_6", "transfer_out", "CNY", "-0.01", Some("tr_x")));
        assert!(broken(&history).contains(NEGATIVE));
    }

    #[test]
    fn a_transfer_left_in_flight_is_a_violation() {
        let mut history = good_history();
        history.alice.transfers = Some(BTreeMap::from([("tr_1".to_owned(), listed("sent", "in_flight", 4_000_000))]));
        assert!(broken(&history).contains(IN_FLIGHT));
    }

    #[test]
    fn a_sent_transfer_nobody_acknowledged_needs_an_unanswered_key() {
        let mut history = good_history();
        let extra = listed("sent", "completed", 1);
        history.alice.transfers.as_mut().unwrap().insert("tr_ghost".into(), extra);
        assert!(broken(&history).contains(TRANSFERS));
        history.transfers.push(transfer("t2", "0.000001", Sent::Unknown));
        assert!(!broken(&history).contains(TRANSFERS));
    }

    #[test]
    fn an_unbalanced_asset_is_a_ledger_violation() {
        let mut history = good_history();
        history.ledger_after.assets.get_mut("USDT").unwrap().sum = 1;
        assert!(broken(&history).contains(LEDGER));
    }
}
