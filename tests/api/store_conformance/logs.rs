//! Append-only logs, capped logs and capped recent lists (`Logs`).

use walletgate::store::LogEntry;

use super::store_for;
use crate::helpers::StoreKind;
use crate::on_both_stores;

on_both_stores!(
    recent_lists_keep_the_newest_items,
    logs_are_append_only_and_read_newest_first_from_any_position,
    capped_logs_keep_their_newest_entries_at_positions_that_go_on_counting,
);

async fn recent_lists_keep_the_newest_items(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    for i in 1..=5 {
        store.push_recent("outbox:139", &format!("m{i}"), 3).await.unwrap();
    }
    assert_eq!(store.recent("outbox:139", 10).await.unwrap(), ["m5", "m4", "m3"]);
    assert_eq!(store.recent("outbox:139", 2).await.unwrap(), ["m5", "m4"]);
    assert!(store.recent("outbox:empty", 5).await.unwrap().is_empty());
}

async fn logs_are_append_only_and_read_newest_first_from_any_position(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    assert!(store.read_log("audit", None, 10).await.unwrap().is_empty());
    for n in 0..5 {
        assert_eq!(store.append_log("audit", &format!("e{n}")).await.unwrap(), n);
    }
    assert_eq!(store.append_log("other", "x").await.unwrap(), 0, "each log counts on its own");
    let read = |before, limit| store.read_log("audit", before, limit);
    let page =
        |entries: Vec<LogEntry>| entries.into_iter().map(|e| format!("{}:{}", e.seq, e.body)).collect::<Vec<_>>();
    assert_eq!(page(read(None, 2).await.unwrap()), ["4:e4", "3:e3"]);
    assert_eq!(page(read(Some(3), 2).await.unwrap()), ["2:e2", "1:e1"]);
    assert_eq!(page(read(Some(1), 5).await.unwrap()), ["0:e0"]);
    assert!(read(Some(0), 5).await.unwrap().is_empty());
    assert_eq!(page(read(Some(99), 1).await.unwrap()), ["4:e4"]);
    assert!(read(None, 0).await.unwrap().is_empty());
    assert_eq!(page(store.read_log("other", None, 10).await.unwrap()), ["0:x"]);
}

fn positions(entries: Vec<LogEntry>) -> Vec<String> {
    entries.into_iter().map(|e| format!("{}:{}", e.seq, e.body)).collect()
}

async fn capped_logs_keep_their_newest_entries_at_positions_that_go_on_counting(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    assert!(store.read_capped_log("journal", None, 10).await.unwrap().is_empty());
    store.clear_capped_log("journal").await.unwrap();
    for n in 0..5 {
        assert_eq!(store.append_capped_log("journal", &format!("r{n}"), 3).await.unwrap(), n);
    }
    assert_eq!(store.append_capped_log("other", "x", 3).await.unwrap(), 0, "each log counts on its own");
    let read = |before, limit| store.read_capped_log("journal", before, limit);
    assert_eq!(positions(read(None, 10).await.unwrap()), ["4:r4", "3:r3", "2:r2"], "the oldest two fell off");
    assert_eq!(positions(read(None, 2).await.unwrap()), ["4:r4", "3:r3"]);
    assert_eq!(positions(read(Some(3), 5).await.unwrap()), ["2:r2"], "only what is still kept");
    assert!(read(Some(2), 5).await.unwrap().is_empty(), "below the oldest kept");
    assert_eq!(positions(read(Some(99), 1).await.unwrap()), ["4:r4"]);
    assert!(read(None, 0).await.unwrap().is_empty());

    store.clear_capped_log("journal").await.unwrap();
    assert!(read(None, 10).await.unwrap().is_empty());
    assert_eq!(positions(store.read_capped_log("other", None, 10).await.unwrap()), ["0:x"], "other logs stay");
    assert_eq!(store.append_capped_log("journal", "r5", 3).await.unwrap(), 5, "positions are never reused");
    assert_eq!(positions(read(None, 10).await.unwrap()), ["5:r5"]);
    assert!(read(Some(5), 10).await.unwrap().is_empty(), "a cursor from before the clear finds nothing older");
    assert_eq!(store.append_capped_log("journal", "r6", 0).await.unwrap(), 6);
    assert_eq!(positions(read(None, 10).await.unwrap()), ["6:r6"], "a keep of 0 keeps one");
}
