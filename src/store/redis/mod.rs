//! The shared store: Redis through an auto-reconnecting `ConnectionManager`,
//! so several gateway processes see one state and a Redis restart heals by
//! itself (requests meanwhile fail fast with 503).
//!
//! Key layout (`P` = `store.key_prefix`):
//! - `P:{<account id>}:account` — hash `{version, data}` (the `Account` as JSON)
//! - `P:{<account id>}:journal` — list of journal entries (JSON), index = seq
//! - `P:{<account id>}:documents` — hash of the partition's named documents
//! - `P:{<account id>}:expiring` — sorted set: the expiring documents' names
//!   by the time (ms, Redis's clock) they may be reclaimed
//! - `P:login:<login key>` — account id
//! - `P:accounts` — set of all account ids
//! - `P:eph:<key>` — ephemeral values with a TTL
//! - `P:doc:<collection>` — hash of documents: `<id>` → body, `<id>#v` → version
//! - `P:idx:<key>` — unique-index values
//! - `P:list:<name>` — capped newest-first lists
//! - `P:schedule:<name>` — sorted sets scored by time in milliseconds
//! - `P:{<account id>}:events` — the account's event stream (a Redis stream)
//! - `P:events` — pub/sub channel carrying the id of each account with new events
//! - `P:log:<name>` — append-only lists (index = position)
//!
//! An account's keys share the hash tag `{<account id>}`, so each partition
//! lives in one Redis Cluster slot. A commit also sets the schedule and index
//! entries of its change in the same script (one round trip, all or nothing),
//! which ties the deployment to one Redis primary rather than a Cluster.

use std::sync::{Arc, Once};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, Script, ServerErrorKind};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::broadcast;

use super::{
    AccountCommit, CommitOutcome, DocumentWrite, EVENTS_KEPT_PER_ACCOUNT, EXPIRED_RECLAIMED_PER_COMMIT, EventPosition,
    LogEntry, Store, StoreError, StoredEvent, Versioned, journal_window,
};
use crate::domain::account::{Account, AccountId};
use crate::domain::ledger::JournalEntry;
use crate::settings::StoreSettings;

/// How many times the connection manager retries a failed (re)connect
/// before giving the error to the caller.
const RECONNECT_RETRIES: usize = 2;
/// Event wake-ups a slow listener may fall behind by (see `MemoryStore`).
const EVENT_SIGNALS_BUFFERED: usize = 1024;
/// Pause before re-subscribing after the pub/sub connection is lost.
const RESUBSCRIBE_PAUSE: Duration = Duration::from_millis(500);

#[derive(Clone)]
pub struct RedisStore {
    client: redis::Client,
    connection: ConnectionManager,
    prefix: String,
    create_partition: Script,
    commit_partition: Script,
    save_documents: Script,
    swap_index: Script,
    claim_schedule: Script,
    reschedule_if_at: Script,
    event_signals: broadcast::Sender<AccountId>,
    /// The pub/sub listener starts with the first subscriber.
    listening: Arc<Once>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects (failing fast if Redis is not there at startup).
    pub async fn connect(url: &str, settings: &StoreSettings) -> Result<RedisStore, StoreError> {
        let client = redis::Client::open(url).map_err(|e| StoreError::Unavailable(format!("bad redis url: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_response_timeout(Some(Duration::from_millis(settings.command_timeout_ms)))
            .set_connection_timeout(Some(Duration::from_millis(settings.connect_timeout_ms)))
            .set_number_of_retries(RECONNECT_RETRIES)
            .set_max_delay(Duration::from_millis(500));
        let connection = client.get_connection_manager_with_config(config).await.map_err(unavailable)?;
        Ok(RedisStore {
            client,
            connection,
            prefix: settings.key_prefix.clone(),
            create_partition: Script::new(include_str!("create_partition.lua")),
            commit_partition: Script::new(include_str!("commit_partition.lua")),
            save_documents: Script::new(include_str!("save_documents.lua")),
            swap_index: Script::new(include_str!("swap_index.lua")),
            claim_schedule: Script::new(include_str!("claim_schedule.lua")),
            reschedule_if_at: Script::new(include_str!("reschedule_if_at.lua")),
            event_signals: broadcast::channel(EVENT_SIGNALS_BUFFERED).0,
            listening: Arc::new(Once::new()),
        })
    }

    fn events_key(&self, id: &AccountId) -> String {
        format!("{}:{{{}}}:events", self.prefix, id)
    }

    fn events_channel(&self) -> String {
        format!("{}:events", self.prefix)
    }

    fn log_key(&self, log: &str) -> String {
        format!("{}:log:{}", self.prefix, log)
    }

    /// Relays the events channel to this process's subscribers for as long as
    /// anyone may listen, re-subscribing after a lost connection. Listeners
    /// re-read their streams on each wake-up and now and then, so a message
    /// missed while disconnected only delays a notification.
    fn spawn_event_listener(&self) {
        let client = self.client.clone();
        let channel = self.events_channel();
        let signals = self.event_signals.clone();
        tokio::spawn(async move {
            loop {
                match client.get_async_pubsub().await {
                    Ok(mut pubsub) => match pubsub.subscribe(&channel).await {
                        Ok(()) => {
                            let mut messages = pubsub.into_on_message();
                            while let Some(message) = messages.next().await {
                                let payload: String = message.get_payload().unwrap_or_default();
                                if let Some(id) = AccountId::parse(&payload) {
                                    let _ = signals.send(id);
                                }
                            }
                        }
                        Err(error) => tracing::warn!(%error, "could not subscribe to the events channel"),
                    },
                    Err(error) => tracing::debug!(%error, "events channel unreachable; retrying"),
                }
                tokio::time::sleep(RESUBSCRIBE_PAUSE).await;
            }
        });
    }

    fn account_key(&self, id: &AccountId) -> String {
        format!("{}:{{{}}}:account", self.prefix, id)
    }

    fn journal_key(&self, id: &AccountId) -> String {
        format!("{}:{{{}}}:journal", self.prefix, id)
    }

    fn expiring_key(&self, id: &AccountId) -> String {
        format!("{}:{{{}}}:expiring", self.prefix, id)
    }

    fn documents_key(&self, id: &AccountId) -> String {
        format!("{}:{{{}}}:documents", self.prefix, id)
    }

    fn login_key(&self, login_index_key: &str) -> String {
        format!("{}:login:{}", self.prefix, login_index_key)
    }

    fn accounts_key(&self) -> String {
        format!("{}:accounts", self.prefix)
    }

    fn ephemeral_key(&self, key: &str) -> String {
        format!("{}:eph:{}", self.prefix, key)
    }

    fn collection_key(&self, collection: &str) -> String {
        format!("{}:doc:{}", self.prefix, collection)
    }

    fn index_key(&self, key: &str) -> String {
        format!("{}:idx:{}", self.prefix, key)
    }

    fn schedule_key(&self, schedule: &str) -> String {
        format!("{}:schedule:{}", self.prefix, schedule)
    }

    fn list_key(&self, list: &str) -> String {
        format!("{}:list:{}", self.prefix, list)
    }

    async fn query<T: redis::FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, StoreError> {
        let mut connection = self.connection.clone();
        command.query_async(&mut connection).await.map_err(unavailable)
    }
}

/// Connection trouble, and a Redis that says to wait (still loading its
/// data after a restart, a cluster or master down, try again), is
/// "unavailable" (503, retry); anything else is a bug the caller reports as
/// an internal error.
fn unavailable(error: RedisError) -> StoreError {
    let connection_trouble =
        error.is_io_error() || error.is_timeout() || error.is_connection_dropped() || error.is_connection_refusal();
    if connection_trouble || server_says_wait(&error) {
        StoreError::Unavailable(error.to_string())
    } else {
        StoreError::Corrupt { key: "redis".into(), reason: error.to_string() }
    }
}

/// Whether Redis answered "wait and retry": still loading its data after a
/// restart, or a cluster or master down — alone, or for any command of a
/// pipeline or transaction (then the transaction is aborted as a whole).
fn server_says_wait(error: &RedisError) -> bool {
    let says_wait = |kind: Option<ServerErrorKind>| {
        matches!(
            kind,
            Some(
                ServerErrorKind::BusyLoading
                    | ServerErrorKind::TryAgain
                    | ServerErrorKind::MasterDown
                    | ServerErrorKind::ClusterDown
            )
        )
    };
    let alone = match error.kind() {
        ErrorKind::Server(kind) => says_wait(Some(kind)),
        _ => false,
    };
    alone || error.clone().into_server_errors().is_some_and(|errors| errors.iter().any(|(_, e)| says_wait(e.kind())))
}

fn encode<T: Serialize>(value: &T) -> Result<String, StoreError> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt { key: "encode".into(), reason: e.to_string() })
}

fn decode<T: DeserializeOwned>(key: &str, text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt { key: key.to_owned(), reason: e.to_string() })
}

#[async_trait]
impl Store for RedisStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let _: String = self.query(&redis::cmd("PING")).await?;
        Ok(())
    }

    async fn create_account(&self, account: &Account, opening_entries: &[JournalEntry]) -> Result<(), StoreError> {
        let account_key = self.account_key(&account.id);
        let journal_key = self.journal_key(&account.id);
        let mut invocation = self.create_partition.key(&account_key);
        invocation.key(&journal_key).arg(encode(account)?);
        for entry in opening_entries {
            invocation.arg(encode(entry)?);
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
        let _: i64 = self.query(redis::cmd("SADD").arg(self.accounts_key()).arg(account.id.as_str())).await?;
        let claimed: Option<String> = self
            .query(redis::cmd("SET").arg(self.login_key(&account.login.index_key())).arg(account.id.as_str()).arg("NX"))
            .await?;
        if claimed.is_none() {
            let _: i64 = self.query(redis::cmd("SREM").arg(self.accounts_key()).arg(account.id.as_str())).await?;
            let documents_key = self.documents_key(&account.id);
            let _: i64 = self.query(redis::cmd("DEL").arg(&account_key).arg(&journal_key).arg(documents_key)).await?;
            return Err(StoreError::AlreadyExists);
        }
        Ok(())
    }

    async fn account_id_by_login(&self, login_index_key: &str) -> Result<Option<AccountId>, StoreError> {
        let id: Option<String> = self.query(redis::cmd("GET").arg(self.login_key(login_index_key))).await?;
        Ok(id.as_deref().and_then(AccountId::parse))
    }

    async fn load_account(&self, id: &AccountId) -> Result<Option<Versioned<Account>>, StoreError> {
        let key = self.account_key(id);
        let (version, data): (Option<u64>, Option<String>) =
            self.query(redis::cmd("HMGET").arg(&key).arg("version").arg("data")).await?;
        match (version, data) {
            (Some(version), Some(data)) => Ok(Some(Versioned { version, value: decode(&key, &data)? })),
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
        let key = self.account_key(id);
        let mut pipeline = redis::pipe();
        pipeline.atomic().cmd("HMGET").arg(&key).arg("version").arg("data");
        pipeline.cmd("HMGET").arg(self.documents_key(id)).arg(documents);
        let mut connection = self.connection.clone();
        let (record, found): ((Option<u64>, Option<String>), Vec<Option<String>>) =
            pipeline.query_async(&mut connection).await.map_err(unavailable)?;
        match record {
            (Some(version), Some(data)) => Ok(Some((Versioned { version, value: decode(&key, &data)? }, found))),
            _ => Ok(None),
        }
    }

    async fn commit_account(&self, commit: AccountCommit<'_>) -> Result<CommitOutcome, StoreError> {
        let id = &commit.account.id;
        let mut invocation = self.commit_partition.key(self.account_key(id));
        invocation
            .key(self.journal_key(id))
            .key(self.documents_key(id))
            .key(self.events_key(id))
            .key(self.expiring_key(id));
        for entry in commit.scheduled {
            invocation.key(self.schedule_key(entry.schedule));
        }
        for (key, _) in commit.indexed {
            invocation.key(self.index_key(key));
        }
        for (schedule, _) in commit.unscheduled {
            invocation.key(self.schedule_key(schedule));
        }
        invocation
            .arg(commit.expected_version)
            .arg(encode(&*commit.account)?)
            .arg(commit.new_entries.len())
            .arg(commit.documents_put.len())
            .arg(commit.documents_deleted.len())
            .arg(commit.events.len())
            .arg(EVENTS_KEPT_PER_ACCOUNT)
            .arg(self.events_channel())
            .arg(id.as_str())
            .arg(commit.documents_expiring.len())
            .arg(u64::try_from(commit.expiring_ttl.as_millis()).unwrap_or(u64::MAX))
            .arg(EXPIRED_RECLAIMED_PER_COMMIT)
            .arg(commit.scheduled.len())
            .arg(commit.indexed.len())
            .arg(commit.unscheduled.len());
        for entry in commit.new_entries {
            invocation.arg(encode(entry)?);
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

    async fn partition_document(&self, id: &AccountId, name: &str) -> Result<Option<String>, StoreError> {
        self.query(redis::cmd("HGET").arg(self.documents_key(id)).arg(name)).await
    }

    async fn partition_documents(&self, id: &AccountId, prefix: &str) -> Result<Vec<(String, String)>, StoreError> {
        // A partition holds one user's documents; HSCAN with MATCH still reads
        // the whole hash, so one HGETALL is as cheap and simpler.
        let all: Vec<(String, String)> = self.query(redis::cmd("HGETALL").arg(self.documents_key(id))).await?;
        let mut matching: Vec<(String, String)> =
            all.into_iter().filter(|(name, _)| name.starts_with(prefix)).collect();
        matching.sort();
        Ok(matching)
    }

    async fn journal(
        &self,
        id: &AccountId,
        before_seq: Option<u64>,
        limit: usize,
    ) -> Result<Vec<JournalEntry>, StoreError> {
        let key = self.journal_key(id);
        let length: u64 = self.query(redis::cmd("LLEN").arg(&key)).await?;
        let window = journal_window(length, before_seq, limit);
        if window.is_empty() {
            return Ok(Vec::new());
        }
        let texts: Vec<String> =
            self.query(redis::cmd("LRANGE").arg(&key).arg(window.start).arg(window.end - 1)).await?;
        texts.iter().rev().map(|text| decode(&key, text)).collect()
    }

    async fn account_ids(&self) -> Result<Vec<AccountId>, StoreError> {
        let members: Vec<String> = self.query(redis::cmd("SMEMBERS").arg(self.accounts_key())).await?;
        let mut ids: Vec<AccountId> = members.iter().filter_map(|m| AccountId::parse(m)).collect();
        ids.sort();
        Ok(ids)
    }

    async fn put_ephemeral(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        let ttl_ms = ttl.as_millis().max(1) as u64;
        let _: () = self.query(redis::cmd("SET").arg(self.ephemeral_key(key)).arg(value).arg("PX").arg(ttl_ms)).await?;
        Ok(())
    }

    async fn take_ephemeral(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.query(redis::cmd("GETDEL").arg(self.ephemeral_key(key))).await
    }

    async fn get_ephemeral(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.query(redis::cmd("GET").arg(self.ephemeral_key(key))).await
    }

    async fn load_document(&self, collection: &str, id: &str) -> Result<Option<Versioned<String>>, StoreError> {
        let key = self.collection_key(collection);
        let (body, version): (Option<String>, Option<u64>) =
            self.query(redis::cmd("HMGET").arg(&key).arg(id).arg(format!("{id}#v"))).await?;
        Ok(body.zip(version).map(|(value, version)| Versioned { version, value }))
    }

    async fn load_documents(&self, ids: &[(&str, &str)]) -> Result<Vec<Option<Versioned<String>>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipeline = redis::pipe();
        for (collection, id) in ids {
            pipeline.cmd("HMGET").arg(self.collection_key(collection)).arg(*id).arg(format!("{id}#v"));
        }
        let mut connection = self.connection.clone();
        let found: Vec<(Option<String>, Option<u64>)> =
            pipeline.query_async(&mut connection).await.map_err(unavailable)?;
        Ok(found
            .into_iter()
            .map(|(body, version)| body.zip(version).map(|(value, version)| Versioned { version, value }))
            .collect())
    }

    async fn save_documents(&self, writes: &[DocumentWrite<'_>]) -> Result<CommitOutcome, StoreError> {
        if writes.is_empty() {
            return Ok(CommitOutcome::Committed);
        }
        let mut invocation = self.save_documents.prepare_invoke();
        for write in writes {
            invocation
                .key(self.collection_key(write.collection))
                .arg(write.id)
                .arg(write.expected_version)
                .arg(write.body);
        }
        let mut connection = self.connection.clone();
        let saved: i64 = invocation.invoke_async(&mut connection).await.map_err(unavailable)?;
        Ok(if saved == 1 { CommitOutcome::Committed } else { CommitOutcome::VersionConflict })
    }

    async fn list_documents(&self, collection: &str, limit: usize) -> Result<Vec<(String, String)>, StoreError> {
        // Collections are small (mock provider data); HSCAN would page a large one.
        let fields: Vec<(String, String)> =
            self.query(redis::cmd("HGETALL").arg(self.collection_key(collection))).await?;
        Ok(fields.into_iter().filter(|(field, _)| !field.ends_with("#v")).take(limit).collect())
    }

    async fn get_index(&self, key: &str) -> Result<Option<String>, StoreError> {
        self.query(redis::cmd("GET").arg(self.index_key(key))).await
    }

    async fn swap_index(&self, key: &str, expected: Option<&str>, new: Option<&str>) -> Result<bool, StoreError> {
        let flag = |present: bool| if present { "1" } else { "0" };
        let mut invocation = self.swap_index.key(self.index_key(key));
        invocation
            .arg(flag(expected.is_some()))
            .arg(expected.unwrap_or(""))
            .arg(flag(new.is_some()))
            .arg(new.unwrap_or(""));
        let mut connection = self.connection.clone();
        let swapped: i64 = invocation.invoke_async(&mut connection).await.map_err(unavailable)?;
        Ok(swapped == 1)
    }

    async fn push_recent(&self, list: &str, value: &str, keep: usize) -> Result<(), StoreError> {
        let key = self.list_key(list);
        let mut pipeline = redis::pipe();
        pipeline.atomic().cmd("LPUSH").arg(&key).arg(value).ignore();
        pipeline.cmd("LTRIM").arg(&key).arg(0).arg(keep.max(1) as i64 - 1).ignore();
        let mut connection = self.connection.clone();
        let _: () = pipeline.query_async(&mut connection).await.map_err(unavailable)?;
        Ok(())
    }

    async fn recent(&self, list: &str, limit: usize) -> Result<Vec<String>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        self.query(redis::cmd("LRANGE").arg(self.list_key(list)).arg(0).arg(limit as i64 - 1)).await
    }

    async fn schedule(&self, schedule: &str, member: &str, at_ms: i64) -> Result<(), StoreError> {
        let _: i64 = self.query(redis::cmd("ZADD").arg(self.schedule_key(schedule)).arg(at_ms).arg(member)).await?;
        Ok(())
    }

    async fn scheduled(&self, schedule: &str, until_ms: i64, limit: usize) -> Result<Vec<(String, i64)>, StoreError> {
        let command = redis::cmd("ZRANGEBYSCORE")
            .arg(self.schedule_key(schedule))
            .arg("-inf")
            .arg(until_ms)
            .arg("WITHSCORES")
            .arg("LIMIT")
            .arg(0)
            .arg(limit)
            .to_owned();
        self.query(&command).await
    }

    async fn unschedule(&self, schedule: &str, member: &str) -> Result<bool, StoreError> {
        let removed: i64 = self.query(redis::cmd("ZREM").arg(self.schedule_key(schedule)).arg(member)).await?;
        Ok(removed == 1)
    }

    async fn claim_scheduled(
        &self,
        schedule: &str,
        until_ms: i64,
        lease_until_ms: i64,
        limit: usize,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let mut invocation = self.claim_schedule.key(self.schedule_key(schedule));
        invocation.arg(until_ms).arg(lease_until_ms).arg(limit);
        let mut connection = self.connection.clone();
        let flat: Vec<String> = invocation.invoke_async(&mut connection).await.map_err(unavailable)?;
        flat.chunks(2)
            .map(|pair| match pair {
                [member, score] => {
                    let at = score.parse::<f64>().map_err(|e| StoreError::Corrupt {
                        key: self.schedule_key(schedule),
                        reason: format!("score {score:?}: {e}"),
                    })?;
                    Ok((member.clone(), at as i64))
                }
                _ => Err(StoreError::Corrupt { key: self.schedule_key(schedule), reason: "odd reply".into() }),
            })
            .collect()
    }

    async fn reschedule_if_at(
        &self,
        schedule: &str,
        member: &str,
        expected_at_ms: i64,
        to_ms: Option<i64>,
    ) -> Result<bool, StoreError> {
        let mut invocation = self.reschedule_if_at.key(self.schedule_key(schedule));
        invocation.arg(member).arg(expected_at_ms);
        match to_ms {
            Some(at_ms) => invocation.arg("1").arg(at_ms),
            None => invocation.arg("0").arg(0),
        };
        let mut connection = self.connection.clone();
        let changed: i64 = invocation.invoke_async(&mut connection).await.map_err(unavailable)?;
        Ok(changed == 1)
    }

    async fn delete_partition_document(&self, id: &AccountId, name: &str) -> Result<(), StoreError> {
        let _: i64 = self.query(redis::cmd("HDEL").arg(self.documents_key(id)).arg(name)).await?;
        Ok(())
    }

    async fn events(
        &self,
        id: &AccountId,
        after: Option<EventPosition>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let start = after.map_or_else(|| "-".to_owned(), |after| format!("({after}"));
        let command =
            redis::cmd("XRANGE").arg(self.events_key(id)).arg(start).arg("+").arg("COUNT").arg(limit).to_owned();
        let entries: Vec<(String, Vec<(String, String)>)> = self.query(&command).await?;
        Ok(entries
            .into_iter()
            .map(|(id, fields)| {
                let body =
                    fields.into_iter().find(|(name, _)| name == "body").map(|(_, body)| body).unwrap_or_default();
                StoredEvent { id, body }
            })
            .collect())
    }

    fn event_signals(&self) -> broadcast::Receiver<AccountId> {
        let receiver = self.event_signals.subscribe();
        self.listening.call_once(|| self.spawn_event_listener());
        receiver
    }

    async fn append_log(&self, log: &str, body: &str) -> Result<u64, StoreError> {
        let length: u64 = self.query(redis::cmd("RPUSH").arg(self.log_key(log)).arg(body)).await?;
        Ok(length.saturating_sub(1))
    }

    async fn read_log(&self, log: &str, before: Option<u64>, limit: usize) -> Result<Vec<LogEntry>, StoreError> {
        let key = self.log_key(log);
        let length: u64 = self.query(redis::cmd("LLEN").arg(&key)).await?;
        let window = journal_window(length, before, limit);
        if window.is_empty() {
            return Ok(Vec::new());
        }
        let bodies: Vec<String> =
            self.query(redis::cmd("LRANGE").arg(&key).arg(window.start).arg(window.end - 1)).await?;
        let mut entries: Vec<LogEntry> =
            bodies.into_iter().zip(window).map(|(body, seq)| LogEntry { seq, body }).collect();
        entries.reverse();
        Ok(entries)
    }
}

#[cfg(test)]
mod tests {
    use redis::{ErrorKind, RedisError, ServerErrorKind};

    use super::{StoreError, unavailable};

    fn server_error(kind: ServerErrorKind) -> RedisError {
        RedisError::from((ErrorKind::Server(kind), "server error"))
    }

    #[test]
    fn a_redis_that_is_loading_or_says_wait_is_unavailable_not_corrupt() {
        for kind in [
            ServerErrorKind::BusyLoading,
            ServerErrorKind::TryAgain,
            ServerErrorKind::MasterDown,
            ServerErrorKind::ClusterDown,
        ] {
            assert!(matches!(unavailable(server_error(kind)), StoreError::Unavailable(_)), "{kind:?}");
        }
        let refused = RedisError::from(std::io::Error::from(std::io::ErrorKind::ConnectionRefused));
        assert!(matches!(unavailable(refused), StoreError::Unavailable(_)));
        for kind in [ServerErrorKind::ResponseError, ServerErrorKind::CrossSlot] {
            assert!(matches!(unavailable(server_error(kind)), StoreError::Corrupt { .. }), "{kind:?}");
        }
    }
}
