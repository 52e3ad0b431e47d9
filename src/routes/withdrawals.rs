//! `/v1/withdrawals`: quote, submit (idempotent, funds held at once), list and show.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::extract::{ApiJson, ClientIp};
use super::pin::entered_pin;
use crate::auth::AuthenticatedUser;
use crate::auth::one_time_codes::keyed_digest;
use crate::domain::binding::BindingId;
use crate::domain::limits::LimitsLeft;
use crate::domain::money::{Amount, Money};
use crate::domain::withdrawal::{ReviewReason, StatusChange, Withdrawal, WithdrawalStatus};
use crate::error::ApiError;
use crate::rate_limit::Action;
use crate::services::Services;
use crate::services::withdrawal_submission::WithdrawalRequest;

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct QuoteRequest {
    /// Yuan as a string, e.g. `"100.50"`.
    pub amount: Amount,
    /// An active binding of the caller's.
    pub binding_id: String,
}

#[derive(Debug, Serialize)]
struct DestinationView {
    binding_id: BindingId,
    provider: &'static str,
    nickname: String,
    openid: String,
}

#[derive(Debug, Serialize)]
struct QuoteView {
    quote_id: String,
    currency: &'static str,
    amount: Money,
    fee: Money,
    total_debit: Money,
    /// What reaches the WeChat wallet: the amount (the fee is charged on top).
    arrives: Money,
    destination: DestinationView,
    review: &'static str,
    review_reasons: Vec<ReviewReason>,
    /// `null` while an operator has to review it first.
    expected_settlement_at: Option<DateTime<Utc>>,
    limits_after: LimitsLeft,
    fee_free_quota_after: Money,
    expires_at: DateTime<Utc>,
}

pub async fn quote(
    services: web::Data<Services>,
    user: AuthenticatedUser,
    ApiJson(request): ApiJson<QuoteRequest>,
) -> Result<HttpResponse, ApiError> {
    let binding_id = BindingId::parse(&request.binding_id).ok_or(ApiError::NotFound { resource: "binding" })?;
    let quote = services.quote_withdrawal(user.account_id(), &binding_id, request.amount).await?;
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
            provider: "wechat",
            nickname: plan.destination.masked_nickname(),
            openid: plan.destination.masked_openid(),
        },
        review: if plan.review_reasons.is_empty() { "auto" } else { "manual" },
        review_reasons: plan.review_reasons.clone(),
        expected_settlement_at: quote.expected_settlement_at,
        limits_after: plan.limits_after,
        fee_free_quota_after: plan.fee_free_quota_after,
        expires_at: quote.expires_at,
    }))
}

/// The body of `POST /v1/withdrawals`.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct SubmitRequest {
    pub amount: Amount,
    pub binding_id: String,
    /// The 6-digit payment PIN.
    pub pin: String,
    /// A quote to hold the price to: refused with `QUOTE_EXPIRED` if its fee no longer holds.
    pub quote_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub status: Option<WithdrawalStatus>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct WithdrawalView {
    id: String,
    status: WithdrawalStatus,
    currency: &'static str,
    amount: Money,
    fee: Money,
    total_debit: Money,
    destination: DestinationView,
    review: &'static str,
    review_reasons: Vec<ReviewReason>,
    created_at: DateTime<Utc>,
    history: Vec<StatusChange>,
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
                provider: "wechat",
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
}

#[derive(Debug, Serialize)]
struct WithdrawalPage {
    items: Vec<WithdrawalView>,
    next_cursor: Option<String>,
}

const IDEMPOTENCY_KEY_BYTES_MAX: usize = 255;
const LIST_LIMIT_DEFAULT: usize = 20;
const LIST_LIMIT_MAX: usize = 100;

fn idempotency_key(request: &HttpRequest) -> Result<String, ApiError> {
    let refused = || {
        ApiError::validation("Idempotency-Key", "send a unique Idempotency-Key header (1 to 255 visible characters)")
    };
    let value = request.headers().get("idempotency-key").ok_or_else(refused)?.to_str().map_err(|_| refused())?;
    let valid =
        !value.is_empty() && value.len() <= IDEMPOTENCY_KEY_BYTES_MAX && value.bytes().all(|b| b.is_ascii_graphic());
    if valid { Ok(value.to_owned()) } else { Err(refused()) }
}

pub async fn submit(
    services: web::Data<Services>,
    user: AuthenticatedUser,
    ip: ClientIp,
    request: HttpRequest,
    ApiJson(body): ApiJson<SubmitRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&request)?;
    let binding_id = BindingId::parse(&body.binding_id).ok_or(ApiError::NotFound { resource: "binding" })?;
    let pin = entered_pin("pin", &body.pin)?;
    services.rate_limits.check(Action::PinEntry, user.account_id().as_str(), ip.0)?;
    let request_text =
        format!("{}|{}|{}|{}", body.amount, binding_id, body.pin, body.quote_id.as_deref().unwrap_or(""));
    let fingerprint = keyed_digest(&services.sms.pepper, &["withdrawal_request"], &request_text);
    let submission = WithdrawalRequest { amount: body.amount, binding_id, pin, quote_id: body.quote_id };
    let view = |withdrawal: &Withdrawal| serde_json::to_value(WithdrawalView::of(withdrawal)).unwrap_or_default();
    let reply = services.submit_withdrawal(user.account_id(), &key, &fingerprint, submission, view).await?;
    let status = StatusCode::from_u16(reply.status).map_err(ApiError::internal)?;
    let mut response = HttpResponse::build(status);
    if reply.replayed {
        response.insert_header(("Idempotent-Replayed", "true"));
    }
    Ok(response.json(reply.body))
}

pub async fn list(
    services: web::Data<Services>,
    user: AuthenticatedUser,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(LIST_LIMIT_DEFAULT).clamp(1, LIST_LIMIT_MAX);
    let all = services.withdrawals(user.account_id()).await?;
    let matching = all
        .iter()
        .filter(|w| query.status.is_none_or(|status| w.status == status))
        .filter(|w| query.cursor.as_deref().is_none_or(|cursor| w.id.as_str() < cursor));
    let items: Vec<WithdrawalView> = matching.take(limit + 1).map(WithdrawalView::of).collect();
    let next_cursor = (items.len() > limit).then(|| items[limit - 1].id.clone());
    Ok(HttpResponse::Ok().json(WithdrawalPage { items: items.into_iter().take(limit).collect(), next_cursor }))
}

pub async fn show(
    services: web::Data<Services>,
    user: AuthenticatedUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let withdrawal = services.withdrawal(user.account_id(), &path).await?;
    Ok(HttpResponse::Ok().json(WithdrawalView::of(&withdrawal)))
}
