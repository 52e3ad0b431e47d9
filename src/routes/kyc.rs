//! `/v1/kyc` and `/v1/ops/kyc`: identity verification, as the user submits
//! it and as an operator finds and decides it. Names and ID numbers leave masked.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::extract::{ApiJson, ApiQuery};
use super::identity::{AuthenticatedUser, Operator};
use super::pagination::{List, PageQuery};
use super::responses::{
    AccountNotFound, KycAlreadyDecided, KycRequestNotFound, OperatorOnly, PayloadTooLarge, StoreBusy, StoreUnavailable,
    Unauthenticated,
};
use super::review::coded_reason;
use super::views::AccountSummaryView;
use crate::domain::account::VerificationLevel;
use crate::domain::identity::{IdentityError, RealName, ResidentId};
use crate::domain::kyc::{KycDecision, KycRejectionReason, KycRequest, KycStatus, KycSubmission};
use crate::error::{ApiError, ErrorBody};
use crate::services::kyc::{Kyc, PendingCheck};
use crate::store::SchedulePosition;

/// The outcome the simulated face check should have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(example = "pass")]
pub enum FaceCheck {
    Pass,
    Fail,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"level": "L1", "real_name": "张三", "id_number": "11010519491231002X"}))]
pub struct KycSubmitRequest {
    /// `L1` (real name + resident ID) or `L2` (also a face check); `L0` is refused.
    pub level: VerificationLevel,
    /// 2 to 30 characters: letters of any script, spaces, `·` and `.`.
    #[schema(min_length = 2, example = "张三")]
    pub real_name: String,
    /// 18-character mainland resident ID number: region, birth date, sequence
    /// and an ISO 7064 MOD 11-2 check character (`X` for 10).
    #[schema(pattern = r"^[0-9]{17}[0-9Xx]$", example = "11010519491231002X")]
    pub id_number: String,
    /// The simulated face check's outcome (L2 only): `pass` or `fail`.
    pub face_check: Option<FaceCheck>,
}

/// The body of a rejection: a reason from the documented list, which the
/// user is told (in their app's words), and a note for operators.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason_code": "NAME_MISMATCH", "note": "name on the ID reads 张三丰"}))]
pub struct KycDecisionRequest {
    /// Why, from the list: `NAME_MISMATCH`, `ID_NUMBER_UNVERIFIABLE`,
    /// `FACE_MISMATCH`, `UNDERAGE`, `SUSPECTED_FRAUD`, `OTHER`.
    pub reason_code: Option<KycRejectionReason>,
    /// The operator's own words, kept for operators (this answer, the audit
    /// log), never shown to the user.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200, example = "name on the ID reads 张三丰")]
    pub note: Option<String>,
    /// Deprecated: free text, taken as the `note` of an `OTHER` rejection.
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    #[schema(min_length = 1, max_length = 200, deprecated, example = json!(null))]
    pub reason: Option<String>,
}

/// An identity verification request; name and ID number masked.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "kyc_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "level": "L1", "status": "pending", "real_name": "*三",
    "id_number": "110105********002X", "submitted_at": "2025-05-01T08:00:00Z",
    "auto_decide_at": "2025-05-01T08:00:05Z", "decided_at": null, "decided_by": null, "reason": null
}))]
pub struct KycRequestView {
    #[schema(example = "kyc_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")]
    id: String,
    level: VerificationLevel,
    status: KycStatus,
    #[schema(example = "*三")]
    real_name: String,
    #[schema(example = "110105********002X")]
    id_number: String,
    submitted_at: DateTime<Utc>,
    /// When a pending request counts as approved if no operator decided it; null: operators only.
    auto_decide_at: Option<DateTime<Utc>>,
    decided_at: Option<DateTime<Utc>>,
    /// The operator's account id, or `automatic`; its owner reads `operator`
    /// for an operator's decision, never whose.
    decided_by: Option<String>,
    /// A rejection's reason, a code from the list (see the reject
    /// operation); apps show their own words for it. Null unless rejected.
    reason: Option<KycRejectionReason>,
    /// The operator's note on a rejection: in operators' views only, never
    /// in its owner's.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = json!(null))]
    note: Option<String>,
}

impl KycRequestView {
    pub fn of(request: &KycRequest, now: DateTime<Utc>) -> KycRequestView {
        let status = request.status_at(now);
        let auto_approved = status == KycStatus::Approved && request.status == KycStatus::Pending;
        KycRequestView {
            id: request.id.clone(),
            level: request.level,
            status,
            real_name: request.real_name.masked(),
            id_number: request.id_number.masked(),
            submitted_at: request.submitted_at,
            auto_decide_at: request.auto_decide_at,
            decided_at: if auto_approved { request.auto_decide_at } else { request.decided_at },
            decided_by: if auto_approved { Some("automatic".into()) } else { request.decided_by.clone() },
            reason: request.rejection_reason(),
            note: request.note.clone(),
        }
    }

    /// As its owner sees it: an operator's decision without the operator's
    /// id or note.
    pub fn for_owner(request: &KycRequest, now: DateTime<Utc>) -> KycRequestView {
        let mut view = KycRequestView::of(request, now);
        if view.decided_by.as_deref().is_some_and(|by| by != "automatic") {
            view.decided_by = Some("operator".into());
        }
        view.note = None;
        view
    }
}

/// The level in force, the request that verified it, one still waiting, and
/// the newest one if it was rejected.
#[derive(Debug, Serialize, ToSchema)]
struct KycOverviewView {
    level: VerificationLevel,
    verified: Option<KycRequestView>,
    pending: Option<KycRequestView>,
    /// The newest request, when it was rejected and nothing was asked
    /// since: its `reason` says why (a code); null otherwise.
    rejected: Option<KycRequestView>,
}

fn identity_error(field: &str, error: IdentityError) -> ApiError {
    ApiError::validation(field, error)
}

/// Ask for identity verification
///
/// `L1` needs a real name and an 18-character resident ID number (checksum and
/// birth date checked); `L2` also a simulated face check. One account per ID
/// number. Decided by an operator, or approved automatically after
/// `kyc.auto_approve_after_secs` when that is on.
#[utoipa::path(
    post,
    path = "/v1/kyc",
    operation_id = "submit_kyc",
    tag = "kyc",
    security(("bearerAuth" = [])),
    request_body = KycSubmitRequest,
    responses(
        (status = 202, description = "The pending request.", body = KycRequestView),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): `level` L0, a malformed name or ID \
            number (length, checksum, birth date, region), an unknown field.", body = ErrorBody),
        (status = 409, description = "`ID_NUMBER_TAKEN`; `KYC_CONFLICT` (`details.reason`: `already_verified`, \
            `already_pending`, `identity_mismatch`).", body = ErrorBody),
        (status = 422, description = "`FACE_CHECK_FAILED`.", body = ErrorBody),
        Unauthenticated, AccountNotFound, PayloadTooLarge, StoreBusy,
    )
)]
pub async fn submit(
    kyc: web::Data<Kyc>,
    user: AuthenticatedUser,
    ApiJson(request): ApiJson<KycSubmitRequest>,
) -> Result<HttpResponse, ApiError> {
    if request.level == VerificationLevel::L0 {
        return Err(ApiError::validation("level", "must be L1 or L2"));
    }
    let today: NaiveDate = kyc.partitions.now().date_naive();
    let submission = KycSubmission {
        level: request.level,
        real_name: RealName::parse(&request.real_name).map_err(|e| identity_error("real_name", e))?,
        id_number: ResidentId::parse(&request.id_number, today).map_err(|e| identity_error("id_number", e))?,
        face_check_passed: request.face_check.map(|check| check == FaceCheck::Pass),
    };
    let created = kyc.submit_kyc(user.account_id(), submission).await?;
    Ok(HttpResponse::Accepted().json(KycRequestView::of(&created, kyc.partitions.now())))
}

/// The caller's identity verification
#[utoipa::path(
    get,
    path = "/v1/kyc",
    operation_id = "kyc_overview",
    tag = "kyc",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Level, verified and pending requests.", body = KycOverviewView),
        Unauthenticated, AccountNotFound, StoreUnavailable,
    )
)]
pub async fn overview(kyc: web::Data<Kyc>, user: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    let overview = kyc.kyc_status(user.account_id()).await?;
    Ok(HttpResponse::Ok().json(KycOverviewView {
        level: overview.level,
        verified: overview.verified.as_ref().map(|r| KycRequestView::for_owner(r, overview.now)),
        pending: overview.pending.as_ref().map(|r| KycRequestView::for_owner(r, overview.now)),
        rejected: overview.rejected.as_ref().map(|r| KycRequestView::for_owner(r, overview.now)),
    }))
}

async fn decide(
    kyc: &Kyc,
    operator: &Operator,
    request_id: &str,
    decision: KycDecision,
) -> Result<HttpResponse, ApiError> {
    let decided = kyc.decide_kyc(operator.account_id(), request_id, decision).await?;
    Ok(HttpResponse::Ok().json(KycRequestView::of(&decided, kyc.partitions.now())))
}

/// Approve an identity verification (operator)
///
/// Operator role only. The account's level rises at once. Recorded in the audit log.
#[utoipa::path(
    post,
    path = "/v1/ops/kyc/{id}/approve",
    operation_id = "approve_kyc",
    tag = "ops",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The request's id (`kyc_…`).", example = "kyc_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")),
    responses(
        (status = 200, description = "The approved request.", body = KycRequestView),
        Unauthenticated, OperatorOnly, KycRequestNotFound, KycAlreadyDecided, StoreBusy,
    )
)]
pub async fn approve(
    kyc: web::Data<Kyc>,
    operator: Operator,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    decide(&kyc, &operator, &path, KycDecision::Approve).await
}

/// Reject an identity verification (operator)
///
/// Operator role only. Say why with a `reason_code` from the list (the user
/// is told the reason by its code, in their app's words); a `note` in the
/// operator's own words stays with operators (this answer, the audit log).
/// The ID number is freed for another try. Recorded in the audit log.
#[utoipa::path(
    post,
    path = "/v1/ops/kyc/{id}/reject",
    operation_id = "reject_kyc",
    tag = "ops",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The request's id (`kyc_…`).", example = "kyc_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")),
    request_body = KycDecisionRequest,
    responses(
        (status = 200, description = "The rejected request, with the operator's `note`.", body = KycRequestView),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): no `reason_code` (nor the old \
            `reason`), an unknown code, a `note` (or `reason`) empty or over 200 characters, both `note` and \
            `reason`, an unknown field.", body = ErrorBody), Unauthenticated, OperatorOnly, KycRequestNotFound, KycAlreadyDecided, PayloadTooLarge,
        StoreBusy,
    )
)]
pub async fn reject(
    kyc: web::Data<Kyc>,
    operator: Operator,
    path: web::Path<String>,
    ApiJson(request): ApiJson<KycDecisionRequest>,
) -> Result<HttpResponse, ApiError> {
    let (reason, note) = coded_reason(
        request.reason_code,
        request.note.as_deref(),
        request.reason.as_deref(),
        KycRejectionReason::Other,
    )?;
    let decision = KycDecision::Reject { reason, note: note.map(str::to_owned) };
    decide(&kyc, &operator, &path, decision).await
}

/// An identity check waiting for an operator, with whose it is.
#[derive(Debug, Serialize, ToSchema)]
struct PendingKycView {
    request: KycRequestView,
    account: AccountSummaryView,
}

/// A page of waiting identity checks, oldest first.
#[derive(Debug, Serialize, ToSchema)]
struct PendingKycPage {
    items: Vec<PendingKycView>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(example = json!(null))]
    next_cursor: Option<String>,
}

/// Identity checks waiting for an operator (operator)
///
/// Operator role only. Every pending identity verification request, oldest
/// first, with its account in brief: what to approve or reject at
/// `POST /v1/ops/kyc/{id}/approve` or `/reject`. A request the clock
/// approved (`kyc.auto_approve`) is no longer listed.
#[utoipa::path(
    get,
    path = "/v1/ops/kyc/pending",
    operation_id = "pending_kyc",
    tag = "ops",
    security(("bearerAuth" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of waiting requests.", body = PendingKycPage),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a `limit` outside 1 to 200, a \
            `cursor` this list did not issue, an unknown query parameter.", body = ErrorBody),
        Unauthenticated, OperatorOnly, StoreUnavailable,
    )
)]
pub async fn pending(
    kyc: web::Data<Kyc>,
    _operator: Operator,
    query: ApiQuery<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = query.request::<SchedulePosition>(List::PendingKyc)?;
    let found = kyc.pending_checks(request.after.as_ref(), request.read_ahead()).await?;
    let (items, next_cursor) = request.page_scanned(found.items, |(position, _)| position.clone(), found.stopped_at);
    let now = kyc.partitions.now();
    let view = |(_, check): (SchedulePosition, PendingCheck)| PendingKycView {
        request: KycRequestView::of(&check.request, now),
        account: AccountSummaryView::of(&check.account, now),
    };
    Ok(HttpResponse::Ok().json(PendingKycPage { items: items.into_iter().map(view).collect(), next_cursor }))
}
