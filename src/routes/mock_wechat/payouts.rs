//! WeChat Pay's merchant transfer bills under
//! `/mock/wechat/v3/fund-app/mch-transfer/transfer-bills` (the provider's
//! side is `providers::wechat::mock::payouts`): creating a bill (its
//! `user_name` decrypted here with the platform key, as WeChat Pay reads
//! it), reading, cancelling and confirming one, with WeChat Pay v3's
//! 4xx/5xx `{code, message}` errors, amounts in integer fen and times in
//! Beijing time.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use chrono::{DateTime, SecondsFormat, Utc};
use chrono_tz::Asia::Shanghai;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::ruled::answer;
use crate::domain::wechatpay_crypto::SensitiveFailure;
use crate::domain::wechatpay_sign::SERIAL_HEADER;
use crate::providers::payouts::{
    BillState, PayoutError, TransferBill, TransferRequest, fen_from_money, money_from_fen, refusal_code,
};
use crate::providers::sim::Ruled;
use crate::providers::wechat::mock::{BILL_NOT_FOUND, Cancellation, Confirmation, MockPaySigning, MockWeChat};

/// `POST /mock/wechat/v3/fund-app/mch-transfer/transfer-bills`: WeChat Pay's
/// "发起转账". The answer is the bill's first state (`ACCEPTED`, or
/// `WAIT_USER_CONFIRM`); it moves on over business time.
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
    /// The scene, e.g. `"1000"` (现金营销); required (400 `PARAM_ERROR` without it). A scene of
    /// `mock_wechat.pay.confirm_scene_ids` makes the bill wait for the payee's confirmation.
    pub transfer_scene_id: Option<String>,
    /// The payee's real name, encrypted with WeChat Pay's public key (RSA-OAEP, base64; the request's
    /// `Wechatpay-Serial` names the key): required from 200000 fen (¥2,000.00), 400 `PARAM_ERROR`
    /// without it; checked against the payee's real name when the bill is decided (`FAIL` with
    /// `NAME_NOT_CORRECT` if it is not theirs). Not encrypted, or encrypted for another key: 400
    /// `PARAM_ERROR`.
    pub user_name: Option<String>,
    /// Where the final state (`SUCCESS`, `FAIL`, `CANCELLED`) is POSTed as `MCHTRANSFER.BILL.FINISHED`,
    /// encrypted with the APIv3 key and signed with the platform key, retried on WeChat Pay's pauses
    /// until answered 200/204; an http(s) URL without a query string (400 `PARAM_ERROR` otherwise).
    pub notify_url: Option<String>,
    /// The payment reason shown to the payee; accepted and not checked by the mock.
    pub user_recv_perception: Option<String>,
    /// The scene declaration, `[{info_type, info_content}]` at the real API; the mock accepts any
    /// JSON value here and does not check it.
    pub transfer_scene_report_infos: Option<serde_json::Value>,
}

/// The answer to creating a bill.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "out_bill_no": "0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "transfer_bill_no": "13300002025050110293847561029384",
    "create_time": "2025-05-01T17:12:05+08:00", "state": "ACCEPTED"
}))]
pub struct TransferBillsResponse {
    pub out_bill_no: String,
    pub transfer_bill_no: String,
    /// RFC 3339 in Beijing time, as WeChat writes it: `2026-03-01T17:30:00+08:00`.
    pub create_time: String,
    pub state: BillState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<String>,
    /// With `WAIT_USER_CONFIRM`: what the payee's app opens to confirm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_info: Option<String>,
}

/// `GET /mock/wechat/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}`.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "out_bill_no": "0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "transfer_bill_no": "13300002025050110293847561029384",
    "appid": "wx8a3f5c7e2b9d1046", "state": "SUCCESS", "transfer_amount": 200000, "transfer_remark": "OK钱包余额提现",
    "openid": "oAb1CdEfGhIjKlMnOpQrStUvWxYz", "create_time": "2025-05-01T17:12:05+08:00",
    "update_time": "2025-05-01T17:12:05+08:00"
}))]
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
/// Signed both ways as WeChat Pay v3 is: `Authorization:
/// WECHATPAY2-SHA256-RSA2048 …` with the merchant's key on the request,
/// `Wechatpay-Signature` with the platform key on every answer
/// (`/mock/wechat/keys`). `out_bill_no` is the idempotency key: the same number and body return the
/// same bill and never pay twice. The answer is the bill's first state: `ACCEPTED`, or
/// `WAIT_USER_CONFIRM` with `package_info` when the payee must confirm; it then moves on over
/// business time (`PROCESSING`, then `SUCCESS` or `FAIL` with `fail_reason`: `OPENID_INVALID`,
/// `ACCOUNT_FROZEN`, `REAL_NAME_CHECK_FAIL`, `NAME_NOT_CORRECT`, `DAY_RECEIVED_QUOTA_EXCEED`,
/// `MONTH_RECEIVED_QUOTA_EXCEED`; or `CANCELLED`), as the queries show. From 200000 fen
/// (¥2,000.00) the payee's real name is required as `user_name`, encrypted with the platform's
/// public key (RSA-OAEP) and named by the `Wechatpay-Serial` header. With
/// `mock_wechat.pay.accepted_secs` and `processing_secs` 0 the answer is already final.
#[utoipa::path(
    post,
    path = "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills",
    operation_id = "mock_create_transfer_bill",
    tag = "mock",
    params(("Wechatpay-Serial" = Option<String>, Header, description = "The platform key's id \
        (`platform_public_key_id` of `/mock/wechat/keys`) that encrypted `user_name`; required with one.",
        example = "PUB_KEY_ID_0119000000012026030100000000000001")),
    request_body = TransferBillsRequest,
    responses(
        (status = 200, description = "The bill.", body = TransferBillsResponse),
        (status = 401, description = "`SIGN_ERROR`: the `Authorization` header (APIv3 signature with the merchant's \
            key, docs/review-and-settlement.md) is missing, malformed, stale or does not verify.", body = PayErrorBody),
        (status = 400, description = "`PARAM_ERROR` (a malformed or missing field, `transfer_scene_id` among them, \
            an amount under 10 fen, no `user_name` from 200000 fen, a `user_name` not encrypted with the platform \
            key, a `Wechatpay-Serial` naming another key), `INVALID_REQUEST` \
            (another app, or the same `out_bill_no` with another body), `MCH_NOT_EXISTS` (the signature's `mchid` \
            is no merchant registered here).", body = PayErrorBody),
        (status = 500, description = "`SYSTEM_ERROR`: retry with the same `out_bill_no` and body.", body = PayErrorBody),
    )
)]
pub async fn create_transfer_bill(
    mock: web::Data<MockWeChat>,
    signing: web::Data<MockPaySigning>,
    http: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
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
    let user_name = match opened_user_name(&signing, &http, request.user_name.as_deref()) {
        Ok(user_name) => user_name,
        Err(failure) => return pay_error(StatusCode::BAD_REQUEST, refusal_code::PARAM_ERROR, failure.message()),
    };
    let transfer = TransferRequest {
        out_bill_no: request.out_bill_no,
        openid: request.openid,
        amount,
        remark: request.transfer_remark,
        scene_id: request.transfer_scene_id.unwrap_or_default(),
        notify_url: request.notify_url,
        user_name,
    };
    let ruled = mock.transfer_ruled(&transfer).await;
    answer(ruled, pay_error, |created| match created {
        Ok(bill) => HttpResponse::Ok().json(TransferBillsResponse {
            create_time: wechat_time(bill.create_time),
            out_bill_no: bill.out_bill_no,
            transfer_bill_no: bill.transfer_bill_no,
            state: bill.state,
            fail_reason: bill.fail_reason,
            package_info: bill.package_info,
        }),
        Err(error) => payout_error(&error),
    })
    .await
}

/// The request's `user_name` as WeChat Pay reads it: decrypted with the
/// platform key, which the request's `Wechatpay-Serial` must name (a serial
/// naming another key is refused even without a `user_name`).
fn opened_user_name(
    signing: &MockPaySigning,
    http: &HttpRequest,
    sealed: Option<&str>,
) -> Result<Option<String>, SensitiveFailure> {
    let serial = http.headers().get(SERIAL_HEADER).map(|value| value.to_str().unwrap_or_default());
    if serial.is_some_and(|serial| !signing.is_platform_serial(serial)) {
        return Err(SensitiveFailure::WrongSerial);
    }
    sealed.map(|sealed| signing.open_sensitive(serial, sealed)).transpose()
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
        (status = 401, description = "`SIGN_ERROR`: the `Authorization` header (APIv3 signature with the merchant's \
            key, docs/review-and-settlement.md) is missing, malformed, stale or does not verify.", body = PayErrorBody),
        (status = 400, description = "`PARAM_ERROR`: not 1–32 characters `[0-9A-Za-z]`; `MCH_NOT_EXISTS`.", body = PayErrorBody),
        (status = 404, description = "`NOT_FOUND`: no bill with this `out_bill_no`.", body = PayErrorBody),
        (status = 500, description = "`SYSTEM_ERROR`: retry.", body = PayErrorBody),
    )
)]
pub async fn transfer_bill(mock: web::Data<MockWeChat>, out_bill_no: web::Path<String>) -> HttpResponse {
    bill_answer(&mock, mock.bill_ruled(&out_bill_no).await, BILL_NOT_FOUND.1).await
}

/// A transfer bill by WeChat Pay's number (WeChat Pay)
#[utoipa::path(
    get,
    path = "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills/transfer-bill-no/{transfer_bill_no}",
    operation_id = "mock_transfer_bill_by_number",
    tag = "mock",
    params(("transfer_bill_no" = String, Path, description = "WeChat Pay's number of the bill, from its creation.",
        pattern = r"^[0-9]{1,64}$", example = "13300002025050110293847561029384")),
    responses(
        (status = 200, description = "The bill.", body = TransferBillQueryResponse),
        (status = 401, description = "`SIGN_ERROR`: the `Authorization` header (APIv3 signature with the merchant's \
            key, docs/review-and-settlement.md) is missing, malformed, stale or does not verify.", body = PayErrorBody),
        (status = 400, description = "`PARAM_ERROR`: not 1–64 digits; `MCH_NOT_EXISTS`.", body = PayErrorBody),
        (status = 404, description = "`NOT_FOUND`: no bill with this number.", body = PayErrorBody),
        (status = 500, description = "`SYSTEM_ERROR`: retry.", body = PayErrorBody),
    )
)]
pub async fn transfer_bill_by_number(mock: web::Data<MockWeChat>, transfer_bill_no: web::Path<String>) -> HttpResponse {
    let ruled = mock.bill_by_number_ruled(&transfer_bill_no).await;
    bill_answer(&mock, ruled, "no transfer bill with this transfer_bill_no").await
}

/// The answer to a cancellation (WeChat Pay's fields).
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "out_bill_no": "0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "transfer_bill_no": "13300002025050110293847561029384",
    "state": "CANCELING", "update_time": "2025-05-01T17:12:09+08:00"
}))]
pub struct CancelTransferBillResponse {
    pub out_bill_no: String,
    pub transfer_bill_no: String,
    /// `CANCELING` (`CANCELLED` after `mock_wechat.pay.processing_secs`) or `CANCELLED`.
    pub state: BillState,
    pub update_time: String,
}

/// Cancel a transfer bill (WeChat Pay)
///
/// WeChat Pay's cancellation (撤销转账), allowed before the payee confirmed:
/// an `ACCEPTED` or `WAIT_USER_CONFIRM` bill becomes `CANCELING`, then
/// `CANCELLED` (nothing is paid); a bill cancelling or cancelled answers as
/// it stands. Signed both ways, as the other v3 endpoints. The simulator's
/// rules answer it as `wechat_pay.cancel` (e.g. 500 `SYSTEM_ERROR`, 429
/// `FREQUENCY_LIMITED`, a fault), leaving the bill as it was.
#[utoipa::path(
    post,
    path = "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/{out_bill_no}/cancel",
    operation_id = "mock_cancel_transfer_bill",
    tag = "mock",
    params(("out_bill_no" = String, Path, description = "The merchant's bill number.", pattern = r"^[0-9A-Za-z]{1,32}$",
        example = "0196a3c5e2b87d40a1f3c9e2d4b5a6c7")),
    responses(
        (status = 200, description = "Cancelling or cancelled.", body = CancelTransferBillResponse),
        (status = 401, description = "`SIGN_ERROR`: the `Authorization` header is missing, malformed, stale or does \
            not verify.", body = PayErrorBody),
        (status = 400, description = "`PARAM_ERROR`: not 1–32 characters `[0-9A-Za-z]`; `INVALID_REQUEST`: the bill \
            is being paid or final (`PROCESSING`, `SUCCESS`, `FAIL`); `MCH_NOT_EXISTS`.", body = PayErrorBody),
        (status = 404, description = "`NOT_FOUND`: no bill with this `out_bill_no`.", body = PayErrorBody),
        (status = 500, description = "`SYSTEM_ERROR`: retry.", body = PayErrorBody),
    )
)]
pub async fn cancel_transfer_bill(mock: web::Data<MockWeChat>, out_bill_no: web::Path<String>) -> HttpResponse {
    answer(mock.cancel_ruled(&out_bill_no).await, pay_error, |cancelled| match cancelled {
        Ok(Cancellation::Accepted(bill)) => HttpResponse::Ok().json(CancelTransferBillResponse {
            update_time: wechat_time(bill.update_time),
            out_bill_no: bill.out_bill_no,
            transfer_bill_no: bill.transfer_bill_no,
            state: bill.state,
        }),
        Ok(Cancellation::NotFound) => pay_error(StatusCode::NOT_FOUND, BILL_NOT_FOUND.0, BILL_NOT_FOUND.1),
        Err(error) => payout_error(&error),
    })
    .await
}

/// Confirm a transfer bill as its payee (mock WeChat)
///
/// What the payee's app does at WeChat when it opens the bill's
/// `package_info` and confirms (`wx.requestMerchantTransfer`): a
/// `WAIT_USER_CONFIRM` bill goes on to `PROCESSING`, then `SUCCESS` or
/// `FAIL` after `mock_wechat.pay.processing_secs` (at once with none).
/// Mock-only, unsigned; answers the bill as the query does.
#[utoipa::path(
    post,
    path = "/mock/wechat/users/{openid}/transfer-bills/{out_bill_no}/confirm",
    operation_id = "mock_confirm_transfer_bill",
    tag = "mock",
    params(
        ("openid" = String, Path, description = "The payee.", example = "oAb1CdEfGhIjKlMnOpQrStUvWxYz"),
        ("out_bill_no" = String, Path, description = "The merchant's bill number.", pattern = r"^[0-9A-Za-z]{1,32}$",
            example = "0196a3c5e2b87d40a1f3c9e2d4b5a6c7"),
    ),
    responses(
        (status = 200, description = "Confirmed: the bill as it now stands.", body = TransferBillQueryResponse),
        (status = 400, description = "`PARAM_ERROR`: a malformed `out_bill_no`; `INVALID_REQUEST`: the bill does \
            not wait for a confirmation (already confirmed, cancelled or final).", body = PayErrorBody),
        (status = 404, description = "`NOT_FOUND`: no such bill to this payee.", body = PayErrorBody),
        (status = 500, description = "`SYSTEM_ERROR`: retry.", body = PayErrorBody),
    )
)]
pub async fn confirm_transfer_bill(mock: web::Data<MockWeChat>, path: web::Path<(String, String)>) -> HttpResponse {
    let (openid, out_bill_no) = path.into_inner();
    match mock.confirm_bill(&out_bill_no, &openid).await {
        Ok(Confirmation::Confirmed(bill)) => HttpResponse::Ok().json(query_response(bill, mock.app_id())),
        Ok(Confirmation::NotFound | Confirmation::NotThePayee) => {
            pay_error(StatusCode::NOT_FOUND, BILL_NOT_FOUND.0, "no transfer bill with this out_bill_no to this payee")
        }
        Ok(Confirmation::NotWaiting(state)) => {
            let message = format!("the bill is {}, not WAIT_USER_CONFIRM", state.as_str());
            pay_error(StatusCode::BAD_REQUEST, refusal_code::INVALID_REQUEST, &message)
        }
        Err(error) => payout_error(&error),
    }
}

/// A bill query's answer: the bill, or 404 `NOT_FOUND` with `not_found`.
async fn bill_answer(
    mock: &MockWeChat,
    ruled: Ruled<Result<Option<TransferBill>, PayoutError>>,
    not_found: &str,
) -> HttpResponse {
    answer(ruled, pay_error, |found| match found {
        Ok(Some(bill)) => HttpResponse::Ok().json(query_response(bill, mock.app_id())),
        Ok(None) => pay_error(StatusCode::NOT_FOUND, BILL_NOT_FOUND.0, not_found),
        Err(error) => payout_error(&error),
    })
    .await
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

/// As WeChat Pay answers the error (`PayoutError::http_answer`).
fn payout_error(error: &PayoutError) -> HttpResponse {
    let (status, code, message) = error.http_answer();
    pay_error(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), code, message)
}

fn pay_error(status: StatusCode, code: &str, message: &str) -> HttpResponse {
    HttpResponse::build(status).json(PayErrorBody { code, message })
}

#[cfg(test)]
mod tests {
    use super::*;

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
