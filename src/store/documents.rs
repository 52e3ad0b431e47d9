//! Documents: versioned JSON records in named collections, outside any
//! account partition (mock WeChat users, transfer bills).
//!
//! Each changes by compare-and-set on its own version, like a partition, and
//! several change at once when they must agree (the mock Alipay's order and
//! its payee's account). A collection whose name ends in `APART_SUFFIX`
//! keeps each document apart instead: on Redis every such document is a key
//! of its own under its own hash tag, so a busy collection spreads over a
//! cluster's slots rather than heating one; its documents change one at a
//! time (the mock WeChat Pay's bills and wallets: each step of a payout
//! changes one, see `providers::wechat::mock::payouts`).
//!
//! Why each primitive exists:
//! - `load_document` / `load_documents`: read one, or several of any
//!   collections in one round trip, with the versions a save will expect;
//! - `save_documents`: the all-or-none compare-and-set of several;
//! - `save_document`: the common case of one (a default method over `save_documents`);
//! - `list_documents`: walk a small collection (the mock provider's lists).

use async_trait::async_trait;

use super::{CommitOutcome, StoreError, Versioned};

/// The end of a collection's name whose documents are kept apart (see above).
pub const APART_SUFFIX: &str = ":apart";

/// Whether `collection` keeps each of its documents apart.
pub fn kept_apart(collection: &str) -> bool {
    collection.ends_with(APART_SUFFIX)
}

#[async_trait]
pub trait Documents: Send + Sync {
    async fn load_document(&self, collection: &str, id: &str) -> Result<Option<Versioned<String>>, StoreError>;

    /// Several documents (of any collections) in one round trip, `None` where missing.
    async fn load_documents(&self, ids: &[(&str, &str)]) -> Result<Vec<Option<Versioned<String>>>, StoreError>;

    /// Compare-and-set of several documents at once: all are written (each
    /// one version up) if every one is at its expected version, else none.
    /// Documents kept apart are saved one per call (on Redis, several of
    /// them lie in different slots and the save is refused as corrupt).
    async fn save_documents(&self, writes: &[DocumentWrite<'_>]) -> Result<CommitOutcome, StoreError>;

    /// Compare-and-set of one document. `expected_version` 0 means "create:
    /// must not exist yet"; the stored version is then 1.
    async fn save_document(
        &self,
        collection: &str,
        id: &str,
        expected_version: u64,
        body: &str,
    ) -> Result<CommitOutcome, StoreError> {
        self.save_documents(&[DocumentWrite { collection, id, expected_version, body }]).await
    }

    /// Up to `limit` documents of a collection as `(id, body)`, in no particular order.
    async fn list_documents(&self, collection: &str, limit: usize) -> Result<Vec<(String, String)>, StoreError>;
}

/// One document of a multi-document compare-and-set (see `Documents::save_documents`).
#[derive(Debug, Clone, Copy)]
pub struct DocumentWrite<'a> {
    pub collection: &'a str,
    pub id: &'a str,
    /// 0: create, must not exist yet.
    pub expected_version: u64,
    pub body: &'a str,
}
