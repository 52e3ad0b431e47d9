//! WeChat Pay v3's signatures on the mock WeChat Pay: requests are verified
//! with the registered merchant's key (401 `SIGN_ERROR` for a missing, bad,
//! stale or misaddressed one; 400 `MCH_NOT_EXISTS` for another merchant),
//! every answer is signed with the platform key, `/mock/wechat/keys` gives
//! an SDK all it needs and `/mock/wechat/sign` signs for tools without RSA;
//! neither signatures nor keys reach the journal; the HTTP payout client
//! signs its requests and treats an answer whose signature fails as none.

use chrono::Duration;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use walletgate::clock::Clock;
use walletgate::domain::rsa2;
use walletgate::domain::wechatpay_sign::{AnswerSignature, MerchantKey, PlatformPublicKey, Request, SCHEMA};
use walletgate::settings::{Settings, WeChatClientKind};

use crate::helpers::{StoreKind, TestApp, assert_error, json_of, spawn_app, spawn_app_with};
use crate::on_both_stores;
use crate::settlement::{Payee, approve, id_of, mock_wallet, payee, settle, withdraw};

on_both_stores!(
    a_signed_request_is_served_and_every_answer_verifies_with_the_platform_key,
    requests_without_a_good_signature_are_refused_with_sign_error,
    the_keys_give_an_sdk_everything_and_the_signing_service_signs_what_the_mock_accepts,
    the_http_payout_client_settles_against_the_signed_mock,
    the_http_payout_client_treats_an_answer_it_cannot_verify_as_none_and_asks_again,
    a_method_the_endpoints_do_not_take_is_405_with_allow_not_a_signature_error,
);

#[test]
fn the_signed_routes_are_the_v3_routes_served() {
    let served: Vec<(&str, &str)> = walletgate::startup::MOCK_WECHAT_ROUTE_TABLE
        .iter()
        .copied()
        .filter(|(_, path)| path.starts_with("/mock/wechat/v3/"))
        .collect();
    assert_eq!(served, walletgate::routes::mock_wechat::signature::SIGNED_ROUTES.to_vec());
}

/// Routing answers a method no v3 endpoint takes, before any signature is
/// asked for (a TRACE was answered 401 `SIGN_ERROR`), and signs the answer.
async fn a_method_the_endpoints_do_not_take_is_405_with_allow_not_a_signature_error(store: StoreKind) {
    let app = spawn_app(store).await;
    let wrong = [
        ("TRACE", BILLS.to_owned()),
        ("GET", BILLS.to_owned()),
        ("PUT", format!("{BILLS}/out-bill-no/A1")),
        ("POST", format!("{BILLS}/out-bill-no/A1")),
        ("POST", format!("{BILLS}/transfer-bill-no/1330000")),
        ("DELETE", BILLS.to_owned()),
    ];
    for (method, path) in wrong {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let response = app.client.request(method.clone(), app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        let allow = response.headers().get("allow").map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
        assert!(allow.contains("GET") || allow.contains("POST"), "{method} {path}: Allow {allow:?}");
        verified(&app, response).await;
    }
}

const BILLS: &str = "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills";

fn bill(out_bill_no: &str, openid: &str) -> Value {
    json!({
        "appid": "wx8a3f5c7e2b9d1046", "out_bill_no": out_bill_no, "openid": openid,
        "transfer_amount": 100, "transfer_remark": "sig", "transfer_scene_id": "1000"
    })
}

/// An answer's status and body, after checking that its signature verifies
/// with the published platform key, as an SDK would.
async fn verified(app: &TestApp, response: Response) -> (StatusCode, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned()).unwrap_or_default();
    assert!(!header("request-id").is_empty(), "every answer names its request");
    assert_eq!(header("wechatpay-signature-type"), SCHEMA);
    let signed = AnswerSignature {
        serial: header("wechatpay-serial"),
        signature: header("wechatpay-signature"),
        timestamp: header("wechatpay-timestamp"),
        nonce: header("wechatpay-nonce"),
    };
    let body = response.bytes().await.unwrap();
    let platform = PlatformPublicKey {
        key_id: app.settings.mock_wechat.pay.platform_public_key_id.clone(),
        public_key: rsa2::public_key(rsa2::test_keys::WECHATPAY_PLATFORM_PUBLIC_KEY_PEM).unwrap(),
    };
    assert_eq!(platform.verify_answer(Some(&signed), &body, app.clock.now().timestamp()), Ok(()), "{status}");
    (status, serde_json::from_slice(&body).unwrap())
}

async fn a_signed_request_is_served_and_every_answer_verifies_with_the_platform_key(store: StoreKind) {
    let app = spawn_app(store).await;
    let openid = crate::settlement::wechat_user(&app, "签名", json!({})).await;
    let (status, created) = verified(&app, app.wechat_pay_post(BILLS, &bill("SIGNED1", &openid)).await).await;
    assert_eq!((status, created["state"].as_str()), (StatusCode::OK, Some("SUCCESS")), "{created}");
    let (status, found) = verified(&app, app.wechat_pay_get(&format!("{BILLS}/out-bill-no/SIGNED1")).await).await;
    assert_eq!((status, found["transfer_amount"].as_i64()), (StatusCode::OK, Some(100)), "{found}");
    let (status, missing) = verified(&app, app.wechat_pay_get(&format!("{BILLS}/out-bill-no/NONE1")).await).await;
    assert_eq!((status, missing["code"].as_str()), (StatusCode::NOT_FOUND, Some("NOT_FOUND")));
    let (status, refused) = verified(&app, app.wechat_pay_post_raw(BILLS, "{".into()).await).await;
    assert_eq!((status, refused["code"].as_str()), (StatusCode::BAD_REQUEST, Some("PARAM_ERROR")));
    // The query is part of what is signed.
    let with_query = format!("{BILLS}/out-bill-no/SIGNED1?lang=zh");
    let (status, _) = verified(&app, app.wechat_pay_get(&with_query).await).await;
    assert_eq!(status, StatusCode::OK);
    let authorization = app.wechat_pay_authorization("GET", &format!("{BILLS}/out-bill-no/SIGNED1"), b"");
    let unsigned_query = app.client.get(app.url(&with_query)).header("authorization", authorization).send().await;
    let (status, body) = verified(&app, unsigned_query.unwrap()).await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::UNAUTHORIZED, Some("SIGN_ERROR")));
    // Other mock WeChat endpoints are not WeChat Pay's: no signature asked or given.
    let users = app.get("/mock/wechat/users", None).await;
    assert_eq!(users.status(), StatusCode::OK);
    assert!(users.headers().get("wechatpay-signature").is_none());
}

async fn requests_without_a_good_signature_are_refused_with_sign_error(store: StoreKind) {
    let app = spawn_app(store).await;
    let openid = crate::settlement::wechat_user(&app, "签名", json!({})).await;
    let body = bill("REFUSED1", &openid).to_string();
    let good = app.wechat_pay_authorization("POST", BILLS, body.as_bytes());
    let pay = &app.settings.mock_wechat.pay;
    let merchant = |serial: &str, mchid: &str| MerchantKey {
        mchid: mchid.to_owned(),
        serial_no: serial.to_owned(),
        private_key: rsa2::private_key(rsa2::test_keys::WECHATPAY_MERCHANT_PRIVATE_KEY_PEM).unwrap(),
    };
    let signed = |key: MerchantKey, url: &str, body: &str, at: i64| {
        key.authorize(Request { method: "POST", url, body: body.as_bytes() }, at, "N0NCE").header()
    };
    let now = app.clock.now().timestamp();
    let url = "/v3/fund-app/mch-transfer/transfer-bills";
    let platform_signed = MerchantKey {
        private_key: rsa2::private_key(rsa2::test_keys::WECHATPAY_PLATFORM_PRIVATE_KEY_PEM).unwrap(),
        ..merchant(&pay.merchant_serial_no, &pay.mchid)
    };
    let cases: Vec<(&str, Option<String>, StatusCode, &str)> = vec![
        ("a missing header", None, StatusCode::UNAUTHORIZED, "SIGN_ERROR"),
        ("a bearer token", Some("Bearer abc".into()), StatusCode::UNAUTHORIZED, "SIGN_ERROR"),
        ("a malformed header", Some(format!("{SCHEMA} mchid=\"1\"")), StatusCode::UNAUTHORIZED, "SIGN_ERROR"),
        (
            "a tampered body",
            Some(signed(merchant(&pay.merchant_serial_no, &pay.mchid), url, &body.replace("100", "900"), now)),
            StatusCode::UNAUTHORIZED,
            "SIGN_ERROR",
        ),
        ("another key", Some(signed(platform_signed, url, &body, now)), StatusCode::UNAUTHORIZED, "SIGN_ERROR"),
        (
            "a wrong serial",
            Some(signed(merchant("0123456789ABCDEF", &pay.mchid), url, &body, now)),
            StatusCode::UNAUTHORIZED,
            "SIGN_ERROR",
        ),
        (
            "a stale timestamp",
            Some(signed(merchant(&pay.merchant_serial_no, &pay.mchid), url, &body, now - 301)),
            StatusCode::UNAUTHORIZED,
            "SIGN_ERROR",
        ),
        (
            "a timestamp from the future",
            Some(signed(merchant(&pay.merchant_serial_no, &pay.mchid), url, &body, now + 301)),
            StatusCode::UNAUTHORIZED,
            "SIGN_ERROR",
        ),
        (
            "the mount signed too",
            Some(signed(merchant(&pay.merchant_serial_no, &pay.mchid), BILLS, &body, now)),
            StatusCode::UNAUTHORIZED,
            "SIGN_ERROR",
        ),
        (
            "another merchant",
            Some(signed(merchant(&pay.merchant_serial_no, "1900000110"), url, &body, now)),
            StatusCode::BAD_REQUEST,
            "MCH_NOT_EXISTS",
        ),
    ];
    for (case, authorization, status, code) in cases {
        let mut request = app.client.post(app.url(BILLS)).header("content-type", "application/json");
        if let Some(authorization) = authorization {
            request = request.header("authorization", authorization);
        }
        let (answered, error) = verified(&app, request.body(body.clone()).send().await.unwrap()).await;
        assert_eq!((answered, error["code"].as_str()), (status, Some(code)), "{case}: {error}");
        assert!(error["message"].as_str().is_some_and(|m| !m.is_empty()), "{case}");
    }
    let (status, _) = verified(&app, app.wechat_pay_get(&format!("{BILLS}/out-bill-no/REFUSED1")).await).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no refused request made a bill");
    // The good signature itself, sent once the window has passed.
    app.clock.advance(Duration::seconds(301));
    let late = app.client.post(app.url(BILLS)).header("authorization", good).body(body).send().await.unwrap();
    assert_eq!(verified(&app, late).await.0, StatusCode::UNAUTHORIZED);
}

async fn the_keys_give_an_sdk_everything_and_the_signing_service_signs_what_the_mock_accepts(store: StoreKind) {
    let app = spawn_app(store).await;
    assert_eq!(app.delete("/mock/requests", None).await.status(), StatusCode::NO_CONTENT);
    let keys = json_of(app.get("/mock/wechat/keys", None).await, StatusCode::OK).await;
    let pay = &app.settings.mock_wechat.pay;
    assert_eq!(keys["mchid"], pay.mchid.as_str());
    assert_eq!(keys["appid"], app.settings.mock_wechat.app_id.as_str());
    assert_eq!(keys["merchant_serial_no"], pay.merchant_serial_no.as_str());
    assert_eq!(keys["platform_public_key_id"], pay.platform_public_key_id.as_str());
    assert_eq!(keys["signature_type"], SCHEMA);
    assert_eq!(keys["published_test_keys"], true);
    assert!(keys["platform_public_key"].as_str().unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));
    // An SDK configured from the answer alone is accepted.
    let from_keys = MerchantKey {
        mchid: keys["mchid"].as_str().unwrap().to_owned(),
        serial_no: keys["merchant_serial_no"].as_str().unwrap().to_owned(),
        private_key: rsa2::private_key(keys["merchant_private_key"].as_str().unwrap()).unwrap(),
    };
    let path = format!("{BILLS}/out-bill-no/KEYS1");
    let url = path.trim_start_matches("/mock/wechat");
    let authorization =
        from_keys.authorize(Request { method: "GET", url, body: b"" }, app.clock.now().timestamp(), "K").header();
    let answer = app.client.get(app.url(&path)).header("authorization", authorization).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::NOT_FOUND, "signed well: past the signature check");

    let openid = crate::settlement::wechat_user(&app, "签名", json!({})).await;
    let body = bill("SIGNHELP1", &openid).to_string();
    let sign = json!({ "method": "POST", "url": BILLS, "body": body });
    let signed = json_of(app.post("/mock/wechat/sign", None, &sign).await, StatusCode::OK).await;
    assert_eq!(signed["mchid"], pay.mchid.as_str());
    let authorization = signed["authorization"].as_str().unwrap().to_owned();
    let created = app.client.post(app.url(BILLS)).header("authorization", &authorization).body(body.clone());
    let (status, created) = verified(&app, created.send().await.unwrap()).await;
    assert_eq!((status, created["state"].as_str()), (StatusCode::OK, Some("SUCCESS")), "{created}");
    for (bad, field) in [
        (json!({ "method": "FETCH", "url": BILLS }), "method"),
        (json!({ "method": "GET", "url": "/v1/wallet" }), "url"),
        (json!({ "method": "GET", "url": BILLS, "extra": 1 }), "extra"),
    ] {
        let refused =
            assert_error(app.post("/mock/wechat/sign", None, &bad).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
                .await;
        assert!(refused.to_string().contains(field), "{refused}");
    }

    // The journal has the call, not the keys, the signing service or any signature.
    let journal = json_of(app.get("/mock/requests?limit=200", None).await, StatusCode::OK).await;
    let text = journal.to_string();
    let paths: Vec<&str> =
        journal["items"].as_array().unwrap().iter().filter_map(|entry| entry["request"]["path"].as_str()).collect();
    assert!(paths.contains(&BILLS), "{paths:?}");
    assert!(!paths.iter().any(|path| *path == "/mock/wechat/keys" || *path == "/mock/wechat/sign"), "{paths:?}");
    assert!(!text.contains(signed["signature"].as_str().unwrap()), "no signature is journaled");
    assert!(!text.contains("WECHATPAY2"), "{text}");
}

/// A withdrawal of ¥30.00, approved if it waits for review.
async fn approved_withdrawal(app: &TestApp, payee: &Payee, operator: &str) -> String {
    let created = withdraw(app, payee, "30.00").await;
    let id = id_of(&created);
    if created["status"] == "in_review" {
        json_of(approve(app, operator, &id).await, StatusCode::OK).await;
    }
    id
}

async fn the_http_payout_client_settles_against_the_signed_mock(store: StoreKind) {
    let app = spawn_app_with(store, |settings: &mut Settings| settings.wechat.client = WeChatClientKind::Http).await;
    let operator = app.operator_token().await;
    let payee = payee(&app, "800.00", json!({})).await;
    let id = approved_withdrawal(&app, &payee, &operator).await;
    assert_eq!(settle(&app).await.settled, 1);
    assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "30.00", "paid over signed HTTP");
    let bill = app.wechat_pay_get(&format!("{BILLS}/out-bill-no/{}", id.trim_start_matches("wd_"))).await;
    assert_eq!(verified(&app, bill).await.1["state"], "SUCCESS", "the bill is the withdrawal's");
    let journal = json_of(app.get("/mock/requests?provider=wechat_pay", None).await, StatusCode::OK).await;
    let call = &journal["items"][0];
    assert_eq!((call["transport"].as_str(), call["response"]["status"].as_u64()), (Some("http"), Some(200)), "{call}");
}

async fn the_http_payout_client_treats_an_answer_it_cannot_verify_as_none_and_asks_again(store: StoreKind) {
    // walletgate holds a key other than the platform's: no answer verifies.
    let wrong_key = std::env::temp_dir().join(format!("walletgate-wrong-platform-key-{}.pem", std::process::id()));
    std::fs::write(&wrong_key, rsa2::test_keys::WECHATPAY_MERCHANT_PUBLIC_KEY_PEM).unwrap();
    let app = spawn_app_with(store, |settings: &mut Settings| {
        settings.wechat.client = WeChatClientKind::Http;
        settings.wechat.pay.platform_public_key_file = wrong_key.display().to_string();
    })
    .await;
    let operator = app.operator_token().await;
    let payee = payee(&app, "800.00", json!({})).await;
    let id = approved_withdrawal(&app, &payee, &operator).await;
    let first = settle(&app).await;
    assert_eq!((first.settled, first.retried), (0, 1), "{first:?}");
    app.clock.advance(Duration::seconds(60));
    let second = settle(&app).await;
    assert_eq!((second.settled, second.retried), (0, 1), "the same bill asked again: {second:?}");
    // The mock paid the bill once; the gateway never took an answer it could not trust.
    assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "30.00");
    let bill = app.wechat_pay_get(&format!("{BILLS}/out-bill-no/{}", id.trim_start_matches("wd_"))).await;
    assert_eq!(bill.status(), StatusCode::OK);
}
