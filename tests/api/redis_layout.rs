//! The stored key layout: a Redis store records the layout it writes
//! (version and shard count) under its key prefix, and refuses to open data
//! written with another, instead of reading accounts where they are not.

use redis::AsyncCommands;
use walletgate::store::{RedisStore, StoreError};

use crate::helpers::{RedisKeysGuard, StoreKind, redis_url, test_settings};

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
