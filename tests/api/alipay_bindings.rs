//! Binding an Alipay account, driven over HTTP the way a phone does it:
//! start, open Alipay's `publicAppAuthorize.htm`, submit the consent form,
//! follow the redirect to the callback (the `auth_code` exchanged through
//! the signing client, in-process and over HTTP alike), read the SMS outbox,
//! confirm, and withdraw to it. Every failure of the attempt ends it with
//! its catalogue code; an account holds one WeChat and one Alipay binding
//! at once; one Alipay account is active on one walletgate account.

use reqwest::StatusCode;
use serde_json::{Value, json};
use walletgate::settings::{AlipayClientKind, Settings};

use crate::alipay_payouts::alipay_user;
use crate::bindings::{Choice, Phone, hidden_inputs, query_param};
use crate::helpers::{StoreKind, TestApp, assert_error, json_of, spawn_app, spawn_app_with};
use crate::on_both_stores;
use crate::settlement::{PIN, Payee, approve, id_of, settle, withdraw, withdrawal};

on_both_stores!(
    a_phone_binds_alipay_through_consent_callback_and_sms_and_withdraws_to_it,
    a_denied_alipay_consent_ends_the_attempt,
    a_replayed_auth_code_is_refused_with_alipays_sub_code,
    forged_foreign_and_cross_provider_states_are_refused,
    an_alipay_account_is_active_on_one_walletgate_account_at_a_time,
    an_account_holds_one_wechat_and_one_alipay_binding_at_once,
    alipay_unreachable_ends_the_attempt_as_provider_unavailable,
    an_uncertified_alipay_account_is_bound_without_a_name,
);

const AUTHORIZE_PATH: &str = "/mock/alipay/oauth2/publicAppAuthorize.htm";
const APP_ID: &str = "2021004100000001";

/// Who consents on the mock Alipay's page.
pub(crate) enum AlipayChoice<'a> {
    /// A new mock Alipay user with this nickname and certified name.
    New {
        nick_name: &'a str,
        real_name: &'a str,
    },
    /// A new mock Alipay user who is not real-name verified.
    Uncertified {
        nick_name: &'a str,
    },
    /// An existing mock Alipay user (its `user_id`).
    Existing(&'a str),
    Deny,
}

impl Phone<'_> {
    pub(crate) async fn start_alipay(&self) -> Value {
        let started = self.app.post("/v1/bindings/alipay", Some(&self.token), &json!({})).await;
        json_of(started, StatusCode::CREATED).await
    }

    /// Opens the authorize URL, reads the consent form and submits it;
    /// returns where Alipay redirects the browser.
    pub(crate) async fn consent_alipay(&self, authorize_url: &str, choice: AlipayChoice<'_>) -> String {
        let page = self.browser.get(authorize_url).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK);
        let html = page.text().await.unwrap();
        let mut form = hidden_inputs(&html);
        let mut field = |name: &str, value: &str| form.push((name.to_owned(), value.to_owned()));
        match choice {
            AlipayChoice::New { nick_name, real_name } => {
                field("action", "allow");
                field("nick_name", nick_name);
                field("real_name", real_name);
            }
            AlipayChoice::Uncertified { nick_name } => {
                field("action", "allow");
                field("nick_name", nick_name);
                field("unverified", "on");
            }
            AlipayChoice::Existing(user_id) => {
                assert!(html.contains(user_id), "the consent page lists existing users");
                field("action", "allow");
                field("user_id", user_id);
            }
            AlipayChoice::Deny => field("action", "deny"),
        }
        let redirect = self.browser.post(self.app.url(AUTHORIZE_PATH)).form(&form).send().await.unwrap();
        assert_eq!(redirect.status(), StatusCode::FOUND);
        redirect.headers()["location"].to_str().unwrap().to_owned()
    }

    /// The newest code texted to confirm an Alipay binding.
    pub(crate) async fn alipay_sms_code(&self) -> String {
        let outbox = self.app.get(&format!("/mock/sms/outbox?phone={}", self.phone), None).await;
        let outbox = json_of(outbox, StatusCode::OK).await;
        assert_eq!(outbox["items"][0]["purpose"], "bind_alipay", "{outbox}");
        outbox["items"][0]["code"].as_str().unwrap().to_owned()
    }

    /// Starts an Alipay binding and consents; returns the binding's id and
    /// the SMS code that would confirm it.
    pub(crate) async fn pending_alipay_binding(&self, choice: AlipayChoice<'_>) -> (String, String) {
        let started = self.start_alipay().await;
        let location = self.consent_alipay(started["authorize_url"].as_str().unwrap(), choice).await;
        json_of(self.callback(&location).await, StatusCode::OK).await;
        (started["binding_id"].as_str().unwrap().to_owned(), self.alipay_sms_code().await)
    }

    /// The whole happy path; returns the active binding.
    pub(crate) async fn bind_alipay(&self, choice: AlipayChoice<'_>) -> Value {
        let (binding_id, code) = self.pending_alipay_binding(choice).await;
        json_of(self.confirm(&binding_id, &code).await, StatusCode::OK).await
    }
}

fn over_http(settings: &mut Settings) {
    settings.alipay.client = AlipayClientKind::Http;
}

/// The same app built in-process and with the HTTP client.
async fn with_each_client(store: StoreKind) -> [TestApp; 2] {
    [spawn_app(store).await, spawn_app_with(store, over_http).await]
}

/// The mock Alipay user with this nickname (the newest of them).
async fn mock_user_named(app: &TestApp, nick_name: &str) -> Value {
    let users = json_of(app.get("/mock/alipay/users", None).await, StatusCode::OK).await;
    let found = users["items"].as_array().unwrap().iter().find(|user| user["nick_name"] == nick_name);
    found.unwrap_or_else(|| panic!("no mock Alipay user {nick_name}: {users}")).clone()
}

async fn mock_user(app: &TestApp, user_id: &str) -> Value {
    json_of(app.get(&format!("/mock/alipay/users/{user_id}"), None).await, StatusCode::OK).await
}

/// A withdrawal of `amount` to the payee's binding, approved if it waits for review, and due.
async fn approved(app: &TestApp, payee: &Payee, amount: &str) -> String {
    let created = withdraw(app, payee, amount).await;
    let id = id_of(&created);
    if created["status"] == "in_review" {
        let operator = app.operator_token().await;
        json_of(approve(app, &operator, &id).await, StatusCode::OK).await;
    }
    // Past `withdrawals.auto_review_delay_secs` of an automatic one.
    app.clock.advance(chrono::Duration::seconds(10));
    id
}

async fn a_phone_binds_alipay_through_consent_callback_and_sms_and_withdraws_to_it(store: StoreKind) {
    for app in with_each_client(store).await {
        let user = app.new_phone_user().await;
        let phone = Phone::of(&app, &user);
        let started = phone.start_alipay().await;
        assert_eq!(started["status"], "authorizing");
        let authorize_url = started["authorize_url"].as_str().unwrap();
        assert!(authorize_url.starts_with(&format!("{}?", app.url(AUTHORIZE_PATH))), "{authorize_url}");
        assert_eq!(query_param(authorize_url, "app_id").as_deref(), Some(APP_ID));
        assert_eq!(query_param(authorize_url, "scope").as_deref(), Some("auth_user"));
        let callback_url = app.url("/v1/bindings/alipay/callback");
        assert_eq!(query_param(authorize_url, "redirect_uri"), Some(callback_url.clone()));
        let state = query_param(authorize_url, "state").unwrap();
        assert!(state.len() >= 32 && state.bytes().all(|b| b.is_ascii_alphanumeric()));

        let choice = AlipayChoice::New { nick_name: "小明", real_name: "李小龙" };
        let location = phone.consent_alipay(authorize_url, choice).await;
        assert!(location.starts_with(&callback_url), "{location}");
        assert_eq!(query_param(&location, "state"), Some(state));
        assert_eq!(query_param(&location, "source").as_deref(), Some("alipay_wallet"));
        assert!(query_param(&location, "auth_code").is_some(), "{location}");

        let authorized = json_of(phone.callback(&location).await, StatusCode::OK).await;
        let binding = &authorized["binding"];
        assert_eq!(
            (binding["provider"].as_str(), binding["status"].as_str()),
            (Some("alipay"), Some("pending_confirmation"))
        );
        assert_eq!((binding["nickname"].as_str(), binding["real_name"].as_str()), (Some("小*"), Some("李*龙")));
        let outbox =
            json_of(app.get(&format!("/mock/sms/outbox?phone={}", phone.phone), None).await, StatusCode::OK).await;
        assert!(outbox["items"][0]["text"].as_str().unwrap().contains("绑定支付宝“小*”"), "{outbox}");

        let binding_id = started["binding_id"].as_str().unwrap();
        let active = json_of(phone.confirm(binding_id, &phone.alipay_sms_code().await).await, StatusCode::OK).await;
        assert_eq!((active["provider"].as_str(), active["status"].as_str()), (Some("alipay"), Some("active")));
        let alipay = mock_user_named(&app, "小明").await;
        let open_id = alipay["open_id"].as_str().unwrap();
        let masked = active["openid"].as_str().unwrap();
        assert!(masked.contains("****") && masked.starts_with(&open_id[..4]), "the open id, masked: {active}");

        // Withdraw to it: the mock Alipay user is paid, named by the certified name.
        let operator = app.operator_token().await;
        json_of(app.credit(&operator, &user.id, "500.00").await, StatusCode::CREATED).await;
        phone.set_pin(PIN).await;
        let payee = Payee { user: user.clone(), binding_id: binding_id.to_owned(), openid: open_id.to_owned() };
        let id = approved(&app, &payee, "120.00").await;
        assert_eq!(settle(&app).await.settled, 1);
        let settled = withdrawal(&app, &payee, &id).await;
        assert_eq!(
            (settled["status"].as_str(), settled["destination"]["provider"].as_str()),
            (Some("settled"), Some("alipay")),
            "{settled}"
        );
        let user_id = alipay["user_id"].as_str().unwrap();
        assert_eq!(mock_user(&app, user_id).await["wallet"]["balance"], "120.00");
        // The name went with the transfer: once Alipay knows another, a payout is refused for it.
        let renamed = app
            .client
            .patch(app.url(&format!("/mock/alipay/users/{user_id}")))
            .json(&json!({ "real_name": "李四" }))
            .send()
            .await
            .unwrap();
        assert_eq!(renamed.status(), StatusCode::OK);
        let id = approved(&app, &payee, "10.00").await;
        assert_eq!(settle(&app).await.failed, 1);
        assert_eq!(withdrawal(&app, &payee, &id).await["failure_reason"], "PAYEE_USER_INFO_ERROR");
        app.assert_ledger_balanced().await;
    }
}

async fn a_denied_alipay_consent_ends_the_attempt(store: StoreKind) {
    let app = spawn_app(store).await;
    let phone = Phone::new(&app).await;
    let started = phone.start_alipay().await;
    let location = phone.consent_alipay(started["authorize_url"].as_str().unwrap(), AlipayChoice::Deny).await;
    assert_eq!(query_param(&location, "auth_code"), None);
    let page = phone.browser.get(&location).header("accept", "text/html").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let page = page.text().await.unwrap();
    assert!(page.contains("BINDING_CONSENT_DENIED") && page.contains("绑定失败"), "{page}");
    let binding = phone.binding(started["binding_id"].as_str().unwrap()).await;
    assert_eq!(
        (binding["status"].as_str(), binding["failure_reason"].as_str()),
        (Some("failed"), Some("consent_denied"))
    );
}

async fn a_replayed_auth_code_is_refused_with_alipays_sub_code(store: StoreKind) {
    for app in with_each_client(store).await {
        let phone = Phone::new(&app).await;
        let first = phone.start_alipay().await;
        let choice = AlipayChoice::New { nick_name: "阿强", real_name: "王强" };
        let location = phone.consent_alipay(first["authorize_url"].as_str().unwrap(), choice).await;
        json_of(phone.callback(&location).await, StatusCode::OK).await;

        // A new attempt, with the old (already exchanged) auth_code spliced in.
        let second = phone.start_alipay().await;
        let state = query_param(second["authorize_url"].as_str().unwrap(), "state").unwrap();
        let auth_code = query_param(&location, "auth_code").unwrap();
        let replay = app.url(&format!(
            "/v1/bindings/alipay/callback?auth_code={auth_code}&state={state}&app_id={APP_ID}&source=alipay_wallet"
        ));
        let refused = assert_error(
            phone.callback(&replay).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "ALIPAY_AUTHORIZATION_FAILED",
        )
        .await;
        assert_eq!(refused["error"]["details"]["sub_code"], "isv.code-invalid", "{refused}");
        let binding = phone.binding(second["binding_id"].as_str().unwrap()).await;
        assert_eq!(
            (binding["status"].as_str(), binding["failure_reason"].as_str()),
            (Some("failed"), Some("authorization_rejected"))
        );

        // An auth_code past its 300 s is refused the same way.
        let third = phone.start_alipay().await;
        let choice = AlipayChoice::New { nick_name: "阿珍", real_name: "陈珍" };
        let location = phone.consent_alipay(third["authorize_url"].as_str().unwrap(), choice).await;
        app.clock.advance(chrono::Duration::seconds(301));
        let refused = assert_error(
            phone.callback(&location).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "ALIPAY_AUTHORIZATION_FAILED",
        )
        .await;
        assert_eq!(refused["error"]["details"]["sub_code"], "isv.code-invalid");
    }
}

async fn forged_foreign_and_cross_provider_states_are_refused(store: StoreKind) {
    let app = spawn_app(store).await;
    let phone = Phone::new(&app).await;
    let callback = |query: &str| app.url(&format!("/v1/bindings/alipay/callback?{query}"));
    let forged = phone.callback(&callback("auth_code=abc&state=ForgedState123")).await;
    assert_error(forged, StatusCode::BAD_REQUEST, "BINDING_STATE_INVALID").await;
    assert_error(phone.callback(&callback("auth_code=abc")).await, StatusCode::BAD_REQUEST, "BINDING_STATE_INVALID")
        .await;

    // Another app's consent is not this gateway's: refused before the state is spent.
    let started = phone.start_alipay().await;
    let choice = AlipayChoice::New { nick_name: "阿伟", real_name: "刘伟" };
    let location = phone.consent_alipay(started["authorize_url"].as_str().unwrap(), choice).await;
    let foreign = location.replace(&format!("app_id={APP_ID}"), "app_id=2021000000000000");
    let refused = assert_error(phone.callback(&foreign).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(refused["error"]["details"]["field"], "app_id");
    json_of(phone.callback(&location).await, StatusCode::OK).await;
    // Used once, the state is spent.
    assert_error(phone.callback(&location).await, StatusCode::BAD_REQUEST, "BINDING_STATE_INVALID").await;

    // A WeChat attempt's state brought to Alipay's callback ends that attempt.
    let wechat = phone.start().await;
    let state = query_param(wechat["authorize_url"].as_str().unwrap(), "state").unwrap();
    let crossed = phone.callback(&callback(&format!("auth_code=abc&state={state}"))).await;
    assert_error(crossed, StatusCode::BAD_REQUEST, "BINDING_STATE_INVALID").await;
    assert_eq!(phone.binding(wechat["binding_id"].as_str().unwrap()).await["status"], "failed");

    // A consent given after the attempt's deadline finds its state expired.
    let late = phone.start_alipay().await;
    app.clock.advance(chrono::Duration::seconds(601));
    let choice = AlipayChoice::New { nick_name: "阿杰", real_name: "周杰" };
    let location = phone.consent_alipay(late["authorize_url"].as_str().unwrap(), choice).await;
    assert_error(phone.callback(&location).await, StatusCode::BAD_REQUEST, "BINDING_STATE_INVALID").await;
    let binding = phone.binding(late["binding_id"].as_str().unwrap()).await;
    assert_eq!((binding["status"].as_str(), binding["failure_reason"].as_str()), (Some("failed"), Some("expired")));
}

async fn an_alipay_account_is_active_on_one_walletgate_account_at_a_time(store: StoreKind) {
    let app = spawn_app(store).await;
    let user = alipay_user(&app, json!({ "nick_name": "共享号" })).await;
    let user_id = user["user_id"].as_str().unwrap();
    let (first, second, third) = (Phone::new(&app).await, Phone::new(&app).await, Phone::new(&app).await);

    // Two accounts reach the SMS step with the same Alipay user; only the first to confirm wins.
    let (first_binding, first_code) = first.pending_alipay_binding(AlipayChoice::Existing(user_id)).await;
    let (second_binding, second_code) = second.pending_alipay_binding(AlipayChoice::Existing(user_id)).await;
    json_of(first.confirm(&first_binding, &first_code).await, StatusCode::OK).await;
    let refused = second.confirm(&second_binding, &second_code).await;
    assert_error(refused, StatusCode::CONFLICT, "ALIPAY_ALREADY_BOUND").await;
    assert_eq!(second.binding(&second_binding).await["failure_reason"], "already_bound_elsewhere");

    // A third account is stopped already at the callback.
    let started = third.start_alipay().await;
    let location =
        third.consent_alipay(started["authorize_url"].as_str().unwrap(), AlipayChoice::Existing(user_id)).await;
    assert_error(third.callback(&location).await, StatusCode::CONFLICT, "ALIPAY_ALREADY_BOUND").await;

    // A WeChat openid equal to nothing Alipay holds is not in the way: the indexes are per provider.
    assert_eq!(third.bind(Choice::NewUser { nickname: "微信号", snapshot: false }).await["status"], "active");

    // Unbound (with the PIN), the Alipay account is free for another account.
    first.set_pin(PIN).await;
    let path = format!("/v1/bindings/{first_binding}");
    let unbind = app.client.delete(app.url(&path)).bearer_auth(&first.token).json(&json!({ "pin": PIN })).send().await;
    assert_eq!(json_of(unbind.unwrap(), StatusCode::OK).await["status"], "unbound");
    assert_eq!(third.bind_alipay(AlipayChoice::Existing(user_id)).await["status"], "active");
}

async fn an_account_holds_one_wechat_and_one_alipay_binding_at_once(store: StoreKind) {
    let app = spawn_app(store).await;
    let phone = Phone::new(&app).await;
    let wechat = phone.bind(Choice::NewUser { nickname: "张三丰", snapshot: false }).await;

    // An Alipay attempt waits for its code; the WeChat code purpose finds nothing pending.
    let (alipay_id, first_code) =
        phone.pending_alipay_binding(AlipayChoice::New { nick_name: "小红", real_name: "林红" }).await;
    let none_pending = app.request_sms_code(&phone.token, "bind_wechat").await;
    assert_error(none_pending, StatusCode::CONFLICT, "NO_PENDING_BINDING").await;
    json_of(app.request_sms_code(&phone.token, "bind_alipay").await, StatusCode::ACCEPTED).await;
    let second_code = phone.alipay_sms_code().await;
    if first_code != second_code {
        let stale = phone.confirm(&alipay_id, &first_code).await;
        assert_error(stale, StatusCode::UNPROCESSABLE_ENTITY, "SMS_CODE_INCORRECT").await;
    }
    let alipay = json_of(phone.confirm(&alipay_id, &second_code).await, StatusCode::OK).await;
    assert_eq!(alipay["status"], "active");

    // Both active at once; a second of either provider needs unbinding first.
    let again = app.post("/v1/bindings/alipay", Some(&phone.token), &json!({})).await;
    let refused = assert_error(again, StatusCode::CONFLICT, "BINDING_ALREADY_ACTIVE").await;
    assert_eq!(refused["error"]["details"]["binding_id"], alipay["id"]);
    let again = app.post("/v1/bindings/wechat", Some(&phone.token), &json!({})).await;
    let refused = assert_error(again, StatusCode::CONFLICT, "BINDING_ALREADY_ACTIVE").await;
    assert_eq!(refused["error"]["details"]["binding_id"], wechat["id"]);

    let list = json_of(app.get("/v1/bindings", Some(&phone.token)).await, StatusCode::OK).await;
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{list}");
    assert_eq!((items[0]["provider"].as_str(), items[0]["status"].as_str()), (Some("alipay"), Some("active")));
    assert_eq!((items[1]["provider"].as_str(), items[1]["status"].as_str()), (Some("wechat"), Some("active")));
    assert_eq!((items[0]["nickname"].as_str(), items[0]["real_name"].as_str()), (Some("小*"), Some("林*")));
    assert!(items.iter().all(|item| item["openid"].as_str().unwrap().contains("****")), "{list}");
    assert!(items[1].get("real_name").is_none(), "WeChat bindings carry no real name: {list}");
}

async fn alipay_unreachable_ends_the_attempt_as_provider_unavailable(store: StoreKind) {
    for app in with_each_client(store).await {
        let operator = app.operator_token().await;
        let phone = Phone::new(&app).await;
        let rules = [
            json!({ "operation": "alipay.oauth_token", "respond": { "type": "fault", "fault": "connection_reset" } }),
            json!({ "operation": "alipay.oauth_token", "respond": { "type": "system_error" } }),
            json!({ "operation": "alipay.oauth_token", "respond": { "type": "http_error", "status": 502, "code": "BAD_GATEWAY" } }),
            json!({ "operation": "alipay.user_info", "respond": { "type": "fault", "fault": "malformed_body" } }),
        ];
        for rule in rules {
            let body = json!({ "match": { "operation": rule["operation"] }, "respond": rule["respond"], "times": 1 });
            json_of(app.post("/v1/sim/rules", Some(&operator), &body).await, StatusCode::CREATED).await;
            let started = phone.start_alipay().await;
            let choice = AlipayChoice::New { nick_name: "断线", real_name: "赵断" };
            let location = phone.consent_alipay(started["authorize_url"].as_str().unwrap(), choice).await;
            let refused =
                assert_error(phone.callback(&location).await, StatusCode::SERVICE_UNAVAILABLE, "PROVIDER_UNAVAILABLE")
                    .await;
            assert_eq!(refused["error"]["details"]["provider"], "alipay", "{rule}: {refused}");
            let binding = phone.binding(started["binding_id"].as_str().unwrap()).await;
            assert_eq!(
                (binding["status"].as_str(), binding["failure_reason"].as_str()),
                (Some("failed"), Some("provider_unavailable")),
                "{rule}"
            );
        }
        // With the rules spent, the next attempt binds.
        let active = phone.bind_alipay(AlipayChoice::New { nick_name: "恢复", real_name: "赵复" }).await;
        assert_eq!(active["status"], "active");
    }
    // No Alipay gateway at all (no mock, no gateway_url): a binding cannot start.
    let app = spawn_app_with(store, |settings| settings.mock_alipay.enabled = false).await;
    let phone = Phone::new(&app).await;
    let refused = app.post("/v1/bindings/alipay", Some(&phone.token), &json!({})).await;
    let refused = assert_error(refused, StatusCode::SERVICE_UNAVAILABLE, "PROVIDER_UNAVAILABLE").await;
    assert_eq!(refused["error"]["details"]["provider"], "alipay");
}

async fn an_uncertified_alipay_account_is_bound_without_a_name(store: StoreKind) {
    let app = spawn_app(store).await;
    let phone = Phone::new(&app).await;
    let active = phone.bind_alipay(AlipayChoice::Uncertified { nick_name: "未实名" }).await;
    assert_eq!(active["status"], "active");
    assert!(active.get("real_name").is_none(), "Alipay's user_name means nothing uncertified: {active}");
}
