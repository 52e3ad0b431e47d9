//! `/v1/sim/rules`: the simulator's rules that force how the mock providers
//! answer (an outcome, an error, a fault, a delay), WireMock-style. Operator
//! role; served only with the built-in mocks.

use actix_web::{HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::ApiJson;
use super::identity::Operator;
use super::responses::{OperatorOnly, RuleMalformed, StoreBusy, Unauthenticated};
use crate::error::ApiError;
use crate::providers::sim::{NewRule, Rule};
use crate::services::sim_rules::SimRules;

/// The rules, in the order they are consulted.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"rules": [{
    "id": "rule_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "description": "",
    "match": {"operation": "wechat_pay.transfer", "amount_min": "100.00"}, "respond": {"type": "system_error"},
    "delay": {"type": "fixed", "ms": 1500}, "times": null, "probability": 0.5, "remaining": null, "matched": 4,
    "created_at": "2026-03-01T09:30:00Z"
}]}))]
pub struct RuleList {
    pub rules: Vec<Rule>,
}

/// How many rules a clear removed.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"removed": 3}))]
pub struct RulesCleared {
    #[schema(example = 3)]
    pub removed: usize,
}

/// The simulator's rules (operator)
///
/// Every rule with what it has done so far (`matched`, and `remaining` for
/// one with `times`), in the order they are consulted: the first live rule
/// that matches a call, and whose `probability` comes up, answers it.
#[utoipa::path(
    get,
    path = "/v1/sim/rules",
    tag = "simulator",
    security(("bearerAuth" = [])),
    responses((status = 200, description = "The rules.", body = RuleList), Unauthenticated, OperatorOnly, StoreBusy)
)]
pub async fn list(rules: web::Data<SimRules>, _operator: Operator) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(RuleList { rules: rules.rules().await? }))
}

/// Add a rule that forces how a mock provider answers (operator)
///
/// `match` picks the calls (`operation` is `wechat_pay.transfer`,
/// `wechat_pay.query`, `wechat_pay.cancel`, …; optionally `payee`,
/// `amount_min`/`amount_max` (transfers), `account_id`, `out_bill_no`);
/// `respond` says how they are answered:
/// `as_usual` (after the delay: latency alone), `fail` with a `fail_reason`, `processing`, `system_error`, `http_error`
/// with `status` and `code`, or a `fault` (`timeout`, `connection_reset`,
/// `malformed_body`, `empty_response`). `delay` waits first (`fixed` ms, or
/// `lognormal` with `median_ms` and `sigma`), `times` limits how many calls
/// it answers, `probability` how likely a match is answered. It applies to
/// the mock's HTTP endpoints and to the in-process payouts alike. At most
/// 100 rules; recorded in the audit log.
#[utoipa::path(
    post,
    path = "/v1/sim/rules",
    tag = "simulator",
    security(("bearerAuth" = [])),
    request_body(content = NewRule, example = json!({
        "description": "the next two payouts time out",
        "match": {"operation": "wechat_pay.transfer"},
        "respond": {"type": "fault", "fault": "timeout"},
        "times": 2
    })),
    responses(
        (status = 201, description = "The rule as kept.", body = Rule),
        RuleMalformed, Unauthenticated, OperatorOnly, StoreBusy,
    )
)]
pub async fn add(
    rules: web::Data<SimRules>,
    operator: Operator,
    ApiJson(rule): ApiJson<NewRule>,
) -> Result<HttpResponse, ApiError> {
    let added = rules.add(operator.account_id(), rule).await?;
    Ok(HttpResponse::Created().json(added))
}

/// Remove a rule (operator)
#[utoipa::path(
    delete,
    path = "/v1/sim/rules/{id}",
    tag = "simulator",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The rule's id.", example = "rule_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")),
    responses(
        (status = 204, description = "Removed."),
        (status = 404, description = "`NOT_FOUND`: no such rule.", body = crate::error::ErrorBody),
        Unauthenticated, OperatorOnly, StoreBusy,
    )
)]
pub async fn remove(
    rules: web::Data<SimRules>,
    operator: Operator,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    rules.remove(operator.account_id(), &id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Remove every rule (operator)
#[utoipa::path(
    delete,
    path = "/v1/sim/rules",
    tag = "simulator",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "How many were removed.", body = RulesCleared),
        Unauthenticated, OperatorOnly, StoreBusy,
    )
)]
pub async fn clear(rules: web::Data<SimRules>, operator: Operator) -> Result<HttpResponse, ApiError> {
    let removed = rules.clear(operator.account_id()).await?;
    Ok(HttpResponse::Ok().json(RulesCleared { removed }))
}
