//! Access and refresh tokens.
//!
//! Access tokens are HS256 JWTs with `sub`, `role`, `iss`, `iat`, `exp`, `jti`,
//! `gen` and `sid`. Only HS256 is accepted (so `alg: none` and algorithm swaps fail), and
//! expiry is checked against the injectable clock rather than jsonwebtoken's
//! own reading of system time, so tests can expire a token by moving the clock.
//!
//! A signature proves only that we issued the claims, not that they still
//! hold. Where it matters the account is loaded and has the last word: its
//! role on operator routes (`auth::Operator`), and on those routes and every
//! money-moving call its existence and its revocation watermark
//! (`Account::token_generation`). Revoking (a reused refresh token, below)
//! raises the watermark; `gen` is the watermark a token was issued at, and a
//! token below the current one is refused. A counter rather than a time: `iat`
//! has whole seconds, so a time watermark could not tell a token issued just
//! before a revocation from one issued just after it in the same second; a
//! generation can, and needs no clock at all. Tokens issued before `gen`
//! existed read as generation 0.
//!
//! `sid` names the login session a token belongs to: the family of refresh
//! tokens its login started. Logging out ends the session (the family is
//! marked revoked in the store), and every request's extractor refuses an
//! access token of an ended session, so it stops working at once on every
//! gateway instance, while the account's other sessions go on. Tokens issued
//! before `sid` existed have none and end only by expiry or the watermark.
//!
//! Refresh tokens are random opaque strings; only their SHA-256 is stored.
//! Each is single-use: refreshing consumes it and issues a new one in the same
//! family. Presenting a consumed one again is treated as theft (OAuth 2.0
//! security best practice): it is refused and its whole family revoked.
//!
//! A client sends the same access token with every request, so an issuer
//! remembers the tokens it has verified, by their exact text: a repeat skips
//! the signature check and claim parsing, never the expiry check, and never
//! the account checks above (they are made on the principal, after this).

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Mutex, MutexGuard};

use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::account::{Account, AccountId, Role};
use crate::settings::AuthSettings;

const REFRESH_TOKEN_BYTES: usize = 32;
/// Verified access tokens remembered: 16 locks over 2 048 each, so 32 768
/// clients in all (a few megabytes); a full shard forgets one to take one.
const VERIFIED_TOKEN_SHARDS: usize = 16;
const VERIFIED_TOKENS_PER_SHARD: usize = 2048;

/// A verified token's principal and expiry (seconds since the epoch), by the token's text.
type VerifiedShard = HashMap<Box<str>, (Principal, i64), foldhash::fast::RandomState>;

/// Access tokens whose signature and claims this issuer has checked.
struct VerifiedTokens {
    hasher: foldhash::fast::RandomState,
    shards: Box<[Mutex<VerifiedShard>]>,
}

impl VerifiedTokens {
    fn new() -> VerifiedTokens {
        VerifiedTokens {
            hasher: foldhash::fast::RandomState::default(),
            shards: (0..VERIFIED_TOKEN_SHARDS).map(|_| Mutex::default()).collect(),
        }
    }

    fn shard(&self, token: &str) -> MutexGuard<'_, VerifiedShard> {
        let shard = &self.shards[(self.hasher.hash_one(token) % VERIFIED_TOKEN_SHARDS as u64) as usize];
        // Each operation is one map call: a panic cannot leave a shard half-changed.
        shard.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, token: &str) -> Option<(Principal, i64)> {
        self.shard(token).get(token).cloned()
    }

    fn remember(&self, token: &str, principal: Principal, expires_at: i64) {
        let mut shard = self.shard(token);
        if shard.len() >= VERIFIED_TOKENS_PER_SHARD {
            let forgotten = shard.keys().next().cloned();
            if let Some(forgotten) = forgotten {
                shard.remove(&forgotten);
            }
        }
        shard.insert(token.into(), (principal, expires_at));
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct AccessClaims {
    sub: String,
    role: Role,
    iss: String,
    iat: i64,
    exp: i64,
    jti: String,
    /// The account's `token_generation` when issued.
    #[serde(default, rename = "gen")]
    generation: u32,
    /// The login session (refresh-token family) the token belongs to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
}

/// Who a verified access token speaks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub account_id: AccountId,
    pub role: Role,
    /// The account's revocation watermark when the token was issued.
    pub generation: u32,
    /// The login session the token belongs to (see the module's doc), if any.
    pub session: Option<String>,
}

impl Principal {
    /// Whom a token issued now for `account`, outside any login session, names.
    pub fn of(account: &Account) -> Principal {
        Principal {
            account_id: account.id.clone(),
            role: account.role,
            generation: account.token_generation,
            session: None,
        }
    }

    /// Whom a token of the login session `session` issued now for `account` names.
    pub fn in_session(account: &Account, session: &str) -> Principal {
        Principal { session: Some(session.to_owned()), ..Principal::of(account) }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the access token is malformed, tampered with or not ours")]
    Invalid,
    #[error("the access token has expired")]
    Expired,
}

pub struct TokenIssuer {
    verified: VerifiedTokens,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    pub access_ttl_secs: u64,
    pub refresh_ttl_secs: u64,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenIssuer").field("issuer", &self.issuer).finish_non_exhaustive()
    }
}

impl TokenIssuer {
    pub fn new(settings: &AuthSettings) -> TokenIssuer {
        let secret = settings.jwt_secret.expose_secret().as_bytes();
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false; // checked against our clock in `verify`
        validation.set_issuer(&[settings.issuer.as_str()]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "sub"]);
        TokenIssuer {
            verified: VerifiedTokens::new(),
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            issuer: settings.issuer.clone(),
            access_ttl_secs: settings.access_token_ttl_secs,
            refresh_ttl_secs: settings.refresh_token_ttl_secs,
        }
    }

    pub fn issue_access(&self, principal: &Principal, now: DateTime<Utc>) -> anyhow::Result<String> {
        let claims = AccessClaims {
            sub: principal.account_id.to_string(),
            role: principal.role,
            generation: principal.generation,
            sid: principal.session.clone(),
            iss: self.issuer.clone(),
            iat: now.timestamp(),
            exp: now.timestamp() + self.access_ttl_secs as i64,
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    pub fn verify_access(&self, token: &str, now: DateTime<Utc>) -> Result<Principal, TokenError> {
        let (principal, expires_at) = match self.verified.get(token) {
            Some(known) => known,
            None => {
                let (principal, expires_at) = self.verify_signed(token)?;
                self.verified.remember(token, principal.clone(), expires_at);
                (principal, expires_at)
            }
        };
        if expires_at <= now.timestamp() {
            return Err(TokenError::Expired);
        }
        Ok(principal)
    }

    /// Checks the signature, algorithm, issuer and claims (not the expiry).
    fn verify_signed(&self, token: &str) -> Result<(Principal, i64), TokenError> {
        let claims = jsonwebtoken::decode::<AccessClaims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?
            .claims;
        let account_id = AccountId::parse(&claims.sub).ok_or(TokenError::Invalid)?;
        let principal = Principal { account_id, role: claims.role, generation: claims.generation, session: claims.sid };
        Ok((principal, claims.exp))
    }
}

/// A fresh refresh token (hex of 32 random bytes) and the digest to store.
pub fn new_refresh_token() -> (String, String) {
    let mut bytes = [0u8; REFRESH_TOKEN_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    let token = hex::encode(bytes);
    let digest = refresh_token_digest(&token);
    (token, digest)
}

/// What the store knows a refresh token by; the token itself is never stored.
pub fn refresh_token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

    fn issuer() -> TokenIssuer {
        issuer_with_secret("0123456789abcdef0123456789abcdef")
    }

    fn issuer_with_secret(secret: &str) -> TokenIssuer {
        TokenIssuer::new(&AuthSettings {
            jwt_secret: SecretString::from(secret),
            fingerprint_secret: SecretString::from("unused by tokens, but 32 bytes long".to_owned()),
            pin_pepper: SecretString::from("0123456789abcdef0123456789abcdef"),
            issuer: "walletgate".into(),
            access_token_ttl_secs: 900,
            refresh_token_ttl_secs: 3600,
            password_hashing_concurrency: 1,
            password_hashing_wait_ms: 1000,
            password_hash_memory_kib: 64,
            password_hash_iterations: 1,
        })
    }

    fn alice() -> Principal {
        Principal {
            account_id: AccountId::parse("acc_demo_alice").unwrap(),
            role: Role::User,
            generation: 0,
            session: Some("f00d".into()),
        }
    }

    #[test]
    fn a_token_verifies_until_it_expires() {
        let tokens = issuer();
        let now = Utc::now();
        let token = tokens.issue_access(&alice(), now).unwrap();
        let principal = tokens.verify_access(&token, now + chrono::Duration::seconds(899)).unwrap();
        assert_eq!(principal, alice());
        assert_eq!(tokens.verify_access(&token, now + chrono::Duration::seconds(900)), Err(TokenError::Expired));
    }

    #[test]
    fn tampered_and_unsigned_tokens_are_refused() {
        let tokens = issuer();
        let now = Utc::now();
        let token = tokens.issue_access(&alice(), now).unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        // alg none, same claims, no signature
        let none_header = "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0";
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert_eq!(tokens.verify_access(&unsigned, now), Err(TokenError::Invalid));
        parts[2] = parts[2].chars().rev().collect();
        assert_eq!(tokens.verify_access(&parts.join("."), now), Err(TokenError::Invalid));
        assert_eq!(tokens.verify_access("not-a-jwt", now), Err(TokenError::Invalid));
    }

    #[test]
    fn a_remembered_token_still_expires_and_stays_bound_to_its_key() {
        let tokens = issuer();
        let now = Utc::now();
        let token = tokens.issue_access(&alice(), now).unwrap();
        for _ in 0..2 {
            assert_eq!(tokens.verify_access(&token, now).unwrap(), alice());
        }
        assert_eq!(tokens.verify_access(&token, now + chrono::Duration::seconds(900)), Err(TokenError::Expired));
        let other_key = issuer_with_secret("another secret, another signing key, 32+ bytes");
        assert_eq!(other_key.verify_access(&token, now), Err(TokenError::Invalid));
        let tampered = format!("{token}x");
        assert_eq!(tokens.verify_access(&tampered, now), Err(TokenError::Invalid));
        assert_eq!(tokens.verify_access(&token, now).unwrap().role, Role::User);
    }

    #[test]
    fn a_full_memory_forgets_one_token_to_take_another() {
        let tokens = issuer();
        let now = Utc::now();
        let issued: Vec<String> = (0..VERIFIED_TOKEN_SHARDS * VERIFIED_TOKENS_PER_SHARD + 100)
            .map(|_| tokens.issue_access(&alice(), now).unwrap())
            .collect();
        for token in &issued {
            assert!(tokens.verify_access(token, now).is_ok());
        }
        let remembered: usize = tokens.verified.shards.iter().map(|shard| shard.lock().unwrap().len()).sum();
        assert!(remembered <= VERIFIED_TOKEN_SHARDS * VERIFIED_TOKENS_PER_SHARD, "bounded: {remembered}");
        assert!(issued.iter().all(|token| tokens.verify_access(token, now).is_ok()), "forgotten ones verify again");
    }

    #[test]
    fn refresh_tokens_are_random_and_stored_as_digests() {
        let (first, digest) = new_refresh_token();
        let (second, _) = new_refresh_token();
        assert_ne!(first, second);
        assert_eq!(first.len(), 64);
        assert_eq!(digest, refresh_token_digest(&first));
        assert_ne!(digest, first);
    }
}
