//! The payee's real name on WeChat Pay's transfer bills: from ¥2,000 a bill
//! must carry `user_name` (encrypted with the platform key, the request
//! naming it in `Wechatpay-Serial`), and a name that is not the payee's
//! fails the bill `NAME_NOT_CORRECT`. Settlement sends the identity
//! verified on the account, over HTTP encrypted, and a bill refused or
//! failed for its name gives the hold back. Also the simulator's rules on
//! the merchant's cancellation (`wechat_pay.cancel`).

use base64::Engine;
use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletgate::domain::rsa2::{self, test_keys};
use walletgate::domain::wechatpay_crypto::encrypt_sensitive;
use walletgate::settings::{Settings, WeChatClientKind};

use crate::bindings::{Choice, Phone};
use crate::helpers::{StoreKind, TestApp, TestUser, assert_error, json_of, spawn_app, spawn_app_with};
use crate::kyc::resident_id;
use crate::on_both_stores;
use crate::settlement::{PIN, Payee, approve, id_of, mock_wallet, payee, settle, wechat_user, withdraw, withdrawal};
use crate::wechat_bill_states::app_with_delays;

on_both_stores!(
    a_withdrawal_from_2000_sends_the_verified_name_encrypted_and_settles,
    a_name_that_is_not_the_payees_fails_the_withdrawal_and_gives_the_hold_back,
    an_account_with_no_verified_name_gets_its_2000_withdrawal_back,
    the_mock_refuses_a_bill_from_2000_without_a_name_it_can_decrypt,
    a_rule_makes_the_merchants_cancellation_fail_and_without_one_it_cancels,
    a_verified_demo_account_withdraws_2000_in_its_own_name,
);

const BILLS: &str = "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills";
const SERIAL: &str = "Wechatpay-Serial";

/// A funded, bound user whose identity is verified as `verified_as`,
/// paying out to a mock WeChat user whose real name is `real_name`.
async fn verified_payee(app: &TestApp, verified_as: &str, real_name: &str, id17: &str) -> Payee {
    let payee = payee(app, "5000.00", json!({ "real_name": real_name })).await;
    let identity = json!({ "level": "L1", "real_name": verified_as, "id_number": resident_id(id17) });
    json_of(app.post("/v1/kyc", Some(&payee.user.token), &identity).await, StatusCode::ACCEPTED).await;
    app.clock.advance(Duration::seconds(5));
    payee
}

/// Withdraws `amount` and runs it to its end: approved if an operator must
/// decide, the worker stepped once it is due.
async fn withdrawn(app: &TestApp, operator: &str, payee: &mut Payee, amount: &str) -> Value {
    app.log_in_again(&mut payee.user).await;
    let created = withdraw(app, payee, amount).await;
    let id = id_of(&created);
    if created["status"] == "in_review" {
        json_of(approve(app, operator, &id).await, StatusCode::OK).await;
    }
    app.clock.advance(Duration::seconds(6));
    settle(app).await;
    app.log_in_again(&mut payee.user).await;
    withdrawal(app, payee, &id).await
}

async fn wallet_of(app: &TestApp, payee: &Payee) -> (String, String) {
    let wallet = json_of(app.wallet(&payee.user.token).await, StatusCode::OK).await;
    (wallet["available"].as_str().unwrap().to_owned(), wallet["held"].as_str().unwrap().to_owned())
}

/// `text` encrypted as an SDK encrypts `user_name`: with the mock's (published) platform public key.
pub(crate) fn sealed(text: &str) -> String {
    let platform = rsa2::public_key(test_keys::WECHATPAY_PLATFORM_PUBLIC_KEY_PEM).unwrap();
    encrypt_sensitive(&platform, text, &mut rsa::rand_core::OsRng).unwrap()
}

pub(crate) fn platform_serial(app: &TestApp) -> String {
    app.settings.mock_wechat.pay.platform_public_key_id.clone()
}

async fn a_withdrawal_from_2000_sends_the_verified_name_encrypted_and_settles(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.wechat.client = WeChatClientKind::Http).await;
    let operator = app.operator_token().await;
    let mut payee = verified_payee(&app, "张三丰", "张三丰", "11010519491231002").await;

    let small = withdrawn(&app, &operator, &mut payee, "100.00").await;
    assert_eq!(small["status"], "settled", "{small}");
    let large = withdrawn(&app, &operator, &mut payee, "2000.00").await;
    assert_eq!((large["status"].as_str(), &large["failure_reason"]), (Some("settled"), &Value::Null), "{large}");

    // The mock decrypted the name and paid; below ¥2,000 none was sent.
    let transfers = mock_wallet(&app, &payee.openid).await["transfers"].clone();
    let names: Vec<(&str, &Value)> =
        transfers.as_array().unwrap().iter().map(|t| (t["amount"].as_str().unwrap(), &t["user_name"])).collect();
    assert_eq!(names, [("100.00", &Value::Null), ("2000.00", &json!("张三丰"))]);

    // Over the wire the name went encrypted, never in the clear.
    let journal = json_of(app.get("/mock/requests?limit=200", None).await, StatusCode::OK).await;
    let sent: Vec<Value> = journal["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["transport"] == "http" && e["request"]["method"] == "POST" && e["request"]["path"] == BILLS)
        .map(|e| serde_json::from_str(e["request"]["body"].as_str().unwrap()).unwrap())
        .collect();
    let named: Vec<&Value> = sent.iter().filter(|body| body["transfer_amount"] == 200_000).collect();
    let unnamed: Vec<&Value> = sent.iter().filter(|body| body["transfer_amount"] == 10_000).collect();
    assert!(!named.is_empty() && !unnamed.is_empty(), "{sent:?}");
    let ciphertext = named[0]["user_name"].as_str().unwrap();
    assert!(!ciphertext.contains("张三丰"), "{ciphertext}");
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(ciphertext).unwrap().len(), 256, "one RSA-2048 block");
    assert!(unnamed.iter().all(|body| body.get("user_name").is_none()), "{unnamed:?}");
    app.assert_ledger_balanced().await;
}

async fn a_name_that_is_not_the_payees_fails_the_withdrawal_and_gives_the_hold_back(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let mut payee = verified_payee(&app, "张三丰", "李小龙", "11010519491231003").await;

    let failed = withdrawn(&app, &operator, &mut payee, "2000.00").await;
    assert_eq!(
        (failed["status"].as_str(), failed["failure_reason"].as_str()),
        (Some("failed"), Some("NAME_NOT_CORRECT"))
    );
    assert_eq!(wallet_of(&app, &payee).await, ("5000.00".to_owned(), "0.00".to_owned()), "the hold came back");
    assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "0.00", "nothing was paid");
    app.assert_ledger_balanced().await;

    // Below ¥2,000 no name is sent, so nothing is checked.
    let paid = withdrawn(&app, &operator, &mut payee, "1999.99").await;
    assert_eq!(paid["status"], "settled", "{paid}");
}

async fn an_account_with_no_verified_name_gets_its_2000_withdrawal_back(store: StoreKind) {
    // An L0 account allowed ¥5,000 a withdrawal: it has no verified identity to name.
    let app = spawn_app_with(store, |settings: &mut Settings| {
        settings.withdrawals.levels.l0.per_transaction_max = "5000.00".into();
        settings.withdrawals.levels.l0.daily_amount_max = "10000.00".into();
        settings.withdrawals.levels.l0.monthly_amount_max = "10000.00".into();
    })
    .await;
    let operator = app.operator_token().await;
    let mut payee = payee(&app, "5000.00", json!({ "real_name": "李小龙" })).await;

    let refused = withdrawn(&app, &operator, &mut payee, "2000.00").await;
    assert_eq!((refused["status"].as_str(), refused["failure_reason"].as_str()), (Some("failed"), Some("PARAM_ERROR")));
    assert_eq!(wallet_of(&app, &payee).await, ("5000.00".to_owned(), "0.00".to_owned()), "the hold came back");
    let bill = app.wechat_pay_get(&format!("{BILLS}/out-bill-no/{}", id_of(&refused).trim_start_matches("wd_"))).await;
    assert_error_code(bill, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    app.assert_ledger_balanced().await;
}

async fn assert_error_code(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    let body = json_of(response, status).await;
    assert_eq!(body["code"], code, "{body}");
    body
}

async fn the_mock_refuses_a_bill_from_2000_without_a_name_it_can_decrypt(store: StoreKind) {
    let app = spawn_app(store).await;
    let created = json!({ "nickname": "收款人", "real_name": "张三丰" });
    let user = json_of(app.post("/mock/wechat/users", None, &created).await, StatusCode::CREATED).await;
    assert_eq!(user["real_name"], "张三丰");
    let openid = user["openid"].as_str().unwrap();
    let bill = |out_bill_no: &str, fen: i64, user_name: Option<String>| {
        let mut body = json!({
            "appid": app.settings.mock_wechat.app_id, "out_bill_no": out_bill_no, "openid": openid,
            "transfer_amount": fen, "transfer_remark": "names", "transfer_scene_id": "1000"
        });
        if let Some(user_name) = user_name {
            body["user_name"] = json!(user_name);
        }
        body.to_string()
    };
    let serial = platform_serial(&app);
    let right = [(SERIAL, serial.as_str())];
    let wrong = [(SERIAL, "PUB_KEY_ID_0119000000012026030100000000000002")];

    let refusals = [
        (bill("NAME1", 200_000, None), &right[..], "user_name"),
        (bill("NAME1", 200_000, Some(sealed("张三丰"))), &[][..], "Wechatpay-Serial"),
        (bill("NAME1", 200_000, Some(sealed("张三丰"))), &wrong[..], "Wechatpay-Serial"),
        (bill("NAME1", 100, None), &wrong[..], "Wechatpay-Serial"),
        (bill("NAME1", 200_000, Some("张三丰".into())), &right[..], "加密后的密文"),
    ];
    for (body, headers, said) in refusals {
        let answer = app.wechat_pay_post_with(BILLS, body.clone(), headers).await;
        assert!(answer.headers().contains_key("wechatpay-signature"), "refusals are signed too");
        let refused = assert_error_code(answer, StatusCode::BAD_REQUEST, "PARAM_ERROR").await;
        assert!(refused["message"].as_str().unwrap().contains(said), "{body}: {refused}");
    }
    assert_error_code(
        app.wechat_pay_get(&format!("{BILLS}/out-bill-no/NAME1")).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;

    let paid = app.wechat_pay_post_with(BILLS, bill("NAME2", 200_000, Some(sealed("张三丰"))), &right).await;
    assert_eq!(json_of(paid, StatusCode::OK).await["state"], "SUCCESS");
    let misnamed = app.wechat_pay_post_with(BILLS, bill("NAME3", 200_000, Some(sealed("张三"))), &right).await;
    let misnamed = json_of(misnamed, StatusCode::OK).await;
    assert_eq!(
        (misnamed["state"].as_str(), misnamed["fail_reason"].as_str()),
        (Some("FAIL"), Some("NAME_NOT_CORRECT"))
    );
    let below = app.wechat_pay_post_with(BILLS, bill("NAME4", 199_999, None), &[]).await;
    assert_eq!(json_of(below, StatusCode::OK).await["state"], "SUCCESS", "below ¥2,000 no name is needed");

    let wallet = mock_wallet(&app, openid).await;
    assert_eq!(wallet["balance"], "3999.99");
    let names: Vec<&Value> = wallet["transfers"].as_array().unwrap().iter().map(|t| &t["user_name"]).collect();
    assert_eq!(names, [&json!("张三丰"), &Value::Null]);

    // A tester changes the real name; bills are checked against the new one.
    let renamed = app.client.patch(app.url(&format!("/mock/wechat/users/{openid}")));
    let renamed = renamed.json(&json!({ "real_name": "张三" })).send().await.unwrap();
    assert_eq!(json_of(renamed, StatusCode::OK).await["real_name"], "张三");
    let now_right = app.wechat_pay_post_with(BILLS, bill("NAME5", 200_000, Some(sealed("张三"))), &right).await;
    assert_eq!(json_of(now_right, StatusCode::OK).await["state"], "SUCCESS");
    let blank = json!({ "nickname": "收款人", "real_name": " " });
    assert_error(app.post("/mock/wechat/users", None, &blank).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
        .await;
}

async fn a_rule_makes_the_merchants_cancellation_fail_and_without_one_it_cancels(store: StoreKind) {
    // Bills stay ACCEPTED for 2 s, so they can be cancelled.
    let app = app_with_delays(store, |_| {}).await;
    let operator = app.operator_token().await;
    let user =
        json_of(app.post("/mock/wechat/users", None, &json!({ "nickname": "撤销" })).await, StatusCode::CREATED).await;
    for out_bill_no in ["CANCEL1", "CANCEL2"] {
        let body = json!({
            "appid": app.settings.mock_wechat.app_id, "out_bill_no": out_bill_no, "openid": user["openid"],
            "transfer_amount": 100, "transfer_remark": "cancel", "transfer_scene_id": "1000"
        });
        assert_eq!(json_of(app.wechat_pay_post(BILLS, &body).await, StatusCode::OK).await["state"], "ACCEPTED");
    }
    let cancel = |out_bill_no: &str| format!("{BILLS}/out-bill-no/{out_bill_no}/cancel");

    let limited = json!({
        "match": {"operation": "wechat_pay.cancel", "out_bill_no": "CANCEL1"},
        "respond": {"type": "http_error", "status": 429, "code": "FREQUENCY_LIMITED", "message": "slow down"},
        "times": 1
    });
    let limited = json_of(app.post("/v1/sim/rules", Some(&operator), &limited).await, StatusCode::CREATED).await;
    let answer = app.wechat_pay_post(&cancel("CANCEL1"), &json!({})).await;
    assert_eq!(answer.headers()["x-walletgate-sim-rule"], limited["id"].as_str().unwrap());
    assert_error_code(answer, StatusCode::TOO_MANY_REQUESTS, "FREQUENCY_LIMITED").await;
    let query = app.wechat_pay_get(&format!("{BILLS}/out-bill-no/CANCEL1")).await;
    assert_eq!(json_of(query, StatusCode::OK).await["state"], "ACCEPTED", "the refused cancellation changed nothing");

    let broken =
        json!({ "match": {"operation": "wechat_pay.cancel"}, "respond": {"type": "system_error"}, "times": 1 });
    json_of(app.post("/v1/sim/rules", Some(&operator), &broken).await, StatusCode::CREATED).await;
    let answer = app.wechat_pay_post(&cancel("CANCEL2"), &json!({})).await;
    assert_error_code(answer, StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR").await;

    // The rules spent, cancellation works as before; the first rule never matched the other bill.
    for out_bill_no in ["CANCEL1", "CANCEL2"] {
        let answer = app.wechat_pay_post(&cancel(out_bill_no), &json!({})).await;
        assert!(!answer.headers().contains_key("x-walletgate-sim-rule"));
        assert_eq!(json_of(answer, StatusCode::OK).await["state"], "CANCELING", "{out_bill_no}");
    }

    // A cancellation's calls carry no payee or amount, and cannot be failed like a bill.
    let amounts = json!({ "match": {"operation": "wechat_pay.cancel", "amount_min": "1.00"}, "respond": {"type": "system_error"} });
    assert_error(
        app.post("/v1/sim/rules", Some(&operator), &amounts).await,
        StatusCode::BAD_REQUEST,
        "VALIDATION_FAILED",
    )
    .await;
    let fail = json!({ "match": {"operation": "wechat_pay.cancel"}, "respond": {"type": "fail", "fail_reason": "ACCOUNT_FROZEN"} });
    assert_error(app.post("/v1/sim/rules", Some(&operator), &fail).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
        .await;
}

async fn log_in_bob(app: &TestApp) -> TestUser {
    let token = app.login_phone("13800000002", "bob-demo").await["access_token"].as_str().unwrap().to_owned();
    TestUser { id: "acc_demo_bob".into(), phone: "13800000002".into(), token }
}

/// The demo accounts above L0 were verified with an identity when seeded,
/// as every verified account is: Bob (L2) withdraws ¥2,000 to WeChat in his
/// own name, and his ID number is what a PIN reset asks about.
async fn a_verified_demo_account_withdraws_2000_in_its_own_name(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let bob = log_in_bob(&app).await;
    let me = json_of(app.me(&bob.token).await, StatusCode::OK).await;
    assert_eq!(
        (me["verification_level"].as_str(), me["pin_reset_needs_id_number"].as_bool()),
        (Some("L2"), Some(true)),
        "{me}"
    );
    let carol = app.login_phone("13800000003", "carol-demo").await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(json_of(app.me(&carol).await, StatusCode::OK).await["verification_level"], "L1");
    // The recipient lookup shows the verified name, masked, as for any verified user.
    let found = json_of(app.get("/v1/transfers/recipient?to=13800000002", Some(&carol)).await, StatusCode::OK).await;
    assert_eq!((found["name"].as_str(), found["verified"].as_bool()), (Some("*博"), Some(true)), "{found}");

    let openid = wechat_user(&app, "王博", json!({ "real_name": "王博" })).await;
    let binding = Phone::of(&app, &bob).bind(Choice::Existing(&openid)).await;
    app.set_pin(&bob, PIN).await;
    let payee = Payee { user: bob, binding_id: binding["id"].as_str().unwrap().to_owned(), openid };
    let created = withdraw(&app, &payee, "2000.00").await;
    let id = id_of(&created);
    if created["status"] == "in_review" {
        json_of(approve(&app, &operator, &id).await, StatusCode::OK).await;
    }
    app.clock.advance(Duration::seconds(6));
    settle(&app).await;
    let bob = log_in_bob(&app).await;
    let paid = json_of(app.get(&format!("/v1/withdrawals/{id}"), Some(&bob.token)).await, StatusCode::OK).await;
    assert_eq!((paid["status"].as_str(), &paid["failure_reason"]), (Some("settled"), &Value::Null), "{paid}");
    let transfers = mock_wallet(&app, &payee.openid).await["transfers"].clone();
    assert_eq!(transfers[0]["user_name"], "王博", "{transfers}");
    app.assert_ledger_balanced().await;
}
