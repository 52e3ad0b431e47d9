//! Use cases, one module each: load state, apply domain rules, commit
//! atomically through the store. Handlers and the background worker call these.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

use crate::auth::password::PasswordHashing;
use crate::auth::{Principal, TokenIssuer, admit, session_ended};
use crate::clock::SharedClock;
use crate::domain::account::{Account, AccountId};
use crate::domain::ledger::JournalEntry;
use crate::domain::login_guard::LoginPolicy;
use crate::domain::pin::PinPolicy;
use crate::error::ApiError;
use crate::rate_limit::RateLimits;
use crate::store::{AccountCommit, CommitOutcome, SharedStore};
use notifications::Event;

pub mod accounts;
pub mod audit;
pub mod bindings;
pub mod fixtures;
pub mod kyc;
pub mod ledger_check;
pub mod notifications;
pub mod pin;
pub mod review;
pub mod seed;
pub mod settlement;
pub mod sms;
pub mod wallet;
pub mod withdrawal_submission;
pub mod withdrawals;
pub mod work;
pub mod writers;

/// Upper bound of the random pause between two commit attempts grows with
/// the attempt number, up to this many microseconds.
const COMMIT_BACKOFF_MICROS_MAX: u64 = 8_000;
const COMMIT_BACKOFF_MICROS_STEP: u64 = 400;

/// What every use case needs; cheap to clone (all shared).
#[derive(Debug, Clone)]
pub struct Services {
    pub store: SharedStore,
    pub clock: SharedClock,
    pub tokens: Arc<TokenIssuer>,
    /// Registration and login hashing, bounded (see `auth::password`).
    pub passwords: PasswordHashing,
    pub rate_limits: Arc<RateLimits>,
    pub commit_attempts_max: u32,
    pub bindings: bindings::BindingPolicy,
    pub sms: sms::SmsPolicy,
    pub pin_policy: PinPolicy,
    /// Failed logins and the login lock (see `domain::login_guard`).
    pub login_policy: LoginPolicy,
    pub kyc: kyc::KycPolicy,
    pub withdrawals: withdrawals::WithdrawalPolicy,
    pub settlement: work::SettlementPolicy,
    /// Outgoing webhooks, when a URL is configured.
    pub webhooks: Option<notifications::WebhookPolicy>,
    /// Each account's writers take turns within this process.
    pub writers: Arc<writers::AccountWriters>,
}

impl Services {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub async fn load_account(&self, id: &AccountId) -> Result<Account, ApiError> {
        let found = self.store.load_account(id).await?;
        found.map(|versioned| versioned.value).ok_or(ApiError::NotFound { resource: "account" })
    }

    /// The account a token's holder acts on, if the token still may (see `auth::admit`);
    /// 401 when the account does not exist.
    pub async fn load_account_as(&self, caller: &Principal) -> Result<Account, ApiError> {
        let found = self.store.load_account(&caller.account_id).await?;
        let account = found.ok_or_else(session_ended)?.value;
        admit(caller, &account)?;
        Ok(account)
    }

    /// As `update_account_notifying`, on behalf of a token's holder: refused
    /// (401) when the account does not exist or has revoked the token, checked
    /// on the very version the change is decided on.
    pub async fn update_account_as<T>(
        &self,
        caller: &Principal,
        mut change: impl FnMut(&mut Account, DateTime<Utc>) -> Result<(T, Vec<JournalEntry>, Vec<Event>), ApiError>,
    ) -> Result<(T, Account), ApiError> {
        let updated = self
            .update_account_notifying(&caller.account_id, |account, now| {
                admit(caller, account)?;
                change(account, now)
            })
            .await;
        match updated {
            Err(ApiError::NotFound { resource: "account" }) => Err(session_ended()),
            other => other,
        }
    }

    /// Runs `change` on the latest state of an account and commits its result
    /// with compare-and-set, retrying on conflict. `change` must be a pure
    /// decision over the state it is given, since it may run several times;
    /// it returns a value for the caller and the journal entries to append.
    pub async fn update_account<T>(
        &self,
        id: &AccountId,
        mut change: impl FnMut(&mut Account, DateTime<Utc>) -> Result<(T, Vec<JournalEntry>), ApiError>,
    ) -> Result<(T, Account), ApiError> {
        self.update_account_notifying(id, |account, now| {
            let (output, entries) = change(account, now)?;
            Ok((output, entries, Vec::new()))
        })
        .await
    }

    /// As `update_account`, with the events that announce the change,
    /// committed together with it.
    pub async fn update_account_notifying<T>(
        &self,
        id: &AccountId,
        mut change: impl FnMut(&mut Account, DateTime<Utc>) -> Result<(T, Vec<JournalEntry>, Vec<Event>), ApiError>,
    ) -> Result<(T, Account), ApiError> {
        let _turn = self.writers.turn(id).await;
        for attempt in 0..self.commit_attempts_max {
            let current = self.store.load_account(id).await?.ok_or(ApiError::NotFound { resource: "account" })?;
            let mut account = current.value.clone();
            let (output, new_entries, events) = change(&mut account, self.now())?;
            if new_entries.is_empty() && events.is_empty() && account == current.value {
                // Nothing to write (a refusal decided on this version, say):
                // no commit, so pure reads never contend with real changes.
                return Ok((output, account));
            }
            let outbox = self.outbox(id, &events)?;
            let commit = AccountCommit {
                documents_put: &outbox.documents,
                events: &outbox.events,
                scheduled: &outbox.scheduled,
                ..AccountCommit::new(current.version, &account, &new_entries)
            };
            match self.store.commit_account(commit).await? {
                CommitOutcome::Committed => return Ok((output, account)),
                CommitOutcome::VersionConflict => pause_before_retry(attempt).await,
            }
        }
        tracing::warn!(account_id = %id, attempts = self.commit_attempts_max, "gave up on a contended account");
        Err(ApiError::StoreBusy)
    }
}

/// Random, growing pauses spread competing writers apart so that each round
/// of conflicts lets one of them through instead of all colliding again.
pub(crate) async fn pause_before_retry(attempt: u32) {
    let ceiling = (u64::from(attempt) + 1).saturating_mul(COMMIT_BACKOFF_MICROS_STEP).min(COMMIT_BACKOFF_MICROS_MAX);
    let micros = rand::rng().random_range(0..=ceiling);
    tokio::time::sleep(Duration::from_micros(micros)).await;
}
