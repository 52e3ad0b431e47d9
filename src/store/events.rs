//! Event streams: each account partition's capped stream of notifications.
//!
//! Events are appended only by `commit_account`, in the same atomic commit
//! as the change they describe, so a client never hears of a change that did
//! not happen nor misses one that did. A stream keeps the events of its
//! partition's newest `EVENTS_KEPT_PER_ACCOUNT` commits (so at least that
//! many events, when there were); positions only grow, so Server-Sent Events
//! resume exactly after `Last-Event-ID`, on any instance.
//!
//! Why each primitive exists:
//! - `events`: read a stream after a position (a client reconnecting, or woken);
//! - `event_signals`: hear, in every process (Redis pub/sub across them),
//!   which accounts gained events — a wake-up only, so listeners never poll
//!   every stream and a lost signal only delays a notification.

use async_trait::async_trait;
use tokio::sync::broadcast;

use super::StoreError;
use crate::domain::account::AccountId;

/// How many of an account's newest commits a stream keeps the events of
/// (older ones are dropped).
pub const EVENTS_KEPT_PER_ACCOUNT: usize = 1000;

#[async_trait]
pub trait EventStreams: Send + Sync {
    /// Up to `limit` events of an account's stream after `after` (from the
    /// oldest kept when `None`), oldest first.
    async fn events(
        &self,
        id: &AccountId,
        after: Option<EventPosition>,
        limit: usize,
    ) -> Result<Vec<StoredEvent>, StoreError>;

    /// Told the id of every account that gains events, in this process or
    /// (on Redis) in any other. A wake-up only: read the stream for the data.
    fn event_signals(&self) -> broadcast::Receiver<AccountId>;
}

/// One notification of an account's event stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    /// Stream position, `<n>-<m>`, increasing; clients resume after it.
    pub id: String,
    pub body: String,
}

/// A position in an event stream, as `<n>-<m>`: on Redis a stream id
/// (layout `v4`) or `<base + version>-<k>` (`v5`), on the memory store `<n>-0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct EventPosition(pub u64, pub u64);

impl EventPosition {
    /// Reads `<n>-<m>` (or a bare `<n>`); anything else is no position.
    pub fn parse(text: &str) -> Option<EventPosition> {
        let (major, minor) = text.split_once('-').unwrap_or((text, "0"));
        let digits = |part: &str| !part.is_empty() && part.len() <= 20 && part.bytes().all(|b| b.is_ascii_digit());
        if !digits(major) || !digits(minor) {
            return None;
        }
        Some(EventPosition(major.parse().ok()?, minor.parse().ok()?))
    }
}

impl std::fmt::Display for EventPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

#[cfg(test)]
mod tests {
    use super::EventPosition;

    #[test]
    fn event_positions_read_like_redis_stream_ids() {
        assert_eq!(EventPosition::parse("1700000000000-3"), Some(EventPosition(1_700_000_000_000, 3)));
        assert_eq!(EventPosition::parse("42"), Some(EventPosition(42, 0)));
        assert!(EventPosition(2, 0) > EventPosition(1, 9));
        for bad in ["", "-", "1-", "-1", "a-1", "1-2-3", "99999999999999999999999-0", "1 -0"] {
            assert_eq!(EventPosition::parse(bad), None, "{bad}");
        }
        assert_eq!(EventPosition(5, 1).to_string(), "5-1");
    }
}
