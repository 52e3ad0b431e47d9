//! `/v1/withdrawals`: quote, submit (idempotent, funds held at once), list and show.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::extract::{ApiJson, ApiQuery, ClientIp, idempotency_key, mark_replayed};
use super::identity::AuthenticatedUser;
use super::pagination::{List, PageQuery, PageRequest};
use super::pin::entered_pin;
use super::responses::{
    AccountNotFound, BindingNotFound, PayloadTooLarge, StoreBusy, StoreUnavailable, Unauthenticated,
    VerificationRequired, WithdrawalNotFound,
};
use crate::domain::binding::{BindingId, DestinationProvider};
use crate::domain::limits::LimitsLeft;
use crate::domain::money::{Amount, Money};
use crate::domain::withdrawal::{ReviewReason, StatusChange, Withdrawal, WithdrawalId, WithdrawalStatus};
use crate::error::{ApiError, ErrorBody};
use crate::rate_limit::{Action, RateLimits};
use crate::services::withdrawal_reads::WithdrawalReads;
use crate::services::withdrawal_submission::Submitted;
use crate::services::withdrawals::WithdrawalRequest;
use crate::services::withdrawals::Withdrawals;

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": "100.00", "binding_id": "bnd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7"}))]
pub struct QuoteRequest {
    /// Yuan as a string, e.g. `"100.50"`.
    pub amount: Amount,
    /// An active binding of the caller's.
    #[schema(pattern = r"^bnd_[0-9A-Fa-f]{32}$", example = "bnd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")]
    pub binding_id: String,
}

/// Where the money goes, masked.
#[derive(Debug, Serialize, ToSchema)]
struct DestinationView {
    binding_id: BindingId,
    /// Whose wallet: `wechat` or `alipay`.
    provider: DestinationProvider,
    #[schema(example = "张*丰")]
    nickname: String,
    #[schema(example = "oAb1****WxYz")]
    openid: String,
}

/// The fee rule a quote was priced by: nothing is charged on what the free
/// quota still covers; above it, `rate` of the rest, at least `minimum`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"rate": "0.001", "minimum": "0.10"}))]
struct FeeRuleView {
    /// A fraction: `"0.001"` is 0.1%.
    #[schema(example = "0.001")]
    rate: String,
    minimum: Money,
}

/// A withdrawal priced: nothing is reserved.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "quote_id": "quo_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "currency": "CNY",
    "amount": "2000.00", "fee": "1.00", "total_debit": "2001.00", "arrives": "2000.00",
    "destination": {"binding_id": "bnd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "provider": "wechat",
        "nickname": "张*丰", "openid": "oAb1****WxYz"},
    "review": "manual", "review_reasons": ["first_to_destination"],
    "expected_settlement_at": "2025-05-01T10:30:00Z", "review_decided_by": "2025-05-01T10:30:00Z",
    "limits_after": {"per_transaction_max": "5000.00", "daily_remaining": "8000.00",
        "monthly_remaining": "48000.00", "daily_count_remaining": 9},
    "fee_free_quota_after": "0.00", "fee_rule": {"rate": "0.001", "minimum": "0.10"},
    "expires_at": "2025-05-01T08:35:00Z"
}))]
struct QuoteView {
    /// Pass as `quote_id` to hold the withdrawal to this price until `expires_at`.
    #[schema(example = "quo_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")]
    quote_id: String,
    /// Always `CNY`.
    #[schema(value_type = String, example = "CNY")]
    currency: &'static str,
    amount: Money,
    fee: Money,
    /// Amount + fee: what leaves the available balance.
    total_debit: Money,
    /// What reaches the WeChat wallet: the amount (the fee is charged on top).
    arrives: Money,
    destination: DestinationView,
    /// `auto`, or `manual` when an operator reviews it first (see `review_reasons`).
    #[schema(value_type = String, example = "auto")]
    review: &'static str,
    review_reasons: Vec<ReviewReason>,
    /// When it is expected to be paid out: after the automatic review's
    /// delay, or by `review_decided_by` when an operator reviews it first.
    expected_settlement_at: DateTime<Utc>,
    /// When an operator reviews it first: by when they promise to decide
    /// (`withdrawals.review_sla_secs`); `null` for an automatic review.
    review_decided_by: Option<DateTime<Utc>>,
    limits_after: LimitsLeft,
    fee_free_quota_after: Money,
    /// How `fee` was worked out, for an app to say so ("rate 0.1%").
    fee_rule: FeeRuleView,
    expires_at: DateTime<Utc>,
}

/// Price a withdrawal
///
/// Runs every check a submission makes except the PIN, and returns the fee,
/// the total debit, what arrives, whether an operator reviews it, and what the
/// limits and free fee quota leave afterwards. Reserves nothing.
#[utoipa::path(
    post,
    path = "/v1/withdrawals/quote",
    operation_id = "quote_withdrawal",
    tag = "withdrawals",
    security(("bearerAuth" = [])),
    request_body = QuoteRequest,
    responses(
        (status = 200, description = "The quote.", body = QuoteView),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a malformed amount (a JSON number, more \
            than two places, zero or less), an unknown field.", body = ErrorBody),
        (status = 422, description = "`NO_ACTIVE_BINDING`, `AMOUNT_BELOW_MINIMUM` (`details.minimum`), \
            `LIMIT_EXCEEDED` (`details.limit`; `details.remaining`, a decimal string, for an amount limit, \
            `details.remaining_count` for `daily_count`), `INSUFFICIENT_BALANCE` (`details.available`, \
            `details.requested`).", body = ErrorBody),
        (status = 423, description = "`ACCOUNT_FROZEN`.", body = ErrorBody),
        Unauthenticated, VerificationRequired, BindingNotFound, PayloadTooLarge, StoreUnavailable,
    )
)]
pub async fn quote(
    withdrawals: web::Data<Withdrawals>,
    user: AuthenticatedUser,
    ApiJson(request): ApiJson<QuoteRequest>,
) -> Result<HttpResponse, ApiError> {
    let binding_id = BindingId::parse(&request.binding_id).ok_or(ApiError::NotFound { resource: "binding" })?;
    let quote = withdrawals.quote_withdrawal(user.account_id(), &binding_id, request.amount).await?;
    let plan = &quote.plan;
    Ok(HttpResponse::Ok().json(QuoteView {
        quote_id: quote.id.clone(),
        currency: "CNY",
        amount: plan.amount.money(),
        fee: plan.fee.fee,
        total_debit: plan.fee.total_debit,
        arrives: plan.amount.money(),
        destination: DestinationView {
            binding_id: plan.binding_id.clone(),
            provider: plan.destination.provider,
            nickname: plan.destination.masked_nickname(),
            openid: plan.destination.masked_openid(),
        },
        review: if plan.review_reasons.is_empty() { "auto" } else { "manual" },
        review_reasons: plan.review_reasons.clone(),
        expected_settlement_at: quote.expected_settlement_at,
        review_decided_by: quote.review_decided_by,
        limits_after: plan.limits_after,
        fee_free_quota_after: plan.fee_free_quota_after,
        fee_rule: FeeRuleView { rate: quote.fees.rate.normalize().to_string(), minimum: quote.fees.min_fee },
        expires_at: quote.expires_at,
    }))
}

/// The body of `POST /v1/withdrawals`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": "100.00", "binding_id": "bnd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "pin": "135790"}))]
pub struct SubmitRequest {
    pub amount: Amount,
    /// An active binding of the caller's.
    #[schema(pattern = r"^bnd_[0-9A-Fa-f]{32}$", example = "bnd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")]
    pub binding_id: String,
    /// The 6-digit payment PIN.
    #[schema(pattern = r"^[0-9]{6}$", example = "135790")]
    pub pin: String,
    /// A quote to hold the price to: refused with `QUOTE_EXPIRED` if its fee no longer holds.
    #[schema(example = "quo_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")]
    pub quote_id: Option<String>,
}

/// `?status=` beside the paging parameters (documented by `PageQuery`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<WithdrawalStatus>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// A withdrawal as its owner (or an operator) sees it. Its owner never sees
/// who made a change (`history[].by`, an operator's account id): see
/// `WithdrawalView::for_owner`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "wd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "status": "processing", "currency": "CNY",
    "amount": "2000.00", "fee": "1.00", "total_debit": "2001.00",
    "destination": {"binding_id": "bnd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "provider": "wechat",
        "nickname": "张*丰", "openid": "oAb1****WxYz"},
    "review": "manual", "review_reasons": ["first_to_destination"], "created_at": "2025-05-01T08:30:00Z",
    "history": [{"status": "in_review", "at": "2025-05-01T08:30:00Z"},
        {"status": "processing", "at": "2025-05-01T09:12:00Z"}],
    "failure_reason": null, "transfer_bill_no": null
}))]
pub struct WithdrawalView {
    #[schema(value_type = String, example = "wd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")]
    id: WithdrawalId,
    status: WithdrawalStatus,
    /// Always `CNY`.
    #[schema(value_type = String, example = "CNY")]
    currency: &'static str,
    amount: Money,
    fee: Money,
    /// Amount + fee: what was held, and leaves when it settles.
    total_debit: Money,
    destination: DestinationView,
    /// `auto`, or `manual` when an operator reviews it first (see `review_reasons`).
    #[schema(value_type = String, example = "manual")]
    review: &'static str,
    review_reasons: Vec<ReviewReason>,
    created_at: DateTime<Utc>,
    /// Every status it has had, oldest first; `by` (the operator who made a
    /// change) only in operators' views.
    history: Vec<StatusChange>,
    /// Why it `failed` (WeChat Pay's `fail_reason`) or was `rejected`.
    failure_reason: Option<String>,
    /// WeChat Pay's number of the transfer, once paid out.
    transfer_bill_no: Option<String>,
}

impl WithdrawalView {
    pub fn of(withdrawal: &Withdrawal) -> WithdrawalView {
        WithdrawalView {
            id: withdrawal.id.clone(),
            status: withdrawal.status,
            currency: "CNY",
            amount: withdrawal.amount.money(),
            fee: withdrawal.fee,
            total_debit: withdrawal.total_debit().unwrap_or(withdrawal.fee),
            destination: DestinationView {
                binding_id: withdrawal.binding_id.clone(),
                provider: withdrawal.destination.provider,
                nickname: withdrawal.destination.masked_nickname(),
                openid: withdrawal.destination.masked_openid(),
            },
            review: if withdrawal.review_reasons.is_empty() { "auto" } else { "manual" },
            review_reasons: withdrawal.review_reasons.clone(),
            created_at: withdrawal.created_at,
            history: withdrawal.history.clone(),
            failure_reason: withdrawal.failure_reason.clone(),
            transfer_bill_no: withdrawal.payout.transfer_bill_no.clone(),
        }
    }

    /// As its owner sees it: without the operators who made its changes.
    pub fn for_owner(withdrawal: &Withdrawal) -> WithdrawalView {
        let mut view = WithdrawalView::of(withdrawal);
        for change in &mut view.history {
            change.by = None;
        }
        view
    }
}

/// A page of withdrawals, newest first.
#[derive(Debug, Serialize, ToSchema)]
struct WithdrawalPage {
    items: Vec<WithdrawalView>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(example = json!(null))]
    next_cursor: Option<String>,
}

/// Withdraw to a bound WeChat wallet
///
/// Checks, in order: the destination, the PIN, the level, the limits, the
/// balance and (with `quote_id`) that the quoted fee still holds. Then holds
/// amount + fee at once and records the withdrawal: `pending` (reviewed
/// automatically) or `in_review` (an operator's). `Idempotency-Key` is
/// required: the same key and request replay the first reply, refusals
/// included, with `Idempotent-Replayed: true`. Rate-limited like PIN entries.
#[utoipa::path(
    post,
    path = "/v1/withdrawals",
    operation_id = "submit_withdrawal",
    tag = "withdrawals",
    security(("bearerAuth" = [])),
    params(("Idempotency-Key" = String, Header, description = "1 to 255 visible ASCII characters, unique per \
        withdrawal (a UUID, say); kept 24 hours per user.", example = "5f0c1d8e-2b7a-4c39-9e61-0a4d3b2c1f00")),
    request_body = SubmitRequest,
    responses(
        (status = 202, description = "Accepted: the funds are held.", body = WithdrawalView,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is a saved reply."))),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): no or a malformed `Idempotency-Key`, a \
            malformed amount or PIN, an unknown field.", body = ErrorBody),
        (status = 409, description = "`IDEMPOTENCY_KEY_REUSED` (the key came with another request), `QUOTE_EXPIRED`.", body = ErrorBody),
        (status = 422, description = "`NO_ACTIVE_BINDING`, `PIN_INCORRECT` (`details.attempts_remaining`), \
            `PIN_NOT_SET`, `AMOUNT_BELOW_MINIMUM` (`details.minimum`), `LIMIT_EXCEEDED` (`details.limit`; \
            `details.remaining`, a decimal string, for an amount limit, `details.remaining_count` for \
            `daily_count`), `INSUFFICIENT_BALANCE` (`details.available`, `details.requested`).", body = ErrorBody),
        (status = 423, description = "`PIN_LOCKED` (`details.locked_until`), `ACCOUNT_FROZEN`.", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED` (`details.retry_after_secs`): too many PIN entries.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        Unauthenticated, VerificationRequired, BindingNotFound, PayloadTooLarge, StoreBusy,
    )
)]
pub async fn submit(
    withdrawals: web::Data<Withdrawals>,
    rate_limits: web::Data<RateLimits>,
    user: AuthenticatedUser,
    ip: ClientIp,
    request: HttpRequest,
    ApiJson(body): ApiJson<SubmitRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&request)?;
    let binding_id = BindingId::parse(&body.binding_id).ok_or(ApiError::NotFound { resource: "binding" })?;
    let pin = entered_pin("pin", &body.pin)?;
    rate_limits.check(Action::PinEntry, user.account_id().as_str(), ip.0)?;
    let submission = WithdrawalRequest { amount: body.amount, binding_id, pin, quote_id: body.quote_id };
    let reply = withdrawals.submit_withdrawal(&user.0, &key, submission).await?;
    let mut response = match reply.outcome {
        Submitted::Held { withdrawal } => HttpResponse::Accepted().json(WithdrawalView::for_owner(&withdrawal)),
        Submitted::Refused { refusal } => ApiError::from(refusal).error_response(),
    };
    if reply.replayed {
        mark_replayed(&mut response);
    }
    Ok(response)
}

/// List the caller's withdrawals
///
/// Newest first, with masked destination and status history.
#[utoipa::path(
    get,
    path = "/v1/withdrawals",
    operation_id = "list_withdrawals",
    tag = "withdrawals",
    security(("bearerAuth" = [])),
    params(("status" = Option<WithdrawalStatus>, Query, description = "Only withdrawals in this status."), PageQuery),
    responses(
        (status = 200, description = "One page of withdrawals.", body = WithdrawalPage),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): an unknown `status`, a `limit` outside \
            1 to 200, a `cursor` this list did not issue, an unknown query parameter.", body = ErrorBody),
        Unauthenticated, AccountNotFound, StoreUnavailable,
    )
)]
pub async fn list(
    reads: web::Data<WithdrawalReads>,
    user: AuthenticatedUser,
    query: ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = PageRequest::<WithdrawalId>::read(query.limit, query.cursor.as_deref(), List::Withdrawals)?;
    let all = reads.withdrawals(user.account_id()).await?;
    let matching = all
        .iter()
        .filter(|w| query.status.is_none_or(|status| w.status == status))
        .filter(|w| request.after.as_ref().is_none_or(|after| w.id < *after));
    let items: Vec<WithdrawalView> = matching.take(request.read_ahead()).map(WithdrawalView::for_owner).collect();
    let (items, next_cursor) = request.page(items, |view| view.id.clone());
    Ok(HttpResponse::Ok().json(WithdrawalPage { items, next_cursor }))
}

/// One withdrawal of the caller's
#[utoipa::path(
    get,
    path = "/v1/withdrawals/{id}",
    operation_id = "show_withdrawal",
    tag = "withdrawals",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The withdrawal's id (`wd_…`).", example = "wd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")),
    responses(
        (status = 200, description = "The withdrawal.", body = WithdrawalView),
        Unauthenticated, WithdrawalNotFound, StoreUnavailable,
    )
)]
pub async fn show(
    reads: web::Data<WithdrawalReads>,
    user: AuthenticatedUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = WithdrawalId::parse(&path).ok_or(ApiError::NotFound { resource: "withdrawal" })?;
    let withdrawal = reads.withdrawal(user.account_id(), &id).await?;
    Ok(HttpResponse::Ok().json(WithdrawalView::for_owner(&withdrawal)))
}
