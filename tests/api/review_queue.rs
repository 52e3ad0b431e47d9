//! The review queue as operators page through it: searched by phone,
//! account or withdrawal, filtered by reason, level and amount, in four
//! orders, counted over every page, and refusing what it cannot read.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{StoreKind, TestApp, assert_error, json_of, spawn_app_with, unique_phone};
use crate::kyc::resident_id;
use crate::on_both_stores;
use crate::settlement::{Payee, approve, id_of, payee, withdraw};

on_both_stores!(
    the_queue_is_searched_filtered_and_counted,
    every_order_pages_through_the_whole_queue,
    queue_parameters_it_cannot_read_are_refused_naming_them,
);

/// Four withdrawals waiting, oldest first: Alice's ¥10.00 (first to her
/// WeChat) and ¥60.00 (large), Bob's ¥200.00 (first and large, Bob at L1)
/// and Carol's ¥30.00 (first).
struct Queue {
    app: TestApp,
    operator: String,
    alice: Payee,
    carol: Payee,
    ids: [String; 4],
}

async fn queue(store: StoreKind) -> Queue {
    let app = spawn_app_with(store, |settings| {
        settings.withdrawals.manual_review_over = "50.00".into();
        settings.kyc.auto_approve = false;
    })
    .await;
    let operator = app.operator_token().await;
    let alice = payee(&app, "900.00", json!({})).await;
    let bob = payee(&app, "900.00", json!({})).await;
    let carol = payee(&app, "900.00", json!({})).await;
    let identity = json!({ "level": "L1", "real_name": "王小明", "id_number": resident_id("11010519900307021") });
    let request = json_of(app.post("/v1/kyc", Some(&bob.user.token), &identity).await, StatusCode::ACCEPTED).await;
    let decide = format!("/v1/ops/kyc/{}/approve", request["id"].as_str().unwrap());
    json_of(app.post(&decide, Some(&operator), &json!({})).await, StatusCode::OK).await;
    let mut ids = Vec::new();
    for (who, amount) in [(&alice, "10.00"), (&alice, "60.00"), (&bob, "200.00"), (&carol, "30.00")] {
        ids.push(id_of(&withdraw(&app, who, amount).await));
    }
    Queue { app, operator, alice, carol, ids: ids.try_into().unwrap() }
}

impl Queue {
    async fn read(&self, query: &str) -> Value {
        json_of(self.app.get(&format!("/v1/ops/review-queue?{query}"), Some(&self.operator)).await, StatusCode::OK)
            .await
    }

    /// The withdrawals of one page, by their place in `ids` (0 = Alice's ¥10.00), and the total.
    async fn page(&self, query: &str) -> (Vec<usize>, u64) {
        let page = self.read(query).await;
        (self.places(&page), page["total"].as_u64().unwrap())
    }

    fn places(&self, page: &Value) -> Vec<usize> {
        let items = page["items"].as_array().unwrap();
        items.iter().map(|item| self.ids.iter().position(|id| item["withdrawal"]["id"] == *id).unwrap()).collect()
    }

    /// Every page of `query`, `limit` at a time, with the total each page said.
    async fn walk(&self, query: &str, limit: usize) -> (Vec<usize>, Vec<u64>) {
        let (mut walked, mut totals) = (Vec::new(), Vec::new());
        let mut cursor = String::new();
        loop {
            let page = self.read(&format!("{query}&limit={limit}{cursor}")).await;
            let places = self.places(&page);
            assert!(places.len() <= limit, "{page}");
            walked.extend(places);
            totals.push(page["total"].as_u64().unwrap());
            match page["next_cursor"].as_str() {
                Some(next) => cursor = format!("&cursor={next}"),
                None => return (walked, totals),
            }
        }
    }
}

async fn the_queue_is_searched_filtered_and_counted(store: StoreKind) {
    let queue = queue(store).await;
    assert_eq!(queue.page("").await, (vec![0, 1, 2, 3], 4));
    let first = &queue.read("").await["items"][0];
    let phone = &queue.alice.user.phone;
    assert_eq!(first["account"]["phone"], format!("{}****{}", &phone[..3], &phone[7..]), "masked: {first}");
    assert_eq!(first["account"]["email"], Value::Null);
    assert_eq!(first["reasons"], json!(["first_to_destination"]));

    assert_eq!(queue.page("reason=large_amount").await, (vec![1, 2], 2));
    assert_eq!(queue.page("reason=first_to_destination").await, (vec![0, 2, 3], 3));
    assert_eq!(queue.page("reason=payout_attempts_exhausted").await, (vec![], 0));
    assert_eq!(queue.page("level=L1").await, (vec![2], 1));
    assert_eq!(queue.page("level=L0").await, (vec![0, 1, 3], 3));
    assert_eq!(queue.page("amount_min=30.00&amount_max=60").await, (vec![1, 3], 2));
    assert_eq!(queue.page("amount_min=30.01").await, (vec![1, 2], 2));
    assert_eq!(queue.page("reason=first_to_destination&level=L0&amount_max=20.00").await, (vec![0], 1));

    assert_eq!(queue.page(&format!("phone={phone}")).await, (vec![0, 1], 2));
    assert_eq!(queue.page(&format!("account_id={}", queue.carol.user.id)).await, (vec![3], 1));
    assert_eq!(queue.page(&format!("withdrawal_id={}", queue.ids[2])).await, (vec![2], 1));
    assert_eq!(queue.page(&format!("phone={}", unique_phone())).await, (vec![], 0), "nobody has that phone");
    assert_eq!(queue.page(&format!("phone={phone}&reason=large_amount")).await, (vec![1], 1));

    // A decided withdrawal leaves the queue and its count.
    json_of(approve(&queue.app, &queue.operator, &queue.ids[2]).await, StatusCode::OK).await;
    assert_eq!(queue.page("").await, (vec![0, 1, 3], 3));
    assert_eq!(queue.page(&format!("withdrawal_id={}", queue.ids[2])).await, (vec![], 0));
}

async fn every_order_pages_through_the_whole_queue(store: StoreKind) {
    let queue = queue(store).await;
    for (order, expected) in [
        ("oldest", vec![0, 1, 2, 3]),
        ("newest", vec![3, 2, 1, 0]),
        ("largest", vec![2, 1, 3, 0]),
        ("smallest", vec![0, 3, 1, 2]),
    ] {
        assert_eq!(queue.page(&format!("order={order}")).await, (expected.clone(), 4), "{order}");
        for limit in [1, 3] {
            let (walked, totals) = queue.walk(&format!("order={order}"), limit).await;
            assert_eq!(walked, expected, "order={order} limit={limit}");
            assert!(totals.iter().all(|&total| total == 4), "order={order} limit={limit}: {totals:?}");
        }
    }
    let (walked, _) = queue.walk("order=largest&reason=first_to_destination", 2).await;
    assert_eq!(walked, [2, 3, 0], "filters hold on every page");

    // A page read after its item was decided goes on from where it was.
    let first = queue.read("order=largest&limit=1").await;
    json_of(approve(&queue.app, &queue.operator, &queue.ids[2]).await, StatusCode::OK).await;
    let cursor = first["next_cursor"].as_str().unwrap();
    assert_eq!(queue.page(&format!("order=largest&limit=10&cursor={cursor}")).await, (vec![1, 3, 0], 3));
}

async fn queue_parameters_it_cannot_read_are_refused_naming_them(store: StoreKind) {
    let queue = queue(store).await;
    let largest = queue.read("order=largest&limit=1").await;
    let cursor = largest["next_cursor"].as_str().unwrap().to_owned();
    let phone = &queue.alice.user.phone;
    for (query, field) in [
        ("phone=138".to_owned(), "phone"),
        ("account_id=alice".to_owned(), "account_id"),
        ("withdrawal_id=42".to_owned(), "withdrawal_id"),
        (format!("phone={phone}&account_id={}", queue.alice.user.id), "account_id"),
        ("reason=bored".to_owned(), "reason"),
        ("level=L9".to_owned(), "level"),
        ("order=sideways".to_owned(), "order"),
        ("amount_min=1.234".to_owned(), "amount_min"),
        ("amount_max=ten".to_owned(), "amount_max"),
        ("amount_min=10.00&amount_max=9.99".to_owned(), "amount_max"),
        (format!("cursor={cursor}"), "cursor"),
        (format!("order=newest&cursor={cursor}"), "cursor"),
        ("limit=201".to_owned(), "limit"),
        ("sort=amount".to_owned(), "sort"),
    ] {
        let response = queue.app.get(&format!("/v1/ops/review-queue?{query}"), Some(&queue.operator)).await;
        let body = assert_error(response, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        assert_eq!(body["error"]["details"]["field"], field, "{query}: {body}");
    }
    // The same cursor in its own order reads on.
    assert_eq!(queue.page(&format!("order=largest&cursor={cursor}")).await.1, 4);
}
