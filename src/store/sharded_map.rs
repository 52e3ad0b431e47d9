//! A string-keyed hash map that splits into shards once it is big, for the
//! memory store's maps that grow with traffic (a partition's documents,
//! indexes, schedules, short-lived values).
//!
//! A `HashMap` grows by rehashing every entry at once; with a million entries
//! under the store's one lock, that pauses every request for tens of
//! milliseconds. A small map here is one `HashMap` (so a million small
//! partitions cost no more than before); past `SPLIT_AT` entries it becomes
//! `SHARDS` maps, and from then on growing rehashes one shard, a sixty-fourth
//! of it, and a sweep can work shard by shard.
//!
//! Keys are hashed with foldhash, seeded per map: several times faster than
//! the standard SipHash on the store's long keys, and still unpredictable to
//! a client choosing keys.

use std::collections::HashMap;
use std::hash::BuildHasher;

use foldhash::fast::RandomState;

/// How many shards a big map has.
pub const SHARDS: usize = 64;
/// Entries at which a map splits into shards (it never merges back).
const SPLIT_AT: usize = 4096;

type Shard<V> = HashMap<String, V, RandomState>;

#[derive(Debug)]
pub struct ShardedMap<V> {
    hasher: RandomState,
    /// Empty, one map, or `SHARDS` maps.
    shards: Vec<Shard<V>>,
    len: usize,
}

impl<V> Default for ShardedMap<V> {
    fn default() -> ShardedMap<V> {
        ShardedMap { hasher: RandomState::default(), shards: Vec::new(), len: 0 }
    }
}

impl<V> ShardedMap<V> {
    /// Which shard holds `key`.
    pub fn shard_of(&self, key: &str) -> usize {
        match self.shards.len() {
            SHARDS => (self.hasher.hash_one(key) % SHARDS as u64) as usize,
            _ => 0,
        }
    }

    /// How many entries one shard holds.
    pub fn shard_len(&self, shard: usize) -> usize {
        self.shards.get(shard).map_or(0, HashMap::len)
    }

    /// Keeps the entries of one shard that `keep` accepts (a sweep that
    /// touches a shard, not the map); returns how many it still holds.
    pub fn retain_in_shard(&mut self, shard: usize, keep: impl FnMut(&String, &mut V) -> bool) -> usize {
        let Some(entries) = self.shards.get_mut(shard) else { return 0 };
        let before = entries.len();
        entries.retain(keep);
        self.len -= before - entries.len();
        entries.len()
    }

    pub fn get(&self, key: &str) -> Option<&V> {
        self.shards.get(self.shard_of(key))?.get(key)
    }

    pub fn insert(&mut self, key: String, value: V) -> Option<V> {
        let shard = self.shard_of(&key);
        if self.shards.is_empty() {
            self.shards.push(Shard::default());
        }
        let replaced = self.shards[shard].insert(key, value);
        if replaced.is_none() {
            self.len += 1;
            if self.len >= SPLIT_AT && self.shards.len() == 1 {
                self.split();
            }
        }
        replaced
    }

    pub fn remove(&mut self, key: &str) -> Option<V> {
        let shard = self.shard_of(key);
        let removed = self.shards.get_mut(shard)?.remove(key);
        self.len -= usize::from(removed.is_some());
        removed
    }

    /// Every entry, shard by shard (in no particular order).
    pub fn iter(&self) -> impl Iterator<Item = (&String, &V)> {
        self.shards.iter().flat_map(HashMap::iter)
    }

    fn split(&mut self) {
        // Each shard hashes with a seed of its own: keys that share a shard
        // share the bits that chose it, which must not also place them within it.
        let single = std::mem::replace(&mut self.shards, (0..SHARDS).map(|_| Shard::default()).collect());
        for (key, value) in single.into_iter().flatten() {
            let shard = self.shard_of(&key);
            self.shards[shard].insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_one_map_before_and_after_splitting() {
        let mut map = ShardedMap::default();
        assert_eq!(map.iter().count(), 0);
        assert_eq!(map.get("absent"), None);
        assert_eq!(map.remove("absent"), None);
        for n in 0..SPLIT_AT * 2 {
            assert_eq!(map.insert(format!("key-{n}"), n), None);
            if n == 10 {
                assert_eq!(map.shards.len(), 1, "small maps stay one map");
            }
        }
        assert_eq!(map.shards.len(), SHARDS);
        assert_eq!(map.iter().count(), SPLIT_AT * 2);
        assert_eq!(map.insert("key-7".to_owned(), 70), Some(7));
        assert_eq!(map.get("key-7"), Some(&70));
        assert_eq!(map.get("key-4100"), Some(&4100));
        assert_eq!(map.remove("key-9"), Some(9));
        assert_eq!(map.get("key-9"), None);
        assert_eq!(map.iter().count(), SPLIT_AT * 2 - 1);
        let shards_used = (0..SHARDS).filter(|&shard| map.shard_len(shard) > 0).count();
        assert_eq!(shards_used, SHARDS, "8192 keys spread over every shard");
        let shard = map.shard_of("key-1");
        let held = map.shard_len(shard);
        assert_eq!(map.retain_in_shard(shard, |key, _| key != "key-1"), held - 1);
        assert_eq!(map.get("key-1"), None);
        assert_eq!(map.len, SPLIT_AT * 2 - 2);
    }
}
