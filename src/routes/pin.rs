//! `/v1/pin` and `/v1/sms/codes`: the payment PIN and the SMS codes that
//! guard it. PIN entries and code requests are rate-limited per account and
//! per IP before any check runs.

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::extract::{ApiJson, ClientIp};
use crate::auth::AuthenticatedUser;
use crate::auth::one_time_codes::is_sms_code;
use crate::domain::pin::{Pin, PinError};
use crate::domain::sms::SmsPurpose;
use crate::error::ApiError;
use crate::rate_limit::Action;
use crate::services::Services;

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct SmsCodeRequest {
    /// `set_pin`, `reset_pin` or `bind_wechat` (resends the code of the binding awaiting one).
    pub purpose: SmsPurpose,
}

#[derive(Debug, Serialize)]
struct SentCodeView {
    purpose: SmsPurpose,
    sent_to: String,
    expires_at: DateTime<Utc>,
}

/// Set or reset with `{pin, sms_code}`; change with `{pin, old_pin}`.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct SetPinRequest {
    /// The new 6-digit PIN.
    pub pin: String,
    /// A `set_pin` code (first PIN) or `reset_pin` code (forgotten PIN).
    pub sms_code: Option<String>,
    /// The current PIN, to change it.
    pub old_pin: Option<String>,
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct VerifyPinRequest {
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

pub async fn request_sms_code(
    services: web::Data<Services>,
    user: AuthenticatedUser,
    ip: ClientIp,
    ApiJson(request): ApiJson<SmsCodeRequest>,
) -> Result<HttpResponse, ApiError> {
    services.rate_limits.check(Action::SmsCode, user.account_id().as_str(), ip.0)?;
    let sent = services.request_sms_code(user.account_id(), request.purpose).await?;
    Ok(HttpResponse::Accepted().json(SentCodeView {
        purpose: sent.purpose,
        sent_to: sent.sent_to,
        expires_at: sent.expires_at,
    }))
}

pub async fn set_pin(
    services: web::Data<Services>,
    user: AuthenticatedUser,
    ip: ClientIp,
    ApiJson(request): ApiJson<SetPinRequest>,
) -> Result<HttpResponse, ApiError> {
    let pin = chosen_pin(&request.pin)?;
    services.rate_limits.check(Action::PinEntry, user.account_id().as_str(), ip.0)?;
    match (request.sms_code.as_deref(), request.old_pin.as_deref()) {
        (Some(code), None) => {
            if !is_sms_code(code) {
                return Err(ApiError::validation("sms_code", "must be the 6-digit code from the SMS"));
            }
            services.set_pin_with_sms(user.account_id(), pin, code).await?;
        }
        (None, Some(old)) => {
            let old = entered_pin("old_pin", old)?;
            if old.expose() == pin.expose() {
                return Err(ApiError::validation("pin", "must differ from the old PIN"));
            }
            services.change_pin(user.account_id(), old, pin).await?;
        }
        _ => return Err(ApiError::validation("sms_code", "give either sms_code (set or reset) or old_pin (change)")),
    }
    Ok(HttpResponse::Ok().json(serde_json::json!({ "pin_set": true })))
}

pub async fn verify_pin(
    services: web::Data<Services>,
    user: AuthenticatedUser,
    ip: ClientIp,
    ApiJson(request): ApiJson<VerifyPinRequest>,
) -> Result<HttpResponse, ApiError> {
    let pin = entered_pin("pin", &request.pin)?;
    services.rate_limits.check(Action::PinEntry, user.account_id().as_str(), ip.0)?;
    services.verify_pin(user.account_id(), pin).await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "verified": true })))
}
