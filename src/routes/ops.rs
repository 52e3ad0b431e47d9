//! `/v1/ops`: operator-only endpoints. Every handler takes the `Operator`
//! extractor, so before anything else runs a user token gets 403, and so does
//! a token claiming operator for an account whose stored role is not; a token
//! whose account does not exist or has revoked it gets 401.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::extract::ApiJson;
use super::identity::Operator;
use super::responses::{AccountNotFound, OperatorOnly, PayloadTooLarge, StoreBusy, StoreUnavailable, Unauthenticated};
use super::views::{BalanceView, MovementView};
use crate::domain::account::AccountId;
use crate::domain::money::Amount;
use crate::error::{ApiError, ErrorBody};
use crate::services::ledger_check::LedgerCheck;
use crate::services::ledger_check::LedgerReport;
use crate::services::wallet::Adjustment;
use crate::services::wallet::Wallet;

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": "100.50", "memo": "demo top-up"}))]
pub struct AdjustmentRequest {
    /// Positive amount in yuan as a string, e.g. `"100.00"`.
    pub amount: Amount,
    /// Why; shown in the user's history and the journal.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200, example = "demo top-up")]
    pub memo: String,
}

/// The journal entry written and the wallet's balances after it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "entry": {"id": "je_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "kind": "operator_credit", "memo": "demo top-up",
        "created_at": "2025-05-01T08:30:00Z", "available_change": "100.50", "held_change": "0.00",
        "withdrawal_id": null, "fee": null},
    "wallet": {"account_id": "acc_demo_alice", "currency": "CNY", "available": "900.50", "held": "0.00"}
}))]
struct AdjustmentResponse {
    entry: MovementView,
    wallet: BalanceView,
}

fn target_account(path: &str) -> Result<AccountId, ApiError> {
    AccountId::parse(path).ok_or(ApiError::NotFound { resource: "account" })
}

async fn adjust(
    wallet: &Wallet,
    operator: &Operator,
    path: &str,
    direction: Adjustment,
    request: AdjustmentRequest,
) -> Result<HttpResponse, ApiError> {
    let target = target_account(path)?;
    let (entry, account) =
        wallet.adjust_balance(operator.account_id(), &target, direction, request.amount, &request.memo).await?;
    let response = AdjustmentResponse { entry: MovementView::try_from(&entry)?, wallet: BalanceView::from(&account) };
    Ok(HttpResponse::Created().json(response))
}

/// Top up a wallet (operator)
///
/// Operator role only. Moves `amount` from the funding account into the
/// user's available balance, as one balanced journal entry. Recorded in the
/// audit log.
#[utoipa::path(
    post,
    path = "/v1/ops/accounts/{id}/credit",
    tag = "ops",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The account's id (`acc_…`); anything else is 404.", example = "acc_demo_alice")),
    request_body = AdjustmentRequest,
    responses(
        (status = 201, description = "The entry and the new balances.", body = AdjustmentResponse),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a malformed amount, a `memo` outside \
            1–200 characters, a balance that would grow too large, an unknown field.", body = ErrorBody),
        Unauthenticated, OperatorOnly, AccountNotFound, PayloadTooLarge, StoreBusy,
    )
)]
pub async fn credit(
    wallet: web::Data<Wallet>,
    operator: Operator,
    path: web::Path<String>,
    ApiJson(request): ApiJson<AdjustmentRequest>,
) -> Result<HttpResponse, ApiError> {
    adjust(&wallet, &operator, &path, Adjustment::Credit, request).await
}

/// Take demo money back (operator)
///
/// Operator role only. Moves `amount` from the user's available balance back
/// to the funding account; never overdraws. Recorded in the audit log.
#[utoipa::path(
    post,
    path = "/v1/ops/accounts/{id}/debit",
    tag = "ops",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The account's id (`acc_…`); anything else is 404.", example = "acc_demo_alice")),
    request_body = AdjustmentRequest,
    responses(
        (status = 201, description = "The entry and the new balances.", body = AdjustmentResponse),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a malformed amount, a `memo` outside \
            1–200 characters, an unknown field.", body = ErrorBody),
        (status = 422, description = "`INSUFFICIENT_BALANCE` (`details.available`, `details.requested`).", body = ErrorBody),
        Unauthenticated, OperatorOnly, AccountNotFound, PayloadTooLarge, StoreBusy,
    )
)]
pub async fn debit(
    wallet: web::Data<Wallet>,
    operator: Operator,
    path: web::Path<String>,
    ApiJson(request): ApiJson<AdjustmentRequest>,
) -> Result<HttpResponse, ApiError> {
    adjust(&wallet, &operator, &path, Adjustment::Debit, request).await
}

/// Audit the whole ledger (operator)
///
/// Operator role only. Recomputes every balance from the journal, checks that
/// each entry balances and that everything adds up to `0.00`.
#[utoipa::path(
    get,
    path = "/v1/ops/ledger/check",
    tag = "ops",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The report; `balanced` says whether all is well.", body = LedgerReport),
        Unauthenticated, OperatorOnly, StoreUnavailable,
    )
)]
pub async fn ledger_check(ledger: web::Data<LedgerCheck>, _operator: Operator) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(ledger.check_ledger().await?))
}
