//! A partition's named documents outside a commit (`PartitionDocuments`).

use walletgate::domain::account::AccountId;
use walletgate::store::{AccountCommit, CommitOutcome};

use super::{account, store_for};
use crate::helpers::StoreKind;
use crate::on_both_stores;

on_both_stores!(
    a_partition_document_is_read_by_name_and_by_prefix_in_name_order,
    a_deleted_partition_document_is_gone_without_a_version_change,
    a_missing_partition_has_no_documents_and_a_delete_does_not_create_it,
);

async fn a_partition_document_is_read_by_name_and_by_prefix_in_name_order(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let alice = account("acc_conformance_named");
    store.create_account(&alice, &[]).await.unwrap();
    let puts = [
        ("note:b".to_owned(), "B".to_owned()),
        ("withdrawal:wd_1".to_owned(), "W".to_owned()),
        ("note:a".to_owned(), "A".to_owned()),
    ];
    let commit = AccountCommit { documents_put: &puts, ..AccountCommit::new(1, &alice, &[]) };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(
        store.partition_documents(&alice.id, "note:").await.unwrap(),
        [("note:a".to_owned(), "A".to_owned()), ("note:b".to_owned(), "B".to_owned())]
    );
    let names: Vec<String> =
        store.partition_documents(&alice.id, "").await.unwrap().into_iter().map(|(name, _)| name).collect();
    assert_eq!(names, ["note:a", "note:b", "withdrawal:wd_1"]);
    assert!(store.partition_documents(&alice.id, "idempotency:").await.unwrap().is_empty());
    assert_eq!(store.partition_document(&alice.id, "note:a").await.unwrap().as_deref(), Some("A"));
    assert_eq!(store.partition_document(&alice.id, "note:c").await.unwrap(), None);
}

async fn a_deleted_partition_document_is_gone_without_a_version_change(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let alice = account("acc_conformance_delivery");
    store.create_account(&alice, &[]).await.unwrap();
    let puts = [("delivery:1".to_owned(), "one".to_owned()), ("delivery:2".to_owned(), "two".to_owned())];
    let commit = AccountCommit { documents_put: &puts, ..AccountCommit::new(1, &alice, &[]) };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);

    store.delete_partition_document(&alice.id, "delivery:1").await.unwrap();
    assert_eq!(store.partition_document(&alice.id, "delivery:1").await.unwrap(), None);
    assert_eq!(store.partition_document(&alice.id, "delivery:2").await.unwrap().as_deref(), Some("two"));
    // The delete is not a commit: the version stays, so a commit that read it still lands.
    assert_eq!(store.load_account(&alice.id).await.unwrap().unwrap().version, 2);
    assert_eq!(store.commit_account(AccountCommit::new(2, &alice, &[])).await.unwrap(), CommitOutcome::Committed);
    // Deleting what is not there is no error.
    store.delete_partition_document(&alice.id, "delivery:1").await.unwrap();
}

async fn a_missing_partition_has_no_documents_and_a_delete_does_not_create_it(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let nobody = AccountId::parse("acc_conformance_nobody").unwrap();
    assert_eq!(store.partition_document(&nobody, "withdrawal:wd_1").await.unwrap(), None);
    assert!(store.partition_documents(&nobody, "").await.unwrap().is_empty());
    store.delete_partition_document(&nobody, "withdrawal:wd_1").await.unwrap();
    assert_eq!(store.load_account(&nobody).await.unwrap(), None);
    assert!(store.account_ids().await.unwrap().is_empty());
}
