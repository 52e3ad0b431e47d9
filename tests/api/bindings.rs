//! Binding a WeChat wallet, driven over HTTP the way a phone does it: start,
//! open the authorize URL, submit the consent form, follow the redirect to the
//! callback, read the SMS outbox, confirm.

use chrono::Duration;
use reqwest::StatusCode;
use reqwest::redirect::Policy;
use serde_json::{Value, json};
use walletgate::settings::WeChatClientKind;

use crate::helpers::{StoreKind, TestApp, assert_error, json_of, spawn_app, spawn_app_with, unique_phone};
use crate::on_both_stores;

on_both_stores!(
    a_phone_binds_wechat_through_consent_callback_and_sms,
    the_http_wechat_client_binds_the_same_way,
    a_denied_consent_ends_the_attempt,
    a_replayed_authorization_code_is_refused_with_wechats_reason,
    an_expired_authorization_code_is_refused,
    forged_expired_and_reused_states_are_refused,
    wrong_sms_codes_count_down_and_void_the_code,
    snapshot_users_cannot_be_bound,
    a_second_binding_needs_unbinding_first,
    one_openid_is_never_active_on_two_accounts,
    another_users_binding_is_not_found,
    unbinding_needs_the_pin_and_frees_the_openid,
    a_new_sms_code_can_be_requested_for_a_pending_binding,
    accounts_without_a_phone_cannot_bind,
);

/// A logged-in phone user and a browser that does not follow redirects.
pub(crate) struct Phone<'a> {
    pub(crate) app: &'a TestApp,
    pub(crate) phone: String,
    pub(crate) token: String,
    pub(crate) browser: reqwest::Client,
}

/// What the consent page posts, as the mock's form names them.
pub(crate) enum Choice<'a> {
    NewUser { nickname: &'a str, snapshot: bool },
    Existing(&'a str),
    Deny,
}

impl<'a> Phone<'a> {
    /// The phone of a user registered elsewhere.
    pub(crate) fn of(app: &'a TestApp, user: &crate::helpers::TestUser) -> Phone<'a> {
        let browser = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
        Phone { app, phone: user.phone.clone(), token: user.token.clone(), browser }
    }

    /// The signed-in user's access token.
    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    /// The same phone talking to another gateway instance.
    pub(crate) fn on<'b>(&self, app: &'b TestApp) -> Phone<'b> {
        Phone { app, phone: self.phone.clone(), token: self.token.clone(), browser: self.browser.clone() }
    }

    /// Starts a binding and consents with `openid`; returns the binding's id
    /// and the SMS code that would confirm it.
    pub(crate) async fn pending_binding(&self, openid: &str) -> (String, String) {
        let started = self.start().await;
        let location = self.consent(started["authorize_url"].as_str().unwrap(), Choice::Existing(openid)).await;
        json_of(self.callback(&location).await, StatusCode::OK).await;
        (started["binding_id"].as_str().unwrap().to_owned(), self.latest_sms_code().await)
    }

    pub(crate) async fn new(app: &'a TestApp) -> Phone<'a> {
        let phone = unique_phone();
        let body = json!({ "phone": phone, "password": "correct-horse" });
        json_of(app.register(&body).await, StatusCode::CREATED).await;
        let token = app.login_phone(&phone, "correct-horse").await["access_token"].as_str().unwrap().to_owned();
        let browser = reqwest::Client::builder().redirect(Policy::none()).build().unwrap();
        Phone { app, phone, token, browser }
    }

    pub(crate) async fn start(&self) -> Value {
        json_of(self.app.post("/v1/bindings/wechat", Some(&self.token), &json!({})).await, StatusCode::CREATED).await
    }

    /// Opens the authorize URL, reads the consent form and submits it;
    /// returns where WeChat redirects the browser.
    pub(crate) async fn consent(&self, authorize_url: &str, choice: Choice<'_>) -> String {
        let page = self.browser.get(authorize_url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        let mut form: Vec<(String, String)> = hidden_inputs(&html);
        match choice {
            Choice::NewUser { nickname, snapshot } => {
                form.push(("action".into(), "allow".into()));
                form.push(("nickname".into(), nickname.into()));
                if snapshot {
                    form.push(("snapshot".into(), "on".into()));
                }
            }
            Choice::Existing(openid) => {
                assert!(html.contains(openid), "the consent page lists existing users");
                form.push(("action".into(), "allow".into()));
                form.push(("openid".into(), openid.into()));
            }
            Choice::Deny => form.push(("action".into(), "deny".into())),
        }
        let consent_url = self.app.url("/mock/wechat/connect/oauth2/authorize");
        let redirect = self.browser.post(consent_url).form(&form).send().await.unwrap();
        assert_eq!(redirect.status(), StatusCode::FOUND);
        redirect.headers()["location"].to_str().unwrap().to_owned()
    }

    pub(crate) async fn set_pin(&self, pin: &str) {
        json_of(self.app.request_sms_code(&self.token, "set_pin").await, StatusCode::ACCEPTED).await;
        let code = self.app.latest_sms_code(&self.phone, "set_pin").await;
        json_of(self.app.put_pin(&self.token, &json!({ "pin": pin, "sms_code": code })).await, StatusCode::OK).await;
    }

    /// Follows WeChat's redirect to the gateway's callback, as the browser would.
    pub(crate) async fn callback(&self, location: &str) -> reqwest::Response {
        self.browser.get(location).send().await.unwrap()
    }

    pub(crate) async fn latest_sms_code(&self) -> String {
        let outbox = self.app.get(&format!("/mock/sms/outbox?phone={}", self.phone), None).await;
        let outbox = json_of(outbox, StatusCode::OK).await;
        assert_eq!(outbox["items"][0]["purpose"], "bind_wechat");
        outbox["items"][0]["code"].as_str().unwrap().to_owned()
    }

    pub(crate) async fn confirm(&self, binding_id: &str, sms_code: &str) -> reqwest::Response {
        let path = format!("/v1/bindings/{binding_id}/confirm");
        self.app.post(&path, Some(&self.token), &json!({ "sms_code": sms_code })).await
    }

    pub(crate) async fn binding(&self, binding_id: &str) -> Value {
        json_of(self.app.get(&format!("/v1/bindings/{binding_id}"), Some(&self.token)).await, StatusCode::OK).await
    }

    /// The whole happy path; returns the active binding.
    pub(crate) async fn bind(&self, choice: Choice<'_>) -> Value {
        let started = self.start().await;
        let location = self.consent(started["authorize_url"].as_str().unwrap(), choice).await;
        json_of(self.callback(&location).await, StatusCode::OK).await;
        let code = self.latest_sms_code().await;
        json_of(self.confirm(started["binding_id"].as_str().unwrap(), &code).await, StatusCode::OK).await
    }
}

/// `name`/`value` of every hidden input of a page.
pub(crate) fn hidden_inputs(html: &str) -> Vec<(String, String)> {
    html.split("<input")
        .skip(1)
        .filter_map(|tag| {
            let tag = tag.split('>').next()?;
            if !tag.contains("type=\"hidden\"") {
                return None;
            }
            Some((attribute(tag, "name")?, unescape(&attribute(tag, "value")?)))
        })
        .collect()
}

fn attribute(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!("{name}=\""))? + name.len() + 2;
    Some(tag[start..].split('"').next()?.to_owned())
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

pub(crate) fn query_param(url: &str, name: &str) -> Option<String> {
    let parsed = url::Url::parse(url).unwrap();
    parsed.query_pairs().find(|(key, _)| key == name).map(|(_, value)| value.into_owned())
}

pub(crate) async fn create_wechat_user(app: &TestApp, nickname: &str) -> String {
    let user = app.post("/mock/wechat/users", None, &json!({ "nickname": nickname })).await;
    json_of(user, StatusCode::CREATED).await["openid"].as_str().unwrap().to_owned()
}

async fn a_phone_binds_wechat_through_consent_callback_and_sms(store: StoreKind) {
    let app = spawn_app(store).await;
    let phone = Phone::new(&app).await;
    let started = phone.start().await;
    let authorize_url = started["authorize_url"].as_str().unwrap();
    assert!(authorize_url.ends_with("#wechat_redirect"), "{authorize_url}");
    assert_eq!(query_param(authorize_url, "response_type").as_deref(), Some("code"));
    assert_eq!(query_param(authorize_url, "scope").as_deref(), Some("snsapi_userinfo"));
    let state = query_param(authorize_url, "state").unwrap();
    assert!(state.len() >= 32 && state.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(started["status"], "authorizing");

    let location = phone.consent(authorize_url, Choice::NewUser { nickname: "张三丰", snapshot: false }).await;
    assert!(location.starts_with(&app.url("/v1/bindings/wechat/callback")), "{location}");
    assert_eq!(query_param(&location, "state"), Some(state));

    let authorized = json_of(phone.callback(&location).await, StatusCode::OK).await;
    assert_eq!(authorized["binding"]["status"], "pending_confirmation");
    assert_eq!(authorized["binding"]["nickname"], "张*丰");
    assert_eq!(authorized["sms_sent_to"], format!("{}****{}", &phone.phone[..3], &phone.phone[7..]));

    let binding_id = started["binding_id"].as_str().unwrap();
    let code = phone.latest_sms_code().await;
    let active = json_of(phone.confirm(binding_id, &code).await, StatusCode::OK).await;
    assert_eq!(active["status"], "active");
    assert!(active["openid"].as_str().unwrap().contains("****"), "the openid is masked");

    let list = json_of(app.get("/v1/bindings", Some(&phone.token)).await, StatusCode::OK).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(list["items"][0]["status"], "active");
    // The code is single-use.
    assert_error(phone.confirm(binding_id, &code).await, StatusCode::CONFLICT, "BINDING_STATUS_CONFLICT").await;
}

async fn the_http_wechat_client_binds_the_same_way(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.wechat.client = WeChatClientKind::Http).await;
    let phone = Phone::new(&app).await;
    let active = phone.bind(Choice::NewUser { nickname: "Alexander", snapshot: false }).await;
    assert_eq!((active["status"].as_str(), active["nickname"].as_str()), (Some("active"), Some("A***r")));
}

async fn a_denied_consent_ends_the_attempt(store: StoreKind) {
    let app = spawn_app(store).await;
    let phone = Phone::new(&app).await;
    let started = phone.start().await;
    let location = phone.consent(started["authorize_url"].as_str().unwrap(), Choice::Deny).await;
    assert_eq!(query_param(&location, "code"), None);
    // The browser asks for HTML and gets a page that says what happened.
    let page = phone.browser.get(&location).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.text().await.unwrap().contains("BINDING_CONSENT_DENIED"));
    let binding = phone.binding(started["binding_id"].as_str().unwrap()).await;
    assert_eq!(
        (binding["status"].as_str(), binding["failure_reason"].as_str()),
        (Some("failed"), Some("consent_denied"))
    );
}

async fn a_replayed_authorization_code_is_refused_with_wechats_reason(store: StoreKind) {
    let app = spawn_app(store).await;
    let phone = Phone::new(&app).await;
    let first = phone.start().await;
    let location = phone
        .consent(first["authorize_url"].as_str().unwrap(), Choice::NewUser { nickname: "李四", snapshot: false })
        .await;
    json_of(phone.callback(&location).await, StatusCode::OK).await;

    // A new attempt, with the old (already exchanged) code spliced in.
    let second = phone.start().await;
    let state = query_param(second["authorize_url"].as_str().unwrap(), "state").unwrap();
    let code = query_param(&location, "code").unwrap();
    let replay = app.url(&format!("/v1/bindings/wechat/callback?code={code}&state={state}"));
    let refused =
        assert_error(phone.callback(&replay).await, StatusCode::UNPROCESSABLE_ENTITY, "WECHAT_AUTHORIZATION_FAILED")
            .await;
    assert_eq!(refused["error"]["details"]["errcode"], 40163);
    let binding = phone.binding(second["binding_id"].as_str().unwrap()).await;
    assert_eq!(binding["status"], "failed");
}

async fn an_expired_authorization_code_is_refused(store: StoreKind) {
    let app = spawn_app(store).await;
    let phone = Phone::new(&app).await;
    let started = phone.start().await;
    let location = phone
        .consent(started["authorize_url"].as_str().unwrap(), Choice::NewUser { nickname: "王五", snapshot: false })
        .await;
    app.clock.advance(Duration::seconds(301));
    let refused =
        assert_error(phone.callback(&location).await, StatusCode::UNPROCESSABLE_ENTITY, "WECHAT_AUTHORIZATION_FAILED")
            .await;
    assert_eq!(refused["error"]["details"]["errcode"], 42003);
}

async fn forged_expired_and_reused_states_are_refused(store: StoreKind) {
    let app = spawn_app(store).await;
    let phone = Phone::new(&app).await;
    let forged = app.url("/v1/bindings/wechat/callback?code=abc&state=ForgedState123");
    assert_error(phone.callback(&forged).await, StatusCode::BAD_REQUEST, "BINDING_STATE_INVALID").await;
    let missing = app.url("/v1/bindings/wechat/callback?code=abc");
    assert_error(phone.callback(&missing).await, StatusCode::BAD_REQUEST, "BINDING_STATE_INVALID").await;

    let started = phone.start().await;
    let location = phone
        .consent(started["authorize_url"].as_str().unwrap(), Choice::NewUser { nickname: "赵六", snapshot: false })
        .await;
    json_of(phone.callback(&location).await, StatusCode::OK).await;
    assert_error(phone.callback(&location).await, StatusCode::BAD_REQUEST, "BINDING_STATE_INVALID").await;

    let late = phone.start().await;
    app.clock.advance(Duration::seconds(601));
    let location = phone
        .consent(late["authorize_url"].as_str().unwrap(), Choice::NewUser { nickname: "钱七", snapshot: false })
        .await;
    assert_error(phone.callback(&location).await, StatusCode::BAD_REQUEST, "BINDING_STATE_INVALID").await;
    let binding = phone.binding(late["binding_id"].as_str().unwrap()).await;
    assert_eq!((binding["status"].as_str(), binding["failure_reason"].as_str()), (Some("failed"), Some("expired")));
}

async fn wrong_sms_codes_count_down_and_void_the_code(store: StoreKind) {
    let app = spawn_app(store).await;
    let phone = Phone::new(&app).await;
    let started = phone.start().await;
    let binding_id = started["binding_id"].as_str().unwrap();
    let location = phone
        .consent(started["authorize_url"].as_str().unwrap(), Choice::NewUser { nickname: "孙八", snapshot: false })
        .await;
    json_of(phone.callback(&location).await, StatusCode::OK).await;
    let code = phone.latest_sms_code().await;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for remaining in [2, 1, 0] {
        let refused = assert_error(
            phone.confirm(binding_id, wrong).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "SMS_CODE_INCORRECT",
        )
        .await;
        assert_eq!(refused["error"]["details"]["attempts_remaining"], remaining);
    }
    assert_error(phone.confirm(binding_id, &code).await, StatusCode::UNPROCESSABLE_ENTITY, "SMS_CODE_EXPIRED").await;
    let malformed = phone.confirm(binding_id, "12ab").await;
    assert_error(malformed, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(phone.binding(binding_id).await["status"], "pending_confirmation");
}

async fn snapshot_users_cannot_be_bound(store: StoreKind) {
    let app = spawn_app(store).await;
    let phone = Phone::new(&app).await;
    let started = phone.start().await;
    let location = phone
        .consent(started["authorize_url"].as_str().unwrap(), Choice::NewUser { nickname: "快照", snapshot: true })
        .await;
    assert_error(phone.callback(&location).await, StatusCode::UNPROCESSABLE_ENTITY, "WECHAT_SNAPSHOT_USER").await;
    assert_eq!(phone.binding(started["binding_id"].as_str().unwrap()).await["failure_reason"], "snapshot_user");
}

async fn a_second_binding_needs_unbinding_first(store: StoreKind) {
    let app = spawn_app(store).await;
    let phone = Phone::new(&app).await;
    let active = phone.bind(Choice::NewUser { nickname: "周九", snapshot: false }).await;
    let again = app.post("/v1/bindings/wechat", Some(&phone.token), &json!({})).await;
    let refused = assert_error(again, StatusCode::CONFLICT, "BINDING_ALREADY_ACTIVE").await;
    assert_eq!(refused["error"]["details"]["binding_id"], active["id"]);
}

async fn one_openid_is_never_active_on_two_accounts(store: StoreKind) {
    let app = spawn_app(store).await;
    let openid = create_wechat_user(&app, "吴十").await;
    let (first, second, third) = (Phone::new(&app).await, Phone::new(&app).await, Phone::new(&app).await);

    // Two accounts reach the SMS step with the same WeChat user; only the first to confirm wins.
    let mut pending = Vec::new();
    for phone in [&first, &second] {
        let started = phone.start().await;
        let location = phone.consent(started["authorize_url"].as_str().unwrap(), Choice::Existing(&openid)).await;
        json_of(phone.callback(&location).await, StatusCode::OK).await;
        pending.push((phone, started["binding_id"].as_str().unwrap().to_owned(), phone.latest_sms_code().await));
    }
    let (phone, binding_id, code) = &pending[0];
    json_of(phone.confirm(binding_id, code).await, StatusCode::OK).await;
    let (phone, binding_id, code) = &pending[1];
    assert_error(phone.confirm(binding_id, code).await, StatusCode::CONFLICT, "WECHAT_ALREADY_BOUND").await;
    assert_eq!(phone.binding(binding_id).await["failure_reason"], "already_bound_elsewhere");

    // A third account is stopped already at the callback.
    let started = third.start().await;
    let location = third.consent(started["authorize_url"].as_str().unwrap(), Choice::Existing(&openid)).await;
    assert_error(third.callback(&location).await, StatusCode::CONFLICT, "WECHAT_ALREADY_BOUND").await;
}

async fn another_users_binding_is_not_found(store: StoreKind) {
    let app = spawn_app(store).await;
    let (owner, stranger) = (Phone::new(&app).await, Phone::new(&app).await);
    let active = owner.bind(Choice::NewUser { nickname: "郑十一", snapshot: false }).await;
    let id = active["id"].as_str().unwrap();
    let path = format!("/v1/bindings/{id}");
    assert_error(app.get(&path, Some(&stranger.token)).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_error(stranger.confirm(id, "123456").await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let unbind = app
        .client
        .delete(app.url(&path))
        .bearer_auth(&stranger.token)
        .json(&json!({ "pin": "135790" }))
        .send()
        .await
        .unwrap();
    assert_error(unbind, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_eq!(owner.binding(id).await["status"], "active");
    let nonsense = app.get("/v1/bindings/bnd_nonsense", Some(&owner.token)).await;
    assert_error(nonsense, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

async fn unbinding_needs_the_pin_and_frees_the_openid(store: StoreKind) {
    let app = spawn_app(store).await;
    let openid = create_wechat_user(&app, "冯十二").await;
    let (owner, next) = (Phone::new(&app).await, Phone::new(&app).await);
    let active = owner.bind(Choice::Existing(&openid)).await;
    let path = format!("/v1/bindings/{}", active["id"].as_str().unwrap());
    let unbind = |pin: &'static str| {
        app.client.delete(app.url(&path)).bearer_auth(&owner.token).json(&json!({ "pin": pin })).send()
    };
    assert_error(unbind("135790").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "PIN_NOT_SET").await;
    owner.set_pin("135790").await;
    let wrong = assert_error(unbind("246801").await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY, "PIN_INCORRECT").await;
    assert_eq!(wrong["error"]["details"]["attempts_remaining"], 4);
    assert_eq!(owner.binding(active["id"].as_str().unwrap()).await["status"], "active");
    let unbound = json_of(unbind("135790").await.unwrap(), StatusCode::OK).await;
    assert_eq!(unbound["status"], "unbound");
    assert_error(unbind("135790").await.unwrap(), StatusCode::CONFLICT, "BINDING_STATUS_CONFLICT").await;
    assert_eq!(next.bind(Choice::Existing(&openid)).await["status"], "active");
    assert_eq!(owner.bind(Choice::NewUser { nickname: "新号", snapshot: false }).await["status"], "active");
}

async fn a_new_sms_code_can_be_requested_for_a_pending_binding(store: StoreKind) {
    let app = spawn_app(store).await;
    let phone = Phone::new(&app).await;
    let none_pending = app.request_sms_code(&phone.token, "bind_wechat").await;
    assert_error(none_pending, StatusCode::CONFLICT, "NO_PENDING_BINDING").await;
    let started = phone.start().await;
    let location = phone
        .consent(started["authorize_url"].as_str().unwrap(), Choice::NewUser { nickname: "陈十三", snapshot: false })
        .await;
    json_of(phone.callback(&location).await, StatusCode::OK).await;
    let first = phone.latest_sms_code().await;
    json_of(app.request_sms_code(&phone.token, "bind_wechat").await, StatusCode::ACCEPTED).await;
    let second = phone.latest_sms_code().await;
    let binding_id = started["binding_id"].as_str().unwrap();
    if first != second {
        assert_error(phone.confirm(binding_id, &first).await, StatusCode::UNPROCESSABLE_ENTITY, "SMS_CODE_INCORRECT")
            .await;
    }
    assert_eq!(json_of(phone.confirm(binding_id, &second).await, StatusCode::OK).await["status"], "active");
}

async fn accounts_without_a_phone_cannot_bind(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let refused = app.post("/v1/bindings/wechat", Some(&operator), &json!({})).await;
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "PHONE_REQUIRED").await;
}
