//! Schedules and their claims (`Schedules`).

use futures_util::future::join_all;
use walletgate::store::{ScheduleOrder, SchedulePosition, SharedStore, owner_by_subject};

use super::store_for;
use crate::helpers::StoreKind;
use crate::on_both_stores;

on_both_stores!(
    schedules_give_members_back_in_time_order,
    claims_lease_members_and_a_claimer_changes_only_what_it_still_holds,
    a_claim_takes_at_most_its_limit_earliest_first_and_a_lapsed_lease_gives_members_back,
    concurrent_claimers_share_the_due_work,
    a_schedule_pages_either_way_round_by_time_then_name_across_shards,
    a_schedule_counts_its_members_up_to_a_time_and_a_cap,
    a_schedule_leads_from_a_subject_and_its_time_to_its_owner,
);

/// A schedule as an index: a member `<owner>/<subject>` whose subject the
/// store can find it by is found from the subject and the member's time,
/// and from nothing else; `owner_by_subject` falls back to an index entry
/// for a subject without such a member.
async fn a_schedule_leads_from_a_subject_and_its_time_to_its_owner(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    let owners = ["acc_1", "acc_2", "acc_3"];
    let mut subjects = Vec::new();
    for (n, owner) in owners.iter().enumerate() {
        // Made the way a caller makes a new id: until the store can find it.
        let subject = (0..10_000)
            .map(|k| format!("wd_{n}_{k}"))
            .find(|subject| store.findable_by_subject(owner, subject))
            .expect("one subject in ten thousand is findable");
        store.schedule("list", &format!("{owner}/{subject}"), 5_000).await.unwrap();
        subjects.push(subject);
    }
    store.schedule("list", "acc_4/wd_other", 5_000).await.unwrap();
    for (owner, subject) in owners.iter().zip(&subjects) {
        assert_eq!(store.owners_at("list", subject, 5_000).await.unwrap(), [owner.to_string()]);
        assert!(store.owners_at("list", subject, 5_001).await.unwrap().is_empty(), "at its time only");
        assert!(store.owners_at("payout", subject, 5_000).await.unwrap().is_empty(), "on its schedule only");
    }
    assert!(store.owners_at("list", "wd_nobody", 5_000).await.unwrap().is_empty());

    let found = owner_by_subject(&*store, "list", &subjects[0], Some(5_000), "owner_of:nothing").await.unwrap();
    assert_eq!(found.as_deref(), Some("acc_1"), "by the schedule");
    assert!(store.swap_index("owner_of:wd_old", None, Some("acc_9")).await.unwrap());
    for at_ms in [None, Some(5_000)] {
        let found = owner_by_subject(&*store, "list", "wd_old", at_ms, "owner_of:wd_old").await.unwrap();
        assert_eq!(found.as_deref(), Some("acc_9"), "by the index entry when the schedule has none");
    }
}

/// Members of many accounts (so, on Redis, of many shards) counted by time:
/// claimed ones have moved to their lease's end, and a count stops at its cap.
async fn a_schedule_counts_its_members_up_to_a_time_and_a_cap(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    assert_eq!(store.count_scheduled("payout", i64::MAX, 10).await.unwrap(), 0, "an empty schedule");
    for n in 1..=6 {
        store.schedule("payout", &format!("acc_{n}/wd_{n}"), 1_000 * n).await.unwrap();
    }
    assert_eq!(store.count_scheduled("payout", 3_000, 10).await.unwrap(), 3, "at or before the time");
    assert_eq!(store.count_scheduled("payout", 2_999, 10).await.unwrap(), 2);
    assert_eq!(store.count_scheduled("payout", i64::MAX, 10).await.unwrap(), 6, "all of them");
    assert_eq!(store.count_scheduled("payout", i64::MAX, 4).await.unwrap(), 4, "no further than the cap");
    assert_eq!(store.claim_scheduled("payout", 2_000, 60_000, 10).await.unwrap().len(), 2);
    assert_eq!(store.count_scheduled("payout", 3_000, 10).await.unwrap(), 1, "claimed members wait at the lease's end");
    assert_eq!(store.count_scheduled("payout", 60_000, 10).await.unwrap(), 6);
}

/// Two claimers at once over twelve due members of many accounts, six each
/// at most: between them they take all twelve, each member once, and
/// neither comes back empty because the other chose the same members first.
async fn concurrent_claimers_share_the_due_work(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    for n in 0..12 {
        store.schedule("payout", &format!("acc_{n}/wd_{n}"), 1_000 + n).await.unwrap();
    }
    for _ in 0..5 {
        let (first, second) = tokio::join!(
            store.claim_scheduled("payout", 5_000, 60_000, 6),
            store.claim_scheduled("payout", 5_000, 60_000, 6)
        );
        let (first, second) = (first.unwrap(), second.unwrap());
        assert_eq!((first.len(), second.len()), (6, 6), "{first:?} {second:?}");
        let mut all: Vec<&str> = first.iter().chain(&second).map(|(member, _)| member.as_str()).collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), 12, "each member once: {first:?} {second:?}");
        // Give everything back for the next round.
        for (member, at) in first.iter().chain(&second) {
            assert!(store.reschedule_if_at("payout", member, 60_000, Some(*at)).await.unwrap());
        }
    }
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

async fn a_claim_takes_at_most_its_limit_earliest_first_and_a_lapsed_lease_gives_members_back(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    for (member, at_ms) in [("m3", 3_000), ("m1", 1_000), ("m2", 2_000), ("m9", 9_000)] {
        store.schedule("review", member, at_ms).await.unwrap();
    }
    let claim = |until_ms, lease_until_ms| store.claim_scheduled("review", until_ms, lease_until_ms, 2);
    assert_eq!(claim(5_000, 60_000).await.unwrap(), [("m1".to_owned(), 1_000), ("m2".to_owned(), 2_000)]);
    assert_eq!(claim(5_000, 60_000).await.unwrap(), [("m3".to_owned(), 3_000)]);
    assert!(claim(5_000, 60_000).await.unwrap().is_empty(), "the rest is leased or not due");
    assert!(store.claim_scheduled("nothing", i64::MAX, 60_000, 10).await.unwrap().is_empty());
    // Nobody finished: once the leases end, the members are due again, earliest first.
    let again = store.claim_scheduled("review", 60_000, 120_000, 10).await.unwrap();
    assert_eq!(
        again,
        [("m9".to_owned(), 9_000), ("m1".to_owned(), 60_000), ("m2".to_owned(), 60_000), ("m3".to_owned(), 60_000)]
    );
}

/// Every page of `schedule` in `order`, `limit` at a time, each starting after the previous page's last member.
async fn walk(store: &SharedStore, order: ScheduleOrder, limit: usize) -> Vec<(String, i64)> {
    let mut walked: Vec<(String, i64)> = Vec::new();
    loop {
        let from = walked.last().map(|(member, at_ms)| SchedulePosition::new(*at_ms, member.clone()));
        let page = store.scheduled_page("listed", order, from.as_ref(), limit).await.unwrap();
        assert!(page.len() <= limit, "{page:?}");
        let last = page.len() < limit;
        walked.extend(page);
        if last {
            return walked;
        }
    }
}

async fn a_schedule_pages_either_way_round_by_time_then_name_across_shards(kind: StoreKind) {
    let (store, _keys) = store_for(kind).await;
    // Accounts in different shards, and members of one millisecond in one
    // shard and in several.
    let members = [
        ("acc_a/wd_2", 2_000),
        ("acc_b/wd_1", 1_000),
        ("acc_a/wd_9", 2_000),
        ("acc_c/wd_0", 2_000),
        ("acc_d/wd_4", 4_000),
        ("acc_a/wd_1", 2_000),
        ("acc_e/wd_3", 3_000),
        ("acc_b/wd_2", 2_000),
        ("acc_f/wd_5", 5_000),
    ];
    for (member, at_ms) in members {
        store.schedule("listed", member, at_ms).await.unwrap();
    }
    let mut earliest_first: Vec<(String, i64)> = members.iter().map(|(m, at)| ((*m).to_owned(), *at)).collect();
    earliest_first.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
    let newest_first: Vec<(String, i64)> = earliest_first.iter().rev().cloned().collect();
    for limit in [1, 2, 3, 4, 9, 50] {
        assert_eq!(walk(&store, ScheduleOrder::EarliestFirst, limit).await, earliest_first, "limit {limit}");
        assert_eq!(walk(&store, ScheduleOrder::NewestFirst, limit).await, newest_first, "limit {limit}");
    }

    // A start that is not (or no longer) a member: strictly beyond it, either way.
    let from = SchedulePosition::new(2_000, "acc_a/wd_5");
    let after = store.scheduled_page("listed", ScheduleOrder::EarliestFirst, Some(&from), 3).await.unwrap();
    let names: Vec<&str> = after.iter().map(|(member, _)| member.as_str()).collect();
    assert_eq!(names, ["acc_a/wd_9", "acc_b/wd_2", "acc_c/wd_0"]);
    let before = store.scheduled_page("listed", ScheduleOrder::NewestFirst, Some(&from), 10).await.unwrap();
    let names: Vec<&str> = before.iter().map(|(member, _)| member.as_str()).collect();
    assert_eq!(names, ["acc_a/wd_2", "acc_a/wd_1", "acc_b/wd_1"]);

    let end = SchedulePosition::new(5_000, "acc_f/wd_5");
    assert!(store.scheduled_page("listed", ScheduleOrder::EarliestFirst, Some(&end), 10).await.unwrap().is_empty());
    assert!(store.scheduled_page("listed", ScheduleOrder::NewestFirst, None, 0).await.unwrap().is_empty());
    assert!(store.scheduled_page("nothing", ScheduleOrder::NewestFirst, None, 10).await.unwrap().is_empty());
}
