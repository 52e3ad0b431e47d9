//! The review queue as operators read it: every withdrawal waiting for an
//! operator (manual reviews and parked payouts) with the account's context,
//! narrowed to one account or one withdrawal, filtered
//! (`domain::review_queue`), counted, put in the order asked for and cut to
//! a page.
//!
//! A page is decided over the whole queue, not over what one read happened
//! to reach, so the count and every order (amount too) hold across pages:
//! each request reads every waiting entry (up to `QUEUE_SCAN_MAX` per
//! schedule) and each of their accounts once, `ACCOUNT_READS_AT_ONCE` at a
//! time.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use futures_util::{StreamExt, TryStreamExt};
use serde::Serialize;
use utoipa::ToSchema;

use super::keys::{MANUAL_REVIEW_SCHEDULE, PARKED_SCHEDULE, member_parts};
use super::review::Review;
use super::work::ORPHAN_GRACE_SECS;
use crate::domain::account::{Account, AccountId, VerificationLevel};
use crate::domain::credentials::Login;
use crate::domain::ledger::LedgerAccount;
use crate::domain::money::Money;
use crate::domain::review_queue::{QueueCursor, QueueFilter, QueueOrder, QueuePlace, QueuedFacts, WaitReason, page_of};
use crate::domain::withdrawal::{Withdrawal, WithdrawalId, WithdrawalStatus};
use crate::error::ApiError;

/// How many of the account's latest withdrawals a queue item shows.
const RECENT_WITHDRAWALS: usize = 5;
/// Entries read from each review schedule per queue page: the bound on the
/// scan, far above any queue operators work through.
const QUEUE_SCAN_MAX: usize = 10_000;
/// Accounts read at once while a page is put together.
const ACCOUNT_READS_AT_ONCE: usize = 8;

/// One withdrawal waiting for an operator.
#[derive(Debug, Clone)]
pub struct ReviewItem {
    pub account_id: AccountId,
    pub withdrawal: Withdrawal,
    /// `manual_review` or `parked_payout`.
    pub queue: &'static str,
    /// Why it waits: the review reasons, or `payout_attempts_exhausted`.
    pub reasons: Vec<WaitReason>,
    pub context: AccountContext,
}

/// What an operator needs to judge a withdrawal.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AccountContext {
    /// The account's phone number, masked as the app masks it
    /// (`138****0001`); null for an email login.
    #[schema(example = "138****0001")]
    pub phone: Option<String>,
    /// The account's email, masked (`o***@walletgate.test`); null for a phone login.
    #[schema(example = json!(null))]
    pub email: Option<String>,
    pub level: VerificationLevel,
    #[schema(example = false)]
    pub frozen: bool,
    pub available: Money,
    pub held: Money,
    /// How long the destination has been bound, in seconds.
    #[schema(example = 1800)]
    pub binding_age_secs: Option<i64>,
    /// The account's latest withdrawals other than this one, newest first.
    pub recent_withdrawals: Vec<RecentWithdrawal>,
}

/// One of the account's other withdrawals, in brief.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "wd_0196a0b1c2d37e40a1f3c9e2d4b5a6c7", "status": "settled", "amount": "300.00",
    "created_at": "2025-04-28T12:00:00Z"
}))]
pub struct RecentWithdrawal {
    #[schema(value_type = String)]
    pub id: WithdrawalId,
    pub status: WithdrawalStatus,
    pub amount: Money,
    pub created_at: DateTime<Utc>,
}

/// Whose withdrawals to look at: all, one account's (by its login or id), or one withdrawal.
#[derive(Debug, Clone, Default)]
pub enum QueueSearch {
    #[default]
    All,
    Login(Login),
    Account(AccountId),
    Withdrawal(WithdrawalId),
}

/// What an operator asked of the queue.
#[derive(Debug, Clone, Default)]
pub struct QueueQuery {
    pub search: QueueSearch,
    pub filter: QueueFilter,
    pub order: QueueOrder,
}

/// A page of the queue, in the order asked for, and how many waiting
/// withdrawals match the query on every page together.
#[derive(Debug)]
pub struct QueuePage {
    /// Up to the number wanted, in order.
    pub items: Vec<ReviewItem>,
    pub total: usize,
}

impl ReviewItem {
    /// Where the item stands in the queue's orders.
    pub fn place(&self) -> QueuePlace {
        QueuePlace { amount: self.withdrawal.amount.money(), id: self.withdrawal.id.clone() }
    }
}

/// One schedule entry: which queue, which withdrawal, and when it was scheduled.
struct Entry {
    schedule: &'static str,
    queue: &'static str,
    member: String,
    at_ms: i64,
    account_id: AccountId,
    withdrawal_id: WithdrawalId,
}

impl Review {
    /// Up to `wanted` withdrawals waiting for an operator that match `query`,
    /// in its order, after `after` (the place of the previous page's last
    /// item, in the same order), with how many match in all.
    pub async fn review_queue(
        &self,
        query: &QueueQuery,
        after: Option<&QueueCursor>,
        wanted: usize,
    ) -> Result<QueuePage, ApiError> {
        let now = self.partitions.now();
        let entries = self.queue_entries(&query.search).await?;
        let mut accounts: Vec<&AccountId> = entries.iter().map(|entry| &entry.account_id).collect();
        accounts.sort();
        accounts.dedup();
        let loaded: HashMap<AccountId, (Account, Vec<Withdrawal>)> = futures_util::stream::iter(accounts)
            .map(|id| async move {
                let account = self.partitions.load_account(id).await?;
                let withdrawals = self.reads.withdrawals(id).await?;
                Ok::<_, ApiError>((id.clone(), (account, withdrawals)))
            })
            .buffer_unordered(ACCOUNT_READS_AT_ONCE)
            .try_collect()
            .await?;
        let mut items = Vec::new();
        for entry in entries {
            let Some((account, withdrawals)) = loaded.get(&entry.account_id) else { continue };
            let Some(item) = self.review_item(entry, account, withdrawals, now).await? else { continue };
            let facts = QueuedFacts {
                amount: item.withdrawal.amount.money(),
                reasons: &item.reasons,
                level: item.context.level,
            };
            if query.filter.matches(facts) {
                items.push(item);
            }
        }
        let total = items.len();
        let places: Vec<QueuePlace> = items.iter().map(ReviewItem::place).collect();
        let after = after.filter(|cursor| cursor.order == query.order).map(|cursor| &cursor.place);
        let page = page_of(&places, query.order, after, wanted);
        let mut slots: Vec<Option<ReviewItem>> = items.into_iter().map(Some).collect();
        let items = page.into_iter().filter_map(|at| slots[at].take()).collect();
        Ok(QueuePage { items, total })
    }

    /// The entries of both review schedules, narrowed to the search's account or withdrawal.
    async fn queue_entries(&self, search: &QueueSearch) -> Result<Vec<Entry>, ApiError> {
        let store = &self.partitions.store;
        let only_account = match search {
            QueueSearch::All | QueueSearch::Withdrawal(_) => None,
            QueueSearch::Account(id) => Some(id.clone()),
            QueueSearch::Login(login) => match store.account_id_by_login(&login.index_key()).await? {
                Some(id) => Some(id),
                None => return Ok(Vec::new()),
            },
        };
        let mut entries = Vec::new();
        for (schedule, queue) in [(MANUAL_REVIEW_SCHEDULE, "manual_review"), (PARKED_SCHEDULE, "parked_payout")] {
            for (member, at_ms) in store.scheduled(schedule, i64::MAX, QUEUE_SCAN_MAX).await? {
                let Some((account_id, id)) = member_parts(&member) else { continue };
                let Some(withdrawal_id) = WithdrawalId::parse(id) else { continue };
                let wanted = match search {
                    QueueSearch::Withdrawal(wanted) => withdrawal_id == *wanted,
                    _ => only_account.as_ref().is_none_or(|only| account_id == *only),
                };
                if wanted {
                    entries.push(Entry { schedule, queue, member, at_ms, account_id, withdrawal_id });
                }
            }
        }
        Ok(entries)
    }

    /// The queue item of one schedule entry; entries with nothing left to
    /// decide are taken off the schedule on the way.
    async fn review_item(
        &self,
        entry: Entry,
        account: &Account,
        withdrawals: &[Withdrawal],
        now: DateTime<Utc>,
    ) -> Result<Option<ReviewItem>, ApiError> {
        let Entry { schedule, queue, member, at_ms, account_id, withdrawal_id } = entry;
        let Some(withdrawal) = withdrawals.iter().find(|w| w.id == withdrawal_id).cloned() else {
            if now.timestamp_millis() - at_ms > ORPHAN_GRACE_SECS * 1000 {
                // Only if nobody moved it since it was read.
                self.partitions.store.reschedule_if_at(schedule, &member, at_ms, None).await?;
            }
            return Ok(None);
        };
        let parked = queue == "parked_payout";
        let waits_here = match parked {
            false => withdrawal.status == WithdrawalStatus::InReview,
            true => withdrawal.awaits_operator() && withdrawal.status == WithdrawalStatus::Processing,
        };
        if !waits_here {
            // The commits that decide a withdrawal take its entries off; one
            // left over is dropped once the withdrawal can never come back
            // here. (One whose state moved on after the entry was read is
            // left alone: a commit may have just put it here.)
            if withdrawal.is_finished() {
                self.partitions.store.reschedule_if_at(schedule, &member, at_ms, None).await?;
            }
            return Ok(None);
        }
        let reasons = WaitReason::of(&withdrawal.review_reasons, parked);
        let context = account_context(account, withdrawals, &withdrawal, now);
        Ok(Some(ReviewItem { account_id, withdrawal, queue, reasons, context }))
    }
}

fn account_context(
    account: &Account,
    withdrawals: &[Withdrawal],
    withdrawal: &Withdrawal,
    now: DateTime<Utc>,
) -> AccountContext {
    let binding_age_secs = account
        .binding(&withdrawal.binding_id)
        .and_then(|binding| binding.activated_at)
        .map(|activated| (now - activated).num_seconds());
    let recent_withdrawals = withdrawals
        .iter()
        .filter(|other| other.id != withdrawal.id)
        .take(RECENT_WITHDRAWALS)
        .map(|other| RecentWithdrawal {
            id: other.id.clone(),
            status: other.status,
            amount: other.amount.money(),
            created_at: other.created_at,
        })
        .collect();
    let (phone, email) = account.login.masked_phone_or_email();
    AccountContext {
        phone,
        email,
        level: account.level_at(now),
        frozen: account.frozen,
        available: account.ledger.get(LedgerAccount::UserAvailable),
        held: account.ledger.get(LedgerAccount::UserHeld),
        binding_age_secs,
        recent_withdrawals,
    }
}
