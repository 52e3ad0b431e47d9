//! `/mock/wechat/keys` and `/mock/wechat/sign`: what an integrator
//! configures a WeChat Pay v3 SDK with (mchid, appid, the merchant's serial
//! and key pair, the platform's public key and its id), and a signing
//! service for tools that cannot make RSA signatures themselves (Postman's
//! sandbox has no RSA): it signs a request as the registered merchant.
//! Mock-only, no token, not recorded in the request journal; errors are the
//! catalogue's JSON.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::signature::MOUNT;
use crate::domain::wechatpay_sign::Request;
use crate::error::{ApiError, ErrorBody};
use crate::providers::wechat::mock::{MockPaySigning, PublishedPayKeys};
use crate::routes::extract::ApiJson;

/// Longest `url` and `body` the signing service takes (characters). Small
/// enough that a request over either, even written all in `\u` escapes,
/// still fits the JSON body limit (64 KiB) and is answered 400 naming the
/// field rather than 413; WeChat Pay's own bodies are a few hundred bytes.
const URL_CHARS_MAX: usize = 1024;
const BODY_CHARS_MAX: usize = 4096;

/// The keys to configure a WeChat Pay SDK with
///
/// The merchant id, the app id, the merchant's certificate serial and key
/// pair (the private key signs requests), and WeChat Pay's public key and
/// its id (public-key mode: they verify the mock's answers). With the
/// shipped settings these are the published test keys of `config/sim-keys/`
/// (`published_test_keys`): never for real money. Not recorded in the
/// request journal.
#[utoipa::path(
    get,
    path = "/mock/wechat/keys",
    operation_id = "mock_wechat_pay_keys",
    tag = "mock",
    responses((status = 200, description = "The keys.", body = PublishedPayKeys))
)]
pub async fn keys(signing: web::Data<MockPaySigning>) -> HttpResponse {
    HttpResponse::Ok().json(signing.published_keys())
}

/// `POST /mock/wechat/sign`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "method": "GET", "url": "/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/A1", "body": ""
}))]
pub struct SignRequest {
    /// `GET`, `POST`, `PUT`, `PATCH` or `DELETE`.
    #[schema(example = "POST")]
    pub method: String,
    /// The path and query as WeChat Pay sees them (`/v3/...`); a leading
    /// `/mock/wechat` is taken off, so the mock's own URL may be given.
    #[schema(example = "/v3/fund-app/mch-transfer/transfer-bills", max_length = 1024)]
    pub url: String,
    /// The exact body that will be sent; empty (or left out) for a GET.
    #[serde(default)]
    #[schema(max_length = 4096)]
    pub body: String,
}

/// The `Authorization` header to send, and its parts.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "authorization": "WECHATPAY2-SHA256-RSA2048 mchid=\"1900000109\",nonce_str=\"593BEC0C930BF1AFEB40B4A08C8FB242\",\
        signature=\"uOVRnA4qG…\",timestamp=\"1772357400\",serial_no=\"19EFC2E8E56C4A6A1B8BB48A28E86726824D6608\"",
    "mchid": "1900000109", "nonce_str": "593BEC0C930BF1AFEB40B4A08C8FB242", "timestamp": "1772357400",
    "serial_no": "19EFC2E8E56C4A6A1B8BB48A28E86726824D6608", "signature": "uOVRnA4qG…"
}))]
pub struct SignedRequest {
    /// The whole header value.
    #[schema(
        example = "WECHATPAY2-SHA256-RSA2048 mchid=\"1900000109\",nonce_str=\"…\",signature=\"…\",timestamp=\"1772357400\",serial_no=\"19EFC2E8E56C4A6A1B8BB48A28E86726824D6608\""
    )]
    pub authorization: String,
    pub mchid: String,
    pub nonce_str: String,
    pub timestamp: String,
    pub serial_no: String,
    pub signature: String,
}

/// Sign a WeChat Pay request as the registered merchant
///
/// A convenience for tools without RSA (Postman): the `Authorization`
/// header the registered merchant would send with this method, URL and
/// body, signed now with its private key. It is valid for five minutes and
/// only for exactly this request. An SDK signs by itself with the key from
/// `/mock/wechat/keys` and never needs this. Not recorded in the request
/// journal.
#[utoipa::path(
    post,
    path = "/mock/wechat/sign",
    operation_id = "mock_wechat_pay_sign",
    tag = "mock",
    request_body = SignRequest,
    responses(
        (status = 200, description = "The header.", body = SignedRequest),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): an unknown `method`, a `url` not \
            under `/v3/` or too long, a `body` too long, an unknown field; `MALFORMED_JSON`.", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`.", body = ErrorBody),
    )
)]
pub async fn sign(
    signing: web::Data<MockPaySigning>,
    ApiJson(request): ApiJson<SignRequest>,
) -> Result<HttpResponse, ApiError> {
    if !["GET", "POST", "PUT", "PATCH", "DELETE"].contains(&request.method.as_str()) {
        return Err(ApiError::validation("method", "must be GET, POST, PUT, PATCH or DELETE"));
    }
    let url = request.url.strip_prefix(MOUNT).unwrap_or(&request.url);
    if !url.starts_with("/v3/") || url.chars().count() > URL_CHARS_MAX || url.chars().any(char::is_control) {
        return Err(ApiError::validation(
            "url",
            "must be a path under /v3/ (or /mock/wechat/v3/), at most 1024 characters",
        ));
    }
    if request.body.chars().count() > BODY_CHARS_MAX {
        return Err(ApiError::validation("body", "must be at most 4096 characters"));
    }
    let signed = signing.sign_request(Request { method: &request.method, url, body: request.body.as_bytes() });
    Ok(HttpResponse::Ok().json(SignedRequest {
        authorization: signed.header(),
        mchid: signed.mchid,
        nonce_str: signed.nonce_str,
        timestamp: signed.timestamp,
        serial_no: signed.serial_no,
        signature: signed.signature,
    }))
}
