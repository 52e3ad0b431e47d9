//! Wiping the memory store: every map emptied under the one lock, so no
//! operation ever sees half a wipe.

use async_trait::async_trait;

use super::{MemoryStore, State};
use crate::store::{StoreError, Wipe};

#[async_trait]
impl Wipe for MemoryStore {
    async fn wipe(&self) -> Result<u64, StoreError> {
        let mut state = self.state();
        let removed = state.entries();
        let reached = state.partitions.values().map(|partition| partition.events_appended).max().unwrap_or(0);
        let emptied = State { event_positions_floor: reached.max(state.event_positions_floor), ..State::default() };
        let old = std::mem::replace(&mut *state, emptied);
        drop(state);
        // Freed after the lock is let go: a big state takes a while to drop.
        drop(old);
        Ok(removed)
    }
}

impl State {
    /// Everything the state holds, counted as a Redis store counts its keys:
    /// partitions, logins, values, documents, index keys, lists, schedule
    /// members and logs.
    fn entries(&self) -> u64 {
        let documents: usize = self.documents.values().map(|collection| collection.iter().count()).sum();
        let scheduled: usize = self.schedules.values().map(|schedule| schedule.by_time.len()).sum();
        let counts = [
            self.partitions.len(),
            self.logins.len(),
            self.ephemeral.iter().count(),
            documents,
            self.indexes.iter().count(),
            self.lists.len(),
            scheduled,
            self.logs.len(),
            self.capped_logs.len(),
        ];
        counts.iter().map(|&count| count as u64).sum()
    }
}
