//! `/v1/ops`: operator-only endpoints. Every handler takes the `Operator`
//! extractor, so a user token gets 403 before anything else runs.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;
use validator::Validate;

use super::extract::ApiJson;
use super::views::{BalanceView, MovementView};
use crate::auth::Operator;
use crate::domain::account::AccountId;
use crate::domain::money::Amount;
use crate::error::ApiError;
use crate::services::Services;
use crate::services::audit::AuditTarget;
use crate::services::wallet::Adjustment;

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct AdjustmentRequest {
    /// Positive amount in yuan as a string, e.g. `"100.00"`.
    pub amount: Amount,
    /// Why; shown in the user's history and the journal.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    pub memo: String,
}

#[derive(Debug, Serialize)]
struct AdjustmentResponse {
    entry: MovementView,
    wallet: BalanceView,
}

fn target_account(path: &str) -> Result<AccountId, ApiError> {
    AccountId::parse(path).ok_or(ApiError::NotFound { resource: "account" })
}

async fn adjust(
    services: &Services,
    operator: &Operator,
    path: &str,
    direction: Adjustment,
    request: AdjustmentRequest,
) -> Result<HttpResponse, ApiError> {
    let target = target_account(path)?;
    let action = match direction {
        Adjustment::Credit => "account.credit",
        Adjustment::Debit => "account.debit",
    };
    let audit_target = AuditTarget::new("account", target.as_str(), Some(&target));
    let details = json!({ "amount": request.amount, "memo": request.memo });
    let adjustment = services.adjust_balance(operator.account_id(), &target, direction, request.amount, &request.memo);
    let (entry, account) = services.audited(operator.account_id(), action, audit_target, details, adjustment).await?;
    let response = AdjustmentResponse { entry: MovementView::try_from(&entry)?, wallet: BalanceView::from(&account) };
    Ok(HttpResponse::Created().json(response))
}

pub async fn credit(
    services: web::Data<Services>,
    operator: Operator,
    path: web::Path<String>,
    ApiJson(request): ApiJson<AdjustmentRequest>,
) -> Result<HttpResponse, ApiError> {
    adjust(&services, &operator, &path, Adjustment::Credit, request).await
}

pub async fn debit(
    services: web::Data<Services>,
    operator: Operator,
    path: web::Path<String>,
    ApiJson(request): ApiJson<AdjustmentRequest>,
) -> Result<HttpResponse, ApiError> {
    adjust(&services, &operator, &path, Adjustment::Debit, request).await
}

pub async fn ledger_check(services: web::Data<Services>, _operator: Operator) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(services.check_ledger().await?))
}
