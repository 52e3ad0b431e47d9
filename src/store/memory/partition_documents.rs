//! A partition's named documents in memory, read outside a commit.

use async_trait::async_trait;

use super::MemoryStore;
use crate::domain::account::AccountId;
use crate::store::{PartitionDocuments, StoreError};

#[async_trait]
impl PartitionDocuments for MemoryStore {
    async fn partition_document(&self, id: &AccountId, name: &str) -> Result<Option<String>, StoreError> {
        Ok(self.state().partitions.get(id).and_then(|p| p.documents.get(name).cloned()))
    }

    async fn partition_documents(&self, id: &AccountId, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        let mut matching: Vec<(String, String)> = {
            let state = self.state();
            let Some(partition) = state.partitions.get(id) else { return Ok(Vec::new()) };
            // Expiring documents are read by name only (as on Redis, where they are keys of their own).
            let listed = |name: &String| name.starts_with(prefix) && partition.expiring.times.get(name).is_none();
            let named = partition.documents.iter().filter(|(name, _)| listed(name));
            named.map(|(name, body)| (name.clone(), body.clone())).collect()
        };
        matching.sort();
        Ok(matching)
    }

    async fn delete_partition_document(&self, id: &AccountId, name: &str) -> Result<(), StoreError> {
        if let Some(partition) = self.state().partitions.get_mut(id) {
            partition.documents.remove(name);
        }
        Ok(())
    }
}
