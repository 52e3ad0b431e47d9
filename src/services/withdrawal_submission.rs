//! Submitting a withdrawal: PIN, plan and hold in one compare-and-set commit
//! of the account partition, together with the withdrawal record and the
//! idempotency record of the reply.
//!
//! Idempotency works like Stripe's: the reply to a key (success or business
//! refusal) is saved with the change it describes, in the same commit. A
//! repeat with the same key and request gets the saved reply; with another
//! request, 409 `IDEMPOTENCY_KEY_REUSED`. Concurrent duplicates cannot both
//! commit (the version check lets one through); the other re-reads and finds
//! the saved reply. Keys are per account and live `idempotency_ttl`; their
//! records are expiring partition documents, which the store reclaims.

use actix_web::ResponseError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::value::{RawValue, to_raw_value};

use super::keys::{MANUAL_REVIEW_SCHEDULE, PAYOUT_SCHEDULE, review_member, withdrawal_document, withdrawal_index_key};
use super::notifications::{Event, EventType, Outbox};
use super::withdrawals::{QuoteRecord, Withdrawals, quote_key};
use crate::auth::{Principal, admit, session_ended};
use crate::domain::account::{Account, AccountId, VerificationLevel};
use crate::domain::binding::BindingId;
use crate::domain::ledger::JournalEntry;
use crate::domain::money::Amount;
use crate::domain::pin::Pin;
use crate::domain::withdrawal::{Withdrawal, WithdrawalStatus};
use crate::error::ApiError;
use crate::store::{AccountCommit, CommitOutcome, ScheduleEntry, SharedStore};

/// What the user asked for.
#[derive(Debug, Clone)]
pub struct WithdrawalRequest {
    pub amount: Amount,
    pub binding_id: BindingId,
    pub pin: Pin,
    pub quote_id: Option<String>,
}

/// The answer to a submission, fresh or replayed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedReply {
    pub status: u16,
    /// The JSON body, kept as text: saved and replayed as it was sent.
    pub body: Box<RawValue>,
    #[serde(skip)]
    pub replayed: bool,
}

#[derive(Debug, Serialize, Deserialize)]
struct IdempotencyRecord {
    /// Keyed digest of the request (PIN included), never the request itself.
    fingerprint: String,
    reply: SavedReply,
    created_at: DateTime<Utc>,
}

/// Whether `text` could be a withdrawal id (`wd_` and a short run of word characters).
pub fn is_withdrawal_id(text: &str) -> bool {
    text.starts_with("wd_")
        && text.len() > 3
        && text.len() <= 64
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn idempotency_document(key: &str) -> String {
    format!("idempotency:{key}")
}

impl Withdrawals {
    /// Submits (or replays) a withdrawal; `view` turns the new withdrawal into the reply body.
    pub async fn submit_withdrawal(
        &self,
        caller: &Principal,
        idempotency_key: &str,
        fingerprint: &str,
        request: WithdrawalRequest,
        view: impl Fn(&Withdrawal) -> Result<Box<RawValue>, ApiError>,
    ) -> Result<SavedReply, ApiError> {
        let account_id = &caller.account_id;
        let quote = self.load_quote(request.quote_id.as_deref()).await?;
        let document = idempotency_document(idempotency_key);
        // One id for every attempt of this request.
        let withdrawal_id = format!("wd_{}", uuid::Uuid::now_v7().simple());
        let reply_kept_for = self.policy.idempotency_ttl.to_std().unwrap_or_default();
        let _turn = self.partitions.writers.turn(account_id).await;
        let mut rounds = self.partitions.rounds();
        while rounds.next().await {
            let (current, mut found) =
                self.partitions.store.load_account_with(account_id, &[&document]).await?.ok_or_else(session_ended)?;
            admit(caller, &current.value)?;
            let now = self.partitions.now();
            if let Some(saved) = self.saved_reply(found.pop().flatten(), fingerprint, now)? {
                return Ok(saved);
            }
            let version = current.version;
            let mut account = current.value;
            let (reply, change) =
                self.decide_withdrawal(&mut account, &request, &withdrawal_id, quote.as_ref(), now, &view)?;
            let record =
                IdempotencyRecord { fingerprint: fingerprint.to_owned(), reply: reply.clone(), created_at: now };
            let saved_reply = [(document.clone(), serde_json::to_string(&record).map_err(ApiError::internal)?)];
            let mut puts = Vec::new();
            let mut entries = Vec::new();
            let mut outbox = Outbox::default();
            let mut indexed = Vec::new();
            if let Some((withdrawal, entry)) = change {
                let created = Event::withdrawal(EventType::WithdrawalCreated, account_id, &withdrawal, now);
                outbox = super::notifications::outbox(self.partitions.webhooks_on, account_id, &[created])?;
                outbox.scheduled.push(self.review_entry(account_id, &withdrawal, account.level_at(now), now));
                indexed.push((withdrawal_index_key(&withdrawal.id), account_id.to_string()));
                puts.append(&mut outbox.documents);
                puts.push((
                    withdrawal_document(&withdrawal.id),
                    serde_json::to_string(&withdrawal).map_err(ApiError::internal)?,
                ));
                entries.push(entry);
            }
            let commit = AccountCommit {
                documents_put: &puts,
                documents_expiring: &saved_reply,
                expiring_ttl: reply_kept_for,
                events: &outbox.events,
                scheduled: &outbox.scheduled,
                indexed: &indexed,
                ..AccountCommit::owning(version, account, &entries)
            };
            match self.partitions.store.commit_account(commit).await? {
                CommitOutcome::Committed => return Ok(reply),
                CommitOutcome::VersionConflict => continue,
            }
        }
        Err(ApiError::StoreBusy)
    }

    /// Where a new withdrawal waits: the payout schedule after the level's
    /// automatic review delay, or the operators' queue. Set by the commit
    /// that creates the withdrawal, so every withdrawal is queued exactly once.
    pub(crate) fn review_entry(
        &self,
        account_id: &AccountId,
        withdrawal: &Withdrawal,
        level: VerificationLevel,
        now: DateTime<Utc>,
    ) -> ScheduleEntry {
        let member = review_member(account_id, &withdrawal.id);
        let (schedule, at) = match withdrawal.status {
            WithdrawalStatus::Pending => (PAYOUT_SCHEDULE, now + self.policy.rules(level).auto_review_delay),
            _ => (MANUAL_REVIEW_SCHEDULE, now),
        };
        ScheduleEntry { schedule, member, at_ms: at.timestamp_millis() }
    }

    /// The saved reply `text`, if it is still alive; a different request under its key is refused.
    fn saved_reply(
        &self,
        text: Option<String>,
        fingerprint: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<SavedReply>, ApiError> {
        let Some(text) = text else { return Ok(None) };
        let record: IdempotencyRecord = serde_json::from_str(&text).map_err(ApiError::internal)?;
        if record.created_at + self.policy.idempotency_ttl <= now {
            return Ok(None);
        }
        if record.fingerprint != fingerprint {
            return Err(ApiError::IdempotencyKeyReused);
        }
        Ok(Some(SavedReply { replayed: true, ..record.reply }))
    }

    /// Every check in order — destination, PIN, then the plan (level, limits,
    /// balance), then the quote — and the hold. Business refusals become the
    /// saved reply (a wrong PIN still counts); unexpected errors end the request.
    #[allow(clippy::type_complexity)]
    fn decide_withdrawal(
        &self,
        account: &mut Account,
        request: &WithdrawalRequest,
        withdrawal_id: &str,
        quote: Option<&QuoteRecord>,
        now: DateTime<Utc>,
        view: &impl Fn(&Withdrawal) -> Result<Box<RawValue>, ApiError>,
    ) -> Result<(SavedReply, Option<(Withdrawal, JournalEntry)>), ApiError> {
        let outcome = self.try_withdrawal(account, request, withdrawal_id, quote, now);
        match outcome {
            Ok((withdrawal, entry)) => {
                let reply = SavedReply { status: 202, body: view(&withdrawal)?, replayed: false };
                Ok((reply, Some((withdrawal, entry))))
            }
            Err(error) if error.status_code().is_client_error() => {
                let body = to_raw_value(&error.body()).map_err(ApiError::internal)?;
                let reply = SavedReply { status: error.status_code().as_u16(), body, replayed: false };
                Ok((reply, None))
            }
            Err(error) => Err(error),
        }
    }

    fn try_withdrawal(
        &self,
        account: &mut Account,
        request: &WithdrawalRequest,
        withdrawal_id: &str,
        quote: Option<&QuoteRecord>,
        now: DateTime<Utc>,
    ) -> Result<(Withdrawal, JournalEntry), ApiError> {
        // The destination comes first: a mistyped binding should not cost a PIN try.
        account.withdrawal_destination(&request.binding_id)?;
        if let Some(refusal) = self.pins.enter_pin(account, &request.pin, now) {
            return Err(refusal);
        }
        let rules = self.policy.rules(account.level_at(now));
        let today = self.policy.local_date(now);
        let plan =
            account.plan_withdrawal(&request.binding_id, request.amount, self.policy.plan_rules(rules), today, now)?;
        if let Some(quote) = quote {
            let same = quote.account_id == account.id
                && quote.binding_id == request.binding_id
                && quote.amount == request.amount.money()
                && quote.fee == plan.fee.fee;
            if !same || quote.expires_at <= now {
                return Err(ApiError::QuoteExpired);
            }
        }
        Ok(account.hold_withdrawal(plan, withdrawal_id.to_owned(), today, now)?)
    }

    async fn load_quote(&self, quote_id: Option<&str>) -> Result<Option<QuoteRecord>, ApiError> {
        let Some(quote_id) = quote_id else { return Ok(None) };
        let text = self.partitions.store.get_ephemeral(&quote_key(quote_id)).await?.ok_or(ApiError::QuoteExpired)?;
        Ok(Some(serde_json::from_str(&text).map_err(ApiError::internal)?))
    }
}

/// A user's withdrawals as stored, and the index from a withdrawal to its account.
#[derive(Debug, Clone)]
pub struct WithdrawalReads {
    pub store: SharedStore,
}

impl WithdrawalReads {
    /// The account a withdrawal belongs to, by the withdrawal's id alone.
    pub async fn withdrawal_owner(&self, withdrawal_id: &str) -> Result<AccountId, ApiError> {
        let not_found = || ApiError::NotFound { resource: "withdrawal" };
        if !is_withdrawal_id(withdrawal_id) {
            return Err(not_found());
        }
        let owner = self.store.get_index(&withdrawal_index_key(withdrawal_id)).await?;
        owner.as_deref().and_then(AccountId::parse).ok_or_else(not_found)
    }

    /// The account's withdrawals, newest first, optionally of one status.
    pub async fn withdrawals(&self, account_id: &AccountId) -> Result<Vec<Withdrawal>, ApiError> {
        let documents = self.store.partition_documents(account_id, "withdrawal:").await?;
        let mut withdrawals: Vec<Withdrawal> = documents
            .iter()
            .map(|(_, body)| serde_json::from_str(body).map_err(ApiError::internal))
            .collect::<Result<_, _>>()?;
        // Ids are time-ordered (UUIDv7), so newest first is descending id.
        withdrawals.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(withdrawals)
    }

    pub async fn withdrawal(&self, account_id: &AccountId, id: &str) -> Result<Withdrawal, ApiError> {
        let not_found = || ApiError::NotFound { resource: "withdrawal" };
        if !is_withdrawal_id(id) {
            return Err(not_found());
        }
        let text = self.store.partition_document(account_id, &withdrawal_document(id)).await?.ok_or_else(not_found)?;
        serde_json::from_str(&text).map_err(ApiError::internal)
    }
}
