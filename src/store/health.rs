//! Health: whether the store answers, for the readiness check.
//!
//! Kept apart from the data models because it reads none of them: a load
//! balancer asks it often, and it must cost one round trip and nothing more.

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait Health: Send + Sync {
    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<(), StoreError>;
}
