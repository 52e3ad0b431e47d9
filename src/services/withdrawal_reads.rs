//! Reading withdrawals back: a user's, newest first, one by id, the way
//! from a withdrawal's id to its account (for operators, who know only the
//! id: its entry in the list below, or an index entry for one made before),
//! and operators' list across accounts.
//!
//! The list across accounts is `WITHDRAWAL_LIST`, a schedule scored by
//! creation time whose entry the creating commit sets in the account's
//! shard, read newest first across shards; a status filter reads the
//! withdrawals of the entries it passes (at most `LIST_SCAN_MAX` a
//! request). Withdrawals created before the list existed join it at their
//! next change; finished ones never do, but one account's list (filtered by
//! `account_id`) reads the partition itself and so has them all.

use super::keys::{WITHDRAWAL_LIST, member_parts, review_member, withdrawal_document, withdrawal_index_key};
use super::listing::{ScannedPage, scan_list};
use crate::domain::account::AccountId;
use crate::domain::withdrawal::{Withdrawal, WithdrawalId, WithdrawalStatus};
use crate::error::ApiError;
use crate::store::typed::TypedPartitionDocuments;
use crate::store::{ScheduleOrder, SchedulePosition, SharedStore, owner_by_subject};

/// Which withdrawals an operator lists.
#[derive(Debug, Clone, Default)]
pub struct WithdrawalFilter {
    pub account_id: Option<AccountId>,
    pub status: Option<WithdrawalStatus>,
}

/// A withdrawal in operators' list, with its account.
#[derive(Debug)]
pub struct ListedWithdrawal {
    pub account_id: AccountId,
    pub withdrawal: Withdrawal,
}

/// A user's withdrawals as stored, and the index from a withdrawal to its account.
#[derive(Debug, Clone)]
pub struct WithdrawalReads {
    pub store: SharedStore,
}

impl WithdrawalReads {
    /// The account a withdrawal belongs to, by the withdrawal's id alone:
    /// its entry in the list of withdrawals, at the time its id names (see
    /// `Withdrawals::new_withdrawal_id`), or for one made otherwise (before
    /// ids named their time, or the rare one the list cannot lead to) its
    /// index entry.
    pub async fn withdrawal_owner(&self, withdrawal_id: &WithdrawalId) -> Result<AccountId, ApiError> {
        let index_key = withdrawal_index_key(withdrawal_id);
        let created_ms = withdrawal_id.created_ms();
        let subject = withdrawal_id.as_str();
        let owner = owner_by_subject(&*self.store, WITHDRAWAL_LIST, subject, created_ms, &index_key).await?;
        owner.as_deref().and_then(AccountId::parse).ok_or(ApiError::NotFound { resource: "withdrawal" })
    }

    /// The account's withdrawals, newest first.
    pub async fn withdrawals(&self, account_id: &AccountId) -> Result<Vec<Withdrawal>, ApiError> {
        let documents = self.store.partition_documents_as::<Withdrawal>(account_id, "withdrawal:").await?;
        let mut withdrawals: Vec<Withdrawal> = documents.into_iter().map(|(_, withdrawal)| withdrawal).collect();
        // Ids are time-ordered (UUIDv7), so newest first is descending id.
        withdrawals.sort_by(|a, b| b.id.cmp(&a.id));
        Ok(withdrawals)
    }

    pub async fn withdrawal(&self, account_id: &AccountId, id: &WithdrawalId) -> Result<Withdrawal, ApiError> {
        let found = self.store.partition_document_as(account_id, &withdrawal_document(id)).await?;
        found.ok_or(ApiError::NotFound { resource: "withdrawal" })
    }

    /// Up to `wanted` withdrawals across accounts (or of one), newest first
    /// by creation time (then by account and id), beyond `from`. An account
    /// that does not exist is 404.
    pub async fn list_withdrawals(
        &self,
        filter: &WithdrawalFilter,
        from: Option<&SchedulePosition>,
        wanted: usize,
    ) -> Result<ScannedPage<ListedWithdrawal>, ApiError> {
        let status = filter.status;
        if let Some(account_id) = &filter.account_id {
            return self.account_withdrawals(account_id, status, from, wanted).await;
        }
        scan_list(&self.store, WITHDRAWAL_LIST, ScheduleOrder::NewestFirst, from, wanted, async |member, _| {
            let Some((account_id, id)) = member_parts(member) else { return Ok(None) };
            let Some(id) = WithdrawalId::parse(id) else { return Ok(None) };
            let found: Option<Withdrawal> =
                self.store.partition_document_as(&account_id, &withdrawal_document(&id)).await?;
            let listed = found.filter(|withdrawal| status.is_none_or(|status| withdrawal.status == status));
            Ok(listed.map(|withdrawal| ListedWithdrawal { account_id, withdrawal }))
        })
        .await
    }

    /// One account's part of the list, read from its partition (so with
    /// the withdrawals the list never had), in the list's order and positions.
    async fn account_withdrawals(
        &self,
        account_id: &AccountId,
        status: Option<WithdrawalStatus>,
        from: Option<&SchedulePosition>,
        wanted: usize,
    ) -> Result<ScannedPage<ListedWithdrawal>, ApiError> {
        if self.store.load_account(account_id).await?.is_none() {
            return Err(ApiError::NotFound { resource: "account" });
        }
        let mut listed: Vec<(SchedulePosition, ListedWithdrawal)> = self
            .withdrawals(account_id)
            .await?
            .into_iter()
            .filter(|withdrawal| status.is_none_or(|status| withdrawal.status == status))
            .map(|withdrawal| {
                let at_ms = withdrawal.created_at.timestamp_millis();
                let position = SchedulePosition::new(at_ms, review_member(account_id, &withdrawal.id));
                (position, ListedWithdrawal { account_id: account_id.clone(), withdrawal })
            })
            .filter(|(position, _)| {
                from.is_none_or(|from| from.is_before(position.at_ms, &position.member, ScheduleOrder::NewestFirst))
            })
            .collect();
        listed.sort_by(|a, b| b.0.cmp(&a.0));
        listed.truncate(wanted);
        Ok(ScannedPage { items: listed, stopped_at: None })
    }
}
