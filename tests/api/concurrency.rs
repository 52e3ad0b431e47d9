//! Balance changes are atomic: concurrent debits never overdraw and
//! concurrent credits and debits never lose an update.

use futures_util::future::join_all;
use reqwest::StatusCode;

use crate::helpers::{StoreKind, count_granted_and_refused, json_of, spawn_app};
use crate::on_both_stores;

on_both_stores!(a_balance_affording_k_debits_grants_exactly_k_of_50, concurrent_credits_and_debits_lose_nothing);

async fn a_balance_affording_k_debits_grants_exactly_k_of_50(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let (user_id, user) = app.new_user().await;
    json_of(app.credit(&operator, &user_id, "100.00").await, StatusCode::CREATED).await;

    let attempts = (0..50).map(|_| app.debit(&operator, &user_id, "7.00"));
    let statuses: Vec<StatusCode> = join_all(attempts).await.iter().map(|r| r.status()).collect();

    assert_eq!(count_granted_and_refused(&statuses), (14, 36), "statuses: {statuses:?}");
    assert_eq!(app.available(&user).await, "2.00");
    let report = app.assert_ledger_balanced().await;
    assert_eq!(report["entries_checked"], 3 + 1 + 14);
}

async fn concurrent_credits_and_debits_lose_nothing(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let (user_id, user) = app.new_user().await;
    json_of(app.credit(&operator, &user_id, "25.00").await, StatusCode::CREATED).await;

    // 25 debits of 1.00 are always affordable from 25.00, whatever the order.
    let requests = (0..50).map(|i| {
        let (app, operator, user_id) = (&app, &operator, &user_id);
        async move {
            if i % 2 == 0 {
                app.credit(operator, user_id, "3.00").await
            } else {
                app.debit(operator, user_id, "1.00").await
            }
        }
    });
    let statuses: Vec<StatusCode> = join_all(requests).await.iter().map(|r| r.status()).collect();
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED), "statuses: {statuses:?}");
    assert_eq!(app.available(&user).await, "75.00");
    app.assert_ledger_balanced().await;
}
