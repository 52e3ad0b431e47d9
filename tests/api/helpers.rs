//! The test harness: `spawn_app` starts the real server on a random port with
//! fresh state and a manual clock, on either store; `TestApp` has one method
//! per endpoint so tests read like the API.

use std::path::PathBuf;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use redis::Commands;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use walletgate::clock::{Clock, ManualClock};
use walletgate::domain::rsa2;
use walletgate::domain::wechatpay_sign::{MerchantKey, Request as SignedRequest};
use walletgate::providers::wechat::mock::MockWeChat;
use walletgate::services::ServiceSet;
use walletgate::settings::{Overrides, Settings};
use walletgate::startup::Application;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Redis,
    /// A three-master Redis Cluster.
    Cluster,
}

impl StoreKind {
    /// Whether the store is Redis (one node or a cluster): shared by processes, with keys to clean up.
    pub fn is_redis(self) -> bool {
        matches!(self, StoreKind::Redis | StoreKind::Cluster)
    }
}

/// The Redis every Redis test uses, each test on its own key prefix: a
/// private `redis-server` this test process starts on first use
/// (`redis_servers`), or the one `WALLETGATE_TEST_REDIS_URL` names. Tests
/// fail (never skip) when it cannot be had.
pub fn redis_url() -> String {
    std::env::var("WALLETGATE_TEST_REDIS_URL").unwrap_or_else(|_| crate::redis_servers::shared_redis_url().to_owned())
}

/// The Redis Cluster every cluster test uses, each test on its own key
/// prefix: a private three-master cluster this test process starts on first
/// use, or the one `WALLETGATE_TEST_REDIS_CLUSTER_URL` names
/// (`redis+cluster://host:port,host:port,…`).
pub fn redis_cluster_url() -> String {
    std::env::var("WALLETGATE_TEST_REDIS_CLUSTER_URL")
        .unwrap_or_else(|_| crate::redis_servers::shared_cluster_url().to_owned())
}

/// Deletes one test's Redis keys when the test ends, so a shared Redis (the
/// suite's own, or one named by `WALLETGATE_TEST_REDIS_URL`) does not fill up
/// with the leftovers of every test.
pub struct RedisKeysGuard {
    url: String,
    prefix: String,
}

impl RedisKeysGuard {
    pub fn new(url: &str, prefix: &str) -> RedisKeysGuard {
        RedisKeysGuard { url: url.to_owned(), prefix: prefix.to_owned() }
    }
}

impl Drop for RedisKeysGuard {
    fn drop(&mut self) {
        // A cluster's keys are deleted node by node, one key per command
        // (keys of one node may lie in different slots).
        let nodes: Vec<String> = match self.url.strip_prefix("redis+cluster://") {
            Some(hosts) => hosts.trim_end_matches('/').split(',').map(|host| format!("redis://{host}/")).collect(),
            None => vec![self.url.clone()],
        };
        for node in nodes {
            let Ok(client) = redis::Client::open(node.as_str()) else { continue };
            let Ok(mut connection) = client.get_connection_with_timeout(std::time::Duration::from_secs(2)) else {
                continue;
            };
            let Ok(keys) = connection.scan_match::<_, String>(format!("{}:*", self.prefix)) else { continue };
            let keys: Vec<String> = keys.filter_map(Result::ok).collect();
            let mut pipeline = redis::pipe();
            for key in &keys {
                pipeline.cmd("DEL").arg(key).ignore();
            }
            let _: redis::RedisResult<()> = pipeline.query(&mut connection);
        }
    }
}

pub fn unique_prefix() -> String {
    format!("wgtest:{}", uuid::Uuid::new_v4().simple())
}

/// A phone number no other test uses.
pub fn unique_phone() -> String {
    let digits = uuid::Uuid::new_v4().as_u128() % 100_000_000;
    format!("139{digits:08}")
}

pub fn test_settings(store: StoreKind) -> Settings {
    let config_dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config");
    let overrides =
        Overrides { environment: Some("test".into()), config_dir: Some(config_dir), ..Overrides::default() };
    let mut settings = Settings::load(&overrides).expect("test settings load");
    settings.server.port = 0;
    settings.store.key_prefix = unique_prefix();
    settings.store.url = match store {
        StoreKind::Memory => "memory://".into(),
        StoreKind::Redis => redis_url(),
        StoreKind::Cluster => redis_cluster_url(),
    };
    settings
}

pub struct TestApp {
    pub store_kind: StoreKind,
    /// The settings this instance was built with (its store key prefix among them).
    pub settings: Settings,
    pub address: String,
    pub client: reqwest::Client,
    pub clock: Arc<ManualClock>,
    pub services: ServiceSet,
    pub mock_wechat: Option<Arc<MockWeChat>>,
    _redis_keys: Option<RedisKeysGuard>,
}

/// A registered phone user, logged in.
#[derive(Clone)]
pub struct TestUser {
    pub id: String,
    pub phone: String,
    pub token: String,
}

pub async fn spawn_app(store: StoreKind) -> TestApp {
    spawn_app_with(store, |_| {}).await
}

pub async fn spawn_app_with(store: StoreKind, customize: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = test_settings(store);
    customize(&mut settings);
    let redis_keys = store.is_redis().then(|| RedisKeysGuard::new(&settings.store.url, &settings.store.key_prefix));
    walletgate::telemetry::init_logging(&settings.log);
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap()));
    let application = Application::build(settings.clone(), clock.clone()).await.expect("application builds");
    serve_test_app(store, settings, clock, application, redis_keys)
}

fn serve_test_app(
    store_kind: StoreKind,
    settings: Settings,
    clock: Arc<ManualClock>,
    application: Application,
    redis_keys: Option<RedisKeysGuard>,
) -> TestApp {
    let address = format!("http://127.0.0.1:{}", application.port());
    let services = application.services().clone();
    let mock_wechat = application.mock_wechat().cloned();
    tokio::spawn(application.run_until_stopped());
    let client = reqwest::Client::new();
    TestApp { store_kind, settings, address, client, clock, services, mock_wechat, _redis_keys: redis_keys }
}

/// Another gateway instance on the same data and the same test clock, as a
/// second process on one Redis would be (on Redis it has its own connection;
/// on memory it shares the first instance's store).
pub async fn spawn_second_instance(first: &TestApp) -> TestApp {
    let mut settings = first.settings.clone();
    settings.server.port = 0;
    let clock = first.clock.clone();
    let application = match first.store_kind {
        StoreKind::Memory => {
            Application::build_with_store(settings.clone(), clock.clone(), first.services.partitions.store.clone())
                .await
        }
        StoreKind::Redis | StoreKind::Cluster => Application::build(settings.clone(), clock.clone()).await,
    };
    serve_test_app(first.store_kind, settings, clock, application.expect("second instance builds"), None)
}

/// Asserts the catalogue's error shape and returns the body.
pub async fn assert_error(response: Response, status: StatusCode, code: &str) -> Value {
    let actual_status = response.status();
    let body: Value = response.json().await.expect("error bodies are JSON");
    assert_eq!(actual_status, status, "body: {body}");
    assert_eq!(body["error"]["code"], code, "body: {body}");
    assert!(body["error"]["message"].as_str().is_some_and(|m| !m.is_empty()), "body: {body}");
    assert!(body["error"]["details"].is_object(), "body: {body}");
    body
}

/// An error body without its `request_id`, which is each answer's own: for
/// comparing two answers that must otherwise be the same.
pub fn without_request_id(mut body: Value) -> Value {
    let removed = body["error"].as_object_mut().and_then(|error| error.remove("request_id"));
    assert!(removed.as_ref().is_some_and(Value::is_string), "no request_id: {body}");
    body
}

pub async fn json_of(response: Response, status: StatusCode) -> Value {
    let actual_status = response.status();
    let body: Value = response.json().await.expect("JSON body");
    assert_eq!(actual_status, status, "body: {body}");
    body
}

/// Of money-moving responses: how many were granted (201) and how many
/// refused for the balance (422). Anything else counts in neither.
pub fn count_granted_and_refused(statuses: &[StatusCode]) -> (usize, usize) {
    let count = |wanted: StatusCode| statuses.iter().filter(|s| **s == wanted).count();
    (count(StatusCode::CREATED), count(StatusCode::UNPROCESSABLE_ENTITY))
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Response {
        let mut request = self.client.post(self.url(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn delete(&self, path: &str, token: Option<&str>) -> Response {
        let mut request = self.client.delete(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    pub async fn post_raw(&self, path: &str, token: Option<&str>, content_type: &str, body: String) -> Response {
        let mut request = self.client.post(self.url(path)).header("content-type", content_type).body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send().await.expect("request sent")
    }

    /// The `Authorization` the mock WeChat Pay's registered merchant sends
    /// with `method` to `path` (under `/mock/wechat`) and `body`, signed at
    /// the test clock's time (the server's wall clock).
    pub fn wechat_pay_authorization(&self, method: &str, path: &str, body: &[u8]) -> String {
        let pay = &self.settings.mock_wechat.pay;
        let merchant = MerchantKey {
            mchid: pay.mchid.clone(),
            serial_no: pay.merchant_serial_no.clone(),
            private_key: rsa2::private_key(rsa2::test_keys::WECHATPAY_MERCHANT_PRIVATE_KEY_PEM).expect("test key"),
        };
        let url = path.strip_prefix("/mock/wechat").expect("a path under /mock/wechat");
        let now = self.clock.now().timestamp();
        merchant.authorize(SignedRequest { method, url, body }, now, "5K8264ILTKCH16CQ2502SI8ZNMTM67VS").header()
    }

    /// A signed GET to the mock WeChat Pay, as an SDK sends it.
    pub async fn wechat_pay_get(&self, path: &str) -> Response {
        let authorization = self.wechat_pay_authorization("GET", path, b"");
        self.client.get(self.url(path)).header("authorization", authorization).send().await.expect("request sent")
    }

    /// A signed POST of `body` (as JSON) to the mock WeChat Pay, as an SDK sends it.
    pub async fn wechat_pay_post(&self, path: &str, body: &Value) -> Response {
        self.wechat_pay_post_raw(path, body.to_string()).await
    }

    /// A signed POST of exactly `body` to the mock WeChat Pay.
    pub async fn wechat_pay_post_raw(&self, path: &str, body: String) -> Response {
        self.wechat_pay_post_with(path, body, &[]).await
    }

    /// A signed POST of exactly `body` with extra `headers` (e.g. `Wechatpay-Serial`).
    pub async fn wechat_pay_post_with(&self, path: &str, body: String, headers: &[(&str, &str)]) -> Response {
        let authorization = self.wechat_pay_authorization("POST", path, body.as_bytes());
        let mut request = self.client.post(self.url(path)).header("authorization", authorization);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.header("content-type", "application/json").body(body).send().await.expect("request sent")
    }

    pub async fn register(&self, body: &Value) -> Response {
        self.post("/v1/auth/register", None, body).await
    }

    pub async fn login(&self, body: &Value) -> Response {
        self.post("/v1/auth/login", None, body).await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Response {
        self.post("/v1/auth/refresh", None, &json!({ "refresh_token": refresh_token })).await
    }

    /// Logs in by phone and returns the token pair.
    pub async fn login_phone(&self, phone: &str, password: &str) -> Value {
        json_of(self.login(&json!({ "phone": phone, "password": password })).await, StatusCode::OK).await
    }

    pub async fn operator_token(&self) -> String {
        let body = json!({ "email": "ops@walletgate.test", "password": "operator-demo" });
        let tokens = json_of(self.login(&body).await, StatusCode::OK).await;
        tokens["access_token"].as_str().expect("access token").to_owned()
    }

    /// Registers a fresh user and returns (account id, access token).
    pub async fn new_user(&self) -> (String, String) {
        let phone = unique_phone();
        let body = json!({ "phone": phone, "password": "correct-horse" });
        let profile = json_of(self.register(&body).await, StatusCode::CREATED).await;
        let tokens = self.login_phone(&phone, "correct-horse").await;
        (profile["id"].as_str().unwrap().to_owned(), tokens["access_token"].as_str().unwrap().to_owned())
    }

    /// Registers and logs in a fresh phone user.
    pub async fn new_phone_user(&self) -> TestUser {
        let phone = unique_phone();
        let body = json!({ "phone": phone, "password": "correct-horse" });
        let profile = json_of(self.register(&body).await, StatusCode::CREATED).await;
        let token = self.login_phone(&phone, "correct-horse").await["access_token"].as_str().unwrap().to_owned();
        TestUser { id: profile["id"].as_str().unwrap().to_owned(), phone, token }
    }

    /// Logs in again, e.g. after the clock moved past the access token's life.
    pub async fn log_in_again(&self, user: &mut TestUser) {
        user.token = self.login_phone(&user.phone, "correct-horse").await["access_token"].as_str().unwrap().to_owned();
    }

    pub async fn request_sms_code(&self, token: &str, purpose: &str) -> Response {
        self.post("/v1/sms/codes", Some(token), &json!({ "purpose": purpose })).await
    }

    /// The newest code the mock SMS outbox holds for `phone`, checking its purpose.
    pub async fn latest_sms_code(&self, phone: &str, purpose: &str) -> String {
        let outbox = json_of(self.get(&format!("/mock/sms/outbox?phone={phone}"), None).await, StatusCode::OK).await;
        assert_eq!(outbox["items"][0]["purpose"], purpose, "outbox: {outbox}");
        outbox["items"][0]["code"].as_str().unwrap().to_owned()
    }

    pub async fn put_pin(&self, token: &str, body: &Value) -> Response {
        self.client.put(self.url("/v1/pin")).bearer_auth(token).json(body).send().await.expect("request sent")
    }

    pub async fn verify_pin(&self, token: &str, pin: &str) -> Response {
        self.post("/v1/pin/verify", Some(token), &json!({ "pin": pin })).await
    }

    /// Sets a first PIN the way the app does: SMS code, then PUT /v1/pin.
    pub async fn set_pin(&self, user: &TestUser, pin: &str) {
        json_of(self.request_sms_code(&user.token, "set_pin").await, StatusCode::ACCEPTED).await;
        let code = self.latest_sms_code(&user.phone, "set_pin").await;
        json_of(self.put_pin(&user.token, &json!({ "pin": pin, "sms_code": code })).await, StatusCode::OK).await;
    }

    pub async fn me(&self, token: &str) -> Response {
        self.get("/v1/me", Some(token)).await
    }

    pub async fn wallet(&self, token: &str) -> Response {
        self.get("/v1/wallet", Some(token)).await
    }

    pub async fn transactions(&self, token: &str, query: &str) -> Response {
        self.get(&format!("/v1/wallet/transactions{query}"), Some(token)).await
    }

    pub async fn credit(&self, token: &str, account_id: &str, amount: &str) -> Response {
        let body = json!({ "amount": amount, "memo": "test top-up" });
        self.post(&format!("/v1/ops/accounts/{account_id}/credit"), Some(token), &body).await
    }

    /// An operator adjustment (`credit` or `debit`) sent with an `Idempotency-Key`.
    pub async fn adjust_once(
        &self,
        token: &str,
        direction: &str,
        account_id: &str,
        body: &Value,
        key: &str,
    ) -> Response {
        let url = self.url(&format!("/v1/ops/accounts/{account_id}/{direction}"));
        let request = self.client.post(url).json(body).bearer_auth(token).header("Idempotency-Key", key);
        request.send().await.expect("request sent")
    }

    pub async fn debit(&self, token: &str, account_id: &str, amount: &str) -> Response {
        let body = json!({ "amount": amount, "memo": "test reversal" });
        self.post(&format!("/v1/ops/accounts/{account_id}/debit"), Some(token), &body).await
    }

    pub async fn ledger_check(&self, token: &str) -> Response {
        self.get("/v1/ops/ledger/check", Some(token)).await
    }

    pub async fn available(&self, token: &str) -> String {
        let wallet = json_of(self.wallet(token).await, StatusCode::OK).await;
        wallet["available"].as_str().unwrap().to_owned()
    }

    /// Asserts the whole ledger balances and returns the report.
    pub async fn assert_ledger_balanced(&self) -> Value {
        let operator = self.operator_token().await;
        let report = json_of(self.ledger_check(&operator).await, StatusCode::OK).await;
        assert_eq!(report["balanced"], true, "report: {report}");
        assert_eq!(report["sum"], "0.00", "report: {report}");
        report
    }
}

/// Runs each named `async fn case(store: StoreKind)` once per store, as
/// `case::memory`, `case::redis` and `case::cluster`.
#[macro_export]
macro_rules! on_both_stores {
    ($($case:ident),* $(,)?) => {$(
        mod $case {
            #[tokio::test]
            async fn memory() {
                super::$case($crate::helpers::StoreKind::Memory).await
            }
            #[tokio::test]
            async fn redis() {
                super::$case($crate::helpers::StoreKind::Redis).await
            }
            #[tokio::test]
            async fn cluster() {
                super::$case($crate::helpers::StoreKind::Cluster).await
            }
        }
    )*};
}
