//! Account partitions (`AccountPartitions`): create, load, commit, journal, ids.

use std::time::Duration;

use walletgate::domain::account::AccountId;
use walletgate::domain::ledger::JournalEntry;
use walletgate::store::{AccountCommit, CommitOutcome, ScheduleEntry, StoreError};

use super::{account, credit, store_for};
use crate::helpers::StoreKind;
use crate::on_both_stores;

on_both_stores!(
    a_created_account_loads_at_version_1_with_its_opening_entries,
    ids_and_logins_are_unique_and_a_refused_create_leaves_nothing,
    commits_are_compare_and_set,
    of_commits_racing_at_one_version_exactly_one_lands,
    journals_page_newest_first,
    partition_documents_commit_with_the_record,
    a_commit_sets_its_schedule_entries_only_if_it_lands_and_its_index_entries_first,
    expiring_partition_documents_are_reclaimed_by_later_commits,
    expiring_documents_that_must_be_new_refuse_the_commit_when_they_exist,
    a_missing_account_has_no_journal_and_is_not_listed,
    a_commit_that_hands_its_record_over_lands_like_any_other,
);

async fn a_created_account_loads_at_version_1_with_its_opening_entries(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let mut alice = account("acc_conformance_a");
    let opening = credit(&mut alice, "800.00");
    store.create_account(&alice, std::slice::from_ref(&opening)).await.unwrap();
    let loaded = store.load_account(&alice.id).await.unwrap().unwrap();
    assert_eq!((loaded.version, &loaded.value), (1, &alice));
    assert_eq!(store.journal(&alice.id, None, 10).await.unwrap(), vec![opening]);
    assert_eq!(store.account_id_by_login(&alice.login.index_key()).await.unwrap(), Some(alice.id.clone()));
    assert_eq!(store.account_ids().await.unwrap(), vec![alice.id.clone()]);
    assert!(store.load_account(&AccountId::parse("acc_missing").unwrap()).await.unwrap().is_none());
    assert_eq!(store.account_id_by_login("phone:10000000000").await.unwrap(), None);
}

async fn ids_and_logins_are_unique_and_a_refused_create_leaves_nothing(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let first = account("acc_conformance_first");
    store.create_account(&first, &[]).await.unwrap();

    let same_id = account("acc_conformance_first");
    assert!(matches!(store.create_account(&same_id, &[]).await, Err(StoreError::AlreadyExists)));
    assert_eq!(store.account_id_by_login(&same_id.login.index_key()).await.unwrap(), None);

    let mut same_login = account("acc_conformance_second");
    same_login.login = first.login.clone();
    assert!(matches!(store.create_account(&same_login, &[]).await, Err(StoreError::AlreadyExists)));
    assert!(store.load_account(&same_login.id).await.unwrap().is_none());
    assert_eq!(store.account_ids().await.unwrap(), vec![first.id.clone()]);
    assert_eq!(store.load_account(&first.id).await.unwrap().unwrap().value, first);
}

async fn commits_are_compare_and_set(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let original = account("acc_conformance_cas");
    store.create_account(&original, &[]).await.unwrap();

    let mut winner = original.clone();
    let entry = credit(&mut winner, "5.00");
    let commit = AccountCommit::new(1, &winner, std::slice::from_ref(&entry));
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);

    let mut loser = original.clone();
    let stale_entry = credit(&mut loser, "9.00");
    let stale = AccountCommit::new(1, &loser, std::slice::from_ref(&stale_entry));
    assert_eq!(store.commit_account(stale).await.unwrap(), CommitOutcome::VersionConflict);

    let loaded = store.load_account(&original.id).await.unwrap().unwrap();
    assert_eq!(
        (loaded.version, loaded.value.ledger.get(walletgate::domain::ledger::LedgerAccount::UserAvailable).to_string()),
        (2, "5.00".to_owned())
    );
    assert_eq!(store.journal(&original.id, None, 10).await.unwrap(), vec![entry]);

    let ghost = account("acc_conformance_ghost");
    let commit = AccountCommit::new(1, &ghost, &[]);
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::VersionConflict);
}

/// Commits sent at once, all decided on version 1: one lands with its whole
/// change, every other is a conflict that wrote nothing (on Redis the
/// script decides, on memory the lock).
async fn of_commits_racing_at_one_version_exactly_one_lands(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let original = account("acc_conformance_race");
    store.create_account(&original, &[]).await.unwrap();
    let changes: Vec<_> = (1..=12)
        .map(|n| {
            let mut changed = original.clone();
            let entry = credit(&mut changed, &format!("{n}.00"));
            (changed, entry, vec![(format!("doc:{n}"), format!("{{\"n\":{n}}}"))])
        })
        .collect();
    let commits = changes.iter().map(|(changed, entry, documents)| {
        let store = &store;
        async move {
            let commit = AccountCommit {
                documents_put: documents,
                ..AccountCommit::new(1, changed, std::slice::from_ref(entry))
            };
            store.commit_account(commit).await.unwrap()
        }
    });
    let outcomes = futures_util::future::join_all(commits).await;
    let landed: Vec<usize> =
        outcomes.iter().enumerate().filter(|(_, o)| **o == CommitOutcome::Committed).map(|(n, _)| n).collect();
    assert_eq!(landed.len(), 1, "{outcomes:?}");
    let (winner, entry, documents) = &changes[landed[0]];
    let loaded = store.load_account(&original.id).await.unwrap().unwrap();
    assert_eq!((loaded.version, &loaded.value), (2, winner));
    assert_eq!(store.journal(&original.id, None, 20).await.unwrap(), vec![entry.clone()]);
    for n in 1..=12 {
        let name = format!("doc:{n}");
        let found = store.load_account_with(&original.id, &[&name]).await.unwrap().unwrap().1;
        let expected = documents.iter().find(|(landed, _)| *landed == name).map(|(_, body)| body.clone());
        assert_eq!(found, vec![expected], "{name}");
    }
}

async fn journals_page_newest_first(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let mut bob = account("acc_conformance_journal");
    let entries: Vec<JournalEntry> = (1..=5).map(|i| credit(&mut bob, &format!("{i}.00"))).collect();
    store.create_account(&bob, &entries).await.unwrap();
    let seqs = |page: Vec<JournalEntry>| page.iter().map(|e| e.seq).collect::<Vec<_>>();
    assert_eq!(seqs(store.journal(&bob.id, None, 2).await.unwrap()), [4, 3]);
    assert_eq!(seqs(store.journal(&bob.id, Some(3), 2).await.unwrap()), [2, 1]);
    assert_eq!(seqs(store.journal(&bob.id, Some(1), 2).await.unwrap()), [0]);
    assert_eq!(seqs(store.journal(&bob.id, Some(0), 2).await.unwrap()), Vec::<u64>::new());
    assert_eq!(seqs(store.journal(&bob.id, None, 100).await.unwrap()), [4, 3, 2, 1, 0]);
}

async fn partition_documents_commit_with_the_record(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let account = account("acc_conformance_docs");
    store.create_account(&account, &[]).await.unwrap();
    let puts = [
        ("withdrawal:wd_1".to_owned(), "one".to_owned()),
        ("withdrawal:wd_2".to_owned(), "two".to_owned()),
        ("idem:k".to_owned(), "key".to_owned()),
    ];
    let commit = AccountCommit { documents_put: &puts, ..AccountCommit::new(1, &account, &[]) };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    let stale_puts = [("withdrawal:wd_3".to_owned(), "three".to_owned())];
    let stale = AccountCommit { documents_put: &stale_puts, ..AccountCommit::new(1, &account, &[]) };
    assert_eq!(store.commit_account(stale).await.unwrap(), CommitOutcome::VersionConflict);
    let listed = store.partition_documents(&account.id, "withdrawal:").await.unwrap();
    assert_eq!(
        listed,
        [("withdrawal:wd_1".to_owned(), "one".to_owned()), ("withdrawal:wd_2".to_owned(), "two".to_owned())]
    );
    let deletes = ["idem:k".to_owned()];
    let commit = AccountCommit { documents_deleted: &deletes, ..AccountCommit::new(2, &account, &[]) };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.partition_document(&account.id, "idem:k").await.unwrap(), None);
    assert_eq!(store.partition_document(&account.id, "withdrawal:wd_2").await.unwrap().as_deref(), Some("two"));
}

async fn a_commit_sets_its_schedule_entries_only_if_it_lands_and_its_index_entries_first(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let account = account("acc_conformance_sched");
    store.create_account(&account, &[]).await.unwrap();
    let scheduled = [ScheduleEntry { schedule: "payout", member: "acc_conformance_sched/wd_1".into(), at_ms: 5 }];
    let indexed = [("withdrawal_account:wd_1".to_owned(), "acc_conformance_sched".to_owned())];
    let stale = AccountCommit { scheduled: &scheduled, indexed: &indexed, ..AccountCommit::new(7, &account, &[]) };
    assert_eq!(store.commit_account(stale).await.unwrap(), CommitOutcome::VersionConflict);
    assert!(store.scheduled("payout", i64::MAX, 10).await.unwrap().is_empty());
    assert_eq!(store.get_index("withdrawal_account:wd_1").await.unwrap().as_deref(), Some("acc_conformance_sched"));
    let commit = AccountCommit { scheduled: &scheduled, indexed: &indexed, ..AccountCommit::new(1, &account, &[]) };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.scheduled("payout", i64::MAX, 10).await.unwrap(), [("acc_conformance_sched/wd_1".to_owned(), 5)]);
    assert_eq!(store.get_index("withdrawal_account:wd_1").await.unwrap().as_deref(), Some("acc_conformance_sched"));
    let finished =
        [("payout", "acc_conformance_sched/wd_1".to_owned()), ("payout", "acc_conformance_sched/never".to_owned())];
    let commit = AccountCommit { unscheduled: &finished, ..AccountCommit::new(2, &account, &[]) };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    assert!(store.scheduled("payout", i64::MAX, 10).await.unwrap().is_empty());
    // Work of another account cannot ride on this partition's commit.
    let foreign = [ScheduleEntry { schedule: "payout", member: "acc_someone_else/wd_9".into(), at_ms: 5 }];
    let commit = AccountCommit { scheduled: &foreign, ..AccountCommit::new(3, &account, &[]) };
    assert!(matches!(store.commit_account(commit).await, Err(StoreError::Corrupt { .. })));
    assert_eq!(store.load_account(&account.id).await.unwrap().unwrap().version, 3);
}

async fn expiring_partition_documents_are_reclaimed_by_later_commits(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let account = account("acc_conformance_expiry");
    store.create_account(&account, &[]).await.unwrap();
    let short = [("idempotency:k1".to_owned(), "reply 1".to_owned())];
    // Kept for no time at all: any later commit that adds one may reclaim it.
    let commit = AccountCommit {
        documents_expiring: &short,
        expiring_ttl: Duration::ZERO,
        ..AccountCommit::new(1, &account, &[])
    };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    // Until a later commit reclaims it, an expired document may still be read
    // (or already be gone); whether it counts is the caller's decision by its
    // own clock.
    let (loaded, found) = store.load_account_with(&account.id, &["idempotency:k1", "nothing"]).await.unwrap().unwrap();
    assert_eq!(loaded.version, 2);
    assert!(matches!(found[..], [None | Some(_), None]), "{found:?}");
    assert!(found[0].as_deref().is_none_or(|reply| reply == "reply 1"), "{found:?}");
    let long = [("idempotency:k2".to_owned(), "reply 2".to_owned())];
    let commit = AccountCommit {
        documents_expiring: &long,
        expiring_ttl: Duration::from_secs(3600),
        ..AccountCommit::new(2, &account, &[])
    };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.partition_document(&account.id, "idempotency:k1").await.unwrap(), None, "reclaimed");
    assert_eq!(store.partition_document(&account.id, "idempotency:k2").await.unwrap().as_deref(), Some("reply 2"));
    assert_eq!(store.load_account_with(&AccountId::parse("acc_nobody").unwrap(), &["x"]).await.unwrap(), None);
}

async fn expiring_documents_that_must_be_new_refuse_the_commit_when_they_exist(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let mut account = account("acc_conformance_new_only");
    store.create_account(&account, &[]).await.unwrap();
    let first = [("idempotency:k1".to_owned(), "reply 1".to_owned())];
    let commit = AccountCommit {
        documents_expiring: &first,
        expiring_ttl: Duration::from_secs(3600),
        expiring_must_be_new: true,
        ..AccountCommit::new(1, &account, &[])
    };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    // The same name again, at the current version: refused, and nothing of it lands.
    let again = [("idempotency:k1".to_owned(), "reply 2".to_owned())];
    let puts = [("withdrawal:wd_2".to_owned(), "{}".to_owned())];
    let entry = credit(&mut account, "5.00");
    let commit = AccountCommit {
        documents_put: &puts,
        documents_expiring: &again,
        expiring_ttl: Duration::from_secs(3600),
        expiring_must_be_new: true,
        ..AccountCommit::new(2, &account, std::slice::from_ref(&entry))
    };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::VersionConflict);
    let (loaded, found) =
        store.load_account_with(&account.id, &["idempotency:k1", "withdrawal:wd_2"]).await.unwrap().unwrap();
    assert_eq!((loaded.version, found), (2, vec![Some("reply 1".to_owned()), None]));
    assert!(store.journal(&account.id, None, 10).await.unwrap().is_empty());
    // Without the requirement the same commit overwrites (an expired reply, say).
    let commit = AccountCommit {
        documents_expiring: &again,
        expiring_ttl: Duration::from_secs(3600),
        ..AccountCommit::new(2, &account, std::slice::from_ref(&entry))
    };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.partition_document(&account.id, "idempotency:k1").await.unwrap().as_deref(), Some("reply 2"));
}

async fn a_missing_account_has_no_journal_and_is_not_listed(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let nobody = AccountId::parse("acc_conformance_nobody").unwrap();
    assert!(store.journal(&nobody, None, 10).await.unwrap().is_empty());
    assert!(store.account_ids().await.unwrap().is_empty());
    let (loaded, found) = (store.load_account(&nobody).await.unwrap(), store.load_account_with(&nobody, &[]).await);
    assert_eq!((loaded, found.unwrap()), (None, None));
}

async fn a_commit_that_hands_its_record_over_lands_like_any_other(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let original = account("acc_conformance_owning");
    store.create_account(&original, &[]).await.unwrap();
    let mut changed = original.clone();
    let entry = credit(&mut changed, "7.00");
    let commit = AccountCommit::owning(1, changed.clone(), std::slice::from_ref(&entry));
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    let (loaded, found) = store.load_account_with(&original.id, &[]).await.unwrap().unwrap();
    assert_eq!((loaded.version, loaded.value, found), (2, changed, Vec::new()));
    assert_eq!(store.journal(&original.id, None, 10).await.unwrap(), vec![entry]);
}
