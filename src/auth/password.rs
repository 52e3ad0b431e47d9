//! Login passwords: argon2id with a random salt per hash, PHC strings in the
//! store. Hashing is deliberately slow (tens of ms) and memory-hard (19 MiB a
//! hash), so requests go through `PasswordHashing`: at most a configured
//! number of hashes at once (one per core by default), each on the blocking
//! thread pool, never on an HTTP worker. A request that cannot get a turn
//! within the configured wait is answered 503 `SERVER_BUSY` instead of
//! queueing without end; a flood of logins costs a bounded amount of memory.
//!
//! The cost of a new hash (`HashCost`: argon2id's memory and passes) comes
//! from the settings; verifying reads it from the stored hash, so a changed
//! cost applies to new hashes only. Production refuses less than the
//! default (OWASP's minimum); the test profile uses a tiny one so the suite
//! does not spend its time hashing.

use std::sync::Arc;
use std::time::Duration;

use std::sync::OnceLock;

use argon2::password_hash::phc::PasswordHash as PhcString;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};

use tokio::sync::Semaphore;

use crate::domain::account::PasswordHash;
use crate::domain::credentials::Password;
use crate::error::ApiError;
use crate::settings::{AuthSettings, PASSWORD_HASH_ITERATIONS_MIN, PASSWORD_HASH_MEMORY_KIB_MIN};

/// Bounds the password hashing of requests: `concurrency` at once, each
/// waiting at most `wait` for its turn.
#[derive(Debug, Clone)]
pub struct PasswordHashing {
    turns: Arc<Semaphore>,
    wait: Duration,
    cost: HashCost,
    /// The fixed hash `burn_equivalent_time` verifies against, made at this
    /// cost on first use.
    dummy: Arc<OnceLock<Option<PasswordHash>>>,
}

/// What one new hash costs: argon2id's memory (KiB) and passes, one lane;
/// by default OWASP's minimum (the argon2 crate's default).
#[derive(Debug, Clone, Default)]
pub struct HashCost(Params);

impl HashCost {
    /// The configured cost (`Settings::validate` has checked it).
    pub fn of(auth: &AuthSettings) -> anyhow::Result<HashCost> {
        HashCost::new(auth.password_hash_memory_kib, auth.password_hash_iterations)
    }

    pub fn new(memory_kib: u32, iterations: u32) -> anyhow::Result<HashCost> {
        Params::new(memory_kib, iterations, 1, None)
            .map(HashCost)
            .map_err(|e| anyhow::anyhow!("argon2id cannot use {memory_kib} KiB and {iterations} passes: {e}"))
    }

    /// Whether this is at least OWASP's minimum (what production requires).
    pub fn is_at_least_the_minimum(&self) -> bool {
        self.0.m_cost() >= PASSWORD_HASH_MEMORY_KIB_MIN && self.0.t_cost() >= PASSWORD_HASH_ITERATIONS_MIN
    }
}

impl PasswordHashing {
    /// `concurrency` 0 means one per core.
    pub fn new(concurrency: usize, wait: Duration, cost: HashCost) -> PasswordHashing {
        let concurrency = match concurrency {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            configured => configured,
        };
        PasswordHashing { turns: Arc::new(Semaphore::new(concurrency)), wait, cost, dummy: Arc::default() }
    }

    pub async fn hash(&self, password: Password) -> Result<PasswordHash, ApiError> {
        let cost = self.cost.clone();
        self.run(move || hash(&password, &cost)).await?.map_err(ApiError::Internal)
    }

    pub async fn verify(&self, password: String, stored: PasswordHash) -> Result<bool, ApiError> {
        self.run(move || verify(&password, &stored)).await
    }

    /// See `burn_equivalent_time`; takes a turn like any verification.
    pub async fn burn_equivalent_time(&self, password: String) -> Result<(), ApiError> {
        let (cost, dummy) = (self.cost.clone(), self.dummy.clone());
        self.run(move || burn_equivalent_time(&password, &cost, &dummy)).await
    }

    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
        let turn = tokio::time::timeout(self.wait, self.turns.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::ServerBusy)?
            .map_err(ApiError::internal)?;
        // The turn moves into the blocking task: a client that hangs up stops
        // waiting for the hash, but the hash still holds its turn until done,
        // so the bound counts hashes really running.
        tokio::task::spawn_blocking(move || {
            let output = work();
            drop(turn);
            output
        })
        .await
        .map_err(ApiError::internal)
    }
}

pub fn hash(password: &Password, cost: &HashCost) -> anyhow::Result<PasswordHash> {
    let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, cost.0.clone())
        .hash_password(password.expose().as_bytes())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))?;
    Ok(PasswordHash(phc.to_string()))
}

/// Constant-time comparison inside argon2, at the cost the stored hash
/// names; a malformed stored hash never matches.
pub fn verify(password: &str, stored: &PasswordHash) -> bool {
    match PhcString::new(&stored.0) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Verifies against a fixed hash, so a login for an unknown account costs as
/// much as one for a known account and response times do not reveal which
/// logins exist.
fn burn_equivalent_time(password: &str, cost: &HashCost, dummy: &OnceLock<Option<PasswordHash>>) {
    let dummy = dummy
        .get_or_init(|| Password::parse("dummy-password-for-timing".into()).ok().and_then(|p| hash(&p, cost).ok()));
    if let Some(dummy) = dummy {
        let _ = verify(password, dummy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_caller_that_cannot_get_a_turn_in_time_is_told_the_server_is_busy() {
        let hashing = PasswordHashing::new(1, Duration::from_millis(1), HashCost::default());
        let held = hashing.turns.clone().acquire_owned().await.unwrap();
        let busy = hashing.verify("alice-demo".into(), PasswordHash("garbage".into())).await;
        assert!(matches!(busy, Err(ApiError::ServerBusy)), "{busy:?}");
        drop(held);
        assert!(!hashing.verify("alice-demo".into(), PasswordHash("garbage".into())).await.unwrap());
        assert_eq!(hashing.turns.available_permits(), 1, "the turn is given back");
    }

    #[test]
    fn a_hash_verifies_its_password_only_and_never_contains_it() {
        let password = Password::parse("alice-demo".into()).unwrap();
        let stored = hash(&password, &HashCost::default()).unwrap();
        assert!(stored.0.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{}", stored.0);
        assert!(!stored.0.contains("alice-demo"));
        assert!(verify("alice-demo", &stored));
        assert!(!verify("alice-demO", &stored));
        assert!(!verify("alice-demo", &PasswordHash("garbage".into())));
    }

    #[test]
    fn a_hash_made_at_a_small_cost_says_so_and_still_verifies() {
        let cost = HashCost::new(64, 1).unwrap();
        assert!(!cost.is_at_least_the_minimum());
        assert!(HashCost::default().is_at_least_the_minimum());
        let password = Password::parse("alice-demo".into()).unwrap();
        let stored = hash(&password, &cost).unwrap();
        assert!(stored.0.starts_with("$argon2id$v=19$m=64,t=1,p=1$"), "{}", stored.0);
        assert!(verify("alice-demo", &stored));
        assert!(!verify("alice-demO", &stored));
    }

    #[test]
    fn a_cost_argon2_cannot_use_is_refused() {
        assert!(HashCost::new(4, 1).is_err());
        assert!(HashCost::new(64, 0).is_err());
    }
}
