//! Authentication: password hashing, one-time codes, token issue and
//! verification, and `admit`, the check that a token's account still honours
//! it. The request extractors that turn a `Bearer` token into an identity
//! are the routes' (`routes::identity`).
//!
//! A valid signature is not the last word. Money-moving services check, with
//! `admit`, that the account exists and has not revoked the token, on the
//! account record they load anyway (see `Partitions::update_account_as`);
//! operators' roles are read from the store (`Accounts::admit_operator`).

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::domain::account::Account;
use crate::error::{ApiError, BearerError};

pub mod one_time_codes;
pub mod password;
pub mod tokens;

pub use tokens::{Principal, TokenIssuer};

/// Checks access tokens at the wall clock's now (never a simulator's
/// business clock, so advancing it signs nobody out): all the request
/// extractors need to know who is calling.
#[derive(Debug, Clone)]
pub struct AccessTokens {
    pub issuer: Arc<TokenIssuer>,
    pub clock: SharedClock,
}

impl AccessTokens {
    /// The identity a bearer access token carries, if it is valid now.
    pub fn verify(&self, token: &str) -> Result<Principal, ApiError> {
        self.issuer
            .verify_access(token, self.clock.now())
            .map_err(|error| ApiError::bearer_refused(BearerError::InvalidToken, error.to_string()))
    }
}

/// The refusal of a token whose account is gone or has revoked it.
pub fn session_ended() -> ApiError {
    ApiError::bearer_refused(
        BearerError::InvalidToken,
        "this access token is no longer valid for its account; log in again",
    )
}

/// Whether `principal`'s token may still act on `account` (the account it
/// names, as just loaded): refused when the account has revoked it since.
pub fn admit(principal: &Principal, account: &Account) -> Result<(), ApiError> {
    if account.id == principal.account_id && account.honours_tokens_of(principal.generation) {
        Ok(())
    } else {
        Err(session_ended())
    }
}
