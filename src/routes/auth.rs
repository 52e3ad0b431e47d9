//! `/v1/auth`: register, log in, refresh.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use super::extract::{ApiJson, ClientIp};
use super::responses::{PasswordHashingBusy, PayloadTooLarge, StoreBusy};
use super::views::ProfileView;
use crate::domain::credentials::{Login, Password};
use crate::error::{ApiError, ErrorBody};
use crate::rate_limit::{Action, RateLimits};
use crate::services::accounts::Accounts;
use crate::services::accounts::TokenPair;

/// Credentials: exactly one of `phone` or `email`, and the password.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"phone": "13800000001", "password": "alice-demo"}))]
pub struct CredentialsRequest {
    /// Mainland mobile number, e.g. `13800000001` (11 digits, starting 13–19).
    #[schema(pattern = r"^1[3-9][0-9]{9}$", example = "13800000001")]
    pub phone: Option<String>,
    /// An email address (operators log in with one), e.g. `ops@walletgate.test`.
    #[schema(example = "ops@walletgate.test")]
    pub email: Option<String>,
    /// 8–128 characters, not only whitespace.
    #[schema(min_length = 8, max_length = 128, example = "alice-demo")]
    pub password: String,
}

impl CredentialsRequest {
    fn login(&self) -> Result<Login, ApiError> {
        Ok(Login::from_parts(self.phone.as_deref(), self.email.as_deref())?)
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    /// The `refresh_token` of the latest login or refresh.
    #[validate(length(min = 1, max = 256, message = "must be the refresh_token from a login or refresh"))]
    #[schema(
        min_length = 1,
        max_length = 256,
        example = "3f9c2a7d41e84b0c9d5e6f7a8b9c0d1e3f9c2a7d41e84b0c9d5e6f7a8b9c0d1e"
    )]
    pub refresh_token: String,
}

/// Register an account
///
/// Opens a new L0 account with a zero balance for exactly one of `phone` or
/// `email`. Log in afterwards to get tokens. Rate-limited per phone or email
/// and per IP address (a 409 tells whether a login is taken).
#[utoipa::path(
    post,
    path = "/v1/auth/register",
    tag = "auth",
    request_body = CredentialsRequest,
    responses(
        (status = 201, description = "The new account's profile.", body = ProfileView),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): both or neither of phone and email, \
            a malformed phone or email, a password outside 8–128 characters, an unknown field.", body = ErrorBody),
        (status = 409, description = "`ALREADY_REGISTERED`: an account with this phone or email exists.", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED` (`details.retry_after_secs`): too many registrations for this \
            login or from this address.", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait."))),
        PayloadTooLarge, PasswordHashingBusy,
    )
)]
pub async fn register(
    accounts: web::Data<Accounts>,
    rate_limits: web::Data<RateLimits>,
    ip: ClientIp,
    ApiJson(request): ApiJson<CredentialsRequest>,
) -> Result<HttpResponse, ApiError> {
    let login = request.login()?;
    let password = Password::parse(request.password)?;
    rate_limits.check(Action::Register, &login.index_key(), ip.0)?;
    let account = accounts.register(login, password).await?;
    Ok(HttpResponse::Created().json(ProfileView::of(&account, accounts.partitions.now(), &accounts.pin_policy)))
}

/// Log in
///
/// Exchanges a phone or email and password for an access token (a JWT for
/// `Authorization: Bearer`) and a refresh token. A wrong password and an
/// unknown login get the same 401. Rate-limited per login and per IP address;
/// the fifth failure in a row locks the login (15 minutes, doubling with each
/// further lock, at most 24 hours), across every gateway instance, and while
/// locked even the right password is refused with 423.
#[utoipa::path(
    post,
    path = "/v1/auth/login",
    tag = "auth",
    request_body = CredentialsRequest,
    responses(
        (status = 200, description = "The token pair.", body = TokenPair),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): both or neither of phone and email, \
            a malformed phone or email, an unknown field.", body = ErrorBody),
        (status = 401, description = "`UNAUTHENTICATED`: wrong login or password.", body = ErrorBody),
        (status = 423, description = "`LOGIN_LOCKED` (`details.locked_until`): too many failed logins in a row; \
            unknown logins answer alike.", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED` (`details.retry_after_secs`): too many attempts for this login \
            or from this address.", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait."))),
        PayloadTooLarge, PasswordHashingBusy,
    )
)]
pub async fn login(
    accounts: web::Data<Accounts>,
    rate_limits: web::Data<RateLimits>,
    ip: ClientIp,
    ApiJson(request): ApiJson<CredentialsRequest>,
) -> Result<HttpResponse, ApiError> {
    let login = request.login()?;
    rate_limits.check(Action::Login, &login.index_key(), ip.0)?;
    let tokens = accounts.login(login, request.password).await?;
    Ok(HttpResponse::Ok().json(tokens))
}

/// Refresh the tokens
///
/// Trades a refresh token for a new pair. Each refresh token works once;
/// presenting a used one again revokes every token of its family.
#[utoipa::path(
    post,
    path = "/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "The new token pair.", body = TokenPair),
        (status = 400, description = "`VALIDATION_FAILED`: a missing or overlong `refresh_token`, an unknown field.", body = ErrorBody),
        (status = 401, description = "`UNAUTHENTICATED`: the refresh token is invalid, expired or already used.", body = ErrorBody),
        PayloadTooLarge, StoreBusy,
    )
)]
pub async fn refresh(
    accounts: web::Data<Accounts>,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let tokens = accounts.refresh(&request.refresh_token).await?;
    Ok(HttpResponse::Ok().json(tokens))
}
