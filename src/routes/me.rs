//! The caller's own resources: `/v1/me`, `/v1/wallet`, `/v1/wallet/transactions[/{id}]`.
//! Every handler acts on the token's account only, so no id from the client
//! can reach another user's data.

use actix_web::{HttpResponse, web};

use super::views::{MovementPage, MovementView, PageQuery, ProfileView, WalletView};
use crate::auth::AuthenticatedUser;
use crate::error::ApiError;
use crate::services::Services;

pub async fn profile(services: web::Data<Services>, user: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    let account = services.load_account(user.account_id()).await?;
    Ok(HttpResponse::Ok().json(ProfileView::of(&account, services.now(), &services.pin_policy)))
}

pub async fn wallet(services: web::Data<Services>, user: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    let overview = services.wallet_overview(user.account_id()).await?;
    Ok(HttpResponse::Ok().json(WalletView::from(&overview)))
}

pub async fn transactions(
    services: web::Data<Services>,
    user: AuthenticatedUser,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = services.journal_page(user.account_id(), query.cursor()?, query.limit()).await?;
    Ok(HttpResponse::Ok().json(MovementPage::try_from(page)?))
}

pub async fn transaction(
    services: web::Data<Services>,
    user: AuthenticatedUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let entry = services.find_journal_entry(user.account_id(), &path).await?;
    Ok(HttpResponse::Ok().json(MovementView::try_from(&entry)?))
}
