//! The browser-facing authorize step, `/mock/wechat/connect/oauth2/authorize`
//! (the provider's side is `providers::wechat::mock::authorize`): the consent
//! page and its form, silent redirects, and WeChat's error page, which
//! repeats its number in an `X-WeChat-Errcode` header for scripts. The two
//! pages are phone-sized HTML with inline styles only.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::providers::wechat::mock::{
    AuthorizeError, AuthorizeQuery, AuthorizeRequest, AuthorizeStep, ConsentForm, MockWeChat, MockWeChatUser,
    mock_errcode,
};
use crate::routes::html::{escape_html, hidden_inputs, html, phone_page, redirect};

/// The header that repeats the error number of an authorize error page.
pub const ERRCODE_HEADER: &str = "X-WeChat-Errcode";
/// The same name as `http` stores it (header names are case-insensitive).
const ERRCODE_HEADER_LOWERCASE: &str = "x-wechat-errcode";
const AUTHORIZE_PATH: &str = "/mock/wechat/connect/oauth2/authorize";

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
        (status = 200, description = "The consent page.", body = String, content_type = "text/html",
            example = "<!doctype html>…<h1>微信授权 · WeChat authorization</h1>…<form method=\"post\" \
                action=\"/mock/wechat/connect/oauth2/authorize\">…<button class=\"allow\" type=\"submit\" name=\"action\" \
                value=\"allow\">允许 Allow</button>…</form>…</html>"),
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

/// WeChat's green, on its buttons and links.
const WECHAT_GREEN: &str = "#07c160";

fn page(title: &str, body: &str) -> String {
    phone_page(title, WECHAT_GREEN, body)
}

fn consent_page(request: &AuthorizeRequest, users: &[MockWeChatUser]) -> String {
    let hidden = hidden_inputs(&[
        ("appid", request.appid.as_str()),
        ("redirect_uri", request.redirect_uri.as_str()),
        ("response_type", "code"),
        ("scope", request.scope.as_str()),
        ("state", request.state.as_str()),
    ]);
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
<input type="text" name="nickname" maxlength="32" placeholder="昵称 nickname" autocomplete="off">
<input type="text" name="real_name" maxlength="32" placeholder="实名 real name (optional: any name passes)" autocomplete="off"></label>
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
