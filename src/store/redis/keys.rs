//! The Redis key layout, in one place (`docs/redis.md` describes each key).
//!
//! Every key starts with the deployment's prefix `P` (`store.key_prefix`,
//! which may hold no braces), so several deployments or test runs share one
//! Redis.
//!
//! **Shards.** Accounts are spread over `SHARDS` shards by a stable hash of
//! their id. A shard's keys carry its hash tag (`P:{<tag>}:…`), so on a
//! Redis Cluster they all lie in one slot: an account partition's keys
//! *and* its shard's work schedules, account list and event channel. So a
//! partition commit that also queues work (a new withdrawal for payout) is
//! one single-slot script, and no script ever touches two partitions. The
//! tags are chosen so the shards' slots are spread evenly over the slot
//! space: a cluster whose masters hold equal slot ranges (what
//! `redis-cli --cluster create` makes) gets equal numbers of shards.
//!
//! **Unique keys** (logins, indexes, short-lived values, recent lists) carry
//! no tag and hash by their whole name, so they spread over every slot.
//! **The mock providers' documents** share one tag (`{docs}`), because a
//! payout changes a bill and a payee's wallet in one step; they stand in
//! for an outside system. **Logs** are one key each (the operators' audit
//! log is written at the pace of operators, not of requests).

use std::sync::LazyLock;

use crate::domain::account::AccountId;
use crate::store::member_owner;

/// How many shards accounts (and the work they queue) are spread over. Part
/// of the stored layout: a deployment keeps its number for life (the store
/// records it and refuses to start on data laid out otherwise).
pub(super) const SHARDS: usize = 24;

/// Redis Cluster's slots.
const CLUSTER_SLOTS: u16 = 16_384;

/// Each shard's hash tag: `s<n>.<k>` with the first `k` whose slot falls in
/// the shard's `1/SHARDS` of the slot space.
static SHARD_TAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    (0..SHARDS)
        .map(|shard| {
            let low = shard * usize::from(CLUSTER_SLOTS) / SHARDS;
            let high = (shard + 1) * usize::from(CLUSTER_SLOTS) / SHARDS;
            (0u32..)
                .map(|k| format!("s{shard}.{k}"))
                .find(|tag| (low..high).contains(&usize::from(slot_of_text(tag))))
                .expect("every slot range holds some tag")
        })
        .collect()
});

/// The cluster slot Redis hashes `text` to (CRC16/XMODEM modulo 16384),
/// without hash-tag handling.
fn slot_of_text(text: &str) -> u16 {
    crc16::State::<crc16::XMODEM>::calculate(text.as_bytes()) % CLUSTER_SLOTS
}

/// The cluster slot of a key: by the text between the first `{` and the
/// next `}` if that is not empty, else by the whole key.
pub(super) fn slot_of_key(key: &str) -> u16 {
    let tagged = key.find('{').and_then(|open| {
        let length = key[open + 1..].find('}')?;
        (length > 0).then(|| &key[open + 1..open + 1 + length])
    });
    slot_of_text(tagged.unwrap_or(key))
}

/// The shard an owner (an account id, or the owner part of a schedule
/// member) belongs to. A stable hash, so every process and every version
/// agrees.
pub(super) fn shard_of(owner: &str) -> usize {
    usize::from(crc16::State::<crc16::XMODEM>::calculate(owner.as_bytes())) % SHARDS
}

/// Builds every key of one deployment.
#[derive(Debug, Clone)]
pub(super) struct KeyLayout {
    prefix: String,
}

impl KeyLayout {
    pub(super) fn new(prefix: &str) -> KeyLayout {
        KeyLayout { prefix: prefix.to_owned() }
    }

    pub(super) fn prefix(&self) -> &str {
        &self.prefix
    }

    /// A key of one shard, in the shard's cluster slot.
    fn shard_key(&self, shard: usize, part: &str) -> String {
        format!("{}:{{{}}}:{}", self.prefix, SHARD_TAGS[shard], part)
    }

    /// A key of one account's partition, in its shard's slot.
    fn partition(&self, id: &AccountId, part: &str) -> String {
        self.shard_key(shard_of(id.as_str()), &format!("a:{id}:{part}"))
    }

    /// Hash: the `Account` record (`data`) and its `version`; from layout
    /// `v5` also the partition's events (`e:<slot>` and their positions'
    /// base `eb`, `events::event_field`); `reclaim_at` while the partition
    /// holds expiring documents of layout `v2`.
    pub(super) fn account(&self, id: &AccountId) -> String {
        self.partition(id, "account")
    }

    /// List of journal entries (JSON); index = seq.
    pub(super) fn journal(&self, id: &AccountId) -> String {
        self.partition(id, "journal")
    }

    /// Hash of the partition's named documents.
    pub(super) fn documents(&self, id: &AccountId) -> String {
        self.partition(id, "documents")
    }

    /// Sorted set of layout `v2`: expiring documents' names (kept
    /// in `documents` then) by the time (ms) they may be reclaimed.
    pub(super) fn expiring(&self, id: &AccountId) -> String {
        self.partition(id, "expiring")
    }

    /// String with a time to live: one expiring document of a partition (a
    /// saved idempotency reply), which Redis reclaims by itself.
    pub(super) fn expiring_document(&self, id: &AccountId, name: &str) -> String {
        self.partition(id, &format!("xdoc:{name}"))
    }

    /// Stream: the partition's events, for a partition created before
    /// layout `v5` (which keeps them in the record).
    pub(super) fn events(&self, id: &AccountId) -> String {
        self.partition(id, "events")
    }

    /// Set of the account ids of one shard.
    pub(super) fn accounts(&self, shard: usize) -> String {
        self.shard_key(shard, "accounts")
    }

    /// Sorted set: one shard's members of a schedule, scored by time in milliseconds.
    pub(super) fn schedule(&self, shard: usize, schedule: &str) -> String {
        self.shard_key(shard, &format!("schedule:{schedule}"))
    }

    /// The schedule key a member lives in: its owner's shard's.
    pub(super) fn schedule_of_member(&self, schedule: &str, member: &str) -> String {
        self.schedule(shard_of(member_owner(member).unwrap_or(member)), schedule)
    }

    /// Shard channel (`SPUBLISH`) carrying the id of each account of one
    /// shard with new events, on a cluster.
    pub(super) fn shard_events_channel(&self, shard: usize) -> String {
        self.shard_key(shard, "events")
    }

    /// Pub/sub channel carrying the id of each account with new events, on a single Redis.
    pub(super) fn events_channel(&self) -> String {
        format!("{}:events", self.prefix)
    }

    /// String: the stored layout's description (`layout_marker`).
    pub(super) fn layout(&self) -> String {
        format!("{}:layout", self.prefix)
    }

    /// String: the account id a login belongs to.
    pub(super) fn login(&self, login_index_key: &str) -> String {
        format!("{}:login:{}", self.prefix, login_index_key)
    }

    /// String with a time to live: a short-lived value.
    pub(super) fn ephemeral(&self, key: &str) -> String {
        format!("{}:eph:{}", self.prefix, key)
    }

    /// Hash of a collection's documents: `<id>` → body, `<id>#v` → version.
    /// Every collection shares the `{docs}` tag, so several documents change in one script.
    pub(super) fn collection(&self, collection: &str) -> String {
        format!("{}:{{docs}}:doc:{}", self.prefix, collection)
    }

    /// The hash holding document `id` of `collection`, with the same fields
    /// as `collection`'s: the collection's hash, or for a collection kept
    /// apart a hash of its own under the document's own tag.
    pub(super) fn document(&self, collection: &str, id: &str) -> String {
        if crate::store::kept_apart(collection) {
            format!("{}:{{doc:{}:{}}}", self.prefix, collection, id)
        } else {
            self.collection(collection)
        }
    }

    /// Set of the ids of a collection kept apart (each added before its
    /// document is first saved), which its listing walks.
    pub(super) fn document_ids(&self, collection: &str) -> String {
        format!("{}:docids:{}", self.prefix, collection)
    }

    /// String: a unique index's current value.
    pub(super) fn index(&self, key: &str) -> String {
        format!("{}:idx:{}", self.prefix, key)
    }

    /// List: a capped recent list, newest first.
    pub(super) fn list(&self, list: &str) -> String {
        format!("{}:list:{}", self.prefix, list)
    }

    /// List: an append-only log; index = position.
    pub(super) fn log(&self, log: &str) -> String {
        format!("{}:log:{}", self.prefix, log)
    }

    /// A capped log's two keys, under one hash tag (one slot, one script):
    /// the list of entries kept, newest first, and the count of every entry
    /// ever appended, so index `i` holds position `count - 1 - i`.
    pub(super) fn capped_log(&self, log: &str) -> [String; 2] {
        let tag = format!("{}:{{clog:{}}}", self.prefix, log);
        [format!("{tag}:entries"), format!("{tag}:count")]
    }
}

/// What the layout marker holds: the layout's version and shard count. A
/// store refuses to open data written with another. `v5` keeps a
/// partition's events in its record's hash.
pub(super) fn layout_marker() -> String {
    format!("v5 shards={SHARDS}")
}

/// The markers of the layouts before this one, which this version still
/// reads (see `RedisStore::check_layout`): `v2`, expiring documents in
/// `documents`; `v3`, every text as plain JSON; `v4`, texts packed
/// (`packing.rs`), events in a stream beside the record.
pub(super) fn earlier_layout_markers() -> [String; 3] {
    [format!("v2 shards={SHARDS}"), format!("v3 shards={SHARDS}"), format!("v4 shards={SHARDS}")]
}

/// Whether `keys` all hash to one cluster slot — what every script call
/// needs on a Redis Cluster. Checked before each script call, on every store
/// mode, so a layout mistake shows on a single Redis too.
pub(super) fn one_slot<'a>(keys: impl IntoIterator<Item = &'a str>) -> Result<(), String> {
    let mut keys = keys.into_iter();
    let Some(first) = keys.next() else { return Ok(()) };
    let slot = slot_of_key(first);
    match keys.find(|key| slot_of_key(key) != slot) {
        None => Ok(()),
        Some(other) => Err(format!("keys {first:?} and {other:?} hash to different cluster slots")),
    }
}

#[cfg(test)]
mod tests {
    use super::{CLUSTER_SLOTS, KeyLayout, SHARDS, one_slot, shard_of, slot_of_key};
    use crate::domain::account::AccountId;

    #[test]
    fn slots_are_computed_as_redis_cluster_computes_them() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(slot_of_key("123456789"), 0x31C3 % CLUSTER_SLOTS);
        assert_eq!(slot_of_key("{u:1}:bal"), slot_of_key("{u:1}:hold"));
        assert_eq!(slot_of_key("{u:1}:bal"), 16_340);
        assert_eq!(slot_of_key("foo{}{bar}"), slot_of_key("foo{}{bar}"));
        assert_ne!(slot_of_key("foo{}{bar}"), slot_of_key("bar"));
        assert_eq!(slot_of_key("foo{{bar}}zap"), slot_of_key("{bar"));
    }

    #[test]
    fn a_partition_and_its_shards_work_lie_in_one_slot() {
        let keys = KeyLayout::new("wg");
        let id = AccountId::parse("acc_7f3a").unwrap();
        let shard = shard_of(id.as_str());
        let member = format!("{id}/wd_1");
        let together = [
            keys.account(&id),
            keys.journal(&id),
            keys.documents(&id),
            keys.expiring(&id),
            keys.expiring_document(&id, "idempotency:k{1}"),
            keys.events(&id),
            keys.accounts(shard),
            keys.schedule_of_member("withdrawals:payout", &member),
            keys.schedule(shard, "webhooks:deliveries"),
            keys.shard_events_channel(shard),
        ];
        assert_eq!(one_slot(together.iter().map(String::as_str)), Ok(()));
        for key in &together {
            assert!(key.starts_with("wg:{s"), "{key}");
        }
    }

    #[test]
    fn shards_spread_evenly_over_three_equal_masters() {
        let keys = KeyLayout::new("wg");
        let mut per_master = [0usize; 3];
        for shard in 0..SHARDS {
            let slot = usize::from(slot_of_key(&keys.accounts(shard)));
            per_master[slot * 3 / usize::from(CLUSTER_SLOTS)] += 1;
        }
        assert_eq!(per_master, [SHARDS / 3; 3]);
    }

    #[test]
    fn accounts_spread_over_every_shard() {
        let mut per_shard = [0usize; SHARDS];
        for n in 0..24_000 {
            per_shard[shard_of(&format!("acc_{:032x}", u128::from(n as u32) * 0x9E37_79B9_7F4A_7C15))] += 1;
        }
        assert!(per_shard.iter().all(|&count| (800..1200).contains(&count)), "{per_shard:?}");
    }

    #[test]
    fn unique_keys_carry_no_hash_tag_and_spread_by_their_whole_name() {
        let keys = KeyLayout::new("wg");
        for key in [keys.login("phone:139"), keys.ephemeral("refresh:abc"), keys.index("openid:o1"), keys.list("sms")] {
            assert!(!key.contains('{'), "{key}");
        }
        assert!(one_slot([keys.collection("bills").as_str(), keys.collection("users").as_str()]).is_ok());
        assert!(one_slot([keys.index("a").as_str(), keys.index("b").as_str()]).is_err());
    }

    #[test]
    fn documents_kept_apart_spread_over_the_slots_by_their_own_tag() {
        let keys = KeyLayout::new("wg");
        assert_eq!(keys.document("orders", "o1"), keys.collection("orders"), "grouped collections share one hash");
        let bill = keys.document("bills:apart", "WD1");
        assert_eq!(bill, "wg:{doc:bills:apart:WD1}");
        assert_eq!(one_slot([bill.as_str(), keys.document("bills:apart", "WD1").as_str()]), Ok(()));
        let slots: std::collections::HashSet<u16> =
            (0..1000).map(|n| slot_of_key(&keys.document("bills:apart", &format!("WD{n}")))).collect();
        assert!(slots.len() > 900, "a thousand bills lie in {} slots", slots.len());
        assert!(!keys.document_ids("bills:apart").contains('{'));
    }
}
