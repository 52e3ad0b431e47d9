//! Withdrawal rules as configured: limits and fees per verification level,
//! and the time zone whose calendar days and months the caps count in.
//! The wallet screen's "limits left" and "free quota left" come from here.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use rust_decimal::Decimal;

use super::Services;
use serde::{Deserialize, Serialize};

use crate::domain::account::{Account, AccountId, VerificationLevel};
use crate::domain::binding::BindingId;
use crate::domain::fees::FeePolicy;
use crate::domain::limits::{LevelLimits, LimitsLeft};
use crate::domain::money::{Amount, Money};
use crate::domain::withdrawal::{PlanRules, ReviewPolicy, WithdrawalPlan};
use crate::error::ApiError;
use crate::settings::{LevelSettings, WithdrawalSettings};

/// The rules of one verification level.
#[derive(Debug, Clone, Copy)]
pub struct LevelRules {
    pub limits: LevelLimits,
    pub fees: FeePolicy,
    /// How long an automatically reviewed withdrawal waits before payout.
    pub auto_review_delay: chrono::Duration,
}

#[derive(Debug, Clone)]
pub struct WithdrawalPolicy {
    pub time_zone: Tz,
    pub quote_ttl: chrono::Duration,
    pub review: ReviewPolicy,
    /// Manual reviews older than this are rejected by the worker.
    pub manual_review_timeout: Option<chrono::Duration>,
    pub idempotency_ttl: chrono::Duration,
    levels: [LevelRules; 3],
}

/// A priced withdrawal, promised until `expires_at`; it reserves nothing.
#[derive(Debug)]
pub struct Quote {
    pub id: String,
    pub plan: WithdrawalPlan,
    pub expires_at: DateTime<Utc>,
    /// `None` when an operator must review it first.
    pub expected_settlement_at: Option<DateTime<Utc>>,
}

/// What a submission checks a quote against.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct QuoteRecord {
    pub account_id: AccountId,
    pub binding_id: BindingId,
    pub amount: Money,
    pub fee: Money,
    pub expires_at: DateTime<Utc>,
}

pub(crate) fn quote_key(id: &str) -> String {
    format!("quote:{id}")
}

/// How long a quote record outlives its promise, so the store reclaims it.
const QUOTE_RECORD_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

/// The wallet as its owner sees it now.
#[derive(Debug)]
pub struct WalletOverview {
    pub account: Account,
    pub level: VerificationLevel,
    pub limits_left: LimitsLeft,
    pub fee_free_quota_remaining: Money,
}

impl WithdrawalPolicy {
    pub fn from_settings(settings: &WithdrawalSettings) -> Result<WithdrawalPolicy, String> {
        let time_zone: Tz = settings
            .time_zone
            .parse()
            .map_err(|_| format!("withdrawals.time_zone {:?} is not an IANA time zone", settings.time_zone))?;
        let delay = settings.auto_review_delay_secs;
        let levels = [
            level_rules("l0", &settings.levels.l0, delay)?,
            level_rules("l1", &settings.levels.l1, delay)?,
            level_rules("l2", &settings.levels.l2, delay)?,
        ];
        let quote_ttl = chrono::Duration::seconds(settings.quote_ttl_secs as i64);
        let manual_over = settings.manual_review_over.parse::<Money>().map_err(|_| {
            format!(
                "withdrawals.manual_review_over must be an amount like \"5000.00\", got {:?}",
                settings.manual_review_over
            )
        })?;
        let manual_review_timeout = (settings.manual_review_timeout_secs > 0)
            .then(|| chrono::Duration::seconds(settings.manual_review_timeout_secs as i64));
        let idempotency_ttl = chrono::Duration::seconds(settings.idempotency_ttl_secs as i64);
        Ok(WithdrawalPolicy {
            time_zone,
            quote_ttl,
            review: ReviewPolicy {
                manual_over,
                after_pin_change: chrono::Duration::seconds(
                    settings.review_after_pin_change_secs.min(u32::MAX as u64) as i64
                ),
            },
            manual_review_timeout,
            idempotency_ttl,
            levels,
        })
    }

    pub fn rules(&self, level: VerificationLevel) -> &LevelRules {
        match level {
            VerificationLevel::L0 => &self.levels[0],
            VerificationLevel::L1 => &self.levels[1],
            VerificationLevel::L2 => &self.levels[2],
        }
    }

    /// A level's rules as the domain plans with them.
    pub fn plan_rules<'a>(&'a self, level: &'a LevelRules) -> PlanRules<'a> {
        PlanRules { limits: &level.limits, fees: &level.fees, review: &self.review }
    }

    /// The calendar date at `now` in the configured zone.
    pub fn local_date(&self, now: DateTime<Utc>) -> NaiveDate {
        now.with_timezone(&self.time_zone).date_naive()
    }
}

fn level_rules(name: &str, level: &LevelSettings, default_delay_secs: u64) -> Result<LevelRules, String> {
    let money = |key: &str, text: &str| {
        text.parse::<Money>()
            .ok()
            .filter(|m| !m.is_negative())
            .ok_or_else(|| format!("withdrawals.levels.{name}.{key} must be an amount like \"1000.00\", got {text:?}"))
    };
    let rate: Decimal =
        level.fee_rate.parse().ok().filter(|rate: &Decimal| (Decimal::ZERO..Decimal::ONE).contains(rate)).ok_or_else(
            || format!("withdrawals.levels.{name}.fee_rate must be a decimal in [0, 1), got {:?}", level.fee_rate),
        )?;
    let limits = LevelLimits {
        withdrawals_allowed: level.withdrawals_allowed,
        amount_min: money("amount_min", &level.amount_min)?,
        per_transaction_max: money("per_transaction_max", &level.per_transaction_max)?,
        daily_amount_max: money("daily_amount_max", &level.daily_amount_max)?,
        monthly_amount_max: money("monthly_amount_max", &level.monthly_amount_max)?,
        daily_count_max: level.daily_count_max,
    };
    if limits.amount_min > limits.per_transaction_max {
        return Err(format!("withdrawals.levels.{name}: amount_min is above per_transaction_max"));
    }
    let fees = FeePolicy {
        free_quota: money("free_quota", &level.free_quota)?,
        rate,
        min_fee: money("min_fee", &level.min_fee)?,
    };
    let delay_secs = level.auto_review_delay_secs.unwrap_or(default_delay_secs);
    let auto_review_delay = i64::try_from(delay_secs)
        .ok()
        .and_then(chrono::Duration::try_seconds)
        .ok_or_else(|| format!("withdrawals.levels.{name}.auto_review_delay_secs is too large"))?;
    Ok(LevelRules { limits, fees, auto_review_delay })
}

impl Services {
    /// Prices a withdrawal with every check a submission makes except the PIN.
    pub async fn quote_withdrawal(
        &self,
        account_id: &AccountId,
        binding_id: &BindingId,
        amount: Amount,
    ) -> Result<Quote, ApiError> {
        let account = self.load_account(account_id).await?;
        let now = self.now();
        let rules = self.withdrawals.rules(account.level_at(now));
        let today = self.withdrawals.local_date(now);
        let plan = account.plan_withdrawal(binding_id, amount, self.withdrawals.plan_rules(rules), today, now)?;
        let quote = Quote {
            id: format!("quo_{}", uuid::Uuid::now_v7().simple()),
            expires_at: now + self.withdrawals.quote_ttl,
            expected_settlement_at: plan.review_reasons.is_empty().then(|| now + rules.auto_review_delay),
            plan,
        };
        let record = QuoteRecord {
            account_id: account_id.clone(),
            binding_id: binding_id.clone(),
            amount: amount.money(),
            fee: quote.plan.fee.fee,
            expires_at: quote.expires_at,
        };
        let text = serde_json::to_string(&record).map_err(ApiError::internal)?;
        let keep = self.withdrawals.quote_ttl.to_std().unwrap_or_default() + QUOTE_RECORD_GRACE;
        self.store.put_ephemeral(&quote_key(&quote.id), &text, keep).await?;
        Ok(quote)
    }

    pub async fn wallet_overview(&self, account_id: &AccountId) -> Result<WalletOverview, ApiError> {
        let account = self.load_account(account_id).await?;
        let now = self.now();
        let level = account.level_at(now);
        let rules = self.withdrawals.rules(level);
        let today = self.withdrawals.local_date(now);
        Ok(WalletOverview {
            limits_left: account.withdrawal_usage.left(&rules.limits, today),
            fee_free_quota_remaining: rules.fees.quota_left(account.fee_quota_used),
            level,
            account,
        })
    }
}
