//! The error responses many operations share, declared once for the OpenAPI
//! document: an operation lists them by name in its `#[utoipa::path]`
//! `responses(...)`, beside the responses only it has. Each is the
//! catalogue's `ErrorBody` with a status and a description naming its codes;
//! the types are never built, they only describe.

// The `ErrorBody` inside each type is what utoipa reads the schema from.
#![allow(dead_code, reason = "these types describe responses and are never built")]

use utoipa::IntoResponses;

use crate::error::ErrorBody;

/// A bearer-token operation called without a valid token.
#[derive(IntoResponses)]
#[response(
    status = 401,
    description = "`UNAUTHENTICATED`: no, or an invalid or expired, bearer token.",
    headers(("WWW-Authenticate" = String, description = "`Bearer`; `Bearer error=\"invalid_token\"` when the token \
        sent was refused, `Bearer error=\"invalid_request\"` when the `Authorization` header is not `Bearer <token>` \
        (RFC 6750)."))
)]
pub struct Unauthenticated(ErrorBody);

/// An operator's operation called with a user's token.
#[derive(IntoResponses)]
#[response(status = 403, description = "`FORBIDDEN` (`details.required_role` = `operator`): a user's token.")]
pub struct OperatorOnly(ErrorBody);

/// A withdrawal (or its quote) asked for at a level that cannot withdraw.
#[derive(IntoResponses)]
#[response(status = 403, description = "`VERIFICATION_REQUIRED`: this verification level cannot withdraw.")]
pub struct VerificationRequired(ErrorBody);

/// The account the operation names (or the token's) does not exist.
#[derive(IntoResponses)]
#[response(status = 404, description = "`NOT_FOUND` (`details.resource` = `account`).")]
pub struct AccountNotFound(ErrorBody);

/// The token is valid but its account has gone since it was issued.
#[derive(IntoResponses)]
#[response(
    status = 404,
    description = "`NOT_FOUND` (`details.resource` = `account`): the token's account no longer exists."
)]
pub struct TokenAccountGone(ErrorBody);

/// The binding the operation names is not the caller's, or the account is gone.
#[derive(IntoResponses)]
#[response(status = 404, description = "`NOT_FOUND` (`details.resource` = `binding` or `account`).")]
pub struct BindingNotFound(ErrorBody);

/// The withdrawal the operation names is not there (or not the caller's).
#[derive(IntoResponses)]
#[response(status = 404, description = "`NOT_FOUND` (`details.resource` = `withdrawal`).")]
pub struct WithdrawalNotFound(ErrorBody);

/// The identity request an operator names is not there.
#[derive(IntoResponses)]
#[response(status = 404, description = "`NOT_FOUND` (`details.resource` = `kyc_request`).")]
pub struct KycRequestNotFound(ErrorBody);

/// A body whose only field is a PIN that is not six digits.
#[derive(IntoResponses)]
#[response(status = 400, description = "`VALIDATION_FAILED`: `pin` is not 6 digits, an unknown field.")]
pub struct PinMalformed(ErrorBody);

/// An identity request an operator has already approved or rejected.
#[derive(IntoResponses)]
#[response(status = 409, description = "`KYC_CONFLICT` (`details.reason` = `already_decided`).")]
pub struct KycAlreadyDecided(ErrorBody);

/// Any operation that takes a request body.
#[derive(IntoResponses)]
#[response(status = 413, description = "`PAYLOAD_TOO_LARGE`.")]
pub struct PayloadTooLarge(ErrorBody);

/// A wrong PIN, or none set yet.
#[derive(IntoResponses)]
#[response(status = 422, description = "`PIN_INCORRECT` (`details.attempts_remaining`), `PIN_NOT_SET`.")]
pub struct PinIncorrect(ErrorBody);

/// Too many wrong PINs in a row.
#[derive(IntoResponses)]
#[response(status = 423, description = "`PIN_LOCKED` (`details.locked_until`).")]
pub struct PinLocked(ErrorBody);

/// An operation that only reads the store.
#[derive(IntoResponses)]
#[response(status = 503, description = "`STORE_UNAVAILABLE`; retry after `Retry-After` seconds.")]
pub struct StoreUnavailable(ErrorBody);

/// An operation that writes to the store, where concurrent changes can also
/// use up its compare-and-set retries.
#[derive(IntoResponses)]
#[response(status = 503, description = "`STORE_UNAVAILABLE`, `STORE_BUSY`; retry after `Retry-After` seconds.")]
pub struct StoreBusy(ErrorBody);

/// An operation that hashes a password, which waits in a bounded queue.
#[derive(IntoResponses)]
#[response(
    status = 503,
    description = "`STORE_UNAVAILABLE`, `STORE_BUSY`, `SERVER_BUSY` (too many password hashes waiting); retry after \
        `Retry-After` seconds."
)]
pub struct PasswordHashingBusy(ErrorBody);

/// A simulator rule that is not well formed.
#[derive(IntoResponses)]
#[response(
    status = 400,
    description = "`VALIDATION_FAILED` (`details.field` names the field): an unknown field or operation, a `status` \
        outside 400–599, a delay over 60 s, `times` 0, a `probability` outside 0–1, more than 100 rules."
)]
pub struct RuleMalformed(ErrorBody);
