//! Withdrawals to Alipay accounts, on every store: the worker pays them with
//! a signed `alipay.fund.trans.uni.transfer` under the withdrawal's bill
//! number (in-process and over HTTP alike), each `sub_code` gives the
//! withdrawal its outcome (a payee-side one fails it and gives the hold
//! back; `SYSTEM_ERROR`, 20000 and `DEALING` are queried and retried with
//! the same `out_biz_no`), and a transfer whose answer is lost pays once.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletgate::domain::account::AccountId;
use walletgate::domain::binding::{Destination, DestinationProvider};
use walletgate::settings::{AlipayClientKind, FeeSettings, Settings};

use crate::alipay_bindings::AlipayChoice;
use crate::bindings::Phone;
use crate::helpers::{StoreKind, TestApp, json_of, spawn_app, spawn_app_with};
use crate::on_both_stores;
use crate::settlement::{PIN, Payee, approve, id_of, settle, withdraw, withdrawal};

on_both_stores!(
    an_alipay_withdrawal_is_paid_by_a_signed_transfer_and_settles_once,
    each_payee_sub_code_fails_the_withdrawal_and_gives_the_hold_back,
    a_dealing_order_is_queried_then_sent_again_and_settles_once,
    system_errors_are_queried_and_retried_with_the_same_out_biz_no,
    a_transfer_whose_answer_is_lost_pays_exactly_once,
    a_payer_side_refusal_is_retried_and_parked_not_given_back,
    alipay_transfer_rules_are_checked_and_answer_the_http_gateway,
    alipay_withdrawals_pay_alipays_fees_from_a_free_quota_of_their_own,
);

/// A mock Alipay user with `fields` (`real_name`, `frozen`, `info_abnormal`, `unverified`).
pub(crate) async fn alipay_user(app: &TestApp, fields: Value) -> Value {
    let mut body = json!({ "nick_name": "支付宝用户", "real_name": "李小龙" });
    body.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
    json_of(app.post("/mock/alipay/users", None, &body).await, StatusCode::CREATED).await
}

async fn alipay_balance(app: &TestApp, user: &Value) -> String {
    let path = format!("/mock/alipay/users/{}", user["user_id"].as_str().unwrap());
    let found = json_of(app.get(&path, None).await, StatusCode::OK).await;
    found["wallet"]["balance"].as_str().unwrap().to_owned()
}

/// A funded user with a payment PIN whose active Alipay binding pays a
/// crafted `identity` named `real_name`, written to the store directly: for
/// identities no consent can give (a payee Alipay does not know, a name
/// other than the certified one).
async fn alipay_payee_of(app: &TestApp, operator: &str, identity: &str, real_name: &str, balance: &str) -> Payee {
    let user = app.new_phone_user().await;
    let account_id = AccountId::parse(&user.id).unwrap();
    let destination = Destination {
        provider: DestinationProvider::Alipay,
        openid: identity.to_owned(),
        unionid: None,
        nickname: "支付宝用户".into(),
        avatar_url: String::new(),
        real_name: Some(real_name.to_owned()),
    };
    let (binding_id, _) = app
        .services
        .partitions
        .update_account(&account_id, |account, now| {
            let id = account.start_binding(DestinationProvider::Alipay, now, Duration::minutes(10))?;
            account.authorize_binding(&id, destination.clone(), now, Duration::minutes(10))?;
            account.activate_binding(&id, now)?;
            Ok((id, Vec::new()))
        })
        .await
        .unwrap();
    json_of(app.credit(operator, &user.id, balance).await, StatusCode::CREATED).await;
    app.set_pin(&user, PIN).await;
    Payee { user, binding_id: binding_id.to_string(), openid: identity.to_owned() }
}

/// A funded user with a payment PIN who bound the mock Alipay `user`
/// through the HTTP flow (start, consent as that user, callback, SMS code,
/// confirm).
async fn alipay_payee(app: &TestApp, operator: &str, user: &Value, balance: &str) -> Payee {
    let account = app.new_phone_user().await;
    let user_id = user["user_id"].as_str().unwrap();
    let binding = Phone::of(app, &account).bind_alipay(AlipayChoice::Existing(user_id)).await;
    json_of(app.credit(operator, &account.id, balance).await, StatusCode::CREATED).await;
    app.set_pin(&account, PIN).await;
    let binding_id = binding["id"].as_str().unwrap().to_owned();
    Payee { user: account, binding_id, openid: user["open_id"].as_str().unwrap().to_owned() }
}

/// A withdrawal of `amount`, approved if it waits for review, and due.
async fn approved(app: &TestApp, operator: &str, payee: &Payee, amount: &str) -> String {
    let created = withdraw(app, payee, amount).await;
    let id = id_of(&created);
    if created["status"] == "in_review" {
        json_of(approve(app, operator, &id).await, StatusCode::OK).await;
    }
    // Past `withdrawals.auto_review_delay_secs` of an automatic one.
    app.clock.advance(Duration::seconds(10));
    id
}

async fn status_of(app: &TestApp, payee: &mut Payee, id: &str) -> Value {
    let found = app.get(&format!("/v1/withdrawals/{id}"), Some(&payee.user.token)).await;
    if found.status() == StatusCode::UNAUTHORIZED {
        // The clock went past the access token's lifetime.
        app.log_in_again(&mut payee.user).await;
    }
    withdrawal(app, payee, id).await
}

async fn add_rule(app: &TestApp, operator: &str, rule: Value) -> Value {
    json_of(app.post("/v1/sim/rules", Some(operator), &rule).await, StatusCode::CREATED).await
}

fn over_http(settings: &mut Settings) {
    settings.alipay.client = AlipayClientKind::Http;
}

/// The same app built in-process and with the HTTP client.
async fn with_each_client(store: StoreKind) -> [TestApp; 2] {
    [spawn_app(store).await, spawn_app_with(store, over_http).await]
}

async fn an_alipay_withdrawal_is_paid_by_a_signed_transfer_and_settles_once(store: StoreKind) {
    for app in with_each_client(store).await {
        let operator = app.operator_token().await;
        let user = alipay_user(&app, json!({})).await;
        let mut payee = alipay_payee(&app, &operator, &user, "500.00").await;
        let merchant_before = json_of(app.get("/mock/alipay/merchant", None).await, StatusCode::OK).await;
        let id = approved(&app, &operator, &payee, "120.00").await;
        let report = settle(&app).await;
        assert_eq!(report.settled, 1, "{report:?}");
        assert_eq!(alipay_balance(&app, &user).await, "120.00");
        let found = status_of(&app, &mut payee, &id).await;
        assert_eq!(found["status"], "settled", "{found}");
        assert_eq!(found["destination"]["provider"], "alipay", "{found}");
        // Each movement of the withdrawal names the wallet it went to.
        let history = json_of(app.transactions(&payee.user.token, "").await, StatusCode::OK).await;
        let movements: Vec<_> = history["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| item["withdrawal_id"] == id.as_str())
            .map(|item| (item["kind"].as_str().unwrap(), item["provider"].as_str()))
            .collect();
        let said = [("withdrawal_settlement", Some("alipay")), ("withdrawal_hold", Some("alipay"))];
        assert_eq!(movements, said, "{history}");
        assert_eq!(settle(&app).await.settled, 0, "nothing is paid twice");
        assert_eq!(alipay_balance(&app, &user).await, "120.00");
        let merchant = json_of(app.get("/mock/alipay/merchant", None).await, StatusCode::OK).await;
        let paid = |m: &Value| m["balance"].as_str().unwrap().parse::<f64>().unwrap();
        assert!((paid(&merchant_before) - paid(&merchant) - 120.0).abs() < 1e-9, "{merchant}");
        let ledger = app.assert_ledger_balanced().await;
        assert_eq!(ledger["totals"]["alipay_settlement"], "120.00", "{ledger}");
        assert_eq!(ledger["totals"]["wechat_settlement"], "0.00", "{ledger}");
        // The out_biz_no is the withdrawal's bill number: Alipay knows the order by it.
        let journal = json_of(app.get("/mock/requests?provider=alipay", None).await, StatusCode::OK).await;
        let bill_no = id.trim_start_matches("wd_");
        assert!(journal.to_string().contains(bill_no), "the transfer is journaled by its out_biz_no: {journal}");
    }
}

async fn each_payee_sub_code_fails_the_withdrawal_and_gives_the_hold_back(store: StoreKind) {
    // An unverified payee may receive ¥5.00 a day here (¥1,000.00 on Alipay).
    let app = spawn_app_with(store, |settings| settings.mock_alipay.unverified_payee_day_max = "5.00".into()).await;
    let operator = app.operator_token().await;
    let frozen = alipay_user(&app, json!({ "frozen": true })).await;
    let abnormal = alipay_user(&app, json!({ "info_abnormal": true })).await;
    let unverified = alipay_user(&app, json!({ "unverified": true })).await;
    let plain = alipay_user(&app, json!({})).await;
    let plain_open_id = plain["open_id"].as_str().unwrap();
    let cases = [
        (alipay_payee(&app, &operator, &frozen, "2000.00").await, "10.00", "PAYEE_ACCOUNT_STATUS_ERROR"),
        (alipay_payee(&app, &operator, &abnormal, "2000.00").await, "10.00", "PAYEE_USERINFO_STATUS_ERROR"),
        (alipay_payee(&app, &operator, &unverified, "2000.00").await, "10.00", "EXCEED_LIMIT_UNRN_DM_AMOUNT"),
        (alipay_payee_of(&app, &operator, plain_open_id, "别人", "2000.00").await, "10.00", "PAYEE_USER_INFO_ERROR"),
        (
            alipay_payee_of(&app, &operator, "0nobody0000000000000000000000000000000000000000", "张三", "2000.00")
                .await,
            "10.00",
            "PAYEE_NOT_EXIST",
        ),
    ];
    for (mut payee, amount, sub_code) in cases {
        let id = approved(&app, &operator, &payee, amount).await;
        let report = settle(&app).await;
        assert_eq!(report.failed, 1, "{sub_code}: {report:?}");
        let found = status_of(&app, &mut payee, &id).await;
        assert_eq!((found["status"].as_str(), found["failure_reason"].as_str()), (Some("failed"), Some(sub_code)));
        assert_eq!(app.available(&payee.user.token).await, "2000.00", "{sub_code}: the hold comes back in full");
    }
    // A sub_code a rule forces fails the same way.
    let mut payee = alipay_payee(&app, &operator, &plain, "300.00").await;
    add_rule(
        &app,
        &operator,
        json!({ "match": { "operation": "alipay.transfer", "payee": plain_open_id },
                "respond": { "type": "alipay_fail", "sub_code": "PERMIT_CHECK_PERM_IDENTITY_THEFT" } }),
    )
    .await;
    let id = approved(&app, &operator, &payee, "30.00").await;
    assert_eq!(settle(&app).await.failed, 1);
    let found = status_of(&app, &mut payee, &id).await;
    assert_eq!(found["failure_reason"], "PERMIT_CHECK_PERM_IDENTITY_THEFT");
    assert_eq!(app.available(&payee.user.token).await, "300.00");
    for user in [&frozen, &abnormal, &unverified, &plain] {
        assert_eq!(alipay_balance(&app, user).await, "0.00", "nobody was paid");
    }
    app.assert_ledger_balanced().await;
}

async fn a_dealing_order_is_queried_then_sent_again_and_settles_once(store: StoreKind) {
    for app in with_each_client(store).await {
        let operator = app.operator_token().await;
        let user = alipay_user(&app, json!({})).await;
        let mut payee = alipay_payee(&app, &operator, &user, "500.00").await;
        add_rule(
            &app,
            &operator,
            json!({ "match": { "operation": "alipay.transfer" }, "respond": { "type": "processing" }, "times": 1 }),
        )
        .await;
        let id = approved(&app, &operator, &payee, "50.00").await;
        let report = settle(&app).await;
        assert_eq!(report.retried, 1, "DEALING, and the query says DEALING too: {report:?}");
        let found = status_of(&app, &mut payee, &id).await;
        assert_eq!(found["status"], "processing");
        assert_eq!(alipay_balance(&app, &user).await, "0.00");
        app.clock.advance(Duration::minutes(5));
        assert_eq!(settle(&app).await.settled, 1, "the same out_biz_no is decided on the next send");
        assert_eq!(status_of(&app, &mut payee, &id).await["status"], "settled");
        assert_eq!(alipay_balance(&app, &user).await, "50.00");
    }
}

async fn system_errors_are_queried_and_retried_with_the_same_out_biz_no(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let user = alipay_user(&app, json!({})).await;
    let mut payee = alipay_payee(&app, &operator, &user, "500.00").await;
    for respond in [json!({ "type": "alipay_fail", "sub_code": "SYSTEM_ERROR" }), json!({ "type": "system_error" })] {
        add_rule(
            &app,
            &operator,
            json!({ "match": { "operation": "alipay.transfer" }, "respond": respond, "times": 1 }),
        )
        .await;
        let id = approved(&app, &operator, &payee, "20.00").await;
        let report = settle(&app).await;
        assert_eq!(report.retried, 1, "{respond}: unknown, queried, no order yet: {report:?}");
        let found = status_of(&app, &mut payee, &id).await;
        assert_eq!(found["status"], "processing", "{respond}: not given back");
        app.clock.advance(Duration::minutes(5));
        assert_eq!(settle(&app).await.settled, 1, "{respond}");
    }
    assert_eq!(alipay_balance(&app, &user).await, "40.00");
    app.assert_ledger_balanced().await;
}

async fn a_transfer_whose_answer_is_lost_pays_exactly_once(store: StoreKind) {
    for app in with_each_client(store).await {
        let operator = app.operator_token().await;
        let user = alipay_user(&app, json!({})).await;
        let mut payee = alipay_payee(&app, &operator, &user, "500.00").await;
        for fault in ["connection_reset", "malformed_body", "empty_response"] {
            let rule = json!({ "match": { "operation": "alipay.transfer" },
                               "respond": { "type": "fault", "fault": fault }, "times": 1 });
            add_rule(&app, &operator, rule).await;
        }
        let first = approved(&app, &operator, &payee, "10.00").await;
        // The transfer is made and its answer lost; the query finds it paid.
        let report = settle(&app).await;
        assert_eq!(report.settled, 1, "{report:?}");
        assert_eq!(alipay_balance(&app, &user).await, "10.00");
        let second = approved(&app, &operator, &payee, "11.00").await;
        assert_eq!(settle(&app).await.settled, 1);
        let third = approved(&app, &operator, &payee, "12.00").await;
        assert_eq!(settle(&app).await.settled, 1);
        assert_eq!(alipay_balance(&app, &user).await, "33.00", "each paid once");
        for id in [first, second, third] {
            assert_eq!(status_of(&app, &mut payee, &id).await["status"], "settled");
        }
        app.assert_ledger_balanced().await;
    }
}

async fn a_payer_side_refusal_is_retried_and_parked_not_given_back(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.worker.payout_attempts_max = 2).await;
    let operator = app.operator_token().await;
    let user = alipay_user(&app, json!({})).await;
    let mut payee = alipay_payee(&app, &operator, &user, "500.00").await;
    let response = app.client.patch(app.url("/mock/alipay/merchant")).json(&json!({ "balance": "5.00" })).send().await;
    assert_eq!(response.unwrap().status(), StatusCode::OK);
    let id = approved(&app, &operator, &payee, "10.00").await;
    assert_eq!(settle(&app).await.retried, 1, "PAYER_BALANCE_NOT_ENOUGH may pass");
    app.clock.advance(Duration::minutes(10));
    assert_eq!(settle(&app).await.retried, 1);
    app.clock.advance(Duration::minutes(10));
    let report = settle(&app).await;
    assert_eq!(report.parked, 1, "{report:?}");
    let found = status_of(&app, &mut payee, &id).await;
    assert_eq!(found["status"], "processing", "parked for an operator, the hold kept: {found}");
    assert_eq!(app.available(&payee.user.token).await, "490.00");
    // An operator's rejection asks Alipay first: no order, so the hold comes back.
    let operator = app.operator_token().await;
    let rejected = crate::settlement::reject(&app, &operator, &id, "merchant balance").await;
    assert_eq!(rejected.status(), StatusCode::OK);
    assert_eq!(app.available(&payee.user.token).await, "500.00");
}

async fn alipay_transfer_rules_are_checked_and_answer_the_http_gateway(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    for (rule, field) in [
        (
            json!({ "match": { "operation": "wechat_pay.transfer" }, "respond": { "type": "alipay_fail", "sub_code": "X" } }),
            "respond.type",
        ),
        (
            json!({ "match": { "operation": "alipay.transfer" }, "respond": { "type": "fail", "fail_reason": "ACCOUNT_FROZEN" } }),
            "respond.type",
        ),
        (
            json!({ "match": { "operation": "alipay.transfer" }, "respond": { "type": "alipay_fail", "sub_code": "no way" } }),
            "respond.sub_code",
        ),
        (
            json!({ "match": { "operation": "alipay.transfer", "phone": "13800000000" }, "respond": { "type": "system_error" } }),
            "match.phone",
        ),
        (
            json!({ "match": { "operation": "alipay.oauth_token", "payee": "2088000000000001" }, "respond": { "type": "system_error" } }),
            "match.payee",
        ),
        (json!({ "match": { "operation": "alipay.user_info" }, "respond": { "type": "processing" } }), "respond.type"),
        (
            json!({ "match": { "operation": "alipay.oauth_token" }, "respond": { "type": "alipay_fail", "sub_code": "X" } }),
            "respond.type",
        ),
    ] {
        let refused = app.post("/v1/sim/rules", Some(&operator), &rule).await;
        let body = crate::helpers::assert_error(refused, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        assert!(body.to_string().contains(field), "{field}: {body}");
    }
    // A rule on an amount range answers the HTTP gateway too.
    let app = spawn_app_with(store, over_http).await;
    let operator = app.operator_token().await;
    let user = alipay_user(&app, json!({})).await;
    let rule = add_rule(
        &app,
        &operator,
        json!({ "match": { "operation": "alipay.transfer", "amount_min": "7.00", "amount_max": "8.00" },
                "respond": { "type": "http_error", "status": 502, "code": "BAD_GATEWAY" }, "times": 1 }),
    )
    .await;
    let mut payee = alipay_payee(&app, &operator, &user, "100.00").await;
    let id = approved(&app, &operator, &payee, "7.50").await;
    assert_eq!(settle(&app).await.retried, 1, "the 502 is an unknown result");
    let rules = json_of(app.get("/v1/sim/rules", Some(&operator)).await, StatusCode::OK).await;
    let counted = rules.to_string();
    assert!(counted.contains(rule["id"].as_str().unwrap()) && counted.contains("\"matched\":1"), "{rules}");
    app.clock.advance(Duration::minutes(5));
    assert_eq!(settle(&app).await.settled, 1);
    assert_eq!(status_of(&app, &mut payee, &id).await["status"], "settled");
    assert_eq!(alipay_balance(&app, &user).await, "7.50");
}

async fn quote(app: &TestApp, payee: &Payee, amount: &str) -> reqwest::Response {
    let body = json!({ "amount": amount, "binding_id": payee.binding_id });
    app.post("/v1/withdrawals/quote", Some(&payee.user.token), &body).await
}

/// The free quota `/v1/wallet` says `provider`'s destination still leaves.
fn free_quota_left(wallet: &Value, provider: &str) -> String {
    let quotas = wallet["fee_free_quotas"].as_array().expect("fee_free_quotas");
    let quota = quotas.iter().find(|quota| quota["provider"] == provider).expect("the provider's quota");
    quota["remaining"].as_str().unwrap().to_owned()
}

async fn alipay_withdrawals_pay_alipays_fees_from_a_free_quota_of_their_own(store: StoreKind) {
    // Alipay's schedule with a ¥100.00 quota here (¥20,000.00 by default), WeChat's ¥1,000.00 as configured.
    let app = spawn_app_with(store, |settings| {
        let alipay = FeeSettings { free_quota: "100.00".into(), fee_rate: "0.002".into(), min_fee: "0.20".into() };
        settings.withdrawals.fees.alipay = Some(alipay);
    })
    .await;
    let operator = app.operator_token().await;
    let user = alipay_user(&app, json!({})).await;
    let mut payee = alipay_payee(&app, &operator, &user, "900.00").await;
    let wallet = json_of(app.wallet(&payee.user.token).await, StatusCode::OK).await;
    assert_eq!(free_quota_left(&wallet, "alipay"), "100.00", "{wallet}");
    assert_eq!(free_quota_left(&wallet, "wechat"), "1000.00", "{wallet}");
    assert_eq!(wallet["fee_free_quota_remaining"], "1000.00", "the old field stays WeChat's: {wallet}");

    // A withdrawal spends its share of the quota while held and gives it back when it fails.
    let fail_once = json!({ "match": { "operation": "alipay.transfer" },
        "respond": { "type": "alipay_fail", "sub_code": "PAYEE_NOT_EXIST" }, "times": 1 });
    add_rule(&app, &operator, fail_once).await;
    let failed = approved(&app, &operator, &payee, "60.00").await;
    let wallet = json_of(app.wallet(&payee.user.token).await, StatusCode::OK).await;
    assert_eq!(free_quota_left(&wallet, "alipay"), "40.00", "{wallet}");
    assert_eq!(settle(&app).await.failed, 1);
    assert_eq!(status_of(&app, &mut payee, &failed).await["failure_reason"], "PAYEE_NOT_EXIST");
    let wallet = json_of(app.wallet(&payee.user.token).await, StatusCode::OK).await;
    assert_eq!((wallet["available"].as_str(), free_quota_left(&wallet, "alipay")), (Some("900.00"), "100.00".into()));

    // ¥300.00: ¥100.00 free, 0.2 % of ¥200.00 is ¥0.40; by Alipay's rule, not WeChat's (which is free here).
    let quoted = json_of(quote(&app, &payee, "300.00").await, StatusCode::OK).await;
    assert_eq!((quoted["fee"].as_str(), quoted["total_debit"].as_str()), (Some("0.40"), Some("300.40")), "{quoted}");
    assert_eq!(quoted["fee_rule"], json!({ "rate": "0.002", "minimum": "0.20" }), "{quoted}");
    assert_eq!(quoted["fee_free_quota_after"], "0.00", "{quoted}");
    let id = approved(&app, &operator, &payee, "300.00").await;
    assert_eq!(settle(&app).await.settled, 1);
    assert_eq!(alipay_balance(&app, &user).await, "300.00", "the payee gets the amount, the fee stays");
    assert_eq!(status_of(&app, &mut payee, &id).await["fee"], "0.40");
    let wallet = json_of(app.wallet(&payee.user.token).await, StatusCode::OK).await;
    let left = (free_quota_left(&wallet, "alipay"), free_quota_left(&wallet, "wechat"));
    assert_eq!(left, ("0.00".to_owned(), "1000.00".to_owned()), "WeChat's quota is untouched: {wallet}");
    assert_eq!(wallet["available"], "599.60", "{wallet}");
    // Past the quota, a small withdrawal pays the minimum.
    assert_eq!(json_of(quote(&app, &payee, "10.00").await, StatusCode::OK).await["fee"], "0.20");
    let ledger = app.assert_ledger_balanced().await;
    assert_eq!(ledger["totals"]["fees"], "0.40", "{ledger}");
}
