//! Workers that die and workers that compete: a withdrawal whose worker died
//! after claiming it (before or after paying) is finished by another instance
//! once the lease ends, paying exactly once; two instances working through
//! 210 due withdrawals settle each exactly once.

use chrono::Duration;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use walletgate::clock::Clock;
use walletgate::providers::payouts::{BillState, TransferRequest};
use walletgate::services::keys::PAYOUT_SCHEDULE;

use crate::helpers::{StoreKind, TestApp, json_of, spawn_app, spawn_app_with, spawn_second_instance};
use crate::on_both_stores;
use crate::settlement::{Payee, approve, id_of, mock_wallet, payee, withdraw, withdrawal};

on_both_stores!(
    a_worker_that_dies_after_paying_is_replaced_without_paying_twice,
    a_worker_that_dies_before_paying_is_replaced_after_the_lease,
    two_workers_settle_210_due_withdrawals_exactly_once,
);

/// Worker A's part before it dies: it claims everything due, as its step would.
async fn claim_and_die(app: &TestApp) -> Vec<(String, i64)> {
    let now = app.clock.now().timestamp_millis();
    let lease_ms = app.settings.worker.lease_secs as i64 * 1000;
    app.services.partitions.store.claim_scheduled(PAYOUT_SCHEDULE, now, now + lease_ms, 10).await.unwrap()
}

async fn approved(app: &TestApp, payee: &Payee, amount: &str) -> String {
    let id = id_of(&withdraw(app, payee, amount).await);
    let operator = app.operator_token().await;
    json_of(approve(app, &operator, &id).await, StatusCode::OK).await;
    id
}

async fn a_worker_that_dies_after_paying_is_replaced_without_paying_twice(store: StoreKind) {
    let worker_a = spawn_app(store).await;
    let worker_b = spawn_second_instance(&worker_a).await;
    let payee = payee(&worker_a, "800.00", json!({})).await;
    let id = approved(&worker_a, &payee, "100.00").await;

    assert_eq!(claim_and_die(&worker_a).await.len(), 1);
    // A reached WeChat Pay: the money left, then A died before recording it.
    let payouts = worker_a.services.settlement.policy.payouts.clone().unwrap();
    let request = TransferRequest {
        out_bill_no: id.trim_start_matches("wd_").to_owned(),
        openid: payee.openid.clone(),
        amount: "100.00".parse().unwrap(),
        remark: "OK钱包余额提现".into(),
        scene_id: "1000".into(),
        notify_url: None,
        user_name: None,
    };
    assert_eq!(payouts.transfer(&request).await.unwrap().state, BillState::Success);
    // From here on A does nothing more: it is dead.

    let report = worker_b.services.worker.settle_due(worker_b.clock.now()).await.unwrap();
    assert_eq!(report.claimed, 0, "the lease still holds: {report:?}");
    worker_b.clock.advance(Duration::seconds(30));
    let report = worker_b.services.worker.settle_due(worker_b.clock.now()).await.unwrap();
    assert_eq!(report.settled, 1, "{report:?}");

    let mut payee = payee;
    worker_b.log_in_again(&mut payee.user).await;
    assert_eq!(withdrawal(&worker_b, &payee, &id).await["status"], "settled");
    let received = mock_wallet(&worker_b, &payee.openid).await;
    assert_eq!(received["transfers"].as_array().unwrap().len(), 1, "paid exactly once: {received}");
    assert_eq!(received["balance"], "100.00");
    worker_b.assert_ledger_balanced().await;
}

async fn a_worker_that_dies_before_paying_is_replaced_after_the_lease(store: StoreKind) {
    let worker_a = spawn_app(store).await;
    let worker_b = spawn_second_instance(&worker_a).await;
    let payee = payee(&worker_a, "800.00", json!({})).await;
    let id = approved(&worker_a, &payee, "100.00").await;
    assert_eq!(claim_and_die(&worker_a).await.len(), 1);

    worker_b.clock.advance(Duration::seconds(29));
    assert_eq!(worker_b.services.worker.settle_due(worker_b.clock.now()).await.unwrap().claimed, 0);
    worker_b.clock.advance(Duration::seconds(1));
    assert_eq!(worker_b.services.worker.settle_due(worker_b.clock.now()).await.unwrap().settled, 1);
    let received = mock_wallet(&worker_b, &payee.openid).await;
    assert_eq!(received["transfers"].as_array().unwrap().len(), 1);
    let mut payee = payee;
    worker_b.log_in_again(&mut payee.user).await;
    assert_eq!(withdrawal(&worker_b, &payee, &id).await["status"], "settled");
    worker_b.assert_ledger_balanced().await;
}

const PAYEES: usize = 10;
const WITHDRAWALS_EACH: usize = 20;

async fn two_workers_settle_210_due_withdrawals_exactly_once(store: StoreKind) {
    let worker_a = spawn_app_with(store, |settings| {
        settings.withdrawals.auto_review_delay_secs = 0;
        settings.withdrawals.levels.l0.daily_count_max = 100;
        let limits = &mut settings.rate_limits;
        for pair in [&mut limits.pin, &mut limits.login, &mut limits.sms] {
            pair.per_account.burst = 1000;
            pair.per_ip.burst = 10_000;
        }
        settings.worker.batch_size = 50;
    })
    .await;
    let worker_b = spawn_second_instance(&worker_a).await;
    let payees = join_all((0..PAYEES).map(|_| payee(&worker_a, "800.00", json!({})))).await;
    // Each payee's first withdrawal is reviewed and approved; twenty more follow automatically.
    join_all(payees.iter().map(|payee| approved(&worker_a, payee, "1.00"))).await;
    let app = &worker_a;
    join_all(payees.iter().map(|payee| async move {
        for _ in 0..WITHDRAWALS_EACH {
            assert_eq!(withdraw(app, payee, "1.00").await["status"], "pending");
        }
    }))
    .await;

    let total = PAYEES * (WITHDRAWALS_EACH + 1);
    let mut settled = [0, 0];
    for _ in 0..100 {
        let now = worker_a.clock.now();
        let (a, b) = tokio::join!(worker_a.services.worker.settle_due(now), worker_b.services.worker.settle_due(now));
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!((a.failed, b.failed, a.errors, b.errors), (0, 0, 0, 0), "{a:?} {b:?}");
        settled[0] += a.settled;
        settled[1] += b.settled;
        if settled[0] + settled[1] >= total {
            break;
        }
        if a.claimed == 0 && b.claimed == 0 {
            // Payouts the provider asked to retry wait for their pause.
            worker_a.clock.advance(Duration::seconds(1));
        }
    }
    assert_eq!(settled[0] + settled[1], total, "each settled exactly once: {settled:?}");
    assert!(settled[0] > 0 && settled[1] > 0, "both workers took part: {settled:?}");
    let again = tokio::join!(
        worker_a.services.worker.settle_due(worker_a.clock.now()),
        worker_b.services.worker.settle_due(worker_a.clock.now())
    );
    assert_eq!((again.0.unwrap().settled, again.1.unwrap().settled), (0, 0), "nothing is settled twice");
    for payee in &payees {
        let received = mock_wallet(&worker_a, &payee.openid).await;
        // The wallet lists its newest transfers and counts them all.
        let transfers = received["transfers"].as_array().unwrap();
        let mut bills: Vec<&str> = transfers.iter().map(|t| t["out_bill_no"].as_str().unwrap()).collect();
        bills.sort();
        bills.dedup();
        assert_eq!((transfers.len(), bills.len()), (10, 10), "no transfer listed twice");
        assert_eq!(received["received"]["count"], WITHDRAWALS_EACH + 1);
        assert_eq!(received["balance"], "21.00");
        let list =
            json_of(worker_a.get("/v1/withdrawals?limit=100", Some(&payee.user.token)).await, StatusCode::OK).await;
        assert!(list["items"].as_array().unwrap().iter().all(|w| w["status"] == "settled"), "{list}");
    }
    worker_a.assert_ledger_balanced().await;
}
