//! `/mock/alipay/keys` and `/mock/alipay/merchant`: what an integrator
//! configures an SDK with (the app id, the app's key pair and the
//! platform's public key, in the shapes the SDKs read), and the merchant's
//! balance that transfers draw on, which a tester may set. Mock-only, no
//! token; errors are the catalogue's JSON.

use actix_web::{HttpResponse, web};
use serde::Deserialize;
use utoipa::ToSchema;
use validator::Validate;

use crate::domain::money::Money;
use crate::error::{ApiError, ErrorBody};
use crate::providers::alipay::mock::{MerchantAccount, MerchantUpdate, MockAlipay, PublishedKeys};
use crate::routes::extract::ApiJson;
use crate::routes::responses::StoreUnavailable;

/// The keys to configure an SDK with
///
/// The app id, the app's private key (PKCS#1 and PKCS#8 PEM) and public key,
/// and the platform's public key (`alipay_public_key`) that verifies the
/// mock's answers. With the shipped settings these are the published test
/// keys of `config/sim-keys/` (`published_test_keys`): never for real money.
/// Not recorded in the request journal.
#[utoipa::path(
    get,
    path = "/mock/alipay/keys",
    operation_id = "mock_alipay_keys",
    tag = "mock",
    responses((status = 200, description = "The keys.", body = PublishedKeys))
)]
pub async fn keys(mock: web::Data<MockAlipay>) -> HttpResponse {
    HttpResponse::Ok().json(mock.published_keys())
}

/// The mock merchant's account
///
/// What the app can still pay out (`balance`: transfers beyond it fail with
/// `PAYER_BALANCE_NOT_ENOUGH`) and what it paid on the Beijing day and month
/// of its latest transfer (the `EXCEED_LIMIT_DM_AMOUNT` and
/// `EXCEED_LIMIT_MM_AMOUNT` limits count them).
#[utoipa::path(
    get,
    path = "/mock/alipay/merchant",
    operation_id = "mock_alipay_merchant",
    tag = "mock",
    responses((status = 200, description = "The account.", body = MerchantAccount), StoreUnavailable)
)]
pub async fn merchant(mock: web::Data<MockAlipay>) -> Result<HttpResponse, ApiError> {
    Ok(HttpResponse::Ok().json(mock.merchant().await?))
}

/// `PATCH /mock/alipay/merchant`.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"balance": "100.00"}))]
pub struct UpdateMerchantRequest {
    /// The new balance, at least `"0.00"`.
    #[schema(value_type = String, pattern = r"^[0-9]+(\.[0-9]{1,2})?$", example = "100.00")]
    pub balance: Money,
}

/// Set the mock merchant's balance
///
/// Tops up or drains what the app can pay out; the day's and month's totals
/// stay as they are. A transfer paying meanwhile is kept (compare-and-set).
#[utoipa::path(
    patch,
    path = "/mock/alipay/merchant",
    operation_id = "mock_alipay_update_merchant",
    tag = "mock",
    request_body = UpdateMerchantRequest,
    responses(
        (status = 200, description = "The account as changed.", body = MerchantAccount),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): a negative or malformed `balance`, an \
            unknown field.", body = ErrorBody),
        (status = 413, description = "`PAYLOAD_TOO_LARGE`.", body = ErrorBody),
        (status = 503, description = "`STORE_UNAVAILABLE`, `STORE_BUSY` (transfers kept winning); retry after \
            `Retry-After` seconds.", body = ErrorBody),
    )
)]
pub async fn update_merchant(
    mock: web::Data<MockAlipay>,
    ApiJson(request): ApiJson<UpdateMerchantRequest>,
) -> Result<HttpResponse, ApiError> {
    if request.balance.is_negative() {
        return Err(ApiError::validation("balance", "must not be negative"));
    }
    match mock.set_merchant_balance(request.balance).await? {
        MerchantUpdate::Updated(account) => Ok(HttpResponse::Ok().json(account)),
        MerchantUpdate::Busy => Err(ApiError::StoreBusy),
    }
}
