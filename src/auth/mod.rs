//! Authentication and authorisation: password hashing, token issue and
//! verification, and the request extractors that turn a `Bearer` token into
//! an identity. A handler that takes `AuthenticatedUser` can only run for a
//! valid token; one that takes `Operator` only for an operator's.
//!
//! A valid signature is not the last word. `Operator` loads the operator's
//! account (one store read) and refuses a token whose account does not exist
//! or has revoked it (401) or whose stored role is not operator (403), so a
//! token claiming a role it was never given gets nowhere. Money-moving
//! services make the same existence and revocation check, `admit`, on the
//! account record they load anyway (see `Services::update_account_as`).

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};

use crate::domain::account::{Account, AccountId, Role};
use crate::error::ApiError;
use crate::services::Services;

pub mod one_time_codes;
pub mod password;
pub mod tokens;

pub use tokens::{Principal, TokenIssuer};

/// Any logged-in account (user or operator), acting on its own resources.
#[derive(Debug, Clone)]
pub struct AuthenticatedUser(pub Principal);

impl AuthenticatedUser {
    pub fn account_id(&self) -> &AccountId {
        &self.0.account_id
    }
}

/// A logged-in operator; user tokens are refused with 403.
#[derive(Debug, Clone)]
pub struct Operator(pub Principal);

impl Operator {
    pub fn account_id(&self) -> &AccountId {
        &self.0.account_id
    }
}

fn principal_of(request: &HttpRequest) -> Result<Principal, ApiError> {
    let services = request
        .app_data::<web::Data<Services>>()
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("services are not registered with the app")))?;
    let header = request
        .headers()
        .get(AUTHORIZATION)
        .ok_or_else(|| ApiError::Unauthenticated("missing Authorization: Bearer <token> header".into()))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ApiError::Unauthenticated("the Authorization header must be 'Bearer <token>'".into()))?;
    services
        .tokens
        .verify_access(token, services.clock.now())
        .map_err(|error| ApiError::Unauthenticated(error.to_string()))
}

impl FromRequest for AuthenticatedUser {
    type Error = ApiError;
    type Future = Ready<Result<AuthenticatedUser, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal_of(request).map(AuthenticatedUser))
    }
}

/// The refusal of a token whose account is gone or has revoked it.
pub fn session_ended() -> ApiError {
    ApiError::Unauthenticated("this access token is no longer valid for its account; log in again".into())
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

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Operator, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let principal = principal_of(request);
        let services = request.app_data::<web::Data<Services>>().cloned();
        Box::pin(async move {
            let principal = principal?;
            if principal.role != Role::Operator {
                return Err(ApiError::Forbidden { required: "operator" });
            }
            let services = services
                .ok_or_else(|| ApiError::internal(anyhow::anyhow!("services are not registered with the app")))?;
            // The claim said operator; the account record decides.
            let stored = services.store.load_account(&principal.account_id).await?;
            let account = stored.ok_or_else(session_ended)?.value;
            admit(&principal, &account)?;
            match account.role {
                Role::Operator => Ok(Operator(principal)),
                Role::User => Err(ApiError::Forbidden { required: "operator" }),
            }
        })
    }
}
