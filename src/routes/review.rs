//! `/v1/ops`: the withdrawal review queue, approve and reject, and the audit
//! log of every operator action. Operator role only.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::extract::{ApiJson, ApiQuery};
use super::identity::Operator;
use super::ops_search::{account_id_in, one_search_field};
use super::pagination::{List, PageQuery, PageRequest};
use super::responses::{
    OperatorOnly, PayloadTooLarge, StoreBusy, StoreUnavailable, Unauthenticated, WithdrawalNotFound,
};
use super::withdrawals::WithdrawalView;
use crate::domain::account::{AccountId, VerificationLevel};
use crate::domain::credentials::Login;
use crate::domain::money::Money;
use crate::domain::review_queue::{QueueCursor, QueueFilter, QueueOrder, WaitReason};
use crate::domain::withdrawal::{RejectionReason, Withdrawal, WithdrawalId};
use crate::error::{ApiError, ErrorBody};
use crate::services::audit::{AuditLog, AuditRecord};
use crate::services::review::Review;
use crate::services::review_queue::{AccountContext, QueueQuery, QueueSearch, ReviewItem};
use crate::services::work::WorkReport;
use crate::services::worker_step::WorkerStep;

/// A withdrawal waiting for an operator, with what is needed to judge it.
#[derive(Debug, Serialize, ToSchema)]
struct ReviewItemView {
    withdrawal: WithdrawalView,
    account_id: AccountId,
    /// `manual_review` or `parked_payout`.
    #[schema(value_type = String, example = "manual_review")]
    queue: &'static str,
    /// The review reasons, or `payout_attempts_exhausted`.
    #[schema(example = json!(["first_to_destination"]))]
    reasons: Vec<&'static str>,
    #[schema(example = "2025-05-01T08:30:00Z")]
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
            reasons: item.reasons.iter().map(|reason| reason.code()).collect(),
            account: item.context,
        }
    }
}

/// A page of the queue, in the order asked for.
#[derive(Debug, Serialize, ToSchema)]
struct QueueView {
    items: Vec<ReviewItemView>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(example = json!(null))]
    next_cursor: Option<String>,
    /// How many waiting withdrawals match the search and the filters, on every page together.
    #[schema(example = 1)]
    total: usize,
}

/// `?phone=|account_id=|withdrawal_id=`, the filters and `order`, beside the
/// paging parameters (documented by `PageQuery`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueParams {
    pub phone: Option<String>,
    pub account_id: Option<String>,
    pub withdrawal_id: Option<String>,
    pub reason: Option<WaitReason>,
    pub level: Option<VerificationLevel>,
    pub amount_min: Option<Money>,
    pub amount_max: Option<Money>,
    pub order: Option<QueueOrder>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl QueueParams {
    /// The query, each parameter checked as the field it is; at most one of
    /// `phone`, `account_id` and `withdrawal_id`.
    fn query(&self) -> Result<QueueQuery, ApiError> {
        let given = [("phone", &self.phone), ("account_id", &self.account_id), ("withdrawal_id", &self.withdrawal_id)];
        let search = match one_search_field(given)? {
            None => QueueSearch::All,
            Some(("phone", phone)) => {
                QueueSearch::Login(Login::phone(phone).map_err(|error| ApiError::validation("phone", error))?)
            }
            Some(("account_id", id)) => QueueSearch::Account(account_id_in("account_id", id)?),
            Some((field, id)) => QueueSearch::Withdrawal(
                WithdrawalId::parse(id).ok_or_else(|| ApiError::validation(field, "is not a withdrawal id (wd_…)"))?,
            ),
        };
        let filter = QueueFilter {
            reason: self.reason,
            level: self.level,
            amount_min: self.amount_min,
            amount_max: self.amount_max,
        };
        let filter = filter.checked().map_err(|error| ApiError::validation("amount_max", error))?;
        Ok(QueueQuery { search, filter, order: self.order.unwrap_or_default() })
    }
}

/// The review queue (operator)
///
/// Operator role only. Withdrawals waiting for an operator (manual reviews and
/// parked payouts) with the reasons and the account's context: its login
/// (masked), level, balances, binding age, recent withdrawals. Longest
/// waiting first unless `order` says otherwise; narrowed to one account (by
/// `phone` or `account_id`) or one withdrawal (`withdrawal_id`), and filtered
/// by `reason`, `level` and an amount range. `total` counts every match, so a
/// client pages through the whole queue with `next_cursor` (kept with the
/// `order` it was issued for).
#[utoipa::path(
    get,
    path = "/v1/ops/review-queue",
    operation_id = "review_queue",
    tag = "ops",
    security(("bearerAuth" = [])),
    params(
        ("phone" = Option<String>, Query, description = "Only this account's, by its 11-digit mainland mobile number, exactly.", example = "13800000001"),
        ("account_id" = Option<String>, Query, description = "Only this account's.", example = "acc_demo_alice"),
        ("withdrawal_id" = Option<String>, Query, description = "Only this withdrawal.", example = "wd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7"),
        ("reason" = Option<WaitReason>, Query, description = "Only those waiting (among other reasons) for this one."),
        ("level" = Option<VerificationLevel>, Query, description = "Only those of accounts at this verification level now."),
        ("amount_min" = Option<String>, Query, description = "Only amounts of at least this many yuan (at most 2 places).", example = "100.00"),
        ("amount_max" = Option<String>, Query, description = "Only amounts of at most this many yuan (at most 2 places).", example = "5000.00"),
        ("order" = Option<QueueOrder>, Query, description = "`oldest` (longest waiting first, the default), `newest`, \
            `largest` or `smallest` amount first (equal amounts longest waiting first)."),
        PageQuery,
    ),
    responses(
        (status = 200, description = "One page of the queue, and how many match in all.", body = QueueView),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a malformed `phone`, `account_id` or \
            `withdrawal_id`, more than one of them, an unknown `reason`, `level` or `order`, a malformed amount, \
            `amount_min` above `amount_max`, a `limit` outside 1 to 200, a `cursor` this list (in this `order`) did \
            not issue, an unknown query parameter.", body = ErrorBody),
        Unauthenticated, OperatorOnly, StoreUnavailable,
    )
)]
pub async fn queue(
    review: web::Data<Review>,
    _operator: Operator,
    params: ApiQuery<QueueParams>,
) -> Result<HttpResponse, ApiError> {
    let request = PageRequest::<QueueCursor>::read(params.limit, params.cursor.as_deref(), List::ReviewQueue)?;
    let query = params.query()?;
    if request.after.as_ref().is_some_and(|after| after.order != query.order) {
        return Err(ApiError::validation("cursor", "was issued for another order; pass it back with its own"));
    }
    let page = review.review_queue(&query, request.after.as_ref(), request.read_ahead()).await?;
    let order = query.order;
    let (items, next_cursor) = request.page(page.items, |item| QueueCursor { order, place: item.place() });
    let items = items.into_iter().map(ReviewItemView::of).collect();
    Ok(HttpResponse::Ok().json(QueueView { items, next_cursor, total: page.total }))
}

/// The body of a rejection: a reason from the documented list, which the
/// user sees as the withdrawal's `failure_reason`, and a note for operators.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason_code": "DESTINATION_MISMATCH", "note": "payee name differs from the ID on file"}))]
pub struct RejectRequest {
    /// Why, from the list: `SUSPECTED_FRAUD`, `DESTINATION_MISMATCH`,
    /// `IDENTITY_UNVERIFIED`, `RISK_POLICY`, `USER_REQUESTED`, `OTHER`.
    pub reason_code: Option<RejectionReason>,
    /// The operator's own words, kept for operators (the review queue, the
    /// audit log), never shown to the user.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200, example = "payee name differs from the ID on file")]
    pub note: Option<String>,
    /// Deprecated: free text, taken as the `note` of an `OTHER` rejection.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200, deprecated, example = json!(null))]
    pub reason: Option<String>,
}

impl RejectRequest {
    /// The reason and the note, from either form of the body.
    fn decision(&self) -> Result<(RejectionReason, Option<&str>), ApiError> {
        if self.reason_code.is_some_and(|code| !code.is_operators()) {
            return Err(ApiError::validation(
                "reason_code",
                "REVIEW_TIMED_OUT is given by the time-out, not by operators",
            ));
        }
        coded_reason(self.reason_code, self.note.as_deref(), self.reason.as_deref(), RejectionReason::Other)
    }
}

/// A rejection's reason code and the operator's note, from a body that gives
/// `reason_code` (and maybe `note`), or only the old free-text `reason`,
/// which is taken as the note of an `other` rejection.
pub(super) fn coded_reason<'a, R: Copy>(
    code: Option<R>,
    note: Option<&'a str>,
    legacy: Option<&'a str>,
    other: R,
) -> Result<(R, Option<&'a str>), ApiError> {
    match (code, note, legacy) {
        (_, Some(_), Some(_)) => Err(ApiError::validation("reason", "give note, not reason (its old name)")),
        (Some(code), note, legacy) => Ok((code, note.or(legacy))),
        (None, None, Some(legacy)) => Ok((other, Some(legacy))),
        (None, _, _) => Err(ApiError::validation("reason_code", "say why: a reason code from the list")),
    }
}

/// A withdrawal as an operator sees it: the user's view and the operator's note.
#[derive(Debug, Serialize, ToSchema)]
pub struct OperatorWithdrawalView {
    #[serde(flatten)]
    withdrawal: WithdrawalView,
    /// The note given with a rejection; only operators see it.
    #[schema(example = json!(null))]
    review_note: Option<String>,
}

impl OperatorWithdrawalView {
    pub fn of(withdrawal: &Withdrawal) -> OperatorWithdrawalView {
        OperatorWithdrawalView {
            withdrawal: WithdrawalView::of(withdrawal),
            review_note: withdrawal.review_note.clone(),
        }
    }
}

fn withdrawal_id(path: &str) -> Result<WithdrawalId, ApiError> {
    WithdrawalId::parse(path).ok_or(ApiError::NotFound { resource: "withdrawal" })
}

/// Approve a withdrawal (operator)
///
/// Operator role only. An `in_review` withdrawal is paid out next; a parked
/// payout is sent round again. Recorded in the audit log.
#[utoipa::path(
    post,
    path = "/v1/ops/withdrawals/{id}/approve",
    operation_id = "approve_withdrawal",
    tag = "ops",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The withdrawal's id (`wd_…`); anything else is 404.", example = "wd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")),
    responses(
        (status = 200, description = "The withdrawal.", body = WithdrawalView),
        (status = 409, description = "`WITHDRAWAL_ALREADY_DECIDED` (`details.status`): it is not waiting for an operator.", body = ErrorBody),
        Unauthenticated, OperatorOnly, WithdrawalNotFound, StoreBusy,
    )
)]
pub async fn approve(
    review: web::Data<Review>,
    operator: Operator,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = withdrawal_id(&path)?;
    let withdrawal = review.approve_withdrawal(operator.account_id(), &id).await?;
    Ok(HttpResponse::Ok().json(WithdrawalView::of(&withdrawal)))
}

/// Reject a withdrawal (operator)
///
/// Operator role only. Say why with a `reason_code` from the list (the user
/// sees it as `failure_reason`) and add a `note` for operators. The hold is
/// released in full (amount and fee) and the limits' share given back. A parked payout is first looked up at WeChat Pay:
/// if it was paid after all, the withdrawal settles and this is refused.
/// Recorded in the audit log.
#[utoipa::path(
    post,
    path = "/v1/ops/withdrawals/{id}/reject",
    operation_id = "reject_withdrawal",
    tag = "ops",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The withdrawal's id (`wd_…`); anything else is 404.", example = "wd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")),
    request_body = RejectRequest,
    responses(
        (status = 200, description = "The withdrawal, now `rejected` (`failure_reason` = the reason code), with the note.", body = OperatorWithdrawalView),
        (status = 400, description = "`VALIDATION_FAILED`: no `reason_code` (nor the old `reason`), an unknown code, \
            a `note` outside 1–200 characters, an unknown field.", body = ErrorBody),
        (status = 409, description = "`WITHDRAWAL_ALREADY_DECIDED` (`details.status`), `PAYOUT_ALREADY_MADE` \
            (`details.transfer_bill_no`).", body = ErrorBody),
        (status = 503, description = "`WECHAT_UNAVAILABLE` (the payout could not be looked up), `STORE_UNAVAILABLE`, \
            `STORE_BUSY`; retry after `Retry-After` seconds.", body = ErrorBody),
        Unauthenticated, OperatorOnly, WithdrawalNotFound, PayloadTooLarge,
    )
)]
pub async fn reject(
    review: web::Data<Review>,
    operator: Operator,
    path: web::Path<String>,
    ApiJson(request): ApiJson<RejectRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = withdrawal_id(&path)?;
    let (reason, note) = request.decision()?;
    let withdrawal = review.reject_withdrawal(operator.account_id(), &id, reason, note).await?;
    Ok(HttpResponse::Ok().json(OperatorWithdrawalView::of(&withdrawal)))
}

/// Run one worker step now (operator)
///
/// Operator role only. Runs one step of the settlement worker as the
/// background loop would, and tells what it did, so a client (the Postman
/// collection, a test script) can see an approved withdrawal settle without
/// waiting for the poll interval. Due times still come from the clock: it
/// never settles early. Recorded in the audit log.
#[utoipa::path(
    post,
    path = "/v1/ops/worker/step",
    tag = "ops",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "What the step did.", body = WorkReport),
        Unauthenticated, OperatorOnly, StoreBusy,
    )
)]
pub async fn worker_step(step: web::Data<WorkerStep>, operator: Operator) -> Result<HttpResponse, ApiError> {
    let report = step.run_for(operator.account_id()).await?;
    Ok(HttpResponse::Ok().json(report))
}

/// A page of the audit log, newest first.
#[derive(Debug, Serialize, ToSchema)]
struct AuditPage {
    items: Vec<AuditRecord>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(example = json!(null))]
    next_cursor: Option<String>,
}

/// The audit log (operator)
///
/// Operator role only. Every operator action (credits, debits, identity and
/// withdrawal decisions, worker steps), refusals included, newest first.
#[utoipa::path(
    get,
    path = "/v1/ops/audit-log",
    tag = "ops",
    security(("bearerAuth" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of the log.", body = AuditPage),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a `limit` outside 1 to 200, a \
            `cursor` this list did not issue, an unknown query parameter.", body = ErrorBody),
        Unauthenticated, OperatorOnly, StoreUnavailable,
    )
)]
pub async fn audit_log(
    audit: web::Data<AuditLog>,
    _operator: Operator,
    query: ApiQuery<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = query.request::<u64>(List::AuditLog)?;
    let items = audit.audit_log(request.after, request.read_ahead()).await?;
    let (items, next_cursor) = request.page(items, |record| record.seq);
    Ok(HttpResponse::Ok().json(AuditPage { items, next_cursor }))
}
