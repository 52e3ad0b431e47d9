//! Account partitions as the use cases change them: load the latest state,
//! let a pure decision change it, and commit the result (with its journal
//! entries, events, documents and schedule entries) by compare-and-set,
//! retrying on conflict through the one retry loop (`crate::retry`).
//!
//! Every use case that changes an account goes through here, so "decide on
//! one version, commit only if it still holds" is written once.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};

use super::notifications::{Event, EventType, outbox};
use super::writers::AccountWriters;
use crate::auth::{Principal, admit, session_ended};
use crate::clock::SharedClock;
use crate::domain::account::{Account, AccountId};
use crate::domain::ledger::JournalEntry;
use crate::domain::withdrawal::{Withdrawal, WithdrawalError};
use crate::error::ApiError;
use crate::observability::catalogue::{LOGIN_LOCKS_TOTAL, PIN_LOCKS_TOTAL};
use crate::retry::Rounds;
use crate::store::typed::{decode_document, encode_document};
use crate::store::{AccountCommit, CommitOutcome, ScheduleEntry, SharedStore, Versioned};

/// What a change to one withdrawal produced.
pub(crate) struct Changed<T> {
    pub output: T,
    pub entries: Vec<JournalEntry>,
    pub events: Vec<EventType>,
    /// Schedule entries the change starts, set in the same commit.
    pub scheduled: Vec<ScheduleEntry>,
    /// Schedule entries the change finishes, taken off in the same commit.
    pub unscheduled: Vec<(&'static str, String)>,
}

impl<T> Changed<T> {
    pub fn new(output: T) -> Changed<T> {
        Changed { output, entries: Vec::new(), events: Vec::new(), scheduled: Vec::new(), unscheduled: Vec::new() }
    }
}

/// What a change to an account produced besides its new state.
pub(crate) struct AccountChange<T> {
    pub output: T,
    pub entries: Vec<JournalEntry>,
    pub events: Vec<Event>,
    /// Schedule entries the change sets, in the same commit.
    pub scheduled: Vec<ScheduleEntry>,
    /// Schedule entries the change finishes, taken off in the same commit.
    pub unscheduled: Vec<(&'static str, String)>,
    /// Partition documents `(name, body)` the change writes.
    pub documents: Vec<(String, String)>,
    /// Partition documents the store may reclaim after `expiring_ttl`
    /// (saved idempotency replies).
    pub expiring: Vec<(String, String)>,
    pub expiring_ttl: Duration,
}

impl<T> AccountChange<T> {
    pub fn new(output: T) -> AccountChange<T> {
        AccountChange {
            output,
            entries: Vec::new(),
            events: Vec::new(),
            scheduled: Vec::new(),
            unscheduled: Vec::new(),
            documents: Vec::new(),
            expiring: Vec::new(),
            expiring_ttl: Duration::ZERO,
        }
    }

    /// Whether the change writes nothing beside the record itself.
    fn adds_nothing(&self) -> bool {
        self.entries.is_empty()
            && self.events.is_empty()
            && self.scheduled.is_empty()
            && self.unscheduled.is_empty()
            && self.documents.is_empty()
            && self.expiring.is_empty()
    }
}

/// What a change may be decided on before (or instead of) reading the
/// account: `S` is the state of the documents the change reads.
// One per change, moved once: not worth a box.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Guess<S> {
    /// Nothing: read first.
    Read,
    /// The record this process last committed, if its writers' turn
    /// remembers it, with the change's expiring documents taken as absent:
    /// its commit then requires that none of them exists.
    Remembered(S),
    /// A record as it stood at its version, with what the documents held at
    /// that version, as the caller knows it (from a read, or its own commit).
    Known(Versioned<Account>, S),
}

/// The store, the clock and the rules of committing; cheap to clone.
#[derive(Debug, Clone)]
pub struct Partitions {
    pub store: SharedStore,
    pub clock: SharedClock,
    /// Rounds of compare-and-set before a contended change gives up (503).
    pub commit_attempts_max: u32,
    /// Whether commits put webhook deliveries in their outbox.
    pub webhooks_on: bool,
    /// Each account's writers take turns within this process.
    pub writers: Arc<AccountWriters>,
}

impl Partitions {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn rounds(&self) -> Rounds {
        Rounds::new(self.commit_attempts_max)
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
        self.update_account_scheduling(id, |account, now| {
            let (output, entries, events) = change(account, now)?;
            Ok(AccountChange { entries, events, ..AccountChange::new(output) })
        })
        .await
    }

    /// As `update_account_notifying`, with the schedule entries the change
    /// sets and finishes, committed together with it.
    pub(crate) async fn update_account_scheduling<T>(
        &self,
        id: &AccountId,
        mut change: impl FnMut(&mut Account, DateTime<Utc>) -> Result<AccountChange<T>, ApiError>,
    ) -> Result<(T, Account), ApiError> {
        self.update_account_reading(id, &[], |account, _, now| change(account, now)).await
    }

    /// As `update_account_scheduling`, deciding on some of the partition's
    /// documents too (by name, `None` where missing), read with the record
    /// as of one moment: the commit's version check covers them, since every
    /// change of a document moves the record's version.
    pub(crate) async fn update_account_reading<T>(
        &self,
        id: &AccountId,
        documents: &[&str],
        change: impl FnMut(&mut Account, Vec<Option<String>>, DateTime<Utc>) -> Result<AccountChange<T>, ApiError>,
    ) -> Result<(T, Account), ApiError> {
        let (output, committed) = self.update_account_guessing(id, documents, Guess::Read, Ok, change).await?;
        Ok((output, committed.value))
    }

    /// As `update_account_reading`, trying a guess first: a first round
    /// decides on what the guess says the record and the `documents` were
    /// (`S`, the documents as the change reads them; `read` makes one of the
    /// texts when they are read) and counts only if its commit lands. Any
    /// other end of that round (a conflict, an error, nothing to write) is
    /// dropped, and the rounds that read decide afresh, so every outcome is
    /// one a fresh read would have given. Returns the record as committed
    /// (or as read, when nothing was written), with its version.
    pub(crate) async fn update_account_guessing<T, S>(
        &self,
        id: &AccountId,
        documents: &[&str],
        guess: Guess<S>,
        read: impl Fn(Vec<Option<String>>) -> Result<S, ApiError>,
        mut change: impl FnMut(&mut Account, S, DateTime<Utc>) -> Result<AccountChange<T>, ApiError>,
    ) -> Result<(T, Versioned<Account>), ApiError> {
        let mut turn = self.writers.turn(id).await;
        let (guessed, expiring_unread) = match guess {
            Guess::Read => (None, false),
            Guess::Remembered(found) => (turn.take(id).map(|record| (record, found)), true),
            Guess::Known(record, found) => (Some((record, found)), false),
        };
        let guessed_version = guessed.as_ref().map(|(record, _)| record.version);
        if let Some((record, found)) = guessed {
            let version = record.version;
            let mut account = record.value;
            let before = LocksInARow::of(&account);
            if let Ok(changed) = change(&mut account, found, self.now())
                && !changed.adds_nothing()
                && let CommitOutcome::Committed = self.commit(id, version, &account, &changed, expiring_unread).await?
            {
                before.count_started(&account);
                let committed = Versioned { version: version + 1, value: account };
                turn.remember(committed.clone());
                return Ok((changed.output, committed));
            }
        }
        let mut rounds = self.rounds();
        while rounds.next().await {
            let (current, found) = match documents {
                [] => self.store.load_account(id).await?.map(|current| (current, Vec::new())),
                _ => self.store.load_account_with(id, documents).await?,
            }
            .ok_or(ApiError::NotFound { resource: "account" })?;
            if expiring_unread && guessed_version.is_some_and(|version| version < current.version) {
                // Another process wrote it since this one remembered it.
                turn.written_elsewhere(id);
            }
            let mut account = current.value.clone();
            let changed = change(&mut account, read(found)?, self.now())?;
            if changed.adds_nothing() && account == current.value {
                // Nothing to write (a refusal decided on this version, say):
                // no commit, so pure reads never contend with real changes.
                return Ok((changed.output, current));
            }
            match self.commit(id, current.version, &account, &changed, false).await? {
                CommitOutcome::Committed => {
                    LocksInARow::of(&current.value).count_started(&account);
                    let committed = Versioned { version: current.version + 1, value: account };
                    turn.remember(committed.clone());
                    return Ok((changed.output, committed));
                }
                CommitOutcome::VersionConflict => continue,
            }
        }
        tracing::warn!(account_id = %id, attempts = self.commit_attempts_max, "gave up on a contended account");
        Err(ApiError::StoreBusy)
    }

    /// Commits a change decided on the record at `version`; with
    /// `expiring_unread`, only if none of its expiring documents exists yet
    /// (the decision took them as absent without reading them).
    async fn commit<T>(
        &self,
        id: &AccountId,
        version: u64,
        account: &Account,
        changed: &AccountChange<T>,
        expiring_unread: bool,
    ) -> Result<CommitOutcome, ApiError> {
        let mut outbox = outbox(self.webhooks_on, id, &changed.events)?;
        outbox.scheduled.extend(changed.scheduled.iter().cloned());
        let documents = match outbox.documents.is_empty() {
            true => Cow::Borrowed(&changed.documents[..]),
            false => {
                outbox.documents.extend(changed.documents.iter().cloned());
                Cow::Owned(outbox.documents)
            }
        };
        let commit = AccountCommit {
            documents_put: &documents,
            documents_expiring: &changed.expiring,
            expiring_ttl: changed.expiring_ttl,
            expiring_must_be_new: expiring_unread,
            events: &outbox.events,
            scheduled: &outbox.scheduled,
            unscheduled: &changed.unscheduled,
            ..AccountCommit::new(version, account, &changed.entries)
        };
        Ok(self.store.commit_account(commit).await?)
    }

    /// Runs `change` on the latest state of an account and one of its
    /// withdrawals and commits both, with the journal entries and events the
    /// change produced, by compare-and-set (retrying on conflict). `change`
    /// must be a pure decision, since it may run several times.
    pub(crate) async fn change_withdrawal<T>(
        &self,
        account_id: &AccountId,
        withdrawal_id: &str,
        mut change: impl FnMut(&mut Account, &mut Withdrawal, DateTime<Utc>) -> Result<Changed<T>, ApiError>,
    ) -> Result<(T, Withdrawal), ApiError> {
        let document = super::keys::withdrawal_document(withdrawal_id);
        let mut turn = self.writers.turn(account_id).await;
        // Settlement and review commit the record without handing it back
        // here: what the turn remembers of it would only be stale.
        turn.forget(account_id);
        let mut rounds = self.rounds();
        while rounds.next().await {
            // The record and the document as of one moment: any change of the
            // document also moves the record's version, so the commit below
            // cannot miss it.
            let (current, mut found) =
                self.store.load_account_with(account_id, &[&document]).await?.ok_or(WithdrawalError::NotFound)?;
            let text = found.pop().flatten().ok_or(WithdrawalError::NotFound)?;
            let before: Withdrawal = decode_document(&document, &text)?;
            let mut withdrawal = before.clone();
            let mut account = current.value.clone();
            let now = self.now();
            let changed = change(&mut account, &mut withdrawal, now)?;
            if withdrawal == before && account == current.value && changed.entries.is_empty() {
                // A decision to do nothing: no commit, no version change.
                return Ok((changed.output, withdrawal));
            }
            let events: Vec<Event> =
                changed.events.iter().map(|kind| Event::withdrawal(*kind, account_id, &withdrawal, now)).collect();
            let mut outbox = outbox(self.webhooks_on, account_id, &events)?;
            outbox.documents.push((document.clone(), encode_document(&withdrawal)?));
            outbox.scheduled.extend(changed.scheduled.iter().cloned());
            // Listed again (a no-op for a listed one): a withdrawal created
            // before the list existed joins it at its next change.
            outbox.scheduled.push(super::keys::withdrawal_list_entry(account_id, &withdrawal));
            let commit = AccountCommit {
                documents_put: &outbox.documents,
                events: &outbox.events,
                scheduled: &outbox.scheduled,
                unscheduled: &changed.unscheduled,
                ..AccountCommit::owning(current.version, account, &changed.entries)
            };
            match self.store.commit_account(commit).await? {
                CommitOutcome::Committed => return Ok((changed.output, withdrawal)),
                CommitOutcome::VersionConflict => continue,
            }
        }
        Err(ApiError::StoreBusy)
    }
}

/// Where an account's attempt guards stood before a change, to count the
/// PIN and login locks the change started once it is committed: a lock adds
/// one to its guard's `locks_in_a_row`, and nothing else raises it. Counted
/// after the commit rather than where an entry is judged, since a decision
/// may run again after a conflict and only the committed one happened.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LocksInARow {
    pin: u32,
    login: u32,
}

impl LocksInARow {
    pub fn of(account: &Account) -> LocksInARow {
        LocksInARow { pin: account.pin_guard.locks_in_a_row, login: account.login_guard.locks_in_a_row }
    }

    /// Counts the locks `committed` has that these counts had not.
    pub fn count_started(self, committed: &Account) {
        if committed.pin_guard.locks_in_a_row > self.pin {
            metrics::counter!(PIN_LOCKS_TOTAL).increment(1);
        }
        if committed.login_guard.locks_in_a_row > self.login {
            metrics::counter!(LOGIN_LOCKS_TOTAL, "login" => "registered").increment(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::Duration;
    use metrics_exporter_prometheus::PrometheusBuilder;

    use super::LocksInARow;
    use crate::domain::account::Account;
    use crate::domain::account::fixtures::{alice, now};
    use crate::domain::lockout::LockoutPolicy;
    use crate::domain::pin::PinRecord;

    /// Seven wrong PINs and seven wrong passwords, each a committed change:
    /// the fifth of each starts a lock, the ones refused while locked start none.
    #[test]
    fn a_lock_is_counted_once_by_the_change_that_starts_it() {
        let policy =
            LockoutPolicy { attempts_max: 5, lock: Duration::hours(3), lock_growth: 2, lock_max: Duration::hours(24) };
        let mut account: Account = alice();
        account.set_pin(PinRecord { salt: "s".into(), digest: "right".into(), set_at: now(), replaces_earlier: false });
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        metrics::with_local_recorder(&recorder, || {
            for _ in 0..7 {
                let before = LocksInARow::of(&account);
                account.verify_pin(|_| "wrong".to_owned(), &policy, now());
                account.attempt_login(false, &policy, now());
                before.count_started(&account);
            }
        });
        let text = handle.render();
        assert!(text.lines().any(|line| line == "pin_locks_total 1"), "{text}");
        assert!(text.lines().any(|line| line == r#"login_locks_total{login="registered"} 1"#), "{text}");
    }
}
