//! `POST /v1/callbacks/wechat-pay/transfer-bills`: where WeChat Pay tells
//! walletgate that a transfer bill is final (`MCHTRANSFER.BILL.FINISHED`,
//! the `notify_url` walletgate sends with its bills; `services::pay_notices`).
//! WeChat Pay's own protocol, not walletgate's: the body is WeChat Pay's, the
//! answer is 204 when taken and WeChat Pay's failure shape,
//! `{"code":"FAIL","message":…}` with a 4xx/5xx status, when not (after
//! which WeChat Pay sends it again). No token: the signature is the proof.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::wechatpay_crypto::NoticeFailure;
use crate::domain::wechatpay_sign::AnswerSignature;
use crate::services::pay_notices::{NoticeError, PayNotices};

/// Where the notifications come in; `wechat.pay.notify_url` points here by default.
pub const WECHAT_PAY_NOTIFY_PATH: &str = "/v1/callbacks/wechat-pay/transfer-bills";

/// WeChat Pay's notification, as it POSTs it (the `resource` decrypts with the APIv3 key).
#[derive(Debug, ToSchema)]
#[schema(example = json!({
    "id": "EV-202603011730054567", "create_time": "2026-03-01T17:30:05+08:00",
    "resource_type": "encrypt-resource", "event_type": "MCHTRANSFER.BILL.FINISHED",
    "summary": "商家转账单据终态通知",
    "resource": {"original_type": "mch_payment", "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": "JnNBbJq…", "nonce": "fdasflkja484", "associated_data": "mch_payment"}
}))]
#[allow(dead_code)]
pub struct WeChatPayNotification {
    pub id: String,
    /// RFC 3339, Beijing time.
    pub create_time: String,
    /// `encrypt-resource`.
    pub resource_type: String,
    /// `MCHTRANSFER.BILL.FINISHED`; other events are answered 204 and ignored.
    pub event_type: String,
    pub summary: String,
    /// `{original_type, algorithm: "AEAD_AES_256_GCM", ciphertext, nonce, associated_data}`:
    /// `{mchid, out_bill_no, transfer_bill_no, state, transfer_amount, fail_reason, openid,
    /// create_time, update_time}` encrypted with the APIv3 key.
    pub resource: serde_json::Value,
}

/// WeChat Pay's expected failure answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"code": "FAIL", "message": "签名错误: the signature does not hold"}))]
pub struct NoticeFailureBody {
    /// Always `FAIL`.
    pub code: &'static str,
    pub message: String,
}

/// WeChat Pay tells a transfer bill's final state
///
/// WeChat Pay's `MCHTRANSFER.BILL.FINISHED` for a bill walletgate created
/// with this `notify_url` (`wechat.pay.notify_url`). Checked as WeChat Pay
/// advises: the `Wechatpay-Signature` over `Wechatpay-Timestamp\nWechatpay-Nonce\nBODY\n`
/// with WeChat Pay's public key (`Wechatpay-Serial` naming it), the timestamp
/// within 5 minutes of the wall clock; the resource decrypted with the APIv3
/// key (AEAD_AES_256_GCM). Then the bill itself is asked of WeChat Pay and its
/// withdrawal settles (`SUCCESS`) or fails with the hold given back (`FAIL`,
/// `CANCELLED`) at once, instead of at the worker's next look. A repeat
/// changes nothing. No token: the signature is the proof.
#[utoipa::path(
    post,
    path = "/v1/callbacks/wechat-pay/transfer-bills",
    operation_id = "wechat_pay_transfer_bill_notify",
    tag = "callbacks",
    request_body = WeChatPayNotification,
    params(
        ("Wechatpay-Timestamp" = String, Header, description = "Unix seconds of the signature."),
        ("Wechatpay-Nonce" = String, Header, description = "The signature's nonce."),
        ("Wechatpay-Signature" = String, Header, description = "Base64 SHA256withRSA with WeChat Pay's key."),
        ("Wechatpay-Serial" = String, Header, description = "WeChat Pay's public key id (`PUB_KEY_ID_…`)."),
    ),
    responses(
        (status = 204, description = "Taken (acted on, or nothing left to do): WeChat Pay sends it no more."),
        (status = 401, description = "`FAIL`: the signature is missing, names another key, is stale or does \
            not verify; nothing changed.", body = NoticeFailureBody),
        (status = 400, description = "`FAIL`: not a notification, or its resource does not decrypt with the \
            APIv3 key; nothing changed.", body = NoticeFailureBody),
        (status = 500, description = "`FAIL`: it could not be acted on now; WeChat Pay sends it again.",
            body = NoticeFailureBody),
    )
)]
pub async fn transfer_bill_finished(
    notices: web::Data<Option<PayNotices>>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let Some(notices) = notices.as_ref() else {
        return failure(StatusCode::SERVICE_UNAVAILABLE, "WeChat Pay notifications are not configured".into());
    };
    match notices.receive(signature(&request).as_ref(), &body).await {
        Ok(_) => HttpResponse::NoContent().finish(),
        Err(NoticeError::Refused(failure @ NoticeFailure::Signature(_))) => {
            tracing::warn!(%failure, "WeChat Pay notification refused");
            self::failure(StatusCode::UNAUTHORIZED, format!("签名错误: {failure}"))
        }
        Err(NoticeError::Refused(failure)) => {
            tracing::warn!(%failure, "WeChat Pay notification refused");
            self::failure(StatusCode::BAD_REQUEST, failure.to_string())
        }
        Err(NoticeError::Unavailable(error)) => {
            tracing::warn!(%error, "WeChat Pay notification not taken now");
            self::failure(StatusCode::INTERNAL_SERVER_ERROR, "not taken now; send it again".into())
        }
    }
}

fn failure(status: StatusCode, message: String) -> HttpResponse {
    HttpResponse::build(status).json(NoticeFailureBody { code: "FAIL", message })
}

/// The notification's signature headers, when it has all four.
fn signature(request: &HttpRequest) -> Option<AnswerSignature> {
    AnswerSignature::from_headers(|name| request.headers().get(name)?.to_str().ok().map(str::to_owned))
}
