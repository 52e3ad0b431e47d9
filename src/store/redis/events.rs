//! Event streams on Redis: a partition's events in its record's hash, one
//! field per commit (layout `v5`, `event_field`; a partition created before
//! also holds the events of before in a Redis stream), and wake-ups
//! between processes — on a single Redis over one pub/sub channel, on a
//! cluster over each shard's channel (`SPUBLISH`, heard with `SSUBSCRIBE`
//! on the node that owns the shard's slot, so no message crosses the
//! cluster bus to every node).
//!
//! A commit with events queues its account here, and this process's
//! publisher sends one message per channel naming every account queued
//! since its last (space-separated ids): under load one message carries
//! many commits' wake-ups, and Redis writes one message to each listening
//! process instead of one per commit. A wake-up is a hint: a listener also
//! re-reads its stream at each heartbeat, so one lost with a process that
//! died between its commit and the message only delays a notification.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;
use futures_util::StreamExt;
use redis::cluster_routing::{MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo};
use tokio::sync::{broadcast, mpsc};

use super::keys::{KeyLayout, SHARDS, shard_of};
use super::packing::unpack;
use super::{Connection, RESUBSCRIBE_PAUSE, RedisStore, Subscriptions, cluster_builder, unavailable};
use crate::domain::account::AccountId;
use crate::store::{EVENTS_KEPT_PER_ACCOUNT, EventPosition, EventStreams, StoreError, StoredEvent};

#[async_trait]
impl EventStreams for RedisStore {
    async fn events(
        &self,
        id: &AccountId,
        after: Option<EventPosition>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        // Nothing lies after the last position there is (and Redis refuses
        // a range that starts after it).
        if limit == 0 || after == Some(EventPosition(u64::MAX, u64::MAX)) {
            return Ok(Vec::new());
        }
        // Events a partition created before layout v5 keeps in its stream
        // come first: their ids (milliseconds) lie below the base of the
        // positions it has kept in its record since (microseconds).
        let record_key = self.keys.account(id);
        let start = after.map_or_else(|| "-".to_owned(), |after| format!("({after}"));
        let mut pipeline = redis::pipe();
        pipeline.atomic().cmd("HMGET").arg(&record_key).arg("version").arg("eb");
        pipeline.cmd("XRANGE").arg(self.keys.events(id)).arg(start).arg("+").arg("COUNT").arg(limit);
        let mut connection = self.connection.clone();
        type StreamEntry = (String, Vec<(String, Vec<u8>)>);
        let ((version, base), streamed): ((Option<u64>, Option<u64>), Vec<StreamEntry>) =
            pipeline.query_async(&mut connection).await.map_err(unavailable)?;
        let mut events = Vec::with_capacity(streamed.len());
        for (event_id, fields) in streamed {
            let body = fields.into_iter().find(|(name, _)| name == "body").map(|(_, body)| body).unwrap_or_default();
            events.push(StoredEvent { body: unpack(&format!("{id}/events/{event_id}"), body)?, id: event_id });
        }
        let (Some(version), Some(base)) = (version, base) else { return Ok(events) };
        if events.len() == limit {
            return Ok(events);
        }
        // The commits whose events are still kept, from the one of `after`.
        let kept_from = version.saturating_sub(EVENTS_KEPT_PER_ACCOUNT as u64 - 1).max(1);
        let from = after.filter(|after| after.0 > base).map_or(kept_from, |after| (after.0 - base).max(kept_from));
        if from > version {
            return Ok(events);
        }
        let fields: Vec<String> = (from..=version).map(event_field).collect();
        let found: Vec<Option<Vec<u8>>> = self.query(redis::cmd("HMGET").arg(&record_key).arg(&fields)).await?;
        for (commit_version, stored) in (from..=version).zip(found) {
            let Some(stored) = stored else { continue };
            let place = format!("{record_key}/{}", event_field(commit_version));
            let (written_at, bodies) = decode_commit_events(&stored)
                .ok_or_else(|| StoreError::Corrupt { key: place.clone(), reason: "not a commit's events".into() })?;
            // A slot is reused a commit in EVENTS_KEPT_PER_ACCOUNT later: one
            // of another commit is not this one's.
            if written_at != commit_version {
                continue;
            }
            for (index, body) in bodies.into_iter().enumerate() {
                let position = EventPosition(base + commit_version, index as u64);
                if after.is_some_and(|after| position <= after) {
                    continue;
                }
                events.push(StoredEvent { id: position.to_string(), body: unpack(&place, body.to_vec())? });
                if events.len() == limit {
                    return Ok(events);
                }
            }
        }
        Ok(events)
    }

    fn event_signals(&self) -> broadcast::Receiver<AccountId> {
        let receiver = self.event_signals.subscribe();
        self.listening.call_once(|| self.spawn_event_listener());
        receiver
    }
}

/// The field of a partition's record (layout `v5`) that holds the events
/// of its commit to `version`: one slot per commit among the
/// `EVENTS_KEPT_PER_ACCOUNT` newest, so a commit writes over the events of
/// the one that many commits before it, and nothing is ever trimmed. Event
/// `k` of that commit is at position `<eb + version>-<k>`, `eb` being the
/// partition's base (the time it was created, in µs): positions keep
/// growing, and those of a partition created again after a wipe start
/// above the ones its clients hold.
pub(super) fn event_field(version: u64) -> String {
    format!("e:{}", version % EVENTS_KEPT_PER_ACCOUNT as u64)
}

/// The value of a commit's events field: the commit's version, then each
/// event (as stored: packed or not) after its length, each number ended
/// by a newline.
pub(super) fn encode_commit_events(version: u64, bodies: &[Vec<u8>]) -> Vec<u8> {
    let mut value = format!("{version}\n").into_bytes();
    for body in bodies {
        value.extend_from_slice(format!("{}\n", body.len()).as_bytes());
        value.extend_from_slice(body);
    }
    value
}

/// The version and events of a commit's events field; `None` if it is not one.
pub(super) fn decode_commit_events(value: &[u8]) -> Option<(u64, Vec<&[u8]>)> {
    fn number(value: &[u8]) -> Option<(u64, &[u8])> {
        let end = value.iter().position(|&b| b == b'\n')?;
        let text = std::str::from_utf8(&value[..end]).ok()?;
        // Digits only: `parse` would take a sign too (and fails on nothing).
        let parsed = text.bytes().all(|b| b.is_ascii_digit()).then(|| text.parse().ok()).flatten()?;
        Some((parsed, &value[end + 1..]))
    }
    let (version, mut rest) = number(value)?;
    let mut bodies = Vec::new();
    while !rest.is_empty() {
        let (length, after) = number(rest)?;
        let length = usize::try_from(length).ok().filter(|&length| length <= after.len())?;
        bodies.push(&after[..length]);
        rest = &after[length..];
    }
    Some((version, bodies))
}

/// Most accounts one wake-up message names.
const WAKE_UP_IDS_MAX: usize = 1024;

/// The sending half of this process's wake-ups: accounts with new events,
/// which the publisher (`spawn_wake_up_publisher`) tells every process of.
pub(super) type WakeUps = mpsc::UnboundedSender<AccountId>;

/// Starts the publisher of a store's wake-ups; it ends when the store (every
/// clone of the returned sender) is dropped. It sends whatever was queued
/// while its last messages were on their way, so it adds no wait when idle.
pub(super) fn spawn_wake_up_publisher(connection: Connection, keys: KeyLayout) -> WakeUps {
    let (sender, mut queued) = mpsc::unbounded_channel::<AccountId>();
    let cluster = matches!(connection, Connection::Cluster(_));
    tokio::spawn(async move {
        let mut batch = Vec::new();
        while queued.recv_many(&mut batch, WAKE_UP_IDS_MAX).await > 0 {
            let messages = wake_up_messages(&keys, cluster, &batch);
            let sends = messages.into_iter().map(|(channel, payload)| {
                let mut connection = connection.clone();
                let command = if cluster { "SPUBLISH" } else { "PUBLISH" };
                async move {
                    let sent: redis::RedisResult<i64> =
                        redis::cmd(command).arg(&channel).arg(payload).query_async(&mut connection).await;
                    if let Err(error) = sent {
                        tracing::debug!(%error, %channel, "a wake-up was not sent; listeners catch up at their heartbeat");
                    }
                }
            });
            futures_util::future::join_all(sends).await;
            batch.clear();
        }
    });
    sender
}

/// The messages that wake listeners for `accounts`: per channel (one on a
/// single Redis, the account's shard's on a cluster), each account once.
fn wake_up_messages(keys: &KeyLayout, cluster: bool, accounts: &[AccountId]) -> Vec<(String, String)> {
    let mut by_channel: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for id in accounts {
        let channel = if cluster { keys.shard_events_channel(shard_of(id.as_str())) } else { keys.events_channel() };
        by_channel.entry(channel).or_default().insert(id.as_str());
    }
    by_channel.into_iter().map(|(channel, ids)| (channel, ids.into_iter().collect::<Vec<_>>().join(" "))).collect()
}

/// The accounts a wake-up message names (one id, from a version that sent
/// one per commit, or several separated by spaces).
fn woken_accounts(payload: &str) -> impl Iterator<Item = AccountId> + '_ {
    payload.split(' ').filter_map(AccountId::parse)
}

impl RedisStore {
    /// Queues a wake-up for `id`'s listeners in every process.
    pub(super) fn wake_listeners(&self, id: &AccountId) {
        // The publisher lives as long as the store; a send fails only while
        // the runtime shuts down, when no one listens any more.
        let _ = self.wake_ups.send(id.clone());
    }

    /// Relays the events channel to this process's subscribers for as long as
    /// anyone may listen, re-subscribing after a lost connection, or one
    /// that stopped answering its pings. Listeners re-read their streams on
    /// each wake-up and now and then, so a message missed while
    /// disconnected only delays a notification.
    fn spawn_event_listener(&self) {
        let client = match &self.subscriptions {
            Subscriptions::Single(client) => client.clone(),
            Subscriptions::Cluster(nodes) => return self.spawn_cluster_event_listener(nodes.clone()),
        };
        let channel = self.keys.events_channel();
        let signals = self.event_signals.clone();
        let answer_within = Duration::from_millis(self.timeouts.command_timeout_ms);
        tokio::spawn(async move {
            loop {
                match client.get_async_pubsub().await {
                    Ok(pubsub) => match relay_channel(pubsub, &channel, &signals, answer_within).await {
                        Ok(()) => {
                            tracing::info!("the events channel's connection ended or went silent; subscribing again")
                        }
                        Err(error) => tracing::warn!(%error, "could not subscribe to the events channel"),
                    },
                    Err(error) => tracing::debug!(%error, "events channel unreachable; retrying"),
                }
                tokio::time::sleep(RESUBSCRIBE_PAUSE).await;
            }
        });
    }

    /// The cluster's listener: one RESP3 cluster connection subscribed to
    /// every shard's channel. When a node drops the connection (restarted,
    /// or the connection cut) the listener starts again on a new one and
    /// subscribes to every channel again: the cluster client, which
    /// re-subscribes after a reconnect or a slot's move to another node,
    /// left a dropped subscription unheard until the streams' heartbeat
    /// (tests/api/redis_cluster.rs). So does a connection that went silent
    /// (half-open: no error, no message): the listener pings the masters
    /// and starts again when one does not answer in time
    /// (tests/api/redis_silence.rs).
    fn spawn_cluster_event_listener(&self, nodes: Vec<String>) {
        let channels: Vec<String> = (0..SHARDS).map(|shard| self.keys.shard_events_channel(shard)).collect();
        let signals = self.event_signals.clone();
        let timeouts = self.timeouts.clone();
        let answer_within = Duration::from_millis(timeouts.command_timeout_ms);
        tokio::spawn(async move {
            loop {
                let (sender, mut pushes) = tokio::sync::mpsc::unbounded_channel();
                let client = cluster_builder(&nodes, &timeouts)
                    .use_protocol(redis::ProtocolVersion::RESP3)
                    .push_sender(sender)
                    .build();
                let connected = match client {
                    Ok(client) => client.get_async_connection().await,
                    Err(error) => Err(error),
                };
                match connected {
                    // One channel per command: the shards' channels lie in different slots.
                    Ok(mut connection) => match subscribe_each(&mut connection, &channels).await {
                        Ok(()) => relay_shards(connection, &mut pushes, &signals, answer_within).await,
                        Err(error) => tracing::warn!(%error, "could not subscribe to the shards' event channels"),
                    },
                    Err(error) => tracing::debug!(%error, "cluster unreachable for event wake-ups; retrying"),
                }
                tokio::time::sleep(RESUBSCRIBE_PAUSE).await;
            }
        });
    }
}

/// Subscribes `pubsub` to `channel` and relays its wake-ups until the
/// connection ends or stops answering its pings.
async fn relay_channel(
    pubsub: redis::aio::PubSub,
    channel: &str,
    signals: &broadcast::Sender<AccountId>,
    answer_within: Duration,
) -> redis::RedisResult<()> {
    let (mut sink, mut messages) = pubsub.split();
    sink.subscribe(channel).await?;
    let mut pings = ping_interval();
    loop {
        tokio::select! {
            message = messages.next() => {
                let Some(message) = message else { return Ok(()) };
                wake(signals, &message.get_payload::<String>().unwrap_or_default());
            }
            _ = pings.tick() => {
                let pong = tokio::time::timeout(answer_within, sink.ping::<redis::Value>()).await;
                if !matches!(pong, Ok(Ok(_))) {
                    return Ok(());
                }
            }
        }
    }
}

/// Relays the shards' wake-ups that a subscribed cluster connection pushes,
/// until a node drops the connection or a master stops answering its pings.
/// The connection lives while it is held, so it ends here.
async fn relay_shards(
    mut connection: redis::cluster_async::ClusterConnection,
    pushes: &mut mpsc::UnboundedReceiver<redis::PushInfo>,
    signals: &broadcast::Sender<AccountId>,
    answer_within: Duration,
) {
    let mut pings = ping_interval();
    loop {
        tokio::select! {
            push = pushes.recv() => {
                let Some(push) = push else { return };
                if push.kind == redis::PushKind::Disconnection {
                    tracing::info!("a node dropped the event subscriptions; subscribing again");
                    return;
                }
                if push.kind != redis::PushKind::SMessage {
                    continue;
                }
                if let Some(redis::Value::BulkString(bytes)) = push.data.get(1) {
                    wake(signals, std::str::from_utf8(bytes).unwrap_or_default());
                }
            }
            _ = pings.tick() => {
                let every_master =
                    RoutingInfo::MultiNode((MultipleNodeRoutingInfo::AllMasters, Some(ResponsePolicy::AllSucceeded)));
                let ping = connection.route_command(redis::cmd("PING"), every_master);
                if !matches!(tokio::time::timeout(answer_within, ping).await, Ok(Ok(_))) {
                    tracing::info!("a node stopped answering the event subscriptions; subscribing again");
                    return;
                }
            }
        }
    }
}

/// Tells this process's listeners of the accounts a wake-up names.
fn wake(signals: &broadcast::Sender<AccountId>, payload: &str) {
    for id in woken_accounts(payload) {
        let _ = signals.send(id);
    }
}

/// How often a listener asks the nodes it subscribed on whether they still
/// answer: a connection gone silent (half-open) brings no error, so without
/// asking the listener would wait, deaf, until its streams' heartbeat. An
/// answer slower than `store.command_timeout_ms` counts as none. Like the
/// store's command timeouts it measures the connection, not business time,
/// so it runs on the monotonic clock.
const LISTENER_PING_EVERY: Duration = Duration::from_secs(2);

/// The listener's pings: the first one period after subscribing, and none
/// made up for after a slow one.
fn ping_interval() -> tokio::time::Interval {
    let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + LISTENER_PING_EVERY, LISTENER_PING_EVERY);
    pings.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    pings
}

/// Subscribes to each shard channel in turn.
async fn subscribe_each(
    connection: &mut redis::cluster_async::ClusterConnection,
    channels: &[String],
) -> redis::RedisResult<()> {
    for channel in channels {
        connection.ssubscribe(channel).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> AccountId {
        AccountId::parse(text).unwrap()
    }

    #[test]
    fn a_commits_events_field_holds_its_version_and_each_event_whole() {
        let bodies = vec![b"first\nwith a newline".to_vec(), Vec::new(), vec![0xFF, 1, b'\n', 0]];
        let value = encode_commit_events(1042, &bodies);
        let (version, read) = decode_commit_events(&value).unwrap();
        assert_eq!(version, 1042);
        assert_eq!(read, bodies.iter().map(Vec::as_slice).collect::<Vec<_>>());
        assert_eq!(decode_commit_events(&encode_commit_events(7, &[])), Some((7, Vec::new())));
        for damaged in [&b""[..], b"12", b"x\n", b"3\n9\nshort", b"3\n-1\n", b"3\n2\nab4"] {
            assert_eq!(decode_commit_events(damaged), None, "{:?}", String::from_utf8_lossy(damaged));
        }
        assert_eq!(event_field(1042), "e:42");
        assert_eq!(event_field(42), event_field(1042), "a slot is reused a thousand commits later");
    }

    #[test]
    fn one_message_per_channel_names_each_account_once() {
        let keys = KeyLayout::new("wg");
        let (a, b) = (id("acc_01a224841aee74b9ba98addfe3ca8711"), id("acc_01a2248808bd701383af4f708b523b1f"));
        let single = wake_up_messages(&keys, false, &[a.clone(), b.clone(), a.clone()]);
        assert_eq!(single, [(keys.events_channel(), format!("{a} {b}"))]);
        let cluster = wake_up_messages(&keys, true, &[a.clone(), b.clone(), a.clone()]);
        let shard = |id: &AccountId| keys.shard_events_channel(shard_of(id.as_str()));
        for (channel, payload) in &cluster {
            let named: Vec<AccountId> = woken_accounts(payload).collect();
            assert!(named.iter().all(|id| shard(id) == *channel), "{channel}: {payload}");
            assert_eq!(named.iter().filter(|id| **id == a).count(), usize::from(shard(&a) == *channel));
        }
        assert_eq!(cluster.iter().flat_map(|(_, payload)| woken_accounts(payload)).count(), 2);
    }

    #[test]
    fn a_message_of_one_id_or_several_wakes_each_and_ignores_the_rest() {
        let a = "acc_01a224841aee74b9ba98addfe3ca8711";
        assert_eq!(woken_accounts(a).collect::<Vec<_>>(), [id(a)]);
        let several = format!("{a} not-an-id  {a}");
        assert_eq!(woken_accounts(&several).collect::<Vec<_>>(), [id(a), id(a)]);
        assert_eq!(woken_accounts("").count(), 0);
    }
}
