//! Partition commits without Lua, on a single Redis: the record (and the
//! expiring documents that must be new) under `WATCH`, its version read and
//! compared here, then the same writes `commit_partition.lua` makes as
//! plain commands in one `MULTI` … `EXEC`, which Redis refuses (a nil
//! reply, nothing written) if a watched key changed after the `WATCH`. That
//! is the script's compare-and-set, all or nothing, at half its cost:
//! every byte a script is given is hashed by Redis's Lua (about 12
//! instructions a byte, and a commit carries about 5 KB), and each of its
//! calls converts arguments and replies twice; plain commands only copy
//! (docs/redis.md, "What a commit costs").
//!
//! `WATCH` belongs to a connection: any `EXEC`, `DISCARD` or `UNWATCH` on
//! it ends every watch, so a commit takes a connection of its own for its
//! two round trips (`WatchConnections`) rather than the store's multiplexed
//! one. A connection goes back to the pool only when its commit ended
//! cleanly (no watch left); one that failed, timed out or was dropped half
//! way is closed, which ends whatever it held.
//!
//! A cluster keeps the script: its client multiplexes one connection per
//! master and cannot lend one to a commit. A record that still holds
//! replies of the layout before (`reclaim_at`) is left to the script too,
//! which reclaims them.

use std::sync::Mutex;
use std::time::Duration;

use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Value};

use super::{RedisStore, unavailable};
use crate::settings::StoreSettings;
use crate::store::{AccountCommit, CommitOutcome, EVENTS_KEPT_PER_ACCOUNT, StoreError};

/// Idle commit connections kept for the next commits; more are opened while
/// more commits are in flight, and closed when they end beyond this.
const IDLE_KEPT: usize = 64;

/// Connections lent to one commit at a time, opened on demand.
pub(super) struct WatchConnections {
    client: redis::Client,
    config: AsyncConnectionConfig,
    // A std mutex: held only to push or pop, never across an await.
    idle: Mutex<Vec<MultiplexedConnection>>,
}

impl WatchConnections {
    pub(super) fn new(client: redis::Client, settings: &StoreSettings) -> WatchConnections {
        let config = AsyncConnectionConfig::new()
            .set_response_timeout(Some(Duration::from_millis(settings.command_timeout_ms)))
            .set_connection_timeout(Some(Duration::from_millis(settings.connect_timeout_ms)));
        WatchConnections { client, config, idle: Mutex::new(Vec::new()) }
    }

    /// An idle connection (`true`: reused) or a new one.
    async fn take(&self) -> Result<(MultiplexedConnection, bool), StoreError> {
        let idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).pop();
        match idle {
            Some(connection) => Ok((connection, true)),
            None => Ok((self.open().await?, false)),
        }
    }

    async fn open(&self) -> Result<MultiplexedConnection, StoreError> {
        self.client.get_multiplexed_async_connection_with_config(&self.config).await.map_err(unavailable)
    }

    /// Closes every idle connection.
    fn forget_idle(&self) {
        self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clear();
    }

    /// Keeps a connection that holds no watch any more.
    fn give_back(&self, connection: MultiplexedConnection) {
        let mut idle = self.idle.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if idle.len() < IDLE_KEPT {
            idle.push(connection);
        }
    }
}

impl std::fmt::Debug for WatchConnections {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchConnections").finish_non_exhaustive()
    }
}

/// The record and journal entries of one commit, as JSON.
pub(super) struct Encoded<'e> {
    pub record: &'e str,
    pub entries: &'e [String],
}

/// The keys of one commit, as `commit_account` names them for the script.
pub(super) struct CommitKeys<'k> {
    pub record: &'k str,
    pub journal: &'k str,
    pub documents: &'k str,
    pub events: &'k str,
    pub expiring: &'k [String],
    pub scheduled: &'k [String],
    pub unscheduled: &'k [String],
    pub indexes: &'k [String],
    pub channel: &'k str,
}

impl RedisStore {
    /// Commits on a single Redis without a script; `None` when the record
    /// still holds replies of the layout before, which the script reclaims
    /// (nothing is written then but the index entries).
    pub(super) async fn commit_watched(
        &self,
        pool: &WatchConnections,
        commit: &AccountCommit<'_>,
        keys: &CommitKeys<'_>,
        encoded: Encoded<'_>,
    ) -> Result<Option<CommitOutcome>, StoreError> {
        let must_be_new = commit.expiring_must_be_new && !commit.documents_expiring.is_empty();
        let mut watch = redis::pipe();
        // The index entries first, as the script's caller writes them: on
        // this connection, so one `WAIT` covers them with the commit.
        for (key, (_, value)) in keys.indexes.iter().zip(commit.indexed) {
            watch.cmd("SET").arg(key).arg(value).ignore();
        }
        watch.cmd("WATCH").arg(keys.record);
        if must_be_new {
            watch.arg(keys.expiring);
        }
        watch.ignore();
        watch.cmd("HMGET").arg(keys.record).arg("version").arg("reclaim_at");
        if must_be_new {
            watch.cmd("EXISTS").arg(keys.expiring);
        }
        let (mut connection, reused) = pool.take().await?;
        let read = match watch_and_read(&mut connection, &watch, must_be_new).await {
            Err(error) if reused && (error.is_connection_dropped() || error.is_io_error()) => {
                // An idle connection outlived its server (a restart), and so
                // did every other idle one. Nothing was written but the
                // index entries, which may be written again.
                pool.forget_idle();
                connection = pool.open().await?;
                watch_and_read(&mut connection, &watch, must_be_new).await
            }
            read => read,
        };
        let ((version, reclaim_at), expiring_taken) = read.map_err(unavailable)?;
        let refused = version != Some(commit.expected_version) || expiring_taken;
        if refused || reclaim_at.is_some() {
            let _: () = redis::cmd("UNWATCH").query_async(&mut connection).await.map_err(unavailable)?;
            pool.give_back(connection);
            return Ok(refused.then_some(CommitOutcome::VersionConflict));
        }
        let transaction = writes(commit, keys, encoded);
        let reply: Value = transaction.query_async(&mut connection).await.map_err(unavailable)?;
        if let Value::Nil = reply {
            // A watched key changed between the WATCH and the EXEC.
            pool.give_back(connection);
            return Ok(Some(CommitOutcome::VersionConflict));
        }
        self.wait_on_connection(&mut connection, keys.record).await?;
        pool.give_back(connection);
        Ok(Some(CommitOutcome::Committed))
    }
}

/// Sends the `WATCH` step: the record's version and `reclaim_at`, and
/// whether an expiring document that must be new exists.
async fn watch_and_read(
    connection: &mut MultiplexedConnection,
    watch: &redis::Pipeline,
    must_be_new: bool,
) -> redis::RedisResult<((Option<u64>, Option<String>), bool)> {
    if must_be_new {
        let (record, existing): (_, u64) = watch.query_async(connection).await?;
        Ok((record, existing > 0))
    } else {
        let (record,) = watch.query_async(connection).await?;
        Ok((record, false))
    }
}

/// The commit's writes in one `MULTI` … `EXEC`, in the script's order.
fn writes(commit: &AccountCommit<'_>, keys: &CommitKeys<'_>, encoded: Encoded<'_>) -> redis::Pipeline {
    let mut transaction = redis::pipe();
    transaction.atomic();
    if !commit.documents_expiring.is_empty() {
        if commit.expiring_ttl.is_zero() {
            // Kept for no time at all, a document is expired as soon as
            // written: it is not kept (and replaces any kept under its name).
            transaction.cmd("DEL").arg(keys.expiring);
        } else {
            let ttl_ms = u64::try_from(commit.expiring_ttl.as_millis()).unwrap_or(u64::MAX);
            for (key, (_, body)) in keys.expiring.iter().zip(commit.documents_expiring) {
                transaction.cmd("SET").arg(key).arg(body).arg("PX").arg(ttl_ms);
            }
        }
    }
    transaction
        .cmd("HSET")
        .arg(keys.record)
        .arg("version")
        .arg(commit.expected_version + 1)
        .arg("data")
        .arg(encoded.record);
    if !encoded.entries.is_empty() {
        transaction.cmd("RPUSH").arg(keys.journal).arg(encoded.entries);
    }
    if !commit.documents_put.is_empty() {
        transaction.cmd("HSET").arg(keys.documents);
        for (name, body) in commit.documents_put {
            transaction.arg(name).arg(body);
        }
    }
    if !commit.documents_deleted.is_empty() {
        transaction.cmd("HDEL").arg(keys.documents).arg(commit.documents_deleted);
    }
    for body in commit.events {
        transaction.cmd("XADD").arg(keys.events).arg("MAXLEN").arg("~").arg(EVENTS_KEPT_PER_ACCOUNT);
        transaction.arg("*").arg("body").arg(body);
    }
    for (key, entry) in keys.scheduled.iter().zip(commit.scheduled) {
        transaction.cmd("ZADD").arg(key).arg(entry.at_ms).arg(&entry.member);
    }
    for (key, (_, member)) in keys.unscheduled.iter().zip(commit.unscheduled) {
        transaction.cmd("ZREM").arg(key).arg(member);
    }
    if !commit.events.is_empty() {
        transaction.cmd("PUBLISH").arg(keys.channel).arg(commit.account.id.as_str());
    }
    transaction
}
