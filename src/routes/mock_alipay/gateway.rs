//! `/mock/alipay/gateway.do`: the open platform's one endpoint, by `GET`
//! (everything in the query) or by `POST` (the SDKs' way: the common
//! parameters in the query, `biz_content` and the method's own in a form
//! body). The answer is always HTTP 200 with Alipay's JSON, its exact text
//! signed (`providers::alipay::mock::gateway`).

use actix_web::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use crate::error::ApiError;
use crate::providers::alipay::mock::{GatewayParams, MockAlipay};
use crate::providers::sim::Ruled;
use crate::routes::mock_wechat::ruled::answer as ruled_answer;

/// The parameters a call may carry, by query or form (all optional here:
/// the gateway answers what is missing in Alipay's shape).
#[derive(Debug, Deserialize, utoipa::ToSchema, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[schema(example = json!({
    "app_id": "2021004100000001", "method": "alipay.fund.trans.common.query", "format": "JSON", "charset": "utf-8",
    "sign_type": "RSA2", "sign": "Lk9c…base64…==", "timestamp": "2026-03-01 17:30:00", "version": "1.0",
    "biz_content": "{\"out_biz_no\":\"wd0196a3c5\",\"product_code\":\"TRANS_ACCOUNT_NO_PWD\",\"biz_scene\":\"DIRECT_TRANSFER\"}"
}))]
pub struct GatewayForm {
    /// The app's id (16 digits).
    pub app_id: Option<String>,
    /// `alipay.system.oauth.token`, `alipay.user.info.share`,
    /// `alipay.fund.trans.uni.transfer` or `alipay.fund.trans.common.query`.
    pub method: Option<String>,
    /// `JSON`.
    pub format: Option<String>,
    /// `utf-8`.
    pub charset: Option<String>,
    /// `RSA2`.
    pub sign_type: Option<String>,
    /// Base64 SHA256withRSA signature, by the app's private key, of every
    /// other non-empty parameter sorted by name as `name=value&…`.
    pub sign: Option<String>,
    /// `yyyy-MM-dd HH:mm:ss`.
    pub timestamp: Option<String>,
    /// `1.0`.
    pub version: Option<String>,
    /// The method's parameters as a JSON object (transfers and queries).
    pub biz_content: Option<String>,
    /// The user's access token (`alipay.user.info.share`).
    pub auth_token: Option<String>,
    /// Accepted and signed over; the mock sends no notifications.
    pub app_auth_token: Option<String>,
    pub notify_url: Option<String>,
    /// `alipay.system.oauth.token`: `authorization_code` or `refresh_token`.
    pub grant_type: Option<String>,
    /// `alipay.system.oauth.token`: the `auth_code` from the consent redirect.
    pub code: Option<String>,
    /// `alipay.system.oauth.token`: the refresh token to use.
    pub refresh_token: Option<String>,
}

/// Alipay's gateway (query string)
///
/// Every parameter in the query string. Answers as the `POST` does.
#[utoipa::path(
    get,
    path = "/mock/alipay/gateway.do",
    operation_id = "mock_alipay_gateway_get",
    tag = "mock",
    params(GatewayForm),
    responses(
        (status = 200, description = "Alipay's answer, always 200, as the `POST` gives it.", body = Object,
            content_type = "application/json",
            example = json!({"alipay_fund_trans_common_query_response": {"code": "40004", "msg": "Business Failed",
                "sub_code": "ORDER_NOT_EXIST", "sub_msg": "转账订单不存在"}, "sign": "Tq3v…base64…=="})),
    )
)]
pub async fn call_by_query(mock: web::Data<MockAlipay>, request: HttpRequest) -> HttpResponse {
    let params = GatewayParams::new(url::form_urlencoded::parse(request.query_string().as_bytes()).into_owned());
    answer(mock.gateway_ruled(&params).await).await
}

/// Alipay's gateway
///
/// The open platform's one endpoint, as the SDKs call it: the common
/// parameters in the query string, `biz_content` and the method's own in an
/// `application/x-www-form-urlencoded` body (any parameter may be in either;
/// the query's counts when both have it). The app's RSA2 signature is checked
/// with its registered public key; the answer is signed with the platform's.
#[utoipa::path(
    post,
    path = "/mock/alipay/gateway.do",
    operation_id = "mock_alipay_gateway",
    tag = "mock",
    params(GatewayForm),
    request_body(content = Option<GatewayForm>, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Alipay's answer, always 200: `{\"<method>_response\": {code, msg, …}, \"sign\"}` \
            signed by the platform key over the exact text of the response object; `{\"error_response\": {code, msg, \
            sub_code, sub_msg}}` unsigned when the call cannot be tied to the app (40001 `isv.missing-*`, 40002 \
            `isv.invalid-app-id`, `isv.invalid-signature`, …). Codes: 10000, 20000, 20001, 40001, 40002, 40004, 40006 \
            (docs/alipay.md).", body = Object, content_type = "application/json",
            example = json!({"alipay_fund_trans_uni_transfer_response": {"code": "10000", "msg": "Success",
                "out_biz_no": "wd0196a3c5", "order_id": "20260301110070000006640012345678",
                "pay_fund_order_id": "20260301110070001506640012345678", "status": "SUCCESS",
                "trans_date": "2026-03-01 17:30:00"}, "sign": "Tq3v…base64…=="})),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field` = `body`): a body that is not a form \
            (`name=value` pairs joined by `&`); no SDK sends one.", body = crate::error::ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`: a body over `server.json_body_bytes_max`.",
            body = crate::error::ErrorBody),
    )
)]
pub async fn call(
    mock: web::Data<MockAlipay>,
    request: HttpRequest,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    if !is_form(&body) {
        return Err(ApiError::validation("body", "must be a form: name=value pairs joined by &"));
    }
    let query = url::form_urlencoded::parse(request.query_string().as_bytes()).into_owned();
    let form = url::form_urlencoded::parse(&body).into_owned();
    Ok(answer(mock.gateway_ruled(&GatewayParams::new(query.chain(form))).await).await)
}

/// Whether `body` is empty or `name=value` pairs joined by `&` (what a form
/// is; a body of another shape is no call any SDK makes).
fn is_form(body: &[u8]) -> bool {
    body.split(|byte| *byte == b'&').all(|pair| pair.is_empty() || pair.contains(&b'='))
}

/// The gateway's answer once the simulator's rules had their say: Alipay's
/// body with HTTP 200, a rule's HTTP error (as a proxy in front of the
/// gateway would give it), or a broken connection.
async fn answer(ruled: Ruled<String>) -> HttpResponse {
    let error = |status, code: &str, message: &str| {
        HttpResponse::build(status).json(serde_json::json!({ "code": code, "message": message }))
    };
    let normal = |body: String| {
        HttpResponse::Ok()
            .insert_header((CONTENT_TYPE, "application/json;charset=utf-8"))
            .insert_header((CACHE_CONTROL, "no-store"))
            .body(body)
    };
    ruled_answer(ruled, error, normal).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_is_name_value_pairs_or_nothing() {
        for form in ["", "a=1", "a=1&b=", "a=1&&b=2", "=x"] {
            assert!(is_form(form.as_bytes()), "{form}");
        }
        for other in ["AAA", "a=1&b", "{\"app_id\":1}"] {
            assert!(!is_form(other.as_bytes()), "{other}");
        }
    }
}
