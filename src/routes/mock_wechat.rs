//! The mock WeChat provider's HTTP face under `/mock/wechat`: thin handlers
//! over `MockWeChat`, and the two HTML pages of the authorize step (consent
//! and error). Errors take the shape the real endpoint uses: an HTML page
//! (plus an `X-WeChat-Errcode` header for scripts) on the browser-facing
//! authorize step, HTTP 200 `{errcode, errmsg}` on the `sns` API, WeChat
//! Pay v3's 4xx/5xx `{code, message}` on the transfer bills, and the
//! catalogue's JSON on the mock-only `users` resource.
//!
//! The routes are listed in `startup::mock_routes`, registered only when
//! the mock is enabled. Handlers take `web::Data<MockWeChat>`: startup registers it with
//! `web::Data::from(Arc<MockWeChat>)`, sharing the very `Arc` the in-process
//! `BuiltinWeChatClient` and `BuiltinPayouts` hold, so all reach one provider.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Asia::Shanghai;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;
use utoipa::ToSchema;
use validator::Validate;

use super::extract::ApiJson;
use super::html::escape_html;
use crate::error::{ApiError, ErrorBody};
use crate::providers::payouts::{
    BillState, PayoutError, TransferBill, TransferRequest, fen_from_money, money_from_fen, refusal_code,
};
use crate::providers::wechat::mock::{
    AccessTokenQuery, AccessTokenUse, AuthorizeError, AuthorizeQuery, AuthorizeRequest, AuthorizeStep, ConsentForm,
    MockUserFlags, MockWeChat, MockWeChatUser, NewMockUser, RefreshTokenQuery, api_error, mock_errcode,
};
use crate::providers::wechat::{OAuthToken, UserInfo, WeChatApiError};

/// The header that repeats the error number of an authorize error page.
pub const ERRCODE_HEADER: &str = "X-WeChat-Errcode";
/// The same name as `http` stores it (header names are case-insensitive).
const ERRCODE_HEADER_LOWERCASE: &str = "x-wechat-errcode";
const AUTHORIZE_PATH: &str = "/mock/wechat/connect/oauth2/authorize";

// ---------------------------------------------------------------- users ----

/// `POST /mock/wechat/users`: a new mock WeChat user.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
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

// ------------------------------------------------------------ authorize ----

/// WeChat's authorize step (consent page)
///
/// Where `authorize_url` points. With `scope=snsapi_userinfo` it shows the
/// consent page: pick an existing mock user or create one, then allow or deny.
/// A silent `snsapi_base` authorization for an existing `openid` redirects at
/// once. Errors are WeChat's error page.
#[utoipa::path(
    get,
    path = "/mock/wechat/connect/oauth2/authorize",
    operation_id = "mock_authorize",
    tag = "mock",
    params(
        ("appid" = String, Query, description = "The app's id."),
        ("redirect_uri" = String, Query, description = "Where to send the browser; its host must be a callback domain."),
        ("response_type" = String, Query, description = "Must be `code`."),
        ("scope" = String, Query, description = "`snsapi_userinfo` (consent page) or `snsapi_base` (silent)."),
        ("state" = Option<String>, Query, description = "Echoed back to `redirect_uri`; up to 128 characters `[A-Za-z0-9]`."),
        ("openid" = Option<String>, Query, description = "Mock only: the existing user a silent `snsapi_base` authorization is for."),
    ),
    responses(
        (status = 200, description = "The consent page.", body = String, content_type = "text/html"),
        (status = 302, description = "A silent authorization: to `redirect_uri` with `code` and `state`.",
            headers(("Location" = String, description = "`redirect_uri?code=…&state=…`."))),
        (status = 400, description = "WeChat's error page (e.g. 10003 redirect_uri not on the callback domains, \
            10010 no scope, 10013 bad state, 40097 invalid args), its number also in `X-WeChat-Errcode`.", body = String,
            content_type = "text/html", headers(("X-WeChat-Errcode" = i64, description = "The error number."))),
        (status = 503, description = "The error page for -1 (system busy): the mock's store is unavailable.", body = String,
            content_type = "text/html", headers(("X-WeChat-Errcode" = i64, description = "`-1`."))),
    )
)]
pub async fn authorize(mock: web::Data<MockWeChat>, request: HttpRequest) -> HttpResponse {
    let query = match serde_urlencoded::from_str::<AuthorizeQuery>(request.query_string()) {
        Ok(query) => query,
        Err(error) => return error_page(&invalid_args(error)),
    };
    match mock.authorize(&query).await {
        Ok(AuthorizeStep::Consent { request, users }) => html(StatusCode::OK, consent_page(&request, &users)),
        Ok(AuthorizeStep::Redirect(target)) => redirect(&target),
        Err(error) => error_page(&error),
    }
}

/// Consent at WeChat (the consent page's form)
///
/// `action=allow` redirects to `redirect_uri` with a single-use `code` (valid
/// five minutes) and the `state`; `action=deny` redirects with the `state`
/// only. The user is an existing `openid`, or a new one named by `nickname`.
#[utoipa::path(
    post,
    path = "/mock/wechat/connect/oauth2/authorize",
    operation_id = "mock_consent",
    tag = "mock",
    request_body(content = ConsentForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 302, description = "Back to `redirect_uri`, with `code` (allowed) and `state`.",
            headers(("Location" = String, description = "`redirect_uri?code=…&state=…`, or `?state=…` when denied."))),
        (status = 400, description = "WeChat's error page (e.g. 10003 redirect_uri not on the callback domains, \
            10010 no scope, 10013 bad state, 40097 invalid args), its number also in `X-WeChat-Errcode`.", body = String,
            content_type = "text/html", headers(("X-WeChat-Errcode" = i64, description = "The error number."))),
        (status = 503, description = "The error page for -1 (system busy): the mock's store is unavailable.", body = String,
            content_type = "text/html", headers(("X-WeChat-Errcode" = i64, description = "`-1`."))),
    )
)]
pub async fn consent(mock: web::Data<MockWeChat>, body: web::Bytes) -> HttpResponse {
    let form = match serde_urlencoded::from_bytes::<ConsentForm>(&body) {
        Ok(form) => form,
        Err(error) => return error_page(&invalid_args(error)),
    };
    match mock.consent(&form).await {
        Ok(target) => redirect(&target),
        Err(error) => error_page(&error),
    }
}

fn invalid_args(error: impl std::fmt::Display) -> AuthorizeError {
    AuthorizeError::new(mock_errcode::INVALID_ARGS, &format!("invalid args: {error}"))
}

fn redirect(target: &Url) -> HttpResponse {
    HttpResponse::Found().insert_header((LOCATION, target.as_str())).insert_header((CACHE_CONTROL, "no-store")).finish()
}

fn html(status: StatusCode, page: String) -> HttpResponse {
    HttpResponse::build(status)
        .insert_header((CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((CACHE_CONTROL, "no-store"))
        .body(page)
}

// -------------------------------------------------------------- sns API ----

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
    let result = match sns_query(&request) {
        Ok(query) => mock.exchange_code(&query).await,
        Err(error) => Err(error),
    };
    wechat_json(result)
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
    responses((status = 200, description = "`errcode` 0 if valid, else WeChat's error.", body = WeChatApiError))
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
    let result = match sns_query(&request) {
        Ok(query) => mock.user_info(&query).await,
        Err(error) => Err(error),
    };
    wechat_json(result)
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

// ------------------------------------------------------- transfer bills ----

/// `POST /mock/wechat/v3/fund-app/mch-transfer/transfer-bills`: WeChat Pay's
/// "发起转账". The mock's payees never need to confirm, so the answer is
/// already the bill's final state.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "appid": "wx8a3f5c7e2b9d1046", "out_bill_no": "0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "openid": "oAb1CdEfGhIjKlMnOpQrStUvWxYz",
    "transfer_amount": 10000, "transfer_remark": "walletgate withdrawal"
}))]
pub struct TransferBillsRequest {
    /// The merchant's app; must be the mock's app id.
    pub appid: String,
    /// 1–32 characters `[0-9A-Za-z]`, unique per merchant: the idempotency key.
    #[schema(pattern = r"^[0-9A-Za-z]{1,32}$")]
    pub out_bill_no: String,
    /// The payee's openid under `appid`.
    #[schema(min_length = 1, max_length = 128)]
    pub openid: String,
    /// Integer fen (1/100 yuan), at least 10.
    #[schema(minimum = 10, maximum = 100000000000000.0, example = 10000)]
    pub transfer_amount: i64,
    /// At most 32 characters, shown to the payee.
    #[schema(max_length = 32)]
    pub transfer_remark: String,
    /// The scene, e.g. `"1000"`; accepted and not checked by the mock.
    pub transfer_scene_id: Option<String>,
    /// The payee's encrypted real name; accepted and not checked by the mock.
    pub user_name: Option<String>,
    /// Where the real API pushes the final state; the mock pushes nothing.
    pub notify_url: Option<String>,
    /// The payment reason shown to the payee; accepted and not checked by the mock.
    pub user_recv_perception: Option<String>,
    /// The scene declaration, `[{info_type, info_content}]` at the real API; the mock accepts any
    /// JSON value here and does not check it.
    pub transfer_scene_report_infos: Option<serde_json::Value>,
}

/// The answer to creating a bill.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferBillsResponse {
    pub out_bill_no: String,
    pub transfer_bill_no: String,
    /// RFC 3339 in Beijing time, as WeChat writes it: `2026-03-01T17:30:00+08:00`.
    pub create_time: String,
    pub state: BillState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<String>,
}

/// `GET /mock/wechat/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TransferBillQueryResponse {
    pub out_bill_no: String,
    pub transfer_bill_no: String,
    pub appid: String,
    pub state: BillState,
    /// Integer fen.
    pub transfer_amount: i64,
    pub transfer_remark: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<String>,
    pub openid: String,
    pub create_time: String,
    pub update_time: String,
}

/// WeChat Pay v3's error body, sent with a 4xx or 5xx status.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"code": "PARAM_ERROR", "message": "transfer_amount must be at least 10 fen (0.10 yuan)"}))]
struct PayErrorBody<'a> {
    /// `PARAM_ERROR`, `INVALID_REQUEST`, `NOT_FOUND` or `SYSTEM_ERROR`.
    code: &'a str,
    message: &'a str,
}

/// Create a transfer bill (WeChat Pay)
///
/// WeChat Pay's merchant transfer (发起转账) to a mock user's wallet.
/// `out_bill_no` is the idempotency key: the same number and body return the
/// same bill and never pay twice. The mock's payees never confirm, so the
/// answer is already final: `SUCCESS`, or `FAIL` with `fail_reason`
/// (`OPENID_INVALID`, `ACCOUNT_FROZEN`, `REAL_NAME_CHECK_FAIL`,
/// `DAY_RECEIVED_QUOTA_EXCEED`, `MONTH_RECEIVED_QUOTA_EXCEED`).
#[utoipa::path(
    post,
    path = "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills",
    operation_id = "mock_create_transfer_bill",
    tag = "mock",
    request_body = TransferBillsRequest,
    responses(
        (status = 200, description = "The bill.", body = TransferBillsResponse),
        (status = 400, description = "`PARAM_ERROR` (a malformed field, an amount under 10 fen), `INVALID_REQUEST` \
            (another app, or the same `out_bill_no` with another body).", body = PayErrorBody),
        (status = 500, description = "`SYSTEM_ERROR`: retry with the same `out_bill_no` and body.", body = PayErrorBody),
    )
)]
pub async fn create_transfer_bill(mock: web::Data<MockWeChat>, body: web::Bytes) -> HttpResponse {
    let request = match serde_json::from_slice::<TransferBillsRequest>(&body) {
        Ok(request) => request,
        Err(error) => return pay_error(StatusCode::BAD_REQUEST, refusal_code::PARAM_ERROR, &error.to_string()),
    };
    if request.appid != mock.app_id() {
        let message = "appid is not bound to this merchant";
        return pay_error(StatusCode::BAD_REQUEST, refusal_code::INVALID_REQUEST, message);
    }
    let Ok(amount) = money_from_fen(request.transfer_amount) else {
        let message = "transfer_amount must be a whole number of fen, from 0 to 100000000000000";
        return pay_error(StatusCode::BAD_REQUEST, refusal_code::PARAM_ERROR, message);
    };
    let transfer = TransferRequest {
        out_bill_no: request.out_bill_no,
        openid: request.openid,
        amount,
        remark: request.transfer_remark,
    };
    match mock.transfer(&transfer).await {
        Ok(bill) => HttpResponse::Ok().json(TransferBillsResponse {
            create_time: wechat_time(bill.create_time),
            out_bill_no: bill.out_bill_no,
            transfer_bill_no: bill.transfer_bill_no,
            state: bill.state,
            fail_reason: bill.fail_reason,
        }),
        Err(error) => payout_error(&error),
    }
}

/// A transfer bill by the merchant's number (WeChat Pay)
#[utoipa::path(
    get,
    path = "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}",
    operation_id = "mock_transfer_bill",
    tag = "mock",
    params(("out_bill_no" = String, Path, description = "The merchant's bill number.", pattern = r"^[0-9A-Za-z]{1,32}$",
        example = "0196a3c5e2b87d40a1f3c9e2d4b5a6c7")),
    responses(
        (status = 200, description = "The bill.", body = TransferBillQueryResponse),
        (status = 400, description = "`PARAM_ERROR`: not 1–32 characters `[0-9A-Za-z]`.", body = PayErrorBody),
        (status = 404, description = "`NOT_FOUND`: no bill with this `out_bill_no`.", body = PayErrorBody),
        (status = 500, description = "`SYSTEM_ERROR`: retry.", body = PayErrorBody),
    )
)]
pub async fn transfer_bill(mock: web::Data<MockWeChat>, out_bill_no: web::Path<String>) -> HttpResponse {
    match mock.bill(&out_bill_no).await {
        Ok(Some(bill)) => HttpResponse::Ok().json(query_response(bill, mock.app_id())),
        Ok(None) => pay_error(StatusCode::NOT_FOUND, "NOT_FOUND", "no transfer bill with this out_bill_no"),
        Err(error) => payout_error(&error),
    }
}

fn query_response(bill: TransferBill, appid: &str) -> TransferBillQueryResponse {
    TransferBillQueryResponse {
        transfer_amount: fen_from_money(bill.amount),
        create_time: wechat_time(bill.create_time),
        update_time: wechat_time(bill.update_time),
        out_bill_no: bill.out_bill_no,
        transfer_bill_no: bill.transfer_bill_no,
        appid: appid.to_owned(),
        state: bill.state,
        transfer_remark: bill.remark,
        fail_reason: bill.fail_reason,
        openid: bill.openid,
    }
}

/// WeChat Pay writes times in RFC 3339 with Beijing's offset.
fn wechat_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&Shanghai).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// A refusal is WeChat's 400 with its code; a store failure its 500
/// `SYSTEM_ERROR`, after which the same bill is to be retried.
fn payout_error(error: &PayoutError) -> HttpResponse {
    match error {
        PayoutError::Refused { code, message } => pay_error(StatusCode::BAD_REQUEST, code, message),
        PayoutError::Unavailable(_) => {
            let message = "system error, retry with the same out_bill_no and body";
            pay_error(StatusCode::INTERNAL_SERVER_ERROR, "SYSTEM_ERROR", message)
        }
    }
}

fn pay_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(PayErrorBody { code, message })
}

// ---------------------------------------------------------------- pages ----

/// A phone-sized page with inline styles only (no external assets).
fn page(title: &str, body: &str) -> String {
    format!(
        r#"<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
body {{ margin: 0; font: 16px/1.5 -apple-system, "PingFang SC", "Microsoft YaHei", sans-serif; background: #ededed; color: #191919; }}
main {{ max-width: 28rem; margin: 0 auto; padding: 1.5rem 1rem; box-sizing: border-box; }}
h1 {{ font-size: 1.25rem; margin: 0 0 1rem; }}
.card {{ background: #fff; border-radius: 8px; padding: 1rem; margin-bottom: 1rem; }}
label {{ display: block; padding: 0.6rem 0; border-bottom: 1px solid #eee; word-break: break-all; }}
label:last-child {{ border-bottom: 0; }}
small {{ color: #888; }}
input[type=text] {{ width: 100%; box-sizing: border-box; font-size: 1rem; padding: 0.5rem; margin-top: 0.25rem; }}
button {{ display: block; width: 100%; font-size: 1.05rem; padding: 0.75rem; margin-top: 0.75rem; border: 0; border-radius: 6px; }}
.allow {{ background: #07c160; color: #fff; }}
.deny {{ background: #f2f2f2; color: #07c160; }}
.errcode {{ font-size: 2rem; font-weight: bold; color: #fa5151; margin: 0; }}
</style>
</head>
<body><main>
{body}
</main></body>
</html>
"#
    )
}

fn consent_page(request: &AuthorizeRequest, users: &[MockWeChatUser]) -> String {
    let hidden = [
        ("appid", request.appid.as_str()),
        ("redirect_uri", request.redirect_uri.as_str()),
        ("response_type", "code"),
        ("scope", request.scope.as_str()),
        ("state", request.state.as_str()),
    ]
    .iter()
    .map(|(name, value)| format!(r#"<input type="hidden" name="{name}" value="{}">"#, escape_html(value)))
    .collect::<Vec<_>>()
    .join("\n");
    let body = format!(
        r#"<h1>微信授权 · WeChat authorization</h1>
<div class="card"><p>应用 <b>{appid}</b> 申请获得你的公开信息（昵称、头像）。<br><small>The app wants your public profile (nickname, avatar). Mock provider: pick or create a mock WeChat user.</small></p></div>
<form method="post" action="{AUTHORIZE_PATH}">
{hidden}
<div class="card">
{choices}
</div>
<button class="allow" type="submit" name="action" value="allow">允许 Allow</button>
<button class="deny" type="submit" name="action" value="deny">拒绝 Deny</button>
</form>"#,
        appid = escape_html(&request.appid),
        choices = user_choices(users),
    );
    page("微信授权", &body)
}

/// Existing users as radio buttons, then "new user" (checked by default) with
/// its nickname and test switches.
fn user_choices(users: &[MockWeChatUser]) -> String {
    let mut choices: Vec<String> = users
        .iter()
        .map(|user| {
            format!(
                r#"<label><input type="radio" name="openid" value="{openid}"> {nickname} <small>{openid}</small></label>"#,
                openid = escape_html(&user.openid),
                nickname = escape_html(&user.nickname),
            )
        })
        .collect();
    choices.push(
        r#"<label><input type="radio" name="openid" value="" checked> 新用户 New user
<input type="text" name="nickname" maxlength="32" placeholder="昵称 nickname" autocomplete="off"></label>
<label><input type="checkbox" name="no_real_name" value="on"> 未实名 not real-name verified</label>
<label><input type="checkbox" name="frozen" value="on"> 已冻结 frozen wallet</label>
<label><input type="checkbox" name="snapshot" value="on"> 快照模式 snapshot user</label>"#
            .to_owned(),
    );
    choices.join("\n")
}

/// WeChat's error page: the number and its text, with HTTP 400 (503 when the
/// mock itself failed) and the number in a header for scripts.
fn error_page(error: &AuthorizeError) -> HttpResponse {
    let status = if error.is_system_busy() { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::BAD_REQUEST };
    let body = format!(
        r#"<h1>Oops! Something went wrong :(</h1>
<div class="card"><p class="errcode">{errcode}</p><p>{message}</p></div>"#,
        errcode = error.errcode,
        message = escape_html(&error.message),
    );
    let mut response = html(status, page("微信授权错误", &body));
    response.headers_mut().insert(HeaderName::from_static(ERRCODE_HEADER_LOWERCASE), HeaderValue::from(error.errcode));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_pages_show_the_number_in_page_and_header() {
        let response = error_page(&AuthorizeError::new(10003, "bad <domain>"));
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers().get(ERRCODE_HEADER).unwrap(), "10003");
    }

    #[test]
    fn bill_times_are_written_in_beijing_time() {
        let at = DateTime::parse_from_rfc3339("2026-03-01T16:00:00.250Z").unwrap().with_timezone(&Utc);
        assert_eq!(wechat_time(at), "2026-03-02T00:00:00+08:00");
    }

    #[test]
    fn payout_errors_take_wechat_pay_statuses() {
        let refused = PayoutError::Refused { code: "INVALID_REQUEST".into(), message: "reused".into() };
        assert_eq!(payout_error(&refused).status(), StatusCode::BAD_REQUEST);
        let unavailable = PayoutError::Unavailable("down".into());
        assert_eq!(payout_error(&unavailable).status(), StatusCode::INTERNAL_SERVER_ERROR);
    }
}
