//! The caller's own resources: `/v1/me`, `/v1/wallet`, `/v1/wallet/transactions[/{id}]`.
//! Every handler acts on the token's account only, so no id from the client
//! can reach another user's data.

use actix_web::{HttpResponse, web};

use super::extract::ApiQuery;
use super::identity::AuthenticatedUser;
use super::pagination::{List, PageQuery};
use super::responses::{StoreUnavailable, TokenAccountGone, Unauthenticated};
use super::views::{MonthTotalsView, MovementPage, MovementView, ProfileView, WalletView};
use crate::domain::statement::{Month, available_change};
use crate::error::{ApiError, ErrorBody};
use crate::services::accounts::Accounts;
use crate::services::wallet::Wallet;
use crate::services::withdrawals::Withdrawals;

/// The caller's profile
///
/// Id, role, masked phone or email, verification level, and the payment
/// PIN's state (`pin_set`, attempts left, `pin_locked_until`).
#[utoipa::path(
    get,
    path = "/v1/me",
    tag = "account",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "The profile.", body = ProfileView),
        Unauthenticated, TokenAccountGone, StoreUnavailable,
    )
)]
pub async fn profile(accounts: web::Data<Accounts>, user: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    let account = accounts.partitions.load_account(user.account_id()).await?;
    Ok(HttpResponse::Ok().json(ProfileView::of(&account, accounts.partitions.now(), &accounts.pin_policy)))
}

/// The caller's wallet
///
/// Available and held balances, the verification level, what is left of each
/// withdrawal limit today and this month, and the free fee quota left.
#[utoipa::path(
    get,
    path = "/v1/wallet",
    tag = "account",
    security(("bearerAuth" = [])),
    responses(
        (status = 200, description = "Balances and limits.", body = WalletView),
        Unauthenticated, TokenAccountGone, StoreUnavailable,
    )
)]
pub async fn wallet(withdrawals: web::Data<Withdrawals>, user: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    let overview = withdrawals.wallet_overview(user.account_id()).await?;
    Ok(HttpResponse::Ok().json(WalletView::from(&overview)))
}

/// The wallet's history
///
/// The account's journal entries, newest first, as changes to its available
/// and held balances, with what came in and went out in each month the page
/// shows (the whole month's, in the business time zone). Page with `cursor`
/// = the previous page's `next_cursor`.
#[utoipa::path(
    get,
    path = "/v1/wallet/transactions",
    tag = "account",
    security(("bearerAuth" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of history.", body = MovementPage),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a `limit` outside 1 to 200, a \
            `cursor` this list did not issue, an unknown query parameter.", body = ErrorBody),
        Unauthenticated, StoreUnavailable,
    )
)]
pub async fn transactions(
    wallet: web::Data<Wallet>,
    user: AuthenticatedUser,
    query: ApiQuery<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = query.request::<u64>(List::Transactions)?;
    let entries = wallet.journal(&user.0, request.after, request.read_ahead()).await?;
    let (entries, next_cursor) = request.page(entries, |entry| entry.seq);
    let items = entries.iter().map(MovementView::try_from).collect::<Result<_, _>>()?;
    let mut months = Vec::new();
    for entry in &entries {
        let month = Month::of(entry.created_at, wallet.time_zone);
        let moves = !available_change(entry).map_err(ApiError::internal)?.is_zero();
        if moves && !months.contains(&month) {
            months.push(month);
        }
    }
    let months = wallet.month_totals(&user.0, &months).await?.iter().map(MonthTotalsView::of).collect();
    let time_zone = wallet.time_zone.name().to_owned();
    Ok(HttpResponse::Ok().json(MovementPage { items, next_cursor, months, time_zone }))
}

/// One movement of the wallet
///
/// A journal entry of the caller's own; any other id, another account's
/// included, is 404.
#[utoipa::path(
    get,
    path = "/v1/wallet/transactions/{id}",
    tag = "account",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The entry's id, `je_` and 32 hex digits.",
        example = "je_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")),
    responses(
        (status = 200, description = "The movement.", body = MovementView),
        (status = 404, description = "`NOT_FOUND` (`details.resource` = `transaction`).", body = ErrorBody),
        Unauthenticated, StoreUnavailable,
    )
)]
pub async fn transaction(
    wallet: web::Data<Wallet>,
    user: AuthenticatedUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let entry = wallet.find_journal_entry(&user.0, &path).await?;
    Ok(HttpResponse::Ok().json(MovementView::try_from(&entry)?))
}
