//! The mock Alipay open platform, over HTTP as an SDK and a browser meet it,
//! on every store: the gateway's common parameters and RSA2 signatures both
//! ways, the consent page and `auth_code`s, tokens and their refresh, user
//! info, transfers with each `sub_code` the payee's flags and the merchant
//! decide, idempotency by `out_biz_no` (concurrent sends pay once), queries,
//! the users resource, the journal and the simulator's reset.

use reqwest::StatusCode;
use serde_json::{Value, json};
use url::Url;
use walletgate::domain::rsa2::{self, test_keys};

use crate::helpers::{StoreKind, TestApp, assert_error, json_of, spawn_app, spawn_app_with};
use crate::on_both_stores;
use crate::sim_reset::reset;

const APP_ID: &str = "2021004100000001";
const GATEWAY: &str = "/mock/alipay/gateway.do";
const AUTHORIZE: &str = "/mock/alipay/oauth2/publicAppAuthorize.htm";
const REDIRECT_URI: &str = "http://127.0.0.1:9/alipay/callback";
const TOKEN: &str = "alipay.system.oauth.token";
const USER_INFO: &str = "alipay.user.info.share";
const TRANSFER: &str = "alipay.fund.trans.uni.transfer";
const QUERY: &str = "alipay.fund.trans.common.query";

/// What an SDK does: sign requests with the app's key, verify answers with the platform's.
struct Sdk<'a> {
    app: &'a TestApp,
    key: rsa2::PrivateKey,
    platform: rsa2::PublicKey,
}

fn node_of(method: &str) -> String {
    format!("{}_response", method.replace('.', "_"))
}

impl<'a> Sdk<'a> {
    fn new(app: &'a TestApp) -> Sdk<'a> {
        Sdk {
            app,
            key: rsa2::private_key(test_keys::APP_PRIVATE_KEY_PEM).unwrap(),
            platform: rsa2::public_key(test_keys::PLATFORM_PUBLIC_KEY_PEM).unwrap(),
        }
    }

    /// The common parameters and `params`, signed.
    fn signed(&self, method: &str, params: &[(&str, &str)]) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = [
            ("app_id", APP_ID),
            ("method", method),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("timestamp", "2026-03-01 17:30:00"),
            ("version", "1.0"),
        ]
        .iter()
        .chain(params)
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
        let sign = rsa2::sign(&self.key, &rsa2::sign_content(pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))));
        pairs.push(("sign".into(), sign));
        pairs
    }

    /// POSTs as the SDKs do: `biz_content` and the method's own parameters
    /// in the form body, the common ones in the query string.
    async fn post(&self, pairs: &[(String, String)]) -> String {
        let in_body = |name: &str| matches!(name, "biz_content" | "grant_type" | "code" | "refresh_token");
        let query: Vec<_> = pairs.iter().filter(|(name, _)| !in_body(name)).collect();
        let body: Vec<_> = pairs.iter().filter(|(name, _)| in_body(name)).collect();
        let url = format!("{}?{}", self.app.url(GATEWAY), serde_urlencoded::to_string(&query).unwrap());
        let response = self.app.client.post(url).form(&body).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
        response.text().await.unwrap()
    }

    /// A signed call, its answer's node with the platform's signature checked.
    async fn call(&self, method: &str, params: &[(&str, &str)]) -> Value {
        let answer = self.post(&self.signed(method, params)).await;
        self.verified(&answer, &node_of(method))
    }

    /// The node's JSON, after checking the platform signed its exact text.
    fn verified(&self, answer: &str, node: &str) -> Value {
        let (text, sign) = rsa2::signed_part(answer, node).unwrap_or_else(|| panic!("no signed {node}: {answer}"));
        assert!(rsa2::verify(&self.platform, text, sign), "bad platform signature: {answer}");
        serde_json::from_str(text).unwrap()
    }

    async fn transfer(&self, biz: &Value) -> Value {
        self.call(TRANSFER, &[("biz_content", &biz.to_string())]).await
    }

    async fn query(&self, biz: &Value) -> Value {
        self.call(QUERY, &[("biz_content", &biz.to_string())]).await
    }

    /// A token call's answer: the method's node on success, `error_response` (signed) on failure.
    async fn token(&self, params: &[(&str, &str)]) -> Value {
        let answer = self.post(&self.signed(TOKEN, params)).await;
        let node = if answer.contains("\"error_response\"") { "error_response".to_owned() } else { node_of(TOKEN) };
        self.verified(&answer, &node)
    }
}

/// An unsigned gateway refusal's `error_response`.
fn refusal(answer: &str) -> Value {
    let body: Value = serde_json::from_str(answer).unwrap();
    assert!(body.get("sign").is_none(), "a refusal the gateway cannot tie to the app is unsigned: {answer}");
    body["error_response"].clone()
}

fn assert_failure(node: &Value, code: &str, sub_code: &str) {
    assert_eq!((node["code"].as_str(), node["sub_code"].as_str()), (Some(code), Some(sub_code)), "{node}");
    assert!(node["sub_msg"].as_str().is_some_and(|msg| !msg.is_empty()), "{node}");
}

async fn create_user(app: &TestApp, body: Value) -> Value {
    json_of(app.post("/mock/alipay/users", None, &body).await, StatusCode::CREATED).await
}

async fn user(app: &TestApp, user_id: &str) -> Value {
    json_of(app.get(&format!("/mock/alipay/users/{user_id}"), None).await, StatusCode::OK).await
}

async fn patch(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.client.patch(app.url(path)).json(&body).send().await.unwrap()
}

fn transfer_biz(out_biz_no: &str, amount: &str, identity: &str, identity_type: &str, name: Option<&str>) -> Value {
    let mut payee = json!({ "identity": identity, "identity_type": identity_type });
    if let Some(name) = name {
        payee["name"] = json!(name);
    }
    json!({
        "out_biz_no": out_biz_no, "trans_amount": amount, "product_code": "TRANS_ACCOUNT_NO_PWD",
        "biz_scene": "DIRECT_TRANSFER", "order_title": "OK钱包提现", "payee_info": payee
    })
}

fn to_user(out_biz_no: &str, amount: &str, user: &Value) -> Value {
    transfer_biz(out_biz_no, amount, user["user_id"].as_str().unwrap(), "ALIPAY_USER_ID", None)
}

/// A browser that does not follow redirects, to see the 302s.
fn browser() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap()
}

/// Consents with `fields` (over the defaults) and returns where the browser is sent.
async fn consent(app: &TestApp, fields: &[(&str, &str)]) -> Url {
    let mut form: Vec<(&str, &str)> =
        vec![("app_id", APP_ID), ("scope", "auth_user"), ("redirect_uri", REDIRECT_URI), ("state", "st4te")];
    form.extend_from_slice(fields);
    let response = browser().post(app.url(AUTHORIZE)).form(&form).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND, "{}", response.text().await.unwrap_or_default());
    Url::parse(response.headers()["location"].to_str().unwrap()).unwrap()
}

fn query_param(url: &Url, name: &str) -> Option<String> {
    url.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

/// A new user's `auth_code` from the consent page.
async fn auth_code(app: &TestApp, nick_name: &str) -> String {
    let target = consent(app, &[("action", "allow"), ("nick_name", nick_name), ("real_name", "张三")]).await;
    query_param(&target, "auth_code").expect("an auth_code")
}

on_both_stores!(
    a_signed_call_is_answered_in_its_node_and_signed_by_the_platform,
    calls_the_gateway_cannot_tie_to_the_app_are_refused_unsigned,
    the_keys_endpoint_gives_what_an_sdk_is_configured_with,
    the_consent_page_offers_users_and_redirects_with_an_auth_code,
    an_auth_code_buys_tokens_once_and_expires,
    a_refresh_token_is_used_once_and_expires_after_30_days,
    user_info_needs_a_live_auth_user_token,
    a_transfer_pays_the_payee_once_and_is_found_by_either_number,
    each_payee_flag_and_limit_fails_a_transfer_with_its_sub_code,
    the_merchant_balance_and_day_limit_refuse_without_keeping_an_order,
    the_same_out_biz_no_with_other_parameters_is_inconsistent,
    twenty_concurrent_sends_of_one_out_biz_no_pay_once,
    mock_users_are_created_listed_and_changed,
    the_journal_records_gateway_calls_with_tokens_masked,
    a_reset_wipes_the_mock_alipay,
);

async fn a_signed_call_is_answered_in_its_node_and_signed_by_the_platform(store: StoreKind) {
    let app = spawn_app(store).await;
    let sdk = Sdk::new(&app);
    let biz =
        json!({ "out_biz_no": "nothing1", "product_code": "TRANS_ACCOUNT_NO_PWD", "biz_scene": "DIRECT_TRANSFER" });
    let answer = sdk.post(&sdk.signed(QUERY, &[("biz_content", &biz.to_string())])).await;
    assert!(answer.starts_with(r#"{"alipay_fund_trans_common_query_response":{"code":"40004""#), "{answer}");
    assert_failure(&sdk.verified(&answer, &node_of(QUERY)), "40004", "ORDER_NOT_EXIST");

    // Everything in the query string works too, by GET.
    let pairs = sdk.signed(QUERY, &[("biz_content", &biz.to_string())]);
    let url = format!("{}?{}", app.url(GATEWAY), serde_urlencoded::to_string(&pairs).unwrap());
    let by_get = app.client.get(url).send().await.unwrap().text().await.unwrap();
    assert_failure(&sdk.verified(&by_get, &node_of(QUERY)), "40004", "ORDER_NOT_EXIST");

    // A signature by another key, or a parameter changed after signing, is refused.
    let mut tampered = sdk.signed(QUERY, &[("biz_content", &biz.to_string())]);
    tampered.iter_mut().find(|(name, _)| name == "timestamp").unwrap().1 = "2026-03-01 17:30:01".into();
    let refused = refusal(&sdk.post(&tampered).await);
    assert_failure(&refused, "40002", "isv.invalid-signature");
    assert!(refused["sub_msg"].as_str().unwrap().contains("timestamp=2026-03-01 17:30:01"), "{refused}");
    let stranger = Sdk { key: rsa2::private_key(test_keys::PLATFORM_PRIVATE_KEY_PEM).unwrap(), ..Sdk::new(&app) };
    let refused = refusal(&stranger.post(&stranger.signed(QUERY, &[("biz_content", &biz.to_string())])).await);
    assert_failure(&refused, "40002", "isv.invalid-signature");
}

async fn calls_the_gateway_cannot_tie_to_the_app_are_refused_unsigned(store: StoreKind) {
    let app = spawn_app(store).await;
    let sdk = Sdk::new(&app);
    let with = |changes: &[(&str, &str)]| {
        let mut pairs = sdk.signed(USER_INFO, &[("auth_token", "authusrB0")]);
        for (name, value) in changes {
            pairs.retain(|(n, _)| n != name);
            if !value.is_empty() {
                pairs.push((name.to_string(), value.to_string()));
            }
        }
        pairs
    };
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (&[("sign", "")], "40001", "isv.missing-signature"),
        (&[("app_id", "")], "40001", "isv.missing-app-id"),
        (&[("app_id", "2021000000000009")], "40002", "isv.invalid-app-id"),
        (&[("method", "alipay.trade.pay")], "40002", "isv.invalid-method"),
        (&[("method", "")], "40001", "isv.missing-method"),
        (&[("timestamp", "1772357400")], "40002", "isv.invalid-timestamp"),
        (&[("sign_type", "RSA")], "40002", "isv.invalid-signature-type"),
        (&[("charset", "GBK")], "40002", "isv.invalid-charset"),
    ];
    for (changes, code, sub_code) in cases {
        assert_failure(&refusal(&sdk.post(&with(changes)).await), code, sub_code);
    }
    let empty = app.client.post(app.url(GATEWAY)).send().await.unwrap().text().await.unwrap();
    assert_failure(&refusal(&empty), "40001", "isv.missing-app-id");
    let not_a_form = app.post_raw(GATEWAY, None, "application/x-www-form-urlencoded", "AAA".into()).await;
    let body = assert_error(not_a_form, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(body["error"]["details"]["field"], "body");
}

async fn the_keys_endpoint_gives_what_an_sdk_is_configured_with(store: StoreKind) {
    let app = spawn_app(store).await;
    let keys = json_of(app.get("/mock/alipay/keys", None).await, StatusCode::OK).await;
    assert_eq!((keys["app_id"].as_str(), keys["sign_type"].as_str()), (Some(APP_ID), Some("RSA2")));
    assert_eq!(keys["published_test_keys"], true);
    let pkcs1 = keys["app_private_key_pkcs1"].as_str().unwrap();
    assert!(pkcs1.starts_with("-----BEGIN RSA PRIVATE KEY-----"), "{pkcs1}");
    let key = rsa2::private_key(pkcs1).unwrap();
    assert_eq!(rsa2::private_key(keys["app_private_key_pkcs8"].as_str().unwrap()).unwrap(), key);
    assert_eq!(rsa2::public_key(keys["app_public_key"].as_str().unwrap()).unwrap(), key.to_public_key());
    let platform = rsa2::public_key(keys["alipay_public_key"].as_str().unwrap()).unwrap();
    assert_eq!(platform, rsa2::public_key(test_keys::PLATFORM_PUBLIC_KEY_PEM).unwrap());
    // An SDK configured from the endpoint alone works.
    let sdk = Sdk { app: &app, key, platform };
    assert_failure(&sdk.call(USER_INFO, &[("auth_token", "authusrB0")]).await, "20001", "aop.invalid-auth-token");
}

async fn the_consent_page_offers_users_and_redirects_with_an_auth_code(store: StoreKind) {
    let app = spawn_app(store).await;
    let known = create_user(&app, json!({ "nick_name": "老用户", "logon_id": "13900000001" })).await;
    let query = [("app_id", APP_ID), ("scope", "auth_user"), ("redirect_uri", REDIRECT_URI), ("state", "st4te")];
    let page = browser().get(app.url(AUTHORIZE)).query(&query).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains(known["user_id"].as_str().unwrap()) && html.contains("老用户"), "{html}");
    assert!(html.contains(r#"<input type="hidden" name="redirect_uri" value="http://127.0.0.1:9/alipay/callback">"#));

    let allowed = consent(&app, &[("action", "allow"), ("user_id", known["user_id"].as_str().unwrap())]).await;
    assert!(allowed.as_str().starts_with(REDIRECT_URI), "{allowed}");
    for (name, value) in [("app_id", APP_ID), ("source", "alipay_wallet"), ("scope", "auth_user"), ("state", "st4te")] {
        assert_eq!(query_param(&allowed, name).as_deref(), Some(value), "{allowed}");
    }
    assert_eq!(query_param(&allowed, "auth_code").map(|code| code.len()), Some(32));
    let denied = consent(&app, &[("action", "deny")]).await;
    assert_eq!(query_param(&denied, "auth_code"), None, "{denied}");
    assert_eq!(query_param(&denied, "state").as_deref(), Some("st4te"));

    // auth_base is silent: straight back with a code.
    let silent = [("app_id", APP_ID), ("scope", "auth_base"), ("redirect_uri", REDIRECT_URI)];
    let response = browser().get(app.url(AUTHORIZE)).query(&silent).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert!(response.headers()["location"].to_str().unwrap().contains("auth_code="));

    let bad = [("app_id", APP_ID), ("scope", "auth_user"), ("redirect_uri", "https://evil.example.com/cb")];
    let response = browser().get(app.url(AUTHORIZE)).query(&bad).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["x-alipay-error-code"], "invalid-redirect-uri");
    let taken = browser().post(app.url(AUTHORIZE)).form(&[
        ("app_id", APP_ID),
        ("scope", "auth_user"),
        ("redirect_uri", REDIRECT_URI),
        ("action", "allow"),
        ("nick_name", "重号"),
        ("logon_id", "13900000001"),
    ]);
    let response = taken.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(response.headers()["x-alipay-error-code"], "invalid-parameter");
}

async fn an_auth_code_buys_tokens_once_and_expires(store: StoreKind) {
    let app = spawn_app(store).await;
    let sdk = Sdk::new(&app);
    let code = auth_code(&app, "小明").await;
    let exchange = [("grant_type", "authorization_code"), ("code", code.as_str())];
    let token = sdk.token(&exchange).await;
    assert_eq!((token["code"].as_str(), token["msg"].as_str()), (Some("10000"), Some("Success")), "{token}");
    assert_eq!((token["expires_in"].as_u64(), token["re_expires_in"].as_u64()), (Some(1_296_000), Some(2_592_000)));
    assert!(token["access_token"].as_str().unwrap().starts_with("authusrB"), "{token}");
    assert_eq!(token["auth_start"], "2026-03-01 17:30:00", "Beijing time");
    let open_id = token["open_id"].as_str().unwrap();
    assert!(token.get("user_id").is_none(), "an open_id app gets the open id only: {token}");
    let users = json_of(app.get("/mock/alipay/users", None).await, StatusCode::OK).await;
    assert_eq!(users["items"][0]["open_id"], open_id);

    assert_failure(&sdk.token(&exchange).await, "40002", "isv.code-invalid");
    let late = auth_code(&app, "小红").await;
    app.clock.advance(chrono::Duration::seconds(300));
    assert_failure(
        &sdk.token(&[("grant_type", "authorization_code"), ("code", &late)]).await,
        "40002",
        "isv.code-invalid",
    );
    assert_failure(
        &sdk.token(&[("grant_type", "authorization_code"), ("code", "nonsense")]).await,
        "40002",
        "isv.code-invalid",
    );
    assert_failure(&sdk.token(&[("grant_type", "password"), ("code", "x")]).await, "40002", "isv.grant-type-invalid");
}

async fn a_refresh_token_is_used_once_and_expires_after_30_days(store: StoreKind) {
    let app = spawn_app(store).await;
    let sdk = Sdk::new(&app);
    let code = auth_code(&app, "小明").await;
    let first = sdk.token(&[("grant_type", "authorization_code"), ("code", &code)]).await;
    let refresh_token = first["refresh_token"].as_str().unwrap().to_owned();
    app.clock.advance(chrono::Duration::days(20));
    let refreshed = sdk.token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh_token)]).await;
    assert_eq!(refreshed["code"], "10000", "{refreshed}");
    assert_ne!(refreshed["access_token"], first["access_token"]);
    assert_eq!(
        (refreshed["open_id"].as_str(), refreshed["auth_start"].as_str()),
        (first["open_id"].as_str(), Some("2026-03-01 17:30:00"))
    );
    let info = sdk.call(USER_INFO, &[("auth_token", refreshed["access_token"].as_str().unwrap())]).await;
    assert_eq!(info["nick_name"], "小明", "{info}");
    let again = sdk.token(&[("grant_type", "refresh_token"), ("refresh_token", &refresh_token)]).await;
    assert_failure(&again, "40002", "isv.refresh-token-invalid");
    let next = refreshed["refresh_token"].as_str().unwrap().to_owned();
    app.clock.advance(chrono::Duration::days(30));
    let expired = sdk.token(&[("grant_type", "refresh_token"), ("refresh_token", &next)]).await;
    assert_failure(&expired, "40002", "isv.refresh-token-time-out");
}

async fn user_info_needs_a_live_auth_user_token(store: StoreKind) {
    let app = spawn_app(store).await;
    let sdk = Sdk::new(&app);
    let code = auth_code(&app, "小明").await;
    let token = sdk.token(&[("grant_type", "authorization_code"), ("code", &code)]).await;
    let access = token["access_token"].as_str().unwrap().to_owned();
    let info = sdk.call(USER_INFO, &[("auth_token", &access)]).await;
    assert_eq!((info["code"].as_str(), info["nick_name"].as_str()), (Some("10000"), Some("小明")), "{info}");
    assert_eq!(info["open_id"], token["open_id"]);
    assert_eq!((info["is_certified"].as_str(), info["user_status"].as_str()), (Some("T"), Some("T")));
    assert_eq!(info["user_name"], "张三", "the certified name, as Alipay names the field: {info}");
    assert!(info["avatar"].as_str().unwrap().starts_with("https://"), "{info}");

    assert_failure(&sdk.call(USER_INFO, &[("auth_token", "authusrBforged")]).await, "20001", "aop.invalid-auth-token");
    assert_failure(&sdk.call(USER_INFO, &[]).await, "20001", "aop.invalid-auth-token");
    let query = [("app_id", APP_ID), ("scope", "auth_base"), ("redirect_uri", REDIRECT_URI)];
    let silent = browser().get(app.url(AUTHORIZE)).query(&query).send().await.unwrap();
    let target = Url::parse(silent.headers()["location"].to_str().unwrap()).unwrap();
    let base_code = query_param(&target, "auth_code").unwrap();
    let base = sdk.token(&[("grant_type", "authorization_code"), ("code", &base_code)]).await;
    let refused = sdk.call(USER_INFO, &[("auth_token", base["access_token"].as_str().unwrap())]).await;
    assert_failure(&refused, "40006", "isv.insufficient-user-permissions");
    app.clock.advance(chrono::Duration::seconds(1_296_000));
    assert_failure(&sdk.call(USER_INFO, &[("auth_token", &access)]).await, "20001", "aop.auth-token-time-out");
}

async fn a_transfer_pays_the_payee_once_and_is_found_by_either_number(store: StoreKind) {
    let app = spawn_app(store).await;
    let sdk = Sdk::new(&app);
    let payee =
        create_user(&app, json!({ "nick_name": "小明", "real_name": "张三", "logon_id": "payee@example.com" })).await;
    let paid = sdk.transfer(&to_user("wd0001", "100.50", &payee)).await;
    assert_eq!((paid["code"].as_str(), paid["status"].as_str()), (Some("10000"), Some("SUCCESS")), "{paid}");
    assert_eq!(
        (paid["out_biz_no"].as_str(), paid["trans_date"].as_str()),
        (Some("wd0001"), Some("2026-03-01 17:30:00"))
    );
    let order_id = paid["order_id"].as_str().unwrap();
    assert!(order_id.starts_with("20260301") && order_id.len() == 32, "{order_id}");

    // The same request again answers the same order and pays nothing more.
    app.clock.advance(chrono::Duration::minutes(5));
    assert_eq!(sdk.transfer(&to_user("wd0001", "100.50", &payee)).await, paid);
    let wallet = &user(&app, payee["user_id"].as_str().unwrap()).await["wallet"];
    assert_eq!(wallet["balance"], "100.50", "{wallet}");
    assert_eq!(
        (wallet["bills"][0]["order_id"].as_str(), wallet["bills"][0]["order_title"].as_str()),
        (Some(order_id), Some("OK钱包提现"))
    );
    let merchant = json_of(app.get("/mock/alipay/merchant", None).await, StatusCode::OK).await;
    assert_eq!(merchant["balance"], "999899.50", "{merchant}");

    // By open id and by logon id with the certified name, too.
    let open_id = payee["open_id"].as_str().unwrap();
    let by_open_id = sdk.transfer(&transfer_biz("wd0002", "1.00", open_id, "ALIPAY_OPEN_ID", None)).await;
    assert_eq!(by_open_id["status"], "SUCCESS", "{by_open_id}");
    let by_logon = transfer_biz("wd0003", "1.00", "payee@example.com", "ALIPAY_LOGON_ID", Some("张三"));
    assert_eq!(sdk.transfer(&by_logon).await["status"], "SUCCESS");

    let by_number =
        json!({ "out_biz_no": "wd0001", "product_code": "TRANS_ACCOUNT_NO_PWD", "biz_scene": "DIRECT_TRANSFER" });
    let found = sdk.query(&by_number).await;
    assert_eq!((found["code"].as_str(), found["status"].as_str()), (Some("10000"), Some("SUCCESS")), "{found}");
    assert_eq!((found["trans_amount"].as_str(), found["order_id"].as_str()), (Some("100.50"), Some(order_id)));
    assert_eq!((found["pay_date"].as_str(), found["order_fee"].as_str()), (Some("2026-03-01 17:30:00"), Some("0.00")));
    assert_eq!(sdk.query(&json!({ "order_id": order_id })).await, found);
    assert_eq!(sdk.query(&json!({ "pay_fund_order_id": paid["pay_fund_order_id"] })).await, found);
    assert_failure(
        &sdk.query(&json!({ "order_id": "20260301110070000000000000000000" })).await,
        "40004",
        "ORDER_NOT_EXIST",
    );
}

async fn each_payee_flag_and_limit_fails_a_transfer_with_its_sub_code(store: StoreKind) {
    let app = spawn_app(store).await;
    let sdk = Sdk::new(&app);
    let plain = create_user(&app, json!({ "nick_name": "小明", "real_name": "张三" })).await;
    let frozen = create_user(&app, json!({ "nick_name": "冻结", "frozen": true })).await;
    let abnormal = create_user(&app, json!({ "nick_name": "异常", "info_abnormal": true })).await;
    let unverified = create_user(&app, json!({ "nick_name": "未实名", "unverified": true })).await;
    let plain_id = plain["user_id"].as_str().unwrap();
    let cases = [
        ("F1", transfer_biz("F1", "1.00", "2088000000000000", "ALIPAY_USER_ID", None), "PAYEE_NOT_EXIST"),
        ("F2", transfer_biz("F2", "1.00", "nobody@example.com", "ALIPAY_LOGON_ID", Some("张三")), "PAYEE_NOT_EXIST"),
        ("F3", to_user("F3", "1.00", &frozen), "PAYEE_ACCOUNT_STATUS_ERROR"),
        ("F4", to_user("F4", "1.00", &abnormal), "PAYEE_USERINFO_STATUS_ERROR"),
        ("F5", transfer_biz("F5", "1.00", plain_id, "ALIPAY_USER_ID", Some("李四")), "PAYEE_USER_INFO_ERROR"),
        ("F6", to_user("F6", "50000.01", &plain), "EXCEED_LIMIT_SM_AMOUNT"),
        ("F7", to_user("F7", "1000.01", &unverified), "EXCEED_LIMIT_UNRN_DM_AMOUNT"),
    ];
    for (out_biz_no, biz, sub_code) in &cases {
        assert_failure(&sdk.transfer(biz).await, "40004", sub_code);
        // Kept as a FAIL order: the same request answers the same, the query tells why.
        assert_failure(&sdk.transfer(biz).await, "40004", sub_code);
        let found = sdk.query(&json!({ "out_biz_no": out_biz_no })).await;
        assert_eq!(
            (found["status"].as_str(), found["error_code"].as_str()),
            (Some("FAIL"), Some(*sub_code)),
            "{found}"
        );
        assert!(found["fail_reason"].as_str().is_some_and(|reason| !reason.is_empty()), "{found}");
    }
    // An unverified payee takes ¥1,000.00 a Beijing day, and more the next day.
    assert_eq!(sdk.transfer(&to_user("U1", "600.00", &unverified)).await["status"], "SUCCESS");
    assert_failure(&sdk.transfer(&to_user("U2", "400.01", &unverified)).await, "40004", "EXCEED_LIMIT_UNRN_DM_AMOUNT");
    app.clock.advance(chrono::Duration::hours(15)); // 08:30 the next day in Beijing
    assert_eq!(sdk.transfer(&to_user("U3", "400.01", &unverified)).await["status"], "SUCCESS");
    let missing = json!({ "out_biz_no": "M1", "trans_amount": "1.00", "product_code": "TRANS_ACCOUNT_NO_PWD" });
    assert_failure(&sdk.transfer(&missing).await, "40004", "INVALID_PARAMETER");
    assert_failure(&sdk.transfer(&to_user("M2", "0.09", &plain)).await, "40004", "INVALID_PARAMETER");
    for unpaid in [&plain, &frozen, &abnormal] {
        assert_eq!(user(&app, unpaid["user_id"].as_str().unwrap()).await["wallet"]["balance"], "0.00");
    }
}

async fn the_merchant_balance_and_day_limit_refuse_without_keeping_an_order(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.mock_alipay.merchant_day_max = "300.00".into()).await;
    let sdk = Sdk::new(&app);
    let payee = create_user(&app, json!({ "nick_name": "小明" })).await;
    let drained =
        json_of(patch(&app, "/mock/alipay/merchant", json!({ "balance": "100.00" })).await, StatusCode::OK).await;
    assert_eq!(drained["balance"], "100.00");
    assert_failure(&sdk.transfer(&to_user("B1", "100.01", &payee)).await, "40004", "PAYER_BALANCE_NOT_ENOUGH");
    assert_failure(&sdk.query(&json!({ "out_biz_no": "B1" })).await, "40004", "ORDER_NOT_EXIST");
    // Topped up, the same out_biz_no goes through.
    json_of(patch(&app, "/mock/alipay/merchant", json!({ "balance": "1000.00" })).await, StatusCode::OK).await;
    assert_eq!(sdk.transfer(&to_user("B1", "100.01", &payee)).await["status"], "SUCCESS");
    assert_eq!(sdk.transfer(&to_user("B2", "199.99", &payee)).await["status"], "SUCCESS");
    assert_failure(&sdk.transfer(&to_user("B3", "0.10", &payee)).await, "40004", "EXCEED_LIMIT_DM_AMOUNT");
    let merchant = json_of(app.get("/mock/alipay/merchant", None).await, StatusCode::OK).await;
    assert_eq!((merchant["balance"].as_str(), merchant["paid"]["day"].as_str()), (Some("700.00"), Some("300.00")));
    let negative = patch(&app, "/mock/alipay/merchant", json!({ "balance": "-1.00" })).await;
    assert_error(negative, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
}

async fn the_same_out_biz_no_with_other_parameters_is_inconsistent(store: StoreKind) {
    let app = spawn_app(store).await;
    let sdk = Sdk::new(&app);
    let payee = create_user(&app, json!({ "nick_name": "小明" })).await;
    let other = create_user(&app, json!({ "nick_name": "小红" })).await;
    assert_eq!(sdk.transfer(&to_user("I1", "10.00", &payee)).await["status"], "SUCCESS");
    let mut retitled = to_user("I1", "10.00", &payee);
    retitled["order_title"] = json!("另一个标题");
    for changed in [to_user("I1", "10.01", &payee), to_user("I1", "10.00", &other), retitled] {
        assert_failure(&sdk.transfer(&changed).await, "40004", "PAYMENT_INFO_INCONSISTENCY");
    }
    assert_eq!(user(&app, other["user_id"].as_str().unwrap()).await["wallet"]["balance"], "0.00");
    assert_eq!(user(&app, payee["user_id"].as_str().unwrap()).await["wallet"]["balance"], "10.00");
}

async fn twenty_concurrent_sends_of_one_out_biz_no_pay_once(store: StoreKind) {
    let app = spawn_app(store).await;
    let payee = create_user(&app, json!({ "nick_name": "小明" })).await;
    let sdk = Sdk::new(&app);
    let pairs = sdk.signed(TRANSFER, &[("biz_content", &to_user("SAME1", "66.60", &payee).to_string())]);
    let answers = futures_util::future::join_all((0..20).map(|_| sdk.post(&pairs))).await;
    let paid: Vec<Value> = answers.iter().map(|answer| sdk.verified(answer, &node_of(TRANSFER))).collect();
    assert!(paid.iter().all(|answer| answer == &paid[0] && answer["status"] == "SUCCESS"), "{paid:?}");
    let wallet = &user(&app, payee["user_id"].as_str().unwrap()).await["wallet"];
    assert_eq!((wallet["balance"].as_str(), wallet["bills"].as_array().map(Vec::len)), (Some("66.60"), Some(1)));
    let merchant = json_of(app.get("/mock/alipay/merchant", None).await, StatusCode::OK).await;
    assert_eq!(merchant["balance"], "999933.40");
}

async fn mock_users_are_created_listed_and_changed(store: StoreKind) {
    let app = spawn_app(store).await;
    let first = create_user(&app, json!({ "nick_name": "小明", "logon_id": "13800001111" })).await;
    app.clock.advance(chrono::Duration::seconds(1));
    let second = create_user(&app, json!({ "nick_name": "小红", "real_name": "王五", "unverified": true })).await;
    assert!(first["user_id"].as_str().unwrap().starts_with("2088") && first["open_id"].as_str().unwrap().len() == 46);
    assert_eq!((second["real_name_verified"].as_bool(), second["real_name"].as_str()), (Some(false), Some("王五")));
    let page = json_of(app.get("/mock/alipay/users?limit=1", None).await, StatusCode::OK).await;
    assert_eq!(page["items"][0]["user_id"], second["user_id"], "newest first");
    let cursor = page["next_cursor"].as_str().unwrap();
    let next =
        json_of(app.get(&format!("/mock/alipay/users?limit=1&cursor={cursor}"), None).await, StatusCode::OK).await;
    assert_eq!(next["items"][0]["user_id"], first["user_id"]);

    let path = format!("/mock/alipay/users/{}", first["user_id"].as_str().unwrap());
    let changed = patch(&app, &path, json!({ "frozen": true, "logon_id": "new@example.com", "balance": "5.00" })).await;
    let changed = json_of(changed, StatusCode::OK).await;
    assert_eq!((changed["frozen"].as_bool(), changed["logon_id"].as_str()), (Some(true), Some("new@example.com")));
    assert_eq!(changed["wallet"]["balance"], "5.00");
    // The old logon id is free again; the new one is taken.
    create_user(&app, json!({ "nick_name": "接手", "logon_id": "13800001111" })).await;
    let taken =
        app.post("/mock/alipay/users", None, &json!({ "nick_name": "重号", "logon_id": "new@example.com" })).await;
    let body = assert_error(taken, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(body["error"]["details"]["field"], "logon_id");
    for bad in [
        json!({ "nick_name": "" }),
        json!({ "nick_name": "a", "logon_id": "12" }),
        json!({ "nick_name": "a", "extra": 1 }),
    ] {
        assert_error(app.post("/mock/alipay/users", None, &bad).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
            .await;
    }
    assert_error(app.get("/mock/alipay/users/2088000000000000", None).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let missing = patch(&app, "/mock/alipay/users/2088000000000000", json!({ "frozen": true })).await;
    assert_error(missing, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

async fn the_journal_records_gateway_calls_with_tokens_masked(store: StoreKind) {
    let app = spawn_app(store).await;
    let sdk = Sdk::new(&app);
    sdk.call(USER_INFO, &[("auth_token", "authusrBsecret")]).await;
    app.get("/mock/alipay/keys", None).await;
    let journal = json_of(app.get("/mock/requests?provider=alipay", None).await, StatusCode::OK).await;
    let items = journal["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "the keys are not a platform call: {journal}");
    assert_eq!((items[0]["request"]["path"].as_str(), items[0]["transport"].as_str()), (Some(GATEWAY), Some("http")));
    let query = items[0]["request"]["query"].as_str().unwrap();
    assert!(query.contains("auth_token=[redacted]") && !query.contains("authusrBsecret"), "{query}");
    assert!(items[0]["response"]["body"].as_str().unwrap().contains("aop.invalid-auth-token"));
}

async fn a_reset_wipes_the_mock_alipay(store: StoreKind) {
    let app = spawn_app(store).await;
    let sdk = Sdk::new(&app);
    let payee = create_user(&app, json!({ "nick_name": "小明" })).await;
    let code = auth_code(&app, "小红").await;
    assert_eq!(sdk.transfer(&to_user("R1", "10.00", &payee)).await["status"], "SUCCESS");
    let operator = app.operator_token().await;
    json_of(reset(&app, &operator, None).await, StatusCode::OK).await;
    let users = json_of(app.get("/mock/alipay/users", None).await, StatusCode::OK).await;
    assert_eq!(users["items"], json!([]));
    assert_failure(&sdk.query(&json!({ "out_biz_no": "R1" })).await, "40004", "ORDER_NOT_EXIST");
    assert_failure(
        &sdk.token(&[("grant_type", "authorization_code"), ("code", &code)]).await,
        "40002",
        "isv.code-invalid",
    );
    let merchant = json_of(app.get("/mock/alipay/merchant", None).await, StatusCode::OK).await;
    assert_eq!(merchant["balance"], "1000000.00");
}
