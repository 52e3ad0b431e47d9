//! One suite, both stores: the `Store` contract every implementation keeps.

use std::time::Duration;

use chrono::{DateTime, Utc};
use futures_util::future::join_all;
use walletgate::domain::account::{Account, AccountId, PasswordHash, Posting, Role, VerificationLevel};
use walletgate::domain::credentials::Login;
use walletgate::domain::ledger::{EntryKind, JournalEntry, LedgerAccount, leg};
use walletgate::startup::connect_store;
use walletgate::store::{AccountCommit, CommitOutcome, DocumentWrite, ScheduleEntry, SharedStore, StoreError};

use crate::helpers::{RedisKeysGuard, StoreKind, test_settings, unique_phone};
use crate::on_both_stores;

on_both_stores!(
    a_created_account_loads_at_version_1_with_its_opening_entries,
    ids_and_logins_are_unique_and_a_refused_create_leaves_nothing,
    commits_are_compare_and_set,
    journals_page_newest_first,
    ephemeral_values_are_taken_exactly_once,
    documents_are_created_once_and_then_compare_and_set,
    unique_indexes_change_only_by_compare_and_swap,
    recent_lists_keep_the_newest_items,
    partition_documents_commit_with_the_record,
    schedules_give_members_back_in_time_order,
    claims_lease_members_and_a_claimer_changes_only_what_it_still_holds,
    several_documents_are_saved_all_or_none,
    a_commit_sets_its_schedule_and_index_entries_only_if_it_lands,
    expiring_partition_documents_are_reclaimed_by_later_commits,
);

async fn store_for(kind: StoreKind) -> (SharedStore, Option<RedisKeysGuard>) {
    let settings = test_settings(kind).store;
    let keys = (kind == StoreKind::Redis).then(|| RedisKeysGuard::new(&settings.url, &settings.key_prefix));
    (connect_store(&settings).await.expect("store connects"), keys)
}

fn account(id: &str) -> Account {
    Account::open(
        AccountId::parse(id).unwrap(),
        Role::User,
        Login::phone(&unique_phone()).unwrap(),
        PasswordHash("$argon2id$v=19$stub".into()),
        VerificationLevel::L0,
        DateTime::<Utc>::UNIX_EPOCH,
    )
}

fn credit(account: &mut Account, amount: &str) -> JournalEntry {
    let posting = Posting {
        kind: EntryKind::OperatorCredit,
        memo: format!("credit {amount}"),
        actor: None,
        legs: vec![leg(LedgerAccount::Funding, LedgerAccount::UserAvailable, amount.parse().unwrap())],
    };
    account.post(posting, DateTime::<Utc>::UNIX_EPOCH).unwrap()
}

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
    assert_eq!((loaded.version, loaded.value.ledger.user_available.to_string()), (2, "5.00".to_owned()));
    assert_eq!(store.journal(&original.id, None, 10).await.unwrap(), vec![entry]);

    let ghost = account("acc_conformance_ghost");
    let commit = AccountCommit::new(1, &ghost, &[]);
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::VersionConflict);
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

async fn recent_lists_keep_the_newest_items(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    for i in 1..=5 {
        store.push_recent("outbox:139", &format!("m{i}"), 3).await.unwrap();
    }
    assert_eq!(store.recent("outbox:139", 10).await.unwrap(), ["m5", "m4", "m3"]);
    assert_eq!(store.recent("outbox:139", 2).await.unwrap(), ["m5", "m4"]);
    assert!(store.recent("outbox:empty", 5).await.unwrap().is_empty());
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

async fn schedules_give_members_back_in_time_order(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    store.schedule("review", "acc_a/wd_3", 3_000).await.unwrap();
    store.schedule("review", "acc_a/wd_1", 1_000).await.unwrap();
    store.schedule("review", "acc_b/wd_2", 2_000).await.unwrap();
    store.schedule("review", "acc_a/wd_1", 4_000).await.unwrap();
    let due = store.scheduled("review", 3_000, 10).await.unwrap();
    assert_eq!(due, [("acc_b/wd_2".to_owned(), 2_000), ("acc_a/wd_3".to_owned(), 3_000)]);
    assert_eq!(store.scheduled("review", i64::MAX, 1).await.unwrap(), [("acc_b/wd_2".to_owned(), 2_000)]);
    assert!(store.unschedule("review", "acc_b/wd_2").await.unwrap());
    assert!(!store.unschedule("review", "acc_b/wd_2").await.unwrap());
    let rest: Vec<String> =
        store.scheduled("review", i64::MAX, 10).await.unwrap().into_iter().map(|(m, _)| m).collect();
    assert_eq!(rest, ["acc_a/wd_3", "acc_a/wd_1"]);
    assert!(store.scheduled("nothing", i64::MAX, 10).await.unwrap().is_empty());
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

async fn a_commit_sets_its_schedule_and_index_entries_only_if_it_lands(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let account = account("acc_conformance_sched");
    store.create_account(&account, &[]).await.unwrap();
    let scheduled = [ScheduleEntry { schedule: "payout", member: "acc_conformance_sched/wd_1".into(), at_ms: 5 }];
    let indexed = [("withdrawal_account:wd_1".to_owned(), "acc_conformance_sched".to_owned())];
    let stale = AccountCommit { scheduled: &scheduled, indexed: &indexed, ..AccountCommit::new(7, &account, &[]) };
    assert_eq!(store.commit_account(stale).await.unwrap(), CommitOutcome::VersionConflict);
    assert!(store.scheduled("payout", i64::MAX, 10).await.unwrap().is_empty());
    assert_eq!(store.get_index("withdrawal_account:wd_1").await.unwrap(), None);
    let commit = AccountCommit { scheduled: &scheduled, indexed: &indexed, ..AccountCommit::new(1, &account, &[]) };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    assert_eq!(store.scheduled("payout", i64::MAX, 10).await.unwrap(), [("acc_conformance_sched/wd_1".to_owned(), 5)]);
    assert_eq!(store.get_index("withdrawal_account:wd_1").await.unwrap().as_deref(), Some("acc_conformance_sched"));
    let finished = [("payout", "acc_conformance_sched/wd_1".to_owned()), ("payout", "never/there".to_owned())];
    let commit = AccountCommit { unscheduled: &finished, ..AccountCommit::new(2, &account, &[]) };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    assert!(store.scheduled("payout", i64::MAX, 10).await.unwrap().is_empty());
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
    // Until a later commit reclaims it, an expired document may still be read;
    // whether it counts is the caller's decision by its own clock.
    let (loaded, found) = store.load_account_with(&account.id, &["idempotency:k1", "nothing"]).await.unwrap().unwrap();
    assert_eq!((loaded.version, found), (2, vec![Some("reply 1".to_owned()), None]));
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

async fn claims_lease_members_and_a_claimer_changes_only_what_it_still_holds(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    store.schedule("payout", "acc_a/wd_1", 1_000).await.unwrap();
    store.schedule("payout", "acc_a/wd_2", 2_000).await.unwrap();
    store.schedule("payout", "acc_a/wd_3", 9_000).await.unwrap();

    // Of concurrent claimers, each due member goes to exactly one; they move to the lease's end.
    let claimers = (0..10).map(|_| store.claim_scheduled("payout", 5_000, 65_000, 10));
    let claimed: Vec<(String, i64)> = join_all(claimers).await.into_iter().flat_map(Result::unwrap).collect();
    assert_eq!(claimed, [("acc_a/wd_1".to_owned(), 1_000), ("acc_a/wd_2".to_owned(), 2_000)]);
    assert!(store.claim_scheduled("payout", 5_000, 70_000, 10).await.unwrap().is_empty(), "leased, not due");
    let due = store.scheduled("payout", i64::MAX, 10).await.unwrap();
    assert_eq!(due.iter().filter(|(_, at)| *at == 65_000).count(), 2);

    // A commit moves wd_1 while its claim is out: the claimer's late drop changes nothing.
    store.schedule("payout", "acc_a/wd_1", 3_000).await.unwrap();
    assert!(!store.reschedule_if_at("payout", "acc_a/wd_1", 65_000, None).await.unwrap());
    assert_eq!(store.scheduled("payout", 3_000, 10).await.unwrap(), [("acc_a/wd_1".to_owned(), 3_000)]);

    // A claimer that still holds its entry moves it, then drops it.
    assert!(store.reschedule_if_at("payout", "acc_a/wd_2", 65_000, Some(80_000)).await.unwrap());
    assert!(!store.reschedule_if_at("payout", "acc_a/wd_2", 65_000, None).await.unwrap());
    assert!(store.reschedule_if_at("payout", "acc_a/wd_2", 80_000, None).await.unwrap());
    assert!(!store.reschedule_if_at("payout", "acc_a/wd_2", 80_000, None).await.unwrap(), "gone");
    assert!(!store.reschedule_if_at("nothing", "acc_a/wd_2", 80_000, None).await.unwrap());
    let left: Vec<String> =
        store.scheduled("payout", i64::MAX, 10).await.unwrap().into_iter().map(|(m, _)| m).collect();
    assert_eq!(left, ["acc_a/wd_1", "acc_a/wd_3"]);
}
