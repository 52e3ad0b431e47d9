//! `/v1/auth`: register, log in, refresh.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use validator::Validate;

use super::extract::{ApiJson, ClientIp};
use super::views::ProfileView;
use crate::domain::credentials::{Login, Password};
use crate::error::ApiError;
use crate::rate_limit::Action;
use crate::services::Services;

/// Credentials: exactly one of `phone` or `email`, and the password.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct CredentialsRequest {
    /// Mainland mobile number, e.g. `13800000001`.
    pub phone: Option<String>,
    pub email: Option<String>,
    /// 8–128 characters.
    pub password: String,
}

impl CredentialsRequest {
    fn login(&self) -> Result<Login, ApiError> {
        Ok(Login::from_parts(self.phone.as_deref(), self.email.as_deref())?)
    }
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    #[validate(length(min = 1, max = 256, message = "must be the refresh_token from a login or refresh"))]
    pub refresh_token: String,
}

pub async fn register(
    services: web::Data<Services>,
    ApiJson(request): ApiJson<CredentialsRequest>,
) -> Result<HttpResponse, ApiError> {
    let login = request.login()?;
    let password = Password::parse(request.password)?;
    let account = services.register(login, password).await?;
    Ok(HttpResponse::Created().json(ProfileView::of(&account, services.now(), &services.pin_policy)))
}

pub async fn login(
    services: web::Data<Services>,
    ip: ClientIp,
    ApiJson(request): ApiJson<CredentialsRequest>,
) -> Result<HttpResponse, ApiError> {
    let login = request.login()?;
    services.rate_limits.check(Action::Login, &login.index_key(), ip.0)?;
    let tokens = services.login(login, request.password).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

pub async fn refresh(
    services: web::Data<Services>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let tokens = services.refresh(&request.refresh_token).await?;
    Ok(HttpResponse::Ok().json(tokens))
}
