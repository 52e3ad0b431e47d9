//! A partition's named documents on Redis: fields of its `documents` hash,
//! and the expiring ones keys of their own with a time to live (which a
//! listing by prefix does not walk: they are read by name).

use std::collections::HashSet;

use async_trait::async_trait;

use super::packing::{unpack, unpack_optional};
use super::{RedisStore, unavailable};
use crate::domain::account::AccountId;
use crate::store::{PartitionDocuments, StoreError};

#[async_trait]
impl PartitionDocuments for RedisStore {
    async fn partition_document(&self, id: &AccountId, name: &str) -> Result<Option<String>, StoreError> {
        // An expiring document is a key of its own (or, written by layout
        // v2, a field of the hash): the key wins. Read in this order, the
        // two need no transaction: a hash field of layout v2 is never
        // written again, so the pair reads as of the `GET`.
        let mut pipeline = redis::pipe();
        pipeline.cmd("GET").arg(self.keys.expiring_document(id, name));
        pipeline.cmd("HGET").arg(self.keys.documents(id)).arg(name);
        let mut connection = self.connection.clone();
        let (apart, in_hash): (Option<Vec<u8>>, Option<Vec<u8>>) =
            pipeline.query_async(&mut connection).await.map_err(unavailable)?;
        unpack_optional(&format!("{id}/{name}"), apart.or(in_hash))
    }

    async fn partition_documents(&self, id: &AccountId, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        // A partition holds one user's documents; HSCAN with MATCH still reads
        // the whole hash, so one HGETALL is as cheap and simpler. Expiring
        // documents are not listed (by contract): the hash may still hold
        // some written by layout v2, and those are left out too.
        // (Those are never added to again, so reading their index first
        // needs no transaction.)
        let mut pipeline = redis::pipe();
        pipeline.cmd("ZRANGE").arg(self.keys.expiring(id)).arg(0).arg(-1);
        pipeline.cmd("HGETALL").arg(self.keys.documents(id));
        let mut connection = self.connection.clone();
        let (expiring, all): (HashSet<String>, Vec<(String, Vec<u8>)>) =
            pipeline.query_async(&mut connection).await.map_err(unavailable)?;
        let mut matching: Vec<(String, String)> = all
            .into_iter()
            .filter(|(name, _)| name.starts_with(prefix) && !expiring.contains(name))
            .map(|(name, body)| {
                let body = unpack(&format!("{id}/{name}"), body)?;
                Ok((name, body))
            })
            .collect::<Result<_, StoreError>>()?;
        matching.sort();
        Ok(matching)
    }

    async fn delete_partition_document(&self, id: &AccountId, name: &str) -> Result<(), StoreError> {
        let mut pipeline = redis::pipe();
        pipeline.cmd("HDEL").arg(self.keys.documents(id)).arg(name).ignore();
        pipeline.cmd("DEL").arg(self.keys.expiring_document(id, name)).ignore();
        let mut connection = self.connection.clone();
        let _: () = pipeline.query_async(&mut connection).await.map_err(unavailable)?;
        Ok(())
    }
}
