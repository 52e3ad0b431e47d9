//! Documents on Redis: a hash per collection, `<id>` → body and `<id>#v` →
//! version, saved by `save_documents.lua`. Every collection shares one hash
//! tag, so a save of several is one single-slot script on a cluster too.
//! A collection kept apart (`store::kept_apart`) has a hash per document
//! with the same fields, under the document's own tag, and a set of its ids
//! for listing: an id joins the set just before its document is first saved
//! (an id whose save then does not land lists nothing: a reader skips it).

use async_trait::async_trait;

use super::keys::one_slot;
use super::{RedisStore, unavailable};
use crate::store::{CommitOutcome, DocumentWrite, Documents, StoreError, Versioned, kept_apart};

#[async_trait]
impl Documents for RedisStore {
    async fn load_document(&self, collection: &str, id: &str) -> Result<Option<Versioned<String>>, StoreError> {
        let key = self.keys.document(collection, id);
        let (body, version): (Option<String>, Option<u64>) =
            self.query(redis::cmd("HMGET").arg(&key).arg(id).arg(format!("{id}#v"))).await?;
        Ok(body.zip(version).map(|(value, version)| Versioned { version, value }))
    }

    async fn load_documents(&self, ids: &[(&str, &str)]) -> Result<Vec<Option<Versioned<String>>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<String> = ids.iter().map(|(collection, id)| self.keys.document(collection, id)).collect();
        let found: Vec<(Option<String>, Option<u64>)> = if one_slot(keys.iter().map(String::as_str)).is_ok() {
            let mut pipeline = redis::pipe();
            for ((_, id), key) in ids.iter().zip(&keys) {
                pipeline.cmd("HMGET").arg(key).arg(*id).arg(format!("{id}#v"));
            }
            let mut connection = self.connection.clone();
            pipeline.query_async(&mut connection).await.map_err(unavailable)?
        } else {
            // Documents kept apart lie in several slots: one read each, all in flight at once.
            let reads = ids.iter().zip(&keys).map(|((_, id), key)| {
                let mut read = redis::cmd("HMGET");
                read.arg(key).arg(*id).arg(format!("{id}#v"));
                async move { self.query::<(Option<String>, Option<u64>)>(&read).await }
            });
            futures_util::future::try_join_all(reads).await?
        };
        Ok(found
            .into_iter()
            .map(|(body, version)| body.zip(version).map(|(value, version)| Versioned { version, value }))
            .collect())
    }

    async fn save_documents(&self, writes: &[DocumentWrite<'_>]) -> Result<CommitOutcome, StoreError> {
        if writes.is_empty() {
            return Ok(CommitOutcome::Committed);
        }
        let keys: Vec<String> = writes.iter().map(|write| self.keys.document(write.collection, write.id)).collect();
        for write in writes.iter().filter(|write| write.expected_version == 0 && kept_apart(write.collection)) {
            let _: i64 =
                self.query(redis::cmd("SADD").arg(self.keys.document_ids(write.collection)).arg(write.id)).await?;
        }
        let mut invocation = self.save_documents.prepare_invoke();
        for (write, key) in writes.iter().zip(&keys) {
            invocation.key(key).arg(write.id).arg(write.expected_version).arg(write.body);
        }
        let saved: i64 = self.run_script(&keys, &invocation).await?;
        Ok(if saved == 1 { CommitOutcome::Committed } else { CommitOutcome::VersionConflict })
    }

    async fn list_documents(&self, collection: &str, limit: usize) -> Result<Vec<(String, String)>, StoreError> {
        if kept_apart(collection) {
            return self.list_apart(collection, limit).await;
        }
        // Collections are small (mock provider data); HSCAN would page a large one.
        let fields: Vec<(String, String)> =
            self.query(redis::cmd("HGETALL").arg(self.keys.collection(collection))).await?;
        Ok(fields.into_iter().filter(|(field, _)| !field.ends_with("#v")).take(limit).collect())
    }
}

impl RedisStore {
    /// Up to `limit` documents of a collection kept apart, by its set of ids.
    async fn list_apart(&self, collection: &str, limit: usize) -> Result<Vec<(String, String)>, StoreError> {
        // Such collections are small too (a tester's mock users); SSCAN would page a large one.
        let ids: Vec<String> = self.query(redis::cmd("SMEMBERS").arg(self.keys.document_ids(collection))).await?;
        let mut listed = Vec::new();
        for chunk in ids.chunks(LISTED_PER_ROUND_TRIP) {
            let wanted: Vec<(&str, &str)> = chunk.iter().map(|id| (collection, id.as_str())).collect();
            let found = self.load_documents(&wanted).await?;
            listed.extend(chunk.iter().zip(found).filter_map(|(id, doc)| doc.map(|doc| (id.clone(), doc.value))));
            if listed.len() >= limit {
                break;
            }
        }
        listed.truncate(limit);
        Ok(listed)
    }
}

/// How many documents a listing reads in one pipeline.
const LISTED_PER_ROUND_TRIP: usize = 500;
