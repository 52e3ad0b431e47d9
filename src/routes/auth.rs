//! `/v1/auth`: register (after proving the phone by SMS), log in, refresh,
//! log out.
//!
//! A browser app may keep its refresh token in the `walletgate_refresh`
//! cookie instead of in script-readable storage: a login with
//! `refresh_cookie: true` sets it (HttpOnly, SameSite=Strict, only sent to
//! `/v1/auth`) and leaves the token out of the body; a refresh or logout
//! without a `refresh_token` in the body uses the cookie, and a refresh by
//! cookie sets the next one. Other sites cannot send it (SameSite) nor read
//! an answer (no CORS credentials), and no script can read it at all.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use super::extract::{ApiJson, ClientIp};
use super::identity::MaybeAuthenticated;
use super::pin::SentCodeView;
use super::responses::{PasswordHashingBusy, PayloadTooLarge, StoreBusy};
use super::views::ProfileView;
use crate::auth::one_time_codes::is_sms_code;
use crate::domain::credentials::{Login, Password};
use crate::error::{ApiError, ErrorBody};
use crate::rate_limit::{Action, RateLimits};
use crate::services::accounts::Accounts;
use crate::services::accounts::TokenPair;
use crate::services::registration::Registration;

/// The cookie a browser app's refresh token can live in.
pub const REFRESH_COOKIE: &str = "walletgate_refresh";
/// Where the browser sends it: the token endpoints only.
const REFRESH_COOKIE_PATH: &str = "/v1/auth";

/// Registration: exactly one of `phone` or `email`, the password, and for a
/// phone the `register` SMS code.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"phone": "13800000009", "password": "correct-horse", "sms_code": "482913"}))]
pub struct RegisterRequest {
    /// Mainland mobile number, e.g. `13800000009` (11 digits, starting 13–19).
    #[schema(pattern = r"^1[3-9][0-9]{9}$", example = "13800000009")]
    pub phone: Option<String>,
    /// An email address, e.g. `someone@example.com`.
    #[schema(example = json!(null))]
    pub email: Option<String>,
    /// 8–128 characters, not only whitespace.
    #[schema(min_length = 8, max_length = 128, example = "correct-horse")]
    pub password: String,
    /// The `register` code texted by `POST /v1/auth/register/code` to `phone`
    /// (it works once). Required when `sms.register_code_required` is on;
    /// checked whenever given.
    #[schema(pattern = r"^[0-9]{6}$", example = "482913")]
    pub sms_code: Option<String>,
}

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
    /// `true` (a browser app): set the refresh token as the HttpOnly
    /// `walletgate_refresh` cookie and leave it out of the body.
    #[serde(default)]
    #[schema(example = false)]
    pub refresh_cookie: bool,
}

impl CredentialsRequest {
    fn login(&self) -> Result<Login, ApiError> {
        Ok(Login::from_parts(self.phone.as_deref(), self.email.as_deref())?)
    }
}

/// A phone to text a `register` code to.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"phone": "13800000009"}))]
pub struct RegisterCodeRequest {
    /// Mainland mobile number, e.g. `13800000009`.
    #[schema(pattern = r"^1[3-9][0-9]{9}$", example = "13800000009")]
    pub phone: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"refresh_token": "3f9c2a7d41e84b0c9d5e6f7a8b9c0d1e3f9c2a7d41e84b0c9d5e6f7a8b9c0d1e"}))]
pub struct RefreshRequest {
    /// The `refresh_token` of the latest login or refresh; leave it out to
    /// use the `walletgate_refresh` cookie.
    #[validate(length(min = 1, max = 256, message = "must be the refresh_token from a login or refresh"))]
    #[schema(
        min_length = 1,
        max_length = 256,
        example = "3f9c2a7d41e84b0c9d5e6f7a8b9c0d1e3f9c2a7d41e84b0c9d5e6f7a8b9c0d1e"
    )]
    pub refresh_token: Option<String>,
}

/// Where a refresh token came from: the body, or the cookie.
enum Presented {
    Body(String),
    Cookie(String),
}

impl Presented {
    fn token(&self) -> &str {
        match self {
            Presented::Body(token) | Presented::Cookie(token) => token,
        }
    }
}

/// The refresh token of a refresh or logout: the body's, else the cookie's.
fn presented_refresh_token(request: &HttpRequest, body: &RefreshRequest) -> Option<Presented> {
    match &body.refresh_token {
        Some(token) => Some(Presented::Body(token.clone())),
        None => request
            .cookie(REFRESH_COOKIE)
            .map(|cookie| cookie.value().to_owned())
            .filter(|token| !token.is_empty() && token.len() <= 256)
            .map(Presented::Cookie),
    }
}

/// The refresh cookie holding `value` for `max_age_secs` (0 deletes it).
fn refresh_cookie(request: &HttpRequest, value: &str, max_age_secs: u64) -> Cookie<'static> {
    Cookie::build(REFRESH_COOKIE, value.to_owned())
        .path(REFRESH_COOKIE_PATH)
        .http_only(true)
        .same_site(SameSite::Strict)
        .secure(request.connection_info().scheme() == "https")
        .max_age(CookieDuration::seconds(i64::try_from(max_age_secs).unwrap_or(i64::MAX)))
        .finish()
}

/// The answer carrying `tokens`: as they are, or with the refresh token moved
/// from the body into the cookie.
fn token_answer(request: &HttpRequest, mut tokens: TokenPair, in_cookie: bool) -> HttpResponse {
    let mut answer = HttpResponse::Ok();
    if in_cookie && let Some(refresh_token) = tokens.refresh_token.take() {
        answer.cookie(refresh_cookie(request, &refresh_token, tokens.refresh_expires_in));
    }
    answer.json(tokens)
}

/// Text a registration code
///
/// Texts a six-digit `register` code to a phone before an account is opened
/// with it (in this simulator: to `GET /mock/sms/outbox`); give it as
/// `sms_code` to `POST /v1/auth/register`. It lives five minutes, works once
/// and dies after three wrong tries; a new one replaces it. The answer is the
/// same whether or not the phone is registered. Rate-limited per phone and
/// per IP address, like the other SMS codes.
#[utoipa::path(
    post,
    path = "/v1/auth/register/code",
    tag = "auth",
    request_body = RegisterCodeRequest,
    responses(
        (status = 202, description = "The code is on its way.", body = SentCodeView),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field` = `phone`): a malformed phone, an \
            unknown field.", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED` (`details.retry_after_secs`): too many codes for this phone or \
            from this address.", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`SMS_UNAVAILABLE` (outside the simulator profile there is no SMS gateway), \
            `STORE_UNAVAILABLE`, `STORE_BUSY`; retry after `Retry-After` seconds.", body = ErrorBody),
        PayloadTooLarge,
    )
)]
pub async fn register_code(
    registration: web::Data<Registration>,
    rate_limits: web::Data<RateLimits>,
    ip: ClientIp,
    ApiJson(request): ApiJson<RegisterCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    let login = Login::phone(&request.phone)?;
    rate_limits.check(Action::SmsCode, &login.index_key(), ip.0)?;
    let phone = login.phone_number().unwrap_or_default();
    let sent = registration.send_code(phone).await?;
    Ok(HttpResponse::Accepted().json(SentCodeView::from(sent)))
}

/// Register an account
///
/// Opens a new L0 account with a zero balance for exactly one of `phone` or
/// `email`. A phone is proved first: `POST /v1/auth/register/code` texts a
/// code, given here as `sms_code` (required when `sms.register_code_required`
/// is on, checked whenever given). Log in afterwards to get tokens.
/// Rate-limited per phone or email and per IP address (a 409 tells whether a
/// login is taken).
#[utoipa::path(
    post,
    path = "/v1/auth/register",
    tag = "auth",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "The new account's profile.", body = ProfileView),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): both or neither of phone and email, \
            a malformed phone or email, a password outside 8–128 characters, an `sms_code` that is not 6 digits \
            (or given with an email, or missing where required), an unknown field.", body = ErrorBody),
        (status = 409, description = "`ALREADY_REGISTERED`: an account with this phone or email exists.", body = ErrorBody),
        (status = 422, description = "`SMS_CODE_INCORRECT` (`details.attempts_remaining`), `SMS_CODE_EXPIRED` \
            (none sent to this phone, expired, used, or voided by wrong tries).", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED` (`details.retry_after_secs`): too many registrations for this \
            login or from this address.", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait."))),
        PayloadTooLarge, PasswordHashingBusy,
    )
)]
pub async fn register(
    accounts: web::Data<Accounts>,
    registration: web::Data<Registration>,
    rate_limits: web::Data<RateLimits>,
    ip: ClientIp,
    ApiJson(request): ApiJson<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    let login = Login::from_parts(request.phone.as_deref(), request.email.as_deref())?;
    let password = Password::parse(request.password)?;
    if request.sms_code.as_deref().is_some_and(|code| !is_sms_code(code)) {
        return Err(ApiError::validation("sms_code", "must be the 6-digit code from the SMS"));
    }
    rate_limits.check(Action::Register, &login.index_key(), ip.0)?;
    registration.check(&login, request.sms_code.as_deref()).await?;
    let account = accounts.register(login, password).await?;
    Ok(HttpResponse::Created().json(ProfileView::of(&account, accounts.partitions.now(), &accounts.pin_policy)))
}

/// Log in
///
/// Exchanges a phone or email and password for an access token (a JWT for
/// `Authorization: Bearer`) and a refresh token (in the body, or with
/// `refresh_cookie` as the HttpOnly `walletgate_refresh` cookie). A wrong password and an
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
        (status = 200, description = "The token pair.", body = TokenPair,
            headers(("Set-Cookie" = String, description = "With `refresh_cookie`: `walletgate_refresh`, the refresh \
                token (HttpOnly, SameSite=Strict, Path=/v1/auth)."))),
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
    http: HttpRequest,
    ApiJson(request): ApiJson<CredentialsRequest>,
) -> Result<HttpResponse, ApiError> {
    let login = request.login()?;
    rate_limits.check(Action::Login, &login.index_key(), ip.0)?;
    let tokens = accounts.login(login, request.password).await?;
    Ok(token_answer(&http, tokens, request.refresh_cookie))
}

/// Refresh the tokens
///
/// Trades a refresh token (the body's `refresh_token`, else the
/// `walletgate_refresh` cookie) for a new pair. Each refresh token works
/// once; presenting a used one again revokes every token of its family. A
/// token from the cookie is answered with the next one in the cookie.
#[utoipa::path(
    post,
    path = "/v1/auth/refresh",
    tag = "auth",
    request_body = RefreshRequest,
    params(("walletgate_refresh" = Option<String>, Cookie, description = "The refresh token, when the body has none.")),
    responses(
        (status = 200, description = "The new token pair.", body = TokenPair,
            headers(("Set-Cookie" = String, description = "When the token came from the cookie: the next one."))),
        (status = 400, description = "`VALIDATION_FAILED`: no `refresh_token` and no cookie, an overlong \
            `refresh_token`, an unknown field.", body = ErrorBody),
        (status = 401, description = "`UNAUTHENTICATED`: the refresh token is invalid, expired, already used or \
            logged out.", body = ErrorBody),
        PayloadTooLarge, StoreBusy,
    )
)]
pub async fn refresh(
    accounts: web::Data<Accounts>,
    http: HttpRequest,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let presented = presented_refresh_token(&http, &request).ok_or_else(|| {
        ApiError::validation("refresh_token", "give the refresh_token from a login or refresh, or send its cookie")
    })?;
    let tokens = accounts.refresh(presented.token()).await?;
    Ok(token_answer(&http, tokens, matches!(presented, Presented::Cookie(_))))
}

/// Log out
///
/// Ends a login session: the one of the bearer access token (if one is
/// sent and valid) and the one of the refresh token (the body's
/// `refresh_token`, else the `walletgate_refresh` cookie). Their refresh
/// tokens stop working, and so do their access tokens, at once, on every
/// instance; the account's other sessions go on. Clears the cookie. Logging
/// out with nothing to end, or twice, is no error.
#[utoipa::path(
    post,
    path = "/v1/auth/logout",
    tag = "auth",
    request_body = RefreshRequest,
    params(("walletgate_refresh" = Option<String>, Cookie, description = "The refresh token, when the body has none.")),
    responses(
        (status = 204, description = "Logged out.",
            headers(("Set-Cookie" = String, description = "`walletgate_refresh`, expired."))),
        (status = 400, description = "`VALIDATION_FAILED`: an overlong `refresh_token`, an unknown field.", body = ErrorBody),
        PayloadTooLarge, StoreBusy,
    )
)]
pub async fn logout(
    accounts: web::Data<Accounts>,
    caller: MaybeAuthenticated,
    http: HttpRequest,
    ApiJson(request): ApiJson<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    let presented = presented_refresh_token(&http, &request);
    accounts.log_out(caller.0.as_ref(), presented.as_ref().map(Presented::token)).await?;
    Ok(HttpResponse::NoContent().cookie(refresh_cookie(&http, "", 0)).finish())
}
