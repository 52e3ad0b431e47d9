//! Account partitions on Redis: a partition's keys share its shard's hash
//! tag (`keys.rs`), each change is one Lua script over them and its
//! shard's schedules (`create_partition.lua`, `commit_partition.lua`), and
//! its texts travel and stay packed (`packing.rs`).

use async_trait::async_trait;
use redis::ScriptInvocation;

use super::events::{encode_commit_events, event_field};
use super::keys::{SHARDS, shard_of};
use super::packing::{pack, unpack, unpack_optional};
use super::{RedisStore, unavailable};
use crate::domain::account::{Account, AccountId};
use crate::domain::ledger::JournalEntry;
use crate::store::typed::{decode_document, encode_document};
use crate::store::{
    AccountCommit, AccountPartitions, CommitOutcome, EXPIRED_RECLAIMED_PER_COMMIT, StoreError, Versioned,
    journal_window,
};

/// `commit_partition.lua` with the store's fixed numbers written in, so no
/// commit carries them as arguments.
pub(super) fn commit_partition_script() -> String {
    include_str!("commit_partition.lua").replace("{{RECLAIMED}}", &EXPIRED_RECLAIMED_PER_COMMIT.to_string())
}

#[async_trait]
impl AccountPartitions for RedisStore {
    async fn create_account(&self, account: &Account, opening_entries: &[JournalEntry]) -> Result<(), StoreError> {
        let shard = shard_of(account.id.as_str());
        let keys = [self.keys.account(&account.id), self.keys.journal(&account.id), self.keys.accounts(shard)];
        let mut invocation = self.create_partition.prepare_invoke();
        invocation.key(&keys[..]).arg(account.id.as_str()).arg(pack(&encode_document(account)?));
        for entry in opening_entries {
            invocation.arg(pack(&encode_document(entry)?));
        }
        let created: i64 = self.run_script(&keys, &invocation).await?;
        if created == 0 {
            return Err(StoreError::AlreadyExists);
        }
        // The partition comes first and the login claim second, because the
        // claim is what makes an account reachable: a crash in between leaves
        // an unreachable partition (balanced on its own), never a login that
        // points at nothing. The two are separate steps because a login's
        // key lies in its own slot, not its account's.
        let claimed: Option<String> = self
            .query(
                redis::cmd("SET").arg(self.keys.login(&account.login.index_key())).arg(account.id.as_str()).arg("NX"),
            )
            .await?;
        if claimed.is_none() {
            let documents_key = self.keys.documents(&account.id);
            let mut pipeline = redis::pipe();
            pipeline.atomic().cmd("SREM").arg(&keys[2]).arg(account.id.as_str()).ignore();
            pipeline.cmd("DEL").arg(&keys[0]).arg(&keys[1]).arg(documents_key).ignore();
            let mut connection = self.connection.clone();
            let _: () = pipeline.query_async(&mut connection).await.map_err(unavailable)?;
            return Err(StoreError::AlreadyExists);
        }
        Ok(())
    }

    async fn account_id_by_login(&self, login_index_key: &str) -> Result<Option<AccountId>, StoreError> {
        let id: Option<String> = self.query(redis::cmd("GET").arg(self.keys.login(login_index_key))).await?;
        Ok(id.as_deref().and_then(AccountId::parse))
    }

    async fn load_account(&self, id: &AccountId) -> Result<Option<Versioned<Account>>, StoreError> {
        let key = self.keys.account(id);
        let (version, data): (Option<u64>, Option<Vec<u8>>) =
            self.query(redis::cmd("HMGET").arg(&key).arg("version").arg("data")).await?;
        match (version, data) {
            (Some(version), Some(data)) => {
                Ok(Some(Versioned { version, value: decode_document(&key, &unpack(&key, data)?)? }))
            }
            _ => Ok(None),
        }
    }

    async fn load_account_with(
        &self,
        id: &AccountId,
        documents: &[&str],
    ) -> Result<Option<(Versioned<Account>, Vec<Option<String>>)>, StoreError> {
        if documents.is_empty() {
            return Ok(self.load_account(id).await?.map(|account| (account, Vec::new())));
        }
        let key = self.keys.account(id);
        let mut pipeline = redis::pipe();
        pipeline.atomic().cmd("HMGET").arg(&key).arg("version").arg("data");
        pipeline.cmd("HMGET").arg(self.keys.documents(id)).arg(documents);
        let expiring: Vec<String> = documents.iter().map(|name| self.keys.expiring_document(id, name)).collect();
        pipeline.cmd("MGET").arg(&expiring);
        let mut connection = self.connection.clone();
        type Record = (Option<u64>, Option<Vec<u8>>);
        let (record, in_hash, apart): (Record, Vec<Option<Vec<u8>>>, Vec<Option<Vec<u8>>>) =
            pipeline.query_async(&mut connection).await.map_err(unavailable)?;
        match record {
            (Some(version), Some(data)) => {
                let found = apart
                    .into_iter()
                    .zip(in_hash)
                    .zip(documents)
                    .map(|((apart, in_hash), name)| unpack_optional(&format!("{key}/{name}"), apart.or(in_hash)))
                    .collect::<Result<_, _>>()?;
                Ok(Some((Versioned { version, value: decode_document(&key, &unpack(&key, data)?)? }, found)))
            }
            _ => Ok(None),
        }
    }

    async fn commit_account(&self, commit: AccountCommit<'_>) -> Result<CommitOutcome, StoreError> {
        commit.check_members()?;
        let id = &commit.account.id;
        // Index entries name keys nobody else can hold (a new withdrawal's
        // id); each lies in its own slot, so they are written first, on
        // their own: one the commit then does not make is an index to
        // nothing, which readers treat as absent.
        for (key, value) in commit.indexed {
            let _: () = self.query(redis::cmd("SET").arg(self.keys.index(key)).arg(value)).await?;
        }
        // A partition created by layout v2 may still need its reclaim index
        // (answer 2): the commit is asked again with it.
        let mut with_v2 = false;
        let (keys, committed) = loop {
            let (keys, invocation) = self.commit_call(&commit, with_v2)?;
            let committed: i64 = self.run_script(&keys, &invocation).await?;
            if committed != 2 || with_v2 {
                break (keys, committed);
            }
            with_v2 = true;
        };
        if committed != 1 {
            return Ok(CommitOutcome::VersionConflict);
        }
        if !commit.events.is_empty() {
            self.wake_listeners(id);
        }
        // The index entries written before the commit are waited for with it.
        let index_keys = commit.indexed.iter().map(|(key, _)| self.keys.index(key));
        self.wait_for_replicas(keys.into_iter().chain(index_keys)).await?;
        Ok(CommitOutcome::Committed)
    }

    async fn journal(
        &self,
        id: &AccountId,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let key = self.keys.journal(id);
        let length: u64 = self.query(redis::cmd("LLEN").arg(&key)).await?;
        let window = journal_window(length, before_seq, limit);
        if window.is_empty() {
            return Ok(Vec::new());
        }
        let texts: Vec<Vec<u8>> =
            self.query(redis::cmd("LRANGE").arg(&key).arg(window.start).arg(window.end - 1)).await?;
        texts.into_iter().rev().map(|text| decode_document(&key, &unpack(&key, text)?)).collect()
    }

    async fn account_ids(&self) -> Result<Vec<AccountId>, StoreError> {
        let shards = (0..SHARDS).map(|shard| async move {
            self.query::<Vec<String>>(redis::cmd("SMEMBERS").arg(self.keys.accounts(shard))).await
        });
        let members: Vec<String> = futures_util::future::try_join_all(shards).await?.concat();
        let mut ids: Vec<AccountId> = members.iter().filter_map(|m| AccountId::parse(m)).collect();
        ids.sort();
        Ok(ids)
    }
}

impl RedisStore {
    /// The keys and the call of `commit_partition.lua` for `commit`, with
    /// layout v2's reclaim index when `with_v2` (see the script).
    fn commit_call(
        &self,
        commit: &AccountCommit<'_>,
        with_v2: bool,
    ) -> Result<(Vec<String>, ScriptInvocation<'_>), StoreError> {
        let id = &commit.account.id;
        let version = commit.expected_version + 1;
        let mut keys = vec![self.keys.account(id), self.keys.journal(id), self.keys.documents(id)];
        for (name, _) in commit.documents_expiring {
            keys.push(self.keys.expiring_document(id, name));
        }
        for entry in commit.scheduled {
            keys.push(self.keys.schedule_of_member(entry.schedule, &entry.member));
        }
        for (schedule, member) in commit.unscheduled {
            keys.push(self.keys.schedule_of_member(schedule, member));
        }
        if with_v2 {
            keys.push(self.keys.expiring(id));
        }
        let counts = [
            commit.new_entries.len(),
            commit.documents_put.len(),
            commit.documents_deleted.len(),
            usize::from(!commit.events.is_empty()),
            commit.documents_expiring.len(),
            commit.scheduled.len(),
            commit.unscheduled.len(),
        ];
        let mut shape = Vec::with_capacity(2 * counts.len() + 2);
        for count in counts {
            let count = u16::try_from(count).map_err(|_| StoreError::Corrupt {
                key: keys[0].clone(),
                reason: format!("a commit of {count} items of one kind: at most {} fit in one", u16::MAX),
            })?;
            shape.extend_from_slice(&count.to_be_bytes());
        }
        shape.push(u8::from(commit.expiring_must_be_new));
        shape.push(u8::from(with_v2));
        let mut invocation = self.commit_partition.prepare_invoke();
        invocation
            .key(&keys[..])
            .arg(commit.expected_version)
            .arg(version)
            .arg(pack(&encode_document(&*commit.account)?))
            .arg(shape)
            .arg(u64::try_from(commit.expiring_ttl.as_millis()).unwrap_or(u64::MAX));
        for entry in commit.new_entries {
            invocation.arg(pack(&encode_document(entry)?));
        }
        for (name, body) in commit.documents_put {
            invocation.arg(name).arg(pack(body));
        }
        for name in commit.documents_deleted {
            invocation.arg(name);
        }
        if !commit.events.is_empty() {
            let packed: Vec<Vec<u8>> = commit.events.iter().map(|body| pack(body)).collect();
            invocation.arg(event_field(version)).arg(encode_commit_events(version, &packed));
        }
        for (_, body) in commit.documents_expiring {
            invocation.arg(pack(body));
        }
        let mut member_before = None;
        for entry in commit.scheduled {
            // A member named again is passed empty: the script takes the one before.
            let repeated = member_before == Some(entry.member.as_str());
            invocation.arg(if repeated { "" } else { entry.member.as_str() }).arg(entry.at_ms);
            member_before = Some(entry.member.as_str());
        }
        for (_, member) in commit.unscheduled {
            invocation.arg(member);
        }
        if with_v2 {
            for (name, _) in commit.documents_expiring {
                invocation.arg(name);
            }
        }
        Ok((keys, invocation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_commit_script_has_every_fixed_number_written_in() {
        let script = commit_partition_script();
        assert!(!script.contains("{{"), "a placeholder left");
        assert!(script.contains(&format!("local limit = expiring + {EXPIRED_RECLAIMED_PER_COMMIT}")));
    }
}
