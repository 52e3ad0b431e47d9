//! The mock WeChat provider's HTTP face under `/mock/wechat`: thin handlers
//! over `MockWeChat`, and the two HTML pages of the authorize step (consent
//! and error). Errors take the shape the real endpoint uses: an HTML page
//! (plus an `X-WeChat-Errcode` header for scripts) on the browser-facing
//! authorize step, HTTP 200 `{errcode, errmsg}` on the `sns` API, and the
//! catalogue's JSON on the mock-only `users` resource.
//!
//! Handlers take `web::Data<MockWeChat>`: startup registers it with
//! `web::Data::from(Arc<MockWeChat>)`, sharing the very `Arc` the in-process
//! `BuiltinWeChatClient` holds, so both reach one provider.

use actix_web::http::StatusCode;
use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderName, HeaderValue, LOCATION};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;
use url::Url;
use validator::Validate;

use super::extract::ApiJson;
use super::html::escape_html;
use crate::error::ApiError;
use crate::providers::wechat::WeChatApiError;
use crate::providers::wechat::mock::{
    AuthorizeError, AuthorizeQuery, AuthorizeRequest, AuthorizeStep, ConsentForm, MockUserFlags, MockWeChat,
    MockWeChatUser, NewMockUser, api_error, mock_errcode,
};

/// The header that repeats the error number of an authorize error page.
pub const ERRCODE_HEADER: &str = "X-WeChat-Errcode";
/// The same name as `http` stores it (header names are case-insensitive).
const ERRCODE_HEADER_LOWERCASE: &str = "x-wechat-errcode";
const AUTHORIZE_PATH: &str = "/mock/wechat/connect/oauth2/authorize";

/// Every `/mock/wechat` route. Needs `web::Data<MockWeChat>` registered.
pub fn configure(config: &mut web::ServiceConfig) {
    config.service(
        web::scope("/mock/wechat")
            .route("/users", web::post().to(create_user))
            .route("/users/{openid}", web::get().to(user))
            .route("/connect/oauth2/authorize", web::get().to(authorize))
            .route("/connect/oauth2/authorize", web::post().to(consent))
            .route("/sns/oauth2/access_token", web::get().to(access_token))
            .route("/sns/oauth2/refresh_token", web::get().to(refresh_token))
            .route("/sns/auth", web::get().to(auth))
            .route("/sns/userinfo", web::get().to(user_info)),
    );
}

// ---------------------------------------------------------------- users ----

/// `POST /mock/wechat/users`: a new mock WeChat user.
#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct CreateMockUserRequest {
    /// 1–32 characters.
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

async fn create_user(
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

async fn user(mock: web::Data<MockWeChat>, openid: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let found = mock.load_user(&openid).await?;
    let user = found.ok_or(ApiError::NotFound { resource: "wechat user" })?;
    Ok(HttpResponse::Ok().json(user.value))
}

// ------------------------------------------------------------ authorize ----

async fn authorize(mock: web::Data<MockWeChat>, request: HttpRequest) -> HttpResponse {
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

async fn consent(mock: web::Data<MockWeChat>, body: web::Bytes) -> HttpResponse {
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

async fn access_token(mock: web::Data<MockWeChat>, request: HttpRequest) -> HttpResponse {
    let result = match sns_query(&request) {
        Ok(query) => mock.exchange_code(&query).await,
        Err(error) => Err(error),
    };
    wechat_json(result)
}

async fn refresh_token(mock: web::Data<MockWeChat>, request: HttpRequest) -> HttpResponse {
    let result = match sns_query(&request) {
        Ok(query) => mock.refresh_token(&query).await,
        Err(error) => Err(error),
    };
    wechat_json(result)
}

async fn auth(mock: web::Data<MockWeChat>, request: HttpRequest) -> HttpResponse {
    let result = match sns_query(&request) {
        Ok(query) => mock.check_access_token(&query).await,
        Err(error) => Err(error),
    };
    wechat_json(result.map(|()| json!({ "errcode": 0, "errmsg": "ok" })))
}

async fn user_info(mock: web::Data<MockWeChat>, request: HttpRequest) -> HttpResponse {
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

/// WeChat answers both success and failure with HTTP 200.
fn wechat_json<T: Serialize>(result: Result<T, WeChatApiError>) -> HttpResponse {
    match result {
        Ok(body) => HttpResponse::Ok().json(body),
        Err(error) => HttpResponse::Ok().json(error),
    }
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
}
