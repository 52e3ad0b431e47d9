//! The typed helpers (`store::typed`): documents, partition documents and
//! short-lived values as Rust values, and bodies of another shape as corrupt data.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use walletgate::store::prelude::*;
use walletgate::store::typed::{decode_document, encode_document};
use walletgate::store::{AccountCommit, CommitOutcome, StoreError};

use super::{account, store_for};
use crate::helpers::StoreKind;
use crate::on_both_stores;

on_both_stores!(
    typed_documents_are_saved_and_loaded_as_values,
    typed_partition_documents_are_read_as_values,
    typed_short_lived_values_are_put_read_and_taken_as_values,
    a_body_of_another_shape_is_corrupt_data_named_by_where_it_was_read,
);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Wallet {
    owner: String,
    balance: String,
}

fn wallet(owner: &str, balance: &str) -> Wallet {
    Wallet { owner: owner.to_owned(), balance: balance.to_owned() }
}

async fn typed_documents_are_saved_and_loaded_as_values(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let first = wallet("o1", "10.00");
    assert_eq!(store.load_document_as::<Wallet>("wallets", "w1").await.unwrap(), None);
    assert_eq!(store.save_document_as("wallets", "w1", 0, &first).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.save_document_as("wallets", "w1", 0, &first).await.unwrap(), CommitOutcome::VersionConflict);
    let second = wallet("o1", "7.50");
    assert_eq!(store.save_document_as("wallets", "w1", 1, &second).await.unwrap(), CommitOutcome::Committed);
    let loaded = store.load_document_as::<Wallet>("wallets", "w1").await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.value), (2, second.clone()));
    // Stored as the JSON text every other reader sees.
    let text = store.load_document("wallets", "w1").await.unwrap().unwrap().value;
    assert_eq!(decode_document::<Wallet>("wallets/w1", &text).unwrap(), second);
}

async fn typed_partition_documents_are_read_as_values(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let alice = account("acc_conformance_typed");
    store.create_account(&alice, &[]).await.unwrap();
    let (a, b) = (wallet("a", "1.00"), wallet("b", "2.00"));
    let puts =
        [("wallet:b".to_owned(), encode_document(&b).unwrap()), ("wallet:a".to_owned(), encode_document(&a).unwrap())];
    let commit = AccountCommit { documents_put: &puts, ..AccountCommit::new(1, &alice, &[]) };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.partition_document_as::<Wallet>(&alice.id, "wallet:a").await.unwrap(), Some(a.clone()));
    assert_eq!(store.partition_document_as::<Wallet>(&alice.id, "wallet:z").await.unwrap(), None);
    let listed = store.partition_documents_as::<Wallet>(&alice.id, "wallet:").await.unwrap();
    assert_eq!(listed, [("wallet:a".to_owned(), a.clone()), ("wallet:b".to_owned(), b)]);
    let (_, found) = store.load_account_with(&alice.id, &["wallet:a"]).await.unwrap().unwrap();
    let text = found[0].as_deref().unwrap();
    assert_eq!(decode_document::<Wallet>("wallet:a", text).unwrap(), a);
}

async fn typed_short_lived_values_are_put_read_and_taken_as_values(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let state = wallet("o2", "0.00");
    store.put_ephemeral_as("state:s1", &state, Duration::from_secs(60)).await.unwrap();
    assert_eq!(store.get_ephemeral_as::<Wallet>("state:s1").await.unwrap(), Some(state.clone()));
    assert_eq!(store.take_ephemeral_as::<Wallet>("state:s1").await.unwrap(), Some(state));
    assert_eq!(store.take_ephemeral_as::<Wallet>("state:s1").await.unwrap(), None);
    assert_eq!(store.get_ephemeral_as::<Wallet>("state:s1").await.unwrap(), None);
}

async fn a_body_of_another_shape_is_corrupt_data_named_by_where_it_was_read(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let corrupt_at = |result: Result<_, StoreError>| match result {
        Err(StoreError::Corrupt { key, .. }) => key,
        Err(other) => panic!("expected corrupt data, got {other}"),
        Ok(_) => panic!("expected corrupt data, got a value"),
    };
    store.save_document("wallets", "bad", 0, "{\"owner\":1}").await.unwrap();
    assert_eq!(corrupt_at(store.load_document_as::<Wallet>("wallets", "bad").await.map(|_| ())), "wallets/bad");

    let alice = account("acc_conformance_corrupt");
    store.create_account(&alice, &[]).await.unwrap();
    let puts = [("wallet:x".to_owned(), "not json".to_owned())];
    let commit = AccountCommit { documents_put: &puts, ..AccountCommit::new(1, &alice, &[]) };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    let one = store.partition_document_as::<Wallet>(&alice.id, "wallet:x").await.map(|_| ());
    assert_eq!(corrupt_at(one), "acc_conformance_corrupt/wallet:x");
    let all = store.partition_documents_as::<Wallet>(&alice.id, "wallet:").await.map(|_| ());
    assert_eq!(corrupt_at(all), "acc_conformance_corrupt/wallet:x");

    store.put_ephemeral("state:bad", "[]", Duration::from_secs(60)).await.unwrap();
    assert_eq!(corrupt_at(store.get_ephemeral_as::<Wallet>("state:bad").await.map(|_| ())), "state:bad");
    assert_eq!(corrupt_at(store.take_ephemeral_as::<Wallet>("state:bad").await.map(|_| ())), "state:bad");
}
