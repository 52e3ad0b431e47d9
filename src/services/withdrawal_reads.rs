//! Reading withdrawals back: a user's, newest first, one by id, and the
//! index from a withdrawal's id to its account (for operators, who know
//! only the id).

use super::keys::{withdrawal_document, withdrawal_index_key};
use crate::domain::account::AccountId;
use crate::domain::withdrawal::{Withdrawal, WithdrawalId};
use crate::error::ApiError;
use crate::store::SharedStore;
use crate::store::typed::TypedPartitionDocuments;

/// A user's withdrawals as stored, and the index from a withdrawal to its account.
#[derive(Debug, Clone)]
pub struct WithdrawalReads {
    pub store: SharedStore,
}

impl WithdrawalReads {
    /// The account a withdrawal belongs to, by the withdrawal's id alone.
    pub async fn withdrawal_owner(&self, withdrawal_id: &WithdrawalId) -> Result<AccountId, ApiError> {
        let owner = self.store.get_index(&withdrawal_index_key(withdrawal_id)).await?;
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
}
