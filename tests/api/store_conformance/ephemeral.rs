//! Short-lived values (`EphemeralValues`).

use std::time::Duration;

use futures_util::future::join_all;

use super::store_for;
use crate::helpers::StoreKind;
use crate::on_both_stores;

on_both_stores!(ephemeral_values_are_taken_exactly_once, a_value_is_read_until_taken_and_absent_keys_read_as_none,);

async fn ephemeral_values_are_taken_exactly_once(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let ttl = Duration::from_secs(60);
    store.put_ephemeral("code:1", "123456", ttl).await.unwrap();
    assert_eq!(store.get_ephemeral("code:1").await.unwrap().as_deref(), Some("123456"));
    let takers = (0..20).map(|_| {
        let store = store.clone();
        async move { store.take_ephemeral("code:1").await.unwrap() }
    });
    let taken: Vec<Option<String>> = join_all(takers).await;
    assert_eq!(taken.iter().filter(|t| t.is_some()).count(), 1);
    assert_eq!(store.get_ephemeral("code:1").await.unwrap(), None);

    store.put_ephemeral("code:2", "old", ttl).await.unwrap();
    store.put_ephemeral("code:2", "new", ttl).await.unwrap();
    assert_eq!(store.take_ephemeral("code:2").await.unwrap().as_deref(), Some("new"));
}

async fn a_value_is_read_until_taken_and_absent_keys_read_as_none(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let ttl = Duration::from_secs(60);
    assert_eq!(store.get_ephemeral("state:absent").await.unwrap(), None);
    assert_eq!(store.take_ephemeral("state:absent").await.unwrap(), None);
    store.put_ephemeral("state:a", "one", ttl).await.unwrap();
    store.put_ephemeral("state:b", "two", ttl).await.unwrap();
    assert_eq!(store.get_ephemeral("state:a").await.unwrap().as_deref(), Some("one"));
    assert_eq!(store.get_ephemeral("state:a").await.unwrap().as_deref(), Some("one"), "reading does not use it up");
    assert_eq!(store.take_ephemeral("state:a").await.unwrap().as_deref(), Some("one"));
    assert_eq!(store.take_ephemeral("state:a").await.unwrap(), None);
    assert_eq!(store.get_ephemeral("state:b").await.unwrap().as_deref(), Some("two"), "keys are independent");
}
