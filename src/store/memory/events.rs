//! Event streams in memory: each partition's capped queue of events, and a
//! broadcast channel for the wake-ups (one process, so no pub/sub).

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::MemoryStore;
use crate::domain::account::AccountId;
use crate::store::{EventPosition, EventStreams, StoreError, StoredEvent};

#[async_trait]
impl EventStreams for MemoryStore {
    async fn events(
        &self,
        id: &AccountId,
        after: Option<EventPosition>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError> {
        let state = self.state();
        let Some(partition) = state.partitions.get(id) else { return Ok(Vec::new()) };
        let newer = partition.events.iter().filter(|(_, position, _)| after.is_none_or(|after| *position > after));
        Ok(newer
            .take(limit)
            .map(|(_, position, body)| StoredEvent { id: position.to_string(), body: body.clone() })
            .collect())
    }

    fn event_signals(&self) -> broadcast::Receiver<AccountId> {
        self.event_signals.subscribe()
    }
}
