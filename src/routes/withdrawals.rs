//! `/v1/withdrawals`: quotes now; submission and history build on them.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::extract::ApiJson;
use crate::auth::AuthenticatedUser;
use crate::domain::binding::BindingId;
use crate::domain::limits::LimitsLeft;
use crate::domain::money::{Amount, Money};
use crate::domain::withdrawal::ReviewReason;
use crate::error::ApiError;
use crate::services::Services;

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
