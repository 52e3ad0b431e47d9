//! Documents on Redis: a hash per collection, `<id>` → body and `<id>#v` →
//! version, saved by `save_documents.lua`. Every collection shares one hash
//! tag, so a save of several is one single-slot script on a cluster too.

use async_trait::async_trait;

use super::{RedisStore, unavailable};
use crate::store::{CommitOutcome, DocumentWrite, Documents, StoreError, Versioned};

#[async_trait]
impl Documents for RedisStore {
    async fn load_document(&self, collection: &str, id: &str) -> Result<Option<Versioned<String>>, StoreError> {
        let key = self.keys.collection(collection);
        let (body, version): (Option<String>, Option<u64>) =
            self.query(redis::cmd("HMGET").arg(&key).arg(id).arg(format!("{id}#v"))).await?;
        Ok(body.zip(version).map(|(value, version)| Versioned { version, value }))
    }

    async fn load_documents(&self, ids: &[(&str, &str)]) -> Result<Vec<Option<Versioned<String>>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipeline = redis::pipe();
        for (collection, id) in ids {
            pipeline.cmd("HMGET").arg(self.keys.collection(collection)).arg(*id).arg(format!("{id}#v"));
        }
        let mut connection = self.connection.clone();
        let found: Vec<(Option<String>, Option<u64>)> =
            pipeline.query_async(&mut connection).await.map_err(unavailable)?;
        Ok(found
            .into_iter()
            .map(|(body, version)| body.zip(version).map(|(value, version)| Versioned { version, value }))
            .collect())
    }

    async fn save_documents(&self, writes: &[DocumentWrite<'_>]) -> Result<CommitOutcome, StoreError> {
        if writes.is_empty() {
            return Ok(CommitOutcome::Committed);
        }
        let keys: Vec<String> = writes.iter().map(|write| self.keys.collection(write.collection)).collect();
        let mut invocation = self.save_documents.prepare_invoke();
        for (write, key) in writes.iter().zip(&keys) {
            invocation.key(key).arg(write.id).arg(write.expected_version).arg(write.body);
        }
        let saved: i64 = self.run_script(&keys, &invocation).await?;
        Ok(if saved == 1 { CommitOutcome::Committed } else { CommitOutcome::VersionConflict })
    }

    async fn list_documents(&self, collection: &str, limit: usize) -> Result<Vec<(String, String)>, StoreError> {
        // Collections are small (mock provider data); HSCAN would page a large one.
        let fields: Vec<(String, String)> =
            self.query(redis::cmd("HGETALL").arg(self.keys.collection(collection))).await?;
        Ok(fields.into_iter().filter(|(field, _)| !field.ends_with("#v")).take(limit).collect())
    }
}
