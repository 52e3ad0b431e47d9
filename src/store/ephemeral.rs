//! Short-lived values: single-use things that expire (refresh tokens, OAuth
//! states and codes, login attempt guards).
//!
//! Their validity is decided by the service with the injectable clock; the
//! store's time to live only reclaims space, so tests that move the clock
//! never wait for the store.
//!
//! Why each primitive exists:
//! - `put_ephemeral`: keep a value for at least a while, replacing any old one;
//! - `take_ephemeral`: read and delete in one step, so of concurrent takers
//!   exactly one gets it (a refresh token or an OAuth code is used once);
//! - `get_ephemeral`: read without using up.

use std::time::Duration;

use async_trait::async_trait;

use super::StoreError;

#[async_trait]
pub trait EphemeralValues: Send + Sync {
    /// Stores a value under `key` for at least `ttl`, replacing any old one.
    async fn put_ephemeral(&self, key: &str, value: &str, ttl: Duration) -> Result<(), StoreError>;

    /// Reads and deletes in one step: of concurrent takers, exactly one gets the value.
    async fn take_ephemeral(&self, key: &str) -> Result<Option<String>, StoreError>;

    async fn get_ephemeral(&self, key: &str) -> Result<Option<String>, StoreError>;
}
