//! Documents as Rust values: the store keeps JSON text, and these helpers
//! encode and decode it in one place, so a caller reads a `Withdrawal` rather
//! than a string and a bad body is one `StoreError::Corrupt` naming where it
//! was found.
//!
//! Each helper is a provided method of an extension trait implemented for
//! every store of its data model (`dyn Store` included), so
//! `store.load_document_as::<User>("users", id)` works wherever the store's
//! traits are in scope (`use crate::store::prelude::*`). A document written
//! into an `AccountCommit` is encoded with [`encode_document`]; one read with
//! `load_account_with` is decoded with [`decode_document`].

use std::future::Future;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{CommitOutcome, Documents, EphemeralValues, PartitionDocuments, StoreError, Versioned};
use crate::domain::account::AccountId;

/// A value as the JSON text the store keeps.
pub fn encode_document<T: Serialize + ?Sized>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt { key: "encode".into(), reason: e.to_string() })
}

/// As `encode_document`, kept as JSON that another document may embed as
/// it is (`&RawValue` serializes verbatim), so one text serves both.
pub fn encode_raw_document<T: Serialize + ?Sized>(value: &T) -> Result<Box<serde_json::value::RawValue>, StoreError> {
    serde_json::value::to_raw_value(value)
        .map_err(|e| StoreError::Corrupt { key: "encode".into(), reason: e.to_string() })
}

/// The value a stored JSON text holds; `key` says where it was read, for the error.
pub fn decode_document<T: DeserializeOwned>(key: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt { key: key.to_owned(), reason: e.to_string() })
}

/// [`Documents`] as typed values.
pub trait TypedDocuments: Documents {
    /// A document decoded as `T`, with its version.
    fn load_document_as<T: DeserializeOwned>(
        &self,
        collection: &str,
        id: &str,
    ) -> impl Future<Output = Result<Option<Versioned<T>>, StoreError>> + Send {
        async move {
            let Some(found) = self.load_document(collection, id).await? else { return Ok(None) };
            let value = decode_document(&format!("{collection}/{id}"), &found.value)?;
            Ok(Some(Versioned { version: found.version, value }))
        }
    }

    /// Compare-and-set of one document from a value (see `Documents::save_document`).
    fn save_document_as<T: Serialize + ?Sized>(
        &self,
        collection: &str,
        id: &str,
        expected_version: u64,
        value: &T,
    ) -> impl Future<Output = Result<CommitOutcome, StoreError>> + Send {
        // Encoded before the future starts, so the future holds text, not the value.
        let body = encode_document(value);
        async move { self.save_document(collection, id, expected_version, &body?).await }
    }
}

impl<S: Documents + ?Sized> TypedDocuments for S {}

/// [`PartitionDocuments`] as typed values.
pub trait TypedPartitionDocuments: PartitionDocuments {
    /// One named document of a partition, decoded as `T`.
    fn partition_document_as<T: DeserializeOwned>(
        &self,
        id: &AccountId,
        name: &str,
    ) -> impl Future<Output = Result<Option<T>, StoreError>> + Send {
        async move {
            let Some(text) = self.partition_document(id, name).await? else { return Ok(None) };
            decode_document(&format!("{id}/{name}"), &text).map(Some)
        }
    }

    /// The documents of a partition whose names start with `prefix`, decoded
    /// as `T`, as `(name, value)` sorted by name. One bad body fails the whole read.
    fn partition_documents_as<T: DeserializeOwned>(
        &self,
        id: &AccountId,
        prefix: &str,
    ) -> impl Future<Output = Result<Vec<(String, T)>, StoreError>> + Send {
        async move {
            let found = self.partition_documents(id, prefix).await?;
            found
                .into_iter()
                .map(|(name, text)| {
                    let value = decode_document(&format!("{id}/{name}"), &text)?;
                    Ok((name, value))
                })
                .collect()
        }
    }
}

impl<S: PartitionDocuments + ?Sized> TypedPartitionDocuments for S {}

/// [`EphemeralValues`] as typed values.
pub trait TypedEphemeralValues: EphemeralValues {
    /// Stores a value for at least `ttl` (see `EphemeralValues::put_ephemeral`).
    fn put_ephemeral_as<T: Serialize + ?Sized>(
        &self,
        key: &str,
        value: &T,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        let text = encode_document(value);
        async move { self.put_ephemeral(key, &text?, ttl).await }
    }

    /// Takes a value once (see `EphemeralValues::take_ephemeral`), decoded as `T`.
    fn take_ephemeral_as<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<T>, StoreError>> + Send {
        async move {
            let Some(text) = self.take_ephemeral(key).await? else { return Ok(None) };
            decode_document(key, &text).map(Some)
        }
    }

    /// Reads a value without taking it, decoded as `T`.
    fn get_ephemeral_as<T: DeserializeOwned>(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<T>, StoreError>> + Send {
        async move {
            let Some(text) = self.get_ephemeral(key).await? else { return Ok(None) };
            decode_document(key, &text).map(Some)
        }
    }
}

impl<S: EphemeralValues + ?Sized> TypedEphemeralValues for S {}

#[cfg(test)]
mod tests {
    use serde::{Deserialize, Serialize};

    use super::{TypedDocuments, decode_document, encode_document};
    use crate::store::{CommitOutcome, MemoryStore, SharedStore, StoreError};

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Bill {
        number: String,
        paid: bool,
    }

    #[test]
    fn a_value_encodes_to_the_json_it_decodes_from() {
        let bill = Bill { number: "b1".into(), paid: true };
        let text = encode_document(&bill).unwrap();
        assert_eq!(text, r#"{"number":"b1","paid":true}"#);
        assert_eq!(decode_document::<Bill>("bills/b1", &text).unwrap(), bill);
    }

    #[test]
    fn a_body_that_does_not_decode_names_where_it_was_found() {
        let error = decode_document::<Bill>("bills/b1", r#"{"number":"b1"}"#).unwrap_err();
        assert!(matches!(&error, StoreError::Corrupt { key, .. } if key == "bills/b1"), "{error}");
    }

    #[tokio::test]
    async fn the_helpers_work_through_a_shared_store() {
        let store: SharedStore = std::sync::Arc::new(MemoryStore::new());
        let bill = Bill { number: "b2".into(), paid: false };
        assert_eq!(store.save_document_as("bills", "b2", 0, &bill).await.unwrap(), CommitOutcome::Committed);
        let loaded = store.load_document_as::<Bill>("bills", "b2").await.unwrap().unwrap();
        assert_eq!((loaded.version, loaded.value), (1, bill));
    }
}
