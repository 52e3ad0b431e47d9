//! Schedules read as lists (the withdrawals by creation time, the identity
//! checks waiting for an operator): a page at a time, in either order, each
//! entry turned into an item, or dropped, by the caller. One request reads
//! at most `LIST_SCAN_MAX` entries, so a filter that matches little cannot
//! make a request walk a whole list: it then answers with what it found and
//! where it stopped, and the next page goes on from there.

use futures_util::future::try_join_all;

use crate::error::ApiError;
use crate::store::{ScheduleOrder, SchedulePosition, SharedStore};

/// Entries one request reads at most (each costs a read of what it names).
pub const LIST_SCAN_MAX: usize = 1000;

/// Items found in a list, in list order, each with its position.
#[derive(Debug)]
pub struct ScannedPage<T> {
    pub items: Vec<(SchedulePosition, T)>,
    /// Where the read stopped when it reached `LIST_SCAN_MAX` entries with
    /// more to read; `None` when it found enough or reached the end.
    pub stopped_at: Option<SchedulePosition>,
}

/// Reads `schedule` in `order` from beyond `from` until `wanted` items are
/// found, the list ends, or `LIST_SCAN_MAX` entries are read. `item` turns
/// one entry (member, time) into an item, or `None` to leave it out; the
/// entries of one read are turned together.
pub async fn scan_list<T>(
    store: &SharedStore,
    schedule: &str,
    order: ScheduleOrder,
    from: Option<&SchedulePosition>,
    wanted: usize,
    item: impl AsyncFn(&str, i64) -> Result<Option<T>, ApiError>,
) -> Result<ScannedPage<T>, ApiError> {
    let mut items = Vec::new();
    let mut position = from.cloned();
    let mut scanned = 0;
    // Doubled after each read that left the page short: a filter that drops
    // most entries costs few round trips, one that drops none reads no more
    // than the page.
    let mut read_size = wanted;
    while items.len() < wanted {
        let read = read_size.min(LIST_SCAN_MAX - scanned);
        if read == 0 {
            return Ok(ScannedPage { items, stopped_at: position });
        }
        let entries = store.scheduled_page(schedule, order, position.as_ref(), read).await?;
        let found = try_join_all(entries.iter().map(|(member, at_ms)| item(member, *at_ms))).await?;
        scanned += entries.len();
        for ((member, at_ms), found) in entries.iter().zip(found) {
            if let Some(found) = found {
                items.push((SchedulePosition::new(*at_ms, member.as_str()), found));
            }
        }
        match entries.last() {
            Some((member, at_ms)) if entries.len() == read => {
                position = Some(SchedulePosition::new(*at_ms, member.as_str()));
            }
            _ => break,
        }
        read_size = read_size.saturating_mul(2);
    }
    Ok(ScannedPage { items, stopped_at: None })
}
