//! Identity verification: submitting a request, automatic approval after a
//! delay, operator decisions, and the list of requests waiting for an
//! operator. A resident ID number is claimed in a unique index at
//! submission, so it can verify only one account; a rejection frees it.
//!
//! The waiting list is a schedule (`KYC_PENDING_SCHEDULE`), so its entry
//! lives beside the account on every store: the commit that submits a
//! request sets it and the commit that decides one takes it off. A request
//! approved automatically by the clock has no commit of its own; its entry
//! is taken off when the list is read (or by the account's next
//! submission), and it never shows meanwhile.

use chrono::{DateTime, Duration, Utc};

use serde_json::json;

use super::audit::{AuditLog, AuditTarget};
use super::keys::{KYC_PENDING_SCHEDULE, member_parts, review_member};
use super::listing::{ScannedPage, scan_list};
use super::partitions::{AccountChange, Partitions};
use crate::auth::one_time_codes::plain_digest;
use crate::domain::account::{Account, AccountId, VerificationLevel};
use crate::domain::identity::ResidentId;
use crate::domain::kyc::{KycDecision, KycRequest, KycStatus, KycSubmission};
use crate::error::ApiError;
use crate::store::{ScheduleEntry, ScheduleOrder, SchedulePosition};

#[derive(Debug, Clone, Copy)]
pub struct KycPolicy {
    /// How long a pending request waits before it counts as approved; `None`: operators only.
    pub auto_approve_after: Option<Duration>,
}

pub(crate) fn id_number_index_key(id_number: &str) -> String {
    // Keyed by digest so key names (which show in monitoring) carry no ID numbers.
    format!("resident_id:{}", plain_digest(id_number))
}

fn request_index_key(request_id: &str) -> String {
    format!("kyc_request:{request_id}")
}

/// Identity verification: requests, automatic approval, operator decisions.
#[derive(Debug, Clone)]
pub struct Kyc {
    pub partitions: Partitions,
    pub policy: KycPolicy,
    pub audit: AuditLog,
}

impl Kyc {
    pub async fn submit_kyc(&self, account_id: &AccountId, submission: KycSubmission) -> Result<KycRequest, ApiError> {
        let id_key = id_number_index_key(submission.id_number.as_str());
        self.claim_id_number(&id_key, account_id).await?;
        let request_id = format!("kyc_{}", uuid::Uuid::now_v7().simple());
        // The request's index entry goes down before the request itself: an
        // entry whose request never landed names nothing an operator can
        // decide, while a request without its entry could never be decided.
        self.partitions.store.swap_index(&request_index_key(&request_id), None, Some(account_id.as_str())).await?;
        let auto_decide_at = self.policy.auto_approve_after.map(|delay| self.partitions.now() + delay);
        let submitted = self
            .partitions
            .update_account_scheduling(account_id, |account, now| {
                let request = account.submit_kyc(submission.clone(), request_id.clone(), now, auto_decide_at)?.clone();
                let waiting = ScheduleEntry {
                    schedule: KYC_PENDING_SCHEDULE,
                    member: review_member(account_id, &request.id),
                    at_ms: request.submitted_at.timestamp_millis(),
                };
                // Submitting writes down the automatic approvals that fell
                // due: those leave the waiting list with it.
                let decided = account.kyc_requests.iter().filter(|r| r.status != KycStatus::Pending);
                Ok(AccountChange {
                    scheduled: vec![waiting],
                    unscheduled: decided.map(|r| (KYC_PENDING_SCHEDULE, review_member(account_id, &r.id))).collect(),
                    ..AccountChange::new(request)
                })
            })
            .await;
        match submitted {
            Ok((request, _)) => {
                tracing::info!(request_id = %request.id, level = ?request.level, "identity verification submitted");
                Ok(request)
            }
            Err(error) => {
                self.release_id_number(&id_key, account_id).await;
                Err(error)
            }
        }
    }

    /// Claims an ID number for `account_id`; fine if it already holds it.
    async fn claim_id_number(&self, key: &str, account_id: &AccountId) -> Result<(), ApiError> {
        if self.partitions.store.swap_index(key, None, Some(account_id.as_str())).await? {
            return Ok(());
        }
        match self.partitions.store.get_index(key).await? {
            Some(owner) if owner == account_id.as_str() => Ok(()),
            _ => Err(ApiError::IdNumberTaken),
        }
    }

    /// The account an ID number verifies (or is claimed for by a pending request), if any.
    pub async fn id_number_holder(&self, id_number: &ResidentId) -> Result<Option<String>, ApiError> {
        Ok(self.partitions.store.get_index(&id_number_index_key(id_number.as_str())).await?)
    }

    async fn release_id_number(&self, key: &str, account_id: &AccountId) {
        if let Err(error) = self.partitions.store.swap_index(key, Some(account_id.as_str()), None).await {
            tracing::warn!(%error, "could not release an ID number claim");
        }
    }

    /// An operator's decision on a pending request; audited.
    pub async fn decide_kyc(
        &self,
        operator: &AccountId,
        request_id: &str,
        decision: KycDecision,
    ) -> Result<KycRequest, ApiError> {
        let (action, details) = match &decision {
            KycDecision::Approve => ("kyc.approve", json!({})),
            KycDecision::Reject { reason, note } => ("kyc.reject", json!({ "reason_code": reason, "note": note })),
        };
        let target = AuditTarget::new("kyc_request", request_id, None);
        let decided = self.decide(operator, request_id, decision).await;
        self.audit.record(operator, action, target, details, &decided).await;
        decided
    }

    async fn decide(
        &self,
        operator: &AccountId,
        request_id: &str,
        decision: KycDecision,
    ) -> Result<KycRequest, ApiError> {
        let approve = decision == KycDecision::Approve;
        let not_found = || ApiError::NotFound { resource: "kyc_request" };
        let owner = self.partitions.store.get_index(&request_index_key(request_id)).await?.ok_or_else(not_found)?;
        let account_id = AccountId::parse(&owner).ok_or_else(not_found)?;
        let (request, _) = self
            .partitions
            .update_account_scheduling(&account_id, |account, now| {
                let request = account.decide_kyc(request_id, decision.clone(), operator.as_str(), now)?;
                Ok(AccountChange {
                    unscheduled: vec![(KYC_PENDING_SCHEDULE, review_member(&account_id, request_id))],
                    ..AccountChange::new(request.clone())
                })
            })
            .await?;
        if !approve {
            self.release_id_number(&id_number_index_key(request.id_number.as_str()), &account_id).await;
        }
        tracing::info!(%operator, %request_id, approve, "identity verification decided");
        Ok(request)
    }

    /// The level in force now, and the request still waiting, if any.
    pub async fn kyc_status(&self, account_id: &AccountId) -> Result<KycOverview, ApiError> {
        let account = self.partitions.load_account(account_id).await?;
        let now = self.partitions.now();
        Ok(KycOverview {
            level: account.level_at(now),
            verified: account.verified_identity(now).cloned(),
            pending: account.pending_kyc(now).cloned(),
            rejected: account.last_rejected_kyc(now).cloned(),
            now,
        })
    }

    /// Up to `wanted` requests waiting for an operator, oldest first,
    /// beyond `from`; entries of requests decided meanwhile (by the clock)
    /// are taken off on the way.
    pub async fn pending_checks(
        &self,
        from: Option<&SchedulePosition>,
        wanted: usize,
    ) -> Result<ScannedPage<PendingCheck>, ApiError> {
        let now = self.partitions.now();
        let store = &self.partitions.store;
        scan_list(store, KYC_PENDING_SCHEDULE, ScheduleOrder::EarliestFirst, from, wanted, async |member, at_ms| {
            let found = match member_parts(member) {
                Some((account_id, request_id)) => {
                    let account = store.load_account(&account_id).await?.map(|versioned| versioned.value);
                    let request = account.as_ref().and_then(|a| a.kyc_requests.iter().find(|r| r.id == request_id));
                    match (request.filter(|r| r.status_at(now) == KycStatus::Pending).cloned(), account) {
                        (Some(request), Some(account)) => Some(PendingCheck { account, request }),
                        _ => None,
                    }
                }
                None => None,
            };
            if found.is_none() {
                // Decided, gone, or unreadable: it can never wait again (a
                // request id is never submitted twice). Only if nobody moved it.
                store.reschedule_if_at(KYC_PENDING_SCHEDULE, member, at_ms, None).await?;
            }
            Ok(found)
        })
        .await
    }
}

/// An identity check waiting for an operator, with its account as it is now.
#[derive(Debug)]
pub struct PendingCheck {
    pub account: Account,
    pub request: KycRequest,
}

#[derive(Debug)]
pub struct KycOverview {
    pub level: VerificationLevel,
    pub verified: Option<KycRequest>,
    pub pending: Option<KycRequest>,
    /// The newest request, when it was rejected (nothing asked since).
    pub rejected: Option<KycRequest>,
    pub now: DateTime<Utc>,
}
