//! The mock WeChat Pay's bills moving on over business time (ACCEPTED →
//! PROCESSING → SUCCESS or FAIL; WAIT_USER_CONFIRM confirmed or timed out;
//! the merchant's cancellation) and what settlement makes of each: the
//! withdrawal waits on a bill under way without spending attempts, settles
//! once on SUCCESS and gives the hold back on FAIL or CANCELLED. Every test
//! moves the clock; none sleeps.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletgate::services::work::WorkReport;
use walletgate::settings::Settings;

use crate::helpers::{StoreKind, TestApp, json_of, spawn_app_with};
use crate::on_both_stores;
use crate::settlement::{Payee, approve, id_of, mock_wallet, payee, settle, withdraw, withdrawal};

on_both_stores!(
    a_bill_moves_from_accepted_through_processing_to_success_as_business_time_passes,
    a_bill_that_fails_gives_the_hold_back_with_each_reason,
    a_bill_the_payee_confirms_settles,
    a_bill_never_confirmed_is_cancelled_after_24_hours_and_the_hold_comes_back,
    a_bill_the_merchant_cancels_gives_the_hold_back,
    looking_at_a_bill_under_way_spends_no_payout_attempts,
    a_lost_answer_is_followed_by_a_query_and_the_bill_pays_once,
    the_sim_clock_advance_moves_bills_and_settles,
    queries_by_either_number_show_the_state_as_it_moves,
    a_bill_without_a_scene_is_refused,
);

const BILLS: &str = "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills";

/// The realistic mock: 2 s ACCEPTED, 3 s PROCESSING.
pub(crate) async fn app_with_delays(store: StoreKind, change: impl FnOnce(&mut Settings)) -> TestApp {
    spawn_app_with(store, |settings: &mut Settings| {
        settings.mock_wechat.pay.accepted_secs = 2;
        settings.mock_wechat.pay.processing_secs = 3;
        change(settings);
    })
    .await
}

/// An approved withdrawal of `amount`, ready for the worker.
async fn approved(app: &TestApp, operator: &str, payee: &Payee, amount: &str) -> String {
    let created = withdraw(app, payee, amount).await;
    let id = id_of(&created);
    if created["status"] == "in_review" {
        json_of(approve(app, operator, &id).await, StatusCode::OK).await;
    }
    id
}

/// One worker step a second for `seconds` seconds of business time, the steps' reports added up.
async fn run_for(app: &TestApp, seconds: i64) -> WorkReport {
    let mut total = WorkReport::default();
    for _ in 0..seconds {
        app.clock.advance(Duration::seconds(1));
        total.absorb(&settle(app).await);
    }
    total
}

fn bill_no(withdrawal_id: &str) -> &str {
    withdrawal_id.trim_start_matches("wd_")
}

async fn bill(app: &TestApp, withdrawal_id: &str) -> Value {
    json_of(app.wechat_pay_get(&format!("{BILLS}/out-bill-no/{}", bill_no(withdrawal_id))).await, StatusCode::OK).await
}

async fn status_of(app: &TestApp, payee: &mut Payee, id: &str) -> Value {
    app.log_in_again(&mut payee.user).await;
    withdrawal(app, payee, id).await
}

async fn wallet_of(app: &TestApp, payee: &Payee) -> (String, String) {
    let wallet = json_of(app.wallet(&payee.user.token).await, StatusCode::OK).await;
    (wallet["available"].as_str().unwrap().to_owned(), wallet["held"].as_str().unwrap().to_owned())
}

async fn a_bill_moves_from_accepted_through_processing_to_success_as_business_time_passes(store: StoreKind) {
    let app = app_with_delays(store, |_| {}).await;
    let operator = app.operator_token().await;
    let mut payee = payee(&app, "800.00", json!({})).await;
    let id = approved(&app, &operator, &payee, "100.00").await;

    let first = settle(&app).await;
    assert_eq!((first.settled, first.awaiting), (0, 1), "the bill is only ACCEPTED: {first:?}");
    assert_eq!(bill(&app, &id).await["state"], "ACCEPTED");
    let waiting = status_of(&app, &mut payee, &id).await;
    assert_eq!(waiting["status"], "processing", "{waiting}");
    assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "0.00", "nothing paid yet");

    app.clock.advance(Duration::seconds(2));
    settle(&app).await;
    assert_eq!(bill(&app, &id).await["state"], "PROCESSING", "after accepted_secs");
    assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "0.00");

    let report = run_for(&app, 10).await;
    assert_eq!(report.settled, 1, "{report:?}");
    let paid = bill(&app, &id).await;
    assert_eq!(paid["state"], "SUCCESS", "{paid}");
    assert_eq!(paid["update_time"], "2026-03-01T17:30:05+08:00", "decided processing_secs after PROCESSING: {paid}");
    let settled = status_of(&app, &mut payee, &id).await;
    assert_eq!(
        (settled["status"].as_str(), settled["transfer_bill_no"].as_str()),
        (Some("settled"), paid["transfer_bill_no"].as_str())
    );
    assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "100.00");
    assert_eq!(run_for(&app, 60).await.settled, 0, "settled once");
    assert_eq!(wallet_of(&app, &payee).await, ("700.00".to_owned(), "0.00".to_owned()));
    app.assert_ledger_balanced().await;
}

async fn a_bill_that_fails_gives_the_hold_back_with_each_reason(store: StoreKind) {
    let app = app_with_delays(store, |_| {}).await;
    let operator = app.operator_token().await;
    let cases = [
        (json!({"frozen": true}), "100.00", "ACCOUNT_FROZEN"),
        (json!({"no_real_name": true}), "100.00", "REAL_NAME_CHECK_FAIL"),
        (json!({"day_quota_reached": true}), "100.00", "DAY_RECEIVED_QUOTA_EXCEED"),
        (json!({"month_quota_reached": true}), "100.00", "MONTH_RECEIVED_QUOTA_EXCEED"),
        // A magic amount: WeChat Pay's risk control.
        (json!({}), "91.06", "TRANSFER_RISK"),
    ];
    let mut waiting = Vec::new();
    for (flags, amount, reason) in cases {
        let payee = payee(&app, "800.00", flags).await;
        let id = approved(&app, &operator, &payee, amount).await;
        waiting.push((payee, id, reason));
    }
    let report = run_for(&app, 15).await;
    assert_eq!((report.failed, report.settled), (5, 0), "{report:?}");
    for (mut payee, id, reason) in waiting {
        let failed_bill = bill(&app, &id).await;
        assert_eq!((failed_bill["state"].as_str(), failed_bill["fail_reason"].as_str()), (Some("FAIL"), Some(reason)));
        let failed = status_of(&app, &mut payee, &id).await;
        assert_eq!((failed["status"].as_str(), failed["failure_reason"].as_str()), (Some("failed"), Some(reason)));
        assert_eq!(wallet_of(&app, &payee).await, ("800.00".to_owned(), "0.00".to_owned()), "the hold is back");
        assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "0.00");
    }
    app.assert_ledger_balanced().await;
}

async fn a_bill_the_payee_confirms_settles(store: StoreKind) {
    let app = app_with_delays(store, |_| {}).await;
    let operator = app.operator_token().await;
    let mut payee = payee(&app, "800.00", json!({"confirm_required": true})).await;
    let id = approved(&app, &operator, &payee, "100.00").await;
    assert_eq!(run_for(&app, 30).await.settled, 0, "waits for the payee");
    let waiting = bill(&app, &id).await;
    assert_eq!(waiting["state"], "WAIT_USER_CONFIRM", "{waiting}");
    let created = json_of(
        app.wechat_pay_post(BILLS, &json!({"appid": app.settings.mock_wechat.app_id, "out_bill_no": bill_no(&id),
            "openid": payee.openid, "transfer_amount": 10000, "transfer_remark": "OK钱包余额提现", "transfer_scene_id": "1000"}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(created["state"], "WAIT_USER_CONFIRM", "the same bill sent again: {created}");
    assert!(created["package_info"].as_str().is_some_and(|package| package.len() > 20), "{created}");

    let path = |openid: &str| format!("/mock/wechat/users/{openid}/transfer-bills/{}/confirm", bill_no(&id));
    let stranger = crate::settlement::wechat_user(&app, "路人", json!({})).await;
    let refused = app.post(&path(&stranger), None, &json!({})).await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND, "only the payee confirms");
    let confirmed = json_of(app.post(&path(&payee.openid), None, &json!({})).await, StatusCode::OK).await;
    assert_eq!(confirmed["state"], "PROCESSING", "{confirmed}");
    let again = app.post(&path(&payee.openid), None, &json!({})).await;
    assert_eq!(again.status(), StatusCode::BAD_REQUEST, "confirmed once");

    assert_eq!(run_for(&app, 70).await.settled, 1);
    assert_eq!(status_of(&app, &mut payee, &id).await["status"], "settled");
    assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "100.00");
    app.assert_ledger_balanced().await;
}

async fn a_bill_never_confirmed_is_cancelled_after_24_hours_and_the_hold_comes_back(store: StoreKind) {
    let app = app_with_delays(store, |_| {}).await;
    let operator = app.operator_token().await;
    let mut payee = payee(&app, "800.00", json!({"confirm_required": true})).await;
    let id = approved(&app, &operator, &payee, "100.00").await;
    settle(&app).await;
    app.clock.advance(Duration::hours(24) - Duration::seconds(1));
    settle(&app).await;
    assert_eq!(bill(&app, &id).await["state"], "WAIT_USER_CONFIRM", "a second short of 24 hours");
    let report = run_for(&app, 70).await;
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(bill(&app, &id).await["state"], "CANCELLED");
    let failed = status_of(&app, &mut payee, &id).await;
    assert_eq!((failed["status"].as_str(), failed["failure_reason"].as_str()), (Some("failed"), Some("CANCELLED")));
    assert_eq!(wallet_of(&app, &payee).await, ("800.00".to_owned(), "0.00".to_owned()));
    assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "0.00");
    app.assert_ledger_balanced().await;
}

async fn a_bill_the_merchant_cancels_gives_the_hold_back(store: StoreKind) {
    let app = app_with_delays(store, |_| {}).await;
    let operator = app.operator_token().await;
    let mut payee = payee(&app, "800.00", json!({"confirm_required": true})).await;
    let id = approved(&app, &operator, &payee, "100.00").await;
    settle(&app).await;
    let cancel = format!("{BILLS}/out-bill-no/{}/cancel", bill_no(&id));
    let canceling = json_of(app.wechat_pay_post(&cancel, &json!({})).await, StatusCode::OK).await;
    assert_eq!(canceling["state"], "CANCELING", "{canceling}");
    let again = json_of(app.wechat_pay_post(&cancel, &json!({})).await, StatusCode::OK).await;
    assert_eq!(again["state"], "CANCELING", "cancelling twice changes nothing");
    assert_eq!(run_for(&app, 70).await.failed, 1);
    assert_eq!(bill(&app, &id).await["state"], "CANCELLED");
    let failed = status_of(&app, &mut payee, &id).await;
    assert_eq!(failed["failure_reason"], "CANCELLED", "{failed}");
    assert_eq!(wallet_of(&app, &payee).await, ("800.00".to_owned(), "0.00".to_owned()));
    let missing = app.wechat_pay_post(&format!("{BILLS}/out-bill-no/NOSUCHBILL/cancel"), &json!({})).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    // A bill being paid cannot be cancelled.
    let plain = crate::settlement::payee(&app, "800.00", json!({})).await;
    let paying = approved(&app, &operator, &plain, "10.00").await;
    run_for(&app, 3).await;
    assert_eq!(bill(&app, &paying).await["state"], "PROCESSING");
    let late = app.wechat_pay_post(&format!("{BILLS}/out-bill-no/{}/cancel", bill_no(&paying)), &json!({})).await;
    let late = json_of(late, StatusCode::BAD_REQUEST).await;
    assert_eq!(late["code"], "INVALID_REQUEST", "{late}");
    app.assert_ledger_balanced().await;
}

async fn looking_at_a_bill_under_way_spends_no_payout_attempts(store: StoreKind) {
    // One attempt only: were looks counted, the payout would be parked at the second.
    let app = app_with_delays(store, |settings: &mut Settings| {
        settings.worker.payout_attempts_max = 1;
        settings.mock_wechat.pay.processing_secs = 600;
    })
    .await;
    let operator = app.operator_token().await;
    let mut payee = payee(&app, "800.00", json!({})).await;
    let id = approved(&app, &operator, &payee, "100.00").await;
    let report = run_for(&app, 400).await;
    assert_eq!((report.parked, report.settled), (0, 0), "{report:?}");
    assert!(report.awaiting >= 6, "looked at again and again: {report:?}");
    assert_eq!(status_of(&app, &mut payee, &id).await["status"], "processing");
    let report = run_for(&app, 300).await;
    assert_eq!((report.parked, report.settled), (0, 1), "{report:?}");
    app.assert_ledger_balanced().await;
}

async fn a_lost_answer_is_followed_by_a_query_and_the_bill_pays_once(store: StoreKind) {
    let app = app_with_delays(store, |_| {}).await;
    let operator = app.operator_token().await;
    let mut payee = payee(&app, "800.00", json!({})).await;
    // The bill is created, and its answer lost on the way back, twice.
    let rule = json!({"match": {"operation": "wechat_pay.transfer"}, "respond": {"type": "fault", "fault": "connection_reset"}, "times": 2});
    json_of(app.post("/v1/sim/rules", Some(&operator), &rule).await, StatusCode::CREATED).await;
    let id = approved(&app, &operator, &payee, "100.00").await;
    let report = run_for(&app, 60).await;
    assert_eq!(report.settled, 1, "{report:?}");
    assert_eq!(status_of(&app, &mut payee, &id).await["status"], "settled");
    let wallet = mock_wallet(&app, &payee.openid).await;
    assert_eq!((wallet["balance"].as_str(), wallet["transfers"].as_array().map(Vec::len)), (Some("100.00"), Some(1)));
    app.assert_ledger_balanced().await;
}

async fn the_sim_clock_advance_moves_bills_and_settles(store: StoreKind) {
    let app = app_with_delays(store, |_| {}).await;
    let operator = app.operator_token().await;
    let mut payee = payee(&app, "800.00", json!({})).await;
    let id = approved(&app, &operator, &payee, "100.00").await;
    let advanced =
        json_of(app.post("/v1/sim/clock/advance", Some(&operator), &json!({"by_secs": 120})).await, StatusCode::OK)
            .await;
    assert_eq!(advanced["complete"], true, "{advanced}");
    assert!(advanced["work"]["mock_bills_moved"].as_u64().is_some_and(|moved| moved >= 2), "{advanced}");
    assert_eq!(advanced["work"]["settled"], 1, "{advanced}");
    assert_eq!(bill(&app, &id).await["state"], "SUCCESS");
    assert_eq!(status_of(&app, &mut payee, &id).await["status"], "settled");
    app.assert_ledger_balanced().await;
}

async fn queries_by_either_number_show_the_state_as_it_moves(store: StoreKind) {
    let app = app_with_delays(store, |_| {}).await;
    let openid = crate::settlement::wechat_user(&app, "小明", json!({})).await;
    let body = json!({"appid": app.settings.mock_wechat.app_id, "out_bill_no": "STATES1", "openid": openid,
        "transfer_amount": 250, "transfer_remark": "states", "transfer_scene_id": "1000"});
    let created = json_of(app.wechat_pay_post(BILLS, &body).await, StatusCode::OK).await;
    assert_eq!(created["state"], "ACCEPTED", "{created}");
    let number = created["transfer_bill_no"].as_str().unwrap().to_owned();
    let both = || async {
        let by_ours = json_of(app.wechat_pay_get(&format!("{BILLS}/out-bill-no/STATES1")).await, StatusCode::OK).await;
        let by_theirs =
            json_of(app.wechat_pay_get(&format!("{BILLS}/transfer-bill-no/{number}")).await, StatusCode::OK).await;
        assert_eq!(by_ours, by_theirs);
        by_ours["state"].as_str().unwrap().to_owned()
    };
    assert_eq!(both().await, "ACCEPTED");
    run_for(&app, 2).await;
    assert_eq!(both().await, "PROCESSING");
    run_for(&app, 3).await;
    assert_eq!(both().await, "SUCCESS");
    assert_eq!(mock_wallet(&app, &openid).await["balance"], "2.50");
    let again = json_of(app.wechat_pay_post(BILLS, &body).await, StatusCode::OK).await;
    assert_eq!((again["state"].as_str(), again["transfer_bill_no"].as_str()), (Some("SUCCESS"), Some(&*number)));
    assert_eq!(mock_wallet(&app, &openid).await["balance"], "2.50", "paid once");
}

async fn a_bill_without_a_scene_is_refused(store: StoreKind) {
    let app = app_with_delays(store, |_| {}).await;
    let openid = crate::settlement::wechat_user(&app, "小明", json!({})).await;
    for scene in [None, Some("")] {
        let mut body = json!({"appid": app.settings.mock_wechat.app_id, "out_bill_no": "NOSCENE1", "openid": openid,
            "transfer_amount": 250, "transfer_remark": "no scene"});
        if let Some(scene) = scene {
            body["transfer_scene_id"] = json!(scene);
        }
        let refused = json_of(app.wechat_pay_post(BILLS, &body).await, StatusCode::BAD_REQUEST).await;
        assert_eq!(refused["code"], "PARAM_ERROR", "{refused}");
        assert!(refused["message"].as_str().unwrap().contains("transfer_scene_id"), "{refused}");
    }
    let missing = app.wechat_pay_get(&format!("{BILLS}/out-bill-no/NOSCENE1")).await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND, "no bill was created");
}
