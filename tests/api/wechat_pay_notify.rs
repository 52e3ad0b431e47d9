//! WeChat Pay's `MCHTRANSFER.BILL.FINISHED` notifications: the mock WeChat
//! Pay tells a bill's final state to its `notify_url` (encrypted with the
//! APIv3 key, signed with the platform key), from the worker, again and again
//! on WeChat Pay's pauses until it is answered 200/204. No test sleeps: the
//! business clock moves.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletgate::domain::rsa2::{self, test_keys};
use walletgate::domain::wechatpay_crypto::{ApiV3Key, RETRY_INTERVALS_SECS, open_notification};
use walletgate::domain::wechatpay_sign::{AnswerSignature, PlatformKey, PlatformPublicKey};

use crate::helpers::{StoreKind, json_of};
use crate::notifications::{Received, start_receiver};
use crate::on_both_stores;
use crate::settlement::{settle, wechat_user};
use crate::wechat_bill_states::app_with_delays;

on_both_stores!(
    a_refusing_receiver_is_told_again_on_wechat_pays_schedule_then_no_more,
    a_receiver_that_answers_is_told_once_and_a_cancelled_bill_is_told_too,
    a_notify_url_must_be_http_without_a_query,
);

const BILLS: &str = "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills";
const KEY_ID: &str = "PUB_KEY_ID_0119000000012026030100000000000001";

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
