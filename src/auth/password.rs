//! Login passwords: argon2id with a random salt per hash, PHC strings in the
//! store. Hashing is deliberately slow (tens of ms), so callers run it on the
//! blocking thread pool, never on an HTTP worker.

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash as PhcString;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};

use crate::domain::account::PasswordHash;
use crate::domain::credentials::Password;

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
