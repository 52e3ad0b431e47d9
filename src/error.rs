//! The one public error catalogue. Every error a client can see is a variant
//! here with a stable machine `code`, an HTTP status and a message; the JSON
//! body is always `{"error":{"code","message","details","request_id"}}`,
//! where `details` has, per code, fixed keys of fixed JSON types (the
//! error-shape test in `tests/api/errors.rs` holds the table). Domain and store
//! errors convert into it in one place (the `From` impls below), so handlers
//! just use `?`. Unexpected failures become one opaque `INTERNAL` error whose
//! full cause chain is logged but never sent.

use actix_web::http::StatusCode;
use actix_web::http::header::{ALLOW, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use actix_web::{HttpResponse, ResponseError};
use serde_json::{Value, json};

use crate::domain::asset::Asset;
use crate::domain::asset::QuantityError;
use crate::domain::binding::BindingError;
use crate::domain::credentials::CredentialError;
use crate::domain::kyc::KycError;
use crate::domain::ledger::{LedgerAccount, LedgerError};
use crate::domain::limits::{LimitError, LimitKind};
use crate::domain::money::MoneyError;
use crate::domain::scenario::ScenarioError;
use crate::domain::sim_clock::ClockError;
use crate::domain::transfer::TransferError;
use crate::domain::transfer_decision::TransferRefusal;
use crate::domain::transfer_policy::TransferLimit;
use crate::domain::withdrawal::WithdrawalError;
use crate::domain::withdrawal_decision::{PinRefusal, WithdrawalRefusal};
use crate::store::StoreError;

/// The body of every error response, as the OpenAPI document describes it
/// (`ApiError::body` writes it; a test below keeps the two in step).
#[derive(Debug, utoipa::ToSchema)]
#[schema(example = json!({
    "error": {"code": "PIN_INCORRECT", "message": "the payment PIN is incorrect", "details": {"attempts_remaining": 4},
        "request_id": "9b2f0c1e-5d1a-4f4e-8f43-2c1d7e0a6b55"}
}))]
pub struct ErrorBody {
    pub error: ErrorObject,
}

#[derive(Debug, utoipa::ToSchema)]
#[schema(example = json!({
    "code": "VALIDATION_FAILED", "message": "must have at most 2 decimal places (fen)", "details": {"field": "amount"},
    "request_id": "9b2f0c1e-5d1a-4f4e-8f43-2c1d7e0a6b55"
}))]
pub struct ErrorObject {
    /// A stable machine code from the catalogue, e.g. `VALIDATION_FAILED`,
    /// `PIN_INCORRECT`; each operation lists the codes it can answer with.
    #[schema(example = "VALIDATION_FAILED")]
    pub code: String,
    /// For people; the wording may change.
    #[schema(example = "must have at most 2 decimal places (fen)")]
    pub message: String,
    /// Facts about this error, by code, each key always of the same JSON
    /// type: `field` (`VALIDATION_FAILED`, absent when the request as a whole
    /// is at fault), `attempts_remaining`, `locked_until`, `retry_after_secs`,
    /// amounts as decimal strings (`available`, `requested`, `minimum`), …;
    /// `LIMIT_EXCEEDED` has `limit` and, for an amount limit
    /// (`per_transaction`, `daily`, `monthly`), `remaining` (a decimal
    /// string), for `daily_count` `remaining_count` (an integer);
    /// `SCENARIO_INVALID` has `scenario` and, unless the whole file is at
    /// fault, `field` and `line` (an integer). `{}` when none.
    #[schema(value_type = Object)]
    pub details: Value,
    /// The request's id, as its `X-Request-Id` response header carries it:
    /// quote it when reporting a problem.
    #[schema(example = "9b2f0c1e-5d1a-4f4e-8f43-2c1d7e0a6b55")]
    pub request_id: String,
}

/// What a refused bearer token was refused for, as RFC 6750 names it in
/// `WWW-Authenticate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BearerError {
    /// The `Authorization` header is there but not `Bearer <token>`.
    InvalidRequest,
    /// The token is malformed, forged, expired or revoked.
    InvalidToken,
}

impl BearerError {
    fn as_str(self) -> &'static str {
        match self {
            BearerError::InvalidRequest => "invalid_request",
            BearerError::InvalidToken => "invalid_token",
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A request that cannot be understood: malformed JSON, unknown fields, a bad value.
    #[error("{message}")]
    Validation { field: Option<String>, message: String },
    #[error("the request body is larger than {bytes_max} bytes")]
    PayloadTooLarge { bytes_max: usize },
    #[error("the request body did not arrive within {secs} s")]
    RequestTimeout { secs: u64 },
    #[error("the URL (path and query) is longer than {bytes_max} bytes")]
    UriTooLong { bytes_max: usize },
    #[error("the request headers are larger than {bytes_max} bytes")]
    HeadersTooLarge { bytes_max: usize },
    /// No credentials, or a login or refresh token that does not hold.
    #[error("{0}")]
    Unauthenticated(String),
    /// An `Authorization` header was sent and refused.
    #[error("{message}")]
    BearerRefused { error: BearerError, message: String },
    #[error("this action needs the {required} role")]
    Forbidden { required: &'static str },
    #[error("{resource} not found")]
    NotFound { resource: &'static str },
    /// A path the service has, asked for with a method it does not take there.
    #[error("this path takes only {}", allowed.join(", "))]
    MethodNotAllowed { allowed: Vec<&'static str> },
    #[error("an account with this login already exists")]
    AlreadyRegistered,
    #[error("the available balance is too low for this movement")]
    InsufficientBalance { available: String, requested: String },
    #[error("this account is frozen")]
    AccountFrozen,
    #[error("the password is incorrect")]
    PasswordIncorrect,
    #[error("logging in is locked after too many failed attempts")]
    LoginLocked { locked_until: chrono::DateTime<chrono::Utc> },
    #[error("the payment PIN is incorrect")]
    PinIncorrect { attempts_remaining: u8 },
    #[error("the payment PIN is locked after too many wrong entries")]
    PinLocked { locked_until: chrono::DateTime<chrono::Utc> },
    #[error("no payment PIN is set yet")]
    PinNotSet,
    #[error("a payment PIN is already set; change it with the old PIN, or reset it with a reset_pin code")]
    PinAlreadySet,
    #[error("the new PIN is too easy to guess (repeated digits, a run like 123456, or a common PIN)")]
    PinTooSimple,
    #[error("no binding is waiting for an SMS code")]
    NoPendingBinding,
    #[error("this ID number already verifies another account")]
    IdNumberTaken,
    #[error("the destination is not an active binding of this account")]
    NoActiveBinding,
    #[error("this verification level cannot withdraw; verify your identity first")]
    VerificationRequired,
    #[error("the amount is below the minimum of {minimum}")]
    AmountBelowMinimum { minimum: String },
    #[error("the quote has expired or no longer matches; ask for a new one")]
    QuoteExpired,
    #[error("this Idempotency-Key was used with a different request")]
    IdempotencyKeyReused,
    #[error("the withdrawal is already finished ({status})")]
    WithdrawalFinished { status: String },
    #[error("this withdrawal is not waiting for an operator's decision")]
    WithdrawalAlreadyDecided { status: &'static str },
    #[error("the payout of this withdrawal has already been made; it can no longer be rejected")]
    PayoutAlreadyMade { transfer_bill_no: String },
    #[error("{}", amount_limit_message(*limit, remaining))]
    AmountLimitExceeded { limit: LimitKind, remaining: String },
    #[error("no withdrawals are left today: the daily count limit is reached")]
    CountLimitExceeded { remaining_count: u32 },
    #[error("the amount is over the {} transfer limit: {remaining} {asset} left", limit.as_str())]
    TransferLimitExceeded { limit: TransferLimit, asset: Asset, remaining: String },
    #[error("a transfer goes to another account, not your own")]
    TransferToSelf,
    #[error("no user can receive money at this phone number or account id")]
    RecipientNotFound,
    #[error("the recipient's account is frozen and cannot receive money")]
    RecipientFrozen,
    #[error("the verification request does not apply: {reason}")]
    KycConflict { reason: &'static str },
    #[error("the simulated face check did not pass")]
    FaceCheckFailed,
    #[error("this needs a phone number on the account, to receive SMS codes")]
    PhoneRequired,
    #[error("the SMS code is incorrect")]
    SmsCodeIncorrect { attempts_remaining: u8 },
    #[error("the last six characters of the ID number do not match the verified identity; request a new SMS code")]
    IdentityCheckFailed,
    #[error("there is no valid SMS code: it expired, was used, or had too many wrong tries; request a new one")]
    SmsCodeExpired,
    #[error("the binding state is unknown, expired or already used; start the binding again")]
    BindingStateInvalid,
    #[error("the user declined the authorization")]
    BindingConsentDenied,
    #[error("WeChat refused the authorization code: {errmsg}")]
    WeChatAuthorizationFailed { errcode: i64, errmsg: String },
    #[error("this WeChat user is in snapshot mode (a virtual identity) and cannot be bound")]
    WeChatSnapshotUser,
    #[error("this WeChat account is already bound to another walletgate account")]
    WeChatAlreadyBound,
    #[error("a wallet of this provider is already bound to this account; unbind it first")]
    BindingAlreadyActive { binding_id: String },
    #[error("the binding is {status}, so this step does not apply")]
    BindingStatusConflict { status: &'static str },
    #[error("the binding attempt has expired; start again")]
    BindingExpired,
    #[error("WeChat is unavailable; retry shortly")]
    WeChatUnavailable,
    #[error("Alipay refused the authorization: {sub_code}")]
    AlipayAuthorizationFailed { sub_code: String, sub_msg: String },
    #[error("this Alipay account is already bound to another walletgate account")]
    AlipayAlreadyBound,
    /// A wallet provider (Alipay; WeChat keeps `WECHAT_UNAVAILABLE`) did not
    /// answer, or not in a way that can be trusted.
    #[error("the wallet provider ({provider}) is unavailable; retry shortly")]
    ProviderUnavailable { provider: &'static str },
    /// Outside the simulator profile there is no SMS gateway to send a code.
    #[error("no SMS gateway is configured; codes cannot be sent")]
    SmsUnavailable,
    /// The SMS gateway failed to send the code (a simulator rule can make it).
    #[error("the text message with the code could not be sent; ask for a new code")]
    SmsNotSent,
    #[error("the business clock only moves forward; it reads {now}")]
    ClockWouldGoBackwards { now: chrono::DateTime<chrono::Utc> },
    #[error("one advance moves the business clock at most {max_secs} s; advance again to go further")]
    ClockAdvanceTooFar { max_secs: i64 },
    #[error("another advance of the business clock is under way; retry when it is done")]
    ClockAdvancing,
    #[error(
        "another change of the business clock (a reset, or an advance begun after this one's lease ran out) interrupted this advance"
    )]
    ClockAdvanceInterrupted,
    #[error("too many requests; retry after {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("the store is unavailable; retry shortly")]
    StoreUnavailable,
    /// A scenario (a file, or a body sent to load) that cannot be loaded.
    #[error("scenario {scenario}: {error}")]
    ScenarioInvalid { scenario: String, error: ScenarioError },
    #[error("too many concurrent changes to this account; retry shortly")]
    StoreBusy,
    /// Too much expensive work (password hashing) is waiting already.
    #[error("the server is busy; retry shortly")]
    ServerBusy,
    #[error("internal error")]
    Internal(#[source] anyhow::Error),
}

/// Builds `ApiError::entry`'s match and `ApiError::CODES` from the rows of
/// the catalogue (see there): the rows keep the shape of a match arm,
/// `pattern => "CODE",`, with the status and details of that arm on the line
/// under it.
macro_rules! catalogue {
    ($($pattern:pat => $code:literal, $status:ident $(, $details:expr)?;)*) => {
        /// Every code of the catalogue, in its order; a code some variants
        /// share appears once for each.
        pub const CODES: &[&str] = &[$($code),*];

        /// The catalogue, one row per variant: `pattern => "CODE",` and under
        /// it the HTTP status and, if it has any, the details (a JSON object,
        /// from the pattern's bindings). The message is the variant's `#[error]`.
        fn entry(&self) -> Entry {
            match self {
                $($pattern => Entry::new($code, StatusCode::$status)$(.details($details))?,)*
            }
        }
    };
}

impl ApiError {
    pub fn validation(field: impl Into<String>, message: impl std::fmt::Display) -> ApiError {
        ApiError::Validation { field: Some(field.into()), message: message.to_string() }
    }

    pub fn internal(error: impl Into<anyhow::Error>) -> ApiError {
        ApiError::Internal(error.into())
    }

    /// An error actix raised by itself (an extractor without an error
    /// handler of ours, such as `web::Bytes` over its `PayloadConfig` limit),
    /// in the catalogue: by its status, with `body_bytes_max` for a 413.
    pub fn from_framework(status: StatusCode, error: &actix_web::Error, body_bytes_max: usize) -> ApiError {
        match status {
            StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { bytes_max: body_bytes_max },
            status if status.is_client_error() => ApiError::Validation { field: None, message: error.to_string() },
            _ => ApiError::internal(anyhow::anyhow!("{error}")),
        }
    }

    /// The stable machine code, e.g. `PIN_INCORRECT`.
    pub fn code(&self) -> &'static str {
        self.entry().code
    }

    /// Wraps a refusal of the bearer token that was sent.
    pub fn bearer_refused(error: BearerError, message: impl Into<String>) -> ApiError {
        ApiError::BearerRefused { error, message: message.into() }
    }

    /// The JSON body, `{"error":{"code","message","details","request_id"}}`,
    /// with the id of the request being handled (none outside a request).
    pub fn body(&self) -> Value {
        self.body_for(crate::telemetry::current_request_id().as_deref())
    }

    /// The JSON body for the request with `request_id`.
    pub fn body_for(&self, request_id: Option<&str>) -> Value {
        let Entry { code, details, .. } = self.entry();
        let mut error = json!({ "code": code, "message": self.to_string(), "details": details });
        if let (Some(id), Some(fields)) = (request_id, error.as_object_mut()) {
            fields.insert("request_id".into(), json!(id));
        }
        json!({ "error": error })
    }

    /// The `WWW-Authenticate` challenge of a 401 (RFC 6750): `Bearer`, with
    /// the reason when a sent token was refused.
    fn challenge(&self) -> Option<String> {
        match self {
            ApiError::Unauthenticated(_) => Some("Bearer".to_owned()),
            ApiError::BearerRefused { error, .. } => Some(format!("Bearer error=\"{}\"", error.as_str())),
            _ => None,
        }
    }

    /// Seconds a client should wait before trying again: a rate limit says
    /// how long; anything unavailable (every 503) is worth a retry after a second.
    fn retry_after_secs(&self) -> Option<u64> {
        match self {
            ApiError::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ if self.entry().status == StatusCode::SERVICE_UNAVAILABLE => Some(1),
            _ => None,
        }
    }

    catalogue! {
            ApiError::Validation { field, .. } => "VALIDATION_FAILED",
                BAD_REQUEST, field.as_ref().map(|field| json!({ "field": field }));
            ApiError::PayloadTooLarge { bytes_max } => "PAYLOAD_TOO_LARGE",
                PAYLOAD_TOO_LARGE, json!({ "bytes_max": bytes_max });
            ApiError::RequestTimeout { secs } => "REQUEST_TIMEOUT",
                REQUEST_TIMEOUT, json!({ "timeout_secs": secs });
            ApiError::UriTooLong { bytes_max } => "URI_TOO_LONG",
                URI_TOO_LONG, json!({ "bytes_max": bytes_max });
            ApiError::HeadersTooLarge { bytes_max } => "HEADERS_TOO_LARGE",
                REQUEST_HEADER_FIELDS_TOO_LARGE, json!({ "bytes_max": bytes_max });
            ApiError::Unauthenticated(_) => "UNAUTHENTICATED",
                UNAUTHORIZED;
            ApiError::BearerRefused { .. } => "UNAUTHENTICATED",
                UNAUTHORIZED;
            ApiError::Forbidden { required } => "FORBIDDEN",
                FORBIDDEN, json!({ "required_role": required });
            ApiError::NotFound { resource } => "NOT_FOUND",
                NOT_FOUND, json!({ "resource": resource });
            ApiError::MethodNotAllowed { allowed } => "METHOD_NOT_ALLOWED",
                METHOD_NOT_ALLOWED, json!({ "allowed": allowed });
            ApiError::AlreadyRegistered => "ALREADY_REGISTERED",
                CONFLICT;
            ApiError::InsufficientBalance { available, requested } => "INSUFFICIENT_BALANCE",
                UNPROCESSABLE_ENTITY, json!({ "available": available, "requested": requested });
            ApiError::AccountFrozen => "ACCOUNT_FROZEN",
                LOCKED;
            ApiError::PasswordIncorrect => "PASSWORD_INCORRECT",
                UNPROCESSABLE_ENTITY;
            ApiError::LoginLocked { locked_until } => "LOGIN_LOCKED",
                LOCKED, json!({ "locked_until": locked_until });
            ApiError::PinIncorrect { attempts_remaining } => "PIN_INCORRECT",
                UNPROCESSABLE_ENTITY, json!({ "attempts_remaining": attempts_remaining });
            ApiError::PinLocked { locked_until } => "PIN_LOCKED",
                LOCKED, json!({ "locked_until": locked_until });
            ApiError::PinNotSet => "PIN_NOT_SET",
                UNPROCESSABLE_ENTITY;
            ApiError::PinAlreadySet => "PIN_ALREADY_SET",
                CONFLICT;
            ApiError::PinTooSimple => "PIN_TOO_SIMPLE",
                UNPROCESSABLE_ENTITY;
            ApiError::NoPendingBinding => "NO_PENDING_BINDING",
                CONFLICT;
            ApiError::IdNumberTaken => "ID_NUMBER_TAKEN",
                CONFLICT;
            ApiError::NoActiveBinding => "NO_ACTIVE_BINDING",
                UNPROCESSABLE_ENTITY;
            ApiError::VerificationRequired => "VERIFICATION_REQUIRED",
                FORBIDDEN;
            ApiError::AmountBelowMinimum { minimum } => "AMOUNT_BELOW_MINIMUM",
                UNPROCESSABLE_ENTITY, json!({ "minimum": minimum });
            ApiError::QuoteExpired => "QUOTE_EXPIRED",
                CONFLICT;
            ApiError::IdempotencyKeyReused => "IDEMPOTENCY_KEY_REUSED",
                CONFLICT;
            ApiError::WithdrawalFinished { status } => "WITHDRAWAL_ALREADY_FINISHED",
                CONFLICT, json!({ "status": status });
            ApiError::WithdrawalAlreadyDecided { status } => "WITHDRAWAL_ALREADY_DECIDED",
                CONFLICT, json!({ "status": status });
            ApiError::PayoutAlreadyMade { transfer_bill_no } => "PAYOUT_ALREADY_MADE",
                CONFLICT, json!({ "transfer_bill_no": transfer_bill_no });
            ApiError::AmountLimitExceeded { limit, remaining } => "LIMIT_EXCEEDED",
                UNPROCESSABLE_ENTITY, json!({ "limit": limit.as_str(), "remaining": remaining });
            ApiError::CountLimitExceeded { remaining_count } => "LIMIT_EXCEEDED",
                UNPROCESSABLE_ENTITY,
                json!({ "limit": LimitKind::DailyCount.as_str(), "remaining_count": remaining_count });
            ApiError::TransferLimitExceeded { limit, asset, remaining } => "LIMIT_EXCEEDED",
                UNPROCESSABLE_ENTITY, json!({ "limit": limit.as_str(), "asset": asset, "remaining": remaining });
            ApiError::TransferToSelf => "TRANSFER_TO_SELF",
                UNPROCESSABLE_ENTITY;
            ApiError::RecipientNotFound => "RECIPIENT_NOT_FOUND",
                UNPROCESSABLE_ENTITY;
            ApiError::RecipientFrozen => "RECIPIENT_FROZEN",
                UNPROCESSABLE_ENTITY;
            ApiError::KycConflict { reason } => "KYC_CONFLICT",
                CONFLICT, json!({ "reason": reason });
            ApiError::FaceCheckFailed => "FACE_CHECK_FAILED",
                UNPROCESSABLE_ENTITY;
            ApiError::PhoneRequired => "PHONE_REQUIRED",
                UNPROCESSABLE_ENTITY;
            ApiError::SmsCodeIncorrect { attempts_remaining } => "SMS_CODE_INCORRECT",
                UNPROCESSABLE_ENTITY, json!({ "attempts_remaining": attempts_remaining });
            ApiError::IdentityCheckFailed => "IDENTITY_CHECK_FAILED",
                UNPROCESSABLE_ENTITY;
            ApiError::SmsCodeExpired => "SMS_CODE_EXPIRED",
                UNPROCESSABLE_ENTITY;
            ApiError::BindingStateInvalid => "BINDING_STATE_INVALID",
                BAD_REQUEST;
            ApiError::BindingConsentDenied => "BINDING_CONSENT_DENIED",
                UNPROCESSABLE_ENTITY;
            ApiError::WeChatAuthorizationFailed { errcode, errmsg } => "WECHAT_AUTHORIZATION_FAILED",
                UNPROCESSABLE_ENTITY, json!({ "errcode": errcode, "errmsg": errmsg });
            ApiError::WeChatSnapshotUser => "WECHAT_SNAPSHOT_USER",
                UNPROCESSABLE_ENTITY;
            ApiError::WeChatAlreadyBound => "WECHAT_ALREADY_BOUND",
                CONFLICT;
            ApiError::BindingAlreadyActive { binding_id } => "BINDING_ALREADY_ACTIVE",
                CONFLICT, json!({ "binding_id": binding_id });
            ApiError::BindingStatusConflict { status } => "BINDING_STATUS_CONFLICT",
                CONFLICT, json!({ "status": status });
            ApiError::BindingExpired => "BINDING_EXPIRED",
                UNPROCESSABLE_ENTITY;
            ApiError::WeChatUnavailable => "WECHAT_UNAVAILABLE",
                SERVICE_UNAVAILABLE;
            ApiError::AlipayAuthorizationFailed { sub_code, sub_msg } => "ALIPAY_AUTHORIZATION_FAILED",
                UNPROCESSABLE_ENTITY, json!({ "sub_code": sub_code, "sub_msg": sub_msg });
            ApiError::AlipayAlreadyBound => "ALIPAY_ALREADY_BOUND",
                CONFLICT;
            ApiError::ProviderUnavailable { provider } => "PROVIDER_UNAVAILABLE",
                SERVICE_UNAVAILABLE, json!({ "provider": provider });
            ApiError::SmsUnavailable => "SMS_UNAVAILABLE",
                SERVICE_UNAVAILABLE;
            ApiError::SmsNotSent => "SMS_NOT_SENT",
                SERVICE_UNAVAILABLE;
            ApiError::ClockWouldGoBackwards { now } => "CLOCK_WOULD_GO_BACKWARDS",
                UNPROCESSABLE_ENTITY, json!({ "now": now });
            ApiError::ClockAdvanceTooFar { max_secs } => "CLOCK_ADVANCE_TOO_FAR",
                UNPROCESSABLE_ENTITY, json!({ "max_secs": max_secs });
            ApiError::ClockAdvancing => "CLOCK_ADVANCING",
                CONFLICT;
            ApiError::ClockAdvanceInterrupted => "CLOCK_ADVANCE_INTERRUPTED",
                CONFLICT;
            ApiError::RateLimited { retry_after_secs } => "RATE_LIMITED",
                TOO_MANY_REQUESTS, json!({ "retry_after_secs": retry_after_secs });
            ApiError::StoreUnavailable => "STORE_UNAVAILABLE",
                SERVICE_UNAVAILABLE;
            ApiError::ScenarioInvalid { scenario, error } => "SCENARIO_INVALID",
                UNPROCESSABLE_ENTITY, scenario_details(scenario, error);
            ApiError::StoreBusy => "STORE_BUSY",
                SERVICE_UNAVAILABLE;
            ApiError::ServerBusy => "SERVER_BUSY",
                SERVICE_UNAVAILABLE;
            ApiError::Internal(_) => "INTERNAL",
                INTERNAL_SERVER_ERROR;
    }
}

/// Where a scenario is wrong: the scenario, and the field and line when the
/// error is about one rather than the whole file.
fn scenario_details(scenario: &str, error: &ScenarioError) -> Value {
    let mut details = json!({ "scenario": scenario });
    if let Some(field) = &error.field {
        details["field"] = json!(field);
    }
    if let Some(line) = error.line {
        details["line"] = json!(line);
    }
    details
}

/// What `LIMIT_EXCEEDED` says for an amount limit, in that limit's terms.
fn amount_limit_message(limit: LimitKind, remaining: &str) -> String {
    match limit {
        LimitKind::PerTransaction => format!("the amount is over the per-transaction limit of {remaining}"),
        LimitKind::Daily => format!("the amount is over what is left of today's limit ({remaining})"),
        LimitKind::Monthly => format!("the amount is over what is left of this month's limit ({remaining})"),
        LimitKind::DailyCount => "the daily count limit is reached".to_owned(),
    }
}

/// One row of the catalogue: what a client is told besides the message.
struct Entry {
    code: &'static str,
    status: StatusCode,
    /// Facts about this error (`{}` when none), sent as `details`.
    details: Value,
}

impl Entry {
    fn new(code: &'static str, status: StatusCode) -> Entry {
        Entry { code, status, details: json!({}) }
    }

    fn details(self, details: impl Into<Option<Value>>) -> Entry {
        Entry { details: details.into().unwrap_or_else(|| json!({})), ..self }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.entry().status
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(error.cause_chain = ?cause, "unexpected error");
        }
        let mut response = HttpResponse::build(self.status_code()).json(self.body());
        if let Some(secs) = self.retry_after_secs() {
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(secs));
        }
        if let ApiError::MethodNotAllowed { allowed } = self
            && let Ok(value) = HeaderValue::from_str(&allowed.join(", "))
        {
            response.headers_mut().insert(ALLOW, value);
        }
        if let Some(challenge) = self.challenge()
            && let Ok(value) = HeaderValue::from_str(&challenge)
        {
            response.headers_mut().insert(WWW_AUTHENTICATE, value);
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> ApiError {
        match error {
            StoreError::Unavailable(reason) => {
                tracing::warn!(%reason, "store unavailable");
                ApiError::StoreUnavailable
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<ClockError> for ApiError {
    fn from(error: ClockError) -> ApiError {
        match error {
            ClockError::WouldGoBackwards { now } => ApiError::ClockWouldGoBackwards { now },
            ClockError::TooFar { max_secs } => ApiError::ClockAdvanceTooFar { max_secs },
            ClockError::Advancing => ApiError::ClockAdvancing,
            ClockError::Interrupted => ApiError::ClockAdvanceInterrupted,
        }
    }
}

impl From<CredentialError> for ApiError {
    fn from(error: CredentialError) -> ApiError {
        ApiError::validation(error.field(), error)
    }
}

impl From<LedgerError> for ApiError {
    fn from(error: LedgerError) -> ApiError {
        match error {
            LedgerError::InsufficientFunds { account: LedgerAccount::UserAvailable, balance, change } => {
                ApiError::InsufficientBalance {
                    available: balance.to_string(),
                    requested: change.negated().to_string(),
                }
            }
            LedgerError::Money(MoneyError::Overflow)
            | LedgerError::Quantity(QuantityError::Invalid(MoneyError::Overflow)) => {
                ApiError::validation("amount", "the resulting balance would be too large")
            }
            other => ApiError::internal(other),
        }
    }
}

impl From<TransferError> for ApiError {
    fn from(error: TransferError) -> ApiError {
        match error {
            TransferError::ToSelf => ApiError::TransferToSelf,
            TransferError::SenderFrozen => ApiError::AccountFrozen,
            TransferError::SenderHasNoWallet => ApiError::NotFound { resource: "wallet" },
            TransferError::Ledger(error) => error.into(),
            other => ApiError::internal(other),
        }
    }
}

impl From<BindingError> for ApiError {
    fn from(error: BindingError) -> ApiError {
        match error {
            BindingError::NotFound => ApiError::NotFound { resource: "binding" },
            BindingError::AlreadyActive { binding_id } => {
                ApiError::BindingAlreadyActive { binding_id: binding_id.to_string() }
            }
            BindingError::WrongStatus { status, .. } => ApiError::BindingStatusConflict { status: status.as_str() },
            BindingError::Expired => ApiError::BindingExpired,
        }
    }
}

impl From<KycError> for ApiError {
    fn from(error: KycError) -> ApiError {
        match error {
            KycError::NotFound => ApiError::NotFound { resource: "kyc_request" },
            KycError::AlreadyVerified => ApiError::KycConflict { reason: "already_verified" },
            KycError::AlreadyPending => ApiError::KycConflict { reason: "already_pending" },
            KycError::AlreadyDecided => ApiError::KycConflict { reason: "already_decided" },
            KycError::IdentityMismatch => ApiError::KycConflict { reason: "identity_mismatch" },
            KycError::FaceCheckFailed => ApiError::FaceCheckFailed,
        }
    }
}

impl From<TransferRefusal> for ApiError {
    fn from(refusal: TransferRefusal) -> ApiError {
        match refusal {
            TransferRefusal::ToSelf => ApiError::TransferToSelf,
            TransferRefusal::RecipientNotFound => ApiError::RecipientNotFound,
            TransferRefusal::RecipientFrozen => ApiError::RecipientFrozen,
            TransferRefusal::Pin(refusal) => refusal.into(),
            TransferRefusal::AccountFrozen => ApiError::AccountFrozen,
            TransferRefusal::VerificationRequired => ApiError::VerificationRequired,
            TransferRefusal::LimitExceeded { limit, remaining } => {
                ApiError::TransferLimitExceeded { limit, asset: remaining.asset(), remaining: remaining.to_string() }
            }
            TransferRefusal::InsufficientBalance { available, requested } => {
                ApiError::InsufficientBalance { available: available.to_string(), requested: requested.to_string() }
            }
        }
    }
}

impl From<PinRefusal> for ApiError {
    fn from(refusal: PinRefusal) -> ApiError {
        match refusal {
            PinRefusal::Incorrect { attempts_remaining } => ApiError::PinIncorrect { attempts_remaining },
            PinRefusal::Locked { until } => ApiError::PinLocked { locked_until: until },
            PinRefusal::NotSet => ApiError::PinNotSet,
        }
    }
}

impl From<WithdrawalRefusal> for ApiError {
    fn from(refusal: WithdrawalRefusal) -> ApiError {
        match refusal {
            WithdrawalRefusal::Withdrawal(error) => error.into(),
            WithdrawalRefusal::Pin(refusal) => refusal.into(),
            WithdrawalRefusal::QuoteExpired => ApiError::QuoteExpired,
        }
    }
}

impl From<WithdrawalError> for ApiError {
    fn from(error: WithdrawalError) -> ApiError {
        match error {
            WithdrawalError::BindingNotFound => ApiError::NotFound { resource: "binding" },
            WithdrawalError::NoActiveBinding => ApiError::NoActiveBinding,
            WithdrawalError::AccountFrozen => ApiError::AccountFrozen,
            WithdrawalError::InsufficientBalance { available, required } => {
                ApiError::InsufficientBalance { available: available.to_string(), requested: required.to_string() }
            }
            WithdrawalError::Limit(LimitError::NotAllowed) => ApiError::VerificationRequired,
            WithdrawalError::Limit(LimitError::BelowMinimum { minimum }) => {
                ApiError::AmountBelowMinimum { minimum: minimum.to_string() }
            }
            WithdrawalError::Limit(LimitError::AmountExceeded { limit, remaining }) => {
                ApiError::AmountLimitExceeded { limit, remaining: remaining.to_string() }
            }
            WithdrawalError::Limit(LimitError::CountExceeded { remaining }) => {
                ApiError::CountLimitExceeded { remaining_count: remaining }
            }
            WithdrawalError::Limit(LimitError::Money(error)) | WithdrawalError::Money(error) => {
                ApiError::internal(error)
            }
            WithdrawalError::Ledger(error) => error.into(),
            WithdrawalError::AlreadyFinished(status) => {
                ApiError::WithdrawalFinished { status: status.as_str().to_owned() }
            }
            WithdrawalError::AlreadyDecided(status) | WithdrawalError::NotPayable(status) => {
                ApiError::WithdrawalAlreadyDecided { status: status.as_str() }
            }
            WithdrawalError::NotFound => ApiError::NotFound { resource: "withdrawal" },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::body::to_bytes;

    async fn body_of(error: ApiError) -> (StatusCode, Value, Option<String>) {
        let response = error.error_response();
        let retry_after = response.headers().get(RETRY_AFTER).map(|v| v.to_str().unwrap().to_owned());
        let status = response.status();
        let bytes = to_bytes(response.into_body()).await.unwrap();
        (status, serde_json::from_slice(&bytes).unwrap(), retry_after)
    }

    #[actix_web::test]
    async fn errors_render_the_catalogue_shape() {
        let (status, body, _) = body_of(ApiError::validation("amount", "must not be empty")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "VALIDATION_FAILED");
        assert_eq!(body["error"]["details"]["field"], "amount");
        assert_eq!(body["error"]["message"], "must not be empty");
    }

    #[test]
    fn the_documented_error_schema_matches_the_body() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(ErrorObject::schema()).unwrap();
        let mut documented: Vec<&str> =
            schema["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        let body = ApiError::PinIncorrect { attempts_remaining: 4 }.body_for(Some("req-1"));
        let mut sent: Vec<&str> = body["error"].as_object().unwrap().keys().map(String::as_str).collect();
        documented.sort_unstable();
        sent.sort_unstable();
        assert_eq!(documented, sent);
    }

    #[actix_web::test]
    async fn internal_errors_hide_their_cause() {
        let (status, body, _) = body_of(ApiError::internal(anyhow::anyhow!("secret table xyz broke"))).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        assert!(!body.to_string().contains("xyz"));
    }

    #[actix_web::test]
    async fn rate_limits_and_outages_say_when_to_retry() {
        let (status, _, retry_after) = body_of(ApiError::RateLimited { retry_after_secs: 7 }).await;
        assert_eq!((status, retry_after.as_deref()), (StatusCode::TOO_MANY_REQUESTS, Some("7")));
        let (status, body, retry_after) = body_of(StoreError::Unavailable("down".into()).into()).await;
        assert_eq!((status, retry_after.as_deref()), (StatusCode::SERVICE_UNAVAILABLE, Some("1")));
        assert_eq!(body["error"]["code"], "STORE_UNAVAILABLE");
    }
}
