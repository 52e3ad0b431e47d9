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
use crate::providers::wechat::mock::MockWeChat;
use crate::rate_limit::RateLimits;
use crate::routes::extract::{JsonBodyLimit, json_error, path_error, query_error};
use crate::routes::{auth, me, mock_wechat, not_found, ops, system};
use crate::services::Services;
use crate::settings::{Settings, StoreKind, StoreSettings};
use crate::store::{MemoryStore, RedisStore, SharedStore, StoreError};
use crate::telemetry::{WalletgateRootSpan, metrics_handle, observe_request};

pub struct Application {
    address: std::net::SocketAddr,
    server: Server,
    services: Services,
    mock_wechat: Option<Arc<MockWeChat>>,
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
        let services = Services {
            store,
            clock,
            tokens: Arc::new(TokenIssuer::new(&settings.auth)),
            rate_limits: Arc::new(RateLimits::new(&settings.rate_limits)),
            commit_attempts_max: settings.store.commit_attempts_max,
        };
        if settings.seed.demo_accounts {
            let created = services
                .seed_demo_accounts()
                .await
                .map_err(|e| anyhow::anyhow!("seeding failed: {e}"))?;
            tracing::info!(created, "demo accounts ready");
        }
        let mock_wechat = settings.mock_wechat.enabled.then(|| {
            Arc::new(MockWeChat::new(
                services.store.clone(),
                services.clock.clone(),
                settings.mock_wechat.clone(),
            ))
        });
        metrics_handle();
        let listener = TcpListener::bind((settings.server.host.as_str(), settings.server.port))?;
        let address = listener.local_addr()?;
        let server = serve(listener, &settings, services.clone(), mock_wechat.clone())?;
        Ok(Application {
            address,
            server,
            services,
            mock_wechat,
        })
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
    /// until the server handle is stopped.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

fn serve(
    listener: TcpListener,
    settings: &Settings,
    services: Services,
    mock_wechat: Option<Arc<MockWeChat>>,
) -> std::io::Result<Server> {
    let services = web::Data::new(services);
    // `Data::from` shares the caller's Arc: handlers and in-process clients
    // reach the same provider.
    let mock_wechat = mock_wechat.map(web::Data::from);
    let body_limit = web::Data::new(JsonBodyLimit(settings.server.json_body_bytes_max));
    let mut server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(observe_request))
            .wrap(TracingLogger::<WalletgateRootSpan>::new())
            .app_data(services.clone())
            .app_data(body_limit.clone())
            .app_data(web::QueryConfig::default().error_handler(query_error))
            .app_data(web::PathConfig::default().error_handler(path_error))
            .app_data(web::JsonConfig::default().error_handler(json_error))
            .configure(routes)
            .configure(|config| {
                if let Some(mock) = &mock_wechat {
                    config.app_data(mock.clone());
                    mock_wechat::configure(config);
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
                .service(
                    web::scope("/ops")
                        .route("/accounts/{id}/credit", web::post().to(ops::credit))
                        .route("/accounts/{id}/debit", web::post().to(ops::debit))
                        .route("/ledger/check", web::get().to(ops::ledger_check)),
                ),
        );
}
