//! The wallet's money: balances, history, and operator top-ups and reversals.
//! Every change is a balanced journal entry committed with the new balances.
//! Only accounts whose role holds money have a wallet (`Role::has_wallet`):
//! an operator's history, top-up or reversal is 404 `wallet`.

use serde_json::json;

use super::audit::{AuditLog, AuditTarget};
use super::partitions::Partitions;
use crate::auth::Principal;
use crate::domain::account::{Account, AccountId, Posting};
use crate::domain::ledger::{EntryKind, JournalEntry, LedgerAccount, leg};
use crate::domain::money::Amount;
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

/// A wallet's journal, and operators' top-ups and reversals.
#[derive(Debug, Clone)]
pub struct Wallet {
    pub partitions: Partitions,
    pub audit: AuditLog,
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

    /// An operator's top-up or reversal of a user's wallet; audited.
    pub async fn adjust_balance(
        &self,
        operator: &AccountId,
        target: &AccountId,
        direction: Adjustment,
        amount: Amount,
        memo: &str,
    ) -> Result<(JournalEntry, Account), ApiError> {
        let action = match direction {
            Adjustment::Credit => "account.credit",
            Adjustment::Debit => "account.debit",
        };
        let audit_target = AuditTarget::new("account", target.as_str(), Some(target));
        let details = json!({ "amount": amount, "memo": memo });
        let adjusted = self.adjust(operator, target, direction, amount, memo).await;
        self.audit.record(operator, action, audit_target, details, &adjusted).await;
        adjusted
    }

    async fn adjust(
        &self,
        operator: &AccountId,
        target: &AccountId,
        direction: Adjustment,
        amount: Amount,
        memo: &str,
    ) -> Result<(JournalEntry, Account), ApiError> {
        let (kind, legs) = match direction {
            Adjustment::Credit => {
                (EntryKind::OperatorCredit, vec![leg(LedgerAccount::Funding, LedgerAccount::UserAvailable, amount)])
            }
            Adjustment::Debit => {
                (EntryKind::OperatorDebit, vec![leg(LedgerAccount::UserAvailable, LedgerAccount::Funding, amount)])
            }
        };
        let (entry, account) = self
            .partitions
            .update_account(target, |account, now| {
                if !account.role.has_wallet() {
                    return Err(no_wallet());
                }
                let posting =
                    Posting { kind, memo: memo.to_owned(), actor: Some(operator.to_string()), legs: legs.clone() };
                let entry = account.post(posting, now)?;
                Ok((entry.clone(), vec![entry]))
            })
            .await?;
        tracing::info!(
            operator = %operator, account_id = %target, ?direction, %amount, entry = %entry.id,
            "operator adjusted a balance"
        );
        Ok((entry, account))
    }
}

fn no_wallet() -> ApiError {
    ApiError::NotFound { resource: "wallet" }
}

/// The caller's wallet, if its role has one (a token's role is its account's, signed).
fn wallet_of(caller: &Principal) -> Result<&AccountId, ApiError> {
    if caller.role.has_wallet() { Ok(&caller.account_id) } else { Err(no_wallet()) }
}
