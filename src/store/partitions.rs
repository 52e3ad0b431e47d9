//! Account partitions: the unit of atomic change.
//!
//! A partition is one wallet account's versioned `Account` record, its
//! append-only journal, its named documents (withdrawals; idempotency
//! replies, which expire) and its event stream, always changed together by
//! one compare-and-set on the record's version — so no rule ever sees half a
//! change, and money moves only inside one commit. The same commit sets the
//! schedule entries its change needs (a new withdrawal is queued exactly
//! when it exists), and the index entries that lead to it are set just
//! before (`AccountCommit::indexed`). The unique login index that leads a sign-in to
//! its partition lives here too, because creating an account claims it.
//!
//! Why each primitive exists:
//! - `create_account`: a partition and its login come into being together,
//!   or not at all (two sign-ups racing for one phone: one wins);
//! - `account_id_by_login`: sign-in finds the partition of a login;
//! - `load_account`: read the record and the version a commit will expect;
//! - `load_account_with`: the record and the documents a decision needs, as
//!   of one moment, in one round trip (the hot path of every request);
//! - `commit_account`: the one way a partition changes;
//! - `journal`: the statement, paged newest first;
//! - `account_ids`: whole-ledger checks walk every partition.

use std::borrow::Cow;
use std::time::Duration;

use async_trait::async_trait;

use super::{CommitOutcome, ScheduleEntry, StoreError, Versioned, member_owner};
use crate::domain::account::{Account, AccountId};
use crate::domain::ledger::JournalEntry;

/// Expired partition documents a commit reclaims beyond the ones it adds, so
/// reclaiming keeps up with adding and costs O(log n) per commit.
pub(crate) const EXPIRED_RECLAIMED_PER_COMMIT: usize = 8;

#[async_trait]
pub trait AccountPartitions: Send + Sync {
    /// Creates a partition at version 1 with its opening entries and claims its
    /// login. `AlreadyExists` if the id or the login is taken; then nothing is left behind.
    async fn create_account(&self, account: &Account, opening_entries: &[JournalEntry]) -> Result<(), StoreError>;

    async fn account_id_by_login(&self, login_index_key: &str) -> Result<Option<AccountId>, StoreError>;

    async fn load_account(&self, id: &AccountId) -> Result<Option<Versioned<Account>>, StoreError>;

    /// An account and some of its partition's documents (by name, `None`
    /// where missing), read together in one round trip, as of one moment.
    async fn load_account_with(
        &self,
        id: &AccountId,
        documents: &[&str],
    ) -> Result<Option<(Versioned<Account>, Vec<Option<String>>)>, StoreError>;

    /// Compare-and-set of one partition: record and entries together or not at all.
    async fn commit_account(&self, commit: AccountCommit<'_>) -> Result<CommitOutcome, StoreError>;

    /// Up to `limit` journal entries of a partition, newest first, starting
    /// below `before_seq` (or at the newest entry).
    async fn journal(
        &self,
        id: &AccountId,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError>;

    /// Every account id, for whole-ledger checks.
    async fn account_ids(&self) -> Result<Vec<AccountId>, StoreError>;
}

/// A change to one account partition: its new record and the journal entries
/// that explain the change, written only if the record is still at
/// `expected_version`.
#[derive(Debug)]
pub struct AccountCommit<'a> {
    pub expected_version: u64,
    /// The record as it is after the change; owned when the caller is done
    /// with it, so a store that keeps records as values need not copy it.
    pub account: Cow<'a, Account>,
    pub new_entries: &'a [JournalEntry],
    /// Records of the partition (withdrawals, idempotency keys) to write, by name.
    pub documents_put: &'a [(String, String)],
    /// Records of the partition to delete, by name.
    pub documents_deleted: &'a [String],
    /// Notifications (JSON) appended to the partition's event stream.
    pub events: &'a [String],
    /// Records of the partition the store may reclaim once `expiring_ttl`
    /// has passed (saved idempotency replies), by name. Whether one is still
    /// valid is the caller's decision, by its own clock.
    pub documents_expiring: &'a [(String, String)],
    pub expiring_ttl: Duration,
    /// Whether the expiring documents must not exist yet: if one does, the
    /// commit is refused as a conflict. Set by a caller that decided without
    /// reading them (on a record it remembered), so that it never overwrites
    /// a saved reply it has not seen.
    pub expiring_must_be_new: bool,
    /// Schedule entries set (or moved) with the change. Their members name
    /// the account, `<account id>/<subject>`: work lives beside its partition.
    pub scheduled: &'a [ScheduleEntry],
    /// Schedule members `(schedule, member)` taken off with the change (work
    /// it finishes), named as in `scheduled`.
    pub unscheduled: &'a [(&'static str, String)],
    /// Unique index entries `(key, value)` to keys nobody else can hold
    /// (a new withdrawal's id). Written *before* the change, whether or not
    /// it then lands: an index key lies outside the partition (in a slot of
    /// its own on a cluster), and an entry leading to a partition without
    /// its subject reads as absent, while a landed change without its index
    /// entry would be unreachable.
    pub indexed: &'a [(String, String)],
}

impl<'a> AccountCommit<'a> {
    /// A commit of the record and journal only.
    pub fn new(expected_version: u64, account: &'a Account, new_entries: &'a [JournalEntry]) -> AccountCommit<'a> {
        AccountCommit::of(expected_version, Cow::Borrowed(account), new_entries)
    }

    /// As `new`, handing the record over.
    pub fn owning(expected_version: u64, account: Account, new_entries: &'a [JournalEntry]) -> AccountCommit<'a> {
        AccountCommit::of(expected_version, Cow::Owned(account), new_entries)
    }

    /// Refuses schedule members that do not name this commit's account: a
    /// store keeps a partition's work beside it (on a cluster, in its slot).
    pub fn check_members(&self) -> Result<(), StoreError> {
        let owner = self.account.id.as_str();
        let members = self.scheduled.iter().map(|entry| &entry.member).chain(self.unscheduled.iter().map(|(_, m)| m));
        for member in members {
            if member_owner(member) != Some(owner) {
                return Err(StoreError::Corrupt {
                    key: member.clone(),
                    reason: format!("a commit of {owner} may schedule only members named {owner}/…"),
                });
            }
        }
        Ok(())
    }

    fn of(expected_version: u64, account: Cow<'a, Account>, new_entries: &'a [JournalEntry]) -> AccountCommit<'a> {
        AccountCommit {
            expected_version,
            account,
            new_entries,
            documents_put: &[],
            documents_deleted: &[],
            events: &[],
            documents_expiring: &[],
            expiring_ttl: Duration::ZERO,
            expiring_must_be_new: false,
            scheduled: &[],
            unscheduled: &[],
            indexed: &[],
        }
    }
}
