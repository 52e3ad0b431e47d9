//! The wallet's money: balances, history, and operator top-ups and reversals.
//! Every change is a balanced journal entry committed with the new balances.
//! Operators adjust any asset (CNY, USDT), one asset per adjustment.
//! An adjustment sent with an `Idempotency-Key` happens once per key
//! (`idempotency`): a repeat gets the first one's entry and balances.
//! Only accounts whose role holds money have a wallet (`Role::has_wallet`):
//! an operator's history, top-up or reversal is 404 `wallet`.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::audit::{AuditLog, AuditTarget};
use super::idempotency::{Once, Replayed, fingerprint, reply_document};
use super::partitions::Partitions;
use crate::auth::Principal;
use crate::domain::account::{Account, AccountId, Posting};
use crate::domain::asset::Quantity;
use crate::domain::ledger::{EntryKind, JournalEntry, LedgerAccount, leg_of};
use crate::domain::statement::{Month, MonthTotals, month_totals};
use crate::domain::withdrawal_decision::IdempotencyKey;
use crate::error::ApiError;

/// Journal entries read per store call when looking one up by id.
const ENTRY_SCAN_PAGE: usize = 200;

/// Which way an operator moves demo money.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adjustment {
    /// From the funding account into the user's available balance.
    Credit,
    /// From the user's available balance back to the funding account.
    Debit,
}

/// An operator's adjustment as it landed: the entry, and the balances of
/// its asset after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adjusted {
    pub entry: JournalEntry,
    pub available: Quantity,
    pub held: Quantity,
}

/// One operator adjustment, as asked.
#[derive(Debug, Clone, Copy)]
pub struct AdjustmentAsk<'a> {
    pub direction: Adjustment,
    /// Positive, of any asset.
    pub amount: Quantity,
    pub memo: &'a str,
    /// When sent, the adjustment happens once per key of this operator.
    pub key: Option<&'a IdempotencyKey>,
}

/// A wallet's journal, and operators' top-ups and reversals.
#[derive(Debug, Clone)]
pub struct Wallet {
    pub partitions: Partitions,
    pub audit: AuditLog,
    /// How long an adjustment's key keeps its outcome.
    pub idempotency_ttl: chrono::Duration,
    /// Whose calendar the statement's months follow (`withdrawals.time_zone`).
    pub time_zone: chrono_tz::Tz,
}

impl Wallet {
    /// Up to `limit` entries of the caller's wallet before position `before`
    /// (or from the newest), newest first.
    pub async fn journal(
        &self,
        caller: &Principal,
        before: Option<u64>,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, ApiError> {
        let id = wallet_of(caller)?;
        Ok(self.partitions.store.journal(id, before, limit).await?)
    }

    /// What came into and went out of the caller's available balance in
    /// each of `months`, per asset (`domain::statement`). The journal is read
    /// newest first until it is older than the oldest of them: a scan of one
    /// partition's journal, bounded by its length and fine at simulator
    /// scale, as `find_journal_entry`'s.
    pub async fn month_totals(&self, caller: &Principal, months: &[Month]) -> Result<Vec<MonthTotals>, ApiError> {
        let id = wallet_of(caller)?;
        let Some(oldest) = months.iter().min().copied() else {
            return Ok(Vec::new());
        };
        let mut entries = Vec::new();
        let mut before = None;
        loop {
            let page = self.partitions.store.journal(id, before, ENTRY_SCAN_PAGE).await?;
            let last = page.last().map(|entry| (entry.seq, Month::of(entry.created_at, self.time_zone)));
            entries.extend(page);
            match last {
                Some((seq, month)) if seq > 0 && month >= oldest => before = Some(seq),
                _ => break,
            }
        }
        month_totals(&entries, months, self.time_zone).map_err(ApiError::internal)
    }

    /// One entry of the caller's own journal; any other id, including one
    /// from another account's journal, is simply not found.
    pub async fn find_journal_entry(&self, caller: &Principal, entry_id: &str) -> Result<JournalEntry, ApiError> {
        let id = wallet_of(caller)?;
        let not_found = || ApiError::NotFound { resource: "transaction" };
        if !JournalEntry::is_well_formed_id(entry_id) {
            return Err(not_found());
        }
        // Newest first, since detail views are mostly opened from recent
        // history. Entries are not indexed by id; a scan of one partition's
        // journal is bounded by its length and fine at simulator scale.
        let mut before = None;
        loop {
            let page = self.partitions.store.journal(id, before, ENTRY_SCAN_PAGE).await?;
            if let Some(entry) = page.iter().find(|entry| entry.id == entry_id) {
                return Ok(entry.clone());
            }
            match page.last() {
                Some(oldest) if oldest.seq > 0 => before = Some(oldest.seq),
                _ => return Err(not_found()),
            }
        }
    }

    /// An operator's top-up or reversal of a user's wallet; audited. A
    /// repeat under the same key answers with the first outcome, changes
    /// nothing and is not audited again.
    pub async fn adjust_balance(
        &self,
        operator: &AccountId,
        target: &AccountId,
        ask: AdjustmentAsk<'_>,
    ) -> Result<(Adjusted, Replayed), ApiError> {
        let action = match ask.direction {
            Adjustment::Credit => "account.credit",
            Adjustment::Debit => "account.debit",
        };
        let adjusted = self.adjust(operator, target, ask, action).await;
        if !matches!(adjusted, Ok((_, Replayed::Saved))) {
            let audit_target = AuditTarget::new("account", target.as_str(), Some(target));
            let details = json!({ "asset": ask.amount.asset(), "amount": ask.amount.to_string(), "memo": ask.memo });
            self.audit.record(operator, action, audit_target, details, &adjusted).await;
        }
        adjusted
    }

    async fn adjust(
        &self,
        operator: &AccountId,
        target: &AccountId,
        ask: AdjustmentAsk<'_>,
        action: &str,
    ) -> Result<(Adjusted, Replayed), ApiError> {
        let (kind, from, to) = match ask.direction {
            Adjustment::Credit => (EntryKind::OperatorCredit, LedgerAccount::Funding, LedgerAccount::UserAvailable),
            Adjustment::Debit => (EntryKind::OperatorDebit, LedgerAccount::UserAvailable, LedgerAccount::Funding),
        };
        let legs = vec![leg_of(from, to, ask.amount)?];
        let change = |account: &mut Account, now| {
            if !account.role.has_wallet() {
                return Err(no_wallet());
            }
            let posting =
                Posting { kind, memo: ask.memo.to_owned(), actor: Some(operator.to_string()), legs: legs.clone() };
            let entry = account.post(posting, now)?.clone();
            let asset = ask.amount.asset();
            let adjusted = Adjusted {
                entry: entry.clone(),
                available: account.ledger.get_in(asset, LedgerAccount::UserAvailable),
                held: account.ledger.get_in(asset, LedgerAccount::UserHeld),
            };
            Ok((adjusted, vec![entry]))
        };
        let (adjusted, replayed) = match ask.key {
            Some(key) => {
                let once = Once {
                    document: reply_document(Some(&format!("ops:{operator}")), key),
                    fingerprint: fingerprint(&[
                        action,
                        target.as_str(),
                        ask.amount.asset().code(),
                        &ask.amount.to_string(),
                        ask.memo,
                    ]),
                    ttl: self.idempotency_ttl,
                };
                self.partitions.update_account_once(target, &once, change).await?
            }
            None => (self.partitions.update_account(target, change).await?.0, Replayed::Fresh),
        };
        if replayed == Replayed::Fresh {
            tracing::info!(
                operator = %operator, account_id = %target, direction = ?ask.direction, asset = %ask.amount.asset(),
                amount = %ask.amount,
                entry = %adjusted.entry.id, "operator adjusted a balance"
            );
        }
        Ok((adjusted, replayed))
    }
}

fn no_wallet() -> ApiError {
    ApiError::NotFound { resource: "wallet" }
}

/// The caller's wallet, if its role has one (a token's role is its account's, signed).
fn wallet_of(caller: &Principal) -> Result<&AccountId, ApiError> {
    if caller.role.has_wallet() { Ok(&caller.account_id) } else { Err(no_wallet()) }
}
