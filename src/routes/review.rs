//! `/v1/ops`: the withdrawal review queue, approve and reject, and the audit
//! log of every operator action. Operator role only.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use validator::Validate;

use super::extract::ApiJson;
use super::withdrawals::WithdrawalView;
use crate::auth::Operator;
use crate::domain::account::AccountId;
use crate::error::ApiError;
use crate::services::Services;
use crate::services::audit::{AuditRecord, AuditTarget};
use crate::services::review::{AccountContext, ReviewItem};
use crate::services::withdrawal_submission::is_withdrawal_id;

const QUEUE_LIMIT_DEFAULT: usize = 50;
const QUEUE_LIMIT_MAX: usize = 200;
const AUDIT_LIMIT_DEFAULT: usize = 50;
const AUDIT_LIMIT_MAX: usize = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueQuery {
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize)]
struct ReviewItemView {
    withdrawal: WithdrawalView,
    account_id: AccountId,
    /// `manual_review` or `parked_payout`.
    queue: &'static str,
    reasons: Vec<String>,
    waiting_since: DateTime<Utc>,
    account: AccountContext,
}

impl ReviewItemView {
    fn of(item: ReviewItem) -> ReviewItemView {
        ReviewItemView {
            withdrawal: WithdrawalView::of(&item.withdrawal),
            waiting_since: item.withdrawal.created_at,
            account_id: item.account_id,
            queue: item.queue,
            reasons: item.reasons,
            account: item.context,
        }
    }
}

#[derive(Debug, Serialize)]
struct QueueView {
    items: Vec<ReviewItemView>,
}

pub async fn queue(
    services: web::Data<Services>,
    _operator: Operator,
    query: web::Query<QueueQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(QUEUE_LIMIT_DEFAULT).clamp(1, QUEUE_LIMIT_MAX);
    let items = services.review_queue(limit).await?;
    Ok(HttpResponse::Ok().json(QueueView { items: items.into_iter().map(ReviewItemView::of).collect() }))
}

/// The body of a rejection.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct RejectRequest {
    /// Shown to the user as the failure reason.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    pub reason: String,
}

fn withdrawal_id(path: &str) -> Result<&str, ApiError> {
    if is_withdrawal_id(path) { Ok(path) } else { Err(ApiError::NotFound { resource: "withdrawal" }) }
}

async fn audit_target(services: &Services, id: &str) -> AuditTarget {
    let owner = services.withdrawal_owner(id).await.ok();
    AuditTarget::new("withdrawal", id, owner.as_ref())
}

pub async fn approve(
    services: web::Data<Services>,
    operator: Operator,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = withdrawal_id(&path)?;
    let target = audit_target(&services, id).await;
    let approval = services.approve_withdrawal(operator.account_id(), id);
    let withdrawal = services.audited(operator.account_id(), "withdrawal.approve", target, json!({}), approval).await?;
    Ok(HttpResponse::Ok().json(WithdrawalView::of(&withdrawal)))
}

pub async fn reject(
    services: web::Data<Services>,
    operator: Operator,
    path: web::Path<String>,
    ApiJson(request): ApiJson<RejectRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = withdrawal_id(&path)?;
    let target = audit_target(&services, id).await;
    let details = json!({ "reason": request.reason });
    let rejection = services.reject_withdrawal(operator.account_id(), id, &request.reason);
    let withdrawal = services.audited(operator.account_id(), "withdrawal.reject", target, details, rejection).await?;
    Ok(HttpResponse::Ok().json(WithdrawalView::of(&withdrawal)))
}

/// `POST /v1/ops/worker/step`: runs one worker step now, as the background
/// loop would, and tells what it did — so a client (the Postman collection, a
/// test script) can see an approved withdrawal settle without waiting for the
/// poll interval. Due times still come from the clock: it never settles early.
pub async fn worker_step(services: web::Data<Services>, operator: Operator) -> Result<HttpResponse, ApiError> {
    let target = AuditTarget::new("worker", "settlement", None);
    let step = services.settle_due(services.now());
    let report = services.audited(operator.account_id(), "worker.step", target, json!({}), step).await?;
    Ok(HttpResponse::Ok().json(report))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub before: Option<u64>,
}

#[derive(Debug, Serialize)]
struct AuditPage {
    items: Vec<AuditRecord>,
    next_cursor: Option<u64>,
}

pub async fn audit_log(
    services: web::Data<Services>,
    _operator: Operator,
    query: web::Query<AuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(AUDIT_LIMIT_DEFAULT).clamp(1, AUDIT_LIMIT_MAX);
    let items = services.audit_log(query.before, limit).await?;
    let next_cursor = items.last().filter(|last| items.len() == limit && last.seq > 0).map(|last| last.seq);
    Ok(HttpResponse::Ok().json(AuditPage { items, next_cursor }))
}
