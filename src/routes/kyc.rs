//! `/v1/kyc` and `/v1/ops/kyc`: identity verification, as the user submits
//! it and as an operator decides it. Names and ID numbers leave masked.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use validator::Validate;

use super::extract::ApiJson;
use crate::auth::{AuthenticatedUser, Operator};
use crate::domain::account::VerificationLevel;
use crate::domain::identity::{IdentityError, RealName, ResidentId};
use crate::domain::kyc::{KycRequest, KycStatus, KycSubmission};
use crate::error::ApiError;
use crate::services::Services;
use crate::services::audit::AuditTarget;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FaceCheck {
    Pass,
    Fail,
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct KycSubmitRequest {
    /// `L1` (real name + resident ID) or `L2` (also a face check).
    pub level: VerificationLevel,
    pub real_name: String,
    /// 18-character mainland resident ID number.
    pub id_number: String,
    /// The simulated face check's outcome (L2 only): `pass` or `fail`.
    pub face_check: Option<FaceCheck>,
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct KycDecisionRequest {
    #[validate(length(min = 1, max = 200, message = "must be 1 to 200 characters"))]
    pub reason: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct KycRequestView {
    id: String,
    level: VerificationLevel,
    status: KycStatus,
    real_name: String,
    id_number: String,
    submitted_at: DateTime<Utc>,
    auto_decide_at: Option<DateTime<Utc>>,
    decided_at: Option<DateTime<Utc>>,
    decided_by: Option<String>,
    reason: Option<String>,
}

impl KycRequestView {
    fn of(request: &KycRequest, now: DateTime<Utc>) -> KycRequestView {
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
            reason: request.reason.clone(),
        }
    }
}

#[derive(Debug, Serialize)]
struct KycOverviewView {
    level: VerificationLevel,
    verified: Option<KycRequestView>,
    pending: Option<KycRequestView>,
}

fn identity_error(field: &str, error: IdentityError) -> ApiError {
    ApiError::validation(field, error)
}

pub async fn submit(
    services: web::Data<Services>,
    user: AuthenticatedUser,
    ApiJson(request): ApiJson<KycSubmitRequest>,
) -> Result<HttpResponse, ApiError> {
    if request.level == VerificationLevel::L0 {
        return Err(ApiError::validation("level", "must be L1 or L2"));
    }
    let today: NaiveDate = services.now().date_naive();
    let submission = KycSubmission {
        level: request.level,
        real_name: RealName::parse(&request.real_name).map_err(|e| identity_error("real_name", e))?,
        id_number: ResidentId::parse(&request.id_number, today).map_err(|e| identity_error("id_number", e))?,
        face_check_passed: request.face_check.map(|check| check == FaceCheck::Pass),
    };
    let created = services.submit_kyc(user.account_id(), submission).await?;
    Ok(HttpResponse::Accepted().json(KycRequestView::of(&created, services.now())))
}

pub async fn overview(services: web::Data<Services>, user: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    let overview = services.kyc_status(user.account_id()).await?;
    Ok(HttpResponse::Ok().json(KycOverviewView {
        level: overview.level,
        verified: overview.verified.as_ref().map(|r| KycRequestView::of(r, overview.now)),
        pending: overview.pending.as_ref().map(|r| KycRequestView::of(r, overview.now)),
    }))
}

async fn decide(
    services: &Services,
    operator: &Operator,
    request_id: &str,
    approve: bool,
    reason: Option<String>,
) -> Result<HttpResponse, ApiError> {
    let action = if approve { "kyc.approve" } else { "kyc.reject" };
    let target = AuditTarget::new("kyc_request", request_id, None);
    let details = json!({ "reason": reason });
    let decision = services.decide_kyc(operator.account_id(), request_id, approve, reason.clone());
    let decided = services.audited(operator.account_id(), action, target, details, decision).await?;
    Ok(HttpResponse::Ok().json(KycRequestView::of(&decided, services.now())))
}

pub async fn approve(
    services: web::Data<Services>,
    operator: Operator,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    decide(&services, &operator, &path, true, None).await
}

pub async fn reject(
    services: web::Data<Services>,
    operator: Operator,
    path: web::Path<String>,
    ApiJson(request): ApiJson<KycDecisionRequest>,
) -> Result<HttpResponse, ApiError> {
    decide(&services, &operator, &path, false, request.reason).await
}
