//! WeChat Pay's `MCHTRANSFER.BILL.FINISHED` notifications both ways: the
//! mock WeChat Pay tells a bill's final state to its `notify_url` (encrypted
//! with the APIv3 key, signed with the platform key), from the worker, again
//! and again on WeChat Pay's pauses until it is answered 200/204; walletgate's
//! own endpoint takes it, checks it and settles the withdrawal at once. No
//! test sleeps: the business clock moves.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletgate::clock::Clock;
use walletgate::domain::rsa2::{self, test_keys};
use walletgate::domain::wechatpay_crypto::{
    ApiV3Key, BILL_FINISHED_EVENT, BILL_FINISHED_SUMMARY, BILL_ORIGINAL_TYPE, BillFinished, ENCRYPT_RESOURCE,
    Notification, RETRY_INTERVALS_SECS, open_notification,
};
use walletgate::domain::wechatpay_sign::{AnswerSignature, PlatformKey, PlatformPublicKey};

use walletgate::settings::Settings;

use crate::helpers::{StoreKind, TestApp, json_of};
use crate::notifications::{Received, start_receiver};
use crate::on_both_stores;
use crate::settlement::{Payee, approve, id_of, payee, settle, wechat_user, withdraw, withdrawal};
use crate::wechat_bill_states::app_with_delays;

on_both_stores!(
    a_finished_bill_is_told_and_its_withdrawal_settles_without_waiting_for_the_next_look,
    a_failed_bill_told_gives_the_hold_back_at_once,
    a_tampered_stale_or_undecryptable_notification_is_refused_and_changes_nothing,
    a_replayed_notification_changes_nothing,
    a_refusing_receiver_is_told_again_on_wechat_pays_schedule_then_no_more,
    a_receiver_that_answers_is_told_once_and_a_cancelled_bill_is_told_too,
    a_notify_url_must_be_http_without_a_query,
);

const NOTIFY_PATH: &str = "/v1/callbacks/wechat-pay/transfer-bills";
const BILLS: &str = "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills";
const KEY_ID: &str = "PUB_KEY_ID_0119000000012026030100000000000001";

/// A notification of `out_bill_no` in `state`, as WeChat Pay would send it, encrypted with `key`.
fn notification(out_bill_no: &str, state: &str, fail_reason: Option<&str>, key: &ApiV3Key) -> Vec<u8> {
    let finished = BillFinished {
        mchid: "1900000109".into(),
        out_bill_no: out_bill_no.into(),
        transfer_bill_no: "13300002026030100000000000000001".into(),
        state: state.into(),
        transfer_amount: 10_000,
        fail_reason: fail_reason.map(str::to_owned),
        openid: "o".into(),
        create_time: "2026-03-01T17:30:00+08:00".into(),
        update_time: "2026-03-01T17:30:05+08:00".into(),
    };
    let plaintext = serde_json::to_vec(&finished).unwrap();
    let notification = Notification {
        id: "EV-2026030117300500001".into(),
        create_time: "2026-03-01T17:30:05+08:00".into(),
        resource_type: ENCRYPT_RESOURCE.into(),
        event_type: BILL_FINISHED_EVENT.into(),
        summary: BILL_FINISHED_SUMMARY.into(),
        resource: key.encrypt(&plaintext, "aBcDeFgHiJkL", BILL_ORIGINAL_TYPE).unwrap(),
    };
    serde_json::to_vec(&notification).unwrap()
}

/// POSTs `body` to walletgate's endpoint with `signed`'s headers.
async fn notify(app: &TestApp, body: &[u8], signed: Option<&AnswerSignature>) -> reqwest::Response {
    let mut request = app.client.post(app.url(NOTIFY_PATH)).header("content-type", "application/json");
    if let Some(signed) = signed {
        request = request
            .header("Wechatpay-Timestamp", &signed.timestamp)
            .header("Wechatpay-Nonce", &signed.nonce)
            .header("Wechatpay-Signature", &signed.signature)
            .header("Wechatpay-Serial", &signed.serial)
            .header("Wechatpay-Signature-Type", "WECHATPAY2-SHA256-RSA2048");
    }
    request.body(body.to_vec()).send().await.expect("request sent")
}

async fn assert_fail(response: reqwest::Response, status: StatusCode) {
    assert_eq!(response.status(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "FAIL", "WeChat Pay's failure shape: {body}");
    assert!(body["message"].as_str().is_some_and(|message| !message.is_empty()), "{body}");
}

async fn a_finished_bill_is_told_and_its_withdrawal_settles_without_waiting_for_the_next_look(store: StoreKind) {
    let app = app(store, |_| {}).await;
    let mut payee = payee(&app, "800.00", json!({})).await;
    let id = paying(&app, &payee, "100.00").await;

    app.clock.advance(Duration::seconds(2));
    assert_eq!(settle(&app).await.mock_notices_delivered, 0, "PROCESSING is not final");
    app.clock.advance(Duration::seconds(3));
    let report = settle(&app).await;
    assert_eq!((report.mock_bills_moved, report.mock_notices_delivered), (1, 1), "{report:?}");
    assert_eq!(report.settled, 0, "not the worker's look: the notification settled it");
    let settled = status_of(&app, &mut payee, &id).await;
    assert_eq!(settled["status"], "settled", "{settled}");
    assert!(settled["transfer_bill_no"].as_str().is_some_and(|number| number.len() == 32), "{settled}");

    app.clock.advance(Duration::minutes(30));
    let later = settle(&app).await;
    assert_eq!((later.settled, later.mock_notices_delivered, later.mock_notices_retried), (0, 0, 0), "{later:?}");
    app.log_in_again(&mut payee.user).await;
    let wallet = json_of(app.wallet(&payee.user.token).await, StatusCode::OK).await;
    assert_eq!((wallet["available"].as_str(), wallet["held"].as_str()), (Some("700.00"), Some("0.00")));
    app.assert_ledger_balanced().await;
}

async fn a_failed_bill_told_gives_the_hold_back_at_once(store: StoreKind) {
    let app = app(store, |_| {}).await;
    let mut payee = payee(&app, "800.00", json!({})).await;
    let id = paying(&app, &payee, "100.00").await;
    let path = format!("/mock/wechat/users/{}", payee.openid);
    let frozen = app.client.patch(app.url(&path)).json(&json!({ "frozen": true })).send().await.unwrap();
    json_of(frozen, StatusCode::OK).await;

    app.clock.advance(Duration::seconds(2));
    settle(&app).await;
    app.clock.advance(Duration::seconds(3));
    let report = settle(&app).await;
    assert_eq!((report.failed, report.mock_notices_delivered), (0, 1), "failed by the notification: {report:?}");
    let failed = status_of(&app, &mut payee, &id).await;
    assert_eq!(
        (failed["status"].as_str(), failed["failure_reason"].as_str()),
        (Some("failed"), Some("ACCOUNT_FROZEN"))
    );
    let wallet = json_of(app.wallet(&payee.user.token).await, StatusCode::OK).await;
    assert_eq!((wallet["available"].as_str(), wallet["held"].as_str()), (Some("800.00"), Some("0.00")));
    app.assert_ledger_balanced().await;
}

/// What a receiver got: the signature headers, the `Request-ID`, the signature type and the body.
fn delivery(received: &Received) -> (AnswerSignature, String, String, Vec<u8>) {
    let header = |name: &str| received.headers.get(name).cloned().unwrap_or_default();
    let signed = AnswerSignature {
        serial: header("wechatpay-serial"),
        signature: header("wechatpay-signature"),
        timestamp: header("wechatpay-timestamp"),
        nonce: header("wechatpay-nonce"),
    };
    (signed, header("request-id"), header("wechatpay-signature-type"), received.body.clone().into_bytes())
}

/// Bills that take 2 s ACCEPTED and 3 s PROCESSING, notifications to
/// walletgate's own endpoint (`wechat.pay.notify_url` empty), and a first
/// look at a bill under way that comes only after ten minutes: a withdrawal
/// settled within seconds was settled by its notification.
async fn app(store: StoreKind, change: impl FnOnce(&mut Settings)) -> TestApp {
    app_with_delays(store, |settings| {
        settings.wechat.pay.notify_url = String::new();
        settings.worker.retry_backoff_initial_ms = 600_000;
        settings.worker.retry_backoff_max_ms = 600_000;
        change(settings);
    })
    .await
}

/// An approved withdrawal of `amount` whose bill the worker has created.
async fn paying(app: &TestApp, payee: &Payee, amount: &str) -> String {
    let operator = app.operator_token().await;
    let created = withdraw(app, payee, amount).await;
    let id = id_of(&created);
    if created["status"] == "in_review" {
        json_of(approve(app, &operator, &id).await, StatusCode::OK).await;
    }
    let report = settle(app).await;
    assert_eq!(report.awaiting, 1, "the bill is under way: {report:?}");
    id
}

async fn status_of(app: &TestApp, payee: &mut Payee, id: &str) -> Value {
    app.log_in_again(&mut payee.user).await;
    withdrawal(app, payee, id).await
}

fn platform() -> (PlatformKey, PlatformPublicKey) {
    let private_key = rsa2::private_key(test_keys::WECHATPAY_PLATFORM_PRIVATE_KEY_PEM).unwrap();
    let public_key = private_key.to_public_key();
    (PlatformKey { key_id: KEY_ID.into(), private_key }, PlatformPublicKey { key_id: KEY_ID.into(), public_key })
}

async fn a_refusing_receiver_is_told_again_on_wechat_pays_schedule_then_no_more(store: StoreKind) {
    let receiver = start_receiver(usize::MAX).await;
    let app = app_with_delays(store, |settings| {
        settings.mock_wechat.pay.accepted_secs = 0;
        settings.mock_wechat.pay.processing_secs = 0;
    })
    .await;
    // A merchant's SDK creates the bill with its notify_url; decided at once.
    let openid = wechat_user(&app, "李小龙", json!({})).await;
    let bill = json!({"appid": "wx8a3f5c7e2b9d1046", "out_bill_no": "NOTIFY1", "openid": openid,
        "transfer_amount": 10000, "transfer_remark": "OK钱包余额提现", "transfer_scene_id": "1000",
        "notify_url": receiver.url});
    let created = json_of(app.wechat_pay_post(BILLS, &bill).await, StatusCode::OK).await;
    assert_eq!(created["state"], "SUCCESS");
    assert_eq!(json_of(app.wechat_pay_post(BILLS, &bill).await, StatusCode::OK).await, created, "the same bill");

    let sent = || receiver.received.lock().unwrap().len();
    assert_eq!(sent(), 0, "never sent from the request: the worker sends it");
    assert_eq!(settle(&app).await.mock_notices_retried, 1, "the first delivery, refused");
    for (retry, pause) in RETRY_INTERVALS_SECS.iter().enumerate() {
        app.clock.advance(Duration::seconds(*pause as i64 - 1));
        settle(&app).await;
        assert_eq!(sent(), retry + 1, "not before its pause ({pause} s)");
        app.clock.advance(Duration::seconds(1));
        assert_eq!(settle(&app).await.mock_notices_retried, 1, "retry {} after {pause} s", retry + 1);
        assert_eq!(sent(), retry + 2);
    }
    app.clock.advance(Duration::days(2));
    assert_eq!(settle(&app).await.claimed, 0, "given up after the last pause");
    assert_eq!(sent(), 16, "the first delivery and 15 retries");
    let id = "wd_NOTIFY1";
    let payee_openid = openid;
    let received = receiver.received.lock().unwrap().clone();
    let (_, platform) = platform();
    let mut ids = Vec::new();
    for (signed, request_id, signature_type, body) in received.iter().map(delivery) {
        let now = signed.timestamp.parse::<i64>().unwrap();
        let (notification, plaintext) = open_notification(&platform, &ApiV3Key::published(), Some(&signed), &body, now)
            .expect("signed with the platform key, encrypted with the APIv3 key");
        assert_eq!(signature_type, "WECHATPAY2-SHA256-RSA2048");
        assert_eq!(request_id.len(), 32);
        let finished: Value = serde_json::from_slice(&plaintext).unwrap();
        assert_eq!(finished["out_bill_no"], id.trim_start_matches("wd_"));
        assert_eq!((finished["state"].as_str(), finished["transfer_amount"].as_i64()), (Some("SUCCESS"), Some(10_000)));
        assert_eq!(
            (finished["mchid"].as_str(), finished["openid"].as_str()),
            (Some("1900000109"), Some(&*payee_openid))
        );
        assert!(finished.get("fail_reason").is_none(), "{finished}");
        assert_eq!(notification.resource.original_type, "mch_payment");
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["summary"], "商家转账单据终态通知");
        assert_eq!(body["resource"]["algorithm"], "AEAD_AES_256_GCM");
        ids.push(notification.id);
    }
    assert!(ids.iter().all(|id| id == &ids[0] && id.starts_with("EV-")), "one notification, sent again: {ids:?}");
}

async fn a_receiver_that_answers_is_told_once_and_a_cancelled_bill_is_told_too(store: StoreKind) {
    let receiver = start_receiver(1).await;
    let app = app_with_delays(store, |_| {}).await;
    let openid = wechat_user(&app, "李小龙", json!({})).await;
    let bill = |out_bill_no: &str| {
        json!({"appid": "wx8a3f5c7e2b9d1046", "out_bill_no": out_bill_no, "openid": openid,
            "transfer_amount": 250, "transfer_remark": "notify", "transfer_scene_id": "1000",
            "notify_url": receiver.url})
    };
    assert_eq!(json_of(app.wechat_pay_post(BILLS, &bill("PAID1")).await, StatusCode::OK).await["state"], "ACCEPTED");
    assert_eq!(json_of(app.wechat_pay_post(BILLS, &bill("CANCEL1")).await, StatusCode::OK).await["state"], "ACCEPTED");
    let cancel = format!("{BILLS}/out-bill-no/CANCEL1/cancel");
    assert_eq!(json_of(app.wechat_pay_post(&cancel, &json!({})).await, StatusCode::OK).await["state"], "CANCELING");
    app.clock.advance(Duration::seconds(2));
    let report = settle(&app).await;
    assert_eq!(report.mock_notices_delivered + report.mock_notices_retried, 0, "nothing final yet: {report:?}");
    app.clock.advance(Duration::seconds(1));
    let report = settle(&app).await;
    assert_eq!((report.mock_notices_delivered, report.mock_notices_retried), (0, 1), "CANCELLED, refused once");
    app.clock.advance(Duration::seconds(2));
    let report = settle(&app).await;
    assert_eq!(report.mock_notices_delivered, 1, "SUCCESS, answered: {report:?}");
    app.clock.advance(Duration::seconds(15));
    assert_eq!(settle(&app).await.mock_notices_delivered, 1, "CANCELLED, answered on its retry");
    app.clock.advance(Duration::days(1));
    assert_eq!(settle(&app).await.claimed, 0, "each told until answered, then no more");

    let received = receiver.received.lock().unwrap().clone();
    let (_, platform) = platform();
    let states: Vec<(String, String)> = received
        .iter()
        .map(delivery)
        .map(|(signed, _, _, body)| {
            let now = signed.timestamp.parse::<i64>().unwrap();
            let (_, plaintext) =
                open_notification(&platform, &ApiV3Key::published(), Some(&signed), &body, now).unwrap();
            let finished: Value = serde_json::from_slice(&plaintext).unwrap();
            (finished["out_bill_no"].as_str().unwrap().to_owned(), finished["state"].as_str().unwrap().to_owned())
        })
        .collect();
    let expected = [("CANCEL1", "CANCELLED"), ("PAID1", "SUCCESS"), ("CANCEL1", "CANCELLED")];
    assert_eq!(states, expected.map(|(bill, state)| (bill.to_owned(), state.to_owned())));
    // Each delivery is in the request journal, with the receiver's answer, newest first.
    let journal = json_of(app.get("/mock/requests?provider=wechat_pay", None).await, StatusCode::OK).await;
    let told: Vec<(String, Option<u64>, String)> = journal["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|call| call["transport"] == "notification")
        .map(|call| {
            let request = &call["request"];
            assert_eq!((request["method"].as_str(), request["path"].as_str()), (Some("POST"), Some(&*receiver.url)));
            let body = request["body"].as_str().unwrap_or_default().to_owned();
            (body, call["response"]["status"].as_u64(), call["provider"].as_str().unwrap().to_owned())
        })
        .collect();
    let statuses: Vec<Option<u64>> = told.iter().map(|(_, status, _)| *status).collect();
    assert_eq!(statuses, [Some(204), Some(204), Some(500)], "{journal}");
    assert!(
        told.iter().all(|(body, _, provider)| body.contains("MCHTRANSFER.BILL.FINISHED") && provider == "wechat_pay")
    );
    let keys = json_of(app.get("/mock/wechat/keys", None).await, StatusCode::OK).await;
    assert_eq!(keys["apiv3_key"], "WalletgateSimPublishedApiV3Key01", "what an SDK decrypts them with");
}

async fn a_notify_url_must_be_http_without_a_query(store: StoreKind) {
    let app = app_with_delays(store, |_| {}).await;
    let openid = wechat_user(&app, "李小龙", json!({})).await;
    for bad in ["https://merchant.example/notify?x=1", "ftp://merchant.example/notify", "notify", ""] {
        let bill = json!({"appid": "wx8a3f5c7e2b9d1046", "out_bill_no": "BADURL1", "openid": openid,
            "transfer_amount": 250, "transfer_remark": "notify", "transfer_scene_id": "1000", "notify_url": bad});
        let response = app.wechat_pay_post(BILLS, &bill).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{bad}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "PARAM_ERROR", "{bad}: {body}");
    }
    let missing = json_of(app.wechat_pay_get(&format!("{BILLS}/out-bill-no/BADURL1")).await, StatusCode::NOT_FOUND);
    assert_eq!(missing.await["code"], "NOT_FOUND", "no bill was created");
}

async fn a_tampered_stale_or_undecryptable_notification_is_refused_and_changes_nothing(store: StoreKind) {
    // Notifications to nowhere: the ones here are written by the test.
    let app = app(store, |settings| settings.wechat.pay.notify_url = "none".into()).await;
    let mut payee = payee(&app, "800.00", json!({})).await;
    let id = paying(&app, &payee, "100.00").await;
    let out_bill_no = id.trim_start_matches("wd_");
    app.clock.advance(Duration::seconds(2));
    settle(&app).await;
    app.clock.advance(Duration::seconds(3));
    settle(&app).await;
    // The bill is SUCCESS at the mock, and this notification would settle it.
    let (signer, _) = platform();
    let key = ApiV3Key::published();
    let now = app.clock.now().timestamp();
    let body = notification(out_bill_no, "SUCCESS", None, &key);
    let signed = signer.sign_answer(&body, now, "NONCE1");

    let mut tampered = body.clone();
    let at = tampered.iter().position(|b| *b == b'E').unwrap();
    tampered[at] = b'F';
    assert_fail(notify(&app, &tampered, Some(&signed)).await, StatusCode::UNAUTHORIZED).await;
    assert_fail(notify(&app, &body, None).await, StatusCode::UNAUTHORIZED).await;
    let other_key = AnswerSignature { serial: "PUB_KEY_ID_OTHER".into(), ..signed.clone() };
    assert_fail(notify(&app, &body, Some(&other_key)).await, StatusCode::UNAUTHORIZED).await;
    let stale = signer.sign_answer(&body, now - 301, "NONCE2");
    assert_fail(notify(&app, &body, Some(&stale)).await, StatusCode::UNAUTHORIZED).await;
    let merchant = rsa2::private_key(test_keys::WECHATPAY_MERCHANT_PRIVATE_KEY_PEM).unwrap();
    let forged = PlatformKey { key_id: KEY_ID.into(), private_key: merchant }.sign_answer(&body, now, "NONCE3");
    assert_fail(notify(&app, &body, Some(&forged)).await, StatusCode::UNAUTHORIZED).await;
    let other_apiv3 = ApiV3Key::parse(&"x".repeat(32)).unwrap();
    let sealed_otherwise = notification(out_bill_no, "SUCCESS", None, &other_apiv3);
    let signed_otherwise = signer.sign_answer(&sealed_otherwise, now, "NONCE4");
    assert_fail(notify(&app, &sealed_otherwise, Some(&signed_otherwise)).await, StatusCode::BAD_REQUEST).await;
    let junk = b"{\"not\":\"a notification\"}";
    assert_fail(notify(&app, junk, Some(&signer.sign_answer(junk, now, "NONCE5"))).await, StatusCode::BAD_REQUEST)
        .await;

    let waiting = status_of(&app, &mut payee, &id).await;
    assert_eq!(waiting["status"], "processing", "nothing changed: {waiting}");
    let response = notify(&app, &body, Some(&signed)).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(status_of(&app, &mut payee, &id).await["status"], "settled");
    app.assert_ledger_balanced().await;
}

async fn a_replayed_notification_changes_nothing(store: StoreKind) {
    // Notifications to nowhere: the ones here are written by the test.
    let app = app(store, |settings| settings.wechat.pay.notify_url = "none".into()).await;
    let mut payee = payee(&app, "800.00", json!({})).await;
    let id = paying(&app, &payee, "100.00").await;
    let out_bill_no = id.trim_start_matches("wd_").to_owned();
    let (signer, _) = platform();
    let key = ApiV3Key::published();

    // Told before the bill is final (a notification out of order): it is
    // asked of WeChat Pay, found under way, and nothing changes.
    let early = notification(&out_bill_no, "SUCCESS", None, &key);
    let signed = signer.sign_answer(&early, app.clock.now().timestamp(), "EARLY");
    assert_eq!(notify(&app, &early, Some(&signed)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(status_of(&app, &mut payee, &id).await["status"], "processing", "the bill itself is not final");

    app.clock.advance(Duration::seconds(2));
    settle(&app).await;
    app.clock.advance(Duration::seconds(3));
    assert_eq!(settle(&app).await.mock_notices_delivered, 0, "the bill has no notify_url");
    let body = notification(&out_bill_no, "SUCCESS", None, &key);
    for attempt in 0..3 {
        let signed = signer.sign_answer(&body, app.clock.now().timestamp(), &format!("REPLAY{attempt}"));
        assert_eq!(notify(&app, &body, Some(&signed)).await.status(), StatusCode::NO_CONTENT, "attempt {attempt}");
    }
    let settled = status_of(&app, &mut payee, &id).await;
    assert_eq!(settled["status"], "settled");
    let journal = json_of(app.transactions(&payee.user.token, "").await, StatusCode::OK).await;
    let settlements =
        journal["items"].as_array().unwrap().iter().filter(|entry| entry["kind"] == "withdrawal_settlement");
    assert_eq!(settlements.count(), 1, "settled once: {journal}");
    // Even one saying FAIL changes nothing now: the bill itself is what counts.
    let contrary = notification(&out_bill_no, "FAIL", Some("ACCOUNT_FROZEN"), &key);
    let signed = signer.sign_answer(&contrary, app.clock.now().timestamp(), "CONTRARY");
    assert_eq!(notify(&app, &contrary, Some(&signed)).await.status(), StatusCode::NO_CONTENT);
    assert_eq!(status_of(&app, &mut payee, &id).await["status"], "settled");
    let wallet = json_of(app.wallet(&payee.user.token).await, StatusCode::OK).await;
    assert_eq!((wallet["available"].as_str(), wallet["held"].as_str()), (Some("700.00"), Some("0.00")));
    app.assert_ledger_balanced().await;
}
