//! `/v1/ops`: operator-only endpoints. Every handler takes the `Operator`
//! extractor, so before anything else runs a user token gets 403, and so does
//! a token claiming operator for an account whose stored role is not; a token
//! whose account does not exist or has revoked it gets 401.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::extract::{ApiJson, mark_replayed, optional_idempotency_key};
use super::identity::Operator;
use super::responses::{AccountNotFound, OperatorOnly, PayloadTooLarge, StoreBusy, StoreUnavailable, Unauthenticated};
use super::views::{BalanceView, MovementView};
use crate::domain::account::AccountId;
use crate::domain::asset::{Asset, Quantity};
use crate::domain::money::AmountText;
use crate::error::{ApiError, ErrorBody};
use crate::services::idempotency::Replayed;
use crate::services::ledger_check::LedgerCheck;
use crate::services::ledger_check::LedgerReport;
use crate::services::wallet::{Adjustment, AdjustmentAsk, Wallet};

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": "100.50", "memo": "demo top-up"}))]
pub struct AdjustmentRequest {
    /// The asset to move: `CNY` (the default) or `USDT`.
    #[serde(default)]
    #[schema(default = "CNY")]
    pub asset: Asset,
    /// A positive amount as a string with at most the asset's places (CNY 2,
    /// USDT 6), e.g. `"100.00"` or `"12.345678"`; more places are refused.
    #[schema(value_type = String, example = "100.50", pattern = r"^[0-9]+(\.[0-9]{1,6})?$")]
    pub amount: AmountText,
    /// Why; shown in the user's history and the journal.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200, example = "demo top-up")]
    pub memo: String,
}

/// The optional key of an operator adjustment.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)] // Read from the headers by `optional_idempotency_key`; here for the document.
struct AdjustmentKey {
    /// Optional, 1 to 255 visible characters: the adjustment happens once per
    /// key of this operator on this account (kept, as long as withdrawal
    /// keys, in the account's own partition, so the same key on another
    /// account is another adjustment); a repeat gets the first outcome with
    /// `Idempotent-Replayed: true`, another request under the key 409
    /// `IDEMPOTENCY_KEY_REUSED`.
    #[param(rename = "Idempotency-Key", example = "8c0f3c4e-6a61-4a4b-9d0e-2f7a1b9c5d11")]
    idempotency_key: Option<String>,
}

/// The journal entry written and the wallet's balances after it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "entry": {"id": "je_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "kind": "operator_credit", "memo": "demo top-up",
        "created_at": "2025-05-01T08:30:00Z", "asset": "CNY", "available_change": "100.50", "held_change": "0.00",
        "withdrawal_id": null, "fee": null, "provider": null, "transfer_id": null},
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
    http: &HttpRequest,
    path: &str,
    direction: Adjustment,
    request: AdjustmentRequest,
) -> Result<HttpResponse, ApiError> {
    let target = target_account(path)?;
    let key = optional_idempotency_key(http)?;
    let amount = Quantity::parse_positive(request.asset, &request.amount.0)
        .map_err(|error| ApiError::validation("amount", error.to_string()))?;
    let ask = AdjustmentAsk { direction, amount, memo: &request.memo, key: key.as_ref() };
    let (adjusted, replayed) = wallet.adjust_balance(operator.account_id(), &target, ask).await?;
    let balances = BalanceView::of(target, adjusted.available, adjusted.held);
    let response = AdjustmentResponse { entry: MovementView::try_from(&adjusted.entry)?, wallet: balances };
    let mut response = HttpResponse::Created().json(response);
    if replayed == Replayed::Saved {
        mark_replayed(&mut response);
    }
    Ok(response)
}

/// Top up a wallet (operator)
///
/// Operator role only. Moves `amount` of `asset` (CNY unless told) from the
/// funding account into the user's available balance, as one balanced
/// journal entry. Recorded in the audit log.
#[utoipa::path(
    post,
    path = "/v1/ops/accounts/{id}/credit",
    tag = "ops",
    security(("bearerAuth" = [])),
    params(
        ("id" = String, Path, description = "The account's id (`acc_…`); anything else is 404.", example = "acc_demo_alice"),
        AdjustmentKey,
    ),
    request_body = AdjustmentRequest,
    responses(
        (status = 201, description = "The entry and the new balances.", body = AdjustmentResponse),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a malformed amount, a `memo` outside \
            1–200 characters, a balance that would grow too large, an unknown field.", body = ErrorBody),
        (status = 409, description = "`IDEMPOTENCY_KEY_REUSED`: the key was used for another adjustment.", body = ErrorBody),
        Unauthenticated, OperatorOnly, AccountNotFound, PayloadTooLarge, StoreBusy,
    )
)]
pub async fn credit(
    wallet: web::Data<Wallet>,
    operator: Operator,
    http: HttpRequest,
    path: web::Path<String>,
    ApiJson(request): ApiJson<AdjustmentRequest>,
) -> Result<HttpResponse, ApiError> {
    adjust(&wallet, &operator, &http, &path, Adjustment::Credit, request).await
}

/// Take demo money back (operator)
///
/// Operator role only. Moves `amount` of `asset` (CNY unless told) from the
/// user's available balance back to the funding account; never overdraws.
/// Recorded in the audit log.
#[utoipa::path(
    post,
    path = "/v1/ops/accounts/{id}/debit",
    tag = "ops",
    security(("bearerAuth" = [])),
    params(
        ("id" = String, Path, description = "The account's id (`acc_…`); anything else is 404.", example = "acc_demo_alice"),
        AdjustmentKey,
    ),
    request_body = AdjustmentRequest,
    responses(
        (status = 201, description = "The entry and the new balances.", body = AdjustmentResponse),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a malformed amount, a `memo` outside \
            1–200 characters, an unknown field.", body = ErrorBody),
        (status = 422, description = "`INSUFFICIENT_BALANCE` (`details.available`, `details.requested`).", body = ErrorBody),
        (status = 409, description = "`IDEMPOTENCY_KEY_REUSED`: the key was used for another adjustment.", body = ErrorBody),
        Unauthenticated, OperatorOnly, AccountNotFound, PayloadTooLarge, StoreBusy,
    )
)]
pub async fn debit(
    wallet: web::Data<Wallet>,
    operator: Operator,
    http: HttpRequest,
    path: web::Path<String>,
    ApiJson(request): ApiJson<AdjustmentRequest>,
) -> Result<HttpResponse, ApiError> {
    adjust(&wallet, &operator, &http, &path, Adjustment::Debit, request).await
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
