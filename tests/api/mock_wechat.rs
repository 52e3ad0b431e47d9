//! The built-in mock WeChat provider under `/mock/wechat`, spoken to as a
//! browser (authorize step, redirects not followed), as a server (the `sns`
//! API, the transfer bills) and through both `WeChatClient` implementations.

use std::sync::Arc;

use chrono::Duration;
use reqwest::{Response, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use walletgate::providers::journal::RequestJournal;
use walletgate::providers::payouts::{BillState, PayoutProvider};
use walletgate::providers::wechat::builtin_client::BuiltinWeChatClient;
use walletgate::providers::wechat::http_client::HttpWeChatClient;
use walletgate::providers::wechat::mock::{BuiltinPayouts, MockWeChat};
use walletgate::providers::wechat::{WeChatClient, WeChatError};

use crate::helpers::{StoreKind, TestApp, assert_error, json_of, spawn_app_with};

const REDIRECT_URI: &str = "http://127.0.0.1:9/wechat/callback";
const AUTHORIZE: &str = "/mock/wechat/connect/oauth2/authorize";
const REFRESH_TOKEN_TTL_SECS: i64 = 2_592_000;
const TRANSFER_BILLS: &str = "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills";

/// Query or form fields to change, for table-driven cases.
type Fields<'a> = &'a [(&'a str, &'a str)];

/// A test server plus what these tests need beyond `TestApp`: the provider
/// itself (for the in-process client) and a client that does not follow
/// redirects, to see the 302s a browser would.
struct MockApp {
    app: TestApp,
    mock: Arc<MockWeChat>,
    browser: reqwest::Client,
    appid: String,
    secret: String,
}

async fn spawn_mock_app(store: StoreKind) -> MockApp {
    let mut appid_and_secret = None;
    // Demo accounts are not needed here and cost password hashing.
    let app = spawn_app_with(store, |settings| {
        settings.seed.demo_accounts = false;
        let secret = settings.mock_wechat.app_secret.expose_secret().to_owned();
        appid_and_secret = Some((settings.mock_wechat.app_id.clone(), secret));
    })
    .await;
    let (appid, secret) = appid_and_secret.expect("settings were customised");
    let mock = app.mock_wechat.clone().expect("mock enabled");
    let browser = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    MockApp { app, mock, browser, appid, secret }
}

/// The value of query parameter `name` in a URL.
fn query_param(url: &str, name: &str) -> Option<String> {
    let url = reqwest::Url::parse(url).unwrap();
    url.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

fn location(response: &Response) -> String {
    assert_eq!(response.status(), StatusCode::FOUND);
    response.headers()["location"].to_str().unwrap().to_owned()
}

fn errcode_header(response: &Response) -> Option<String> {
    response.headers().get("x-wechat-errcode").map(|v| v.to_str().unwrap().to_owned())
}

impl MockApp {
    /// The authorize parameters, in WeChat's order, with `changes` applied.
    fn authorize_params(&self, changes: &[(&str, &str)]) -> Vec<(String, String)> {
        let defaults = [
            ("appid", self.appid.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("response_type", "code"),
            ("scope", "snsapi_userinfo"),
            ("state", "st4te"),
        ];
        let mut params: Vec<(String, String)> =
            defaults.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())).collect();
        for (name, value) in changes {
            match params.iter_mut().find(|(key, _)| key == name) {
                Some(param) => param.1 = (*value).to_owned(),
                None => params.push(((*name).to_owned(), (*value).to_owned())),
            }
        }
        params
    }

    async fn open_authorize(&self, changes: &[(&str, &str)]) -> Response {
        self.browser.get(self.app.url(AUTHORIZE)).query(&self.authorize_params(changes)).send().await.unwrap()
    }

    /// Submits the consent form: the authorize parameters plus `fields`.
    async fn submit_consent(&self, fields: &[(&str, &str)]) -> Response {
        let mut form = self.authorize_params(&[]);
        form.retain(|(name, _)| name != "response_type");
        for (name, value) in fields {
            form.retain(|(key, _)| key != name);
            form.push(((*name).to_owned(), (*value).to_owned()));
        }
        self.browser.post(self.app.url(AUTHORIZE)).form(&form).send().await.unwrap()
    }

    async fn create_user(&self, body: Value) -> Value {
        let response = self.app.post("/mock/wechat/users", None, &body).await;
        json_of(response, StatusCode::CREATED).await
    }

    async fn new_openid(&self, nickname: &str) -> String {
        let user = self.create_user(json!({ "nickname": nickname })).await;
        user["openid"].as_str().unwrap().to_owned()
    }

    /// A fresh code for `openid`, through the consent form.
    async fn code_for(&self, openid: &str, scope: &str) -> String {
        let fields = [("action", "allow"), ("openid", openid), ("scope", scope)];
        let target = location(&self.submit_consent(&fields).await);
        query_param(&target, "code").expect("a code")
    }

    async fn sns(&self, path: &str, query: &[(&str, &str)]) -> Value {
        let url = self.app.url(&format!("/mock/wechat/sns{path}"));
        let response = self.app.client.get(url).query(query).send().await.unwrap();
        json_of(response, StatusCode::OK).await
    }

    async fn exchange_as(&self, appid: &str, secret: &str, code: &str) -> Value {
        let query = [("appid", appid), ("secret", secret), ("code", code), ("grant_type", "authorization_code")];
        self.sns("/oauth2/access_token", &query).await
    }

    async fn exchange(&self, code: &str) -> Value {
        self.exchange_as(&self.appid, &self.secret, code).await
    }

    async fn refresh(&self, refresh_token: &str) -> Value {
        let query = [("appid", self.appid.as_str()), ("grant_type", "refresh_token"), ("refresh_token", refresh_token)];
        self.sns("/oauth2/refresh_token", &query).await
    }

    async fn sns_auth(&self, access_token: &str, openid: &str) -> Value {
        let query = [("access_token", access_token), ("openid", openid)];
        self.sns("/auth", &query).await
    }

    async fn user_info(&self, access_token: &str, openid: &str) -> Value {
        let query = [("access_token", access_token), ("openid", openid), ("lang", "zh_CN")];
        self.sns("/userinfo", &query).await
    }

    /// Tokens for a new user with scope `snsapi_userinfo`.
    async fn tokens_for_new_user(&self) -> Value {
        let openid = self.new_openid("小明").await;
        let code = self.code_for(&openid, "snsapi_userinfo").await;
        self.exchange(&code).await
    }
}

impl MockApp {
    /// A transfer body as the real API takes it.
    fn transfer_body(&self, out_bill_no: &str, openid: &str, transfer_amount: i64) -> Value {
        json!({
            "appid": self.appid,
            "out_bill_no": out_bill_no,
            "transfer_scene_id": "1000",
            "openid": openid,
            "transfer_amount": transfer_amount,
            "transfer_remark": "提现到零钱",
        })
    }

    async fn create_transfer_bill(&self, body: &Value) -> Response {
        self.app.wechat_pay_post(TRANSFER_BILLS, body).await
    }

    async fn query_transfer_bill(&self, out_bill_no: &str) -> Response {
        self.app.wechat_pay_get(&format!("{TRANSFER_BILLS}/out-bill-no/{out_bill_no}")).await
    }
}

/// Asserts WeChat Pay's error shape, `{code, message}`, and returns the body.
async fn assert_pay_error(response: Response, status: StatusCode, code: &str) -> Value {
    let body = json_of(response, status).await;
    assert_eq!(body["code"], code, "body: {body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "body: {body}");
    body
}

/// Asserts a WeChat error body: the number, and a text ending in a request id.
fn assert_errcode(body: &Value, errcode: i64) {
    assert_eq!(body["errcode"], errcode, "body: {body}");
    let errmsg = body["errmsg"].as_str().unwrap_or("");
    assert!(errmsg.contains(", rid: "), "body: {body}");
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("not a string: {value}"))
}

async fn authorize_refuses_bad_parameters_with_wechat_error_numbers(store: StoreKind) {
    let app = spawn_mock_app(store).await;
    let long_state = "a".repeat(129);
    let cases: &[(Fields, i64, &str)] = &[
        (&[("appid", "")], 10012, "appid"),
        (&[("appid", "wx0000000000000000")], 40013, "invalid appid"),
        (&[("redirect_uri", "")], 10011, "redirect_uri"),
        (&[("redirect_uri", "/callback")], 10003, "redirect_uri"),
        (&[("redirect_uri", "https://evil.example.com/cb")], 10003, "redirect_uri"),
        (&[("redirect_uri", "javascript:alert(1)")], 10003, "redirect_uri"),
        (&[("scope", "")], 10010, "scope"),
        (&[("scope", "snsapi_login")], 10005, "scope"),
        (&[("response_type", "token")], 10005, "response_type must be code"),
        (&[("state", "")], 10013, "state"),
        (&[("state", "a<b>")], 10013, "state"),
        (&[("state", &long_state)], 10013, "state"),
    ];
    for (changes, errcode, words) in cases {
        let response = app.open_authorize(changes).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{changes:?}");
        assert_eq!(errcode_header(&response), Some(errcode.to_string()));
        let content_type = response.headers()["content-type"].to_str().unwrap();
        assert!(content_type.starts_with("text/html"), "{content_type}");
        let page = response.text().await.unwrap();
        assert!(page.contains(&errcode.to_string()), "{changes:?}: {page}");
        assert!(page.contains(words), "{changes:?}: {page}");
        assert!(!page.contains("<b>"), "echoed input must be escaped");
    }
}

async fn the_consent_page_lists_existing_users_and_carries_the_form(store: StoreKind) {
    let app = spawn_mock_app(store).await;
    let openid = app.new_openid("<b>小明</b>").await;
    let response = app.open_authorize(&[]).await;
    assert_eq!(response.status(), StatusCode::OK);
    let page = response.text().await.unwrap();
    for needle in [
        r#"<meta name="viewport""#,
        r#"<form method="post" action="/mock/wechat/connect/oauth2/authorize">"#,
        r#"<input type="hidden" name="appid" value="wx8a3f5c7e2b9d1046">"#,
        r#"<input type="hidden" name="redirect_uri" value="http://127.0.0.1:9/wechat/callback">"#,
        r#"<input type="hidden" name="scope" value="snsapi_userinfo">"#,
        r#"<input type="hidden" name="state" value="st4te">"#,
        r#"name="nickname""#,
        r#"name="no_real_name""#,
        r#"name="frozen""#,
        r#"name="snapshot""#,
        r#"name="action" value="allow""#,
        r#"name="action" value="deny""#,
        "&lt;b&gt;小明&lt;/b&gt;",
    ] {
        assert!(page.contains(needle), "missing {needle}: {page}");
    }
    let radio = format!(r#"<input type="radio" name="openid" value="{openid}">"#);
    assert!(page.contains(&radio), "{page}");
    assert!(!page.contains("<b>小明"), "nicknames must be escaped");
    assert!(!page.contains("src=\"http") && !page.contains("href=\"http"));
}

async fn allowing_redirects_with_a_code_and_denying_with_the_state_only(store: StoreKind) {
    let app = spawn_mock_app(store).await;
    let openid = app.new_openid("小明").await;
    let allowed = location(&app.submit_consent(&[("action", "allow"), ("openid", &openid)]).await);
    assert!(allowed.starts_with(REDIRECT_URI), "{allowed}");
    assert_eq!(query_param(&allowed, "state").as_deref(), Some("st4te"));
    let code = query_param(&allowed, "code").unwrap();
    assert!(code.len() >= 32, "{code}");
    assert!(code.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_".contains(&b)));

    let denied = location(&app.submit_consent(&[("action", "deny")]).await);
    assert_eq!(denied, format!("{REDIRECT_URI}?state=st4te"));

    let with_query = format!("{REDIRECT_URI}?from=menu");
    let fields = [("action", "allow"), ("nickname", "新用户"), ("redirect_uri", with_query.as_str())];
    let target = location(&app.submit_consent(&fields).await);
    assert!(target.starts_with(&format!("{with_query}&code=")), "{target}");
    let token = app.exchange(&query_param(&target, "code").unwrap()).await;
    let user = app.app.get(&format!("/mock/wechat/users/{}", text(&token["openid"])), None).await;
    assert_eq!(json_of(user, StatusCode::OK).await["nickname"], "新用户");
}

async fn bad_consent_forms_get_the_error_page(store: StoreKind) {
    let app = spawn_mock_app(store).await;
    let unknown = "o".to_owned() + &"A".repeat(27);
    let cases: &[(Fields, i64)] = &[
        (&[("action", "allow"), ("openid", &unknown)], 40003),
        (&[("action", "allow")], 41009),
        (&[("action", "allow"), ("nickname", &"长".repeat(33))], 40097),
        (&[("action", "maybe"), ("nickname", "x")], 40097),
        (&[("action", "allow"), ("nickname", "x"), ("state", "")], 10013),
        (&[("action", "deny"), ("redirect_uri", "https://evil.example.com/")], 10003),
    ];
    for (fields, errcode) in cases {
        let response = app.submit_consent(fields).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{fields:?}");
        assert_eq!(errcode_header(&response), Some(errcode.to_string()));
    }
}

async fn snsapi_base_redirects_at_once_without_a_page(store: StoreKind) {
    let app = spawn_mock_app(store).await;
    let openid = app.new_openid("老用户").await;
    let named = app.open_authorize(&[("scope", "snsapi_base"), ("openid", &openid)]).await;
    let target = location(&named);
    assert_eq!(query_param(&target, "state").as_deref(), Some("st4te"));
    let token = app.exchange(&query_param(&target, "code").unwrap()).await;
    assert_eq!(token["openid"], openid.as_str());
    assert_eq!(token["scope"], "snsapi_base");

    let anonymous = location(&app.open_authorize(&[("scope", "snsapi_base")]).await);
    let token = app.exchange(&query_param(&anonymous, "code").unwrap()).await;
    assert_ne!(token["openid"], openid.as_str());
    let user = app.app.get(&format!("/mock/wechat/users/{}", text(&token["openid"])), None).await;
    let user = json_of(user, StatusCode::OK).await;
    assert!(text(&user["nickname"]).starts_with("微信用户"), "{user}");
}

async fn a_code_buys_tokens_and_snapshot_users_are_marked(store: StoreKind) {
    let app = spawn_mock_app(store).await;
    let user = app.create_user(json!({ "nickname": "小明" })).await;
    let code = app.code_for(text(&user["openid"]), "snsapi_userinfo").await;
    let token = app.exchange(&code).await;
    assert_eq!(token["expires_in"], 7200, "{token}");
    assert_eq!(token["openid"], user["openid"]);
    assert_eq!(token["unionid"], user["unionid"]);
    assert_eq!(token["scope"], "snsapi_userinfo");
    assert!(text(&token["access_token"]).len() >= 32);
    assert!(text(&token["refresh_token"]).len() >= 32);
    assert_ne!(token["access_token"], token["refresh_token"]);
    assert!(token.get("is_snapshotuser").is_none(), "{token}");
    assert!(token.get("errcode").is_none(), "{token}");

    let snapshot = app.create_user(json!({ "nickname": "快照", "snapshot": true })).await;
    let code = app.code_for(text(&snapshot["openid"]), "snsapi_userinfo").await;
    assert_eq!(app.exchange(&code).await["is_snapshotuser"], 1);
}

async fn codes_are_single_use_and_expire_after_300_seconds(store: StoreKind) {
    let app = spawn_mock_app(store).await;
    let openid = app.new_openid("小明").await;
    let code = app.code_for(&openid, "snsapi_userinfo").await;
    assert_eq!(app.exchange(&code).await["openid"], openid.as_str());
    assert_errcode(&app.exchange(&code).await, 40163);
    assert!(text(&app.exchange(&code).await["errmsg"]).starts_with("code been used"));
    assert_errcode(&app.exchange("NeverIssuedCode0000000000000000000").await, 40029);
    assert_errcode(&app.exchange("").await, 41008);

    let late = app.code_for(&openid, "snsapi_userinfo").await;
    app.app.clock.advance(Duration::seconds(299));
    let timely = app.code_for(&openid, "snsapi_userinfo").await;
    app.app.clock.advance(Duration::seconds(2));
    let expired = app.exchange(&late).await;
    assert_errcode(&expired, 42003);
    assert!(text(&expired["errmsg"]).starts_with("code expired"));
    assert_eq!(app.exchange(&timely).await["openid"], openid.as_str());
}

async fn the_code_exchange_checks_the_app_and_grant_type(store: StoreKind) {
    let app = spawn_mock_app(store).await;
    let openid = app.new_openid("小明").await;
    let code = app.code_for(&openid, "snsapi_userinfo").await;
    let appid = app.appid.clone();
    assert_errcode(&app.exchange_as(&appid, "wrong-secret", &code).await, 40125);
    assert_errcode(&app.exchange_as("wx0000000000000000", &app.secret, &code).await, 40013);
    assert_errcode(&app.exchange_as("", &app.secret, &code).await, 40013);
    let query = [
        ("appid", app.appid.as_str()),
        ("secret", app.secret.as_str()),
        ("code", code.as_str()),
        ("grant_type", "client_credential"),
    ];
    assert_errcode(&app.sns("/oauth2/access_token", &query).await, 40002);
    // None of the refusals used the code up.
    assert_eq!(app.exchange(&code).await["openid"], openid.as_str());
}

async fn concurrent_exchanges_of_one_code_grant_exactly_one(store: StoreKind) {
    let app = spawn_mock_app(store).await;
    let openid = app.new_openid("小明").await;
    let code = app.code_for(&openid, "snsapi_userinfo").await;
    let attempts = (0..8).map(|_| app.exchange(&code));
    let bodies = futures_util::future::join_all(attempts).await;
    let granted = bodies.iter().filter(|b| b.get("access_token").is_some()).count();
    let replays = bodies.iter().filter(|b| b["errcode"] == 40163).count();
    assert_eq!((granted, replays), (1, 7), "{bodies:?}");
}

async fn refreshing_keeps_a_valid_token_and_replaces_an_expired_one(store: StoreKind) {
    let app = spawn_mock_app(store).await;
    let first = app.tokens_for_new_user().await;
    let refresh_token = text(&first["refresh_token"]).to_owned();
    let openid = text(&first["openid"]).to_owned();

    app.app.clock.advance(Duration::seconds(7000));
    let kept = app.refresh(&refresh_token).await;
    assert_eq!(kept["access_token"], first["access_token"], "{kept}");
    assert_eq!(kept["refresh_token"], refresh_token.as_str());
    assert_eq!((kept["expires_in"].clone(), kept["openid"].clone()), (json!(7200), json!(openid)));
    // The kept token's expiry was extended: 7000 + 7000 s after its issue.
    app.app.clock.advance(Duration::seconds(7000));
    assert_eq!(app.sns_auth(text(&first["access_token"]), &openid).await["errcode"], 0);

    app.app.clock.advance(Duration::seconds(7201));
    let renewed = app.refresh(&refresh_token).await;
    assert_ne!(renewed["access_token"], first["access_token"], "{renewed}");
    assert_eq!(app.sns_auth(text(&renewed["access_token"]), &openid).await["errcode"], 0);
    assert_errcode(&app.sns_auth(text(&first["access_token"]), &openid).await, 42001);

    assert_errcode(&app.refresh("NoSuchRefreshToken").await, 40030);
    let query =
        [("appid", "wx0000000000000000"), ("grant_type", "refresh_token"), ("refresh_token", refresh_token.as_str())];
    assert_errcode(&app.sns("/oauth2/refresh_token", &query).await, 40013);
    let query = [
        ("appid", app.appid.as_str()),
        ("grant_type", "authorization_code"),
        ("refresh_token", refresh_token.as_str()),
    ];
    assert_errcode(&app.sns("/oauth2/refresh_token", &query).await, 40002);

    app.app.clock.advance(Duration::seconds(REFRESH_TOKEN_TTL_SECS));
    assert_errcode(&app.refresh(&refresh_token).await, 42002);
}

async fn sns_auth_checks_the_token_and_its_openid(store: StoreKind) {
    let app = spawn_mock_app(store).await;
    let tokens = app.tokens_for_new_user().await;
    let (access_token, openid) = (text(&tokens["access_token"]), text(&tokens["openid"]));
    assert_eq!(app.sns_auth(access_token, openid).await, json!({ "errcode": 0, "errmsg": "ok" }));
    assert_errcode(&app.sns_auth("NoSuchToken", openid).await, 40001);
    let other = app.new_openid("小红").await;
    assert_errcode(&app.sns_auth(access_token, &other).await, 40003);
    app.app.clock.advance(Duration::seconds(7200));
    assert_errcode(&app.sns_auth(access_token, openid).await, 42001);
}

async fn userinfo_returns_the_profile_for_the_userinfo_scope_only(store: StoreKind) {
    let app = spawn_mock_app(store).await;
    let user = app.create_user(json!({ "nickname": "小明" })).await;
    let openid = text(&user["openid"]);
    let code = app.code_for(openid, "snsapi_userinfo").await;
    let tokens = app.exchange(&code).await;
    let info = app.user_info(text(&tokens["access_token"]), openid).await;
    assert_eq!(
        info,
        json!({
            "openid": openid,
            "nickname": "小明",
            "sex": 0,
            "province": "",
            "city": "",
            "country": "CN",
            "headimgurl": user["headimgurl"],
            "privilege": [],
            "unionid": user["unionid"],
        })
    );
    assert_errcode(&app.user_info("NoSuchToken", openid).await, 40001);
    let other = app.new_openid("小红").await;
    assert_errcode(&app.user_info(text(&tokens["access_token"]), &other).await, 40003);

    let code = app.code_for(openid, "snsapi_base").await;
    let base = app.exchange(&code).await;
    assert_eq!(base["scope"], "snsapi_base");
    assert_errcode(&app.user_info(text(&base["access_token"]), openid).await, 48001);

    app.app.clock.advance(Duration::seconds(7200));
    assert_errcode(&app.user_info(text(&tokens["access_token"]), openid).await, 42001);
}

async fn mock_users_are_created_read_and_validated(store: StoreKind) {
    let app = spawn_mock_app(store).await;
    let flags = json!({ "nickname": "小明", "no_real_name": true, "frozen": true, "snapshot": true });
    let user = app.create_user(flags).await;
    let openid = text(&user["openid"]);
    assert!(openid.starts_with('o') && openid.len() == 28, "{user}");
    assert_eq!(text(&user["unionid"]).len(), 28);
    assert_eq!(user["appid"], app.appid.as_str());
    assert!(text(&user["headimgurl"]).starts_with("https://thirdwx.qlogo.cn/mmopen/"));
    assert_eq!(user["sex"], 0);
    assert_eq!(user["country"], "CN");
    assert_eq!(
        (&user["real_name_verified"], &user["frozen"], &user["snapshot"]),
        (&json!(false), &json!(true), &json!(true))
    );
    assert_eq!(user["created_at"], "2026-03-01T09:30:00Z");
    assert_eq!(user["wallet"], json!({ "balance": "0.00", "transfers": [] }));

    let plain = app.create_user(json!({ "nickname": "小红" })).await;
    assert_eq!((&plain["real_name_verified"], &plain["frozen"]), (&json!(true), &json!(false)));

    let read = app.app.get(&format!("/mock/wechat/users/{openid}"), None).await;
    assert_eq!(json_of(read, StatusCode::OK).await, user);
    let unknown = format!("/mock/wechat/users/o{}", "Z".repeat(27));
    assert_error(app.app.get(&unknown, None).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let garbage = app.app.get("/mock/wechat/users/not-an-openid", None).await;
    assert_error(garbage, StatusCode::NOT_FOUND, "NOT_FOUND").await;

    for body in [
        json!({ "nickname": "" }),
        json!({ "nickname": "   " }),
        json!({ "nickname": "长".repeat(33) }),
        json!({ "nickname": "小明", "admin": true }),
        json!({ "frozen": true }),
        json!({ "nickname": "小明", "frozen": "yes" }),
    ] {
        let response = app.app.post("/mock/wechat/users", None, &body).await;
        assert_error(response, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    }
}

async fn builtin_and_http_clients_give_the_same_answers(store: StoreKind) {
    let app = spawn_mock_app(store).await;
    let secret = SecretString::from(app.secret.clone());
    let builtin = BuiltinWeChatClient::new(app.mock.clone(), RequestJournal::off(), app.appid.clone(), secret.clone());
    let base_url = format!("{}/mock/wechat", app.app.address);
    let http = HttpWeChatClient::new(base_url, app.appid.clone(), secret).unwrap();
    let clients: [&dyn WeChatClient; 2] = [&builtin, &http];
    let openid = app.new_openid("小明").await;

    let mut answers = Vec::new();
    for client in clients {
        let code = app.code_for(&openid, "snsapi_userinfo").await;
        let token = client.exchange_code(&code).await.unwrap();
        let info = client.user_info(&token.access_token, &token.openid).await.unwrap();
        let errcode = match client.exchange_code(&code).await {
            Err(WeChatError::Api(error)) => error.errcode,
            other => panic!("expected a replay error, got {other:?}"),
        };
        let bad = match client.exchange_code("NeverIssued").await {
            Err(WeChatError::Api(error)) => error.errcode,
            other => panic!("expected an invalid code, got {other:?}"),
        };
        answers.push((token.openid, token.scope, token.unionid, token.expires_in, info, errcode, bad));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!((answers[0].5, answers[0].6), (40163, 40029));

    let unreachable = HttpWeChatClient::new("http://127.0.0.1:9", app.appid.clone(), SecretString::from("x")).unwrap();
    let outage = unreachable.exchange_code("code").await;
    assert!(matches!(outage, Err(WeChatError::Unavailable(_))), "{outage:?}");
}

async fn a_transfer_bill_pays_once_and_is_queried_by_its_number(store: StoreKind) {
    let app = spawn_mock_app(store).await;
    let openid = app.new_openid("小明").await;
    let body = app.transfer_body("WD20260301000001", &openid, 10050);
    let created = json_of(app.create_transfer_bill(&body).await, StatusCode::OK).await;
    assert_eq!(created["out_bill_no"], "WD20260301000001");
    assert_eq!(created["state"], "SUCCESS");
    assert_eq!(created["create_time"], "2026-03-01T17:30:00+08:00");
    assert!(created.get("fail_reason").is_none(), "{created}");
    let transfer_bill_no = text(&created["transfer_bill_no"]).to_owned();
    assert!(transfer_bill_no.len() == 32 && transfer_bill_no.starts_with("1330000"), "{created}");

    app.app.clock.advance(Duration::minutes(3));
    let repeated = json_of(app.create_transfer_bill(&body).await, StatusCode::OK).await;
    assert_eq!(repeated, created);
    let user = json_of(app.app.get(&format!("/mock/wechat/users/{openid}"), None).await, StatusCode::OK).await;
    assert_eq!(user["wallet"]["balance"], "100.50");
    assert_eq!(user["wallet"]["transfers"].as_array().map(Vec::len), Some(1), "{user}");
    assert_eq!(user["wallet"]["transfers"][0]["transfer_bill_no"], transfer_bill_no.as_str());

    let queried = json_of(app.query_transfer_bill("WD20260301000001").await, StatusCode::OK).await;
    assert_eq!(
        queried,
        json!({
            "out_bill_no": "WD20260301000001",
            "transfer_bill_no": transfer_bill_no,
            "appid": app.appid,
            "state": "SUCCESS",
            "transfer_amount": 10050,
            "transfer_remark": "提现到零钱",
            "openid": openid,
            "create_time": "2026-03-01T17:30:00+08:00",
            "update_time": "2026-03-01T17:30:00+08:00",
        })
    );
    let builtin =
        BuiltinPayouts::new(app.mock.clone(), RequestJournal::off()).bill("WD20260301000001").await.unwrap().unwrap();
    assert_eq!((builtin.transfer_bill_no.as_str(), builtin.state), (transfer_bill_no.as_str(), BillState::Success));

    let changed = app.transfer_body("WD20260301000001", &openid, 10051);
    assert_pay_error(app.create_transfer_bill(&changed).await, StatusCode::BAD_REQUEST, "INVALID_REQUEST").await;
    assert_pay_error(app.query_transfer_bill("WD404").await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_pay_error(app.query_transfer_bill("WD-1").await, StatusCode::BAD_REQUEST, "PARAM_ERROR").await;
}

async fn a_transfer_to_a_frozen_wallet_fails_with_its_reason(store: StoreKind) {
    let app = spawn_mock_app(store).await;
    let frozen = app.create_user(json!({ "nickname": "小红", "frozen": true })).await;
    let openid = text(&frozen["openid"]);
    let created = app.create_transfer_bill(&app.transfer_body("WD2", openid, 100)).await;
    let created = json_of(created, StatusCode::OK).await;
    assert_eq!((&created["state"], &created["fail_reason"]), (&json!("FAIL"), &json!("ACCOUNT_FROZEN")));
    let queried = json_of(app.query_transfer_bill("WD2").await, StatusCode::OK).await;
    assert_eq!((&queried["state"], &queried["fail_reason"]), (&json!("FAIL"), &json!("ACCOUNT_FROZEN")));
    let user = json_of(app.app.get(&format!("/mock/wechat/users/{openid}"), None).await, StatusCode::OK).await;
    assert_eq!(user["wallet"], json!({ "balance": "0.00", "transfers": [] }));
}

async fn malformed_transfer_bills_are_refused_in_wechat_pay_shape(store: StoreKind) {
    let app = spawn_mock_app(store).await;
    let openid = app.new_openid("小明").await;
    let valid = app.transfer_body("WD3", &openid, 100);
    let with = |name: &str, value: Value| {
        let mut body = valid.clone();
        body[name] = value;
        body
    };
    let without = |name: &str| {
        let mut body = valid.clone();
        body.as_object_mut().unwrap().remove(name);
        body
    };
    let cases = [
        with("transfer_amount", json!(-1)),
        with("transfer_amount", json!(9)),
        with("transfer_amount", json!(1.5)),
        with("transfer_amount", json!("100")),
        with("transfer_amount", json!(100_000_000_000_001_i64)),
        with("transfer_amount", json!(i64::MIN)),
        with("transfer_amount", json!(u64::MAX)),
        with("transfer_amount", json!(1e30)),
        with("out_bill_no", json!("WD-3")),
        with("out_bill_no", json!("W".repeat(33))),
        with("transfer_remark", json!("备".repeat(33))),
        with("openid", json!("")),
        with("admin", json!(true)),
        without("openid"),
        without("transfer_amount"),
        json!([]),
    ];
    for body in cases {
        let response = app.create_transfer_bill(&body).await;
        assert_pay_error(response, StatusCode::BAD_REQUEST, "PARAM_ERROR").await;
    }
    let not_json = app.app.wechat_pay_post_raw(TRANSFER_BILLS, "{".into()).await;
    assert_pay_error(not_json, StatusCode::BAD_REQUEST, "PARAM_ERROR").await;
    let foreign_app = with("appid", json!("wx1111111111111111"));
    assert_pay_error(app.create_transfer_bill(&foreign_app).await, StatusCode::BAD_REQUEST, "INVALID_REQUEST").await;
    assert_pay_error(app.query_transfer_bill("WD3").await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

crate::on_both_stores!(
    authorize_refuses_bad_parameters_with_wechat_error_numbers,
    the_consent_page_lists_existing_users_and_carries_the_form,
    allowing_redirects_with_a_code_and_denying_with_the_state_only,
    bad_consent_forms_get_the_error_page,
    snsapi_base_redirects_at_once_without_a_page,
    a_code_buys_tokens_and_snapshot_users_are_marked,
    codes_are_single_use_and_expire_after_300_seconds,
    the_code_exchange_checks_the_app_and_grant_type,
    concurrent_exchanges_of_one_code_grant_exactly_one,
    refreshing_keeps_a_valid_token_and_replaces_an_expired_one,
    sns_auth_checks_the_token_and_its_openid,
    userinfo_returns_the_profile_for_the_userinfo_scope_only,
    mock_users_are_created_read_and_validated,
    builtin_and_http_clients_give_the_same_answers,
    a_transfer_bill_pays_once_and_is_queried_by_its_number,
    a_transfer_to_a_frozen_wallet_fails_with_its_reason,
    malformed_transfer_bills_are_refused_in_wechat_pay_shape,
);
