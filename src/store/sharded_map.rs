//! A string-keyed hash map split into shards, for the memory store's maps that
//! grow with traffic (indexes, schedules, documents, short-lived values).
//!
//! A `HashMap` grows by rehashing every entry at once; with a million entries
//! under the store's one lock, that pauses every request for tens of
//! milliseconds. Here growing rehashes one shard, a sixty-fourth of the map,
//! and a sweep can work shard by shard.
//!
//! Keys are hashed with foldhash, seeded per map: several times faster than
//! the standard SipHash on the store's long keys, and still unpredictable to
//! a client choosing keys.

use std::collections::HashMap;
use std::hash::BuildHasher;

use foldhash::fast::RandomState;

pub const SHARDS: usize = 64;

#[derive(Debug)]
pub struct ShardedMap<V> {
    hasher: RandomState,
    shards: Box<[HashMap<String, V, RandomState>]>,
}

impl<V> Default for ShardedMap<V> {
    fn default() -> ShardedMap<V> {
        // The shards hash with seeds of their own: keys that share a shard
        // share the bits that chose it, which must not also place them within it.
        ShardedMap {
            hasher: RandomState::default(),
            shards: (0..SHARDS).map(|_| HashMap::with_hasher(RandomState::default())).collect(),
        }
    }
}

impl<V> ShardedMap<V> {
    /// Which shard holds `key`.
    pub fn shard_of(&self, key: &str) -> usize {
        (self.hasher.hash_one(key) % SHARDS as u64) as usize
    }

    /// One shard, to sweep or count on its own.
    pub fn shard_mut(&mut self, shard: usize) -> &mut HashMap<String, V, RandomState> {
        &mut self.shards[shard]
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.shards[self.shard_of(key)].get(key)
    }

    pub fn insert(&mut self, key: String, value: V) -> Option<V> {
        let shard = self.shard_of(&key);
        self.shards[shard].insert(key, value)
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        let shard = self.shard_of(key);
        self.shards[shard].remove(key)
    }

    /// Every entry, shard by shard (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.shards.iter().flat_map(HashMap::iter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_one_map() {
        let mut map = ShardedMap::default();
        assert_eq!(map.iter().count(), 0);
        for n in 0..1000 {
            assert_eq!(map.insert(format!("key-{n}"), n), None);
        }
        assert_eq!(map.iter().count(), 1000);
        assert_eq!(map.insert("key-7".to_owned(), 70), Some(7));
        assert_eq!(map.get("key-7"), Some(&70));
        assert_eq!(map.remove("key-9"), Some(9));
        assert_eq!(map.get("key-9"), None);
        assert_eq!(map.iter().count(), 999);
        let shards_used = (0..SHARDS).filter(|&shard| !map.shard_mut(shard).is_empty()).count();
        assert_eq!(shards_used, SHARDS, "1000 keys spread over every shard");
        let shard = map.shard_of("key-1");
        assert_eq!(map.shard_mut(shard).get("key-1"), Some(&1));
    }
}
