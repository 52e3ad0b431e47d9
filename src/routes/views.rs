//! Response DTOs shared by several resources.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::account::{Account, AccountId, Role, VerificationLevel};
use crate::domain::asset::{Asset, Quantity};
use crate::domain::binding::DestinationProvider;
use crate::domain::ledger::{EntryKind, JournalEntry, LedgerAccount};
use crate::domain::limits::LimitsLeft;
use crate::domain::money::Money;
use crate::domain::pin::PinPolicy;
use crate::domain::statement::MonthTotals;
use crate::error::ApiError;
use crate::services::withdrawals::WalletOverview;

/// The profile an account sees of itself.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProfileView {
    pub id: AccountId,
    pub role: Role,
    /// Masked, e.g. `138****0001`; null for email logins.
    #[schema(example = "138****0001")]
    pub phone: Option<String>,
    /// Masked, e.g. `o***@walletgate.test`; null for phone logins.
    #[schema(example = json!(null))]
    pub email: Option<String>,
    pub verification_level: VerificationLevel,
    #[schema(example = true)]
    pub pin_set: bool,
    /// While the payment PIN is locked: when it unlocks.
    #[schema(example = json!(null))]
    pub pin_locked_until: Option<DateTime<Utc>>,
    /// Wrong PIN entries left before it locks.
    #[schema(example = 5)]
    pub pin_attempts_remaining: u8,
    /// Whether a PIN reset also asks for the last six characters of the
    /// account's verified ID number (`id_number_last6`).
    #[schema(example = false)]
    pub pin_reset_needs_id_number: bool,
    #[schema(example = false)]
    pub frozen: bool,
    #[schema(example = "2025-04-30T10:00:00Z")]
    pub created_at: DateTime<Utc>,
}

impl ProfileView {
    pub fn of(account: &Account, now: DateTime<Utc>, pin_policy: &PinPolicy) -> ProfileView {
        let (phone, email) = account.login.masked_phone_or_email();
        ProfileView {
            id: account.id.clone(),
            role: account.role,
            phone,
            email,
            verification_level: account.level_at(now),
            pin_set: account.pin.is_some(),
            pin_locked_until: account.pin_locked_until(now),
            pin_attempts_remaining: account.pin_attempts_remaining(pin_policy, now),
            pin_reset_needs_id_number: account.answers_identity(None, now).is_some(),
            frozen: account.frozen,
            created_at: account.created_at,
        }
    }
}

/// An account in brief, as operators find it; the login masked as the app
/// masks it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountSummaryView {
    pub id: AccountId,
    pub role: Role,
    /// Masked, e.g. `138****0001`; null for email logins.
    #[schema(example = "138****0001")]
    pub phone: Option<String>,
    /// Masked, e.g. `o***@walletgate.test`; null for phone logins.
    #[schema(example = json!(null))]
    pub email: Option<String>,
    /// In force now (counting automatic approvals that fell due).
    pub verification_level: VerificationLevel,
    /// The verified real name, masked as a payer sees a payee (`*三丰`);
    /// null until an identity check is approved.
    #[schema(example = "*三丰")]
    pub real_name: Option<String>,
    #[schema(example = false)]
    pub frozen: bool,
    /// The wallet's CNY balances; null for a role without a wallet (operators).
    pub wallet: Option<WalletBalances>,
    /// The balances of every asset (CNY first, as `/v1/wallet`'s `assets`);
    /// empty for a role without a wallet.
    pub assets: Vec<AssetBalanceView>,
    #[schema(example = "2025-04-30T10:00:00Z")]
    pub created_at: DateTime<Utc>,
}

/// A wallet's two balances.
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletBalances {
    /// What the user can spend or withdraw.
    pub available: Money,
    /// Reserved for withdrawals in flight (amount + fee).
    pub held: Money,
}

impl AccountSummaryView {
    pub fn of(account: &Account, now: DateTime<Utc>) -> AccountSummaryView {
        let (phone, email) = account.login.masked_phone_or_email();
        let balances = WalletBalances {
            available: account.ledger.get(LedgerAccount::UserAvailable),
            held: account.ledger.get(LedgerAccount::UserHeld),
        };
        AccountSummaryView {
            id: account.id.clone(),
            role: account.role,
            phone,
            email,
            verification_level: account.level_at(now),
            real_name: account.verified_identity(now).map(|identity| identity.real_name.masked()),
            frozen: account.frozen,
            wallet: account.role.has_wallet().then_some(balances),
            assets: match account.role.has_wallet() {
                true => Asset::ALL.into_iter().map(|asset| AssetBalanceView::of(account, asset)).collect(),
                false => Vec::new(),
            },
            created_at: account.created_at,
        }
    }
}

/// An account's two balances in one asset.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"account_id": "acc_demo_alice", "currency": "CNY", "available": "1000.00", "held": "0.00"}))]
pub struct BalanceView {
    pub account_id: AccountId,
    /// The asset of the two balances: `CNY` at the top of `/v1/wallet`.
    pub currency: Asset,
    /// What the user can spend or withdraw, at the asset's places.
    pub available: String,
    /// Reserved for withdrawals in flight (amount + fee).
    pub held: String,
}

impl BalanceView {
    pub fn of(account_id: AccountId, available: Quantity, held: Quantity) -> BalanceView {
        BalanceView {
            account_id,
            currency: available.asset(),
            available: available.to_string(),
            held: held.to_string(),
        }
    }
}

impl From<&Account> for BalanceView {
    /// The CNY balances.
    fn from(account: &Account) -> BalanceView {
        AssetBalanceView::of(account, Asset::Cny).with_account(account)
    }
}

/// One asset's balances in `/v1/wallet`'s `assets`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"asset": "USDT", "available": "12.345678", "held": "0.000000"}))]
pub struct AssetBalanceView {
    pub asset: Asset,
    /// At the asset's places (CNY 2, USDT 6).
    pub available: String,
    pub held: String,
}

impl AssetBalanceView {
    pub fn of(account: &Account, asset: Asset) -> AssetBalanceView {
        AssetBalanceView {
            asset,
            available: account.ledger.get_in(asset, LedgerAccount::UserAvailable).to_string(),
            held: account.ledger.get_in(asset, LedgerAccount::UserHeld).to_string(),
        }
    }

    fn with_account(self, account: &Account) -> BalanceView {
        BalanceView { account_id: account.id.clone(), currency: self.asset, available: self.available, held: self.held }
    }
}

/// `GET /v1/wallet`: balances, and what the limits and free fee quota leave.
#[derive(Debug, Serialize, ToSchema)]
pub struct WalletView {
    #[serde(flatten)]
    pub balance: BalanceView,
    pub verification_level: VerificationLevel,
    pub limits: LimitsLeft,
    /// What can still be withdrawn to WeChat without a fee (a lifetime
    /// allowance); `fee_free_quotas` has every destination's.
    pub fee_free_quota_remaining: Money,
    /// What each destination's lifetime free quota still leaves (WeChat
    /// ¥1,000 and Alipay ¥20,000 by default, counted apart).
    pub fee_free_quotas: Vec<FeeFreeQuotaView>,
    /// The balances of every asset the wallet can hold (CNY first), zero
    /// where it holds none; the top level repeats CNY's.
    pub assets: Vec<AssetBalanceView>,
}

impl From<&WalletOverview> for WalletView {
    fn from(overview: &WalletOverview) -> WalletView {
        WalletView {
            balance: BalanceView::from(&overview.account),
            verification_level: overview.level,
            limits: overview.limits_left,
            fee_free_quota_remaining: overview
                .fee_free_quotas
                .iter()
                .find(|(provider, _)| *provider == DestinationProvider::Wechat)
                .map_or(Money::ZERO, |(_, remaining)| *remaining),
            fee_free_quotas: overview
                .fee_free_quotas
                .iter()
                .map(|&(provider, remaining)| FeeFreeQuotaView { provider, remaining })
                .collect(),
            assets: Asset::ALL.into_iter().map(|asset| AssetBalanceView::of(&overview.account, asset)).collect(),
        }
    }
}

/// One destination's free fee quota in `/v1/wallet`'s `fee_free_quotas`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"provider": "alipay", "remaining": "19400.00"}))]
pub struct FeeFreeQuotaView {
    pub provider: DestinationProvider,
    /// What can still be withdrawn to this destination without a fee.
    pub remaining: Money,
}

/// One journal entry as its owner sees it: what changed in their wallet.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "je_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "kind": "withdrawal_hold",
    "memo": "withdrawal wd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7 to WeChat 张*丰", "created_at": "2025-05-01T08:30:00Z",
    "asset": "CNY", "available_change": "-2001.00", "held_change": "2001.00",
    "withdrawal_id": "wd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "fee": "1.00", "transfer_id": null
}))]
pub struct MovementView {
    #[schema(example = "je_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")]
    pub id: String,
    pub kind: EntryKind,
    pub memo: String,
    pub created_at: DateTime<Utc>,
    /// The asset this movement moved.
    pub asset: Asset,
    /// Signed change to the available balance at the asset's places, e.g. `"-7.00"`.
    #[schema(example = "-7.00")]
    pub available_change: String,
    /// Signed change to the held balance.
    #[schema(example = "7.00")]
    pub held_change: String,
    /// The withdrawal this movement belongs to (its hold, release or
    /// settlement); null for top-ups and other movements.
    #[schema(example = "wd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")]
    pub withdrawal_id: Option<String>,
    /// The withdrawal's fee within this movement (held by the hold, returned
    /// by a release, charged by the settlement); null when no withdrawal.
    pub fee: Option<Money>,
    /// The wallet the withdrawal goes to (`wechat`, `alipay`); null when no
    /// withdrawal, and on movements recorded before it was kept.
    #[schema(example = "wechat")]
    pub provider: Option<DestinationProvider>,
    /// The transfer this movement belongs to (`transfer_out`, `transfer_in`,
    /// `transfer_return`; see `GET /v1/transfers/{id}`); null otherwise.
    #[schema(example = json!(null))]
    pub transfer_id: Option<String>,
    /// A transfer's other side, masked as it was shown when the transfer was
    /// sent (`*明`); null for other movements (and transfers from before it
    /// was kept).
    #[schema(example = json!(null))]
    pub counterparty: Option<String>,
}

impl TryFrom<&JournalEntry> for MovementView {
    type Error = ApiError;

    /// An entry moves one asset in a user's balances (legs of several would
    /// be shown by the first).
    fn try_from(entry: &JournalEntry) -> Result<MovementView, ApiError> {
        let asset = entry.assets().first().copied().unwrap_or(Asset::Cny);
        let change = |account| -> Result<String, ApiError> {
            Ok(entry.change_in(asset, account).map_err(ApiError::internal)?.to_string())
        };
        Ok(MovementView {
            id: entry.id.clone(),
            kind: entry.kind,
            memo: entry.memo.clone(),
            created_at: entry.created_at,
            asset,
            available_change: change(LedgerAccount::UserAvailable)?,
            held_change: change(LedgerAccount::UserHeld)?,
            withdrawal_id: entry.withdrawal.as_ref().map(|withdrawal| withdrawal.id.clone()),
            fee: entry.withdrawal.as_ref().map(|withdrawal| withdrawal.fee),
            provider: entry.withdrawal.as_ref().and_then(|withdrawal| withdrawal.provider),
            transfer_id: entry.transfer_id.as_ref().map(|id| id.to_string()),
            counterparty: entry.counterparty.clone(),
        })
    }
}

/// A page of the wallet's history, newest first, with the totals of the
/// months it shows.
#[derive(Debug, Serialize, ToSchema)]
pub struct MovementPage {
    pub items: Vec<MovementView>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(example = json!(null))]
    pub next_cursor: Option<String>,
    /// For each month (and asset) of this page's movements, what came into
    /// and went out of the available balance in the whole month, this page
    /// or not; newest month first.
    pub months: Vec<MonthTotalsView>,
    /// The IANA time zone whose calendar the months follow
    /// (`withdrawals.time_zone`).
    #[schema(example = "Asia/Shanghai")]
    pub time_zone: String,
}

/// What came into and went out of the available balance in one month, in one asset.
#[derive(Debug, Serialize, ToSchema)]
pub struct MonthTotalsView {
    /// The calendar month, `YYYY-MM`.
    #[schema(example = "2026-11")]
    pub month: String,
    pub asset: Asset,
    /// The sum of the month's increases (top-ups, transfers received, returns).
    #[schema(example = "100.00")]
    pub incoming: String,
    /// The sum of the month's decreases (withdrawals, transfers sent), as a positive amount.
    #[schema(example = "37.75")]
    pub outgoing: String,
}

impl MonthTotalsView {
    pub fn of(totals: &MonthTotals) -> MonthTotalsView {
        MonthTotalsView {
            month: totals.month.to_string(),
            asset: totals.asset,
            incoming: totals.incoming.to_string(),
            outgoing: totals.outgoing.to_string(),
        }
    }
}
