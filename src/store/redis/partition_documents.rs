//! A partition's named documents on Redis: fields of its `documents` hash.

use async_trait::async_trait;

use super::RedisStore;
use crate::domain::account::AccountId;
use crate::store::{PartitionDocuments, StoreError};

#[async_trait]
impl PartitionDocuments for RedisStore {
    async fn partition_document(&self, id: &AccountId, name: &str) -> Result<Option<String>, StoreError> {
        self.query(redis::cmd("HGET").arg(self.keys.documents(id)).arg(name)).await
    }

    async fn partition_documents(&self, id: &AccountId, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        // A partition holds one user's documents; HSCAN with MATCH still reads
        // the whole hash, so one HGETALL is as cheap and simpler.
        let all: Vec<(String, String)> = self.query(redis::cmd("HGETALL").arg(self.keys.documents(id))).await?;
        let mut matching: Vec<(String, String)> =
            all.into_iter().filter(|(name, _)| name.starts_with(prefix)).collect();
        matching.sort();
        Ok(matching)
    }

    async fn delete_partition_document(&self, id: &AccountId, name: &str) -> Result<(), StoreError> {
        let _: i64 = self.query(redis::cmd("HDEL").arg(self.keys.documents(id)).arg(name)).await?;
        Ok(())
    }
}
