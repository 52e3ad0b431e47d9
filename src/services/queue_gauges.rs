//! The worker's queues as gauges: how many entries each holds (due now, and
//! in all) and how long its oldest due entry has waited
//! (`worker_queue_depth{queue,entries}`, `worker_lag_seconds{queue}`).
//!
//! The worker samples them as part of its step, at most every
//! `SAMPLE_EVERY` of real time: a sample costs a few store calls per queue
//! (on Redis one per shard), far too many to pay on every step of a busy
//! worker. Counting stops at `COUNTED_MAX`, past which a queue is simply long.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};

use super::keys::{MANUAL_REVIEW_SCHEDULE, PARKED_SCHEDULE, PAYOUT_SCHEDULE, WEBHOOK_SCHEDULE};
use crate::observability::catalogue::{WORKER_LAG_SECONDS, WORKER_QUEUE_DEPTH};
use crate::store::{SharedStore, StoreError};

/// The least real time between two samples.
pub const SAMPLE_EVERY: Duration = Duration::from_secs(10);
/// How far a sample counts a queue's entries.
pub const COUNTED_MAX: usize = 1000;
/// The queues sampled, by schedule name (the `queue` label): the worker's
/// own work, and the two lists operators work through (whose entries are
/// due from the moment they join, so "due" there is "waiting").
pub const QUEUES: [&str; 4] = [PAYOUT_SCHEDULE, WEBHOOK_SCHEDULE, MANUAL_REVIEW_SCHEDULE, PARKED_SCHEDULE];

/// One queue as sampled at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct QueueSample {
    pub due: usize,
    pub all: usize,
    /// Seconds since the oldest due entry fell due; 0 when none is due.
    pub lag_secs: f64,
}

impl QueueSample {
    /// The sample for counts and the time the oldest due entry fell due.
    pub fn new(due: usize, all: usize, oldest_due_ms: Option<i64>, now: DateTime<Utc>) -> QueueSample {
        let waited_ms = oldest_due_ms.map_or(0, |at_ms| now.timestamp_millis().saturating_sub(at_ms).max(0));
        QueueSample { due, all, lag_secs: waited_ms as f64 / 1000.0 }
    }
}

/// Samples the queues into the gauges; cheap to clone (clones share when they last sampled).
#[derive(Debug, Clone)]
pub struct QueueGauges {
    pub store: SharedStore,
    last_sampled: Arc<Mutex<Option<Instant>>>,
}

impl QueueGauges {
    pub fn new(store: SharedStore) -> QueueGauges {
        QueueGauges { store, last_sampled: Arc::default() }
    }

    /// Samples every queue at the business time `now`, unless a sample was
    /// taken less than `SAMPLE_EVERY` ago. A queue that cannot be read keeps
    /// its last values (and the store's error counter tells why).
    pub async fn sample_if_due(&self, now: DateTime<Utc>) {
        if !self.take_turn() {
            return;
        }
        for queue in QUEUES {
            match self.sample(queue, now).await {
                Ok(sample) => {
                    metrics::gauge!(WORKER_QUEUE_DEPTH, "queue" => queue, "entries" => "due").set(sample.due as f64);
                    metrics::gauge!(WORKER_QUEUE_DEPTH, "queue" => queue, "entries" => "all").set(sample.all as f64);
                    metrics::gauge!(WORKER_LAG_SECONDS, "queue" => queue).set(sample.lag_secs);
                }
                Err(error) => tracing::warn!(queue, %error, "could not sample a worker queue"),
            }
        }
    }

    /// Whether a sample is due now; if so, the next one is `SAMPLE_EVERY` away.
    fn take_turn(&self) -> bool {
        // Held only to read and set an instant, never across an await.
        let mut last = self.last_sampled.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < SAMPLE_EVERY) {
            return false;
        }
        *last = Some(now);
        true
    }

    /// One queue, read now.
    pub async fn sample(&self, queue: &str, now: DateTime<Utc>) -> Result<QueueSample, StoreError> {
        let now_ms = now.timestamp_millis();
        let (due, all, oldest) = tokio::try_join!(
            self.store.count_scheduled(queue, now_ms, COUNTED_MAX),
            self.store.count_scheduled(queue, i64::MAX, COUNTED_MAX),
            self.store.scheduled(queue, now_ms, 1),
        )?;
        Ok(QueueSample::new(due, all, oldest.first().map(|(_, at_ms)| *at_ms), now))
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn lag_is_how_long_the_oldest_due_entry_has_waited() {
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap();
        let due_at = (now - chrono::Duration::milliseconds(2_500)).timestamp_millis();
        assert_eq!(QueueSample::new(3, 7, Some(due_at), now), QueueSample { due: 3, all: 7, lag_secs: 2.5 });
        assert_eq!(QueueSample::new(0, 7, None, now).lag_secs, 0.0);
        let future = (now + chrono::Duration::seconds(1)).timestamp_millis();
        assert_eq!(QueueSample::new(0, 1, Some(future), now).lag_secs, 0.0, "never negative");
    }
}
