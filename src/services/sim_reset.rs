//! The simulator's reset: this deployment's state wiped in the store
//! (accounts, withdrawals, transfers, the mock providers' users and bills,
//! the audit log, every short-lived value — and whatever later parts of the
//! simulator keep there), the in-process memory that could outlive it
//! forgotten, the demo accounts seeded again and, if asked, a bundled
//! scenario loaded. The reset itself is then the audit log's first entry.
//!
//! The demo accounts come back with their fixed ids and token generation 0,
//! so their access tokens keep working across a reset (a token names its
//! account by id); their refresh tokens, stored, are gone. A token of any
//! other account stops working with its account (401, or 404 `account`
//! where the token's own account is read).
//!
//! What this process forgets here: the records its writers remember
//! (`writers`), and its copy of the business clock, read again (other
//! gateways read theirs within `sim_clock.refresh_ms`). Its per-process request-rate limits are forgotten by the
//! handler (`RateLimits`, at the HTTP edge). Other gateway processes on the
//! same store keep their own until they restart (docs/simulator.md).

use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use super::audit::{AuditLog, AuditTarget};
use super::scenarios::{ScenarioReport, Scenarios};
use super::seed::{DEMO_ACCOUNTS, DemoData, seed_demo_accounts};
use super::sim_clock::SimClock;
use crate::domain::account::AccountId;
use crate::error::ApiError;

/// What a reset did.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "removed": 412, "demo_accounts": ["acc_demo_operator", "acc_demo_alice", "acc_demo_bob", "acc_demo_carol"],
    "scenario": null
}))]
pub struct ResetReport {
    /// Entries the store removed (Redis keys, or the memory store's entries).
    #[schema(example = 412)]
    pub removed: u64,
    /// The demo accounts seeded again (none when `seed.demo_accounts` is off).
    pub demo_accounts: Vec<String>,
    /// The bundled scenario loaded after the reset, if one was asked for.
    pub scenario: Option<ScenarioReport>,
}

/// Wiping and re-seeding this deployment.
#[derive(Debug, Clone)]
pub struct SimReset {
    pub demo: DemoData,
    pub audit: AuditLog,
    pub scenarios: Scenarios,
    /// The shared business clock, read again after the wipe (its state is
    /// wiped with the rest: time is wall time again).
    pub clock: Option<SimClock>,
}

impl SimReset {
    /// Resets the deployment for `operator`, then loads the bundled scenario
    /// `scenario` if one is named (an unknown name is refused, 404, before
    /// anything is wiped).
    pub async fn reset(&self, operator: &AccountId, scenario: Option<&str>) -> Result<ResetReport, ApiError> {
        let bundled = scenario.map(|name| self.scenarios.bundled(name)).transpose()?;
        let partitions = &self.demo.partitions;
        let removed = partitions.store.wipe().await?;
        partitions.writers.forget_all().await;
        if let Some(clock) = &self.clock {
            clock.refresh().await?;
        }
        let demo_accounts = match self.demo.enabled {
            true => {
                seed_demo_accounts(partitions).await?;
                DEMO_ACCOUNTS.iter().map(|demo| demo.id.to_owned()).collect()
            }
            false => Vec::new(),
        };
        let details = json!({ "removed": removed, "scenario": scenario });
        let target = AuditTarget::new("deployment", "state", None);
        self.audit.record(operator, "sim.reset", target, details, &Ok::<(), ApiError>(())).await;
        tracing::warn!(%operator, removed, scenario, "the deployment's state was reset");
        let scenario = match &bundled {
            Some(bundled) => Some(self.scenarios.load(&bundled.name, Some(operator), bundled).await?),
            None => None,
        };
        Ok(ResetReport { removed, demo_accounts, scenario })
    }
}
