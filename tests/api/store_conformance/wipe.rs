//! The simulator's reset (`Wipe`): everything of the deployment goes, and
//! nothing of another.

use std::time::Duration;

use walletgate::domain::account::Account;
use walletgate::store::{AccountCommit, CommitOutcome, EventPosition, ScheduleEntry, SharedStore};

use super::{account, credit, store_for};
use crate::helpers::StoreKind;
use crate::on_both_stores;

on_both_stores!(a_wipe_removes_every_kind_of_state_and_only_this_deployments, a_wiped_store_takes_the_same_ids_again,);

/// One of each kind of state, on `store`, for `alice`.
async fn fill(store: &SharedStore, alice: &Account) {
    let id = alice.id.as_str();
    let mut alice = alice.clone();
    let opening = credit(&mut alice, "10.00");
    store.create_account(&alice, std::slice::from_ref(&opening)).await.unwrap();
    let documents = [("withdrawal:wd_1".to_owned(), "{}".to_owned())];
    let events = ["created".to_owned()];
    let scheduled = [ScheduleEntry { schedule: "payout", member: format!("{id}/wd_1"), at_ms: 1_000 }];
    let commit = AccountCommit {
        documents_put: &documents,
        events: &events,
        scheduled: &scheduled,
        ..AccountCommit::new(1, &alice, &[])
    };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    store.save_document("bills", id, 0, "{}").await.unwrap();
    assert!(store.swap_index(&format!("openid:{id}"), None, Some(id)).await.unwrap());
    store.append_log("audit", "entry").await.unwrap();
    store.push_recent("outbox", "message", 5).await.unwrap();
    store.append_capped_log("journal", "call", 5).await.unwrap();
    store.put_ephemeral(&format!("state:{id}"), "v", Duration::from_secs(60)).await.unwrap();
}

async fn a_wipe_removes_every_kind_of_state_and_only_this_deployments(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let (other, _other_keys) = store_for(kind).await;
    fill(&store, &account("acc_conformance_wiped")).await;
    fill(&other, &account("acc_conformance_kept")).await;

    assert!(store.wipe().await.unwrap() >= 9, "one entry per kind at least");
    let alice = account("acc_conformance_wiped").id;
    assert!(store.load_account(&alice).await.unwrap().is_none());
    assert!(store.journal(&alice, None, 10).await.unwrap().is_empty());
    assert!(store.account_ids().await.unwrap().is_empty());
    assert!(store.partition_document(&alice, "withdrawal:wd_1").await.unwrap().is_none());
    assert!(store.events(&alice, None, 10).await.unwrap().is_empty());
    assert!(store.scheduled("payout", i64::MAX, 10).await.unwrap().is_empty());
    assert!(store.load_document("bills", alice.as_str()).await.unwrap().is_none());
    assert!(store.get_index("openid:acc_conformance_wiped").await.unwrap().is_none());
    assert!(store.read_log("audit", None, 10).await.unwrap().is_empty());
    assert!(store.recent("outbox", 10).await.unwrap().is_empty());
    assert!(store.read_capped_log("journal", None, 10).await.unwrap().is_empty());
    assert!(store.get_ephemeral("state:acc_conformance_wiped").await.unwrap().is_none());
    assert_eq!(store.wipe().await.unwrap(), 0, "nothing is left to remove");
    store.ping().await.unwrap();

    let kept = account("acc_conformance_kept").id;
    assert!(other.load_account(&kept).await.unwrap().is_some(), "another deployment keeps its state");
    assert_eq!(other.read_log("audit", None, 10).await.unwrap().len(), 1);
    assert_eq!(other.scheduled("payout", i64::MAX, 10).await.unwrap().len(), 1);
}

/// After a wipe the same ids, logins, index keys and log positions are free
/// again, while an event stream's positions go on growing, so a client
/// resuming a stream is never told of positions it has seen (Redis numbers
/// them from the time the partition was created).
async fn a_wiped_store_takes_the_same_ids_again(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let alice = account("acc_conformance_again");
    let id = alice.id.clone();
    fill(&store, &alice).await;
    let before = store.events(&id, None, 10).await.unwrap();
    store.wipe().await.unwrap();
    fill(&store, &alice).await;
    assert_eq!(store.account_id_by_login(&alice.login.index_key()).await.unwrap(), Some(id.clone()));
    assert_eq!(store.load_account(&id).await.unwrap().unwrap().version, 2);
    assert_eq!(store.journal(&id, None, 10).await.unwrap().len(), 1);
    assert_eq!(store.read_log("audit", None, 10).await.unwrap()[0].seq, 0, "the log starts again");
    assert_eq!(store.read_capped_log("journal", None, 10).await.unwrap()[0].seq, 0, "and the capped log");
    let after = store.events(&id, None, 10).await.unwrap();
    assert_eq!(after.len(), 1);
    let position = |events: &[walletgate::store::StoredEvent]| EventPosition::parse(&events[0].id).unwrap();
    assert!(position(&after) > position(&before), "{after:?} after {before:?}");
}
