//! The Redis key layout, in one place (`docs/redis.md` describes each key).
//!
//! Every key starts with the deployment's prefix `P` (`store.key_prefix`,
//! which may hold no braces), so several deployments or test runs share one
//! Redis. An account partition's keys are `P:{<account id>}:<part>`: the
//! braces are a Redis Cluster hash tag, so every key one partition commit
//! touches of its own lies in one slot and the commit script can run on a
//! cluster. The other keys are global, `P:<kind>:<name>`, and hash by their
//! whole name.

use crate::domain::account::AccountId;

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

    /// A key of one account's partition, in the partition's cluster slot.
    fn partition(&self, id: &AccountId, part: &str) -> String {
        format!("{}:{{{}}}:{}", self.prefix, id, part)
    }

    /// Hash `{version, data}`: the `Account` record as JSON, and its version.
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

    /// Sorted set: expiring documents' names by the time (ms) they may be reclaimed.
    pub(super) fn expiring(&self, id: &AccountId) -> String {
        self.partition(id, "expiring")
    }

    /// Stream: the partition's events.
    pub(super) fn events(&self, id: &AccountId) -> String {
        self.partition(id, "events")
    }

    /// Pub/sub channel carrying the id of each account with new events.
    pub(super) fn events_channel(&self) -> String {
        format!("{}:events", self.prefix)
    }

    /// String: the account id a login belongs to.
    pub(super) fn login(&self, login_index_key: &str) -> String {
        format!("{}:login:{}", self.prefix, login_index_key)
    }

    /// Set of every account id.
    pub(super) fn accounts(&self) -> String {
        format!("{}:accounts", self.prefix)
    }

    /// String with a time to live: a short-lived value.
    pub(super) fn ephemeral(&self, key: &str) -> String {
        format!("{}:eph:{}", self.prefix, key)
    }

    /// Hash of a collection's documents: `<id>` → body, `<id>#v` → version.
    pub(super) fn collection(&self, collection: &str) -> String {
        format!("{}:doc:{}", self.prefix, collection)
    }

    /// String: a unique index's current value.
    pub(super) fn index(&self, key: &str) -> String {
        format!("{}:idx:{}", self.prefix, key)
    }

    /// Sorted set: a schedule's members scored by time in milliseconds.
    pub(super) fn schedule(&self, schedule: &str) -> String {
        format!("{}:schedule:{}", self.prefix, schedule)
    }

    /// List: a capped recent list, newest first.
    pub(super) fn list(&self, list: &str) -> String {
        format!("{}:list:{}", self.prefix, list)
    }

    /// List: an append-only log; index = position.
    pub(super) fn log(&self, log: &str) -> String {
        format!("{}:log:{}", self.prefix, log)
    }
}

#[cfg(test)]
mod tests {
    use super::KeyLayout;
    use crate::domain::account::AccountId;

    /// What Redis Cluster hashes a key by: the text between the first `{`
    /// and the next `}` if that is not empty, else the whole key.
    fn hashed_part(key: &str) -> &str {
        let Some(open) = key.find('{') else { return key };
        match key[open + 1..].find('}') {
            Some(0) | None => key,
            Some(length) => &key[open + 1..open + 1 + length],
        }
    }

    #[test]
    fn every_key_of_a_partition_hashes_by_the_account_id_alone() {
        let keys = KeyLayout::new("wg");
        let id = AccountId::parse("acc_7f3a").unwrap();
        let partition =
            [keys.account(&id), keys.journal(&id), keys.documents(&id), keys.expiring(&id), keys.events(&id)];
        for key in &partition {
            assert!(key.starts_with("wg:{acc_7f3a}:"), "{key}");
            assert_eq!(hashed_part(key), "acc_7f3a", "{key}");
        }
    }

    #[test]
    fn global_keys_carry_no_hash_tag_and_hash_by_their_whole_name() {
        let keys = KeyLayout::new("wg");
        let global = [
            keys.events_channel(),
            keys.login("phone:13900000000"),
            keys.accounts(),
            keys.ephemeral("refresh:abc"),
            keys.collection("users"),
            keys.index("openid:o1"),
            keys.schedule("payout"),
            keys.list("sms:139"),
            keys.log("audit"),
        ];
        for key in &global {
            assert!(key.starts_with("wg:"), "{key}");
            assert_eq!(hashed_part(key), key.as_str(), "{key}");
        }
    }
}
