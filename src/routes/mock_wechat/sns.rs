//! WeChat's `sns` API under `/mock/wechat/sns` (the provider's side is
//! `providers::wechat::mock::sns`): the code exchange, token refresh, token
//! check and user profile. Like the real API it answers errors with HTTP 200
//! and `{errcode, errmsg}`.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;
use utoipa::ToSchema;

use crate::providers::sim::Ruled;
use crate::providers::wechat::builtin_client::http_error_body;
use crate::providers::wechat::mock::{
    AccessTokenQuery, AccessTokenUse, MockWeChat, RefreshTokenQuery, api_error, mock_errcode,
};
use crate::providers::wechat::{OAuthToken, UserInfo, WeChatApiError};

use super::ruled::answer;

/// Exchange a code for an access token (sns)
///
/// WeChat's `sns/oauth2/access_token`: the server-side exchange of the
/// authorize step's code (single use, five minutes) for a web-authorization
/// access token (7200 s) and refresh token (30 days). WeChat answers errors with HTTP 200 and `{errcode, errmsg}`:
/// 40029 invalid code, 40163 code used, 42003 code expired, 40125 bad secret.
#[utoipa::path(
    get,
    path = "/mock/wechat/sns/oauth2/access_token",
    operation_id = "mock_sns_access_token",
    tag = "mock",
    params(AccessTokenQuery),
    responses((status = 200, description = "The token, or WeChat's error.", body = OAuthTokenAnswer))
)]
pub async fn access_token(mock: web::Data<MockWeChat>, request: HttpRequest) -> HttpResponse {
    let ruled = match sns_query(&request) {
        Ok(query) => mock.exchange_code_ruled(&query).await,
        Err(error) => Ruled::unruled(Err(error)),
    };
    answer(ruled, sns_http_error, wechat_json).await
}

/// Refresh an access token (sns)
///
/// WeChat's `sns/oauth2/refresh_token`. WeChat answers errors with HTTP 200 and `{errcode, errmsg}`: 40030 invalid
/// refresh token, 42002 refresh token expired.
#[utoipa::path(
    get,
    path = "/mock/wechat/sns/oauth2/refresh_token",
    operation_id = "mock_sns_refresh_token",
    tag = "mock",
    params(RefreshTokenQuery),
    responses((status = 200, description = "The token, or WeChat's error.", body = OAuthTokenAnswer))
)]
pub async fn refresh_token(mock: web::Data<MockWeChat>, request: HttpRequest) -> HttpResponse {
    let result = match sns_query(&request) {
        Ok(query) => mock.refresh_token(&query).await,
        Err(error) => Err(error),
    };
    wechat_json(result)
}

/// Check an access token (sns)
///
/// WeChat's `sns/auth`: `{"errcode": 0, "errmsg": "ok"}` for a valid token.
/// WeChat answers errors with HTTP 200 and `{errcode, errmsg}`: 40001 invalid token, 42001 expired, 40003 wrong openid.
#[utoipa::path(
    get,
    path = "/mock/wechat/sns/auth",
    operation_id = "mock_sns_auth",
    tag = "mock",
    params(AccessTokenUse),
    responses((status = 200, description = "`errcode` 0 if valid, else WeChat's error.", body = WeChatApiError,
        example = json!({"errcode": 0, "errmsg": "ok"})))
)]
pub async fn auth(mock: web::Data<MockWeChat>, request: HttpRequest) -> HttpResponse {
    let result = match sns_query(&request) {
        Ok(query) => mock.check_access_token(&query).await,
        Err(error) => Err(error),
    };
    wechat_json(result.map(|()| json!({ "errcode": 0, "errmsg": "ok" })))
}

/// The user's profile (sns)
///
/// WeChat's `sns/userinfo`, for a token of the `snsapi_userinfo` scope.
/// WeChat answers errors with HTTP 200 and `{errcode, errmsg}`: 40001 invalid token, 42001 expired, 48001 scope not
/// authorized, 40003 wrong openid.
#[utoipa::path(
    get,
    path = "/mock/wechat/sns/userinfo",
    operation_id = "mock_sns_userinfo",
    tag = "mock",
    params(AccessTokenUse),
    responses((status = 200, description = "The profile, or WeChat's error.", body = UserInfoAnswer))
)]
pub async fn user_info(mock: web::Data<MockWeChat>, request: HttpRequest) -> HttpResponse {
    let ruled = match sns_query(&request) {
        Ok(query) => mock.user_info_ruled(&query).await,
        Err(error) => Ruled::unruled(Err(error)),
    };
    answer(ruled, sns_http_error, wechat_json).await
}

/// A simulator rule's HTTP error on an `sns` endpoint.
fn sns_http_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(http_error_body(code, message))
}

/// A query WeChat cannot read is its "invalid args", in its own shape.
fn sns_query<T: DeserializeOwned>(request: &HttpRequest) -> Result<T, WeChatApiError> {
    serde_urlencoded::from_str(request.query_string())
        .map_err(|_| api_error(mock_errcode::INVALID_ARGS, "invalid args"))
}

/// What `sns/oauth2/access_token` and `refresh_token` answer (documentation only).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum OAuthTokenAnswer {
    Token(OAuthToken),
    Error(WeChatApiError),
}

/// What `sns/userinfo` answers (documentation only).
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum UserInfoAnswer {
    User(UserInfo),
    Error(WeChatApiError),
}

/// WeChat answers both success and failure with HTTP 200.
fn wechat_json<T: Serialize>(result: Result<T, WeChatApiError>) -> HttpResponse {
    match result {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(error) => HttpResponse::Ok().json(error),
    }
}
