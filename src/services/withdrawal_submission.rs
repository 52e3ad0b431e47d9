//! Submitting a withdrawal: the domain decides it in one call (destination,
//! PIN, plan, quote, hold; see `domain::withdrawal_decision`), and the
//! decision is committed in one compare-and-set commit of the account
//! partition, together with the withdrawal record and the idempotency record
//! that keeps the decision for the request's key.
//!
//! Idempotency works as `idempotency` describes: the outcome of a key (held,
//! or refused for the user's reason) is saved with the change it describes,
//! in the same commit, under the user's own key. Requests are told apart by
//! a digest keyed with their own secret (they include the PIN), never kept
//! in the clear.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::idempotency::{SavedReply, replay, reply_document};
use super::keys::{
    MANUAL_REVIEW_SCHEDULE, PAYOUT_SCHEDULE, review_member, withdrawal_document, withdrawal_index_key,
    withdrawal_list_entry,
};
use super::notifications::{Event, EventType, Outbox};
use super::partitions::LocksInARow;
use super::withdrawals::{WithdrawalRequest, Withdrawals, quote_key};
use crate::auth::{Principal, admit, session_ended};
use crate::domain::account::{Account, AccountId, VerificationLevel};
use crate::domain::withdrawal::{Withdrawal, WithdrawalId, WithdrawalStatus};
use crate::domain::withdrawal_decision::{
    IdempotencyKey, PinEntry, QuoteTerms, WithdrawalAsk, WithdrawalDecision, WithdrawalRefusal,
};
use crate::error::ApiError;
use crate::store::typed::{TypedEphemeralValues, encode_document};
use crate::store::{AccountCommit, CommitOutcome, ScheduleEntry, Versioned};

/// Ids made at most for a new withdrawal until the store can find one by
/// itself: with 24 shards, the chance that none of them is, is (23/24)^512,
/// about 3·10⁻¹⁰.
const ID_TRIES: usize = 512;

/// What a submission came to, as kept for its idempotency key.
// One per request, moved once: not worth a box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Submitted {
    /// The withdrawal as it was created.
    Held {
        withdrawal: Withdrawal,
    },
    Refused {
        refusal: WithdrawalRefusal,
    },
}

/// The answer to a submission, fresh or replayed.
#[derive(Debug, Clone)]
pub struct SubmissionReply {
    pub outcome: Submitted,
    /// Whether this is the saved outcome of an earlier request with the same key.
    pub replayed: bool,
}

/// One submission's request, as every attempt at it sees it.
struct Submission<'a> {
    caller: &'a Principal,
    /// The partition document that keeps the outcome under the request's key.
    document: String,
    fingerprint: String,
    quote: Option<QuoteTerms>,
    request: WithdrawalRequest,
}

/// How one attempt at a submission ended.
// One per attempt, moved once: not worth a box (as `Submitted`).
#[allow(clippy::large_enum_variant)]
enum Attempt {
    /// Committed: the reply, and the record as committed.
    Committed(SubmissionReply, Versioned<Account>),
    /// The key's saved outcome (or a refusal of the key's reuse) answers the request.
    Replied(SubmissionReply),
    /// The record (or the key's saved outcome) changed since it was read.
    Conflict,
}

impl Withdrawals {
    /// Submits (or replays) a withdrawal under `key`.
    ///
    /// When this process committed the account last, the turn remembers the
    /// record and the first attempt decides on it without a read; its commit
    /// requires the key's saved reply not to exist. A refused commit (or any
    /// other outcome than a commit) means the guess was stale or incomplete:
    /// the record is forgotten and the rounds below read it and decide again,
    /// so every reply is one a fresh read would have given.
    pub async fn submit_withdrawal(
        &self,
        caller: &Principal,
        key: &IdempotencyKey,
        request: WithdrawalRequest,
    ) -> Result<SubmissionReply, ApiError> {
        let account_id = &caller.account_id;
        let submission = Submission {
            caller,
            document: reply_document(None, key),
            fingerprint: self.fingerprints.of(&request),
            quote: self.load_quote(request.quote_id.as_deref()).await?,
            request,
        };
        let mut turn = self.partitions.writers.turn(account_id).await;
        let remembered = turn.take(account_id);
        let remembered_version = remembered.as_ref().map(|record| record.version);
        if let Some(record) = remembered
            && let Ok(Attempt::Committed(reply, committed)) = self.attempt(&submission, record, None).await
        {
            turn.remember(committed);
            return Ok(reply);
        }
        let mut rounds = self.partitions.rounds();
        while rounds.next().await {
            let (current, mut found) = self
                .partitions
                .store
                .load_account_with(account_id, &[&submission.document])
                .await?
                .ok_or_else(session_ended)?;
            if remembered_version.is_some_and(|version| version < current.version) {
                turn.written_elsewhere(account_id);
            }
            match self.attempt(&submission, current, Some(found.pop().flatten())).await? {
                Attempt::Committed(reply, committed) => {
                    turn.remember(committed);
                    return Ok(reply);
                }
                Attempt::Replied(reply) => return Ok(reply),
                Attempt::Conflict => continue,
            }
        }
        Err(ApiError::StoreBusy)
    }

    /// One round: decide on `current` and commit. `saved` is what the read
    /// found under the key, or `None` when nothing was read (then the commit
    /// requires that nothing is saved there).
    async fn attempt(
        &self,
        submission: &Submission<'_>,
        current: Versioned<Account>,
        saved: Option<Option<String>>,
    ) -> Result<Attempt, ApiError> {
        let Submission { caller, document, fingerprint, quote, request } = submission;
        let account_id = &caller.account_id;
        admit(caller, &current.value)?;
        let now = self.partitions.now();
        let read_saved = saved.is_some();
        if let Some(saved) = replay(saved.flatten().as_deref(), fingerprint, self.policy.idempotency_ttl, now)? {
            return Ok(Attempt::Replied(SubmissionReply { outcome: saved, replayed: true }));
        }
        let version = current.version;
        let locks = LocksInARow::of(&current.value);
        let mut account = current.value;
        let ask = WithdrawalAsk { amount: request.amount, binding_id: &request.binding_id, quote: quote.as_ref() };
        let pin =
            PinEntry { digest_of: |salt: &str| self.pins.pin_digest(salt, &request.pin), policy: &self.pins.policy };
        let (withdrawal_id, findable) = self.new_withdrawal_id(account_id, now);
        let decision = account.decide_withdrawal(ask, withdrawal_id, pin, &self.policy, now)?;
        let mut puts = Vec::new();
        let mut entries = Vec::new();
        let mut outbox = Outbox::default();
        let mut indexed = Vec::new();
        let outcome = match decision {
            WithdrawalDecision::Held(withdrawal, entry) => {
                let created = Event::withdrawal(EventType::WithdrawalCreated, account_id, &withdrawal, now);
                outbox = super::notifications::outbox(self.partitions.webhooks_on, account_id, &[created])?;
                outbox.scheduled.push(self.review_entry(account_id, &withdrawal, account.level_at(now), now));
                outbox.scheduled.push(withdrawal_list_entry(account_id, &withdrawal));
                if !findable {
                    indexed.push((withdrawal_index_key(&withdrawal.id), account_id.to_string()));
                }
                puts.append(&mut outbox.documents);
                puts.push((withdrawal_document(&withdrawal.id), encode_document(&withdrawal)?));
                entries.push(entry);
                Submitted::Held { withdrawal }
            }
            WithdrawalDecision::Refused(refusal) => Submitted::Refused { refusal },
        };
        let record = SavedReply { fingerprint: fingerprint.clone(), outcome: outcome.clone(), created_at: now };
        let saved = [(document.clone(), encode_document(&record)?)];
        let commit = AccountCommit {
            documents_put: &puts,
            documents_expiring: &saved,
            expiring_ttl: self.policy.idempotency_ttl.to_std().unwrap_or_default(),
            expiring_must_be_new: !read_saved,
            events: &outbox.events,
            scheduled: &outbox.scheduled,
            indexed: &indexed,
            ..AccountCommit::new(version, &account, &entries)
        };
        Ok(match self.partitions.store.commit_account(commit).await? {
            CommitOutcome::Committed => {
                locks.count_started(&account);
                Attempt::Committed(
                    SubmissionReply { outcome, replayed: false },
                    Versioned { version: version + 1, value: account },
                )
            }
            CommitOutcome::VersionConflict => Attempt::Conflict,
        })
    }

    /// Where a new withdrawal waits: the payout schedule after the level's
    /// automatic review delay, or the operators' queue. Set by the commit
    /// that creates the withdrawal, so every withdrawal is queued exactly once.
    pub fn review_entry(
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

    /// A new withdrawal's id, made at `now` (its creation time), so that its
    /// entry in the list of withdrawals leads to its account
    /// (`WithdrawalReads::withdrawal_owner`): the store must find it there
    /// by the id alone, which on a sharded store holds for about one id in
    /// as many as it has shards. Whether it does: if none of `ID_TRIES` ids
    /// is, the commit writes an index entry for the last as well.
    fn new_withdrawal_id(&self, account_id: &AccountId, now: DateTime<Utc>) -> (WithdrawalId, bool) {
        let mut id = WithdrawalId::generate_at(now);
        for _ in 1..ID_TRIES {
            if self.partitions.store.findable_by_subject(account_id.as_str(), id.as_str()) {
                return (id, true);
            }
            id = WithdrawalId::generate_at(now);
        }
        let findable = self.partitions.store.findable_by_subject(account_id.as_str(), id.as_str());
        (id, findable)
    }

    async fn load_quote(&self, quote_id: Option<&str>) -> Result<Option<QuoteTerms>, ApiError> {
        let Some(quote_id) = quote_id else { return Ok(None) };
        let terms = self.partitions.store.get_ephemeral_as(&quote_key(quote_id)).await?;
        terms.ok_or(ApiError::QuoteExpired).map(Some)
    }
}
