//! Event streams on Redis: a Redis stream per partition, and wake-ups
//! relayed to this process's listeners — on a single Redis from one pub/sub
//! channel, on a cluster from each shard's channel (`SPUBLISH` from the
//! commit, heard with `SSUBSCRIBE` on the node that owns the shard's slot,
//! so no message crosses the cluster bus to every node).

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::broadcast;

use super::keys::SHARDS;
use super::packing::unpack;
use super::{RESUBSCRIBE_PAUSE, RedisStore, Subscriptions, cluster_builder};
use crate::domain::account::AccountId;
use crate::store::{EventPosition, EventStreams, StoreError, StoredEvent};

#[async_trait]
impl EventStreams for RedisStore {
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
            redis::cmd("XRANGE").arg(self.keys.events(id)).arg(start).arg("+").arg("COUNT").arg(limit).to_owned();
        let entries: Vec<(String, Vec<(String, Vec<u8>)>)> = self.query(&command).await?;
        entries
            .into_iter()
            .map(|(event_id, fields)| {
                let body =
                    fields.into_iter().find(|(name, _)| name == "body").map(|(_, body)| body).unwrap_or_default();
                Ok(StoredEvent { body: unpack(&format!("{id}/events/{event_id}"), body)?, id: event_id })
            })
            .collect()
    }

    fn event_signals(&self) -> broadcast::Receiver<AccountId> {
        let receiver = self.event_signals.subscribe();
        self.listening.call_once(|| self.spawn_event_listener());
        receiver
    }
}

impl RedisStore {
    /// Relays the events channel to this process's subscribers for as long as
    /// anyone may listen, re-subscribing after a lost connection. Listeners
    /// re-read their streams on each wake-up and now and then, so a message
    /// missed while disconnected only delays a notification.
    fn spawn_event_listener(&self) {
        let client = match &self.subscriptions {
            Subscriptions::Single(client) => client.clone(),
            Subscriptions::Cluster(nodes) => return self.spawn_cluster_event_listener(nodes.clone()),
        };
        let channel = self.keys.events_channel();
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

    /// The cluster's listener: one RESP3 cluster connection subscribed to
    /// every shard's channel. The cluster client re-subscribes by itself
    /// after a reconnect or a slot's move to another node.
    fn spawn_cluster_event_listener(&self, nodes: Vec<String>) {
        let channels: Vec<String> = (0..SHARDS).map(|shard| self.keys.shard_events_channel(shard)).collect();
        let signals = self.event_signals.clone();
        let timeouts = self.timeouts.clone();
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
                        Ok(()) => {
                            // The connection lives (and re-subscribes) while it is held.
                            while let Some(push) = pushes.recv().await {
                                if push.kind != redis::PushKind::SMessage {
                                    continue;
                                }
                                let payload = push.data.get(1).and_then(|value| match value {
                                    redis::Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
                                    _ => None,
                                });
                                if let Some(id) = payload.and_then(AccountId::parse) {
                                    let _ = signals.send(id);
                                }
                            }
                            drop(connection);
                        }
                        Err(error) => tracing::warn!(%error, "could not subscribe to the shards' event channels"),
                    },
                    Err(error) => tracing::debug!(%error, "cluster unreachable for event wake-ups; retrying"),
                }
                tokio::time::sleep(RESUBSCRIBE_PAUSE).await;
            }
        });
    }
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
