//! Withdrawals as a user asks for them: quotes (priced, promised for a
//! while, reserving nothing) and the wallet overview with what the level's
//! limits and free quota leave; submission is in `withdrawal_submission`,
//! reading them back in `withdrawal_reads`.

use chrono::{DateTime, Utc};
use secrecy::SecretString;

use super::partitions::Partitions;
use super::pin::Pins;
use crate::auth::one_time_codes::keyed_digest;
use crate::domain::account::{Account, AccountId, VerificationLevel};
use crate::domain::binding::{BindingId, DestinationProvider};
use crate::domain::fees::FeePolicy;
use crate::domain::limits::LimitsLeft;
use crate::domain::money::{Amount, Money};
use crate::domain::pin::Pin;
use crate::domain::withdrawal::WithdrawalPlan;
use crate::domain::withdrawal_decision::QuoteTerms;
pub use crate::domain::withdrawal_policy::{LevelRules, WithdrawalPolicy};
use crate::error::ApiError;
use crate::store::typed::TypedEphemeralValues;

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct WithdrawalRequest {
    pub amount: Amount,
    pub binding_id: BindingId,
    pub pin: Pin,
    pub quote_id: Option<String>,
}

/// A priced withdrawal, promised until `expires_at`; it reserves nothing.
#[derive(Debug)]
pub struct Quote {
    pub id: String,
    pub plan: WithdrawalPlan,
    pub expires_at: DateTime<Utc>,
    /// When it is expected to be paid out: after the level's delay, or —
    /// when an operator reviews it first — by the review's promised
    /// decision (a payout follows an approval at once).
    pub expected_settlement_at: DateTime<Utc>,
    /// When an operator reviews it first: by when they decide.
    pub review_decided_by: Option<DateTime<Utc>>,
    /// The fee rule it was priced by (the destination's, at the account's level).
    pub fees: FeePolicy,
}

pub(crate) fn quote_key(id: &str) -> String {
    format!("quote:{id}")
}

/// How long a quote record outlives its promise, so the store reclaims it.
const QUOTE_RECORD_GRACE: std::time::Duration = std::time::Duration::from_secs(3600);

/// The key of the digests that tell requests under one idempotency key apart.
#[derive(Debug, Clone)]
pub struct Fingerprints {
    pub secret: SecretString,
}

impl Fingerprints {
    pub(crate) fn of(&self, request: &WithdrawalRequest) -> String {
        let text = format!(
            "{}|{}|{}|{}",
            request.amount,
            request.binding_id,
            request.pin.expose(),
            request.quote_id.as_deref().unwrap_or("")
        );
        keyed_digest(&self.secret, &["withdrawal_request"], &text)
    }
}

/// The wallet as its owner sees it now.
#[derive(Debug)]
pub struct WalletOverview {
    pub account: Account,
    pub level: VerificationLevel,
    pub limits_left: LimitsLeft,
    /// What each destination's lifetime free quota still leaves, WeChat's first.
    pub fee_free_quotas: Vec<(DestinationProvider, Money)>,
}

/// Quotes, the wallet overview, and submission (`withdrawal_submission`).
#[derive(Debug, Clone)]
pub struct Withdrawals {
    pub partitions: Partitions,
    pub policy: WithdrawalPolicy,
    /// Submissions check the payment PIN.
    pub pins: Pins,
    /// Tells requests under one idempotency key apart.
    pub fingerprints: Fingerprints,
}

impl Withdrawals {
    /// Prices a withdrawal with every check a submission makes except the PIN.
    pub async fn quote_withdrawal(
        &self,
        account_id: &AccountId,
        binding_id: &BindingId,
        amount: Amount,
    ) -> Result<Quote, ApiError> {
        let account = self.partitions.load_account(account_id).await?;
        let now = self.partitions.now();
        let rules = self.policy.rules(account.level_at(now));
        let today = self.policy.local_date(now);
        let plan = account.plan_withdrawal(binding_id, amount, self.policy.plan_rules(rules), today, now)?;
        let (expected_settlement_at, review_decided_by) =
            self.policy.expected_settlement(rules, !plan.review_reasons.is_empty(), now);
        let quote = Quote {
            id: format!("quo_{}", uuid::Uuid::now_v7().simple()),
            expires_at: now + self.policy.quote_ttl,
            expected_settlement_at,
            review_decided_by,
            fees: *rules.fees.of(plan.destination.provider),
            plan,
        };
        let record = QuoteTerms {
            account_id: account_id.clone(),
            binding_id: binding_id.clone(),
            amount: amount.money(),
            fee: quote.plan.fee.fee,
            expires_at: quote.expires_at,
        };
        let keep = self.policy.quote_ttl.to_std().unwrap_or_default() + QUOTE_RECORD_GRACE;
        self.partitions.store.put_ephemeral_as(&quote_key(&quote.id), &record, keep).await?;
        Ok(quote)
    }

    /// Balances, limits and quota of an account's wallet; 404 `wallet` for a
    /// role that has none.
    pub async fn wallet_overview(&self, account_id: &AccountId) -> Result<WalletOverview, ApiError> {
        let account = self.partitions.load_account(account_id).await?;
        if !account.role.has_wallet() {
            return Err(ApiError::NotFound { resource: "wallet" });
        }
        let now = self.partitions.now();
        let level = account.level_at(now);
        let rules = self.policy.rules(level);
        let today = self.policy.local_date(now);
        Ok(WalletOverview {
            limits_left: account.withdrawal_usage.left(&rules.limits, today),
            fee_free_quotas: DestinationProvider::ALL
                .into_iter()
                .map(|provider| (provider, rules.fees.of(provider).quota_left(account.fee_quota_used(provider))))
                .collect(),
            level,
            account,
        })
    }
}
