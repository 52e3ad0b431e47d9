//! Authentication and authorisation: password hashing, token issue and
//! verification, and the request extractors that turn a `Bearer` token into
//! an identity. A handler that takes `AuthenticatedUser` can only run for a
//! valid token; one that takes `Operator` only for an operator's.

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpRequest, web};

use crate::domain::account::{AccountId, Role};
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

impl FromRequest for Operator {
    type Error = ApiError;
    type Future = Ready<Result<Operator, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(principal_of(request).and_then(|principal| match principal.role {
            Role::Operator => Ok(Operator(principal)),
            Role::User => Err(ApiError::Forbidden { required: "operator" }),
        }))
    }
}
