//! `/mock/wechat/users`: the mock-only resource that creates a mock WeChat
//! user and shows one with its flags and wallet (the provider's side is
//! `providers::wechat::mock::users`). Its errors are the catalogue's JSON,
//! as on walletgate's own API.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use crate::error::{ApiError, ErrorBody};
use crate::providers::wechat::mock::{MockUserFlags, MockWeChat, MockWeChatUser, NewMockUser};
use crate::routes::extract::ApiJson;

/// `POST /mock/wechat/users`: a new mock WeChat user.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"nickname": "张三丰", "no_real_name": false, "frozen": false, "snapshot": false}))]
pub struct CreateMockUserRequest {
    /// 1–32 characters.
    #[schema(example = "张三丰")]
    pub nickname: String,
    /// The user's wallet is not real-name verified (payouts to it fail).
    #[serde(default)]
    pub no_real_name: bool,
    /// The user's wallet is frozen (payouts to it fail).
    #[serde(default)]
    pub frozen: bool,
    /// A snapshot-mode user: tokens carry `is_snapshotuser: 1`.
    #[serde(default)]
    pub snapshot: bool,
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
            nickname, an unknown field.", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`.", body = ErrorBody),
        (status = 503, description = "`STORE_UNAVAILABLE`; retry after `Retry-After` seconds.", body = ErrorBody),
    )
)]
pub async fn create_user(
    mock: web::Data<MockWeChat>,
    body: ApiJson<CreateMockUserRequest>,
) -> Result<HttpResponse, ApiError> {
    let request = body.0;
    let flags =
        MockUserFlags { no_real_name: request.no_real_name, frozen: request.frozen, snapshot: request.snapshot };
    let new = NewMockUser::new(&request.nickname, flags).map_err(|e| ApiError::validation("nickname", e))?;
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
