//! `/mock/wechat/users`: the mock-only resource that creates mock WeChat
//! users, lists them, shows one with its flags and wallet, and changes its
//! flags, real name and balance (the provider's side is
//! `providers::wechat::mock::users`). Its errors are the catalogue's JSON,
//! as on walletgate's own API.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::domain::money::Money;
use crate::error::{ApiError, ErrorBody};
use crate::providers::wechat::mock::{
    MockUserChange, MockUserFlags, MockWeChat, MockWeChatUser, NewMockUser, USERS_LISTED_MAX, UserUpdate,
};
use crate::routes::extract::{ApiJson, ApiQuery};
use crate::routes::pagination::{List, PageQuery, Position};
use crate::routes::responses::StoreUnavailable;

/// `POST /mock/wechat/users`: a new mock WeChat user.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"nickname": "张三丰", "real_name": "张三", "no_real_name": false, "frozen": false,
    "snapshot": false, "day_quota_reached": false, "month_quota_reached": false}))]
pub struct CreateMockUserRequest {
    /// 1–32 characters.
    #[schema(example = "张三丰")]
    pub nickname: String,
    /// The real name behind the wallet (1–32 characters), what a transfer bill's `user_name` is
    /// checked against (`NAME_NOT_CORRECT` otherwise). Left out: none on record, any name passes.
    #[schema(example = "张三")]
    pub real_name: Option<String>,
    /// The user's wallet is not real-name verified (payouts to it fail).
    #[serde(default)]
    pub no_real_name: bool,
    /// The user's wallet is frozen (payouts to it fail).
    #[serde(default)]
    pub frozen: bool,
    /// A snapshot-mode user: tokens carry `is_snapshotuser: 1`.
    #[serde(default)]
    pub snapshot: bool,
    /// Payouts to it fail with `DAY_RECEIVED_QUOTA_EXCEED`.
    #[serde(default)]
    pub day_quota_reached: bool,
    /// Payouts to it fail with `MONTH_RECEIVED_QUOTA_EXCEED`.
    #[serde(default)]
    pub month_quota_reached: bool,
    /// Bills to it wait for its confirmation (`WAIT_USER_CONFIRM`), whatever their scene.
    #[serde(default)]
    pub confirm_required: bool,
}

/// `PATCH /mock/wechat/users/{openid}`: the fields to change, as the user
/// shows them; a field left out (or null) stays as it is.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"frozen": true, "balance": "0.00"}))]
pub struct UpdateMockUserRequest {
    /// 1–32 characters.
    #[schema(example = "张三丰")]
    pub nickname: Option<String>,
    /// 1–32 characters: the real name bills' `user_name` is checked against from now on.
    #[schema(example = "张三")]
    pub real_name: Option<String>,
    /// false: payouts fail with `REAL_NAME_CHECK_FAIL`.
    #[schema(example = false)]
    pub real_name_verified: Option<bool>,
    /// true: payouts fail with `ACCOUNT_FROZEN`.
    #[schema(example = true)]
    pub frozen: Option<bool>,
    /// true: new tokens carry `is_snapshotuser: 1`, so a binding is refused
    /// (`WECHAT_SNAPSHOT_USER`); codes and tokens issued before keep what they had.
    #[schema(example = false)]
    pub snapshot: Option<bool>,
    /// true: payouts fail with `DAY_RECEIVED_QUOTA_EXCEED`, whatever was received.
    #[schema(example = false)]
    pub day_quota_reached: Option<bool>,
    /// true: payouts fail with `MONTH_RECEIVED_QUOTA_EXCEED`, whatever was received.
    #[schema(example = false)]
    pub month_quota_reached: Option<bool>,
    /// true: new bills to it wait for its confirmation (`WAIT_USER_CONFIRM`).
    #[schema(example = false)]
    pub confirm_required: Option<bool>,
    /// The wallet's balance, at least `"0.00"`; the received transfers and
    /// quota totals stay as they are.
    #[schema(value_type = Option<String>, pattern = r"^[0-9]+(\.[0-9]{1,2})?$", example = "0.00")]
    pub balance: Option<Money>,
}

impl UpdateMockUserRequest {
    fn change(self) -> Result<MockUserChange, ApiError> {
        let mut change = MockUserChange::default();
        change.real_name_verified = self.real_name_verified;
        change.frozen = self.frozen;
        change.snapshot = self.snapshot;
        change.day_quota_reached = self.day_quota_reached;
        change.month_quota_reached = self.month_quota_reached;
        change.confirm_required = self.confirm_required;
        if let Some(nickname) = &self.nickname {
            change = change.nickname(nickname).map_err(|e| ApiError::validation("nickname", e))?;
        }
        if let Some(real_name) = &self.real_name {
            change = change.real_name(real_name).map_err(|e| ApiError::validation("real_name", e))?;
        }
        if let Some(balance) = self.balance {
            change = change.balance(balance).map_err(|e| ApiError::validation("balance", e))?;
        }
        Ok(change)
    }
}

/// Where a user stands in the list, newest first: its creation time (in
/// nanoseconds) and openid.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct UserPosition {
    created_at_nanos: i64,
    openid: String,
}

impl UserPosition {
    fn of(user: &MockWeChatUser) -> UserPosition {
        let created_at_nanos = user.created_at.timestamp_nanos_opt().unwrap_or(i64::MAX);
        UserPosition { created_at_nanos, openid: user.openid.clone() }
    }
}

impl Position for UserPosition {
    fn to_text(&self) -> String {
        format!("{}:{}", self.created_at_nanos, self.openid)
    }

    fn from_text(text: &str) -> Option<UserPosition> {
        let (nanos, openid) = text.split_once(':')?;
        let created_at_nanos = nanos.parse().ok().filter(|n: &i64| n.to_string() == nanos)?;
        crate::providers::wechat::mock::is_wechat_id(openid)
            .then(|| UserPosition { created_at_nanos, openid: openid.to_owned() })
    }
}

/// A page of mock users.
#[derive(Debug, Serialize, ToSchema)]
pub struct MockUserPage {
    pub items: Vec<MockWeChatUser>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(example = json!(null))]
    pub next_cursor: Option<String>,
}

/// Create a mock WeChat user
///
/// A user of the mock app with an empty wallet. The flags make bindings and
/// payouts to it fail the way the real ones do.
#[utoipa::path(
    post,
    path = "/mock/wechat/users",
    operation_id = "mock_create_user",
    tag = "mock",
    request_body = CreateMockUserRequest,
    responses(
        (status = 201, description = "The new user.", body = MockWeChatUser),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a blank, overlong or control-character \
            nickname or real_name, an unknown field.", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`.", body = ErrorBody),
        (status = 503, description = "`STORE_UNAVAILABLE`; retry after `Retry-After` seconds.", body = ErrorBody),
    )
)]
pub async fn create_user(
    mock: web::Data<MockWeChat>,
    body: ApiJson<CreateMockUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let flags = MockUserFlags {
        no_real_name: request.no_real_name,
        frozen: request.frozen,
        snapshot: request.snapshot,
        day_quota_reached: request.day_quota_reached,
        month_quota_reached: request.month_quota_reached,
        confirm_required: request.confirm_required,
    };
    let mut new = NewMockUser::new(&request.nickname, flags).map_err(|e| ApiError::validation("nickname", e))?;
    if let Some(real_name) = &request.real_name {
        new = new.with_real_name(real_name).map_err(|e| ApiError::validation("real_name", e))?;
    }
    let user = mock.create_user(&new).await?;
    Ok(HttpResponse::Created().json(user))
}

/// A mock WeChat user
///
/// The user, its flags and its wallet (balance and received transfers).
#[utoipa::path(
    get,
    path = "/mock/wechat/users/{openid}",
    operation_id = "mock_user",
    tag = "mock",
    params(("openid" = String, Path, description = "The user's openid under the mock app.",
        example = "oAb1CdEfGhIjKlMnOpQrStUvWxYz")),
    responses(
        (status = 200, description = "The user.", body = MockWeChatUser),
        (status = 404, description = "`NOT_FOUND` (`details.resource` = `wechat user`).", body = ErrorBody),
        (status = 503, description = "`STORE_UNAVAILABLE`; retry after `Retry-After` seconds.", body = ErrorBody),
    )
)]
pub async fn user(mock: web::Data<MockWeChat>, openid: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let found = mock.load_user(&openid).await?;
    let user = found.ok_or(ApiError::NotFound { resource: "wechat user" })?;
    Ok(HttpResponse::Ok().json(user.value))
}

/// The mock WeChat users
///
/// The users of the mock app, newest first, with their flags and wallets;
/// paged like every list. At most the first 10000 users the store holds are
/// listed.
#[utoipa::path(
    get,
    path = "/mock/wechat/users",
    operation_id = "mock_users",
    tag = "mock",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of users.", body = MockUserPage),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a bad `limit` or `cursor`, an unknown \
            query parameter.", body = ErrorBody),
        StoreUnavailable,
    )
)]
pub async fn list(mock: web::Data<MockWeChat>, ApiQuery(query): ApiQuery<PageQuery>) -> Result<HttpResponse, ApiError> {
    let page = query.request::<UserPosition>(List::MockUsers)?;
    let users = mock.list_users(USERS_LISTED_MAX).await?;
    let after = |user: &MockWeChatUser| page.after.as_ref().is_none_or(|after| UserPosition::of(user) < *after);
    let read: Vec<MockWeChatUser> = users.into_iter().filter(after).take(page.read_ahead()).collect();
    let (items, next_cursor) = page.page(read, UserPosition::of);
    Ok(HttpResponse::Ok().json(MockUserPage { items, next_cursor }))
}

/// Change a mock WeChat user
///
/// Sets the flags that make payouts to the user fail the way WeChat Pay's
/// do, its nickname, its real name (what bills' `user_name` is checked
/// against), or its wallet's balance. Only the fields sent change;
/// a payout crediting the wallet meanwhile is kept. Payouts decided before
/// are not changed.
#[utoipa::path(
    patch,
    path = "/mock/wechat/users/{openid}",
    operation_id = "mock_update_user",
    tag = "mock",
    params(("openid" = String, Path, description = "The user's openid under the mock app.",
        example = "oAb1CdEfGhIjKlMnOpQrStUvWxYz")),
    request_body = UpdateMockUserRequest,
    responses(
        (status = 200, description = "The user as changed.", body = MockWeChatUser),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a blank, overlong or control-character \
            `nickname` or `real_name`, a negative or malformed `balance` (a JSON number, more than two places), a flag that is not \
            a boolean, an unknown field.", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND` (`details.resource` = `wechat user`).", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`.", body = ErrorBody),
        (status = 503, description = "`STORE_UNAVAILABLE`, `STORE_BUSY` (payouts to the user kept winning); retry \
            after `Retry-After` seconds.", body = ErrorBody),
    )
)]
pub async fn update_user(
    mock: web::Data<MockWeChat>,
    openid: web::Path<String>,
    ApiJson(request): ApiJson<UpdateMockUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let change = request.change()?;
    match mock.update_user(&openid, &change).await? {
        UserUpdate::Updated(user) => Ok(HttpResponse::Ok().json(user)),
        UserUpdate::NotFound => Err(ApiError::NotFound { resource: "wechat user" }),
        UserUpdate::Busy => Err(ApiError::StoreBusy),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_position_reads_back_only_whole() {
        let position =
            UserPosition { created_at_nanos: 1_772_357_400_000_000_001, openid: format!("o{}", "A".repeat(27)) };
        assert_eq!(UserPosition::from_text(&position.to_text()), Some(position));
        for bad in ["", "1:", "01:oAAAAAAAAAAAAAAAAAAAAAAAAAAA", "x:oAAAAAAAAAAAAAAAAAAAAAAAAAAA", "1:o12"] {
            assert_eq!(UserPosition::from_text(bad), None, "{bad}");
        }
    }
}
