//! Documents in named collections (`Documents`).

use futures_util::future::join_all;
use walletgate::store::{CommitOutcome, DocumentWrite};

use super::store_for;
use crate::helpers::StoreKind;
use crate::on_both_stores;

on_both_stores!(
    documents_are_created_once_and_then_compare_and_set,
    several_documents_are_saved_all_or_none,
    empty_batches_read_and_write_nothing,
    documents_kept_apart_change_alone_and_are_listed,
);

async fn documents_are_created_once_and_then_compare_and_set(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    assert_eq!(store.load_document("users", "u1").await.unwrap(), None);
    assert_eq!(store.save_document("users", "u1", 0, "{\"n\":1}").await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.save_document("users", "u1", 0, "{\"n\":9}").await.unwrap(), CommitOutcome::VersionConflict);
    assert_eq!(store.save_document("users", "u1", 1, "{\"n\":2}").await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.save_document("users", "u1", 1, "{\"n\":3}").await.unwrap(), CommitOutcome::VersionConflict);
    let loaded = store.load_document("users", "u1").await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.value.as_str()), (2, "{\"n\":2}"));
    store.save_document("users", "u2", 0, "two").await.unwrap();
    store.save_document("others", "u3", 0, "three").await.unwrap();
    let mut listed = store.list_documents("users", 10).await.unwrap();
    listed.sort();
    assert_eq!(listed, [("u1".to_owned(), "{\"n\":2}".to_owned()), ("u2".to_owned(), "two".to_owned())]);
    assert_eq!(store.list_documents("users", 1).await.unwrap().len(), 1);
    assert!(store.list_documents("nothing", 10).await.unwrap().is_empty());
}

async fn several_documents_are_saved_all_or_none(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let write = |collection, id, expected_version, body| DocumentWrite { collection, id, expected_version, body };
    store.save_document("users", "u1", 0, "u1 v1").await.unwrap();
    // One stale write refuses the whole set: the new bill is not created either.
    let stale = [write("bills", "b1", 0, "bill"), write("users", "u1", 0, "u1 v2")];
    assert_eq!(store.save_documents(&stale).await.unwrap(), CommitOutcome::VersionConflict);
    assert_eq!(store.load_documents(&[("bills", "b1"), ("users", "u1")]).await.unwrap()[0], None);
    let fresh = [write("bills", "b1", 0, "bill"), write("users", "u1", 1, "u1 v2")];
    assert_eq!(store.save_documents(&fresh).await.unwrap(), CommitOutcome::Committed);
    let loaded = store.load_documents(&[("bills", "b1"), ("users", "u1"), ("users", "nobody")]).await.unwrap();
    let summary: Vec<Option<(u64, String)>> =
        loaded.into_iter().map(|found| found.map(|doc| (doc.version, doc.value))).collect();
    assert_eq!(summary, [Some((1, "bill".to_owned())), Some((2, "u1 v2".to_owned())), None]);
    // Racing creators of one document: exactly one wins.
    let racers = (0..20).map(|i| {
        let store = store.clone();
        async move {
            let body = format!("racer {i}");
            let writes = [DocumentWrite { collection: "bills", id: "b2", expected_version: 0, body: &body }];
            store.save_documents(&writes).await.unwrap()
        }
    });
    let won = join_all(racers).await.into_iter().filter(|outcome| *outcome == CommitOutcome::Committed).count();
    assert_eq!(won, 1);
}

async fn empty_batches_read_and_write_nothing(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    assert!(store.load_documents(&[]).await.unwrap().is_empty());
    assert_eq!(store.save_documents(&[]).await.unwrap(), CommitOutcome::Committed);
    assert!(store.list_documents("users", 10).await.unwrap().is_empty());
    assert_eq!(store.load_document("users", "u1").await.unwrap(), None);
}

async fn documents_kept_apart_change_alone_and_are_listed(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let (bills, users) = ("bills:apart", "users:apart");
    assert!(walletgate::store::kept_apart(bills));
    assert_eq!(store.save_document(bills, "b1", 0, "b1 v1").await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.save_document(bills, "b1", 0, "again").await.unwrap(), CommitOutcome::VersionConflict);
    assert_eq!(store.save_document(bills, "b1", 1, "b1 v2").await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.save_document(bills, "b1", 1, "stale").await.unwrap(), CommitOutcome::VersionConflict);
    store.save_document(bills, "b2", 0, "b2 v1").await.unwrap();
    store.save_document(users, "u1", 0, "u1 v1").await.unwrap();
    let loaded = store.load_documents(&[(bills, "b1"), (users, "u1"), (bills, "none")]).await.unwrap();
    let summary: Vec<Option<(u64, String)>> =
        loaded.into_iter().map(|found| found.map(|doc| (doc.version, doc.value))).collect();
    assert_eq!(summary, [Some((2, "b1 v2".to_owned())), Some((1, "u1 v1".to_owned())), None]);
    let mut listed = store.list_documents(bills, 10).await.unwrap();
    listed.sort();
    assert_eq!(listed, [("b1".to_owned(), "b1 v2".to_owned()), ("b2".to_owned(), "b2 v1".to_owned())]);
    assert_eq!(store.list_documents(bills, 1).await.unwrap().len(), 1);
    assert_eq!(store.list_documents(users, 10).await.unwrap(), [("u1".to_owned(), "u1 v1".to_owned())]);
    // A refused creation lists nothing.
    assert_eq!(store.save_document(users, "u1", 5, "nope").await.unwrap(), CommitOutcome::VersionConflict);
    assert_eq!(store.list_documents(users, 10).await.unwrap().len(), 1);
}
