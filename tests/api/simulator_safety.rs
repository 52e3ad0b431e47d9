//! The simulator profile's safety: a production deployment (the real
//! binary with `--env production`) serves no mock and refuses to start with
//! one on; with the simulator off every store's gateway serves no `/mock/*`
//! route, documents none and sends no SMS code anywhere; in the simulator
//! the SMS outbox is open, as docs/simulator.md decides.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    StoreKind, TestApp, assert_error, json_of, spawn_app, spawn_app_with, unique_phone, unique_prefix,
};
use crate::multi_process::{StoreVia, post, start_gateway};
use crate::on_both_stores;

/// What the production environment needs from outside, as an operator
/// would set it.
const PRODUCTION_ENVIRONMENT: [(&str, &str); 9] = [
    ("WALLETGATE_ENV", "production"),
    ("WALLETGATE__SERVER__HOST", "127.0.0.1"),
    ("WALLETGATE__AUTH__JWT_SECRET", "a production jwt secret of 32+ bytes, from env"),
    ("WALLETGATE__AUTH__PIN_PEPPER", "a production pin pepper of 32+ bytes, from env"),
    ("WALLETGATE__AUTH__FINGERPRINT_SECRET", "a production fingerprint key, 32+ bytes, from env"),
    ("WALLETGATE__WEBHOOKS__SECRET", "a production webhook secret, 32+ bytes, from env"),
    ("WALLETGATE__WECHAT__APP_ID", "wx0123456789abcdef"),
    ("WALLETGATE__WECHAT__APP_SECRET", "0123456789abcdef0123456789abcdef"),
    ("WALLETGATE__WECHAT__PUBLIC_BASE_URL", "https://wallet.example.com"),
];

/// Paths of every mock provider, with the method each takes.
const MOCK_CALLS: [(&str, &str); 6] = [
    ("GET", "/mock/sms/outbox?phone=13800000001"),
    ("GET", "/mock/wechat/users/oAb1CdEfGhIjKlMnOpQrStUvWxYz"),
    ("POST", "/mock/wechat/users"),
    ("GET", "/mock/wechat/sns/oauth2/access_token?appid=wx&secret=s&code=c&grant_type=authorization_code"),
    ("GET", "/mock/alipay/keys"),
    ("GET", "/mock/alipay/gateway.do?app_id=2021004100000001&method=alipay.user.info.share"),
];

async fn call(client: &reqwest::Client, base: &str, method: &str, path: &str) -> reqwest::Response {
    let url = format!("{base}{path}");
    let request = match method {
        "POST" => client.post(url).json(&json!({ "nickname": "小明" })),
        _ => client.get(url),
    };
    request.send().await.expect("request sent")
}

/// No route of the mock providers exists: 404 as any unknown path, and the
/// OpenAPI document names none.
async fn assert_no_mock_is_served(client: &reqwest::Client, base: &str) {
    for (method, path) in MOCK_CALLS {
        let response = call(client, base, method, path).await;
        let body = assert_error(response, StatusCode::NOT_FOUND, "NOT_FOUND").await;
        assert_eq!(body["error"]["details"]["resource"], "route", "{method} {path}: {body}");
    }
    let document = json_of(client.get(format!("{base}/openapi.json")).send().await.unwrap(), StatusCode::OK).await;
    let paths: Vec<&String> = document["paths"].as_object().unwrap().keys().collect();
    assert!(paths.iter().all(|path| !path.starts_with("/mock/") && !path.starts_with("/v1/sim/")), "{paths:?}");
}

/// A new user's request for an SMS code, answered.
async fn request_a_code(client: &reqwest::Client, base: &str) -> reqwest::Response {
    let (phone, password) = (unique_phone(), "correct-horse");
    let register = json!({ "phone": phone, "password": password });
    json_of(post(client, format!("{base}/v1/auth/register"), None, register.clone()).await, StatusCode::CREATED).await;
    let login = json_of(post(client, format!("{base}/v1/auth/login"), None, register).await, StatusCode::OK).await;
    let token = login["access_token"].as_str().unwrap();
    post(client, format!("{base}/v1/sms/codes"), Some(token), json!({ "purpose": "set_pin" })).await
}

#[tokio::test]
async fn a_production_gateway_serves_no_mock_and_sends_no_sms_code() {
    let gateway = start_gateway("memory://", StoreVia::Flag, &unique_prefix(), &PRODUCTION_ENVIRONMENT).await;
    let client = reqwest::Client::new();
    let health = client.get(format!("{}/healthz", gateway.address)).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK, "the gateway is up");
    assert_no_mock_is_served(&client, &gateway.address).await;
    assert_error(request_a_code(&client, &gateway.address).await, StatusCode::SERVICE_UNAVAILABLE, "SMS_UNAVAILABLE")
        .await;
}

/// The production environment with `extra` settings, as the binary takes
/// it: whether it started, and what it said on stderr.
fn start_production_with(extra: &[(&str, &str)]) -> (std::process::ExitStatus, String) {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_walletgate"))
        .args(["--port", "0", "--store", "memory://"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("RUST_LOG")
        .envs(PRODUCTION_ENVIRONMENT)
        .envs(extra.iter().copied())
        .output()
        .expect("walletgate runs");
    (output.status, String::from_utf8_lossy(&output.stderr).into_owned())
}

#[test]
fn production_refuses_to_start_with_a_published_alipay_test_key() {
    let published = "config/sim-keys/alipay_platform_private_key.pem";
    let (status, stderr) = start_production_with(&[("WALLETGATE__MOCK_ALIPAY__PLATFORM_PRIVATE_KEY_FILE", published)]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("holds a published test key"), "{stderr}");
}

#[test]
fn production_refuses_to_start_with_the_simulator_or_the_mock_wechat_on() {
    let (status, stderr) = start_production_with(&[
        ("WALLETGATE__SIMULATOR__ENABLED", "true"),
        ("WALLETGATE__MOCK_WECHAT__ENABLED", "true"),
    ]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    let problems: Vec<&str> = stderr.lines().filter(|line| line.starts_with("walletgate: invalid setting:")).collect();
    assert_eq!(problems.len(), 2, "one line each: {stderr}");
    assert!(problems[0].contains("simulator.enabled must be false in production"), "{stderr}");
    assert!(problems[1].contains("mock_wechat.enabled must be false in production"), "{stderr}");

    let (status, stderr) = start_production_with(&[("WALLETGATE__MOCK_ALIPAY__ENABLED", "true")]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("mock_alipay.enabled must be false in production"), "{stderr}");

    let (status, stderr) = start_production_with(&[("WALLETGATE__WECHAT__API_BASE_URL", "")]);
    assert_eq!(status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("wechat.api_base_url \"\" must be an http(s) URL"),
        "no fallback to the own mock: {stderr}"
    );
}

on_both_stores!(
    with_the_simulator_off_no_mock_is_served_or_used,
    without_the_mock_wechat_the_simulator_still_serves_the_sms_outbox,
    in_the_simulator_anyone_reads_the_sms_outbox_without_a_token,
);

async fn with_the_simulator_off_no_mock_is_served_or_used(store: StoreKind) {
    let app = spawn_app_with(store, |settings| {
        settings.simulator.enabled = false;
        settings.mock_wechat.enabled = false;
        settings.wechat.client = walletgate::settings::WeChatClientKind::Http;
        settings.wechat.api_base_url = "http://127.0.0.1:9/wechat".into();
        settings.wechat.authorize_base_url = "http://127.0.0.1:9/wechat".into();
    })
    .await;
    assert!(app.mock_wechat.is_none());
    assert_no_mock_is_served(&app.client, &app.address).await;
    assert_error(request_a_code(&app.client, &app.address).await, StatusCode::SERVICE_UNAVAILABLE, "SMS_UNAVAILABLE")
        .await;
}

async fn without_the_mock_wechat_the_simulator_still_serves_the_sms_outbox(store: StoreKind) {
    let app = spawn_app_with(store, |settings| {
        settings.mock_wechat.enabled = false;
        settings.wechat.client = walletgate::settings::WeChatClientKind::Http;
        settings.wechat.api_base_url = "http://127.0.0.1:9/wechat".into();
        settings.wechat.authorize_base_url = "http://127.0.0.1:9/wechat".into();
    })
    .await;
    let wechat = app.get("/mock/wechat/users/oAb1CdEfGhIjKlMnOpQrStUvWxYz", None).await;
    assert_error(wechat, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let user = app.new_phone_user().await;
    json_of(app.request_sms_code(&user.token, "set_pin").await, StatusCode::ACCEPTED).await;
    assert_eq!(app.latest_sms_code(&user.phone, "set_pin").await.len(), 6);
}

async fn in_the_simulator_anyone_reads_the_sms_outbox_without_a_token(store: StoreKind) {
    let app: TestApp = spawn_app(store).await;
    let user = app.new_phone_user().await;
    json_of(app.request_sms_code(&user.token, "set_pin").await, StatusCode::ACCEPTED).await;
    let outbox = app.get(&format!("/mock/sms/outbox?phone={}", user.phone), None).await;
    let outbox: Value = json_of(outbox, StatusCode::OK).await;
    assert_eq!(outbox["items"][0]["purpose"], "set_pin", "{outbox}");
}
