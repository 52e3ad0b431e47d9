//! `/v1/ops/accounts` and `/v1/ops/withdrawals`: how operators find
//! things — an account by its exact phone number, email or id (or all of
//! them, a page at a time), one account in detail, and withdrawals across
//! accounts, filtered by status or account. Operator role only, as every
//! `/v1/ops` route (the `Operator` extractor checks the stored role).

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::ApiQuery;
use super::identity::Operator;
use super::kyc::KycRequestView;
use super::pagination::{List, PageQuery, PageRequest};
use super::responses::{AccountNotFound, OperatorOnly, StoreUnavailable, Unauthenticated};
use super::views::AccountSummaryView;
use super::withdrawals::WithdrawalView;
use crate::domain::account::AccountId;
use crate::domain::credentials::Login;
use crate::domain::withdrawal::WithdrawalStatus;
use crate::error::{ApiError, ErrorBody};
use crate::services::directory::{AccountSearch, Directory};
use crate::services::withdrawal_reads::{ListedWithdrawal, WithdrawalFilter, WithdrawalReads};
use crate::store::SchedulePosition;

/// `?phone=|email=|account_id=` beside the paging parameters (documented by `PageQuery`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountQuery {
    pub phone: Option<String>,
    pub email: Option<String>,
    pub account_id: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl AccountQuery {
    /// At most one of the three, each checked as the field it is.
    fn search(&self) -> Result<AccountSearch, ApiError> {
        let given = [("phone", &self.phone), ("email", &self.email), ("account_id", &self.account_id)];
        Ok(match one_search_field(given)? {
            None => AccountSearch::All,
            Some(("phone", phone)) => AccountSearch::Login(Login::phone(phone).map_err(|e| invalid("phone", e))?),
            Some(("email", email)) => AccountSearch::Login(Login::email(email).map_err(|e| invalid("email", e))?),
            Some((field, id)) => AccountSearch::Id(account_id_in(field, id)?),
        })
    }
}

/// The one search parameter given of `given` (field, value), if any; more
/// than one is refused naming the second.
pub(super) fn one_search_field<'a, const N: usize>(
    given: [(&'static str, &'a Option<String>); N],
) -> Result<Option<(&'static str, &'a str)>, ApiError> {
    let names: Vec<&str> = given.iter().map(|(field, _)| *field).collect();
    let mut given = given.into_iter().filter_map(|(field, value)| Some((field, value.as_deref()?)));
    let first = given.next();
    if let Some((field, _)) = given.next() {
        let (last, rest) = names.split_last().unwrap_or((&"", &[]));
        return Err(ApiError::validation(field, format_args!("search by one of {} or {last}", rest.join(", "))));
    }
    Ok(first)
}

/// An account id from a query parameter; a malformed one is refused naming it.
pub(super) fn account_id_in(field: &str, text: &str) -> Result<AccountId, ApiError> {
    AccountId::parse(text).ok_or_else(|| ApiError::validation(field, "is not an account id (acc_…)"))
}

fn invalid(field: &str, error: impl std::fmt::Display) -> ApiError {
    ApiError::validation(field, error)
}

/// A page of accounts, in id order.
#[derive(Debug, Serialize, ToSchema)]
struct AccountPage {
    items: Vec<AccountSummaryView>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(example = json!(null))]
    next_cursor: Option<String>,
}

/// Find accounts (operator)
///
/// Operator role only. With `phone`, `email` or `account_id` (one of them),
/// the account that matches it exactly, if any (`phone` and `email` through
/// the login index, as logging in finds them; `email` ignores case); with
/// none, every account, a page at a time, in id order. Logins are masked as
/// the app masks them; `wallet` is null for operators, who have none.
#[utoipa::path(
    get,
    path = "/v1/ops/accounts",
    operation_id = "find_accounts",
    tag = "ops",
    security(("bearerAuth" = [])),
    params(
        ("phone" = Option<String>, Query, description = "An 11-digit mainland mobile number, exactly.", example = "13800000001"),
        ("email" = Option<String>, Query, description = "An email address, exactly (case does not matter)."),
        ("account_id" = Option<String>, Query, description = "An account id, exactly.", example = "acc_demo_alice"),
        PageQuery,
    ),
    responses(
        (status = 200, description = "One page of accounts: none or one when searching.", body = AccountPage),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a malformed `phone`, `email` or \
            `account_id`, more than one of them, a `limit` outside 1 to 200, a `cursor` this list did not issue, \
            an unknown query parameter.", body = ErrorBody),
        Unauthenticated, OperatorOnly, StoreUnavailable,
    )
)]
pub async fn find_accounts(
    directory: web::Data<Directory>,
    _operator: Operator,
    query: ApiQuery<AccountQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = PageRequest::<AccountId>::read(query.limit, query.cursor.as_deref(), List::Accounts)?;
    let search = query.search()?;
    let accounts = directory.find_accounts(&search, request.after.as_ref(), request.read_ahead()).await?;
    let (accounts, next_cursor) = request.page(accounts, |account| account.id.clone());
    let now = directory.partitions.now();
    let items = accounts.iter().map(|account| AccountSummaryView::of(account, now)).collect();
    Ok(HttpResponse::Ok().json(AccountPage { items, next_cursor }))
}

/// One account as an operator sees it.
#[derive(Debug, Serialize, ToSchema)]
struct AccountDetailView {
    #[serde(flatten)]
    summary: AccountSummaryView,
    /// The identity check waiting for an operator, if any: decide it at
    /// `POST /v1/ops/kyc/{id}/approve` or `/reject`.
    pending_kyc: Option<KycRequestView>,
}

/// One account (operator)
///
/// Operator role only. The account in brief, with the identity check it has
/// waiting, if any.
#[utoipa::path(
    get,
    path = "/v1/ops/accounts/{id}",
    operation_id = "show_account",
    tag = "ops",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The account's id (`acc_…`); anything else is 404.", example = "acc_demo_alice")),
    responses(
        (status = 200, description = "The account.", body = AccountDetailView),
        Unauthenticated, OperatorOnly, AccountNotFound, StoreUnavailable,
    )
)]
pub async fn show_account(
    directory: web::Data<Directory>,
    _operator: Operator,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = AccountId::parse(&path).ok_or(ApiError::NotFound { resource: "account" })?;
    let account = directory.account(&id).await?;
    let now = directory.partitions.now();
    Ok(HttpResponse::Ok().json(AccountDetailView {
        summary: AccountSummaryView::of(&account, now),
        pending_kyc: account.pending_kyc(now).map(|request| KycRequestView::of(request, now)),
    }))
}

/// `?status=&account_id=` beside the paging parameters (documented by `PageQuery`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalQuery {
    pub status: Option<WithdrawalStatus>,
    pub account_id: Option<String>,
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

/// A withdrawal in the list across accounts, with its account.
#[derive(Debug, Serialize, ToSchema)]
struct ListedWithdrawalView {
    account_id: AccountId,
    withdrawal: WithdrawalView,
}

/// A page of withdrawals across accounts, newest first.
#[derive(Debug, Serialize, ToSchema)]
struct ListedWithdrawalPage {
    items: Vec<ListedWithdrawalView>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(example = json!(null))]
    next_cursor: Option<String>,
}

/// Withdrawals across accounts (operator)
///
/// Operator role only. Every account's withdrawals, newest first (by
/// creation time), optionally only those in one `status` or of one
/// `account_id`. A page is read from at most 1000 withdrawals: with a
/// filter that matches few, a page can hold fewer than `limit` items, even
/// none, while `next_cursor` still leads on. Without `account_id`, the list
/// holds the withdrawals created or changed since the list was introduced;
/// with it, all of the account's.
#[utoipa::path(
    get,
    path = "/v1/ops/withdrawals",
    operation_id = "list_all_withdrawals",
    tag = "ops",
    security(("bearerAuth" = [])),
    params(
        ("status" = Option<WithdrawalStatus>, Query, description = "Only withdrawals in this status."),
        ("account_id" = Option<String>, Query, description = "Only this account's withdrawals.", example = "acc_demo_alice"),
        PageQuery,
    ),
    responses(
        (status = 200, description = "One page of withdrawals.", body = ListedWithdrawalPage),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): an unknown `status`, a malformed \
            `account_id`, a `limit` outside 1 to 200, a `cursor` this list did not issue, an unknown query \
            parameter.", body = ErrorBody),
        Unauthenticated, OperatorOnly, AccountNotFound, StoreUnavailable,
    )
)]
pub async fn list_withdrawals(
    reads: web::Data<WithdrawalReads>,
    _operator: Operator,
    query: ApiQuery<WithdrawalQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = PageRequest::<SchedulePosition>::read(query.limit, query.cursor.as_deref(), List::AllWithdrawals)?;
    let account_id = query.account_id.as_deref().map(|id| account_id_in("account_id", id)).transpose()?;
    let filter = WithdrawalFilter { account_id, status: query.status };
    let found = reads.list_withdrawals(&filter, request.after.as_ref(), request.read_ahead()).await?;
    let (items, next_cursor) = request.page_scanned(found.items, |(position, _)| position.clone(), found.stopped_at);
    let items = items.into_iter().map(|(_, listed)| view_of(listed)).collect();
    Ok(HttpResponse::Ok().json(ListedWithdrawalPage { items, next_cursor }))
}

fn view_of(listed: ListedWithdrawal) -> ListedWithdrawalView {
    ListedWithdrawalView { account_id: listed.account_id, withdrawal: WithdrawalView::of(&listed.withdrawal) }
}
