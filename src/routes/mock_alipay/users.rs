//! `/mock/alipay/users`: the mock-only resource that creates mock Alipay
//! users, lists them, shows one with its flags and wallet, and changes its
//! flags, names, logon id and balance (the provider's side is
//! `providers::alipay::mock::users`). Errors are the catalogue's JSON.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::domain::money::Money;
use crate::error::{ApiError, ErrorBody};
use crate::providers::alipay::mock::{
    AlipayUserChange, AlipayUserError, AlipayUserFlags, MockAlipay, MockAlipayUser, NewAlipayUser, USERS_LISTED_MAX,
    UserWriteError, is_user_id,
};
use crate::routes::extract::{ApiJson, ApiQuery};
use crate::routes::pagination::{List, PageQuery, Position};
use crate::routes::responses::StoreUnavailable;

/// `POST /mock/alipay/users`: a new mock Alipay user.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"nick_name": "小明", "real_name": "张三", "logon_id": "13812345678", "unverified": false,
    "frozen": false, "info_abnormal": false}))]
pub struct CreateAlipayUserRequest {
    /// 1–32 characters.
    #[schema(example = "小明")]
    pub nick_name: String,
    /// The certified real name (1–32 characters), checked against a transfer's `payee_info.name`;
    /// the nick name when left out.
    pub real_name: Option<String>,
    /// A mobile number (11 digits starting with 1) or an email address; a
    /// fresh `13…` number when left out. Unique among the mock's users.
    pub logon_id: Option<String>,
    /// Not real-name verified: receives at most ¥1,000.00 a day.
    #[serde(default)]
    pub unverified: bool,
    /// Frozen: transfers fail with `PAYEE_ACCOUNT_STATUS_ERROR`.
    #[serde(default)]
    pub frozen: bool,
    /// Identity information abnormal: transfers fail with `PAYEE_USERINFO_STATUS_ERROR`.
    #[serde(default)]
    pub info_abnormal: bool,
}

/// `PATCH /mock/alipay/users/{user_id}`: the fields to change; a field
/// left out (or null) stays as it is.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"frozen": true, "balance": "0.00"}))]
pub struct UpdateAlipayUserRequest {
    /// 1–32 characters.
    pub nick_name: Option<String>,
    /// 1–32 characters.
    pub real_name: Option<String>,
    /// A mobile number or an email address no other user has.
    pub logon_id: Option<String>,
    /// false: receives at most ¥1,000.00 a day (`EXCEED_LIMIT_UNRN_DM_AMOUNT`).
    #[schema(example = true)]
    pub real_name_verified: Option<bool>,
    /// true: transfers fail with `PAYEE_ACCOUNT_STATUS_ERROR`.
    #[schema(example = true)]
    pub frozen: Option<bool>,
    /// true: transfers fail with `PAYEE_USERINFO_STATUS_ERROR`.
    #[schema(example = false)]
    pub info_abnormal: Option<bool>,
    /// The wallet's balance, at least `"0.00"`; received bills stay as they are.
    #[schema(value_type = Option<String>, pattern = r"^[0-9]+(\.[0-9]{1,2})?$", example = "0.00")]
    pub balance: Option<Money>,
}

fn validation(error: AlipayUserError) -> ApiError {
    ApiError::validation(error.field(), error)
}

fn write_error(error: UserWriteError) -> ApiError {
    match error {
        UserWriteError::LogonIdTaken => ApiError::validation("logon_id", "belongs to another mock Alipay user"),
        UserWriteError::Busy => ApiError::StoreBusy,
        UserWriteError::Store(error) => error.into(),
    }
}

impl UpdateAlipayUserRequest {
    fn change(self) -> Result<AlipayUserChange, ApiError> {
        let mut change = AlipayUserChange::default();
        (change.real_name_verified, change.frozen, change.info_abnormal) =
            (self.real_name_verified, self.frozen, self.info_abnormal);
        if let Some(nick_name) = &self.nick_name {
            change = change.nick_name(nick_name).map_err(validation)?;
        }
        if let Some(real_name) = &self.real_name {
            change = change.real_name(real_name).map_err(validation)?;
        }
        if let Some(logon_id) = &self.logon_id {
            change = change.logon_id(logon_id).map_err(validation)?;
        }
        if let Some(balance) = self.balance {
            change = change.balance(balance).map_err(validation)?;
        }
        Ok(change)
    }
}

/// Where a user stands in the list, newest first: its creation time (ns) and user id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AlipayUserPosition {
    created_at_nanos: i64,
    user_id: String,
}

impl AlipayUserPosition {
    fn of(user: &MockAlipayUser) -> AlipayUserPosition {
        let created_at_nanos = user.created_at.timestamp_nanos_opt().unwrap_or(i64::MAX);
        AlipayUserPosition { created_at_nanos, user_id: user.user_id.clone() }
    }
}

impl Position for AlipayUserPosition {
    fn to_text(&self) -> String {
        format!("{}:{}", self.created_at_nanos, self.user_id)
    }

    fn from_text(text: &str) -> Option<AlipayUserPosition> {
        let (nanos, user_id) = text.split_once(':')?;
        let created_at_nanos = nanos.parse().ok().filter(|n: &i64| n.to_string() == nanos)?;
        is_user_id(user_id).then(|| AlipayUserPosition { created_at_nanos, user_id: user_id.to_owned() })
    }
}

/// A page of mock Alipay users.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlipayUserPage {
    pub items: Vec<MockAlipayUser>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(example = json!(null))]
    pub next_cursor: Option<String>,
}

/// Create a mock Alipay user
///
/// A user of the mock app with an empty wallet. The flags make transfers to
/// it fail the way the real ones do.
#[utoipa::path(
    post,
    path = "/mock/alipay/users",
    operation_id = "mock_alipay_create_user",
    tag = "mock",
    request_body = CreateAlipayUserRequest,
    responses(
        (status = 201, description = "The new user.", body = MockAlipayUser),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a blank, overlong or control-character \
            name, a logon id that is not a mobile number or email or that another user has, an unknown field.",
            body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`.", body = ErrorBody),
        (status = 503, description = "`STORE_UNAVAILABLE`, `STORE_BUSY`; retry after `Retry-After` seconds.",
            body = ErrorBody),
    )
)]
pub async fn create_user(
    mock: web::Data<MockAlipay>,
    ApiJson(request): ApiJson<CreateAlipayUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let flags = AlipayUserFlags {
        unverified: request.unverified,
        frozen: request.frozen,
        info_abnormal: request.info_abnormal,
    };
    let real_name = request.real_name.as_deref().unwrap_or(&request.nick_name);
    let new =
        NewAlipayUser::new(&request.nick_name, real_name, request.logon_id.as_deref(), flags).map_err(validation)?;
    let user = mock.create_user(&new).await.map_err(write_error)?;
    Ok(HttpResponse::Created().json(user))
}

/// A mock Alipay user
///
/// The user, its flags and its wallet (balance and received transfers).
#[utoipa::path(
    get,
    path = "/mock/alipay/users/{user_id}",
    operation_id = "mock_alipay_user",
    tag = "mock",
    params(("user_id" = String, Path, description = "The user's `2088…` id.", example = "2088102146225135")),
    responses(
        (status = 200, description = "The user.", body = MockAlipayUser),
        (status = 404, description = "`NOT_FOUND` (`details.resource` = `alipay user`).", body = ErrorBody),
        StoreUnavailable,
    )
)]
pub async fn user(mock: web::Data<MockAlipay>, user_id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let found = mock.load_user(&user_id).await?.filter(|found| found.value.app_id == mock.app_id());
    let user = found.ok_or(ApiError::NotFound { resource: "alipay user" })?;
    Ok(HttpResponse::Ok().json(user.value))
}

/// The mock Alipay users
///
/// The users of the mock app, newest first, with their flags and wallets;
/// paged like every list. At most the first 10000 users the store holds are listed.
#[utoipa::path(
    get,
    path = "/mock/alipay/users",
    operation_id = "mock_alipay_users",
    tag = "mock",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of users.", body = AlipayUserPage),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a bad `limit` or `cursor`, an unknown \
            query parameter.", body = ErrorBody),
        StoreUnavailable,
    )
)]
pub async fn list(mock: web::Data<MockAlipay>, ApiQuery(query): ApiQuery<PageQuery>) -> Result<HttpResponse, ApiError> {
    let page = query.request::<AlipayUserPosition>(List::MockAlipayUsers)?;
    let users = mock.list_users(USERS_LISTED_MAX).await?;
    let after = |user: &MockAlipayUser| page.after.as_ref().is_none_or(|after| AlipayUserPosition::of(user) < *after);
    let read: Vec<MockAlipayUser> = users.into_iter().filter(after).take(page.read_ahead()).collect();
    let (items, next_cursor) = page.page(read, AlipayUserPosition::of);
    Ok(HttpResponse::Ok().json(AlipayUserPage { items, next_cursor }))
}

/// Change a mock Alipay user
///
/// Sets the flags that make transfers to the user fail the way Alipay's do,
/// its names, its logon id or its wallet's balance. Only the fields sent
/// change; a transfer crediting the wallet meanwhile is kept. Transfers
/// decided before are not changed.
#[utoipa::path(
    patch,
    path = "/mock/alipay/users/{user_id}",
    operation_id = "mock_alipay_update_user",
    tag = "mock",
    params(("user_id" = String, Path, description = "The user's `2088…` id.", example = "2088102146225135")),
    request_body = UpdateAlipayUserRequest,
    responses(
        (status = 200, description = "The user as changed.", body = MockAlipayUser),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a bad name, a logon id that is not a \
            mobile number or email or that another user has, a negative or malformed `balance`, a flag that is not a \
            boolean, an unknown field.", body = ErrorBody),
        (status = 404, description = "`NOT_FOUND` (`details.resource` = `alipay user`).", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`.", body = ErrorBody),
        (status = 503, description = "`STORE_UNAVAILABLE`, `STORE_BUSY` (transfers to the user kept winning); retry \
            after `Retry-After` seconds.", body = ErrorBody),
    )
)]
pub async fn update_user(
    mock: web::Data<MockAlipay>,
    user_id: web::Path<String>,
    ApiJson(request): ApiJson<UpdateAlipayUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let change = request.change()?;
    let updated = mock.update_user(&user_id, &change).await.map_err(write_error)?;
    let user = updated.ok_or(ApiError::NotFound { resource: "alipay user" })?;
    Ok(HttpResponse::Ok().json(user))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_position_reads_back_only_whole() {
        let position =
            AlipayUserPosition { created_at_nanos: 1_772_357_400_000_000_001, user_id: "2088000000000001".into() };
        assert_eq!(AlipayUserPosition::from_text(&position.to_text()), Some(position));
        for bad in ["", "1:", "01:2088000000000001", "x:2088000000000001", "1:2089000000000001", "1:2088"] {
            assert_eq!(AlipayUserPosition::from_text(bad), None, "{bad}");
        }
    }
}
