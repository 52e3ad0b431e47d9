//! Documents in memory: one map of `(version, body)` per collection.

use async_trait::async_trait;

use super::{MemoryStore, State};
use crate::store::{CommitOutcome, DocumentWrite, Documents, StoreError, Versioned};

#[async_trait]
impl Documents for MemoryStore {
    async fn load_document(&self, collection: &str, id: &str) -> Result<Option<Versioned<String>>, StoreError> {
        let state = self.state();
        let found = state.documents.get(collection).and_then(|documents| documents.get(id));
        Ok(found.map(|(version, body)| Versioned { version: *version, value: body.clone() }))
    }

    async fn load_documents(&self, ids: &[(&str, &str)]) -> Result<Vec<Option<Versioned<String>>>, StoreError> {
        let state = self.state();
        Ok(ids
            .iter()
            .map(|(collection, id)| {
                let found = state.documents.get(*collection).and_then(|documents| documents.get(id));
                found.map(|(version, body)| Versioned { version: *version, value: body.clone() })
            })
            .collect())
    }

    async fn save_documents(&self, writes: &[DocumentWrite<'_>]) -> Result<CommitOutcome, StoreError> {
        let mut state = self.state();
        let version_of = |state: &State, write: &DocumentWrite<'_>| {
            let found = state.documents.get(write.collection).and_then(|documents| documents.get(write.id));
            found.map_or(0, |(version, _)| *version)
        };
        if writes.iter().any(|write| version_of(&state, write) != write.expected_version) {
            return Ok(CommitOutcome::VersionConflict);
        }
        for write in writes {
            let documents = state.documents.entry(write.collection.to_owned()).or_default();
            documents.insert(write.id.to_owned(), (write.expected_version + 1, write.body.to_owned()));
        }
        Ok(CommitOutcome::Committed)
    }

    async fn list_documents(&self, collection: &str, limit: usize) -> Result<Vec<(String, String)>, StoreError> {
        let state = self.state();
        let Some(documents) = state.documents.get(collection) else {
            return Ok(Vec::new());
        };
        Ok(documents.iter().take(limit).map(|(id, (_, body))| (id.clone(), body.clone())).collect())
    }
}
