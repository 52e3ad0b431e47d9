//! Event streams on Redis: a Redis stream per partition, and one pub/sub
//! channel whose messages are relayed to this process's listeners.

use async_trait::async_trait;
use futures_util::StreamExt;
use tokio::sync::broadcast;

use super::{RESUBSCRIBE_PAUSE, RedisStore};
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
}

impl RedisStore {
    /// Relays the events channel to this process's subscribers for as long as
    /// anyone may listen, re-subscribing after a lost connection. Listeners
    /// re-read their streams on each wake-up and now and then, so a message
    /// missed while disconnected only delays a notification.
    fn spawn_event_listener(&self) {
        let client = self.client.clone();
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
}
