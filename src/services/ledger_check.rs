//! The whole-ledger audit: recompute every balance from the journal and
//! compare it with the stored balances, then add everything up, per asset.
//! Reports `balanced: true` only if every partition matches its journal,
//! every entry balances in each asset it moves, and the sum over all ledger
//! accounts of every asset is zero.

use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::account::{Account, AccountId};
use crate::domain::asset::{Asset, Quantity};
use crate::domain::ledger::{LedgerAccount, LedgerBalances, LedgerTotals};
use crate::error::ApiError;
use crate::store::SharedStore;

/// Journal entries read per store call while auditing one partition.
const AUDIT_PAGE_ENTRIES: usize = 500;

/// The result of recomputing every balance from the journal.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"balanced": true, "accounts_checked": 4, "entries_checked": 12,
    "totals": {"user_available": "125800.01", "user_held": "300.00", "funding": "-126200.51", "fees": "0.50",
        "wechat_settlement": "100.00", "alipay_settlement": "0.00", "in_flight": "0.00"},
    "sum": "0.00",
    "assets": [
        {"asset": "CNY", "totals": {"user_available": "125800.01", "user_held": "300.00", "funding": "-126200.51",
            "fees": "0.50", "wechat_settlement": "100.00", "alipay_settlement": "0.00", "in_flight": "0.00"}, "sum": "0.00"},
        {"asset": "USDT", "totals": {"user_available": "12.500000", "user_held": "0.000000",
            "funding": "-12.500000", "fees": "0.000000", "wechat_settlement": "0.000000", "alipay_settlement": "0.000000", "in_flight": "0.000000"}, "sum": "0.000000"}],
    "mismatches": []}))]
pub struct LedgerReport {
    #[schema(example = true)]
    pub balanced: bool,
    #[schema(example = 4)]
    pub accounts_checked: usize,
    #[schema(example = 12)]
    pub entries_checked: u64,
    /// Stored CNY balances summed over all partitions, per ledger account
    /// (as in `assets`, kept here for clients that know CNY only).
    pub totals: TotalsView,
    /// The sum over all CNY ledger accounts: must be `0.00`.
    #[schema(example = "0.00")]
    pub sum: String,
    /// Every asset any wallet has held (CNY always), each adding up on its own.
    pub assets: Vec<AssetTotalsView>,
    #[schema(example = json!([]))]
    pub mismatches: Vec<Mismatch>,
}

/// One asset's totals over every partition.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"asset": "USDT", "totals": {"user_available": "12.500000", "user_held": "0.000000",
    "funding": "-12.500000", "fees": "0.000000", "wechat_settlement": "0.000000", "alipay_settlement": "0.000000", "in_flight": "0.000000"}, "sum": "0.000000"}))]
pub struct AssetTotalsView {
    pub asset: Asset,
    pub totals: TotalsView,
    /// The sum over all its ledger accounts: must be zero.
    #[schema(example = "0.000000")]
    pub sum: String,
}

/// One asset's balances summed over every partition, per ledger account, as
/// decimal strings at the asset's scale. A total may be negative (funding
/// issues money) and exceed what one balance can hold.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"user_available": "125800.01", "user_held": "300.00", "funding": "-126200.51",
    "fees": "0.50", "wechat_settlement": "100.00", "alipay_settlement": "0.00", "in_flight": "0.00"}))]
pub struct TotalsView {
    pub user_available: String,
    pub user_held: String,
    pub funding: String,
    pub fees: String,
    pub wechat_settlement: String,
    pub alipay_settlement: String,
    /// Money of transfers sent and neither credited nor returned yet.
    pub in_flight: String,
}

impl TotalsView {
    fn of(totals: &LedgerTotals, asset: Asset) -> TotalsView {
        let total = |account| totals.total(asset, account);
        TotalsView {
            user_available: total(LedgerAccount::UserAvailable),
            user_held: total(LedgerAccount::UserHeld),
            funding: total(LedgerAccount::Funding),
            fees: total(LedgerAccount::Fees),
            wechat_settlement: total(LedgerAccount::WechatSettlement),
            alipay_settlement: total(LedgerAccount::AlipaySettlement),
            in_flight: total(LedgerAccount::InFlight),
        }
    }
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
        let mut totals = LedgerTotals::default();
        let (mut accounts_checked, mut entries_checked, mut mismatches) = (0, 0, Vec::new());
        for id in self.store.account_ids().await? {
            // Accounts listed but gone (a create that lost its login race) have nothing to check.
            let Some(account) = self.store.load_account(&id).await?.map(|v| v.value) else {
                continue;
            };
            accounts_checked += 1;
            let problems = self.audit_partition(&account, &mut entries_checked).await?;
            mismatches.extend(problems.into_iter().map(|problem| Mismatch { account_id: id.clone(), problem }));
            totals.add(&account.ledger).map_err(ApiError::internal)?;
        }
        let mut assets = Vec::new();
        for asset in totals.assets() {
            let sum = totals.sum(asset).map_err(ApiError::internal)?;
            assets.push(AssetTotalsView { asset, totals: TotalsView::of(&totals, asset), sum });
        }
        let all_zero = totals.all_sum_to_zero().map_err(ApiError::internal)?;
        let report = LedgerReport {
            balanced: mismatches.is_empty() && all_zero,
            accounts_checked,
            entries_checked,
            totals: TotalsView::of(&totals, Asset::Cny),
            sum: totals.sum(Asset::Cny).map_err(ApiError::internal)?,
            assets,
            mismatches,
        };
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
                for asset in entry.assets() {
                    let mut net = Quantity::zero(asset);
                    for ledger_account in LedgerAccount::ALL {
                        let change = entry.change_in(asset, ledger_account).map_err(ApiError::internal)?;
                        recomputed.add_change(ledger_account, change).map_err(ApiError::internal)?;
                        net = net.checked_add(change).map_err(ApiError::internal)?;
                    }
                    if !net.is_zero() {
                        problems.push(format!("journal entry {} does not balance in {asset}", entry.id));
                    }
                }
                if entry.legs.is_empty() {
                    problems.push(format!("journal entry {} has no legs", entry.id));
                }
                *entries_checked += 1;
            }
            cursor = page.last().map(|oldest| oldest.seq);
        }
        if expected_seq != 0 {
            problems.push(format!("journal has fewer entries than the record's {}", account.journal_len));
        }
        let assets: std::collections::BTreeSet<Asset> = account.ledger.assets().chain(recomputed.assets()).collect();
        for asset in assets {
            for ledger_account in LedgerAccount::ALL {
                let stored = account.ledger.get_in(asset, ledger_account);
                let derived = recomputed.get_in(asset, ledger_account);
                if stored != derived {
                    problems.push(format!("{ledger_account}: stored {stored} {asset}, journal says {derived}"));
                }
            }
        }
        Ok(problems)
    }
}
