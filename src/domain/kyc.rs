//! Identity verification requests: a user asks for L1 (real name + resident
//! ID) or L2 (L1 + a simulated face check); the request is decided by an
//! operator or, if none has by its `auto_decide_at`, approved automatically.
//! A due request counts as approved from that instant, whether or not anyone
//! has written the approval down yet, so no background job is needed for it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::account::{Account, VerificationLevel};
use super::identity::{RealName, ResidentId};

/// Decided requests kept in the account's history.
const DECIDED_REQUESTS_KEPT: usize = 5;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "pending")]
pub enum KycStatus {
    Pending,
    Approved,
    Rejected,
}

/// Why an identity check was refused, from a documented list: what its
/// owner is told (an app shows its own words for each code), while the
/// operator's own words stay in `KycRequest::note`, for operators only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[schema(example = "NAME_MISMATCH")]
pub enum KycRejectionReason {
    /// The name is not the name of the ID number's holder.
    NameMismatch,
    /// The ID number could not be confirmed with the issuing records.
    IdNumberUnverifiable,
    /// The face check does not match the ID's holder.
    FaceMismatch,
    /// The holder is under 18, too young for a wallet of their own.
    Underage,
    /// The identity looks borrowed, bought or stolen.
    SuspectedFraud,
    /// None of the above; the operator's note says more.
    Other,
}

/// An operator's decision on a pending request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KycDecision {
    Approve,
    /// Refused for `reason` (told to the user); `note` stays with operators.
    Reject {
        reason: KycRejectionReason,
        note: Option<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KycRequest {
    pub id: String,
    pub level: VerificationLevel,
    pub real_name: RealName,
    pub id_number: ResidentId,
    pub status: KycStatus,
    pub submitted_at: DateTime<Utc>,
    /// When a still-pending request counts as approved; `None`: operators only.
    pub auto_decide_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub decided_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub decided_by: Option<String>,
    /// A rejection's reason; `None` on a request rejected before reasons
    /// were codes (read as `Other`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejection: Option<KycRejectionReason>,
    /// The operator's note on a rejection, for operators only (once named
    /// `reason`, when it was the only reason given).
    #[serde(default, alias = "reason")]
    pub note: Option<String>,
}

impl KycRequest {
    /// The status as of `now`, counting a due automatic approval.
    pub fn status_at(&self, now: DateTime<Utc>) -> KycStatus {
        match (self.status, self.auto_decide_at) {
            (KycStatus::Pending, Some(due)) if due <= now => KycStatus::Approved,
            (status, _) => status,
        }
    }

    /// Why it was rejected, as its owner is told; `None` unless rejected.
    pub fn rejection_reason(&self) -> Option<KycRejectionReason> {
        (self.status == KycStatus::Rejected).then(|| self.rejection.unwrap_or(KycRejectionReason::Other))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KycError {
    #[error("the account is already verified at this level or higher")]
    AlreadyVerified,
    #[error("a verification request is already pending")]
    AlreadyPending,
    #[error("the simulated face check did not pass")]
    FaceCheckFailed,
    #[error("the ID number differs from the one already verified on this account")]
    IdentityMismatch,
    #[error("verification request not found")]
    NotFound,
    #[error("the request was already decided")]
    AlreadyDecided,
}

/// How an answer to the identity question compares with the verified ID number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentityAnswer {
    Matches,
    Differs,
    Missing,
}

/// What a user submits.
#[derive(Debug, Clone)]
pub struct KycSubmission {
    pub level: VerificationLevel,
    pub real_name: RealName,
    pub id_number: ResidentId,
    /// The simulated face check's outcome; only L2 needs one.
    pub face_check_passed: Option<bool>,
}

impl Account {
    /// The level in force at `now`, counting a due automatic approval.
    pub fn level_at(&self, now: DateTime<Utc>) -> VerificationLevel {
        let approved = self.kyc_requests.iter().filter(|r| r.status_at(now) == KycStatus::Approved).map(|r| r.level);
        approved.fold(self.level, VerificationLevel::max)
    }

    pub fn pending_kyc(&self, now: DateTime<Utc>) -> Option<&KycRequest> {
        self.kyc_requests.iter().find(|r| r.status_at(now) == KycStatus::Pending)
    }

    /// The identity verified on this account, if any (the newest approved request's).
    pub fn verified_identity(&self, now: DateTime<Utc>) -> Option<&KycRequest> {
        self.kyc_requests.iter().rev().find(|r| r.status_at(now) == KycStatus::Approved)
    }

    /// The newest request, when it was rejected: what its owner should hear
    /// about until they ask again.
    pub fn last_rejected_kyc(&self, now: DateTime<Utc>) -> Option<&KycRequest> {
        self.kyc_requests.last().filter(|r| r.status_at(now) == KycStatus::Rejected)
    }

    /// Whether an answer to "the last six characters of your ID number"
    /// proves the identity verified on this account. `None` when the account
    /// has no verified ID number on record, so there is nothing to ask.
    pub fn answers_identity(&self, answer: Option<&str>, now: DateTime<Utc>) -> Option<IdentityAnswer> {
        let verified = self.verified_identity(now)?;
        Some(match answer {
            None => IdentityAnswer::Missing,
            Some(answer) if verified.id_number.ends_with_last_six(answer) => IdentityAnswer::Matches,
            Some(_) => IdentityAnswer::Differs,
        })
    }

    pub fn submit_kyc(
        &mut self,
        submission: KycSubmission,
        id: String,
        now: DateTime<Utc>,
        auto_decide_at: Option<DateTime<Utc>>,
    ) -> Result<&KycRequest, KycError> {
        if self.level_at(now) >= submission.level {
            return Err(KycError::AlreadyVerified);
        }
        if self.pending_kyc(now).is_some() {
            return Err(KycError::AlreadyPending);
        }
        if submission.level == VerificationLevel::L2 && submission.face_check_passed != Some(true) {
            return Err(KycError::FaceCheckFailed);
        }
        if self.verified_identity(now).is_some_and(|verified| verified.id_number != submission.id_number) {
            return Err(KycError::IdentityMismatch);
        }
        self.record_due_kyc_decisions(now);
        self.kyc_requests.push(KycRequest {
            id,
            level: submission.level,
            real_name: submission.real_name,
            id_number: submission.id_number,
            status: KycStatus::Pending,
            submitted_at: now,
            auto_decide_at,
            decided_at: None,
            decided_by: None,
            rejection: None,
            note: None,
        });
        self.prune_kyc_requests();
        self.kyc_requests.last().ok_or(KycError::NotFound)
    }

    /// An operator's decision on a pending request.
    pub fn decide_kyc(
        &mut self,
        request_id: &str,
        decision: KycDecision,
        operator: &str,
        now: DateTime<Utc>,
    ) -> Result<&KycRequest, KycError> {
        self.record_due_kyc_decisions(now);
        let request = self.kyc_requests.iter_mut().find(|r| r.id == request_id).ok_or(KycError::NotFound)?;
        if request.status != KycStatus::Pending {
            return Err(KycError::AlreadyDecided);
        }
        request.decided_at = Some(now);
        request.decided_by = Some(operator.to_owned());
        match decision {
            KycDecision::Approve => {
                request.status = KycStatus::Approved;
                self.level = self.level.max(request.level);
            }
            KycDecision::Reject { reason, note } => {
                request.status = KycStatus::Rejected;
                request.rejection = Some(reason);
                request.note = note;
            }
        }
        Ok(request)
    }

    /// Writes down automatic approvals that fell due, so the record says what
    /// `level_at` already counts.
    pub fn record_due_kyc_decisions(&mut self, now: DateTime<Utc>) {
        for request in &mut self.kyc_requests {
            if request.status == KycStatus::Pending && request.status_at(now) == KycStatus::Approved {
                request.status = KycStatus::Approved;
                request.decided_at = request.auto_decide_at;
                request.decided_by = Some("automatic".into());
                self.level = self.level.max(request.level);
            }
        }
    }

    fn prune_kyc_requests(&mut self) {
        let decided = self.kyc_requests.iter().filter(|r| r.status != KycStatus::Pending).count();
        let mut to_drop = decided.saturating_sub(DECIDED_REQUESTS_KEPT);
        self.kyc_requests.retain(|r| {
            let drop = to_drop > 0 && r.status != KycStatus::Pending;
            to_drop -= usize::from(drop);
            !drop
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::fixtures::{alice, now};
    use chrono::{Duration, NaiveDate};

    fn account() -> Account {
        alice()
    }

    fn submission(level: VerificationLevel, face: Option<bool>) -> KycSubmission {
        let today = NaiveDate::from_ymd_opt(2026, 3, 1).unwrap();
        KycSubmission {
            level,
            real_name: RealName::parse("张三丰").unwrap(),
            id_number: ResidentId::parse("11010519491231002X", today).unwrap(),
            face_check_passed: face,
        }
    }

    #[test]
    fn the_identity_question_needs_a_verified_number_and_its_last_six() {
        let mut account = account();
        assert_eq!(account.answers_identity(Some("31002X"), now()), None, "nothing verified: nothing to ask");
        let id = account
            .submit_kyc(submission(VerificationLevel::L1, None), "kyc_1".into(), now(), None)
            .unwrap()
            .id
            .clone();
        assert_eq!(account.answers_identity(Some("31002X"), now()), None, "pending is not verified");
        account.decide_kyc(&id, KycDecision::Approve, "acc_op", now()).unwrap();
        assert_eq!(account.answers_identity(Some("31002X"), now()), Some(IdentityAnswer::Matches));
        assert_eq!(account.answers_identity(Some(" 31002x "), now()), Some(IdentityAnswer::Matches));
        for wrong in ["31002Y", "1002X", "231002X", "", "002X"] {
            assert_eq!(account.answers_identity(Some(wrong), now()), Some(IdentityAnswer::Differs), "{wrong}");
        }
        assert_eq!(account.answers_identity(None, now()), Some(IdentityAnswer::Missing));
    }

    #[test]
    fn a_request_counts_as_approved_once_due() {
        let mut account = account();
        let due = now() + Duration::seconds(5);
        account.submit_kyc(submission(VerificationLevel::L1, None), "kyc_1".into(), now(), Some(due)).unwrap();
        assert_eq!(account.level_at(now()), VerificationLevel::L0);
        assert_eq!(account.level_at(due), VerificationLevel::L1);
        account.record_due_kyc_decisions(due);
        assert_eq!((account.level, account.kyc_requests[0].status), (VerificationLevel::L1, KycStatus::Approved));
    }

    #[test]
    fn operators_decide_pending_requests_once() {
        let mut account = account();
        account.submit_kyc(submission(VerificationLevel::L2, Some(true)), "kyc_1".into(), now(), None).unwrap();
        assert_eq!(account.level_at(now() + Duration::days(365)), VerificationLevel::L0, "no automatic decision");
        let refusal =
            KycDecision::Reject { reason: KycRejectionReason::FaceMismatch, note: Some("blurry photo".into()) };
        account.decide_kyc("kyc_1", refusal, "acc_ops", now()).unwrap();
        assert_eq!(account.decide_kyc("kyc_1", KycDecision::Approve, "acc_ops", now()), Err(KycError::AlreadyDecided));
        let rejected = account.last_rejected_kyc(now()).unwrap();
        assert_eq!(rejected.rejection_reason(), Some(KycRejectionReason::FaceMismatch));
        account.submit_kyc(submission(VerificationLevel::L2, Some(true)), "kyc_2".into(), now(), None).unwrap();
        assert_eq!(account.last_rejected_kyc(now()), None, "asked again: the refusal is over");
        account.decide_kyc("kyc_2", KycDecision::Approve, "acc_ops", now()).unwrap();
        assert_eq!(account.level_at(now()), VerificationLevel::L2);
    }

    #[test]
    fn submissions_are_refused_when_they_cannot_apply() {
        let mut account = account();
        assert_eq!(
            account.submit_kyc(submission(VerificationLevel::L2, Some(false)), "k".into(), now(), None).unwrap_err(),
            KycError::FaceCheckFailed
        );
        account.submit_kyc(submission(VerificationLevel::L1, None), "k1".into(), now(), None).unwrap();
        assert_eq!(
            account.submit_kyc(submission(VerificationLevel::L1, None), "k2".into(), now(), None).unwrap_err(),
            KycError::AlreadyPending
        );
        account.decide_kyc("k1", KycDecision::Approve, "ops", now()).unwrap();
        assert_eq!(
            account.submit_kyc(submission(VerificationLevel::L1, None), "k3".into(), now(), None).unwrap_err(),
            KycError::AlreadyVerified
        );
        let mut other_person = submission(VerificationLevel::L2, Some(true));
        other_person.id_number =
            ResidentId::parse("110105194912310038", NaiveDate::from_ymd_opt(2026, 1, 1).unwrap()).unwrap();
        assert_eq!(account.submit_kyc(other_person, "k4".into(), now(), None).unwrap_err(), KycError::IdentityMismatch);
    }
}

#[cfg(test)]
mod stored_tests {
    use super::*;

    #[test]
    fn a_request_rejected_with_free_text_reads_as_other_with_that_note() {
        let stored = serde_json::json!({
            "id": "kyc_1", "level": "L1", "real_name": "张三丰", "id_number": "11010519491231002X",
            "status": "rejected", "submitted_at": "2026-03-01T00:00:00Z", "auto_decide_at": null,
            "decided_at": "2026-03-01T00:01:00Z", "decided_by": "acc_ops", "reason": "blurry photo"
        });
        let request: KycRequest = serde_json::from_value(stored).unwrap();
        assert_eq!(request.rejection_reason(), Some(KycRejectionReason::Other));
        assert_eq!(request.note.as_deref(), Some("blurry photo"));
    }
}
