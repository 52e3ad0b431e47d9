//! Operators' and tests' rules over the mock providers (`providers::sim`):
//! listing, adding, removing and clearing them, each change audited.

use serde_json::json;

use super::audit::{AuditLog, AuditTarget};
use crate::domain::account::AccountId;
use crate::error::ApiError;
use crate::providers::sim::rules::RULES_MAX;
use crate::providers::sim::{NewRule, Rule, RuleBook, RuleBookError};

#[derive(Debug, Clone)]
pub struct SimRules {
    pub book: RuleBook,
    pub audit: AuditLog,
}

impl SimRules {
    /// Every rule, in the order they are consulted.
    pub async fn rules(&self) -> Result<Vec<Rule>, ApiError> {
        Ok(self.book.rules().await?)
    }

    pub async fn add(&self, operator: &AccountId, rule: NewRule) -> Result<Rule, ApiError> {
        let details = serde_json::to_value(&rule).unwrap_or_default();
        let added = self.book.add(rule).await.map_err(api_error);
        let id = added.as_ref().map(|rule| rule.id.as_str()).unwrap_or_default();
        self.audit.record(operator, "sim.rule_added", AuditTarget::new("sim_rule", id, None), details, &added).await;
        added
    }

    pub async fn remove(&self, operator: &AccountId, id: &str) -> Result<(), ApiError> {
        let removed = self.book.remove(id).await.map_err(api_error);
        let target = AuditTarget::new("sim_rule", id, None);
        self.audit.record(operator, "sim.rule_removed", target, json!({}), &removed).await;
        removed
    }

    /// Removes every rule; how many there were.
    pub async fn clear(&self, operator: &AccountId) -> Result<usize, ApiError> {
        let cleared = self.book.clear().await.map_err(api_error);
        let details = json!({"removed": cleared.as_ref().ok()});
        self.audit
            .record(operator, "sim.rules_cleared", AuditTarget::new("sim_rule", "*", None), details, &cleared)
            .await;
        cleared
    }
}

fn api_error(error: RuleBookError) -> ApiError {
    match error {
        RuleBookError::Invalid(invalid) => {
            ApiError::Validation { field: Some(invalid.field.to_owned()), message: invalid.message }
        }
        RuleBookError::Full => ApiError::Validation {
            field: None,
            message: format!("at most {RULES_MAX} rules at once; remove some first"),
        },
        RuleBookError::NotFound => ApiError::NotFound { resource: "rule" },
        RuleBookError::Busy => ApiError::StoreBusy,
        RuleBookError::Store(error) => error.into(),
    }
}
