//! Account partitions on Redis: a partition's keys share its hash tag
//! (`keys.rs`), and each change is one Lua script over them
//! (`create_partition.lua`, `commit_partition.lua`).

use async_trait::async_trait;

use super::{RedisStore, unavailable};
use crate::domain::account::{Account, AccountId};
use crate::domain::ledger::JournalEntry;
use crate::store::typed::{decode_document, encode_document};
use crate::store::{
    AccountCommit, AccountPartitions, CommitOutcome, EVENTS_KEPT_PER_ACCOUNT, EXPIRED_RECLAIMED_PER_COMMIT, StoreError,
    Versioned, journal_window,
};

#[async_trait]
impl AccountPartitions for RedisStore {
    async fn create_account(&self, account: &Account, opening_entries: &[JournalEntry]) -> Result<(), StoreError> {
        let account_key = self.keys.account(&account.id);
        let journal_key = self.keys.journal(&account.id);
        let mut invocation = self.create_partition.key(&account_key);
        invocation.key(&journal_key).arg(encode_document(account)?);
        for entry in opening_entries {
            invocation.arg(encode_document(entry)?);
        }
        let mut connection = self.connection.clone();
        let created: i64 = invocation.invoke_async(&mut connection).await.map_err(unavailable)?;
        if created == 0 {
            return Err(StoreError::AlreadyExists);
        }
        // The partition comes first and the login claim second, because the
        // claim is what makes an account reachable: a crash in between leaves
        // an unreachable partition (balanced on its own), never a login that
        // points at nothing. The two are separate steps to keep every script
        // within one cluster slot.
        let _: i64 = self.query(redis::cmd("SADD").arg(self.keys.accounts()).arg(account.id.as_str())).await?;
        let claimed: Option<String> = self
            .query(
                redis::cmd("SET").arg(self.keys.login(&account.login.index_key())).arg(account.id.as_str()).arg("NX"),
            )
            .await?;
        if claimed.is_none() {
            let _: i64 = self.query(redis::cmd("SREM").arg(self.keys.accounts()).arg(account.id.as_str())).await?;
            let documents_key = self.keys.documents(&account.id);
            let _: i64 = self.query(redis::cmd("DEL").arg(&account_key).arg(&journal_key).arg(documents_key)).await?;
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
        let (version, data): (Option<u64>, Option<String>) =
            self.query(redis::cmd("HMGET").arg(&key).arg("version").arg("data")).await?;
        match (version, data) {
            (Some(version), Some(data)) => Ok(Some(Versioned { version, value: decode_document(&key, &data)? })),
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
        let mut connection = self.connection.clone();
        let (record, found): ((Option<u64>, Option<String>), Vec<Option<String>>) =
            pipeline.query_async(&mut connection).await.map_err(unavailable)?;
        match record {
            (Some(version), Some(data)) => {
                Ok(Some((Versioned { version, value: decode_document(&key, &data)? }, found)))
            }
            _ => Ok(None),
        }
    }

    async fn commit_account(&self, commit: AccountCommit<'_>) -> Result<CommitOutcome, StoreError> {
        let id = &commit.account.id;
        let mut invocation = self.commit_partition.key(self.keys.account(id));
        invocation
            .key(self.keys.journal(id))
            .key(self.keys.documents(id))
            .key(self.keys.events(id))
            .key(self.keys.expiring(id));
        for entry in commit.scheduled {
            invocation.key(self.keys.schedule(entry.schedule));
        }
        for (key, _) in commit.indexed {
            invocation.key(self.keys.index(key));
        }
        for (schedule, _) in commit.unscheduled {
            invocation.key(self.keys.schedule(schedule));
        }
        invocation
            .arg(commit.expected_version)
            .arg(encode_document(&*commit.account)?)
            .arg(commit.new_entries.len())
            .arg(commit.documents_put.len())
            .arg(commit.documents_deleted.len())
            .arg(commit.events.len())
            .arg(EVENTS_KEPT_PER_ACCOUNT)
            .arg(self.keys.events_channel())
            .arg(id.as_str())
            .arg(commit.documents_expiring.len())
            .arg(u64::try_from(commit.expiring_ttl.as_millis()).unwrap_or(u64::MAX))
            .arg(EXPIRED_RECLAIMED_PER_COMMIT)
            .arg(commit.scheduled.len())
            .arg(commit.indexed.len())
            .arg(commit.unscheduled.len())
            .arg(u8::from(commit.expiring_must_be_new));
        for entry in commit.new_entries {
            invocation.arg(encode_document(entry)?);
        }
        for (name, body) in commit.documents_put {
            invocation.arg(name).arg(body);
        }
        for name in commit.documents_deleted {
            invocation.arg(name);
        }
        for body in commit.events {
            invocation.arg(body);
        }
        for (name, body) in commit.documents_expiring {
            invocation.arg(name).arg(body);
        }
        for entry in commit.scheduled {
            invocation.arg(&entry.member).arg(entry.at_ms);
        }
        for (_, value) in commit.indexed {
            invocation.arg(value);
        }
        for (_, member) in commit.unscheduled {
            invocation.arg(member);
        }
        let mut connection = self.connection.clone();
        let committed: i64 = invocation.invoke_async(&mut connection).await.map_err(unavailable)?;
        Ok(if committed == 1 { CommitOutcome::Committed } else { CommitOutcome::VersionConflict })
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
        let texts: Vec<String> =
            self.query(redis::cmd("LRANGE").arg(&key).arg(window.start).arg(window.end - 1)).await?;
        texts.iter().rev().map(|text| decode_document(&key, text)).collect()
    }

    async fn account_ids(&self) -> Result<Vec<AccountId>, StoreError> {
        let members: Vec<String> = self.query(redis::cmd("SMEMBERS").arg(self.keys.accounts())).await?;
        let mut ids: Vec<AccountId> = members.iter().filter_map(|m| AccountId::parse(m)).collect();
        ids.sort();
        Ok(ids)
    }
}
