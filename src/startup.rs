//! Builds the running application: connects the store, seeds demo data, binds
//! its own listener (port 0 in tests) and holds the whole route table, so
//! every endpoint the service has can be read in `routes()`, `mock_routes()`,
//! `mock_wechat_routes()`, `mock_alipay_routes()` and `sim_routes()` (and, as
//! data, in `ROUTE_TABLE`, `MOCK_ROUTE_TABLE`, `MOCK_WECHAT_ROUTE_TABLE`,
//! `MOCK_ALIPAY_ROUTE_TABLE` and `SIM_ROUTE_TABLE`). The
//! mocks and the simulator's controls are served, and mocks used in-process,
//! only in the simulator profile (`simulator.enabled`; `Served`).

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::auth::password::{HashCost, PasswordHashing};
use crate::auth::{AccessTokens, TokenIssuer};
use crate::clock::{SharedClock, SimulatedClock};
use crate::edge::{self, EdgeLimits};
use crate::error::ApiError;
use crate::providers::alipay::client::{AlipayClient, AlipayGateway};
use crate::providers::alipay::http::HttpGateway;
use crate::providers::alipay::mock::{AUTHORIZE_PATH, BuiltinGateway, GATEWAY_PATH, MockAlipay, REAL_AUTHORIZE_URL};
use crate::providers::journal::RequestJournal;
use crate::providers::payouts::SharedPayouts;
use crate::providers::sms::{MockSmsOutbox, NoSmsGateway, SmsSender};
use crate::providers::webhooks::WebhookSender;
use crate::providers::wechat::WeChatClient;
use crate::providers::wechat::builtin_client::BuiltinWeChatClient;
use crate::providers::wechat::http_client::HttpWeChatClient;
use crate::providers::wechat::http_payouts::HttpPayouts;
use crate::providers::wechat::mock::BuiltinPayouts;
use crate::providers::wechat::mock::{MockPayNotifier, MockPaySigning, MockWeChat};
use crate::rate_limit::RateLimits;
use crate::routes::extract::{JsonBodyLimit, json_error, path_error, query_error};
use crate::routes::wechat_pay_notify::WECHAT_PAY_NOTIFY_PATH;
use crate::routes::{
    KnownRoutes, auth, bindings, docs, events, kyc, me, mock_alipay, mock_journal, mock_sms, mock_wechat, not_found,
    ops, ops_search, pin, review, sim, sim_clock, sim_rules, system, transfers, wechat_pay_notify, withdrawals,
};
use crate::services::bindings::{AlipayBindingPolicy, BindingPolicy};
use crate::services::kyc::KycPolicy;
use crate::services::notifications::WebhookPolicy;
use crate::services::partitions::Partitions;
use crate::services::pay_notices::NoticeKeys;
use crate::services::registration::RegistrationPolicy;
use crate::services::scenarios::Scenarios;
use crate::services::seed::DemoData;
use crate::services::sim_clock::{SimClock, SimClockPolicy};
use crate::services::sim_reset::SimReset;
use crate::services::sim_rules::SimRules;
use crate::services::sms::SmsPolicy;
use crate::services::withdrawals::Fingerprints;
use crate::services::work::{AlipayPayoutPolicy, SettlementPolicy};
use crate::services::{Parts, ServiceSet, seed};
use crate::settings::{
    AlipayClientKind, AlipaySettings, BindingSettings, CorsSettings, NOTIFY_URL_NONE, Settings, SimClockSettings,
    StoreKind, StoreSettings, WeChatClientKind, WeChatSettings, WebhookSettings,
};
use crate::store::{MemoryStore, RedisStore, SharedStore, StoreError, TimedStore};
use crate::telemetry::{WalletgateRootSpan, keep_metrics_folded, metrics_handle, observe_request};
use crate::worker::{self, WorkerHandle};

/// How often histogram samples are folded into buckets between scrapes.
const METRICS_UPKEEP_EVERY: Duration = Duration::from_secs(5);

pub struct Application {
    address: std::net::SocketAddr,
    server: Server,
    services: ServiceSet,
    mock_wechat: Option<Arc<MockWeChat>>,
    mock_alipay: Option<Arc<MockAlipay>>,
    /// The scenario loader, where the mock providers run.
    scenarios: Option<Scenarios>,
    worker: Option<WorkerHandle>,
}

/// Where browsers reach this gateway when `wechat.public_base_url` is not
/// set: the bound address, or loopback when bound to every interface
/// (`http://0.0.0.0:…` is not an address a browser can open, and the mock
/// would refuse it as a redirect URI). Phones on a LAN need the setting.
fn default_public_base_url(address: std::net::SocketAddr) -> String {
    if !address.ip().is_unspecified() {
        return format!("http://{address}");
    }
    let loopback = match address {
        std::net::SocketAddr::V4(_) => std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, address.port())),
        std::net::SocketAddr::V6(_) => std::net::SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, address.port())),
    };
    tracing::warn!(
        "listening on every interface without wechat.public_base_url: OAuth redirects go to {loopback}, \
         which only this machine can open; set wechat.public_base_url for other devices"
    );
    format!("http://{loopback}")
}

/// Puts back, every `every`, demo accounts the store lost; stops with the
/// runtime. An unreachable store is retried at the next tick.
fn keep_demo_accounts(demo: DemoData, every: Duration) {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ticks.tick().await;
        loop {
            ticks.tick().await;
            if let Err(error) = demo.ensure().await {
                tracing::warn!(%error, "could not check the demo accounts");
            }
        }
    });
}

/// The bounded wait for a store at startup (real time: the business clock
/// has nothing to say about a process starting).
struct StartupWait {
    until: std::time::Instant,
}

impl StartupWait {
    const PAUSE: Duration = Duration::from_millis(250);

    fn new(settings: &StoreSettings) -> StartupWait {
        StartupWait { until: std::time::Instant::now() + Duration::from_secs(settings.startup_wait_secs) }
    }

    fn may_retry(&self) -> bool {
        std::time::Instant::now() + Self::PAUSE < self.until
    }

    async fn pause(&self, what: &str, reason: &str) {
        tracing::warn!(%reason, "the store does not answer yet; will {what} again shortly");
        tokio::time::sleep(Self::PAUSE).await;
    }
}

/// Whether this instance serves the simulator's controls (`/v1/sim/*`) and
/// a shared business clock: in the simulator profile, with the mock WeChat
/// (as `Served::tables` has it).
fn simulator_on(settings: &Settings) -> bool {
    settings.simulator.enabled && settings.mock_wechat.enabled
}

/// The bounds of the simulated clock.
fn sim_clock_policy(settings: &SimClockSettings) -> SimClockPolicy {
    SimClockPolicy {
        advance_max: chrono::Duration::seconds(settings.advance_secs_max.min(i64::MAX as u64) as i64),
        steps_max: settings.advance_steps_max,
        refresh_every: Duration::from_millis(settings.refresh_ms),
    }
}

/// Reads the shared business clock before anything is done by it (the demo
/// accounts' seeding, a request), waiting for a store that does not answer
/// yet as the connection does; then keeps this process's copy fresh.
async fn start_sim_clock(sim_clock: &SimClock, settings: &StoreSettings) -> anyhow::Result<()> {
    let waited = StartupWait::new(settings);
    loop {
        match sim_clock.refresh().await {
            Ok(()) => break,
            Err(ApiError::StoreUnavailable) if waited.may_retry() => {
                waited.pause("read the business clock", "unavailable").await
            }
            Err(error) => return Err(anyhow::anyhow!("reading the business clock failed: {error}")),
        }
    }
    sim_clock.keep_refreshed();
    Ok(())
}

/// Opens the store a URL names, timed for the metrics (`TimedStore`).
pub async fn connect_store(settings: &StoreSettings) -> Result<SharedStore, StoreError> {
    let kind = settings.kind().map_err(StoreError::Unavailable)?;
    let store: SharedStore = match kind {
        StoreKind::Memory => Arc::new(MemoryStore::new()),
        StoreKind::Redis(url) => Arc::new(RedisStore::connect(&url, settings).await?),
        StoreKind::RedisCluster(nodes) => Arc::new(RedisStore::connect_cluster(&nodes, settings).await?),
    };
    // The timed store keeps its metric handles: the recorder must be in place first.
    metrics_handle();
    Ok(Arc::new(TimedStore::new(store)))
}

impl Application {
    /// Connects the store, waiting up to `store.startup_wait_secs` for one
    /// that does not answer yet, then builds the application on it.
    pub async fn build(settings: Settings, clock: SharedClock) -> anyhow::Result<Application> {
        let waited = StartupWait::new(&settings.store);
        let store = loop {
            match connect_store(&settings.store).await {
                Ok(store) => break store,
                Err(StoreError::Unavailable(reason)) if waited.may_retry() => waited.pause("connect", &reason).await,
                Err(error) => return Err(error.into()),
            }
        };
        Application::build_with_store(settings, clock, store).await
    }

    /// As `build`, on a store the caller already holds (tests share one).
    pub async fn build_with_store(
        settings: Settings,
        clock: SharedClock,
        store: SharedStore,
    ) -> anyhow::Result<Application> {
        // Bound first: the OAuth redirect URI, the HTTP WeChat client's
        // default base and the OpenAPI document's first server are this very
        // address when not configured.
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))?;
        let address = listener.local_addr()?;
        let public_base_url = match settings.wechat.public_base_url.trim_end_matches('/') {
            "" => default_public_base_url(address),
            configured => configured.to_owned(),
        };
        // Checked by the settings too; startup never mocks outside the simulator.
        let simulator = settings.simulator.enabled;
        // In a simulator every business rule reads the shared business clock;
        // sessions go by the base clock (`clock`, the wall clock).
        let simulated = simulator_on(&settings).then(|| Arc::new(SimulatedClock::new(clock.clone())));
        let business: SharedClock = match &simulated {
            Some(simulated) => simulated.clone(),
            None => clock.clone(),
        };
        let mock_wechat = (simulator && settings.mock_wechat.enabled)
            .then(|| Arc::new(MockWeChat::new(store.clone(), business.clone(), settings.mock_wechat.clone())));
        let mock_alipay = match simulator && settings.mock_alipay.enabled {
            true => Some(Arc::new(
                MockAlipay::new(store.clone(), business.clone(), settings.mock_alipay.clone())
                    .map_err(anyhow::Error::msg)?,
            )),
            false => None,
        };
        // The mock WeChat Pay's signatures go by the wall clock (`clock`), as the SDKs' do.
        let mock_wechat_pay = match &mock_wechat {
            Some(_) => {
                Some(Arc::new(MockPaySigning::new(&settings.mock_wechat, clock.clone()).map_err(anyhow::Error::msg)?))
            }
            None => None,
        };
        let journal = RequestJournal::new(store.clone(), business.clone(), &settings.simulator);
        // The mock's notifications are signed the same way, by the worker.
        let mock_pay_notifier = match &mock_wechat_pay {
            Some(signing) => {
                let timeout = Duration::from_millis(settings.mock_wechat.pay.notify_timeout_ms);
                Some(Arc::new(MockPayNotifier::new(signing.clone(), timeout, journal.clone())?))
            }
            None => None,
        };
        let outbox = simulator.then(|| {
            let outbox = MockSmsOutbox::new(store.clone(), settings.sms.outbox_keep, journal.clone());
            match &mock_wechat {
                Some(mock) => outbox.obeying(mock.rules().clone()),
                None => outbox,
            }
        });
        let sms_sender: Arc<dyn SmsSender> = match &outbox {
            Some(outbox) => Arc::new(outbox.clone()),
            None => {
                tracing::warn!("simulator off: no SMS gateway, so SMS codes are refused (SMS_UNAVAILABLE)");
                Arc::new(NoSmsGateway)
            }
        };
        let webhooks = webhook_policy(&settings.webhooks)?;
        // One signing client binds Alipay accounts and pays them, on the business clock.
        let alipay = alipay_client(&settings, mock_alipay.clone(), &journal, &public_base_url, &business)?;
        let partitions = Partitions {
            store,
            clock: business.clone(),
            commit_attempts_max: settings.store.commit_attempts_max,
            webhooks_on: webhooks.is_some(),
            writers: Arc::default(),
        };
        let services = ServiceSet::from(Parts {
            partitions,
            tokens: Arc::new(TokenIssuer::new(&settings.auth)),
            passwords: PasswordHashing::new(
                settings.auth.password_hashing_concurrency,
                Duration::from_millis(settings.auth.password_hashing_wait_ms),
                HashCost::of(&settings.auth)?,
            ),
            bindings: binding_policy(
                (&settings.wechat, &settings.bindings),
                mock_wechat.clone(),
                &journal,
                &public_base_url,
                alipay_binding_policy(&settings.alipay, alipay.clone(), mock_alipay.is_some(), &public_base_url),
            )?,
            sms: SmsPolicy {
                sender: sms_sender,
                pepper: settings.auth.pin_pepper.clone(),
                code_ttl: chrono::Duration::seconds(settings.sms.code_ttl_secs as i64),
                attempts_max: settings.sms.code_attempts_max,
            },
            registration: RegistrationPolicy { code_required: settings.sms.register_code_required },
            pin_policy: settings.pin.policy(),
            login_policy: settings.login_lock.policy(),
            withdrawals: settings.withdrawals.policy().map_err(anyhow::Error::msg)?,
            transfers: settings.transfers.policy(&settings.withdrawals).map_err(anyhow::Error::msg)?,
            fingerprints: Fingerprints { secret: settings.auth.fingerprint_secret.clone() },
            settlement: settlement_policy(&settings, mock_wechat.clone(), &journal, &public_base_url, &clock)?
                .with_alipay(alipay_payouts(&settings, alipay)),
            webhooks,
            kyc: KycPolicy {
                auto_approve_after: settings
                    .kyc
                    .auto_approve
                    .then(|| chrono::Duration::seconds(settings.kyc.auto_approve_after_secs as i64)),
            },
            wall_clock: clock,
            simulated_clock: simulated.map(|simulated| (simulated, sim_clock_policy(&settings.sim_clock))),
            mock_wechat: mock_wechat.clone(),
            mock_pay_notifier,
            notice_keys: notice_keys(&settings),
        });
        if let Some(sim_clock) = &services.sim_clock {
            start_sim_clock(sim_clock, &settings.store).await?;
        }
        let demo = DemoData { partitions: services.partitions.clone(), enabled: settings.seed.demo_accounts };
        if settings.seed.demo_accounts {
            let waited = StartupWait::new(&settings.store);
            let created = loop {
                match seed::seed_demo_accounts(&services.partitions).await {
                    Ok(created) => break created,
                    Err(ApiError::StoreUnavailable) if waited.may_retry() => {
                        waited.pause("seed the demo accounts", "unavailable").await
                    }
                    Err(error) => return Err(anyhow::anyhow!("seeding failed: {error}")),
                }
            };
            tracing::info!(created, "demo accounts ready");
            if settings.seed.recheck_secs > 0 {
                keep_demo_accounts(demo.clone(), Duration::from_secs(settings.seed.recheck_secs));
            }
        }
        metrics_handle();
        keep_metrics_folded(METRICS_UPKEEP_EVERY);
        // Starts relaying other processes' event notifications (on Redis) on
        // this runtime, before any request or the worker needs them.
        drop(services.notifications.signals());
        // The mock WeChat runs only with the simulator, and so with the outbox.
        let scenarios = mock_wechat.clone().zip(outbox.clone()).map(|(mock, outbox)| {
            Scenarios::new(&services, mock, outbox, journal.clone(), settings.wechat.app_secret.clone())
        });
        let sim = scenarios.clone().map(|scenarios| SimReset {
            demo: demo.clone(),
            audit: services.audit.clone(),
            scenarios,
            clock: services.sim_clock.clone(),
        });
        let mocks = Mocks {
            wechat: mock_wechat.clone(),
            wechat_pay: mock_wechat_pay,
            alipay: mock_alipay.clone(),
            sms: outbox,
            journal,
            sim,
        };
        let server = serve(listener, &settings, services.clone(), demo, mocks, &public_base_url)?;
        let worker = settings
            .worker
            .enabled
            .then(|| worker::spawn(services.worker.clone(), Duration::from_millis(settings.worker.poll_interval_ms)));
        Ok(Application { address, server, services, mock_wechat, mock_alipay, scenarios, worker })
    }

    pub fn address(&self) -> std::net::SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn services(&self) -> &ServiceSet {
        &self.services
    }

    /// The built-in mock WeChat provider, when `mock_wechat.enabled`.
    pub fn mock_wechat(&self) -> Option<&Arc<MockWeChat>> {
        self.mock_wechat.as_ref()
    }

    /// The built-in mock Alipay open platform, when `mock_alipay.enabled`.
    pub fn mock_alipay(&self) -> Option<&Arc<MockAlipay>> {
        self.mock_alipay.as_ref()
    }

    /// Loads the scenario files named at startup (`--scenario`), in order,
    /// after the demo accounts. A file whose every login is registered is
    /// taken as loaded already (a restart, or another gateway on the same
    /// store) and skipped. Errors name the file, the line and the field.
    pub async fn load_scenario_files(&self, paths: &[std::path::PathBuf]) -> Result<(), ApiError> {
        if paths.is_empty() {
            return Ok(());
        }
        let scenarios = self.scenarios.as_ref().ok_or_else(|| ApiError::Validation {
            field: Some("--scenario".into()),
            message: "scenarios need the simulator's mock providers (mock_wechat.enabled)".into(),
        })?;
        for path in paths {
            let source = path.display().to_string();
            let text = std::fs::read_to_string(path).map_err(|error| ApiError::ScenarioInvalid {
                scenario: source.clone(),
                error: crate::domain::scenario::ScenarioError { field: None, line: None, message: error.to_string() },
            })?;
            let scenario = scenarios.parse(&source, &text)?;
            if scenarios.all_registered(&scenario).await? {
                tracing::info!(scenario = %scenario.name, file = %source, "scenario already loaded; skipped");
                continue;
            }
            scenarios.load(&source, None, &scenario).await?;
        }
        Ok(())
    }

    /// Serves until SIGTERM / Ctrl-C (then drains in-flight requests) or
    /// until the server handle is stopped; then stops the worker after its
    /// current step.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        if let Some(worker) = self.worker {
            worker.stop().await;
        }
        served
    }
}

/// The built-in mock providers, when enabled: the SMS outbox with the
/// simulator, WeChat with `mock_wechat.enabled` too, Alipay with
/// `mock_alipay.enabled`; and the simulator's controls beside them.
struct Mocks {
    wechat: Option<Arc<MockWeChat>>,
    /// The mock WeChat Pay's keys, with the mock WeChat.
    wechat_pay: Option<Arc<MockPaySigning>>,
    alipay: Option<Arc<MockAlipay>>,
    sms: Option<MockSmsOutbox>,
    journal: RequestJournal,
    sim: Option<SimReset>,
}

/// How the worker settles: paying out through the built-in mock WeChat Pay
/// in-process (`wechat.client = "builtin"`), or over HTTP to
/// `wechat.pay_base_url` (this server's own mock when empty and the mock
/// runs), signed with `wechat.pay`'s keys by the wall clock. Without the mock and without an address there is nowhere to pay:
/// approved withdrawals wait.
fn settlement_policy(
    settings: &Settings,
    mock: Option<Arc<MockWeChat>>,
    journal: &RequestJournal,
    public_base_url: &str,
    wall_clock: &SharedClock,
) -> anyhow::Result<SettlementPolicy> {
    let mock_present = mock.is_some();
    let payouts = match settings.wechat.client {
        WeChatClientKind::Builtin => {
            mock.map(|mock| Arc::new(BuiltinPayouts::new(mock, journal.clone())) as SharedPayouts)
        }
        WeChatClientKind::Http => {
            let base_url = match (settings.wechat.pay_base_url.trim_end_matches('/'), &mock) {
                ("", Some(_)) => Some(format!("{public_base_url}/mock/wechat")),
                ("", None) => {
                    tracing::warn!("no payout provider (wechat.pay_base_url empty, no mock): withdrawals wait");
                    None
                }
                (url, _) => Some(url.to_owned()),
            };
            match base_url {
                Some(url) => {
                    let keys = settings.wechat.pay.keys().map_err(anyhow::Error::msg)?;
                    let payouts = HttpPayouts::new(url, settings.wechat.app_id.clone(), keys, wall_clock.clone())?;
                    Some(Arc::new(payouts) as SharedPayouts)
                }
                None => None,
            }
        }
    };
    let notify_url = match settings.wechat.pay.notify_url.as_str() {
        "" => mock_present.then(|| format!("{public_base_url}{WECHAT_PAY_NOTIFY_PATH}")),
        NOTIFY_URL_NONE => None,
        url => Some(url.to_owned()),
    };
    let settings = &settings.worker;
    Ok(SettlementPolicy {
        notify_url,
        payouts,
        alipay: None,
        lease: chrono::Duration::seconds(settings.lease_secs.min(u32::MAX as u64) as i64),
        batch_size: settings.batch_size,
        concurrency: settings.concurrency,
        payout_attempts_max: settings.payout_attempts_max,
        backoff_initial: millis(settings.retry_backoff_initial_ms),
        backoff_max: millis(settings.retry_backoff_max_ms),
        bill_wait_max: chrono::Duration::seconds(settings.payout_bill_wait_max_secs.min(i64::MAX as u64 / 1000) as i64),
    })
}

/// What WeChat Pay's notifications are checked with: `wechat.pay`'s
/// merchant, platform public key and APIv3 key; none when they do not read
/// (checked by the settings wherever payouts go over HTTP).
fn notice_keys(settings: &Settings) -> Option<NoticeKeys> {
    match settings.wechat.pay.keys() {
        Ok(keys) => {
            Some(NoticeKeys { mchid: settings.wechat.pay.mchid.clone(), platform: keys.platform, apiv3: keys.apiv3 })
        }
        Err(problem) => {
            tracing::warn!(%problem, "WeChat Pay notifications are refused: wechat.pay's keys do not read");
            None
        }
    }
}

/// The signing client of Alipay's open platform: the built-in mock's
/// gateway in-process (`alipay.client = "builtin"`), or HTTP to
/// `alipay.gateway_url` (this server's own mock when empty and the mock
/// runs). `None` without either: Alipay withdrawals wait and Alipay
/// bindings are refused as unavailable.
fn alipay_client(
    settings: &Settings,
    mock: Option<Arc<MockAlipay>>,
    journal: &RequestJournal,
    public_base_url: &str,
    clock: &SharedClock,
) -> anyhow::Result<Option<AlipayClient>> {
    let alipay = &settings.alipay;
    let gateway: Arc<dyn AlipayGateway> = match (alipay.client, alipay.gateway_url.as_str(), mock) {
        (AlipayClientKind::Builtin, _, Some(mock)) => Arc::new(BuiltinGateway::new(mock, journal.clone())),
        (AlipayClientKind::Http, "", Some(_)) => {
            Arc::new(HttpGateway::new(format!("{public_base_url}{GATEWAY_PATH}")).map_err(anyhow::Error::msg)?)
        }
        (AlipayClientKind::Http, url, _) if !url.is_empty() => {
            Arc::new(HttpGateway::new(url).map_err(anyhow::Error::msg)?)
        }
        _ => {
            tracing::warn!(
                "no Alipay gateway (no mock, no alipay.gateway_url): Alipay withdrawals wait, bindings are refused"
            );
            return Ok(None);
        }
    };
    let (app_key, alipay_key) = alipay.keys().map_err(anyhow::Error::msg)?;
    Ok(Some(AlipayClient::new(gateway, alipay.app_id.clone(), app_key, alipay_key, clock.clone())))
}

/// How Alipay destinations are paid: through the signing client, with the
/// title the payee's bill shows.
fn alipay_payouts(settings: &Settings, client: Option<AlipayClient>) -> Option<AlipayPayoutPolicy> {
    let order_title = settings.alipay.order_title.clone();
    client.map(|client| AlipayPayoutPolicy { payouts: Arc::new(client), order_title })
}

/// Where browsers are sent to consent to an Alipay binding, and the client
/// that exchanges their `auth_code`s.
fn alipay_binding_policy(
    settings: &AlipaySettings,
    client: Option<AlipayClient>,
    mock_alipay: bool,
    public_base_url: &str,
) -> AlipayBindingPolicy {
    let authorize_endpoint = match (settings.authorize_url.as_str(), mock_alipay) {
        ("", true) => format!("{public_base_url}{AUTHORIZE_PATH}"),
        ("", false) => REAL_AUTHORIZE_URL.to_owned(),
        (configured, _) => configured.to_owned(),
    };
    AlipayBindingPolicy {
        client,
        app_id: settings.app_id.clone(),
        authorize_endpoint,
        redirect_uri: format!("{public_base_url}/v1/bindings/alipay/callback"),
    }
}

fn webhook_policy(settings: &WebhookSettings) -> anyhow::Result<Option<WebhookPolicy>> {
    if settings.url.is_empty() {
        return Ok(None);
    }
    let sender =
        WebhookSender::new(&settings.url, settings.secret.clone(), Duration::from_millis(settings.timeout_ms))?;
    Ok(Some(WebhookPolicy {
        sender,
        retry_for: chrono::Duration::seconds(settings.retry_for_secs.min(u32::MAX as u64) as i64),
        backoff_initial: millis(settings.retry_backoff_initial_ms),
        backoff_max: millis(settings.retry_backoff_max_ms),
    }))
}

/// A configured number of milliseconds, capped far beyond any sensible setting
/// so that absurd values cannot overflow the conversion.
fn millis(ms: u64) -> chrono::Duration {
    chrono::Duration::milliseconds(ms.min(i64::MAX as u64 / 2) as i64)
}

/// Which WeChat the gateway talks to, and where browsers are sent to
/// consent (and, for Alipay, `alipay`).
fn binding_policy(
    (settings, lifetimes): (&WeChatSettings, &BindingSettings),
    mock: Option<Arc<MockWeChat>>,
    journal: &RequestJournal,
    public_base_url: &str,
    alipay: AlipayBindingPolicy,
) -> anyhow::Result<BindingPolicy> {
    // Empty means this server's own mock, which only the mock's presence makes an address.
    let own_mock = mock.is_some().then(|| format!("{public_base_url}/mock/wechat"));
    let or_own_mock = |configured: &str| match (configured.trim_end_matches('/'), &own_mock) {
        ("", Some(own_mock)) => Ok(own_mock.clone()),
        ("", None) => Err(anyhow::anyhow!("the WeChat base URLs must be set while the mock is off")),
        (url, _) => Ok(url.to_owned()),
    };
    let client: Arc<dyn WeChatClient> = match settings.client {
        WeChatClientKind::Builtin => {
            let mock = mock.ok_or_else(|| anyhow::anyhow!("wechat.client = builtin needs the mock enabled"))?;
            let (app_id, app_secret) = (settings.app_id.clone(), settings.app_secret.clone());
            Arc::new(BuiltinWeChatClient::new(mock, journal.clone(), app_id, app_secret))
        }
        WeChatClientKind::Http => Arc::new(HttpWeChatClient::new(
            or_own_mock(&settings.api_base_url)?,
            settings.app_id.clone(),
            settings.app_secret.clone(),
        )?),
    };
    Ok(BindingPolicy {
        client,
        app_id: settings.app_id.clone(),
        scope: settings.scope.clone(),
        authorize_endpoint: format!("{}/connect/oauth2/authorize", or_own_mock(&settings.authorize_base_url)?),
        redirect_uri: format!("{public_base_url}/v1/bindings/wechat/callback"),
        start_ttl: chrono::Duration::seconds(lifetimes.start_ttl_secs as i64),
        confirm_ttl: chrono::Duration::seconds(lifetimes.confirm_ttl_secs as i64),
        alipay,
    })
}

fn serve(
    listener: TcpListener,
    settings: &Settings,
    services: ServiceSet,
    demo: DemoData,
    mocks: Mocks,
    public_base_url: &str,
) -> std::io::Result<Server> {
    let demo = web::Data::new(demo);
    let rate_limits = web::Data::new(RateLimits::new(&settings.rate_limits));
    // Sessions go by the wall clock: advancing a simulator signs nobody out.
    let access_tokens = web::Data::new(AccessTokens {
        issuer: services.accounts.tokens.clone(),
        clock: services.accounts.wall_clock.clone(),
    });
    let accounts = web::Data::new(services.accounts);
    let registration = web::Data::new(services.registration);
    let pins = web::Data::new(services.pins);
    let bindings = web::Data::new(services.bindings);
    let kyc = web::Data::new(services.kyc);
    let withdrawals = web::Data::new(services.withdrawals);
    let withdrawal_reads = web::Data::new(services.withdrawal_reads);
    let user_transfers = web::Data::new(services.user_transfers);
    let wallet = web::Data::new(services.wallet);
    let review = web::Data::new(services.review);
    let notifications = web::Data::new(services.notifications);
    let worker_step = web::Data::new(services.worker);
    let audit = web::Data::new(services.audit);
    let ledger_check = web::Data::new(services.ledger_check);
    let directory = web::Data::new(services.directory);
    let partitions = web::Data::new(services.partitions);
    let pay_notices = web::Data::new(services.pay_notices);
    let sim_clock = services.sim_clock.map(web::Data::new);
    let body_limit = web::Data::new(JsonBodyLimit(settings.server.json_body_bytes_max));
    let served = Served {
        simulator: mocks.sms.is_some(),
        mock_wechat: mocks.wechat.is_some(),
        mock_alipay: mocks.alipay.is_some(),
    };
    let mock_wechat = mocks.wechat.map(web::Data::from).zip(mocks.wechat_pay.map(web::Data::from));
    let mock_alipay = mocks.alipay.map(web::Data::from);
    let sms_outbox = mocks.sms.map(web::Data::new);
    let journal = web::Data::new(mocks.journal.clone());
    let recorded = mocks.journal;
    let sim_reset = mocks.sim.map(|sim| (web::Data::new(sim.scenarios.clone()), web::Data::new(sim)));
    let openapi_json = web::Data::new(docs::OpenApiJson::new(|path| served.serves(path), public_base_url)?);
    let sim_rules = mock_wechat
        .as_ref()
        .map(|(mock, _)| web::Data::new(SimRules { book: mock.rules().clone(), audit: audit.get_ref().clone() }));
    // The simulator's controls: each part exists exactly when the mock WeChat does.
    let sim = match (sim_clock, sim_rules, sim_reset) {
        (Some(clock), Some(rules), Some((scenarios, reset))) => Some((clock, rules, scenarios, reset)),
        _ => None,
    };
    let known_routes = web::Data::new(KnownRoutes::new(served.tables().into_iter().flatten()));
    let edge_limits = EdgeLimits::from_settings(&settings.server);
    let body_bytes_max = settings.server.json_body_bytes_max;
    let workers = match settings.server.workers {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        configured => configured,
    };
    let cors_settings = settings.server.cors.clone();
    let server = HttpServer::new(move || {
        let (mock_wechat, mock_alipay) = (mock_wechat.clone(), mock_alipay.clone());
        let (sms_outbox, journal, recorded) = (sms_outbox.clone(), journal.clone(), recorded.clone());
        let sim = sim.clone();
        App::new()
            .wrap(from_fn(mock_wechat::signature::signed_wechat_pay))
            .wrap(from_fn(move |request, next| edge::guard(edge_limits, request, next)))
            .wrap(from_fn(move |request, next| {
                mock_journal::record_http_calls(recorded.clone(), body_bytes_max, request, next)
            }))
            .wrap(from_fn(observe_request))
            .wrap(TracingLogger::<WalletgateRootSpan>::new())
            // Outermost, so every answer (errors of the layers inside included)
            // carries the headers a browser needs to read it.
            .wrap(cors(&cors_settings))
            .app_data(rate_limits.clone())
            .app_data(access_tokens.clone())
            .app_data(accounts.clone())
            .app_data(registration.clone())
            .app_data(pins.clone())
            .app_data(bindings.clone())
            .app_data(kyc.clone())
            .app_data(withdrawals.clone())
            .app_data(withdrawal_reads.clone())
            .app_data(user_transfers.clone())
            .app_data(wallet.clone())
            .app_data(review.clone())
            .app_data(notifications.clone())
            .app_data(worker_step.clone())
            .app_data(audit.clone())
            .app_data(ledger_check.clone())
            .app_data(directory.clone())
            .app_data(partitions.clone())
            .app_data(pay_notices.clone())
            .app_data(demo.clone())
            .app_data(body_limit.clone())
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .app_data(web::JsonConfig::default().error_handler(json_error))
            .app_data(openapi_json.clone())
            .app_data(known_routes.clone())
            .configure(routes)
            .configure(crate::routes::web::configure)
            .configure(move |config| {
                if let Some(sms_outbox) = sms_outbox {
                    // The mock's form and JSON bodies are read as bytes; a
                    // larger one is a 413 in the catalogue (edge::guard).
                    config
                        .app_data(sms_outbox)
                        .app_data(journal)
                        .app_data(web::PayloadConfig::new(body_bytes_max))
                        .configure(mock_routes);
                }
                if let Some((mock_wechat, mock_wechat_pay)) = mock_wechat {
                    config.app_data(mock_wechat).app_data(mock_wechat_pay).configure(mock_wechat_routes);
                }
                if let Some(mock_alipay) = mock_alipay {
                    config.app_data(mock_alipay).configure(mock_alipay_routes);
                }
                if let Some((clock, rules, scenarios, reset)) = sim {
                    config.app_data(clock).app_data(rules).app_data(scenarios).app_data(reset).configure(sim_routes);
                }
            })
            // The UI's own files, outside the route table: they are not API.
            .service(docs::swagger_ui())
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(settings.server.shutdown_timeout_secs)
    .client_request_timeout(Duration::from_secs(settings.server.request_head_timeout_secs))
    .client_disconnect_timeout(Duration::from_millis(settings.server.client_disconnect_timeout_ms))
    .max_connections(edge::connections_per_worker(settings.server.connections_max, workers))
    .workers(workers)
    .listen(listener)?;
    Ok(server.run())
}

/// Cross-origin access for browsers, as configured. An origin not listed
/// gets no CORS headers (the browser then keeps the answer from the page)
/// rather than a refusal, so same-origin pages, which also send `Origin`,
/// are never blocked.
fn cors(settings: &CorsSettings) -> Cors {
    let mut cors = Cors::default()
        .block_on_origin_mismatch(false)
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([AUTHORIZATION, CONTENT_TYPE, ACCEPT])
        .allowed_header("idempotency-key")
        .allowed_header("last-event-id")
        .expose_headers(["idempotent-replayed", "retry-after", "x-request-id", "allow"])
        .max_age(settings.max_age_secs);
    for origin in &settings.allowed_origins {
        cors = if origin == "*" { cors.allow_any_origin() } else { cors.allowed_origin(origin) };
    }
    cors
}

/// The optional parts of the API an instance serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Served {
    /// `simulator.enabled`: `/mock/*` (the SMS outbox, the request journal) and `/v1/sim/*`.
    pub simulator: bool,
    /// `mock_wechat.enabled` too: `/mock/wechat/*`, and the simulator's rules, which shape its answers.
    pub mock_wechat: bool,
    /// `mock_alipay.enabled` too: `/mock/alipay/*`.
    pub mock_alipay: bool,
}

impl Served {
    /// Everything: what the route tables hold.
    pub const ALL: Served = Served { simulator: true, mock_wechat: true, mock_alipay: true };
    /// Nothing optional: a production deployment.
    pub const NONE: Served = Served { simulator: false, mock_wechat: false, mock_alipay: false };

    /// The route tables this instance serves.
    pub fn tables(self) -> Vec<&'static [(&'static str, &'static str)]> {
        let mut tables = vec![ROUTE_TABLE];
        if self.simulator {
            tables.push(MOCK_ROUTE_TABLE);
            if self.mock_wechat {
                tables.extend([MOCK_WECHAT_ROUTE_TABLE, SIM_ROUTE_TABLE]);
            }
            if self.mock_alipay {
                tables.push(MOCK_ALIPAY_ROUTE_TABLE);
            }
        }
        tables
    }

    /// Whether a path of the route tables is served.
    pub fn serves(self, path: &str) -> bool {
        self.tables().iter().any(|table| table.iter().any(|(_, served)| *served == path))
    }
}

/// Expands ONE list of `METHOD "/full/path" => handler` into both the
/// function that registers those routes with actix and a `(method, path)`
/// table of them, so the route table can be read (and the OpenAPI document
/// checked against it) without a running server.
///
/// Each route is its own resource, as `ServiceConfig::route` makes it: a
/// request whose method no route of the path takes goes on to the catch-all,
/// `routes::not_found`, which answers 405 for a path of the table.
macro_rules! route_table {
    (
        $(#[$doc:meta])*
        fn $register:ident, pub const $table:ident = [
            $($method:ident $path:literal => $handler:path,)*
        ]
    ) => {
        $(#[$doc])*
        fn $register(config: &mut web::ServiceConfig) {
            $(config.route($path, route_table!(@method $method).to($handler));)*
        }

        /// `(method, path)` of every route registered by the function of the same list.
        pub const $table: &[(&str, &str)] = &[$((stringify!($method), $path),)*];
    };
    (@method GET) => { web::get() };
    (@method POST) => { web::post() };
    (@method PUT) => { web::put() };
    (@method DELETE) => { web::delete() };
    (@method PATCH) => { web::patch() };
}

route_table! {
    /// Every route of the service (the mock providers' are in `mock_routes`).
    fn routes, pub const ROUTE_TABLE = [
        GET "/healthz" => system::healthz,
        GET "/readyz" => system::readyz,
        GET "/metrics" => system::metrics,
        GET "/openapi.json" => docs::openapi_json,
        GET "/docs" => docs::swagger_ui_redirect,

        POST "/v1/auth/register/code" => auth::register_code,
        POST "/v1/auth/register" => auth::register,
        POST "/v1/auth/login" => auth::login,
        POST "/v1/auth/refresh" => auth::refresh,
        POST "/v1/auth/logout" => auth::logout,
        GET "/v1/me" => me::profile,
        GET "/v1/wallet" => me::wallet,
        GET "/v1/wallet/transactions" => me::transactions,
        GET "/v1/wallet/transactions/{id}" => me::transaction,
        GET "/v1/bindings" => bindings::list,
        POST "/v1/bindings/wechat" => bindings::start_wechat,
        GET "/v1/bindings/wechat/callback" => bindings::wechat_callback,
        POST "/v1/bindings/alipay" => bindings::start_alipay,
        GET "/v1/bindings/alipay/callback" => bindings::alipay_callback,
        GET "/v1/bindings/{id}" => bindings::show,
        DELETE "/v1/bindings/{id}" => bindings::unbind,
        POST "/v1/bindings/{id}/confirm" => bindings::confirm,
        POST "/v1/sms/codes" => pin::request_sms_code,
        POST "/v1/sms/codes/check" => pin::check_sms_code,
        PUT "/v1/pin" => pin::set_pin,
        POST "/v1/pin/verify" => pin::verify_pin,
        POST "/v1/kyc" => kyc::submit,
        GET "/v1/kyc" => kyc::overview,
        POST "/v1/withdrawals/quote" => withdrawals::quote,
        POST "/v1/withdrawals" => withdrawals::submit,
        GET "/v1/withdrawals" => withdrawals::list,
        GET "/v1/withdrawals/{id}" => withdrawals::show,
        GET "/v1/transfers/recipient" => transfers::recipient,
        POST "/v1/transfers" => transfers::send,
        GET "/v1/transfers" => transfers::list,
        GET "/v1/transfers/{id}" => transfers::show,
        GET "/v1/events" => events::stream,
        POST "/v1/events/ticket" => events::ticket,

        GET "/v1/ops/accounts" => ops_search::find_accounts,
        GET "/v1/ops/accounts/{id}" => ops_search::show_account,
        POST "/v1/ops/accounts/{id}/credit" => ops::credit,
        POST "/v1/ops/accounts/{id}/debit" => ops::debit,
        GET "/v1/ops/accounts/{id}/transfers" => transfers::list_of_account,
        GET "/v1/ops/ledger/check" => ops::ledger_check,
        GET "/v1/ops/kyc/pending" => kyc::pending,
        POST "/v1/ops/kyc/{id}/approve" => kyc::approve,
        POST "/v1/ops/kyc/{id}/reject" => kyc::reject,
        GET "/v1/ops/review-queue" => review::queue,
        GET "/v1/ops/withdrawals" => ops_search::list_withdrawals,
        POST "/v1/ops/withdrawals/{id}/approve" => review::approve,
        POST "/v1/ops/withdrawals/{id}/reject" => review::reject,
        GET "/v1/ops/audit-log" => review::audit_log,
        POST "/v1/ops/worker/step" => review::worker_step,

        POST "/v1/callbacks/wechat-pay/transfer-bills" => wechat_pay_notify::transfer_bill_finished,
    ]
}

route_table! {
    /// The simulator's own mocks, registered only when `simulator.enabled`:
    /// the SMS outbox and the request journal of every mock.
    fn mock_routes, pub const MOCK_ROUTE_TABLE = [
        GET "/mock/sms/outbox" => mock_sms::outbox,
        GET "/mock/requests" => mock_journal::list,
        DELETE "/mock/requests" => mock_journal::clear,
    ]
}

route_table! {
    /// The mock WeChat under `/mock/wechat`, registered only when `mock_wechat.enabled`
    /// (which needs the simulator); its handlers take `web::Data<MockWeChat>`.
    fn mock_wechat_routes, pub const MOCK_WECHAT_ROUTE_TABLE = [
        POST "/mock/wechat/users" => mock_wechat::users::create_user,
        GET "/mock/wechat/users" => mock_wechat::users::list,
        GET "/mock/wechat/users/{openid}" => mock_wechat::users::user,
        PATCH "/mock/wechat/users/{openid}" => mock_wechat::users::update_user,
        POST "/mock/wechat/users/{openid}/transfer-bills/{out_bill_no}/confirm" => mock_wechat::payouts::confirm_transfer_bill,
        GET "/mock/wechat/connect/oauth2/authorize" => mock_wechat::authorize::authorize,
        POST "/mock/wechat/connect/oauth2/authorize" => mock_wechat::authorize::consent,
        GET "/mock/wechat/sns/oauth2/access_token" => mock_wechat::sns::access_token,
        GET "/mock/wechat/sns/oauth2/refresh_token" => mock_wechat::sns::refresh_token,
        GET "/mock/wechat/sns/auth" => mock_wechat::sns::auth,
        GET "/mock/wechat/sns/userinfo" => mock_wechat::sns::user_info,
        POST "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills" => mock_wechat::payouts::create_transfer_bill,
        GET "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}" => mock_wechat::payouts::transfer_bill,
        POST "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel" => mock_wechat::payouts::cancel_transfer_bill,
        GET "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills/transfer-bill-no/{transfer_bill_no}" => mock_wechat::payouts::transfer_bill_by_number,
        GET "/mock/wechat/keys" => mock_wechat::platform::keys,
        POST "/mock/wechat/sign" => mock_wechat::platform::sign,
    ]
}

route_table! {
    /// The mock Alipay open platform under `/mock/alipay`, registered only when
    /// `mock_alipay.enabled` (which needs the simulator); its handlers take
    /// `web::Data<MockAlipay>`.
    fn mock_alipay_routes, pub const MOCK_ALIPAY_ROUTE_TABLE = [
        GET "/mock/alipay/gateway.do" => mock_alipay::gateway::call_by_query,
        POST "/mock/alipay/gateway.do" => mock_alipay::gateway::call,
        GET "/mock/alipay/oauth2/publicAppAuthorize.htm" => mock_alipay::authorize::authorize,
        POST "/mock/alipay/oauth2/publicAppAuthorize.htm" => mock_alipay::authorize::consent,
        POST "/mock/alipay/users" => mock_alipay::users::create_user,
        GET "/mock/alipay/users" => mock_alipay::users::list,
        GET "/mock/alipay/users/{user_id}" => mock_alipay::users::user,
        PATCH "/mock/alipay/users/{user_id}" => mock_alipay::users::update_user,
        GET "/mock/alipay/keys" => mock_alipay::platform::keys,
        GET "/mock/alipay/merchant" => mock_alipay::platform::merchant,
        PATCH "/mock/alipay/merchant" => mock_alipay::platform::update_merchant,
    ]
}

route_table! {
    /// The simulator's controls (`/v1/sim`, operator role), registered only
    /// in a simulator, with the mock WeChat, whose answers its rules shape
    /// (needs `web::Data<SimClock>`, `web::Data<SimRules>`,
    /// `web::Data<SimReset>` and `web::Data<Scenarios>`); `Served::tables`
    /// says which tables an instance serves.
    fn sim_routes, pub const SIM_ROUTE_TABLE = [
        GET "/v1/sim/clock" => sim_clock::show,
        POST "/v1/sim/clock/advance" => sim_clock::advance,
        POST "/v1/sim/clock/freeze" => sim_clock::freeze,
        POST "/v1/sim/clock/resume" => sim_clock::resume,
        GET "/v1/sim/rules" => sim_rules::list,
        POST "/v1/sim/rules" => sim_rules::add,
        DELETE "/v1/sim/rules" => sim_rules::clear,
        DELETE "/v1/sim/rules/{id}" => sim_rules::remove,
        POST "/v1/sim/reset" => sim::reset,
        GET "/v1/sim/scenarios" => sim::bundled_scenarios,
        POST "/v1/sim/scenarios" => sim::load_scenario,
    ]
}
