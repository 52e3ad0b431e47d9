//! Wiping a deployment on Redis: `SCAN` for every key under the prefix and
//! `UNLINK` them a batch at a time (the memory is freed in the background),
//! never `FLUSHALL`, since the Redis may hold other deployments. On a
//! cluster each master holds a part of the keys and `SCAN` walks one node,
//! so the wipe walks every master in turn, reached through one slot it
//! serves; an `UNLINK` of keys in several slots is split by slot by the
//! cluster client.

use async_trait::async_trait;
use redis::Value;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};

use super::{Connection, RedisStore, unavailable};
use crate::store::{StoreError, Wipe};

/// Keys asked for per `SCAN` step, and so deleted per `UNLINK` at most.
const SCAN_COUNT: usize = 1000;
/// Steps of one node's `SCAN` before the wipe gives up: a full iteration
/// always ends, this only bounds a keyspace that keeps growing under it.
const SCAN_STEPS_MAX: usize = 1_000_000;

#[async_trait]
impl Wipe for RedisStore {
    async fn wipe(&self) -> Result<u64, StoreError> {
        let pattern = format!("{}:*", glob_escaped(self.keys.prefix()));
        let mut removed = 0;
        match &self.connection {
            Connection::Single(_) => removed += self.wipe_node(None, &pattern).await?,
            Connection::Cluster(_) => {
                for slot in self.one_slot_per_master().await? {
                    removed += self.wipe_node(Some(slot), &pattern).await?;
                }
            }
        }
        Ok(removed)
    }
}

impl RedisStore {
    /// Deletes the keys matching `pattern` on one node: the single Redis, or
    /// the master serving `slot`.
    async fn wipe_node(&self, slot: Option<u16>, pattern: &str) -> Result<u64, StoreError> {
        let layout = self.keys.layout();
        let mut removed = 0;
        let mut cursor = 0u64;
        for _ in 0..SCAN_STEPS_MAX {
            let mut scan = redis::cmd("SCAN");
            scan.arg(cursor).arg("MATCH").arg(pattern).arg("COUNT").arg(SCAN_COUNT);
            let (next, keys): (u64, Vec<String>) = match slot {
                None => self.query(&scan).await?,
                Some(slot) => redis::from_redis_value(self.on_master_of(slot, scan).await?)
                    .map_err(|error| StoreError::Corrupt { key: "SCAN".into(), reason: error.to_string() })?,
            };
            let doomed: Vec<&String> = keys.iter().filter(|key| **key != layout).collect();
            if !doomed.is_empty() {
                let unlinked: u64 = self.query(redis::cmd("UNLINK").arg(&doomed)).await?;
                removed += unlinked;
            }
            if next == 0 {
                return Ok(removed);
            }
            cursor = next;
        }
        Err(StoreError::Unavailable(format!("the keys under {pattern} kept coming; the wipe stopped")))
    }

    /// Runs `command` on the master that serves `slot` (a cluster only).
    async fn on_master_of(&self, slot: u16, command: redis::Cmd) -> Result<Value, StoreError> {
        let Connection::Cluster(connection) = &self.connection else {
            return Err(StoreError::Unavailable("not a cluster".into()));
        };
        let routing = RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(Route::new(slot, SlotAddr::Master)));
        connection.route_command(command, routing).await.map_err(unavailable)
    }

    /// The first slot of each master's first range, from `CLUSTER SLOTS`:
    /// a way to reach every master through the cluster client's routing.
    async fn one_slot_per_master(&self) -> Result<Vec<u16>, StoreError> {
        let ranges: Value = self.query(&redis::cmd("CLUSTER").arg("SLOTS").to_owned()).await?;
        let corrupt = |reason: &str| StoreError::Corrupt { key: "CLUSTER SLOTS".into(), reason: reason.into() };
        let Value::Array(ranges) = ranges else { return Err(corrupt("not an array")) };
        let mut masters: Vec<(String, u16)> = Vec::new();
        for range in ranges {
            let Value::Array(fields) = range else { return Err(corrupt("a range is not an array")) };
            let (Some(Value::Int(start)), Some(Value::Array(master))) = (fields.first(), fields.get(2)) else {
                return Err(corrupt("a range has no start or master"));
            };
            let node = format!("{:?}{:?}", master.first(), master.get(1));
            let start = u16::try_from(*start).map_err(|_| corrupt("a slot out of range"))?;
            match masters.iter_mut().find(|(known, _)| *known == node) {
                Some((_, slot)) => *slot = (*slot).min(start),
                None => masters.push((node, start)),
            }
        }
        Ok(masters.into_iter().map(|(_, slot)| slot).collect())
    }
}

/// `text` with the characters `SCAN MATCH` reads as a pattern escaped, so a
/// prefix matches only itself.
fn glob_escaped(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::glob_escaped;

    #[test]
    fn a_prefix_is_matched_literally() {
        assert_eq!(glob_escaped("wg"), "wg");
        assert_eq!(glob_escaped("a*b?[c]\\"), "a\\*b\\?\\[c\\]\\\\");
    }
}
