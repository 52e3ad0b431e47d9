//! The operators' audit log: every operator action — who, when, on what, and
//! how it ended (refusals included) — appended to one append-only log that
//! nothing rewrites.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::clock::SharedClock;
use crate::domain::account::AccountId;
use crate::error::ApiError;
use crate::store::SharedStore;
use crate::store::typed::{decode_document, encode_document};

pub const AUDIT_LOG: &str = "operator_audit";

/// What an operator acted on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"kind": "withdrawal", "id": "wd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "account_id": "acc_demo_alice"}))]
pub struct AuditTarget {
    /// `account`, `withdrawal` or `kyc_request`.
    pub kind: String,
    pub id: String,
    /// The account it belongs to, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
}

impl AuditTarget {
    pub fn new(kind: &str, id: &str, account_id: Option<&AccountId>) -> AuditTarget {
        AuditTarget { kind: kind.to_owned(), id: id.to_owned(), account_id: account_id.map(|id| id.to_string()) }
    }
}

/// One operator action and how it ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "aud_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "at": "2025-05-01T09:12:00Z", "operator_id": "acc_demo_operator",
    "action": "withdrawal.reject",
    "target": {"kind": "withdrawal", "id": "wd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "account_id": "acc_demo_alice"},
    "outcome": "succeeded", "details": {"reason": "SUSPECTED_FRAUD", "note": "the payee is not the account holder"}
}))]
pub struct AuditEntry {
    pub id: String,
    pub at: DateTime<Utc>,
    pub operator_id: String,
    /// e.g. `withdrawal.approve`, `account.credit`.
    pub action: String,
    pub target: AuditTarget,
    /// `succeeded` or `refused`.
    pub outcome: String,
    /// The error code of a refusal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// What the operator sent (a reason, an amount), never secrets.
    #[schema(value_type = Object)]
    pub details: Value,
}

/// An entry with its position; positions page the log.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AuditRecord {
    #[schema(example = 42)]
    pub seq: u64,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// The audit log, written by the services that act for an operator.
#[derive(Debug, Clone)]
pub struct AuditLog {
    pub store: SharedStore,
    pub clock: SharedClock,
}

impl AuditLog {
    /// Records an operator action and how it ended (`result`). The action
    /// stands either way: a line that cannot be written is logged as an error.
    pub async fn record<T>(
        &self,
        operator: &AccountId,
        action: &str,
        target: AuditTarget,
        details: Value,
        result: &Result<T, ApiError>,
    ) {
        let (outcome, error_code) = match result {
            Ok(_) => ("succeeded", None),
            Err(error) => ("refused", Some(error.code().to_owned())),
        };
        let entry = AuditEntry {
            id: format!("aud_{}", uuid::Uuid::now_v7().simple()),
            at: self.clock.now(),
            operator_id: operator.to_string(),
            action: action.to_owned(),
            target,
            outcome: outcome.to_owned(),
            error_code,
            details,
        };
        match encode_document(&entry) {
            Ok(body) => {
                if let Err(error) = self.store.append_log(AUDIT_LOG, &body).await {
                    // The action stands either way; a lost audit line must be seen.
                    tracing::error!(%error, audit = %body, "could not append to the audit log");
                }
            }
            Err(error) => tracing::error!(%error, "could not encode an audit entry"),
        }
    }

    /// Up to `limit` entries before position `before` (or from the newest), newest first.
    pub async fn audit_log(&self, before: Option<u64>, limit: usize) -> Result<Vec<AuditRecord>, ApiError> {
        let entries = self.store.read_log(AUDIT_LOG, before, limit).await?;
        entries
            .into_iter()
            .map(|stored| {
                let entry = decode_document(AUDIT_LOG, &stored.body)?;
                Ok(AuditRecord { seq: stored.seq, entry })
            })
            .collect()
    }
}
