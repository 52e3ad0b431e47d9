//! The mock WeChat Pay's signatures at the HTTP edge, for every request
//! under `/mock/wechat/v3/`, in one middleware so that no handler has to
//! remember them (`providers::wechat::mock::MockPaySigning` holds the keys):
//!
//! - the request's `Authorization` is checked before any handler runs, over
//!   the URL the client signed: its path and query as sent, without the
//!   `/mock/wechat` mount (an SDK whose base URL is
//!   `http://host:port/mock/wechat` signs `/v3/...`, as it would for
//!   `https://api.mch.weixin.qq.com`). A missing or bad signature is WeChat
//!   Pay's 401 `SIGN_ERROR`; an `mchid` of no merchant registered here is 400
//!   `MCH_NOT_EXISTS`;
//! - every answer, success or error, the refusals above included, carries
//!   `Request-ID` and the platform's signature headers (`Wechatpay-Serial`,
//!   `-Signature`, `-Timestamp`, `-Nonce`, `-Signature-Type`) over its exact
//!   body. An answer a simulator rule breaks off mid-body has none to sign.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::http::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use actix_web::http::{Method, StatusCode};
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{Error, HttpResponse};
use serde::Serialize;

use crate::domain::wechatpay_sign::{
    AnswerSignature, NONCE_HEADER, Request, SCHEMA, SERIAL_HEADER, SIGNATURE_HEADER, SIGNATURE_TYPE_HEADER,
    SignFailure, TIMESTAMP_HEADER,
};
use crate::providers::wechat::mock::MockPaySigning;

/// Where the mock WeChat is mounted; the signed URL is what follows it.
pub const MOUNT: &str = "/mock/wechat";
/// The paths whose requests are signed and whose answers are signed.
pub const SIGNED_PREFIX: &str = "/mock/wechat/v3/";

/// The v3 endpoints (`startup`'s route table serves exactly these; a test
/// in tests/api/wechat_pay_signatures.rs holds the two together).
pub const SIGNED_ROUTES: [(&str, &str); 4] = [
    ("POST", "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills"),
    ("GET", "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}"),
    ("POST", "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel"),
    ("GET", "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills/transfer-bill-no/{transfer_bill_no}"),
];

/// Whether a v3 endpoint takes `method` at `path` (a `{…}` segment matches any one segment).
fn takes(method: &Method, path: &str) -> bool {
    SIGNED_ROUTES.iter().any(|(taken, pattern)| {
        let (mut want, mut have) = (pattern.split('/'), path.split('/'));
        *taken == method.as_str()
            && loop {
                match (want.next(), have.next()) {
                    (None, None) => break true,
                    (Some(w), Some(h)) if w == h || (w.starts_with('{') && !h.is_empty()) => {}
                    _ => break false,
                }
            }
    })
}

/// WeChat Pay v3's error body.
#[derive(Debug, Serialize)]
struct PayErrorBody<'a> {
    code: &'a str,
    message: String,
}

/// The middleware (wrapped with `from_fn` innermost, so the journal records
/// the refusals and the answers as sent). Other requests pass untouched.
pub async fn signed_wechat_pay(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let signing = request.app_data::<web::Data<MockPaySigning>>().cloned();
    let Some(signing) = signing.filter(|_| request.path().starts_with(SIGNED_PREFIX)) else {
        return next.call(request).await.map(ServiceResponse::map_into_boxed_body);
    };
    // Read whole, as the handlers read it (bounded by the same PayloadConfig),
    // then handed on to them.
    // Only what an endpoint takes is checked: any other method is for
    // routing to answer (405 with `Allow`), signed like every answer.
    if !takes(request.method(), request.path()) {
        let response = next.call(request).await?.map_into_boxed_body();
        return Ok(signed(&signing, response));
    }
    let body = request.extract::<Bytes>().await?;
    request.set_payload(Payload::from(body.clone()));
    let path_and_query = request.uri().path_and_query().map_or(request.path(), |pq| pq.as_str());
    let url = path_and_query.strip_prefix(MOUNT).unwrap_or(path_and_query).to_owned();
    let authorization = request.headers().get(AUTHORIZATION).map(|value| value.to_str().unwrap_or(""));
    let checked = signing.verify(authorization, Request { method: request.method().as_str(), url: &url, body: &body });
    let response = match checked {
        Ok(()) => next.call(request).await?.map_into_boxed_body(),
        Err(failure) => {
            tracing::info!(%failure, "mock WeChat Pay refused a request's signature");
            request.into_response(refusal(failure))
        }
    };
    Ok(signed(&signing, response))
}

/// WeChat Pay's answer to a request whose signature fails.
fn refusal(failure: SignFailure) -> HttpResponse {
    let (status, code) = match failure {
        SignFailure::UnknownMerchant => (StatusCode::BAD_REQUEST, "MCH_NOT_EXISTS"),
        _ => (StatusCode::UNAUTHORIZED, "SIGN_ERROR"),
    };
    let message = match failure {
        SignFailure::UnknownMerchant => {
            "商户号不存在: mchid names no merchant registered with this WeChat Pay".to_owned()
        }
        other => format!("签名错误: {other}"),
    };
    HttpResponse::build(status).json(PayErrorBody { code, message })
}

/// `response` with its `Request-ID` and, when its body is whole, the platform's signature headers.
fn signed(signing: &MockPaySigning, response: ServiceResponse<BoxBody>) -> ServiceResponse<BoxBody> {
    let (request, response) = response.into_parts();
    let (mut response, body) = response.into_parts();
    insert(response.headers_mut(), "request-id", &uuid::Uuid::new_v4().simple().to_string().to_uppercase());
    let body = match body.try_into_bytes() {
        Ok(bytes) => {
            put_signature(response.headers_mut(), &signing.sign_answer(&bytes));
            BoxBody::new(bytes)
        }
        Err(streamed) => streamed,
    };
    ServiceResponse::new(request, response.set_body(body))
}

/// Writes an answer's signature headers.
fn put_signature(headers: &mut HeaderMap, signed: &AnswerSignature) {
    insert(headers, SERIAL_HEADER, &signed.serial);
    insert(headers, SIGNATURE_HEADER, &signed.signature);
    insert(headers, TIMESTAMP_HEADER, &signed.timestamp);
    insert(headers, NONCE_HEADER, &signed.nonce);
    insert(headers, SIGNATURE_TYPE_HEADER, SCHEMA);
}

fn insert(headers: &mut HeaderMap, name: &str, value: &str) {
    if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_str(value)) {
        headers.insert(name, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_merchant_is_mch_not_exists_and_every_other_failure_sign_error() {
        assert_eq!(refusal(SignFailure::UnknownMerchant).status(), StatusCode::BAD_REQUEST);
        for failure in [
            SignFailure::Missing,
            SignFailure::Malformed,
            SignFailure::WrongSerial,
            SignFailure::StaleTimestamp,
            SignFailure::BadSignature,
        ] {
            assert_eq!(refusal(failure).status(), StatusCode::UNAUTHORIZED, "{failure:?}");
        }
    }
}
