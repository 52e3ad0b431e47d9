//! Builds the running application: connects the store, seeds demo data, binds
//! its own listener (port 0 in tests) and holds the whole route table, so
//! every endpoint the service has can be read in `routes()`.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use tracing_actix_web::TracingLogger;

use crate::auth::TokenIssuer;
use crate::clock::SharedClock;
use crate::domain::pin::PinPolicy;
use crate::providers::payouts::SharedPayouts;
use crate::providers::sms::MockSmsOutbox;
use crate::providers::webhooks::WebhookSender;
use crate::providers::wechat::WeChatClient;
use crate::providers::wechat::builtin_client::BuiltinWeChatClient;
use crate::providers::wechat::http_client::HttpWeChatClient;
use crate::providers::wechat::mock::BuiltinPayouts;
use crate::providers::wechat::mock::MockWeChat;
use crate::rate_limit::RateLimits;
use crate::routes::extract::{JsonBodyLimit, json_error, path_error, query_error};
use crate::routes::{
    auth, bindings, events, kyc, me, mock_sms, mock_wechat, not_found, ops, pin, review, system, withdrawals,
};
use crate::services::Services;
use crate::services::bindings::BindingPolicy;
use crate::services::kyc::KycPolicy;
use crate::services::notifications::WebhookPolicy;
use crate::services::sms::SmsPolicy;
use crate::services::withdrawals::WithdrawalPolicy;
use crate::services::work::SettlementPolicy;
use crate::settings::{
    Settings, StoreKind, StoreSettings, WeChatClientKind, WeChatSettings, WebhookSettings, WorkerSettings,
};
use crate::store::{MemoryStore, RedisStore, SharedStore, StoreError};
use crate::telemetry::{WalletgateRootSpan, metrics_handle, observe_request};
use crate::worker::{self, WorkerHandle};

pub struct Application {
    address: std::net::SocketAddr,
    server: Server,
    services: Services,
    mock_wechat: Option<Arc<MockWeChat>>,
    worker: Option<WorkerHandle>,
}

/// Opens the store a URL names.
pub async fn connect_store(settings: &StoreSettings) -> Result<SharedStore, StoreError> {
    let kind = settings.kind().map_err(StoreError::Unavailable)?;
    Ok(match kind {
        StoreKind::Memory => Arc::new(MemoryStore::new()),
        StoreKind::Redis(url) => Arc::new(RedisStore::connect(&url, settings).await?),
    })
}

impl Application {
    pub async fn build(settings: Settings, clock: SharedClock) -> anyhow::Result<Application> {
        let store = connect_store(&settings.store).await?;
        Application::build_with_store(settings, clock, store).await
    }

    /// As `build`, on a store the caller already holds (tests share one).
    pub async fn build_with_store(
        settings: Settings,
        clock: SharedClock,
        store: SharedStore,
    ) -> anyhow::Result<Application> {
        // Bound first: the OAuth redirect URI and the HTTP WeChat client's
        // default base are this very address when not configured.
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))?;
        let address = listener.local_addr()?;
        let public_base_url = match settings.wechat.public_base_url.trim_end_matches('/') {
            "" => format!("http://{address}"),
            configured => configured.to_owned(),
        };
        let mock_wechat = settings
            .mock_wechat
            .enabled
            .then(|| Arc::new(MockWeChat::new(store.clone(), clock.clone(), settings.mock_wechat.clone())));
        let outbox = MockSmsOutbox::new(store.clone(), settings.sms.outbox_keep);
        let services = Services {
            store,
            clock,
            tokens: Arc::new(TokenIssuer::new(&settings.auth)),
            rate_limits: Arc::new(RateLimits::new(&settings.rate_limits)),
            commit_attempts_max: settings.store.commit_attempts_max,
            bindings: binding_policy(&settings.wechat, mock_wechat.clone(), &public_base_url)?,
            sms: SmsPolicy {
                sender: Arc::new(outbox.clone()),
                pepper: settings.auth.pin_pepper.clone(),
                code_ttl: chrono::Duration::seconds(settings.sms.code_ttl_secs as i64),
                attempts_max: settings.sms.code_attempts_max,
            },
            pin_policy: PinPolicy {
                attempts_max: settings.pin.attempts_max,
                lock: chrono::Duration::seconds(settings.pin.lock_secs as i64),
                lock_growth: settings.pin.lock_growth,
                lock_max: chrono::Duration::seconds(settings.pin.lock_max_secs as i64),
            },
            withdrawals: WithdrawalPolicy::from_settings(&settings.withdrawals).map_err(anyhow::Error::msg)?,
            settlement: settlement_policy(&settings.worker, mock_wechat.clone()),
            webhooks: webhook_policy(&settings.webhooks)?,
            kyc: KycPolicy {
                auto_approve_after: settings
                    .kyc
                    .auto_approve
                    .then(|| chrono::Duration::seconds(settings.kyc.auto_approve_after_secs as i64)),
            },
        };
        if settings.seed.demo_accounts {
            let created = services.seed_demo_accounts().await.map_err(|e| anyhow::anyhow!("seeding failed: {e}"))?;
            tracing::info!(created, "demo accounts ready");
        }
        metrics_handle();
        // Starts relaying other processes' event notifications (on Redis) on
        // this runtime, before any request or the worker needs them.
        drop(services.store.event_signals());
        let mocks = Mocks { wechat: mock_wechat.clone(), sms: outbox };
        let server = serve(listener, &settings, services.clone(), mocks)?;
        let worker = settings
            .worker
            .enabled
            .then(|| worker::spawn(services.clone(), Duration::from_millis(settings.worker.poll_interval_ms)));
        Ok(Application { address, server, services, mock_wechat, worker })
    }

    pub fn address(&self) -> std::net::SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// The built-in mock WeChat provider, when `mock_wechat.enabled`.
    pub fn mock_wechat(&self) -> Option<&Arc<MockWeChat>> {
        self.mock_wechat.as_ref()
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

/// The built-in mock providers, when enabled.
struct Mocks {
    wechat: Option<Arc<MockWeChat>>,
    sms: MockSmsOutbox,
}

/// How the worker settles, paying out through the built-in mock WeChat Pay when it runs.
fn settlement_policy(settings: &WorkerSettings, mock: Option<Arc<MockWeChat>>) -> SettlementPolicy {
    let millis = |ms: u64| chrono::Duration::milliseconds(ms.min(i64::MAX as u64 / 2) as i64);
    SettlementPolicy {
        payouts: mock.map(|mock| Arc::new(BuiltinPayouts::new(mock)) as SharedPayouts),
        lease: chrono::Duration::seconds(settings.lease_secs.min(u32::MAX as u64) as i64),
        batch_size: settings.batch_size,
        concurrency: settings.concurrency,
        payout_attempts_max: settings.payout_attempts_max,
        backoff_initial: millis(settings.retry_backoff_initial_ms),
        backoff_max: millis(settings.retry_backoff_max_ms),
    }
}

fn webhook_policy(settings: &WebhookSettings) -> anyhow::Result<Option<WebhookPolicy>> {
    if settings.url.is_empty() {
        return Ok(None);
    }
    let millis = |ms: u64| chrono::Duration::milliseconds(ms.min(i64::MAX as u64 / 2) as i64);
    let sender =
        WebhookSender::new(&settings.url, settings.secret.clone(), Duration::from_millis(settings.timeout_ms))?;
    Ok(Some(WebhookPolicy {
        sender,
        retry_for: chrono::Duration::seconds(settings.retry_for_secs.min(u32::MAX as u64) as i64),
        backoff_initial: millis(settings.retry_backoff_initial_ms),
        backoff_max: millis(settings.retry_backoff_max_ms),
    }))
}

/// Which WeChat the gateway talks to, and where browsers are sent to consent.
fn binding_policy(
    settings: &WeChatSettings,
    mock: Option<Arc<MockWeChat>>,
    public_base_url: &str,
) -> anyhow::Result<BindingPolicy> {
    let own_mock = format!("{public_base_url}/mock/wechat");
    let or_own_mock = |configured: &str| match configured.trim_end_matches('/') {
        "" => own_mock.clone(),
        url => url.to_owned(),
    };
    let client: Arc<dyn WeChatClient> = match settings.client {
        WeChatClientKind::Builtin => {
            let mock = mock.ok_or_else(|| anyhow::anyhow!("wechat.client = builtin needs the mock enabled"))?;
            Arc::new(BuiltinWeChatClient::new(mock, settings.app_id.clone(), settings.app_secret.clone()))
        }
        WeChatClientKind::Http => Arc::new(HttpWeChatClient::new(
            or_own_mock(&settings.api_base_url),
            settings.app_id.clone(),
            settings.app_secret.clone(),
        )?),
    };
    Ok(BindingPolicy {
        client,
        app_id: settings.app_id.clone(),
        scope: settings.scope.clone(),
        authorize_endpoint: format!("{}/connect/oauth2/authorize", or_own_mock(&settings.authorize_base_url)),
        redirect_uri: format!("{public_base_url}/v1/bindings/wechat/callback"),
        start_ttl: chrono::Duration::seconds(settings.binding_start_ttl_secs as i64),
        confirm_ttl: chrono::Duration::seconds(settings.binding_confirm_ttl_secs as i64),
    })
}

fn serve(listener: TcpListener, settings: &Settings, services: Services, mocks: Mocks) -> std::io::Result<Server> {
    let services = web::Data::new(services);
    let body_limit = web::Data::new(JsonBodyLimit(settings.server.json_body_bytes_max));
    let mock_wechat = mocks.wechat.map(web::Data::from);
    let sms_outbox = web::Data::new(mocks.sms);
    let mut server = HttpServer::new(move || {
        let mock_wechat = mock_wechat.clone();
        let sms_outbox = sms_outbox.clone();
        App::new()
            .wrap(from_fn(observe_request))
            .wrap(TracingLogger::<WalletgateRootSpan>::new())
            .app_data(services.clone())
            .app_data(body_limit.clone())
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .app_data(web::JsonConfig::default().error_handler(json_error))
            .configure(routes)
            .configure(crate::routes::web::configure)
            .configure(move |config| {
                if let Some(mock_wechat) = mock_wechat {
                    config.app_data(mock_wechat).app_data(sms_outbox).configure(mock_routes);
                }
            })
            .default_service(web::to(not_found))
    })
    .shutdown_timeout(settings.server.shutdown_timeout_secs)
    .client_request_timeout(Duration::from_secs(10))
    .listen(listener)?;
    if settings.server.workers > 0 {
        server = server.workers(settings.server.workers);
    }
    Ok(server.run())
}

/// Every route of the service.
fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/healthz", web::get().to(system::healthz))
        .route("/readyz", web::get().to(system::readyz))
        .route("/metrics", web::get().to(system::metrics))
        .service(
            web::scope("/v1")
                .route("/auth/register", web::post().to(auth::register))
                .route("/auth/login", web::post().to(auth::login))
                .route("/auth/refresh", web::post().to(auth::refresh))
                .route("/me", web::get().to(me::profile))
                .route("/wallet", web::get().to(me::wallet))
                .route("/wallet/transactions", web::get().to(me::transactions))
                .route("/wallet/transactions/{id}", web::get().to(me::transaction))
                .route("/bindings", web::get().to(bindings::list))
                .route("/bindings/wechat", web::post().to(bindings::start_wechat))
                .route("/bindings/wechat/callback", web::get().to(bindings::wechat_callback))
                .route("/bindings/{id}", web::get().to(bindings::show))
                .route("/bindings/{id}", web::delete().to(bindings::unbind))
                .route("/bindings/{id}/confirm", web::post().to(bindings::confirm))
                .route("/sms/codes", web::post().to(pin::request_sms_code))
                .route("/pin", web::put().to(pin::set_pin))
                .route("/pin/verify", web::post().to(pin::verify_pin))
                .route("/kyc", web::post().to(kyc::submit))
                .route("/kyc", web::get().to(kyc::overview))
                .route("/withdrawals/quote", web::post().to(withdrawals::quote))
                .route("/withdrawals", web::post().to(withdrawals::submit))
                .route("/withdrawals", web::get().to(withdrawals::list))
                .route("/withdrawals/{id}", web::get().to(withdrawals::show))
                .route("/events", web::get().to(events::stream))
                .service(
                    web::scope("/ops")
                        .route("/accounts/{id}/credit", web::post().to(ops::credit))
                        .route("/accounts/{id}/debit", web::post().to(ops::debit))
                        .route("/ledger/check", web::get().to(ops::ledger_check))
                        .route("/kyc/{id}/approve", web::post().to(kyc::approve))
                        .route("/kyc/{id}/reject", web::post().to(kyc::reject))
                        .route("/review-queue", web::get().to(review::queue))
                        .route("/withdrawals/{id}/approve", web::post().to(review::approve))
                        .route("/withdrawals/{id}/reject", web::post().to(review::reject))
                        .route("/audit-log", web::get().to(review::audit_log))
                        .route("/worker/step", web::post().to(review::worker_step)),
                ),
        );
}

/// The built-in mock providers: WeChat under /mock/wechat, the SMS outbox.
fn mock_routes(config: &mut web::ServiceConfig) {
    config.route("/mock/sms/outbox", web::get().to(mock_sms::outbox)).configure(mock_wechat::configure);
}
