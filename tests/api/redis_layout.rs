//! The stored key layout: a Redis store records the layout it writes
//! (version and shard count) under its key prefix, and refuses to open data
//! written with another, instead of reading accounts where they are not —
//! except the layout just before, which it reads.

use std::time::Duration;

use chrono::{DateTime, Utc};
use redis::AsyncCommands;
use walletgate::domain::account::{Account, AccountId, PasswordHash, Role, VerificationLevel};
use walletgate::domain::credentials::Login;
use walletgate::store::{AccountCommit, AccountPartitions, CommitOutcome, PartitionDocuments, RedisStore, StoreError};

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

/// Data of the layout before (`v2`) kept a partition's saved replies inside
/// its `documents` hash, indexed for reclaiming in its `expiring` sorted set,
/// with `reclaim_at` in the record. This version opens it, moves the marker
/// on, finds those replies by name, refuses to save a reply over one of
/// them, and reclaims them when they are due, beside the replies it keeps as
/// keys of their own.
#[tokio::test]
async fn data_of_the_layout_before_is_read_and_its_saved_replies_kept_until_due() {
    let settings = test_settings(StoreKind::Redis).store;
    let _keys = RedisKeysGuard::new(&settings.url, &settings.key_prefix);
    let client = redis::Client::open(redis_url()).unwrap();
    let mut connection = client.get_multiplexed_async_connection().await.unwrap();
    let layout = format!("{}:layout", settings.key_prefix);
    let _: () = connection.set(&layout, "v2 shards=24").await.unwrap();
    let store = RedisStore::connect(&settings.url, &settings).await.expect("the layout before opens");
    let marker: String = connection.get(&layout).await.unwrap();
    assert_eq!(marker, "v3 shards=24");

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
