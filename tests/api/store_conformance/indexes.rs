//! Unique indexes (`UniqueIndexes`).

use futures_util::future::join_all;

use super::store_for;
use crate::helpers::StoreKind;
use crate::on_both_stores;

on_both_stores!(unique_indexes_change_only_by_compare_and_swap,);

async fn unique_indexes_change_only_by_compare_and_swap(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    assert!(store.swap_index("openid:o1", None, Some("acc_a")).await.unwrap());
    assert!(!store.swap_index("openid:o1", None, Some("acc_b")).await.unwrap());
    assert!(!store.swap_index("openid:o1", Some("acc_x"), Some("acc_b")).await.unwrap());
    assert_eq!(store.get_index("openid:o1").await.unwrap().as_deref(), Some("acc_a"));
    assert!(store.swap_index("openid:o1", Some("acc_a"), Some("acc_b")).await.unwrap());
    assert!(!store.swap_index("openid:o1", Some("acc_a"), None).await.unwrap());
    assert!(store.swap_index("openid:o1", Some("acc_b"), None).await.unwrap());
    assert_eq!(store.get_index("openid:o1").await.unwrap(), None);

    let claimers = (0..20).map(|i| {
        let store = store.clone();
        async move { store.swap_index("openid:o2", None, Some(&format!("acc_{i}"))).await.unwrap() }
    });
    assert_eq!(join_all(claimers).await.iter().filter(|won| **won).count(), 1);
}
