//! Login passwords: argon2id with a random salt per hash, PHC strings in the
//! store. Hashing is deliberately slow (tens of ms) and memory-hard (19 MiB a
//! hash), so requests go through `PasswordHashing`: at most a configured
//! number of hashes at once (one per core by default), each on the blocking
//! thread pool, never on an HTTP worker. A request that cannot get a turn
//! within the configured wait is answered 503 `SERVER_BUSY` instead of
//! queueing without end; a flood of logins costs a bounded amount of memory.

use std::sync::Arc;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash as PhcString;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use tokio::sync::Semaphore;

use crate::domain::account::PasswordHash;
use crate::domain::credentials::Password;
use crate::error::ApiError;

/// Bounds the password hashing of requests: `concurrency` at once, each
/// waiting at most `wait` for its turn.
#[derive(Debug, Clone)]
pub struct PasswordHashing {
    turns: Arc<Semaphore>,
    wait: Duration,
}

impl PasswordHashing {
    /// `concurrency` 0 means one per core.
    pub fn new(concurrency: usize, wait: Duration) -> PasswordHashing {
        let concurrency = match concurrency {
            0 => std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get),
            configured => configured,
        };
        PasswordHashing { turns: Arc::new(Semaphore::new(concurrency)), wait }
    }

    pub async fn hash(&self, password: Password) -> Result<PasswordHash, ApiError> {
        self.run(move || hash(&password)).await?.map_err(ApiError::Internal)
    }

    pub async fn verify(&self, password: String, stored: PasswordHash) -> Result<bool, ApiError> {
        self.run(move || verify(&password, &stored)).await
    }

    /// See `burn_equivalent_time`; takes a turn like any verification.
    pub async fn burn_equivalent_time(&self, password: String) -> Result<(), ApiError> {
        self.run(move || burn_equivalent_time(&password)).await
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

pub fn hash(password: &Password) -> anyhow::Result<PasswordHash> {
    let phc = Argon2::default()
        .hash_password(password.expose().as_bytes())
        .map_err(|e| anyhow::anyhow!("password hashing failed: {e}"))?;
    Ok(PasswordHash(phc.to_string()))
}

/// Constant-time comparison inside argon2; a malformed stored hash never matches.
pub fn verify(password: &str, stored: &PasswordHash) -> bool {
    match PhcString::new(&stored.0) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(_) => false,
    }
}

/// Verifies against a fixed hash, so a login for an unknown account costs as
/// much as one for a known account and response times do not reveal which
/// logins exist.
pub fn burn_equivalent_time(password: &str) {
    static DUMMY: std::sync::OnceLock<Option<PasswordHash>> = std::sync::OnceLock::new();
    let dummy =
        DUMMY.get_or_init(|| Password::parse("dummy-password-for-timing".into()).ok().and_then(|p| hash(&p).ok()));
    if let Some(dummy) = dummy {
        let _ = verify(password, dummy);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_caller_that_cannot_get_a_turn_in_time_is_told_the_server_is_busy() {
        let hashing = PasswordHashing::new(1, Duration::from_millis(1));
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
        let stored = hash(&password).unwrap();
        assert!(stored.0.starts_with("$argon2id$"));
        assert!(!stored.0.contains("alice-demo"));
        assert!(verify("alice-demo", &stored));
        assert!(!verify("alice-demO", &stored));
        assert!(!verify("alice-demo", &PasswordHash("garbage".into())));
    }
}
