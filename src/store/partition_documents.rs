//! A partition's named documents, read (and one kind removed) outside a commit.
//!
//! The documents themselves are written only by `commit_account`, with the
//! record they belong to; this trait is the way to them when no decision is
//! being made.
//!
//! Why each primitive exists:
//! - `partition_document`: one record by name (a withdrawal, a saved reply),
//!   when the account record itself is not needed;
//! - `partition_documents`: the records of one kind by name prefix (a
//!   user's withdrawals, the notifications waiting for delivery);
//! - `delete_partition_document`: drops a record no decision reads (a
//!   delivered notification) without bumping the partition's version, so
//!   delivery never conflicts with a money-moving commit.

use async_trait::async_trait;

use super::StoreError;
use crate::domain::account::AccountId;

#[async_trait]
pub trait PartitionDocuments: Send + Sync {
    /// One named document of an account partition.
    async fn partition_document(&self, id: &AccountId, name: &str) -> Result<Option<String>, StoreError>;

    /// The documents of a partition whose names start with `prefix`, as
    /// `(name, body)`, sorted by name. Expiring documents (saved replies) are
    /// not listed: they are read by name.
    async fn partition_documents(&self, id: &AccountId, prefix: &str) -> Result<Vec<(String, String)>, StoreError>;

    /// Removes a named document of a partition that no decision reads (a
    /// delivered notification), without a version change.
    async fn delete_partition_document(&self, id: &AccountId, name: &str) -> Result<(), StoreError>;
}
