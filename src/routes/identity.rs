//! The request extractors that turn a `Bearer` token into an identity. A
//! handler that takes `AuthenticatedUser` can only run for a valid token of
//! a login session that has not ended (logged out: see
//! `Accounts::admit_session`);
//! one that takes `Operator` only for an operator's, as the store says: the
//! operator's account is loaded and must still honour the token (401) and
//! hold the operator role (403), so a token claiming a role it was never
//! given gets nowhere.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};

use crate::auth::{AccessTokens, Principal};
use crate::domain::account::AccountId;
use crate::error::{ApiError, BearerError};
use crate::services::accounts::Accounts;

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

/// App data a handler's extractor needs; its absence is a wiring bug.
fn app_data<T: 'static>(request: &HttpRequest) -> Result<web::Data<T>, ApiError> {
    request.app_data::<web::Data<T>>().cloned().ok_or_else(|| {
        ApiError::internal(anyhow::anyhow!("{} is not registered with the app", std::any::type_name::<T>()))
    })
}

fn principal_of(request: &HttpRequest) -> Result<Principal, ApiError> {
    let tokens = app_data::<AccessTokens>(request)?;
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
        .ok_or_else(|| {
            ApiError::bearer_refused(BearerError::InvalidRequest, "the Authorization header must be 'Bearer <token>'")
        })?;
    tokens.verify(token)
}

/// The bearer token's principal, if one was sent and is valid: for an
/// endpoint that also serves callers without one (logging out).
#[derive(Debug, Clone)]
pub struct MaybeAuthenticated(pub Option<Principal>);

impl FromRequest for MaybeAuthenticated {
    type Error = ApiError;
    type Future = Ready<Result<MaybeAuthenticated, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Ok(MaybeAuthenticated(principal_of(request).ok())))
    }
}

impl FromRequest for AuthenticatedUser {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<AuthenticatedUser, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let principal = principal_of(request);
        let accounts = app_data::<Accounts>(request);
        Box::pin(async move {
            let principal = principal?;
            accounts?.admit_session(&principal).await?;
            Ok(AuthenticatedUser(principal))
        })
    }
}

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Operator, ApiError>>>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let principal = principal_of(request);
        let accounts = app_data::<Accounts>(request);
        Box::pin(async move {
            let principal = principal?;
            let accounts = accounts?;
            accounts.admit_session(&principal).await?;
            accounts.admit_operator(&principal).await?;
            Ok(Operator(principal))
        })
    }
}
