//! `/v1/bindings`: bind a WeChat wallet or an Alipay account (start, OAuth
//! callback, SMS confirmation), list, show and unbind. Only the callbacks are
//! reached without a bearer token: the browser arrives from WeChat or
//! Alipay, and the single-use state names the account.

use actix_web::http::StatusCode;
use actix_web::http::header::{ACCEPT, ContentType};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use validator::Validate;

use super::extract::{ApiJson, ApiQuery, ClientIp};
use super::html::escape_html;
use super::identity::AuthenticatedUser;
use super::pagination::{List, PageQuery};
use super::pin::entered_pin;
use super::responses::{
    AccountNotFound, BindingNotFound, PayloadTooLarge, PinIncorrect, PinLocked, PinMalformed, StoreBusy,
    StoreUnavailable, Unauthenticated,
};
use crate::auth::one_time_codes::is_sms_code;
use crate::domain::account::AccountId;
use crate::domain::binding::{Binding, BindingFailure, BindingId, BindingStatus, DestinationProvider};
use crate::error::{ApiError, ErrorBody};
use crate::rate_limit::{Action, RateLimits};
use crate::services::bindings::alipay::AlipayCallback;
use crate::services::bindings::{AuthorizedBinding, Bindings};

/// A binding as its owner sees it: masked, never the raw user id.
#[derive(Debug, Serialize, ToSchema)]
pub struct BindingView {
    pub id: BindingId,
    /// Whose wallet: `wechat` or `alipay`.
    pub provider: DestinationProvider,
    pub status: BindingStatus,
    /// Masked WeChat or Alipay nickname (`张*丰`) for the user to check, once known.
    #[schema(example = "张*丰")]
    pub nickname: Option<String>,
    /// Masked user id, once known: WeChat's openid, Alipay's open id (or `2088…` user id).
    #[schema(example = "oAb1****WxYz")]
    pub openid: Option<String>,
    /// Masked certified real name of an Alipay account (`李*龙`), which
    /// payouts name to Alipay; absent for WeChat and uncertified accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "李*龙")]
    pub real_name: Option<String>,
    /// The WeChat or Alipay avatar, once known.
    #[schema(example = "https://thirdwx.qlogo.cn/mmopen/vi_32/Q3auHgzwzM4fYt2bTqNk0A/132")]
    pub avatar_url: Option<String>,
    #[schema(example = "2025-05-01T08:00:00Z")]
    pub created_at: DateTime<Utc>,
    /// Deadline of the current step while the binding is in progress.
    #[schema(example = json!(null))]
    pub expires_at: Option<DateTime<Utc>>,
    #[schema(example = "2025-05-01T08:02:10Z")]
    pub activated_at: Option<DateTime<Utc>>,
    /// When it was unbound or failed.
    #[schema(example = json!(null))]
    pub ended_at: Option<DateTime<Utc>>,
    /// Why a `failed` binding failed.
    pub failure_reason: Option<BindingFailure>,
}

impl BindingView {
    pub fn of(binding: &Binding, now: DateTime<Utc>) -> BindingView {
        let (status, failure) = binding.status_at(now);
        let destination = binding.destination.as_ref();
        BindingView {
            id: binding.id.clone(),
            provider: binding.provider,
            status,
            nickname: destination.map(|d| d.masked_nickname()),
            openid: destination.map(|d| d.masked_openid()),
            real_name: destination.and_then(|d| d.masked_real_name()),
            avatar_url: destination.map(|d| d.avatar_url.clone()),
            created_at: binding.created_at,
            expires_at: status.is_in_progress().then_some(binding.expires_at),
            activated_at: binding.activated_at,
            ended_at: binding.ended_at,
            failure_reason: failure,
        }
    }
}

/// A binding attempt just started: send the browser to `authorize_url`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "binding_id": "bnd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "status": "authorizing",
    "authorize_url": "http://127.0.0.1:8080/mock/wechat/connect/oauth2/authorize?appid=wx8a3f5c7e2b9d1046&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fv1%2Fbindings%2Fwechat%2Fcallback&response_type=code&scope=snsapi_userinfo&state=4f1c2a9b7e3d#wechat_redirect",
    "expires_at": "2025-05-01T08:10:00Z"
}))]
struct StartedView {
    binding_id: BindingId,
    /// `authorizing`.
    status: BindingStatus,
    /// The (mock) WeChat consent page, with `appid`, `redirect_uri`, `scope` and a single-use `state`.
    authorize_url: String,
    /// The consent must happen before this.
    expires_at: DateTime<Utc>,
}

/// WeChat authorized the binding; an SMS code is on its way.
#[derive(Debug, Serialize, ToSchema)]
struct AuthorizedView {
    /// Now `pending_confirmation`, with the masked WeChat identity.
    binding: BindingView,
    /// The masked phone the code went to.
    #[schema(example = "138****0001")]
    sms_sent_to: String,
    /// What to do next.
    #[schema(example = "POST /v1/bindings/bnd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7/confirm with the SMS code")]
    next: String,
}

/// What WeChat appends to the redirect URI.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackQuery {
    /// The single-use authorization code; absent when the user denied consent.
    pub code: Option<String>,
    /// The `state` of the binding's `authorize_url`, echoed back (400 without it).
    #[param(required = true)]
    pub state: Option<String>,
}

/// What Alipay appends to the redirect URI.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlipayCallbackQuery {
    /// The single-use authorization code; absent when the user denied consent.
    #[param(example = "4b203fe6c11548bcabd8da5bb087a83b")]
    pub auth_code: Option<String>,
    /// The `state` of the binding's `authorize_url`, echoed back (400 without it).
    #[param(required = true)]
    pub state: Option<String>,
    /// The app consented to: this gateway's `alipay.app_id` (400 naming `app_id` when another).
    #[param(example = "2021004100000001")]
    pub app_id: Option<String>,
    /// Where the user came from (`alipay_wallet`); not checked.
    #[param(example = "alipay_wallet")]
    pub source: Option<String>,
    /// The scope consented to (`auth_user`); not checked.
    #[param(example = "auth_user")]
    pub scope: Option<String>,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The 6-digit code from the SMS.
    #[schema(pattern = r"^[0-9]{6}$", example = "482913")]
    pub sms_code: String,
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnbindRequest {
    /// The 6-digit payment PIN.
    #[schema(pattern = r"^[0-9]{6}$", example = "135790")]
    pub pin: String,
}

/// A page of the account's bindings, newest first (finished ones included).
#[derive(Debug, Serialize, ToSchema)]
struct BindingList {
    items: Vec<BindingView>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(example = json!(null))]
    next_cursor: Option<String>,
}

fn binding_id(path: &str) -> Result<BindingId, ApiError> {
    BindingId::parse(path).ok_or(ApiError::NotFound { resource: "binding" })
}

/// Start binding a WeChat wallet
///
/// Creates a binding attempt (`authorizing`) and returns the WeChat consent
/// URL to open in a browser. WeChat then redirects to
/// `/v1/bindings/wechat/callback`, and an SMS code confirms the binding.
/// Starting again supersedes an attempt in progress.
#[utoipa::path(
    post,
    path = "/v1/bindings/wechat",
    tag = "bindings",
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "The attempt and where to consent.", body = StartedView),
        (status = 409, description = "`BINDING_ALREADY_ACTIVE` (`details.binding_id`): unbind the active wallet first.", body = ErrorBody),
        (status = 422, description = "`PHONE_REQUIRED`: the account has no phone to receive the SMS code.", body = ErrorBody),
        Unauthenticated, AccountNotFound, StoreBusy,
    )
)]
pub async fn start_wechat(bindings: web::Data<Bindings>, user: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    start(&bindings, &user, DestinationProvider::Wechat).await
}

/// Start binding an Alipay account
///
/// Creates a binding attempt (`authorizing`) and returns Alipay's consent
/// URL (`publicAppAuthorize.htm` with `app_id`, `scope=auth_user`,
/// `redirect_uri` and a single-use `state`) to open in a browser. Alipay then
/// redirects to `/v1/bindings/alipay/callback`, and an SMS code confirms the
/// binding. An account may hold one active Alipay binding beside its WeChat
/// one; starting again supersedes an Alipay attempt in progress.
#[utoipa::path(
    post,
    path = "/v1/bindings/alipay",
    tag = "bindings",
    security(("bearerAuth" = [])),
    responses(
        (status = 201, description = "The attempt and where to consent.", body = StartedView, example = json!({
            "binding_id": "bnd_0196a3c5e2b87d40a1f3c9e2d4b5a6c8", "status": "authorizing",
            "authorize_url": "http://127.0.0.1:8080/mock/alipay/oauth2/publicAppAuthorize.htm?app_id=2021004100000001&scope=auth_user&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fv1%2Fbindings%2Falipay%2Fcallback&state=4f1c2a9b7e3d",
            "expires_at": "2025-05-01T08:10:00Z"
        })),
        (status = 409, description = "`BINDING_ALREADY_ACTIVE` (`details.binding_id`): unbind the active Alipay account first.", body = ErrorBody),
        (status = 422, description = "`PHONE_REQUIRED`: the account has no phone to receive the SMS code.", body = ErrorBody),
        (status = 503, description = "`PROVIDER_UNAVAILABLE` (`details.provider` = `alipay`): no Alipay gateway is \
            configured; `STORE_UNAVAILABLE`, `STORE_BUSY`.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        Unauthenticated, AccountNotFound,
    )
)]
pub async fn start_alipay(bindings: web::Data<Bindings>, user: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    start(&bindings, &user, DestinationProvider::Alipay).await
}

async fn start(
    bindings: &Bindings,
    user: &AuthenticatedUser,
    provider: DestinationProvider,
) -> Result<HttpResponse, ApiError> {
    let started = bindings.start_binding(user.account_id(), provider).await?;
    Ok(HttpResponse::Created().json(StartedView {
        binding_id: started.binding_id,
        status: BindingStatus::Authorizing,
        authorize_url: started.authorize_url,
        expires_at: started.expires_at,
    }))
}

/// WeChat's redirect back (OAuth callback)
///
/// Where WeChat sends the browser after consent, with `code` and `state`; no
/// bearer token (the single-use `state` names the account). The code is
/// exchanged server-side for the WeChat identity and an SMS code is texted to
/// the account's phone. Answers JSON, or a small page when the request accepts
/// `text/html`; errors come in the same two forms. Each failure ends the attempt.
#[utoipa::path(
    get,
    path = "/v1/bindings/wechat/callback",
    tag = "bindings",
    params(CallbackQuery),
    responses(
        (status = 200, description = "Authorized: the binding now waits for the SMS code.", content(
            (AuthorizedView = "application/json"),
            (String = "text/html", example = "<!doctype html><html lang=\"zh-CN\">…<h1>绑定微信 · Bind WeChat</h1>\
                <p>微信账号 <strong>张*丰</strong> 已授权。</p><p>验证码已发送至 138****0001，请回到钱包应用输入验证码完成绑定。</p>…</html>"),
        )),
        (status = 400, description = "`BINDING_STATE_INVALID`: a missing, forged, expired or reused `state`; \
            `VALIDATION_FAILED`: a malformed query string.", content(
            (ErrorBody = "application/json"),
            (String = "text/html"),
        )),
        (status = 404, description = "`NOT_FOUND` (`details.resource` = `account`).", content(
            (ErrorBody = "application/json"),
            (String = "text/html"),
        )),
        (status = 409, description = "`WECHAT_ALREADY_BOUND`: this WeChat account is bound to another account.", content(
            (ErrorBody = "application/json"),
            (String = "text/html"),
        )),
        (status = 422, description = "`BINDING_CONSENT_DENIED` (no `code`), `WECHAT_AUTHORIZATION_FAILED` (WeChat's \
            `errcode` and `errmsg` in `details`: 40029 invalid, 40163 used, 42003 expired code), \
            `WECHAT_SNAPSHOT_USER`.", content(
            (ErrorBody = "application/json"),
            (String = "text/html"),
        )),
        (status = 503, description = "`WECHAT_UNAVAILABLE`, `SMS_UNAVAILABLE` (no SMS gateway outside the \
            simulator profile), `SMS_NOT_SENT` (the consent is kept: ask for a new `bind_wechat` code), `STORE_UNAVAILABLE`, `STORE_BUSY`; retry after `Retry-After` seconds.", content(
            (ErrorBody = "application/json"),
            (String = "text/html"),
        )),
    )
)]
pub async fn wechat_callback(
    bindings: web::Data<Bindings>,
    request: HttpRequest,
    query: ApiQuery<CallbackQuery>,
) -> HttpResponse {
    let outcome = bindings.complete_wechat_authorization(query.code.as_deref(), query.state.as_deref()).await;
    callback_answer(&bindings, &request, outcome, DestinationProvider::Wechat)
}

/// Alipay's redirect back (OAuth callback)
///
/// Where Alipay sends the browser after consent, with `auth_code`, `state`,
/// `app_id`, `source` and `scope`; no bearer token (the single-use `state`
/// names the account). The `auth_code` is exchanged server-side
/// (`alipay.system.oauth.token`, then `alipay.user.info.share`, signed) for
/// the Alipay user id or open id, nickname, avatar and certified real name,
/// and an SMS code is texted to the account's phone. Answers JSON, or a small
/// page when the request accepts `text/html`; errors come in the same two
/// forms. Each failure ends the attempt.
#[utoipa::path(
    get,
    path = "/v1/bindings/alipay/callback",
    tag = "bindings",
    params(AlipayCallbackQuery),
    responses(
        (status = 200, description = "Authorized: the binding now waits for the SMS code.", content(
            (AuthorizedView = "application/json", example = json!({
                "binding": {"id": "bnd_0196a3c5e2b87d40a1f3c9e2d4b5a6c8", "provider": "alipay",
                    "status": "pending_confirmation", "nickname": "小*明", "openid": "0744****CoY5",
                    "real_name": "李*龙", "avatar_url": "https://tfs.alipayobjects.com/images/partner/T1abc",
                    "created_at": "2025-05-01T08:00:00Z", "expires_at": "2025-05-01T08:15:00Z",
                    "activated_at": null, "ended_at": null, "failure_reason": null},
                "sms_sent_to": "138****0001",
                "next": "POST /v1/bindings/bnd_0196a3c5e2b87d40a1f3c9e2d4b5a6c8/confirm with the SMS code"
            })),
            (String = "text/html", example = "<!doctype html><html lang=\"zh-CN\">…<h1>绑定支付宝 · Bind Alipay</h1>\
                <p>支付宝账号 <strong>小*明</strong> 已授权。</p><p>验证码已发送至 138****0001，请回到钱包应用输入验证码完成绑定。</p>…</html>"),
        )),
        (status = 400, description = "`BINDING_STATE_INVALID`: a missing, forged, expired or reused `state`; \
            `VALIDATION_FAILED`: a malformed query string, an `app_id` other than this gateway's.", content(
            (ErrorBody = "application/json"),
            (String = "text/html"),
        )),
        (status = 404, description = "`NOT_FOUND` (`details.resource` = `account`).", content(
            (ErrorBody = "application/json"),
            (String = "text/html"),
        )),
        (status = 409, description = "`ALIPAY_ALREADY_BOUND`: this Alipay account is bound to another account.", content(
            (ErrorBody = "application/json"),
            (String = "text/html"),
        )),
        (status = 422, description = "`BINDING_CONSENT_DENIED` (no `auth_code`), `ALIPAY_AUTHORIZATION_FAILED` \
            (Alipay's `sub_code` and `sub_msg` in `details`: `isv.code-invalid` for an invalid, used or expired \
            `auth_code`).", content(
            (ErrorBody = "application/json", example = json!({"error": {"code": "ALIPAY_AUTHORIZATION_FAILED",
                "message": "Alipay refused the authorization: isv.code-invalid",
                "details": {"sub_code": "isv.code-invalid", "sub_msg": "授权码code无效"},
                "request_id": "9b2f0c1e-5d1a-4f4e-8f43-2c1d7e0a6b55"}})),
            (String = "text/html"),
        )),
        (status = 503, description = "`PROVIDER_UNAVAILABLE` (`details.provider` = `alipay`): Alipay unreachable or \
            answering what cannot be trusted; `SMS_UNAVAILABLE`, `SMS_NOT_SENT` (the consent is kept: ask for a \
            new `bind_alipay` code), `STORE_UNAVAILABLE`, `STORE_BUSY`; retry after `Retry-After` seconds.", content(
            (ErrorBody = "application/json"),
            (String = "text/html"),
        )),
    )
)]
pub async fn alipay_callback(
    bindings: web::Data<Bindings>,
    request: HttpRequest,
    query: ApiQuery<AlipayCallbackQuery>,
) -> HttpResponse {
    let callback = AlipayCallback {
        auth_code: query.auth_code.as_deref(),
        state: query.state.as_deref(),
        app_id: query.app_id.as_deref(),
    };
    let outcome = bindings.complete_alipay_authorization(callback).await;
    callback_answer(&bindings, &request, outcome, DestinationProvider::Alipay)
}

/// A callback's answer: JSON, or a small page for a browser that asks for HTML.
fn callback_answer(
    bindings: &Bindings,
    request: &HttpRequest,
    outcome: Result<AuthorizedBinding, ApiError>,
    provider: DestinationProvider,
) -> HttpResponse {
    let wants_html = request
        .headers()
        .get(ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let (wallet, title) = match provider {
        DestinationProvider::Wechat => ("微信账号", "绑定微信 · Bind WeChat"),
        DestinationProvider::Alipay => ("支付宝账号", "绑定支付宝 · Bind Alipay"),
    };
    match (outcome, wants_html) {
        (Ok(authorized), false) => HttpResponse::Ok().json(AuthorizedView {
            next: format!("POST /v1/bindings/{}/confirm with the SMS code", authorized.binding.id),
            binding: BindingView::of(&authorized.binding, bindings.partitions.now()),
            sms_sent_to: authorized.sms_sent_to,
        }),
        (Ok(authorized), true) => {
            let view = BindingView::of(&authorized.binding, bindings.partitions.now());
            let nickname = view.nickname.unwrap_or_default();
            let body = format!(
                "<p>{wallet} <strong>{}</strong> 已授权。</p><p>验证码已发送至 {}，请回到钱包应用输入验证码完成绑定。</p><p class=\"muted\">Binding {}</p>",
                escape_html(&nickname),
                escape_html(&authorized.sms_sent_to),
                escape_html(view.id.as_str())
            );
            html_page(StatusCode::OK, title, &body)
        }
        (Err(error), false) => error.error_response(),
        (Err(error), true) => {
            let body = format!(
                "<p><strong>{}</strong></p><p>{}</p><p class=\"muted\">请回到钱包应用重新发起绑定。</p>",
                error.code(),
                escape_html(&error.to_string())
            );
            html_page(error.status_code(), "绑定失败 · Binding failed", &body)
        }
    }
}

/// Confirm a binding with the SMS code
///
/// The code texted after the WeChat or Alipay authorization activates the
/// binding (purpose `bind_wechat` or `bind_alipay`).
/// Three wrong codes void it; each failure is counted in the store.
#[utoipa::path(
    post,
    path = "/v1/bindings/{id}/confirm",
    operation_id = "confirm_binding",
    tag = "bindings",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The binding's id, `bnd_` and 32 hex digits; anything else is 404.", example = "bnd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")),
    request_body = ConfirmRequest,
    responses(
        (status = 200, description = "The binding, now `active`.", body = BindingView),
        (status = 400, description = "`VALIDATION_FAILED`: `sms_code` is not 6 digits, an unknown field.", body = ErrorBody),
        (status = 409, description = "`BINDING_STATUS_CONFLICT` (`details.status`): the binding is not waiting for \
            a code; `BINDING_ALREADY_ACTIVE`; `WECHAT_ALREADY_BOUND`, `ALIPAY_ALREADY_BOUND`: the wallet went to \
            another account meanwhile.", body = ErrorBody),
        (status = 422, description = "`SMS_CODE_INCORRECT` (`details.attempts_remaining`), `SMS_CODE_EXPIRED`, \
            `BINDING_EXPIRED`.", body = ErrorBody),
        Unauthenticated, BindingNotFound, PayloadTooLarge, StoreBusy,
    )
)]
pub async fn confirm(
    bindings: web::Data<Bindings>,
    user: AuthenticatedUser,
    path: web::Path<String>,
    ApiJson(request): ApiJson<ConfirmRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = binding_id(&path)?;
    if !is_sms_code(&request.sms_code) {
        return Err(ApiError::validation("sms_code", "must be the 6-digit code from the SMS"));
    }
    let binding = bindings.confirm_binding(&user.0, &id, &request.sms_code).await?;
    Ok(HttpResponse::Ok().json(BindingView::of(&binding, bindings.partitions.now())))
}

/// List the caller's bindings
///
/// Newest first, both providers (`provider`), with masked nickname, user id
/// (and an Alipay account's certified name), status and failure reason.
#[utoipa::path(
    get,
    path = "/v1/bindings",
    operation_id = "list_bindings",
    tag = "bindings",
    security(("bearerAuth" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of the bindings.", body = BindingList),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a `limit` outside 1 to 200, a \
            `cursor` this list did not issue, an unknown query parameter.", body = ErrorBody),
        Unauthenticated, AccountNotFound, StoreUnavailable,
    )
)]
pub async fn list(
    bindings: web::Data<Bindings>,
    user: AuthenticatedUser,
    query: ApiQuery<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let request = query.request::<BindingId>(List::Bindings)?;
    let account = bindings.partitions.load_account(user.account_id()).await?;
    let now = bindings.partitions.now();
    // Ids are time-ordered (UUIDv7) and bindings kept in the order they were
    // started, so newest first is the list reversed, and a page goes on
    // below its cursor's id even if that binding has since been pruned.
    let older = account
        .bindings
        .iter()
        .rev()
        .filter(|binding| request.after.as_ref().is_none_or(|after| binding.id.as_str() < after.as_str()));
    let items = older.take(request.read_ahead()).map(|binding| BindingView::of(binding, now)).collect();
    let (items, next_cursor) = request.page(items, |view: &BindingView| view.id.clone());
    Ok(HttpResponse::Ok().json(BindingList { items, next_cursor }))
}

/// One binding of the caller's
#[utoipa::path(
    get,
    path = "/v1/bindings/{id}",
    operation_id = "show_binding",
    tag = "bindings",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The binding's id, `bnd_` and 32 hex digits; anything else is 404.", example = "bnd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")),
    responses(
        (status = 200, description = "The binding.", body = BindingView),
        Unauthenticated, BindingNotFound, StoreUnavailable,
    )
)]
pub async fn show(
    bindings: web::Data<Bindings>,
    user: AuthenticatedUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = binding_id(&path)?;
    let binding = own_binding(&bindings, user.account_id(), &id).await?;
    Ok(HttpResponse::Ok().json(BindingView::of(&binding, bindings.partitions.now())))
}

/// Unbind a wallet (WeChat or Alipay)
///
/// Needs the payment PIN; a wrong PIN counts towards the lock like any entry.
/// Rate-limited per account and per IP address.
#[utoipa::path(
    delete,
    path = "/v1/bindings/{id}",
    operation_id = "unbind_wallet",
    tag = "bindings",
    security(("bearerAuth" = [])),
    params(("id" = String, Path, description = "The binding's id, `bnd_` and 32 hex digits; anything else is 404.", example = "bnd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")),
    request_body = UnbindRequest,
    responses(
        (status = 200, description = "The binding, now `unbound`.", body = BindingView),
        (status = 409, description = "`BINDING_STATUS_CONFLICT` (`details.status`): the binding is not active.", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED` (`details.retry_after_secs`): too many PIN entries.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait."))),
        PinMalformed, Unauthenticated, BindingNotFound, PayloadTooLarge, PinIncorrect, PinLocked, StoreBusy,
    )
)]
pub async fn unbind(
    bindings: web::Data<Bindings>,
    rate_limits: web::Data<RateLimits>,
    user: AuthenticatedUser,
    ip: ClientIp,
    path: web::Path<String>,
    ApiJson(request): ApiJson<UnbindRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = binding_id(&path)?;
    let pin = entered_pin("pin", &request.pin)?;
    rate_limits.check(Action::PinEntry, user.account_id().as_str(), ip.0)?;
    let binding = bindings.unbind(&user.0, &id, pin).await?;
    Ok(HttpResponse::Ok().json(BindingView::of(&binding, bindings.partitions.now())))
}

async fn own_binding(bindings: &Bindings, account_id: &AccountId, id: &BindingId) -> Result<Binding, ApiError> {
    let account = bindings.partitions.load_account(account_id).await?;
    account.binding(id).cloned().ok_or(ApiError::NotFound { resource: "binding" })
}

fn html_page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let page = format!(
        "<!doctype html><html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>{title}</title>\
         <style>body{{font-family:-apple-system,system-ui,sans-serif;max-width:420px;margin:2rem auto;padding:0 1rem;}}\
         .muted{{color:#888;font-size:.85rem}}</style></head><body><h1>{title}</h1>{body}</body></html>"
    );
    HttpResponse::build(status).content_type(ContentType::html()).body(page)
}
