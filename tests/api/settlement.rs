//! The review worker and the operators: automatic settlement after the delay
//! (driven with the test clock through `settle_due`), manual review with
//! approve and reject, every mock payout failure, parked payouts, review
//! time-outs, the audit log, and the background loop itself.

use std::sync::Arc;

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletgate::clock::Clock;
use walletgate::domain::withdrawal::WithdrawalId;
use walletgate::providers::payouts::{PayoutError, PayoutProvider, TransferBill, TransferRequest};
use walletgate::services::ServiceSet;
use walletgate::services::work::WorkReport;
use walletgate::services::worker_step::WorkerStep;
use walletgate::settings::Settings;

use crate::bindings::{Choice, Phone};
use crate::helpers::{StoreKind, TestApp, TestUser, assert_error, json_of, spawn_app, spawn_app_with};
use crate::on_both_stores;
use crate::wechat_pay_names::{platform_serial, sealed};

on_both_stores!(
    a_first_withdrawal_waits_for_an_operator_and_settles_once_approved,
    an_automatic_withdrawal_settles_after_its_delay,
    a_rejection_gives_everything_back_and_cannot_be_repeated,
    a_rejection_needs_a_reason_code_from_the_list,
    payouts_fail_like_wechat_pay_and_release_the_hold,
    the_day_and_month_received_quotas_fail_payouts,
    the_review_queue_shows_context_oldest_first,
    every_operator_action_is_in_the_audit_log,
    a_payout_that_keeps_meeting_an_unreachable_provider_is_parked,
    an_undecided_review_times_out_when_configured,
    a_recent_pin_change_sends_withdrawals_to_review,
    the_background_worker_settles_without_being_asked,
    an_operator_can_run_a_worker_step_on_demand,
    operators_find_a_new_withdrawal_by_its_id_through_the_list,
);

/// A new withdrawal's id names the time it was created, and its entry in
/// the list of withdrawals by creation time leads from the id to its
/// account: operators act on it by the id alone, and no index entry is
/// written for it. An id of the same time the list does not hold is not found.
async fn operators_find_a_new_withdrawal_by_its_id_through_the_list(store: StoreKind) {
    let app = spawn_app(store).await;
    let payee = payee(&app, "800.00", json!({})).await;
    let created = withdraw(&app, &payee, "100.00").await;
    let id = id_of(&created);
    let created_at = chrono::DateTime::parse_from_rfc3339(created["created_at"].as_str().unwrap()).unwrap();
    let withdrawal_id = WithdrawalId::parse(&id).unwrap();
    assert_eq!(withdrawal_id.created_ms(), Some(created_at.timestamp_millis()));
    let index = app.services.withdrawal_reads.store.get_index(&format!("withdrawal_account:{id}")).await.unwrap();
    assert_eq!(index, None, "no index entry is written");

    let operator = app.operator_token().await;
    let approved = json_of(approve(&app, &operator, &id).await, StatusCode::OK).await;
    assert_eq!(approved["status"], "processing");
    let stranger = WithdrawalId::generate_at(created_at.with_timezone(&chrono::Utc));
    assert_error(approve(&app, &operator, stranger.as_str()).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

pub(crate) const PIN: &str = "135790";

/// A funded user bound to the given mock WeChat user, with a payment PIN.
pub(crate) struct Payee {
    pub user: TestUser,
    pub binding_id: String,
    pub openid: String,
}

/// A mock WeChat user with the given flags (`frozen`, `no_real_name`).
pub(crate) async fn wechat_user(app: &TestApp, nickname: &str, flags: Value) -> String {
    let mut body = json!({ "nickname": nickname });
    body.as_object_mut().unwrap().extend(flags.as_object().unwrap().clone());
    let created = json_of(app.post("/mock/wechat/users", None, &body).await, StatusCode::CREATED).await;
    created["openid"].as_str().unwrap().to_owned()
}

pub(crate) async fn payee(app: &TestApp, balance: &str, flags: Value) -> Payee {
    let openid = wechat_user(app, "李小龙", flags).await;
    let user = app.new_phone_user().await;
    let binding = Phone::of(app, &user).bind(Choice::Existing(&openid)).await;
    let operator = app.operator_token().await;
    json_of(app.credit(&operator, &user.id, balance).await, StatusCode::CREATED).await;
    app.set_pin(&user, PIN).await;
    Payee { user, binding_id: binding["id"].as_str().unwrap().to_owned(), openid }
}

pub(crate) async fn withdraw(app: &TestApp, payee: &Payee, amount: &str) -> Value {
    let body = json!({ "amount": amount, "binding_id": payee.binding_id, "pin": PIN });
    let response = app
        .client
        .post(app.url("/v1/withdrawals"))
        .bearer_auth(&payee.user.token)
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .json(&body)
        .send()
        .await
        .unwrap();
    json_of(response, StatusCode::ACCEPTED).await
}

pub(crate) fn id_of(withdrawal: &Value) -> String {
    withdrawal["id"].as_str().unwrap().to_owned()
}

pub(crate) async fn approve(app: &TestApp, operator: &str, id: &str) -> reqwest::Response {
    app.post(&format!("/v1/ops/withdrawals/{id}/approve"), Some(operator), &json!({})).await
}

/// Rejects as `OTHER`, with `note` as the operator's note.
pub(crate) async fn reject(app: &TestApp, operator: &str, id: &str, note: &str) -> reqwest::Response {
    reject_with(app, operator, id, json!({ "reason_code": "OTHER", "note": note })).await
}

pub(crate) async fn reject_with(app: &TestApp, operator: &str, id: &str, body: Value) -> reqwest::Response {
    app.post(&format!("/v1/ops/withdrawals/{id}/reject"), Some(operator), &body).await
}

pub(crate) async fn settle(app: &TestApp) -> WorkReport {
    app.services.worker.settle_due(app.clock.now()).await.expect("a worker step")
}

pub(crate) async fn withdrawal(app: &TestApp, payee: &Payee, id: &str) -> Value {
    json_of(app.get(&format!("/v1/withdrawals/{id}"), Some(&payee.user.token)).await, StatusCode::OK).await
}

pub(crate) async fn mock_wallet(app: &TestApp, openid: &str) -> Value {
    let user = json_of(app.get(&format!("/mock/wechat/users/{openid}"), None).await, StatusCode::OK).await;
    user["wallet"].clone()
}

fn statuses(withdrawal: &Value) -> Vec<&str> {
    withdrawal["history"].as_array().unwrap().iter().map(|change| change["status"].as_str().unwrap()).collect()
}

/// Approves a first withdrawal so the destination is known, and settles it.
async fn settle_a_first_withdrawal(app: &TestApp, payee: &Payee, operator: &str) {
    let first = withdraw(app, payee, "1.00").await;
    json_of(approve(app, operator, &id_of(&first)).await, StatusCode::OK).await;
    assert_eq!(settle(app).await.settled, 1);
}

async fn a_first_withdrawal_waits_for_an_operator_and_settles_once_approved(store: StoreKind) {
    let app = spawn_app(store).await;
    let payee = payee(&app, "800.00", json!({})).await;
    let created = withdraw(&app, &payee, "100.00").await;
    let id = id_of(&created);
    assert_eq!(created["status"], "in_review");

    app.clock.advance(Duration::hours(1));
    let report = settle(&app).await;
    assert_eq!((report.settled, report.claimed), (0, 0), "an operator decides first: {report:?}");
    let mut payee = payee;
    app.log_in_again(&mut payee.user).await;
    assert_eq!(withdrawal(&app, &payee, &id).await["status"], "in_review");

    let operator = app.operator_token().await;
    let approved = json_of(approve(&app, &operator, &id).await, StatusCode::OK).await;
    assert_eq!(approved["status"], "processing");
    assert_eq!(approved["history"][1]["by"], "acc_demo_operator", "operators see who decided");
    let again =
        assert_error(approve(&app, &operator, &id).await, StatusCode::CONFLICT, "WITHDRAWAL_ALREADY_DECIDED").await;
    assert_eq!(again["error"]["details"]["status"], "processing");

    let report = settle(&app).await;
    assert_eq!(report.settled, 1, "{report:?}");
    let settled = withdrawal(&app, &payee, &id).await;
    assert_eq!(settled["status"], "settled");
    assert_eq!(statuses(&settled), ["in_review", "processing", "settled"]);
    assert!(
        settled["history"].as_array().unwrap().iter().all(|change| change.get("by").is_none()),
        "its owner never sees an operator's id: {settled}"
    );
    assert_eq!(settle(&app).await, WorkReport::default(), "nothing is settled twice");

    let wallet = json_of(app.wallet(&payee.user.token).await, StatusCode::OK).await;
    assert_eq!((wallet["available"].as_str(), wallet["held"].as_str()), (Some("700.00"), Some("0.00")));
    let received = mock_wallet(&app, &payee.openid).await;
    assert_eq!(received["balance"], "100.00");
    assert_eq!(received["transfers"].as_array().unwrap().len(), 1);
    assert_eq!(received["transfers"][0]["out_bill_no"], id.trim_start_matches("wd_"));
    let history = json_of(app.transactions(&payee.user.token, "").await, StatusCode::OK).await;
    assert_eq!(history["items"][0]["kind"], "withdrawal_settlement", "{history}");
    let late =
        assert_error(approve(&app, &operator, &id).await, StatusCode::CONFLICT, "WITHDRAWAL_ALREADY_DECIDED").await;
    assert_eq!(late["error"]["details"]["status"], "settled");
    app.assert_ledger_balanced().await;
}

async fn an_automatic_withdrawal_settles_after_its_delay(store: StoreKind) {
    let app = spawn_app(store).await;
    let payee = payee(&app, "800.00", json!({})).await;
    let operator = app.operator_token().await;
    settle_a_first_withdrawal(&app, &payee, &operator).await;

    let created = withdraw(&app, &payee, "50.00").await;
    let id = id_of(&created);
    assert_eq!((created["status"].as_str(), created["review"].as_str()), (Some("pending"), Some("auto")));
    app.clock.advance(Duration::milliseconds(4_999));
    assert_eq!(settle(&app).await.settled, 0, "not due before the 5 s delay");
    app.clock.advance(Duration::milliseconds(1));
    assert_eq!(settle(&app).await.settled, 1);

    let settled = withdrawal(&app, &payee, &id).await;
    assert_eq!(statuses(&settled), ["pending", "processing", "settled"]);
    assert_eq!(settled["transfer_bill_no"].as_str().map(str::len), Some(32), "{settled}");
    let received = mock_wallet(&app, &payee.openid).await;
    assert_eq!(received["balance"], "51.00");
    assert_eq!(received["transfers"][1]["amount"], "50.00");
    let operator_view = json_of(app.ledger_check(&operator).await, StatusCode::OK).await;
    assert_eq!(operator_view["balanced"], true);
    app.assert_ledger_balanced().await;
}

async fn a_rejection_gives_everything_back_and_cannot_be_repeated(store: StoreKind) {
    let app = spawn_app(store).await;
    let payee = payee(&app, "800.00", json!({})).await;
    let before = json_of(app.wallet(&payee.user.token).await, StatusCode::OK).await;
    let created = withdraw(&app, &payee, "600.00").await;
    let id = id_of(&created);
    let operator = app.operator_token().await;

    let bad = reject(&app, &operator, &id, "").await;
    assert_error(bad, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    let user_try = reject(&app, &payee.user.token, &id, "no").await;
    assert_error(user_try, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    assert_error(reject(&app, &operator, "wd_nope", "no").await, StatusCode::NOT_FOUND, "NOT_FOUND").await;

    let body = json!({ "reason_code": "DESTINATION_MISMATCH", "note": "payee name differs from the ID on file" });
    let rejected = json_of(reject_with(&app, &operator, &id, body).await, StatusCode::OK).await;
    assert_eq!(
        (rejected["status"].as_str(), rejected["failure_reason"].as_str(), rejected["review_note"].as_str()),
        (Some("rejected"), Some("DESTINATION_MISMATCH"), Some("payee name differs from the ID on file"))
    );
    // The user sees the code, never the operator's note.
    let shown = withdrawal(&app, &payee, &id).await;
    assert_eq!(shown["failure_reason"], "DESTINATION_MISMATCH");
    assert!(shown.get("review_note").is_none(), "{shown}");
    let audit = json_of(app.get("/v1/ops/audit-log", Some(&operator)).await, StatusCode::OK).await;
    let items = audit["items"].as_array().unwrap();
    let entry = items.iter().find(|e| e["action"] == "withdrawal.reject" && e["outcome"] == "succeeded").unwrap();
    assert_eq!(entry["details"]["reason"], "DESTINATION_MISMATCH", "{entry}");
    assert_eq!(entry["details"]["note"], "payee name differs from the ID on file", "{entry}");
    let after = json_of(app.wallet(&payee.user.token).await, StatusCode::OK).await;
    assert_eq!(after["limits"]["daily_remaining"], "1000.00", "{after}");
    for field in ["available", "held", "limits", "fee_free_quota_remaining"] {
        assert_eq!(after[field], before[field], "{field} comes back in full");
    }
    for response in [reject(&app, &operator, &id, "again").await, approve(&app, &operator, &id).await] {
        let body = assert_error(response, StatusCode::CONFLICT, "WITHDRAWAL_ALREADY_DECIDED").await;
        assert_eq!(body["error"]["details"]["status"], "rejected");
    }
    assert_eq!(settle(&app).await.settled, 0);
    assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "0.00");
    app.assert_ledger_balanced().await;
}

async fn payee_of(app: &TestApp) -> Payee {
    payee(app, "800.00", json!({})).await
}

async fn a_rejection_needs_a_reason_code_from_the_list(store: StoreKind) {
    let app = spawn_app(store).await;
    let payee = payee(&app, "800.00", json!({})).await;
    let id = id_of(&withdraw(&app, &payee, "100.00").await);
    let operator = app.operator_token().await;
    for (body, field) in [
        (json!({}), "reason_code"),
        (json!({ "note": "why not" }), "reason_code"),
        (json!({ "reason_code": "BECAUSE" }), "reason_code"),
        (json!({ "reason_code": "REVIEW_TIMED_OUT" }), "reason_code"),
        (json!({ "reason_code": "OTHER", "note": "" }), "note"),
        (json!({ "reason_code": "OTHER", "note": "a", "reason": "b" }), "reason"),
    ] {
        let refused = assert_error(
            reject_with(&app, &operator, &id, body.clone()).await,
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        )
        .await;
        assert_eq!(refused["error"]["details"]["field"], field, "{body}");
    }
    assert_eq!(withdrawal(&app, &payee, &id).await["status"], "in_review", "nothing was decided");
    // The old body, free text alone, is an OTHER rejection with that note.
    let legacy =
        json_of(reject_with(&app, &operator, &id, json!({ "reason": "looks odd" })).await, StatusCode::OK).await;
    assert_eq!((legacy["failure_reason"].as_str(), legacy["review_note"].as_str()), (Some("OTHER"), Some("looks odd")));
    // A code alone needs no note (another payee: a first withdrawal is reviewed).
    let other = payee_of(&app).await;
    let second = id_of(&withdraw(&app, &other, "100.00").await);
    let coded = reject_with(&app, &operator, &second, json!({ "reason_code": "SUSPECTED_FRAUD" })).await;
    let coded = json_of(coded, StatusCode::OK).await;
    assert_eq!((coded["failure_reason"].as_str(), &coded["review_note"]), (Some("SUSPECTED_FRAUD"), &Value::Null));
}

async fn payouts_fail_like_wechat_pay_and_release_the_hold(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    for (flags, reason) in
        [(json!({ "frozen": true }), "ACCOUNT_FROZEN"), (json!({ "no_real_name": true }), "REAL_NAME_CHECK_FAIL")]
    {
        let payee = payee(&app, "800.00", flags).await;
        let created = withdraw(&app, &payee, "300.00").await;
        let id = id_of(&created);
        json_of(approve(&app, &operator, &id).await, StatusCode::OK).await;
        let report = settle(&app).await;
        assert_eq!((report.failed, report.settled), (1, 0), "{reason}: {report:?}");
        let failed = withdrawal(&app, &payee, &id).await;
        assert_eq!((failed["status"].as_str(), failed["failure_reason"].as_str()), (Some("failed"), Some(reason)));
        assert_eq!(statuses(&failed), ["in_review", "processing", "failed"]);
        let wallet = json_of(app.wallet(&payee.user.token).await, StatusCode::OK).await;
        assert_eq!((wallet["available"].as_str(), wallet["held"].as_str()), (Some("800.00"), Some("0.00")), "{reason}");
        assert_eq!(wallet["limits"]["daily_remaining"], "1000.00", "{reason}: the cap is given back");
        assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "0.00");
    }
    app.assert_ledger_balanced().await;
}

/// Pays a mock WeChat user directly, as another merchant would.
async fn receive_elsewhere(app: &TestApp, openid: &str, fen: i64) {
    // From ¥2,000 WeChat Pay wants the payee's name, encrypted for it.
    let body = json!({
        "appid": "wx8a3f5c7e2b9d1046",
        "out_bill_no": uuid::Uuid::new_v4().simple().to_string(),
        "openid": openid,
        "transfer_amount": fen,
        "transfer_remark": "other merchant",
        "transfer_scene_id": "1000",
        "user_name": sealed("李小龙"),
    });
    let serial = platform_serial(app);
    let path = "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills";
    let sent = app.wechat_pay_post_with(path, body.to_string(), &[("Wechatpay-Serial", &serial)]).await;
    let bill = json_of(sent, StatusCode::OK).await;
    assert_eq!(bill["state"], "SUCCESS", "{bill}");
}

async fn the_day_and_month_received_quotas_fail_payouts(store: StoreKind) {
    let app = spawn_app(store).await;
    let mut payee = payee(&app, "800.00", json!({})).await;
    let operator = app.operator_token().await;
    settle_a_first_withdrawal(&app, &payee, &operator).await;

    // ¥1.00 from us plus ¥19,998.50 from elsewhere: ¥0.50 left today.
    receive_elsewhere(&app, &payee.openid, 1_999_850).await;
    let created = withdraw(&app, &payee, "0.60").await;
    app.clock.advance(Duration::seconds(5));
    assert_eq!(settle(&app).await.failed, 1);
    let failed = withdrawal(&app, &payee, &id_of(&created)).await;
    assert_eq!(failed["failure_reason"], "DAY_RECEIVED_QUOTA_EXCEED");

    // Nine more days at ¥20,000: ¥199,999.50 received this month, ¥0.50 left.
    for _ in 0..9 {
        app.clock.advance(Duration::days(1));
        receive_elsewhere(&app, &payee.openid, 2_000_000).await;
    }
    app.clock.advance(Duration::days(1));
    app.log_in_again(&mut payee.user).await;
    let created = withdraw(&app, &payee, "0.60").await;
    app.clock.advance(Duration::seconds(5));
    assert_eq!(settle(&app).await.failed, 1);
    let failed = withdrawal(&app, &payee, &id_of(&created)).await;
    assert_eq!(failed["failure_reason"], "MONTH_RECEIVED_QUOTA_EXCEED");
    let wallet = json_of(app.wallet(&payee.user.token).await, StatusCode::OK).await;
    assert_eq!((wallet["available"].as_str(), wallet["held"].as_str()), (Some("799.00"), Some("0.00")));
    app.assert_ledger_balanced().await;
}

async fn the_review_queue_shows_context_oldest_first(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let older = payee(&app, "9000.00", json!({})).await;
    let first = withdraw(&app, &older, "100.00").await;
    app.clock.advance(Duration::seconds(1));
    let newer = payee(&app, "800.00", json!({})).await;
    let second = withdraw(&app, &newer, "200.00").await;
    app.clock.advance(Duration::minutes(2));

    let queue = json_of(app.get("/v1/ops/review-queue", Some(&operator)).await, StatusCode::OK).await;
    let items = queue["items"].as_array().unwrap();
    let ids: Vec<&str> = items.iter().map(|item| item["withdrawal"]["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [first["id"].as_str().unwrap(), second["id"].as_str().unwrap()], "oldest first");
    let item = &items[0];
    assert_eq!(item["queue"], "manual_review");
    assert_eq!(item["reasons"], json!(["first_to_destination"]));
    assert_eq!(item["account_id"], older.user.id.as_str());
    assert_eq!(item["account"]["level"], "L0");
    assert_eq!(
        (item["account"]["available"].as_str(), item["account"]["held"].as_str()),
        (Some("8900.00"), Some("100.00"))
    );
    assert!(item["account"]["binding_age_secs"].as_i64().unwrap() >= 120, "{item}");
    assert_eq!(item["account"]["recent_withdrawals"], json!([]));
    assert_eq!(item["waiting_since"], first["created_at"]);

    json_of(approve(&app, &operator, &id_of(&first)).await, StatusCode::OK).await;
    let queue = json_of(app.get("/v1/ops/review-queue?limit=10", Some(&operator)).await, StatusCode::OK).await;
    assert_eq!(queue["items"].as_array().unwrap().len(), 1, "decided items leave the queue");
    let forbidden = app.get("/v1/ops/review-queue", Some(&older.user.token)).await;
    assert_error(forbidden, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    assert_error(app.get("/v1/ops/review-queue", None).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

async fn every_operator_action_is_in_the_audit_log(store: StoreKind) {
    let app = spawn_app(store).await;
    let payee = payee(&app, "800.00", json!({})).await;
    let operator = app.operator_token().await;
    let approved = withdraw(&app, &payee, "10.00").await;
    json_of(approve(&app, &operator, &id_of(&approved)).await, StatusCode::OK).await;
    assert_eq!(approve(&app, &operator, &id_of(&approved)).await.status(), StatusCode::CONFLICT);

    let log = json_of(app.get("/v1/ops/audit-log", Some(&operator)).await, StatusCode::OK).await;
    let items = log["items"].as_array().unwrap();
    let actions: Vec<(&str, &str)> =
        items.iter().map(|item| (item["action"].as_str().unwrap(), item["outcome"].as_str().unwrap())).collect();
    assert_eq!(
        actions,
        [("withdrawal.approve", "refused"), ("withdrawal.approve", "succeeded"), ("account.credit", "succeeded")],
        "newest first: {log}"
    );
    assert_eq!(items[0]["error_code"], "WITHDRAWAL_ALREADY_DECIDED");
    assert_eq!(items[1]["operator_id"], "acc_demo_operator");
    assert_eq!(items[1]["target"], json!({ "kind": "withdrawal", "id": approved["id"], "account_id": payee.user.id }));
    assert_eq!(items[2]["details"]["amount"], "800.00");
    assert_eq!(items[1]["at"].as_str().map(|at| at.starts_with("2026-03-01T09:30")), Some(true));

    let page = json_of(app.get("/v1/ops/audit-log?limit=2", Some(&operator)).await, StatusCode::OK).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest =
        json_of(app.get(&format!("/v1/ops/audit-log?limit=2&cursor={cursor}"), Some(&operator)).await, StatusCode::OK)
            .await;
    assert_eq!(rest["items"][0]["action"], "account.credit");
    assert_eq!(rest["next_cursor"], Value::Null);
    let forbidden = app.get("/v1/ops/audit-log", Some(&payee.user.token)).await;
    assert_error(forbidden, StatusCode::FORBIDDEN, "FORBIDDEN").await;
}

/// A payout provider that is never reachable.
#[derive(Debug)]
struct Unreachable;

#[async_trait::async_trait]
impl PayoutProvider for Unreachable {
    async fn transfer(&self, _: &TransferRequest) -> Result<TransferBill, PayoutError> {
        Err(PayoutError::Unavailable("connection refused".into()))
    }
    async fn bill(&self, _: &str) -> Result<Option<TransferBill>, PayoutError> {
        Err(PayoutError::Unavailable("connection refused".into()))
    }
}

fn with_provider(services: &ServiceSet, provider: Arc<dyn PayoutProvider>) -> WorkerStep {
    services.worker.paying_through(Some(provider))
}

async fn a_payout_that_keeps_meeting_an_unreachable_provider_is_parked(store: StoreKind) {
    let app = spawn_app_with(store, |settings: &mut Settings| settings.worker.payout_attempts_max = 3).await;
    let payee = payee(&app, "800.00", json!({})).await;
    let operator = app.operator_token().await;
    let id = id_of(&withdraw(&app, &payee, "10.00").await);
    json_of(approve(&app, &operator, &id).await, StatusCode::OK).await;

    let outage = with_provider(&app.services, Arc::new(Unreachable));
    let mut retried = 0;
    for pause in [0, 1, 2] {
        app.clock.advance(Duration::seconds(pause));
        retried += outage.settle_due(app.clock.now()).await.unwrap().retried;
    }
    assert_eq!(retried, 3, "three attempts, backing off 1 s, 2 s");
    app.clock.advance(Duration::seconds(4));
    let report = outage.settle_due(app.clock.now()).await.unwrap();
    assert_eq!(report.parked, 1, "{report:?}");
    app.clock.advance(Duration::hours(1));
    assert_eq!(outage.settle_due(app.clock.now()).await.unwrap(), WorkReport::default(), "parked, not retried");

    let operator = app.operator_token().await;
    let queue = json_of(app.get("/v1/ops/review-queue", Some(&operator)).await, StatusCode::OK).await;
    assert_eq!(queue["items"][0]["queue"], "parked_payout", "{queue}");
    assert_eq!(queue["items"][0]["reasons"], json!(["payout_attempts_exhausted"]));
    assert_eq!(queue["items"][0]["withdrawal"]["status"], "processing");

    // The provider is back: the operator sends it round again.
    json_of(approve(&app, &operator, &id).await, StatusCode::OK).await;
    assert_eq!(settle(&app).await.settled, 1);
    let mut payee = payee;
    app.log_in_again(&mut payee.user).await;
    let settled = withdrawal(&app, &payee, &id).await;
    assert_eq!(settled["status"], "settled");
    assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "10.00");
    app.assert_ledger_balanced().await;
}

async fn an_undecided_review_times_out_when_configured(store: StoreKind) {
    let app =
        spawn_app_with(store, |settings: &mut Settings| settings.withdrawals.manual_review_timeout_secs = 600).await;
    let payee = payee(&app, "800.00", json!({})).await;
    let id = id_of(&withdraw(&app, &payee, "10.00").await);
    app.clock.advance(Duration::seconds(599));
    assert_eq!(settle(&app).await.rejected, 0);
    app.clock.advance(Duration::seconds(1));
    assert_eq!(settle(&app).await.rejected, 1);
    let mut payee = payee;
    app.log_in_again(&mut payee.user).await;
    let timed_out = withdrawal(&app, &payee, &id).await;
    assert_eq!(
        (timed_out["status"].as_str(), timed_out["failure_reason"].as_str()),
        (Some("rejected"), Some("REVIEW_TIMED_OUT"))
    );
    assert_eq!(app.available(&payee.user.token).await, "800.00");
    app.assert_ledger_balanced().await;
}

async fn the_background_worker_settles_without_being_asked(store: StoreKind) {
    let app = spawn_app_with(store, |settings: &mut Settings| {
        settings.worker.enabled = true;
        settings.worker.poll_interval_ms = 20;
    })
    .await;
    let payee = payee(&app, "800.00", json!({})).await;
    let operator = app.operator_token().await;
    let id = id_of(&withdraw(&app, &payee, "10.00").await);
    json_of(approve(&app, &operator, &id).await, StatusCode::OK).await;
    let mut status = Value::Null;
    for _ in 0..250 {
        status = withdrawal(&app, &payee, &id).await["status"].clone();
        if status == "settled" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(status, "settled");
    assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "10.00");
}

async fn a_recent_pin_change_sends_withdrawals_to_review(store: StoreKind) {
    let app = spawn_app(store).await;
    let mut payee = payee(&app, "800.00", json!({})).await;
    let operator = app.operator_token().await;
    settle_a_first_withdrawal(&app, &payee, &operator).await;
    assert_eq!(withdraw(&app, &payee, "5.00").await["review"], "auto", "the first PIN is no risk");

    let changed = app.put_pin(&payee.user.token, &json!({ "pin": "246813", "old_pin": PIN })).await;
    json_of(changed, StatusCode::OK).await;
    let body = json!({ "amount": "5.00", "binding_id": payee.binding_id, "pin": "246813" });
    let response = app
        .client
        .post(app.url("/v1/withdrawals"))
        .bearer_auth(&payee.user.token)
        .header("idempotency-key", "after-pin-change")
        .json(&body)
        .send()
        .await
        .unwrap();
    let flagged = json_of(response, StatusCode::ACCEPTED).await;
    assert_eq!(
        (flagged["status"].as_str(), flagged["review_reasons"].clone()),
        (Some("in_review"), json!(["pin_recently_changed"]))
    );

    app.clock.advance(Duration::hours(24));
    app.log_in_again(&mut payee.user).await;
    let quote = app
        .post(
            "/v1/withdrawals/quote",
            Some(&payee.user.token),
            &json!({ "amount": "5.00", "binding_id": payee.binding_id }),
        )
        .await;
    assert_eq!(json_of(quote, StatusCode::OK).await["review"], "auto", "the flag ends after a day");
}

async fn an_operator_can_run_a_worker_step_on_demand(store: StoreKind) {
    let app = spawn_app(store).await;
    let payee = payee(&app, "800.00", json!({})).await;
    let operator = app.operator_token().await;
    let id = id_of(&withdraw(&app, &payee, "10.00").await);
    json_of(approve(&app, &operator, &id).await, StatusCode::OK).await;
    let forbidden = app.post("/v1/ops/worker/step", Some(&payee.user.token), &json!({})).await;
    assert_error(forbidden, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let report = json_of(app.post("/v1/ops/worker/step", Some(&operator), &json!({})).await, StatusCode::OK).await;
    assert_eq!((report["claimed"].as_u64(), report["settled"].as_u64()), (Some(1), Some(1)), "{report}");
    assert_eq!(withdrawal(&app, &payee, &id).await["status"], "settled");
    let again = json_of(app.post("/v1/ops/worker/step", Some(&operator), &json!({})).await, StatusCode::OK).await;
    assert_eq!(again["settled"], 0);
}
