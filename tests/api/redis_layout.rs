//! The stored key layout: a Redis store records the layout it writes
//! (version and shard count) under its key prefix, and refuses to open data
//! written with another, instead of reading accounts where they are not —
//! except the layouts before (`v2`, `v3`, `v4`), which it reads.

use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use redis::aio::MultiplexedConnection;
use walletgate::domain::account::{Account, AccountId, PasswordHash, Role, VerificationLevel};
use walletgate::domain::credentials::Login;
use walletgate::settings::StoreSettings;
use walletgate::store::{
    AccountCommit, AccountPartitions, CommitOutcome, EventPosition, EventStreams, PartitionDocuments, RedisStore,
    StoreError,
};

use crate::helpers::{RedisKeysGuard, StoreKind, redis_url, test_settings, unique_phone};

#[tokio::test]
async fn a_store_refuses_data_laid_out_otherwise() {
    let settings = test_settings(StoreKind::Redis).store;
    let _keys = RedisKeysGuard::new(&settings.url, &settings.key_prefix);
    let store = RedisStore::connect(&settings.url, &settings).await.expect("an empty prefix opens");
    drop(store);
    RedisStore::connect(&settings.url, &settings).await.expect("the same layout opens again");

    let client = redis::Client::open(redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = connection.set(format!("{}:layout", settings.key_prefix), "v1 shards=8").await.unwrap();
    match RedisStore::connect(&settings.url, &settings).await {
        Err(StoreError::Corrupt { reason, .. }) => assert!(reason.contains("store.key_prefix"), "{reason}"),
        other => panic!("opened data of another layout: {:?}", other.err()),
    }
}

/// A key prefix of its own whose data is marked as laid out by `marker`,
/// opened by this version: the store, a connection to look at the keys, and
/// the prefix's settings and cleanup.
async fn open_data_laid_out_as(marker: &str) -> (RedisStore, MultiplexedConnection, StoreSettings, RedisKeysGuard) {
    let settings = test_settings(StoreKind::Redis).store;
    let keys = RedisKeysGuard::new(&settings.url, &settings.key_prefix);
    let client = redis::Client::open(redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let layout = format!("{}:layout", settings.key_prefix);
    let _: () = connection.set(&layout, marker).await.unwrap();
    let store = RedisStore::connect(&settings.url, &settings).await.expect("data of a layout before opens");
    let moved_on: String = connection.get(&layout).await.unwrap();
    assert_eq!(moved_on, "v5 shards=24", "the marker moves on from {marker}");
    (store, connection, settings, keys)
}

/// `v3` wrote every text as plain JSON; this version packs them (since
/// `v4`), reads both, and moves the marker on, so a gateway of a version
/// before, which cannot read what this one writes, refuses to start on the data.
#[tokio::test]
async fn data_of_v3_opens_and_its_marker_moves_on_to_v5() {
    open_data_laid_out_as("v3 shards=24").await;
}

/// Data of layout `v2` kept a partition's saved replies inside its
/// `documents` hash, indexed for reclaiming in its `expiring` sorted set,
/// with `reclaim_at` in the record. This version opens it, moves the marker
/// on, finds those replies by name, refuses to save a reply over one of
/// them, and reclaims them when they are due, beside the replies it keeps as
/// keys of their own.
#[tokio::test]
async fn data_of_v2_is_read_and_its_saved_replies_kept_until_due() {
    let (store, mut connection, settings, _keys) = open_data_laid_out_as("v2 shards=24").await;

    let account = Account::open(
        AccountId::parse("acc_layout_before").unwrap(),
        Role::User,
        Login::phone(&unique_phone()).unwrap(),
        PasswordHash("$argon2id$v=19$stub".into()),
        VerificationLevel::L0,
        DateTime::<Utc>::UNIX_EPOCH,
    );
    store.create_account(&account, &[]).await.unwrap();
    // What a commit of the layout before left: one reply due an hour ago, one due in an hour.
    let pattern = format!("{}:*:a:{}:account", settings.key_prefix, account.id);
    let found: Vec<String> = connection.keys(&pattern).await.unwrap();
    let record_key = found.first().expect("the record's key").clone();
    let partition = record_key.strip_suffix(":account").unwrap();
    let (seconds, _): (u64, u64) = redis::cmd("TIME").query_async(&mut connection).await.unwrap();
    let now_ms = seconds * 1000;
    let (past, future) = (now_ms - 3_600_000, now_ms + 3_600_000);
    let _: () = connection
        .hset_multiple(format!("{partition}:documents"), &[("idempotency:due", "old 1"), ("idempotency:live", "old 2")])
        .await
        .unwrap();
    let _: () = connection
        .zadd_multiple(format!("{partition}:expiring"), &[(past, "idempotency:due"), (future, "idempotency:live")])
        .await
        .unwrap();
    let _: () = connection.hset(&record_key, "reclaim_at", past).await.unwrap();
    // A partition of a layout before v5: no event base nor count in its record.
    let _: () = connection.hdel(&record_key, &["eb", "en"]).await.unwrap();

    let (_, replies) =
        store.load_account_with(&account.id, &["idempotency:live", "idempotency:due"]).await.unwrap().unwrap();
    assert_eq!(replies, [Some("old 2".to_owned()), Some("old 1".to_owned())]);
    assert!(store.partition_documents(&account.id, "idempotency:").await.unwrap().is_empty(), "replies are not listed");
    // A new reply saved at version 1, as a submission that decided without reading it would.
    let save_new_reply = |name: &str| {
        let reply = [(name.to_owned(), "new".to_owned())];
        let store = &store;
        let account = &account;
        async move {
            let expiring = AccountCommit::new(1, account, &[]);
            let commit = AccountCommit {
                documents_expiring: &reply,
                expiring_ttl: Duration::from_secs(3600),
                expiring_must_be_new: true,
                ..expiring
            };
            store.commit_account(commit).await.unwrap()
        }
    };
    assert_eq!(save_new_reply("idempotency:live").await, CommitOutcome::VersionConflict, "an old reply is there");
    assert_eq!(save_new_reply("idempotency:fresh").await, CommitOutcome::Committed);
    assert_eq!(store.partition_document(&account.id, "idempotency:due").await.unwrap(), None, "reclaimed when due");
    assert_eq!(store.partition_document(&account.id, "idempotency:live").await.unwrap().as_deref(), Some("old 2"));
    assert_eq!(store.partition_document(&account.id, "idempotency:fresh").await.unwrap().as_deref(), Some("new"));
    let reclaim_at: Option<u64> = connection.hget(&record_key, "reclaim_at").await.unwrap();
    assert_eq!(reclaim_at, Some(future), "the next old reply's time");
}

/// Layout `v4` kept a partition's events in a Redis stream beside its
/// record. This version reads the events such a partition holds there, and
/// from its next commit keeps its new events in its record's hash, as it
/// does for a partition it creates: `e:<slot>`, with positions
/// `<base + version>-<k>` above the stream's ids, so a client resuming
/// after one of those hears what came after.
#[tokio::test]
async fn data_of_v4_is_read_and_its_partitions_go_on_in_their_records() {
    let (store, mut connection, settings, _keys) = open_data_laid_out_as("v4 shards=24").await;
    let mut account = crate::store_conformance::account("acc_layout_v4");
    store.create_account(&account, &[]).await.unwrap();
    let pattern = format!("{}:*:a:{}:account", settings.key_prefix, account.id);
    let found: Vec<String> = connection.keys(&pattern).await.unwrap();
    let record_key = found.first().expect("the record's key").clone();
    let partition = record_key.strip_suffix(":account").unwrap().to_owned();
    // What layout v4 left: no base of positions, an event in a stream beside the record.
    let _: () = connection.hdel(&record_key, "eb").await.unwrap();
    let old = [("withdrawal:wd_old", "old"), ("withdrawal:wd_kept", "kept")];
    let _: () = connection.hset_multiple(format!("{partition}:documents"), &old).await.unwrap();
    let old_position: String = redis::cmd("XADD")
        .arg(format!("{partition}:events"))
        .arg("*")
        .arg("body")
        .arg("old event")
        .query_async(&mut connection)
        .await
        .unwrap();

    let (_, documents) = store.load_account_with(&account.id, &["withdrawal:wd_old"]).await.unwrap().unwrap();
    assert_eq!(documents, [Some("old".to_owned())]);
    let events = store.events(&account.id, None, 10).await.unwrap();
    let read = |events: &[walletgate::store::StoredEvent]| {
        events.iter().map(|e| (e.id.clone(), e.body.clone())).collect::<Vec<_>>()
    };
    assert_eq!(read(&events), [(old_position.clone(), "old event".to_owned())]);

    let entry = crate::store_conformance::credit(&mut account, "1.00");
    let put = [("withdrawal:wd_new".to_owned(), "new".to_owned())];
    let deleted = ["withdrawal:wd_old".to_owned()];
    let new_events = ["new event".to_owned()];
    let entries = [entry];
    let commit = AccountCommit {
        documents_put: &put,
        documents_deleted: &deleted,
        events: &new_events,
        ..AccountCommit::new(1, &account, &entries)
    };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    let base: u64 = connection.hget(&record_key, "eb").await.unwrap();
    let after_old = EventPosition::parse(&old_position).unwrap();
    assert!(EventPosition(base, 0) > after_old, "positions from {base} lie above the stream's {old_position}");
    let newer = store.events(&account.id, Some(after_old), 10).await.unwrap();
    assert_eq!(read(&newer), [(format!("{}-0", base + 2), "new event".to_owned())]);
    let all = store.events(&account.id, None, 10).await.unwrap();
    assert_eq!(all.iter().map(|e| e.body.as_str()).collect::<Vec<_>>(), ["old event", "new event"]);
    assert_eq!(store.events(&account.id, None, 1).await.unwrap()[0].body, "old event", "oldest first");
    assert_eq!(
        store.partition_documents(&account.id, "withdrawal:").await.unwrap(),
        [("withdrawal:wd_kept".to_owned(), "kept".to_owned()), ("withdrawal:wd_new".to_owned(), "new".to_owned())]
    );
    store.delete_partition_document(&account.id, "withdrawal:wd_kept").await.unwrap();
    assert_eq!(store.partition_document(&account.id, "withdrawal:wd_kept").await.unwrap(), None);
    assert_eq!(store.partition_document(&account.id, "withdrawal:wd_new").await.unwrap().as_deref(), Some("new"));
}

/// A partition's texts (record, journal entries, documents, events, saved
/// replies) are stored packed once long enough (`store/redis/packing.rs`):
/// a mark byte no text starts with, the dictionary's number, a zstd frame.
/// Texts written before packing, as plain JSON, still read.
#[tokio::test]
async fn a_partitions_texts_are_stored_packed_and_plain_ones_still_read() {
    let settings = test_settings(StoreKind::Redis).store;
    let _keys = RedisKeysGuard::new(&settings.url, &settings.key_prefix);
    let store = RedisStore::connect(&settings.url, &settings).await.unwrap();
    let client = redis::Client::open(redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();

    let mut account = crate::store_conformance::account("acc_packed_texts");
    let opening = crate::store_conformance::credit(&mut account, "100.00");
    store.create_account(&account, std::slice::from_ref(&opening)).await.unwrap();
    let entry = crate::store_conformance::credit(&mut account, "23.45");
    let body = format!(r#"{{"id":"wd_packed","note":"{}"}}"#, "a withdrawal's long text ".repeat(8));
    let documents = [("withdrawal:wd_packed".to_owned(), body.clone())];
    let events = [format!(r#"{{"type":"withdrawal.created","data":"{}"}}"#, "x".repeat(200))];
    let replies = [("idempotency:packed".to_owned(), body.clone())];
    let entries = [entry];
    let commit = AccountCommit {
        documents_put: &documents,
        events: &events,
        documents_expiring: &replies,
        expiring_ttl: Duration::from_secs(3600),
        ..AccountCommit::new(1, &account, &entries)
    };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);

    let pattern = format!("{}:*:a:{}:account", settings.key_prefix, account.id);
    let found: Vec<String> = connection.keys(&pattern).await.unwrap();
    let partition = found.first().expect("the record's key").strip_suffix(":account").unwrap().to_owned();
    let record_key = format!("{partition}:account");
    let record: Vec<u8> = connection.hget(&record_key, "data").await.unwrap();
    let journal: Vec<Vec<u8>> = connection.lrange(format!("{partition}:journal"), 0, -1).await.unwrap();
    let document: Vec<u8> = connection.hget(format!("{partition}:documents"), "withdrawal:wd_packed").await.unwrap();
    let reply: Vec<u8> = connection.get(format!("{partition}:xdoc:idempotency:packed")).await.unwrap();
    // The commit's events field: its version, then each event after its length.
    let field: Vec<u8> = connection.hget(&record_key, "e:2").await.unwrap();
    let (header, rest) = field.split_at(field.iter().position(|&b| b == b'\n').unwrap() + 1);
    assert_eq!(header, b"2\n");
    let (length, event) = rest.split_at(rest.iter().position(|&b| b == b'\n').unwrap() + 1);
    assert_eq!(std::str::from_utf8(length).unwrap().trim().parse::<usize>().unwrap(), event.len());
    let event = event.to_vec();
    for (what, stored, text_len) in [
        ("record", &record, serde_json::to_string(&account).unwrap().len()),
        ("journal entry", &journal[1], serde_json::to_string(&entries[0]).unwrap().len()),
        ("document", &document, body.len()),
        ("saved reply", &reply, body.len()),
        ("event", &event, events[0].len()),
    ] {
        assert_eq!(stored[..2], [0xFF, 1], "{what}: packed with dictionary 1");
        assert!(stored.len() < text_len, "{what}: {} bytes stored for a text of {text_len}", stored.len());
    }
    let read = store.load_account(&account.id).await.unwrap().unwrap();
    assert_eq!(read.value, account);
    assert_eq!(store.journal(&account.id, None, 10).await.unwrap(), [entries[0].clone(), opening.clone()]);
    assert_eq!(store.partition_document(&account.id, "withdrawal:wd_packed").await.unwrap(), Some(body.clone()));
    assert_eq!(store.partition_document(&account.id, "idempotency:packed").await.unwrap(), Some(body.clone()));
    assert_eq!(store.events(&account.id, None, 10).await.unwrap()[0].body, events[0]);

    // The same texts as a version before packing wrote them: plain JSON.
    let plain_record = serde_json::to_string(&account).unwrap();
    let _: () = connection.hset(format!("{partition}:account"), "data", &plain_record).await.unwrap();
    let plain_document = r#"{"id":"wd_plain","note":"written before packing, long enough to have been packed now"}"#;
    let _: () = connection.hset(format!("{partition}:documents"), "withdrawal:wd_plain", plain_document).await.unwrap();
    assert_eq!(store.load_account(&account.id).await.unwrap().unwrap().value, account);
    let (_, found) =
        store.load_account_with(&account.id, &["withdrawal:wd_plain", "withdrawal:wd_packed"]).await.unwrap().unwrap();
    assert_eq!(found, [Some(plain_document.to_owned()), Some(body.clone())]);
    let listed = store.partition_documents(&account.id, "withdrawal:").await.unwrap();
    assert_eq!(
        listed,
        [("withdrawal:wd_packed".to_owned(), body), ("withdrawal:wd_plain".to_owned(), plain_document.to_owned())]
    );
}
