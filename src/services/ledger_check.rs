//! The whole-ledger audit: recompute every balance from the journal and
//! compare it with the stored balances, then add everything up. Reports
//! `balanced: true` only if every partition matches its journal, every entry
//! balances, and the sum over all ledger accounts is zero.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::account::{Account, AccountId};
use crate::domain::ledger::{LedgerAccount, LedgerBalances, LedgerTotals};
use crate::domain::money::{Money, MoneyTotal};
use crate::error::ApiError;
use crate::store::SharedStore;

/// Journal entries read per store call while auditing one partition.
const AUDIT_PAGE_ENTRIES: usize = 500;

/// The result of recomputing every balance from the journal.
#[derive(Debug, Serialize, ToSchema)]
pub struct LedgerReport {
    #[schema(example = true)]
    pub balanced: bool,
    #[schema(example = 4)]
    pub accounts_checked: usize,
    #[schema(example = 12)]
    pub entries_checked: u64,
    /// Stored balances summed over all partitions, per ledger account.
    pub totals: LedgerTotals,
    /// The sum over all ledger accounts: must be 0.00.
    pub sum: MoneyTotal,
    #[schema(example = json!([]))]
    pub mismatches: Vec<Mismatch>,
}

/// A partition whose stored balances or entries do not add up.
#[derive(Debug, Serialize, ToSchema)]
pub struct Mismatch {
    pub account_id: AccountId,
    #[schema(example = "user_held: stored 101.00, journal says 0.00")]
    pub problem: String,
}

/// The ledger check over every account partition.
#[derive(Debug, Clone)]
pub struct LedgerCheck {
    pub store: SharedStore,
}

impl LedgerCheck {
    pub async fn check_ledger(&self) -> Result<LedgerReport, ApiError> {
        let mut report = LedgerReport {
            balanced: true,
            accounts_checked: 0,
            entries_checked: 0,
            totals: LedgerTotals::default(),
            sum: MoneyTotal::ZERO,
            mismatches: Vec::new(),
        };
        for id in self.store.account_ids().await? {
            // Accounts listed but gone (a create that lost its login race) have nothing to check.
            let Some(account) = self.store.load_account(&id).await?.map(|v| v.value) else {
                continue;
            };
            report.accounts_checked += 1;
            let problems = self.audit_partition(&account, &mut report.entries_checked).await?;
            report.mismatches.extend(problems.into_iter().map(|problem| Mismatch { account_id: id.clone(), problem }));
            report.totals.add(&account.ledger).map_err(ApiError::internal)?;
        }
        report.sum = report.totals.sum().map_err(ApiError::internal)?;
        report.balanced = report.mismatches.is_empty() && report.sum.is_zero();
        if !report.balanced {
            tracing::error!(mismatches = report.mismatches.len(), sum = %report.sum, "ledger check found problems");
        }
        Ok(report)
    }

    /// Recomputes one partition from the first `journal_len` entries: the
    /// journal is append-only and committed together with the record, so
    /// those are exactly the entries the loaded record reflects, even while
    /// new ones are being appended.
    async fn audit_partition(&self, account: &Account, entries_checked: &mut u64) -> Result<Vec<String>, ApiError> {
        let mut recomputed = LedgerBalances::default();
        let mut problems = Vec::new();
        let mut expected_seq = account.journal_len;
        let mut cursor = Some(account.journal_len);
        while let Some(before) = cursor.filter(|&before| before > 0) {
            let page = self.store.journal(&account.id, Some(before), AUDIT_PAGE_ENTRIES).await?;
            if page.is_empty() {
                break;
            }
            for entry in &page {
                expected_seq -= 1;
                if entry.seq != expected_seq {
                    problems.push(format!("journal entry {} has seq {}, expected {expected_seq}", entry.id, entry.seq));
                }
                let mut net = Money::ZERO;
                for ledger_account in LedgerAccount::ALL {
                    let change = entry.change_to(ledger_account).map_err(ApiError::internal)?;
                    add_to(&mut recomputed, ledger_account, change)?;
                    net = net.checked_add(change).map_err(ApiError::internal)?;
                }
                if !net.is_zero() || entry.legs.is_empty() {
                    problems.push(format!("journal entry {} does not balance", entry.id));
                }
                *entries_checked += 1;
            }
            cursor = page.last().map(|oldest| oldest.seq);
        }
        if expected_seq != 0 {
            problems.push(format!("journal has fewer entries than the record's {}", account.journal_len));
        }
        for ledger_account in LedgerAccount::ALL {
            let (stored, derived) = (account.ledger.get(ledger_account), recomputed.get(ledger_account));
            if stored != derived {
                problems.push(format!("{ledger_account}: stored {stored}, journal says {derived}"));
            }
        }
        Ok(problems)
    }
}

fn add_to(balances: &mut LedgerBalances, account: LedgerAccount, change: Money) -> Result<(), ApiError> {
    balances.add_change(account, change).map_err(ApiError::internal)
}
