//! `/openapi.json` and `/docs`: the OpenAPI 3.1 document of the HTTP API and
//! the Swagger UI that shows it. The document is assembled here from the
//! handlers' `#[utoipa::path]` attributes and the DTOs' schemas: the
//! operations (one per route of `startup::ROUTE_TABLE` and
//! `MOCK_ROUTE_TABLE`, a test keeps them in step), the tags, and the
//! bearer-token security scheme. It is serialised once, at startup; the UI's
//! files are compiled into the binary, so the docs work offline.
//!
//! `servers` names the instance that serves the document first (its
//! `wechat.public_base_url`, or the address it listens on), so Swagger UI's
//! "Try it out" and tools that read the document (schemathesis) call the
//! instance they read it from; then the local default, for a copy of the
//! document read elsewhere.

use actix_web::HttpResponse;
use actix_web::http::header::{CACHE_CONTROL, ContentType, LOCATION};
use actix_web::web::{self, Bytes};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::server::{Server, ServerBuilder};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::{Config, SwaggerUi};

use super::{
    auth, bindings, events, kyc, me, mock_alipay, mock_journal, mock_sms, mock_wechat, ops, ops_search, pin, review,
    sim, sim_clock, sim_rules, system, transfers, wechat_pay_notify, withdrawals,
};

/// Where the Swagger UI is served; the trailing slash matters (its assets
/// are relative to it), so `/docs` redirects here.
pub const SWAGGER_UI_PATH: &str = "/swagger-ui/";
/// The route pattern of the UI and its assets.
pub const SWAGGER_UI_ROUTE: &str = "/swagger-ui/{_:.*}";
pub const OPENAPI_JSON_PATH: &str = "/openapi.json";
/// Where `cargo run` serves with the shipped settings (`server.port` of
/// `config/default.toml`; a test keeps them in step).
pub const LOCAL_DEFAULT_URL: &str = "http://127.0.0.1:8080";

/// The document as served, serialised once.
#[derive(Debug, Clone)]
pub struct OpenApiJson(Bytes);

impl OpenApiJson {
    /// The document of the instance at `public_base_url`: without the paths
    /// of what it does not serve.
    pub fn new(serves: impl Fn(&str) -> bool, public_base_url: &str) -> serde_json::Result<OpenApiJson> {
        Ok(OpenApiJson(Bytes::from(serde_json::to_vec(&document(serves, public_base_url))?)))
    }
}

/// The Swagger UI, pointed at `/openapi.json` (which `openapi_json` serves).
pub fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new(SWAGGER_UI_ROUTE).config(Config::new([OPENAPI_JSON_PATH]))
}

/// This OpenAPI document
///
/// The OpenAPI 3.1 description of every route this instance serves (the mock
/// providers' only when they are enabled).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "docs",
    responses((status = 200, description = "The document.", body = Object, content_type = "application/json",
        example = json!({"openapi": "3.1.0", "info": {"title": "walletgate", "version": "0.1.0"},
            "servers": [{"url": "http://127.0.0.1:8080", "description": "This instance."}], "paths": {}})))
)]
pub async fn openapi_json(document: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::json()).body(document.0.clone())
}

/// Interactive API documentation
///
/// Redirects to the Swagger UI at `/swagger-ui/`, which reads `/openapi.json`.
#[utoipa::path(
    get,
    path = "/docs",
    tag = "docs",
    responses((status = 302, description = "To the Swagger UI.", headers(("Location" = String, description = "`/swagger-ui/`"))))
)]
pub async fn swagger_ui_redirect() -> HttpResponse {
    HttpResponse::Found().insert_header((LOCATION, SWAGGER_UI_PATH)).insert_header((CACHE_CONTROL, "no-cache")).finish()
}

/// The name operations use for the bearer token in `security`.
pub const BEARER_AUTH: &str = "bearerAuth";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "walletgate",
        description = "A stateful wallet-to-wallet transfer gateway simulator: OK-Wallet-style CNY balances \
            withdrawn to mock WeChat wallets.\n\n\
            Log in at `POST /v1/auth/login` and send the `access_token` as `Authorization: Bearer …`. \
            Operator endpoints (`/v1/ops/*`) need an operator's token; the demo operator is \
            `ops@walletgate.test` / `operator-demo`.\n\n\
            Amounts are decimal strings in yuan with at most two places (`\"100.50\"`), never JSON numbers. \
            Every error is `{\"error\": {\"code\", \"message\", \"details\"}}` with a stable `code`; each \
            operation lists the codes it can answer with. A path no route serves answers 404 `NOT_FOUND` \
            with `details.resource` = `route`; a path asked for with a method it does not take, 405 \
            `METHOD_NOT_ALLOWED` with `Allow` (and `details.allowed`).",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        system::healthz,
        system::readyz,
        system::metrics,
        openapi_json,
        swagger_ui_redirect,
        auth::register_code,
        auth::register,
        auth::login,
        auth::refresh,
        auth::logout,
        me::profile,
        me::wallet,
        me::transactions,
        me::transaction,
        bindings::list,
        bindings::start_wechat,
        bindings::wechat_callback,
        bindings::start_alipay,
        bindings::alipay_callback,
        bindings::show,
        bindings::unbind,
        bindings::confirm,
        pin::request_sms_code,
        pin::check_sms_code,
        pin::set_pin,
        pin::verify_pin,
        kyc::submit,
        kyc::overview,
        withdrawals::quote,
        withdrawals::submit,
        withdrawals::list,
        withdrawals::show,
        transfers::recipient,
        transfers::send,
        transfers::list,
        transfers::show,
        events::stream,
        events::ticket,
        ops_search::find_accounts,
        ops_search::show_account,
        ops::credit,
        ops::debit,
        transfers::list_of_account,
        ops::ledger_check,
        kyc::pending,
        kyc::approve,
        kyc::reject,
        review::queue,
        ops_search::list_withdrawals,
        review::approve,
        review::reject,
        review::audit_log,
        review::worker_step,
        wechat_pay_notify::transfer_bill_finished,
        sim_clock::show,
        sim_clock::advance,
        sim_clock::freeze,
        sim_clock::resume,
        mock_sms::outbox,
        mock_journal::list,
        mock_journal::clear,
        mock_wechat::users::create_user,
        mock_wechat::users::list,
        mock_wechat::users::user,
        mock_wechat::users::update_user,
        mock_wechat::payouts::confirm_transfer_bill,
        mock_wechat::authorize::authorize,
        mock_wechat::authorize::consent,
        mock_wechat::sns::access_token,
        mock_wechat::sns::refresh_token,
        mock_wechat::sns::auth,
        mock_wechat::sns::user_info,
        mock_wechat::payouts::create_transfer_bill,
        mock_wechat::payouts::transfer_bill,
        mock_wechat::payouts::cancel_transfer_bill,
        mock_wechat::payouts::transfer_bill_by_number,
        mock_wechat::platform::keys,
        mock_wechat::platform::sign,
        mock_alipay::gateway::call_by_query,
        mock_alipay::gateway::call,
        mock_alipay::authorize::authorize,
        mock_alipay::authorize::consent,
        mock_alipay::users::create_user,
        mock_alipay::users::list,
        mock_alipay::users::user,
        mock_alipay::users::update_user,
        mock_alipay::platform::keys,
        mock_alipay::platform::merchant,
        mock_alipay::platform::update_merchant,
        sim_rules::list,
        sim_rules::add,
        sim_rules::remove,
        sim_rules::clear,
        sim::reset,
        sim::bundled_scenarios,
        sim::load_scenario,
    ),
    // Schemas referenced only from query parameters: utoipa collects those of
    // bodies by itself, not these.
    components(schemas(
        crate::error::ErrorBody,
        crate::domain::review_queue::WaitReason,
        crate::domain::review_queue::QueueOrder
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Register (with an SMS code), log in, refresh tokens, log out."),
        (name = "account", description = "The caller's profile, wallet and history."),
        (name = "bindings", description = "Bind a WeChat wallet or an Alipay account: OAuth consent, SMS confirmation, unbinding."),
        (name = "pin", description = "The payment PIN and the SMS codes that guard it."),
        (name = "kyc", description = "Identity verification (L1, L2)."),
        (name = "withdrawals", description = "Quote and withdraw to a bound WeChat wallet."),
        (name = "transfers", description = "Send CNY or USDT to another walletgate user, exactly once."),
        (name = "events", description = "The caller's notifications as Server-Sent Events."),
        (name = "ops", description = "Operator role only: finding accounts, withdrawals and waiting identity checks, \
            top-ups, reviews, identity decisions, the ledger audit \
            and the audit log. A user's token gets 403 `FORBIDDEN`."),
        (name = "mock", description = "The built-in mock providers, served only in the simulator profile \
            (`simulator.enabled`; never in production): the SMS outbox, the request journal, and WeChat OAuth and \
            WeChat Pay transfer bills when `mock_wechat.enabled` too, and the Alipay open platform (its RSA2-signed \
            gateway, consent page, users, keys and merchant) when `mock_alipay.enabled`. No token needed. The WeChat \
            and Alipay ones answer in the real providers' shapes, not the catalogue's, except where marked."),
        (name = "simulator", description = "The simulator's controls (operator role), served only in the simulator \
            profile with the mock providers: the business clock every gateway of the deployment shares (advanced, \
            running the work that falls due; frozen; resumed), rules that force how the mock providers answer, reset \
            the deployment, load scenarios. A user's token gets 403 `FORBIDDEN`."),
        (name = "callbacks", description = "What the real providers call: WeChat Pay's notifications             (`notify_url`), in WeChat Pay's protocol (signed by WeChat Pay, answered 204 or `{\"code\":\"FAIL\"}`),             not the catalogue's. No token: the provider's signature is the proof."),
        (name = "system", description = "Liveness, readiness, metrics."),
        (name = "docs", description = "This document and the Swagger UI."),
    )
)]
struct ApiDoc;

/// Adds the `bearerAuth` scheme the operations' `security` names.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, document: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .bearer_format("JWT")
            .description(Some("The `access_token` of `POST /v1/auth/login` or `/v1/auth/refresh`."))
            .build();
        document
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(BEARER_AUTH, SecurityScheme::Http(scheme));
    }
}

/// The path prefix of the mock providers' routes.
pub const MOCK_PATH_PREFIX: &str = "/mock/";
/// The path prefix of the mock WeChat's routes.
pub const MOCK_WECHAT_PATH_PREFIX: &str = "/mock/wechat/";
/// The path prefix of the mock Alipay's routes.
pub const MOCK_ALIPAY_PATH_PREFIX: &str = "/mock/alipay/";
/// The path prefix of the simulator's controls.
pub const SIM_PATH_PREFIX: &str = "/v1/sim/";

/// The document of the instance at `public_base_url`: only the paths it
/// serves (`startup::Served::serves`).
pub fn document(serves: impl Fn(&str) -> bool, public_base_url: &str) -> utoipa::openapi::OpenApi {
    let mut document = ApiDoc::openapi();
    document.paths.paths.retain(|path, _| serves(path));
    document.servers = Some(servers(public_base_url));
    document
}

fn servers(public_base_url: &str) -> Vec<Server> {
    let server = |url: &str, description: &str| ServerBuilder::new().url(url).description(Some(description)).build();
    let mut servers = vec![server(public_base_url, "This instance.")];
    if public_base_url != LOCAL_DEFAULT_URL {
        servers.push(server(LOCAL_DEFAULT_URL, "A local walletgate with the default settings (`cargo run`)."));
    }
    servers
}
