//! Event streams and their wake-ups (`EventStreams`), fed by partition commits.

use std::time::{Duration, Instant};

use walletgate::domain::account::AccountId;
use walletgate::store::{AccountCommit, CommitOutcome, EVENTS_KEPT_PER_ACCOUNT, EventPosition, StoredEvent};

use super::{account, store_for};
use crate::helpers::StoreKind;
use crate::on_both_stores;

on_both_stores!(
    a_commit_appends_its_events_in_order_and_readers_resume_after_a_position,
    a_stream_keeps_the_events_of_its_newest_commits,
    a_commit_with_events_wakes_listeners_and_one_without_does_not,
);

async fn a_commit_appends_its_events_in_order_and_readers_resume_after_a_position(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let alice = account("acc_conformance_events");
    store.create_account(&alice, &[]).await.unwrap();
    assert!(store.events(&alice.id, None, 10).await.unwrap().is_empty());
    let first = ["n1".to_owned(), "n2".to_owned()];
    let commit = AccountCommit { events: &first, ..AccountCommit::new(1, &alice, &[]) };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    let stale_events = ["stale".to_owned()];
    let stale = AccountCommit { events: &stale_events, ..AccountCommit::new(1, &alice, &[]) };
    assert_eq!(store.commit_account(stale).await.unwrap(), CommitOutcome::VersionConflict);
    let second = ["n3".to_owned()];
    let commit = AccountCommit { events: &second, ..AccountCommit::new(2, &alice, &[]) };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);

    let all = store.events(&alice.id, None, 10).await.unwrap();
    assert_eq!(bodies(&all), ["n1", "n2", "n3"]);
    let positions: Vec<EventPosition> = all.iter().map(|event| EventPosition::parse(&event.id).unwrap()).collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "positions only grow: {positions:?}");
    assert_eq!(bodies(&store.events(&alice.id, Some(positions[0]), 10).await.unwrap()), ["n2", "n3"]);
    assert!(store.events(&alice.id, Some(positions[2]), 10).await.unwrap().is_empty());
    let last = EventPosition(u64::MAX, u64::MAX);
    assert!(store.events(&alice.id, Some(last), 10).await.unwrap().is_empty(), "nothing after the last position");
    assert_eq!(bodies(&store.events(&alice.id, None, 2).await.unwrap()), ["n1", "n2"]);
    assert!(store.events(&alice.id, None, 0).await.unwrap().is_empty());
    let nobody = AccountId::parse("acc_conformance_nobody").unwrap();
    assert!(store.events(&nobody, None, 10).await.unwrap().is_empty());
}

fn bodies(events: &[StoredEvent]) -> Vec<&str> {
    events.iter().map(|event| event.body.as_str()).collect()
}

/// A stream keeps the events of its partition's newest
/// `EVENTS_KEPT_PER_ACCOUNT` commits, however many each appended, and
/// commits without events count too.
async fn a_stream_keeps_the_events_of_its_newest_commits(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let alice = account("acc_conformance_capped");
    store.create_account(&alice, &[]).await.unwrap();
    let many: Vec<String> = (0..EVENTS_KEPT_PER_ACCOUNT + 5).map(|n| format!("first {n}")).collect();
    let commit = AccountCommit { events: &many, ..AccountCommit::new(1, &alice, &[]) };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    let kept = store.events(&alice.id, None, 2 * EVENTS_KEPT_PER_ACCOUNT).await.unwrap();
    assert_eq!(kept.len(), many.len(), "one commit's events are kept whole");
    let mut version = 2;
    for n in 1..EVENTS_KEPT_PER_ACCOUNT {
        let one = [format!("later {n}")];
        let commit = AccountCommit { events: &one, ..AccountCommit::new(version, &alice, &[]) };
        assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
        version += 1;
    }
    let kept = store.events(&alice.id, None, 3 * EVENTS_KEPT_PER_ACCOUNT).await.unwrap();
    assert_eq!(
        kept.len(),
        many.len() + EVENTS_KEPT_PER_ACCOUNT - 1,
        "the newest commits' events, the first's among them"
    );
    assert_eq!(kept[0].body, "first 0");
    let commit = AccountCommit::new(version, &alice, &[]);
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    let kept = store.events(&alice.id, None, 3 * EVENTS_KEPT_PER_ACCOUNT).await.unwrap();
    assert_eq!(kept.len(), EVENTS_KEPT_PER_ACCOUNT - 1, "a commit without events pushed the first's out");
    assert_eq!(kept[0].body, "later 1");
    let positions: Vec<EventPosition> = kept.iter().map(|event| EventPosition::parse(&event.id).unwrap()).collect();
    assert!(positions.windows(2).all(|pair| pair[0] < pair[1]), "oldest first");
    let after = store.events(&alice.id, Some(positions[10]), 5).await.unwrap();
    assert_eq!(bodies(&after), ["later 12", "later 13", "later 14", "later 15", "later 16"]);
}

async fn a_commit_with_events_wakes_listeners_and_one_without_does_not(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let [loud, quiet, marker] =
        ["acc_conformance_loud", "acc_conformance_quiet", "acc_conformance_marker"].map(account);
    for one in [&loud, &quiet, &marker] {
        store.create_account(one, &[]).await.unwrap();
    }
    let event = ["woken".to_owned()];
    let mut signals = store.event_signals();
    // On Redis the listener subscribes in the background: commit until a
    // wake-up arrives, so from then on it surely listens.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut loud_version = 1;
    loop {
        let commit = AccountCommit { events: &event, ..AccountCommit::new(loud_version, &loud, &[]) };
        assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
        loud_version += 1;
        if let Ok(woken) = tokio::time::timeout(Duration::from_millis(100), signals.recv()).await {
            assert_eq!(woken.unwrap(), loud.id);
            break;
        }
        assert!(Instant::now() < deadline, "no wake-up within 10 s");
    }
    // A commit without events wakes nobody; the marker's wake-up comes after
    // where the quiet one's would have been.
    assert_eq!(store.commit_account(AccountCommit::new(1, &quiet, &[])).await.unwrap(), CommitOutcome::Committed);
    let commit = AccountCommit { events: &event, ..AccountCommit::new(1, &marker, &[]) };
    assert_eq!(store.commit_account(commit).await.unwrap(), CommitOutcome::Committed);
    loop {
        let woken = tokio::time::timeout_at(deadline.into(), signals.recv()).await.expect("the marker wakes listeners");
        let woken = woken.unwrap();
        assert_ne!(woken, quiet.id, "a commit without events sent a wake-up");
        if woken == marker.id {
            break;
        }
    }
}
