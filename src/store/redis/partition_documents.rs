//! A partition's named documents on Redis: fields of its record's hash
//! (`d:<name>`, layout `v5`) or, for a partition created before, of its
//! `documents` hash; the expiring ones are keys of their own with a time to
//! live (which a listing by prefix does not walk: they are read by name).

use std::collections::HashSet;

use async_trait::async_trait;

use super::keys::document_field;
use super::packing::{unpack, unpack_optional};
use super::wipe::glob_escaped;
use super::{RedisStore, unavailable};
use crate::domain::account::AccountId;
use crate::store::{PartitionDocuments, StoreError};

/// Fields asked for per `HSCAN` step of a listing.
const HSCAN_COUNT: usize = 1000;
/// Steps of one listing's `HSCAN` before it gives up: a full iteration
/// always ends, this only bounds a hash that keeps growing under it.
const HSCAN_STEPS_MAX: usize = 10_000;

#[async_trait]
impl PartitionDocuments for RedisStore {
    async fn partition_document(&self, id: &AccountId, name: &str) -> Result<Option<String>, StoreError> {
        // An expiring document is a key of its own (or, written by layout
        // v2, a field of the `documents` hash): the key wins. Read in this
        // order, the three need no transaction: a hash field of layout v2
        // is never written again, so they read as of the `GET`.
        let mut pipeline = redis::pipe();
        pipeline.cmd("GET").arg(self.keys.expiring_document(id, name));
        pipeline.cmd("HGET").arg(self.keys.account(id)).arg(document_field(name));
        pipeline.cmd("HGET").arg(self.keys.documents(id)).arg(name);
        let mut connection = self.connection.clone();
        let (apart, in_record, in_hash): (Option<Vec<u8>>, Option<Vec<u8>>, Option<Vec<u8>>) =
            pipeline.query_async(&mut connection).await.map_err(unavailable)?;
        unpack_optional(&format!("{id}/{name}"), apart.or(in_record).or(in_hash))
    }

    async fn partition_documents(&self, id: &AccountId, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        // A partition created before layout v5 keeps its documents in a hash
        // of their own: one HGETALL reads them. Expiring documents are not
        // listed (by contract): that hash may still hold some written by
        // layout v2, and those are left out too. (Those are never added to
        // again, so reading their index first needs no transaction.)
        let mut pipeline = redis::pipe();
        pipeline.cmd("ZRANGE").arg(self.keys.expiring(id)).arg(0).arg(-1);
        pipeline.cmd("HGETALL").arg(self.keys.documents(id));
        let mut connection = self.connection.clone();
        let (expiring, before_v5): (HashSet<String>, Vec<(String, Vec<u8>)>) =
            pipeline.query_async(&mut connection).await.map_err(unavailable)?;
        let mut matching: Vec<(String, Vec<u8>)> =
            before_v5.into_iter().filter(|(name, _)| name.starts_with(prefix) && !expiring.contains(name)).collect();
        // A partition of layout v5 keeps them in its record's hash, beside
        // its events: HSCAN walks it and hands back only the matching ones.
        let key = self.keys.account(id);
        let pattern = format!("{}*", glob_escaped(&document_field(prefix)));
        let mut cursor = 0u64;
        for _ in 0..HSCAN_STEPS_MAX {
            let step = redis::cmd("HSCAN")
                .arg(&key)
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(HSCAN_COUNT)
                .to_owned();
            let (next, fields): (u64, Vec<(String, Vec<u8>)>) = self.query(&step).await?;
            matching.extend(fields.into_iter().filter_map(|(field, body)| {
                let name = field.strip_prefix("d:")?;
                (name.starts_with(prefix) && !expiring.contains(name)).then(|| (name.to_owned(), body))
            }));
            if next == 0 {
                let mut listed = Vec::with_capacity(matching.len());
                for (name, body) in matching {
                    let body = unpack(&format!("{id}/{name}"), body)?;
                    listed.push((name, body));
                }
                listed.sort();
                return Ok(listed);
            }
            cursor = next;
        }
        Err(StoreError::Unavailable(format!("the fields of {key} kept coming; the listing stopped")))
    }

    async fn delete_partition_document(&self, id: &AccountId, name: &str) -> Result<(), StoreError> {
        let mut pipeline = redis::pipe();
        pipeline.cmd("HDEL").arg(self.keys.account(id)).arg(document_field(name)).ignore();
        pipeline.cmd("HDEL").arg(self.keys.documents(id)).arg(name).ignore();
        pipeline.cmd("DEL").arg(self.keys.expiring_document(id, name)).ignore();
        let mut connection = self.connection.clone();
        let _: () = pipeline.query_async(&mut connection).await.map_err(unavailable)?;
        Ok(())
    }
}
