//! `/v1/pin` and `/v1/sms/codes`: the payment PIN and the SMS codes that
//! guard it. PIN entries and code requests are rate-limited per account and
//! per IP before any check runs.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::extract::{ApiJson, ClientIp};
use super::identity::AuthenticatedUser;
use super::responses::{
    AccountNotFound, PayloadTooLarge, PinIncorrect, PinLocked, PinMalformed, StoreBusy, Unauthenticated,
};
use crate::auth::one_time_codes::is_sms_code;
use crate::domain::identity::is_id_number_ending;
use crate::domain::pin::{Pin, PinError};
use crate::domain::sms::SmsPurpose;
use crate::error::{ApiError, ErrorBody};
use crate::rate_limit::{Action, RateLimits};
use crate::services::pin::{Pins, SentCode};

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"purpose": "set_pin"}))]
pub struct SmsCodeRequest {
    /// `set_pin`, `reset_pin`, `bind_wechat` or `bind_alipay` (resends the code of
    /// that provider's binding awaiting one);
    /// `register` codes come from `POST /v1/auth/register/code` instead.
    pub purpose: SmsPurpose,
}

/// A code was texted (to the mock SMS outbox).
#[derive(Debug, Serialize, ToSchema)]
pub struct SentCodeView {
    purpose: SmsPurpose,
    /// The masked phone it went to.
    #[schema(example = "138****0001")]
    sent_to: String,
    /// The code works until then.
    #[schema(example = "2025-05-01T08:35:00Z")]
    expires_at: DateTime<Utc>,
}

impl From<SentCode> for SentCodeView {
    fn from(sent: SentCode) -> SentCodeView {
        SentCodeView { purpose: sent.purpose, sent_to: sent.sent_to, expires_at: sent.expires_at }
    }
}

/// A code to check ahead of the change it confirms.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"purpose": "set_pin", "sms_code": "482913"}))]
pub struct CheckCodeRequest {
    /// `set_pin`, `reset_pin`, `bind_wechat` or `bind_alipay`: what the code was texted for.
    pub purpose: SmsPurpose,
    /// The 6-digit code.
    #[schema(pattern = r"^[0-9]{6}$", example = "482913")]
    pub sms_code: String,
}

/// `{"valid": true}`.
#[derive(Debug, Serialize, ToSchema)]
struct CodeCheckedView {
    #[schema(example = true)]
    valid: bool,
}

/// `{"pin_set": true}`.
#[derive(Debug, Serialize, ToSchema)]
struct PinSetView {
    #[schema(example = true)]
    pin_set: bool,
}

/// `{"verified": true}`.
#[derive(Debug, Serialize, ToSchema)]
struct PinVerifiedView {
    #[schema(example = true)]
    verified: bool,
}

/// Set or reset with `{pin, sms_code}`; change with `{pin, old_pin}`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"pin": "135790", "sms_code": "482913"}))]
pub struct SetPinRequest {
    /// The new 6-digit PIN; not a trivial one (`111111`, `123456`, …).
    #[schema(pattern = r"^[0-9]{6}$", example = "135790")]
    pub pin: String,
    /// A `set_pin` code (first PIN) or `reset_pin` code (forgotten PIN).
    #[schema(pattern = r"^[0-9]{6}$", example = "482913")]
    pub sms_code: Option<String>,
    /// The current PIN, to change it.
    #[schema(pattern = r"^[0-9]{6}$", example = json!(null))]
    pub old_pin: Option<String>,
    /// A reset of an account with a verified ID number needs its last six
    /// characters (two more than the masked number shows); a wrong answer
    /// spends the SMS code.
    #[schema(pattern = r"^[0-9]{5}[0-9Xx]$", example = json!(null))]
    pub id_number_last6: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyPinRequest {
    /// The 6-digit payment PIN.
    #[schema(pattern = r"^[0-9]{6}$", example = "135790")]
    pub pin: String,
}

/// A PIN a user enters to prove they know theirs.
pub fn entered_pin(field: &str, text: &str) -> Result<Pin, ApiError> {
    Pin::parse(text).map_err(|error| ApiError::validation(field, error))
}

/// A PIN a user picks as their new one.
fn chosen_pin(text: &str) -> Result<Pin, ApiError> {
    Pin::choose(text).map_err(|error| match error {
        PinError::Trivial => ApiError::PinTooSimple,
        PinError::Malformed => ApiError::validation("pin", error),
    })
}

/// Text an SMS code
///
/// Sends a six-digit code for `purpose` to the account's phone (in this
/// simulator: to `GET /mock/sms/outbox`). It lives five minutes, works once,
/// and dies after three wrong tries. Rate-limited per account and per IP address.
#[utoipa::path(
    post,
    path = "/v1/sms/codes",
    tag = "pin",
    security(("bearerAuth" = [])),
    request_body = SmsCodeRequest,
    responses(
        (status = 202, description = "The code is on its way.", body = SentCodeView),
        (status = 400, description = "`VALIDATION_FAILED`: an unknown `purpose` or field, or `register` (asked for \
            before registering, at `POST /v1/auth/register/code`).", body = ErrorBody),
        (status = 409, description = "`PIN_ALREADY_SET` (`set_pin` with a PIN set: use `reset_pin`), \
            `NO_PENDING_BINDING` (`bind_wechat` or `bind_alipay` with no binding of that provider \
            waiting for a code).", body = ErrorBody),
        (status = 422, description = "`PIN_NOT_SET` (`reset_pin` without a PIN), `PHONE_REQUIRED`.", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED` (`details.retry_after_secs`): too many codes requested.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        (status = 503, description = "`SMS_UNAVAILABLE` (outside the simulator profile there is no SMS gateway), \
            `SMS_NOT_SENT` (the gateway failed to send it: ask again), `STORE_UNAVAILABLE`, `STORE_BUSY`; retry after `Retry-After` seconds.", body = ErrorBody),
        Unauthenticated, AccountNotFound, PayloadTooLarge,
    )
)]
pub async fn request_sms_code(
    pins: web::Data<Pins>,
    rate_limits: web::Data<RateLimits>,
    user: AuthenticatedUser,
    ip: ClientIp,
    ApiJson(request): ApiJson<SmsCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    rate_limits.check(Action::SmsCode, user.account_id().as_str(), ip.0)?;
    let sent = pins.request_sms_code(user.account_id(), request.purpose).await?;
    Ok(HttpResponse::Accepted().json(SentCodeView::from(sent)))
}

/// Check an SMS code
///
/// Tells whether a code texted for `purpose` is right, without using it up,
/// so an app can catch a mistyped code before asking for the new PIN: a
/// right code still works once for the change it confirms (`PUT /v1/pin`,
/// confirming a binding); a wrong one costs one of its three tries, as it
/// would there. Rate-limited like PIN entries.
#[utoipa::path(
    post,
    path = "/v1/sms/codes/check",
    tag = "pin",
    security(("bearerAuth" = [])),
    request_body = CheckCodeRequest,
    responses(
        (status = 200, description = "The code is right; it stays for its change.", body = CodeCheckedView),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a code that is not 6 digits, an \
            unknown `purpose` or field.", body = ErrorBody),
        (status = 409, description = "`PIN_ALREADY_SET` (`set_pin` with a PIN set), `NO_PENDING_BINDING` \
            (`bind_wechat` or `bind_alipay` with no binding of that provider waiting for a code).", body = ErrorBody),
        (status = 422, description = "`SMS_CODE_INCORRECT` (`details.attempts_remaining`), `SMS_CODE_EXPIRED` \
            (none sent, expired, used, or voided by wrong tries), `PIN_NOT_SET` (`reset_pin` without a PIN).", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED` (`details.retry_after_secs`): too many entries for this \
            account or from this address.", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait."))),
        Unauthenticated, AccountNotFound, PayloadTooLarge, StoreBusy,
    )
)]
pub async fn check_sms_code(
    pins: web::Data<Pins>,
    rate_limits: web::Data<RateLimits>,
    user: AuthenticatedUser,
    ip: ClientIp,
    ApiJson(request): ApiJson<CheckCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    if !is_sms_code(&request.sms_code) {
        return Err(ApiError::validation("sms_code", "must be the 6-digit code from the SMS"));
    }
    rate_limits.check(Action::PinEntry, user.account_id().as_str(), ip.0)?;
    pins.check_sms_code(&user.0, request.purpose, &request.sms_code).await?;
    Ok(HttpResponse::Ok().json(CodeCheckedView { valid: true }))
}

/// Set, reset or change the payment PIN
///
/// Set the first PIN with `{pin, sms_code}` (a `set_pin` code); reset a
/// forgotten one with `{pin, sms_code}` (a `reset_pin` code, which also lifts a
/// lock), adding `id_number_last6` when the account has a verified ID number;
/// change it with `{pin, old_pin}`. A wrong `old_pin` counts towards the
/// lock. Withdrawals within a day of a change or reset wait for an operator.
#[utoipa::path(
    put,
    path = "/v1/pin",
    tag = "pin",
    security(("bearerAuth" = [])),
    request_body = SetPinRequest,
    responses(
        (status = 200, description = "The PIN is set.", body = PinSetView),
        (status = 400, description = "`VALIDATION_FAILED`: a PIN or code that is not 6 digits, both or neither of \
            `sms_code` and `old_pin`, a new PIN equal to the old, a verified account's reset without \
            `id_number_last6`, an unknown field.", body = ErrorBody),
        (status = 422, description = "`PIN_TOO_SIMPLE`, `SMS_CODE_INCORRECT` (`details.attempts_remaining`), \
            `SMS_CODE_EXPIRED`, `IDENTITY_CHECK_FAILED` (a reset's `id_number_last6` is wrong; the code is spent), \
            `PIN_INCORRECT` (`details.attempts_remaining`), `PIN_NOT_SET`.", body = ErrorBody),
        (status = 423, description = "`PIN_LOCKED` (`details.locked_until`): changing needs the old PIN; reset instead.", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED` (`details.retry_after_secs`): too many PIN entries for this \
            account or from this address.", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait."))),
        Unauthenticated, AccountNotFound, PayloadTooLarge, StoreBusy,
    )
)]
pub async fn set_pin(
    pins: web::Data<Pins>,
    rate_limits: web::Data<RateLimits>,
    user: AuthenticatedUser,
    ip: ClientIp,
    ApiJson(request): ApiJson<SetPinRequest>,
) -> Result<HttpResponse, ApiError> {
    let pin = chosen_pin(&request.pin)?;
    rate_limits.check(Action::PinEntry, user.account_id().as_str(), ip.0)?;
    match (request.sms_code.as_deref(), request.old_pin.as_deref()) {
        (Some(code), None) => {
            if !is_sms_code(code) {
                return Err(ApiError::validation("sms_code", "must be the 6-digit code from the SMS"));
            }
            if request.id_number_last6.as_deref().is_some_and(|answer| !is_id_number_ending(answer)) {
                return Err(ApiError::validation(
                    "id_number_last6",
                    "must be the last six characters of the ID number",
                ));
            }
            pins.set_pin_with_sms(&user.0, pin, code, request.id_number_last6.as_deref()).await?;
        }
        (None, Some(old)) => {
            let old = entered_pin("old_pin", old)?;
            if old.expose() == pin.expose() {
                return Err(ApiError::validation("pin", "must differ from the old PIN"));
            }
            pins.change_pin(&user.0, old, pin).await?;
        }
        _ => return Err(ApiError::validation("sms_code", "give either sms_code (set or reset) or old_pin (change)")),
    }
    Ok(HttpResponse::Ok().json(PinSetView { pin_set: true }))
}

/// Check the payment PIN
///
/// For an app's "enter your PIN" screen. A wrong PIN counts like any entry:
/// the fifth in a row locks it (3 hours, then longer).
#[utoipa::path(
    post,
    path = "/v1/pin/verify",
    tag = "pin",
    security(("bearerAuth" = [])),
    request_body = VerifyPinRequest,
    responses(
        (status = 200, description = "The PIN is right.", body = PinVerifiedView),
        (status = 429, description = "`RATE_LIMITED` (`details.retry_after_secs`): too many PIN entries for this \
            account or from this address.", body = ErrorBody, headers(("Retry-After" = u64, description = "Seconds to wait."))),
        PinMalformed, Unauthenticated, AccountNotFound, PayloadTooLarge, PinIncorrect, PinLocked, StoreBusy,
    )
)]
pub async fn verify_pin(
    pins: web::Data<Pins>,
    rate_limits: web::Data<RateLimits>,
    user: AuthenticatedUser,
    ip: ClientIp,
    ApiJson(request): ApiJson<VerifyPinRequest>,
) -> Result<HttpResponse, ApiError> {
    let pin = entered_pin("pin", &request.pin)?;
    rate_limits.check(Action::PinEntry, user.account_id().as_str(), ip.0)?;
    pins.verify_pin(user.account_id(), pin).await?;
    Ok(HttpResponse::Ok().json(PinVerifiedView { verified: true }))
}
