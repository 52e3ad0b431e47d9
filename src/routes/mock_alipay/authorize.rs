//! The browser-facing authorize step,
//! `/mock/alipay/oauth2/publicAppAuthorize.htm` (the provider's side is
//! `providers::alipay::mock::oauth`): the consent page and its form, silent
//! `auth_base` redirects, and Alipay's error page ("错误代码 … 错误原因 …"),
//! which repeats its code in an `X-Alipay-Error-Code` header for scripts.

use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::providers::alipay::mock::{
    AUTHORIZE_PATH, AlipayAuthorizeQuery, AlipayAuthorizeRequest, AlipayAuthorizeStep, AlipayConsentForm,
    AuthorizeError, MockAlipay, MockAlipayUser,
};
use crate::routes::html::{escape_html, hidden_inputs, html, phone_page, redirect};

/// The header that repeats the code of an authorize error page.
pub const ERROR_CODE_HEADER: &str = "X-Alipay-Error-Code";
const ERROR_CODE_HEADER_LOWERCASE: &str = "x-alipay-error-code";
/// Alipay's blue, on its buttons.
const ALIPAY_BLUE: &str = "#1677ff";

/// Alipay's authorize step (consent page)
///
/// Where an app sends the user to authorize it. With `scope=auth_user` it
/// shows the consent page: pick an existing mock Alipay user or create one,
/// then allow or deny. `auth_base` redirects at once (for `user_id`, or a new
/// user). Errors are Alipay's error page.
#[utoipa::path(
    get,
    path = "/mock/alipay/oauth2/publicAppAuthorize.htm",
    operation_id = "mock_alipay_authorize",
    tag = "mock",
    params(
        ("app_id" = String, Query, description = "The app's id."),
        ("scope" = String, Query, description = "`auth_user` (consent page) or `auth_base` (silent)."),
        ("redirect_uri" = String, Query, description = "Where to send the browser; its host must be a callback domain."),
        ("state" = Option<String>, Query, description = "Echoed back to `redirect_uri`; up to 100 visible ASCII characters."),
        ("user_id" = Option<String>, Query, description = "Mock only: the existing user a silent `auth_base` authorization is for."),
    ),
    responses(
        (status = 200, description = "The consent page.", body = String, content_type = "text/html",
            example = "<!DOCTYPE html>…<h1>支付宝授权 · Alipay authorization</h1>…<form method=\"post\" \
                action=\"/mock/alipay/oauth2/publicAppAuthorize.htm\">…</form>…</html>"),
        (status = 302, description = "A silent authorization: to `redirect_uri` with `app_id`, `source`, `scope`, \
            `auth_code` and `state`.", headers(("Location" = String, description = "`redirect_uri?app_id=…&source=alipay_wallet&scope=…&auth_code=…&state=…`."))),
        (status = 400, description = "Alipay's error page (`invalid-app-id`, `invalid-scope`, `invalid-redirect-uri`, \
            `invalid-state`, …), its code also in `X-Alipay-Error-Code`.", body = String, content_type = "text/html",
            headers(("X-Alipay-Error-Code" = String, description = "The error code."))),
        (status = 503, description = "The error page for `system-error`: the mock's store is unavailable.",
            body = String, content_type = "text/html",
            headers(("X-Alipay-Error-Code" = String, description = "`system-error`."))),
    )
)]
pub async fn authorize(mock: web::Data<MockAlipay>, request: HttpRequest) -> HttpResponse {
    let query = match serde_urlencoded::from_str::<AlipayAuthorizeQuery>(request.query_string()) {
        Ok(query) => query,
        Err(error) => return error_page(&invalid_parameter(error)),
    };
    match mock.authorize(&query).await {
        Ok(AlipayAuthorizeStep::Consent { request, users }) => html(StatusCode::OK, consent_page(&request, &users)),
        Ok(AlipayAuthorizeStep::Redirect(target)) => redirect(&target),
        Err(error) => error_page(&error),
    }
}

/// Consent at Alipay (the consent page's form)
///
/// `action=allow` redirects to `redirect_uri` with a single-use `auth_code`
/// (valid `mock_alipay.auth_code_ttl_secs`), `app_id`, `source=alipay_wallet`,
/// `scope` and `state`; `action=deny` redirects without `auth_code`. The user
/// is an existing `user_id`, or a new one named by `nick_name`.
#[utoipa::path(
    post,
    path = "/mock/alipay/oauth2/publicAppAuthorize.htm",
    operation_id = "mock_alipay_consent",
    tag = "mock",
    request_body(content = AlipayConsentForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 302, description = "Back to `redirect_uri`, with `auth_code` when allowed.",
            headers(("Location" = String, description = "`redirect_uri?app_id=…&source=alipay_wallet&scope=…&auth_code=…&state=…`."))),
        (status = 400, description = "Alipay's error page (`invalid-app-id`, `invalid-scope`, `invalid-redirect-uri`, \
            `invalid-user`, `invalid-parameter`, …), its code also in `X-Alipay-Error-Code`.", body = String,
            content_type = "text/html", headers(("X-Alipay-Error-Code" = String, description = "The error code."))),
        (status = 503, description = "The error page for `system-error`: the mock's store is unavailable.",
            body = String, content_type = "text/html",
            headers(("X-Alipay-Error-Code" = String, description = "`system-error`."))),
    )
)]
pub async fn consent(mock: web::Data<MockAlipay>, body: web::Bytes) -> HttpResponse {
    let form = match serde_urlencoded::from_bytes::<AlipayConsentForm>(&body) {
        Ok(form) => form,
        Err(error) => return error_page(&invalid_parameter(error)),
    };
    match mock.consent(&form).await {
        Ok(target) => redirect(&target),
        Err(error) => error_page(&error),
    }
}

fn invalid_parameter(error: impl std::fmt::Display) -> AuthorizeError {
    AuthorizeError::new("invalid-parameter", &format!("参数错误 (invalid parameters: {error})"))
}

fn consent_page(request: &AlipayAuthorizeRequest, users: &[MockAlipayUser]) -> String {
    let hidden = hidden_inputs(&[
        ("app_id", request.app_id.as_str()),
        ("scope", request.scope_text.as_str()),
        ("redirect_uri", request.redirect_uri.as_str()),
        ("state", request.state.as_str()),
    ]);
    let body = format!(
        r#"<h1>支付宝授权 · Alipay authorization</h1>
<div class="card"><p>应用 <b>{app_id}</b> 申请获取你的支付宝账户信息（头像、昵称）。<br><small>The app asks for your Alipay profile (avatar, nickname). Mock provider: pick or create a mock Alipay user.</small></p></div>
<form method="post" action="{AUTHORIZE_PATH}">
{hidden}
<div class="card">
{choices}
</div>
<button class="allow" type="submit" name="action" value="allow">同意 Allow</button>
<button class="deny" type="submit" name="action" value="deny">拒绝 Deny</button>
</form>"#,
        app_id = escape_html(&request.app_id),
        choices = user_choices(users),
    );
    phone_page("支付宝授权", ALIPAY_BLUE, &body)
}

/// Existing users as radio buttons, then "new user" (checked by default)
/// with its names, logon id and test switches.
fn user_choices(users: &[MockAlipayUser]) -> String {
    let mut choices: Vec<String> = users
        .iter()
        .map(|user| {
            format!(
                r#"<label><input type="radio" name="user_id" value="{user_id}"> {nick_name} <small>{logon_id} · {user_id}</small></label>"#,
                user_id = escape_html(&user.user_id),
                nick_name = escape_html(&user.nick_name),
                logon_id = escape_html(&user.logon_id),
            )
        })
        .collect();
    choices.push(
        r#"<label><input type="radio" name="user_id" value="" checked> 新用户 New user
<input type="text" name="nick_name" maxlength="32" placeholder="昵称 nick name" autocomplete="off">
<input type="text" name="real_name" maxlength="32" placeholder="实名 real name (default: the nick name)" autocomplete="off">
<input type="text" name="logon_id" maxlength="64" placeholder="登录账号 logon id: mobile or email (optional)" autocomplete="off"></label>
<label><input type="checkbox" name="unverified" value="on"> 未实名 not real-name verified</label>
<label><input type="checkbox" name="frozen" value="on"> 已冻结 frozen account</label>
<label><input type="checkbox" name="info_abnormal" value="on"> 身份信息异常 identity information abnormal</label>"#
            .to_owned(),
    );
    choices.join("\n")
}

/// Alipay's error page, with HTTP 400 (503 when the mock itself failed) and
/// the code in a header for scripts.
fn error_page(error: &AuthorizeError) -> HttpResponse {
    let status = if error.is_system_error() { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::BAD_REQUEST };
    let body = format!(
        r#"<h1>调试错误，请回到请求来源地，重新发起请求。</h1>
<div class="card"><p>错误代码 <span class="errcode">{code}</span></p><p>错误原因: {message}</p></div>"#,
        code = escape_html(&error.code),
        message = escape_html(&error.message),
    );
    let mut response = html(status, phone_page("支付宝授权错误", ALIPAY_BLUE, &body));
    if let Ok(value) = HeaderValue::from_str(&error.code) {
        response.headers_mut().insert(HeaderName::from_static(ERROR_CODE_HEADER_LOWERCASE), value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_pages_show_the_code_in_page_and_header() {
        let response = error_page(&AuthorizeError::new("invalid-redirect-uri", "bad <domain>"));
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers().get(ERROR_CODE_HEADER).unwrap(), "invalid-redirect-uri");
        let busy = error_page(&AuthorizeError::new("system-error", "busy"));
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
}
