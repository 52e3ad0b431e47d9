//! `/v1/bindings`: bind a WeChat wallet (start, OAuth callback, SMS
//! confirmation), list, show and unbind. Only the callback is reached without
//! a bearer token: the browser arrives from WeChat, and the single-use state
//! names the account.

use actix_web::http::StatusCode;
use actix_web::http::header::{ACCEPT, ContentType};
use actix_web::{HttpRequest, HttpResponse, ResponseError, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use validator::Validate;

use super::extract::{ApiJson, ClientIp};
use super::html::escape_html;
use super::pin::entered_pin;
use crate::auth::AuthenticatedUser;
use crate::auth::one_time_codes::is_sms_code;
use crate::domain::account::AccountId;
use crate::domain::binding::{Binding, BindingFailure, BindingId, BindingStatus};
use crate::error::ApiError;
use crate::rate_limit::Action;
use crate::services::Services;

/// A binding as its owner sees it: masked, never the raw openid.
#[derive(Debug, Serialize)]
pub struct BindingView {
    pub id: BindingId,
    pub provider: &'static str,
    pub status: BindingStatus,
    /// Masked WeChat nickname (`张*丰`) for the user to check, once known.
    pub nickname: Option<String>,
    pub openid: Option<String>,
    pub avatar_url: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Deadline of the current step while the binding is in progress.
    pub expires_at: Option<DateTime<Utc>>,
    pub activated_at: Option<DateTime<Utc>>,
    pub ended_at: Option<DateTime<Utc>>,
    pub failure_reason: Option<BindingFailure>,
}

impl BindingView {
    pub fn of(binding: &Binding, now: DateTime<Utc>) -> BindingView {
        let (status, failure) = binding.status_at(now);
        let destination = binding.destination.as_ref();
        BindingView {
            id: binding.id.clone(),
            provider: "wechat",
            status,
            nickname: destination.map(|d| d.masked_nickname()),
            openid: destination.map(|d| d.masked_openid()),
            avatar_url: destination.map(|d| d.avatar_url.clone()),
            created_at: binding.created_at,
            expires_at: status.is_in_progress().then_some(binding.expires_at),
            activated_at: binding.activated_at,
            ended_at: binding.ended_at,
            failure_reason: failure,
        }
    }
}

#[derive(Debug, Serialize)]
struct StartedView {
    binding_id: BindingId,
    status: BindingStatus,
    authorize_url: String,
    expires_at: DateTime<Utc>,
}

#[derive(Debug, Serialize)]
struct AuthorizedView {
    binding: BindingView,
    sms_sent_to: String,
    next: String,
}

#[derive(Debug, Deserialize)]
pub struct CallbackQuery {
    pub code: Option<String>,
    pub state: Option<String>,
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct ConfirmRequest {
    /// The 6-digit code from the SMS.
    pub sms_code: String,
}

#[derive(Debug, Deserialize, Validate)]
#[serde(deny_unknown_fields)]
pub struct UnbindRequest {
    /// The 6-digit payment PIN.
    pub pin: String,
}

#[derive(Debug, Serialize)]
struct BindingList {
    items: Vec<BindingView>,
}

fn binding_id(path: &str) -> Result<BindingId, ApiError> {
    BindingId::parse(path).ok_or(ApiError::NotFound { resource: "binding" })
}

pub async fn start_wechat(services: web::Data<Services>, user: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    let started = services.start_wechat_binding(user.account_id()).await?;
    Ok(HttpResponse::Created().json(StartedView {
        binding_id: started.binding_id,
        status: BindingStatus::Authorizing,
        authorize_url: started.authorize_url,
        expires_at: started.expires_at,
    }))
}

/// JSON for apps and scripts; a small page when a browser asks for HTML.
pub async fn wechat_callback(
    services: web::Data<Services>,
    request: HttpRequest,
    query: web::Query<CallbackQuery>,
) -> HttpResponse {
    let wants_html = request
        .headers()
        .get(ACCEPT)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    let outcome = services.complete_wechat_authorization(query.code.as_deref(), query.state.as_deref()).await;
    match (outcome, wants_html) {
        (Ok(authorized), false) => HttpResponse::Ok().json(AuthorizedView {
            next: format!("POST /v1/bindings/{}/confirm with the SMS code", authorized.binding.id),
            binding: BindingView::of(&authorized.binding, services.now()),
            sms_sent_to: authorized.sms_sent_to,
        }),
        (Ok(authorized), true) => {
            let view = BindingView::of(&authorized.binding, services.now());
            let nickname = view.nickname.unwrap_or_default();
            let body = format!(
                "<p>微信账号 <strong>{}</strong> 已授权。</p><p>验证码已发送至 {}，请回到钱包应用输入验证码完成绑定。</p><p class=\"muted\">Binding {}</p>",
                escape_html(&nickname),
                escape_html(&authorized.sms_sent_to),
                escape_html(view.id.as_str())
            );
            html_page(StatusCode::OK, "绑定微信 · Bind WeChat", &body)
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

pub async fn confirm(
    services: web::Data<Services>,
    user: AuthenticatedUser,
    path: web::Path<String>,
    ApiJson(request): ApiJson<ConfirmRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = binding_id(&path)?;
    if !is_sms_code(&request.sms_code) {
        return Err(ApiError::validation("sms_code", "must be the 6-digit code from the SMS"));
    }
    let binding = services.confirm_wechat_binding(user.account_id(), &id, &request.sms_code).await?;
    Ok(HttpResponse::Ok().json(BindingView::of(&binding, services.now())))
}

pub async fn list(services: web::Data<Services>, user: AuthenticatedUser) -> Result<HttpResponse, ApiError> {
    let account = services.load_account(user.account_id()).await?;
    let now = services.now();
    let items = account.bindings.iter().rev().map(|binding| BindingView::of(binding, now)).collect();
    Ok(HttpResponse::Ok().json(BindingList { items }))
}

pub async fn show(
    services: web::Data<Services>,
    user: AuthenticatedUser,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = binding_id(&path)?;
    let binding = own_binding(&services, user.account_id(), &id).await?;
    Ok(HttpResponse::Ok().json(BindingView::of(&binding, services.now())))
}

pub async fn unbind(
    services: web::Data<Services>,
    user: AuthenticatedUser,
    ip: ClientIp,
    path: web::Path<String>,
    ApiJson(request): ApiJson<UnbindRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = binding_id(&path)?;
    let pin = entered_pin("pin", &request.pin)?;
    services.rate_limits.check(Action::PinEntry, user.account_id().as_str(), ip.0)?;
    let binding = services.unbind_wechat(user.account_id(), &id, pin).await?;
    Ok(HttpResponse::Ok().json(BindingView::of(&binding, services.now())))
}

async fn own_binding(services: &Services, account_id: &AccountId, id: &BindingId) -> Result<Binding, ApiError> {
    let account = services.load_account(account_id).await?;
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
