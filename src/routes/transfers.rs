//! `/v1/transfers`: send money to another user (idempotent, PIN), look the
//! recipient up first, list and show one's transfers both ways; and
//! `/v1/ops/accounts/{id}/transfers`, an account's transfers for operators.

use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::extract::{ApiJson, ApiQuery, ClientIp, idempotency_key, mark_replayed};
use super::identity::{AuthenticatedUser, Operator};
use super::pagination::{List, PageQuery, PageRequest};
use super::pin::entered_pin;
use super::responses::{
    AccountNotFound, OperatorOnly, PayloadTooLarge, StoreBusy, StoreUnavailable, Unauthenticated, VerificationRequired,
};
use crate::domain::account::AccountId;
use crate::domain::asset::{Asset, Quantity};
use crate::domain::money::AmountText;
use crate::domain::transfer::{ReturnReason, TransferId, TransferStatus};
use crate::error::{ApiError, ErrorBody};
use crate::rate_limit::{Action, RateLimits};
use crate::services::directory::Directory;
use crate::services::idempotency::Replayed;
use crate::services::user_transfers::{TransferRequest, TransferSubmitted, UserTransfer, UserTransfers};

/// The longest `to` (an account id is 36 characters).
const RECIPIENT_CHARS_MAX: u64 = 64;

/// The body of `POST /v1/transfers`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"to": "13800000002", "asset": "CNY", "amount": "88.00", "memo": "晚饭", "pin": "135790"}))]
pub struct SendRequest {
    /// The recipient: a phone number (`13800000002`) or an account id (`acc_…`).
    #[validate(length(min = 1, max = 64, message = "must be a phone number or an account id"))]
    #[schema(min_length = 1, max_length = 64, example = "13800000002")]
    pub to: String,
    /// `CNY` (the default) or `USDT`.
    #[serde(default)]
    #[schema(default = "CNY")]
    pub asset: Asset,
    /// A positive amount as a string with at most the asset's places (CNY 2, USDT 6).
    #[schema(value_type = String, example = "88.00", pattern = r"^[0-9]+(\.[0-9]{1,6})?$")]
    pub amount: AmountText,
    /// Shown to both sides; up to 100 characters.
    #[serde(default)]
    #[validate(length(max = 100, message = "must be at most 100 characters"))]
    #[schema(max_length = 100, example = "晚饭")]
    pub memo: String,
    /// The 6-digit payment PIN.
    #[schema(pattern = r"^[0-9]{6}$", example = "135790")]
    pub pin: String,
}

/// `?to=` of the recipient lookup.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RecipientQuery {
    /// A phone number or an account id.
    #[param(example = "13800000002")]
    pub to: String,
}

/// Who a transfer would go to, as wallets show it before the user confirms.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"to": "13800000002", "name": "*明", "verified": true}))]
struct RecipientView {
    /// What was asked for, as sent.
    to: String,
    /// The verified real name with all but its last character masked
    /// (`*明`), or for an unverified user the phone masked (`138****0002`).
    #[schema(example = "*明")]
    name: String,
    /// Whether the recipient's identity is verified (real-name).
    verified: bool,
}

/// The other side of a transfer.
#[derive(Debug, Serialize, ToSchema)]
struct CounterpartyView {
    #[schema(value_type = String, example = "acc_demo_bob")]
    account_id: AccountId,
    /// Masked, as it was shown when the transfer was sent.
    #[schema(example = "*明")]
    name: String,
}

/// A transfer as one of its two sides sees it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "tr_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "direction": "sent", "status": "completed",
    "asset": "CNY", "amount": "88.00", "fee": "0.00", "total_debit": "88.00",
    "counterparty": {"account_id": "acc_demo_bob", "name": "138****0002"}, "memo": "晚饭",
    "created_at": "2025-05-01T08:30:00Z", "finished_at": "2025-05-01T08:30:00Z", "return_reason": null
}))]
pub struct TransferView {
    #[schema(value_type = String, example = "tr_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")]
    id: TransferId,
    /// `sent` by the caller, or `received`.
    #[schema(value_type = String, example = "sent")]
    direction: &'static str,
    /// `in_flight` (sent, its credit on the way: the worker finishes it),
    /// `completed`, or `returned` (the recipient's side refused it; the money is back).
    status: TransferStatus,
    asset: Asset,
    #[schema(example = "88.00")]
    amount: String,
    /// Paid by the sender on top of the amount; `null` for the recipient.
    #[schema(example = "0.00")]
    fee: Option<String>,
    /// Amount + fee: what left the sender's balance; `null` for the recipient.
    #[schema(example = "88.00")]
    total_debit: Option<String>,
    counterparty: CounterpartyView,
    memo: String,
    /// When it was sent (for the recipient: when it was credited).
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    return_reason: Option<ReturnReason>,
}

impl TransferView {
    pub fn of(transfer: &UserTransfer) -> Result<TransferView, ApiError> {
        Ok(match transfer {
            UserTransfer::Sent(sent) => {
                let fee = sent.fee.unwrap_or(Quantity::zero(sent.amount.asset()));
                let total = sent.amount.checked_add(fee).map_err(ApiError::internal)?;
                TransferView {
                    id: sent.id.clone(),
                    direction: "sent",
                    status: sent.status,
                    asset: sent.amount.asset(),
                    amount: sent.amount.to_string(),
                    fee: Some(fee.to_string()),
                    total_debit: Some(total.to_string()),
                    counterparty: CounterpartyView { account_id: sent.to.clone(), name: sent.names.to.clone() },
                    memo: sent.memo.clone(),
                    created_at: sent.created_at,
                    finished_at: sent.finished_at,
                    return_reason: sent.return_reason,
                }
            }
            UserTransfer::Received(receipt) => TransferView {
                id: receipt.transfer_id.clone(),
                direction: "received",
                status: TransferStatus::Completed,
                asset: receipt.amount.asset(),
                amount: receipt.amount.to_string(),
                fee: None,
                total_debit: None,
                counterparty: CounterpartyView { account_id: receipt.from.clone(), name: receipt.names.from.clone() },
                memo: receipt.memo.clone(),
                created_at: receipt.decided_at,
                finished_at: Some(receipt.decided_at),
                return_reason: None,
            },
        })
    }
}

/// A page of transfers, newest first.
#[derive(Debug, Serialize, ToSchema)]
struct TransferPage {
    items: Vec<TransferView>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(example = json!(null))]
    next_cursor: Option<String>,
}

/// Look up a recipient before sending
///
/// What the app shows before the user confirms ("向 *明 转账"): the
/// recipient's masked name and whether they are verified. Refused as a
/// transfer to them would be: to oneself, to nobody who can receive money,
/// to a frozen account. Rate-limited on its own (`rate_limits.recipient_lookup`):
/// it tells whether a phone number has an account.
#[utoipa::path(
    get,
    path = "/v1/transfers/recipient",
    operation_id = "find_transfer_recipient",
    tag = "transfers",
    security(("bearerAuth" = [])),
    params(RecipientQuery),
    responses(
        (status = 200, description = "The recipient, masked.", body = RecipientView),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field` = `to`): missing or over 64 characters; \
            an unknown query parameter.", body = ErrorBody),
        (status = 422, description = "`TRANSFER_TO_SELF`, `RECIPIENT_NOT_FOUND`, `RECIPIENT_FROZEN`.", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED` (`details.retry_after_secs`).", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        Unauthenticated, StoreUnavailable,
    )
)]
pub async fn recipient(
    transfers: web::Data<UserTransfers>,
    rate_limits: web::Data<RateLimits>,
    user: AuthenticatedUser,
    ip: ClientIp,
    query: ApiQuery<RecipientQuery>,
) -> Result<HttpResponse, ApiError> {
    let to = recipient_text(&query.to)?;
    rate_limits.check(Action::RecipientLookup, user.account_id().as_str(), ip.0)?;
    let found = transfers.find_recipient(to).await?.ok_or(ApiError::RecipientNotFound)?;
    found.state().accepts_from(user.account_id())?;
    Ok(HttpResponse::Ok().json(RecipientView { to: to.to_owned(), name: found.display_name, verified: found.verified }))
}

fn recipient_text(to: &str) -> Result<&str, ApiError> {
    let to = to.trim();
    if to.is_empty() || to.chars().count() as u64 > RECIPIENT_CHARS_MAX {
        return Err(ApiError::validation("to", "must be a phone number or an account id"));
    }
    Ok(to)
}

/// Send money to another user
///
/// Checks, in order: the recipient (yourself, nobody, frozen: no PIN try is
/// spent), the PIN, your account, your level, the limits of the asset
/// (per transfer, per day; `transfers.levels` in config), and the balance
/// (amount + fee; free by default). Then the amount leaves your balance
/// and is credited to the recipient at once, exactly once: `completed`.
/// Should the credit be delayed (a store fault), the transfer answers
/// `in_flight` and the worker finishes it; a recipient frozen in between
/// sends it back (`returned`). The recipient gets `transfer.received`, you
/// `transfer.completed` (or `transfer.returned`). `Idempotency-Key` is
/// required: the same key and request replay the first reply, refusals
/// included, with `Idempotent-Replayed: true`. Rate-limited like PIN entries.
#[utoipa::path(
    post,
    path = "/v1/transfers",
    operation_id = "send_transfer",
    tag = "transfers",
    security(("bearerAuth" = [])),
    params(("Idempotency-Key" = String, Header, description = "1 to 255 visible ASCII characters, unique per \
        transfer (a UUID, say); kept 24 hours per user.", example = "5f0c1d8e-2b7a-4c39-9e61-0a4d3b2c1f00")),
    request_body = SendRequest,
    responses(
        (status = 201, description = "Sent: `completed`, or `in_flight` when its credit is left to the worker.",
            body = TransferView,
            headers(("Idempotent-Replayed" = String, description = "`true` when this is a saved reply."))),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): no or a malformed `Idempotency-Key`, a \
            malformed `to`, amount or PIN, an amount with more places than its asset, a `memo` over 100 characters, \
            an unknown field.", body = ErrorBody),
        (status = 409, description = "`IDEMPOTENCY_KEY_REUSED` (the key came with another request).", body = ErrorBody),
        (status = 422, description = "`TRANSFER_TO_SELF`, `RECIPIENT_NOT_FOUND`, `RECIPIENT_FROZEN`, \
            `PIN_INCORRECT` (`details.attempts_remaining`), `PIN_NOT_SET`, `LIMIT_EXCEEDED` (`details.limit` = \
            `per_transfer` or `daily`, `details.asset`, `details.remaining`), `INSUFFICIENT_BALANCE` \
            (`details.available`, `details.requested`: amount + fee).", body = ErrorBody),
        (status = 423, description = "`PIN_LOCKED` (`details.locked_until`), `ACCOUNT_FROZEN`.", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED` (`details.retry_after_secs`): too many PIN entries.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        Unauthenticated, VerificationRequired, PayloadTooLarge, StoreBusy,
    )
)]
pub async fn send(
    transfers: web::Data<UserTransfers>,
    rate_limits: web::Data<RateLimits>,
    user: AuthenticatedUser,
    ip: ClientIp,
    request: HttpRequest,
    ApiJson(body): ApiJson<SendRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency_key(&request)?;
    let to = recipient_text(&body.to)?.to_owned();
    let amount = Quantity::parse_positive(body.asset, &body.amount.0)
        .map_err(|error| ApiError::validation("amount", error.to_string()))?;
    let pin = entered_pin("pin", &body.pin)?;
    rate_limits.check(Action::PinEntry, user.account_id().as_str(), ip.0)?;
    let ask = TransferRequest { to, amount, memo: body.memo.trim().to_owned(), pin };
    let (outcome, replayed) = transfers.submit(&user.0, &key, ask).await?;
    let mut response = match outcome {
        TransferSubmitted::Sent { transfer } => {
            HttpResponse::Created().json(TransferView::of(&UserTransfer::Sent(transfer))?)
        }
        TransferSubmitted::Refused { refusal } => ApiError::from(refusal).error_response(),
    };
    if replayed == Replayed::Saved {
        mark_replayed(&mut response);
    }
    Ok(response)
}

/// The paging parameters of the transfer list (documented by `PageQuery`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// List the caller's transfers
///
/// Sent and received, newest first. A received transfer is listed once
/// credited.
#[utoipa::path(
    get,
    path = "/v1/transfers",
    operation_id = "list_transfers",
    tag = "transfers",
    security(("bearerAuth" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of transfers.", body = TransferPage),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a `limit` outside 1 to 200, a `cursor` \
            this list did not issue, an unknown query parameter.", body = ErrorBody),
        Unauthenticated, StoreUnavailable,
    )
)]
pub async fn list(
    transfers: web::Data<UserTransfers>,
    user: AuthenticatedUser,
    query: ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = page_of(&transfers, user.account_id(), &query, List::Transfers).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// An account's transfers (operator)
///
/// Operator role only. The account's transfers both ways, newest first,
/// as its owner sees them at `GET /v1/transfers`: each one it sent (a
/// `returned` one with its money back), and each one it received once
/// credited.
#[utoipa::path(
    get,
    path = "/v1/ops/accounts/{id}/transfers",
    operation_id = "list_account_transfers",
    tag = "ops",
    security(("bearerAuth" = [])),
    params(
        ("id" = String, Path, description = "The account's id (`acc_…`); anything else is 404.", example = "acc_demo_alice"),
        PageQuery,
    ),
    responses(
        (status = 200, description = "One page of the account's transfers.", body = TransferPage),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a `limit` outside 1 to 200, a `cursor` \
            this list did not issue, an unknown query parameter.", body = ErrorBody),
        Unauthenticated, OperatorOnly, AccountNotFound, StoreUnavailable,
    )
)]
pub async fn list_of_account(
    transfers: web::Data<UserTransfers>,
    directory: web::Data<Directory>,
    _operator: Operator,
    path: web::Path<String>,
    query: ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = AccountId::parse(&path).ok_or(ApiError::NotFound { resource: "account" })?;
    directory.account(&id).await?;
    let page = page_of(&transfers, &id, &query, List::AccountTransfers).await?;
    Ok(HttpResponse::Ok().json(page))
}

/// The page of `account_id`'s transfers that `query` asks for, in `list`'s cursors.
async fn page_of(
    transfers: &UserTransfers,
    account_id: &AccountId,
    query: &ListQuery,
    list: List,
) -> Result<TransferPage, ApiError> {
    let request = PageRequest::<TransferId>::read(query.limit, query.cursor.as_deref(), list)?;
    let all = transfers.transfers_of(account_id).await?;
    let matching = all.iter().filter(|t| request.after.as_ref().is_none_or(|after| t.id() < after));
    let items = matching.take(request.read_ahead()).map(TransferView::of).collect::<Result<Vec<_>, _>>()?;
    let (items, next_cursor) = request.page(items, |view| view.id.clone());
    Ok(TransferPage { items, next_cursor })
}

/// One of the caller's transfers
#[utoipa::path(
    get,
    path = "/v1/transfers/{id}",
    operation_id = "show_transfer",
    tag = "transfers",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The transfer's id (`tr_…`).", example = "tr_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")),
    responses(
        (status = 200, description = "The transfer, as the caller's side sees it.", body = TransferView),
        (status = 404, description = "`NOT_FOUND` (`details.resource` = `transfer`): none of the caller's.", body = ErrorBody),
        Unauthenticated, StoreUnavailable,
    )
)]
pub async fn show(
    transfers: web::Data<UserTransfers>,
    user: AuthenticatedUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = TransferId::parse(&path).ok_or(ApiError::NotFound { resource: "transfer" })?;
    let transfer = transfers.transfer_of(user.account_id(), &id).await?;
    Ok(HttpResponse::Ok().json(TransferView::of(&transfer)?))
}
