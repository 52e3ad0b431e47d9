//! `/v1/sim`: the simulator's controls, operator role only, served only
//! where the mock providers are (a production gateway has none): the reset
//! and the scenarios (docs/simulator.md, "Reset and scenarios").

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::{content_type_is, parse_json, read_body};
use super::identity::Operator;
use super::responses::{OperatorOnly, PayloadTooLarge, StoreBusy, Unauthenticated};
use crate::domain::scenario::SCENARIO_BYTES_MAX;
use crate::error::{ApiError, ErrorBody};
use crate::rate_limit::RateLimits;
use crate::services::scenarios::{BUNDLED_SCENARIOS, ScenarioReport, Scenarios};
use crate::services::sim_reset::{ResetReport, SimReset};

/// What to reset into; the body may also be left out.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"scenario": "review-queue"}))]
pub struct ResetRequest {
    /// A bundled scenario to load after the reset (`GET /v1/sim/scenarios`
    /// lists them); none: the demo accounts only.
    #[schema(example = "review-queue")]
    pub scenario: Option<String>,
}

/// Reset the simulator (operator)
///
/// Operator role only; served only with the mock providers. Deletes all of
/// this deployment's state (every account, withdrawal, transfer, mock
/// WeChat user and bill, the audit log, the SMS outbox, every token and
/// code) on the store every gateway of the deployment shares, forgets this
/// gateway's request-rate limits, seeds the demo accounts again and, with
/// `scenario`, loads that bundled scenario. The reset is the audit log's
/// first entry. The demo accounts keep their ids, so their access tokens
/// (the operator's too) keep working; refresh tokens are gone, and so are
/// the tokens of every other account (401, or 404 `account` where the
/// token's own account is read). The body may be left out.
#[utoipa::path(
    post,
    path = "/v1/sim/reset",
    tag = "simulator",
    security(("bearerAuth" = [])),
    request_body(content = Option<ResetRequest>, description = "Optional."),
    responses(
        (status = 200, description = "What the reset did, and the scenario it loaded.", body = ResetReport),
        (status = 400, description = "`VALIDATION_FAILED`: a body that is not JSON, an unknown field.", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND` (`details.resource` = `scenario`): no bundled scenario has this \
            name; nothing was reset.", body = ErrorBody),
        (status = 422, description = "`SCENARIO_INVALID` (`details.scenario`, `details.field`, `details.line`): the \
            scenario could not be loaded after the reset.", body = ErrorBody),
        Unauthenticated, OperatorOnly, PayloadTooLarge, StoreBusy,
    )
)]
pub async fn reset(
    sim: web::Data<SimReset>,
    rate_limits: web::Data<RateLimits>,
    operator: Operator,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&mut payload.into_inner(), RESET_BODY_BYTES_MAX).await?;
    let asked = match body.iter().all(u8::is_ascii_whitespace) {
        true => ResetRequest::default(),
        false if !content_type_is(&request, |essence| essence == "application/json") => {
            return Err(ApiError::Validation {
                field: None,
                message: "the request body must be JSON (Content-Type: application/json)".into(),
            });
        }
        false => parse_json(&body)?,
    };
    let report = sim.reset(operator.account_id(), asked.scenario.as_deref()).await;
    // Forgotten even when the scenario failed: the wipe has happened.
    rate_limits.forget_all();
    Ok(HttpResponse::Ok().json(report?))
}

/// A reset's body names a scenario at most.
const RESET_BODY_BYTES_MAX: usize = 1024;

/// Load a scenario (operator)
///
/// Operator role only; served only with the mock providers. The body is a
/// scenario file (`Content-Type: application/toml`, at most 256 KiB; the
/// format is in docs/simulator.md), checked in full before anything is
/// written, then loaded through the services: users with their balances,
/// identities, PINs, WeChat bindings and withdrawals in the states it names.
/// Its operators' steps are taken, and audited, as the caller. A refusal
/// names the line and the field; one met while loading leaves what was
/// loaded before it (reset to start clean).
#[utoipa::path(
    post,
    path = "/v1/sim/scenarios",
    tag = "simulator",
    security(("bearerAuth" = [])),
    request_body(content = String, content_type = "application/toml", description = "A scenario file.",
        example = "version = 1\nname = \"one-user\"\n\n[[users]]\nname = \"li\"\nphone = \"13900000901\"\n\
            password = \"li-password\"\nbalances = { CNY = \"500.00\", USDT = \"10.000000\" }\n"),
    responses(
        (status = 201, description = "What was loaded.", body = ScenarioReport),
        (status = 400, description = "`VALIDATION_FAILED`: the body is not `application/toml`.", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: over 256 KiB.", body = ErrorBody),
        (status = 422, description = "`SCENARIO_INVALID` (`details.scenario`, and `details.field` and \
            `details.line` unless the whole file is at fault): a syntax error, an unknown field, an amount with \
            more places than its asset, an unknown asset, a phone used twice or already registered, a withdrawal \
            the rules send elsewhere than its `state`…", body = ErrorBody),
        Unauthenticated, OperatorOnly, StoreBusy,
    )
)]
pub async fn load_scenario(
    scenarios: web::Data<Scenarios>,
    operator: Operator,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    if !content_type_is(&request, |essence| essence == "application/toml") {
        return Err(ApiError::Validation {
            field: None,
            message: "the request body must be a scenario in TOML (Content-Type: application/toml)".into(),
        });
    }
    let body = read_body(&mut payload.into_inner(), SCENARIO_BYTES_MAX).await?;
    let text = std::str::from_utf8(&body)
        .map_err(|_| ApiError::Validation { field: None, message: "the scenario must be UTF-8 text".into() })?;
    let scenario = scenarios.parse(REQUEST_BODY, text)?;
    let report = scenarios.load(REQUEST_BODY, Some(operator.account_id()), &scenario).await?;
    Ok(HttpResponse::Created().json(report))
}

/// What errors of a scenario sent in a body name as its source (`details.scenario`).
const REQUEST_BODY: &str = "(request body)";

/// A bundled scenario.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"name": "review-queue", "description": "Twelve withdrawals held for review.", "users": 12}))]
struct BundledScenario {
    name: &'static str,
    description: String,
    /// How many users it seeds.
    users: usize,
}

/// The bundled scenarios.
#[derive(Debug, Serialize, ToSchema)]
struct BundledScenarios {
    items: Vec<BundledScenario>,
}

/// The bundled scenarios (operator)
///
/// Operator role only; served only with the mock providers. The scenarios
/// of the `scenarios/` folder compiled into this gateway, which
/// `POST /v1/sim/reset` can reset into by name.
#[utoipa::path(
    get,
    path = "/v1/sim/scenarios",
    tag = "simulator",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Every bundled scenario.", body = BundledScenarios),
        Unauthenticated, OperatorOnly,
    )
)]
pub async fn bundled_scenarios(scenarios: web::Data<Scenarios>, _operator: Operator) -> Result<HttpResponse, ApiError> {
    let mut items = Vec::with_capacity(BUNDLED_SCENARIOS.len());
    for (name, _) in BUNDLED_SCENARIOS {
        let scenario = scenarios.bundled(name)?;
        items.push(BundledScenario { name, description: scenario.description, users: scenario.users.len() });
    }
    Ok(HttpResponse::Ok().json(BundledScenarios { items }))
}
