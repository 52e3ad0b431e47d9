//! `/mock/sms/outbox`: what the mock SMS gateway "delivered" to a phone, so
//! mockups and tests can read the codes a real phone would show.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::ApiQuery;
use super::responses::StoreUnavailable;
use crate::domain::credentials::Login;
use crate::error::{ApiError, ErrorBody};
use crate::providers::sms::{MockSmsOutbox, SmsMessage};

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct OutboxQuery {
    /// The phone number, e.g. `13800000001`.
    #[param(pattern = r"^1[3-9][0-9]{9}$", example = "13800000001")]
    pub phone: String,
    /// Messages: 10 if not given, at most as many as the outbox keeps.
    pub limit: Option<usize>,
}

/// The newest messages sent to one phone, newest first.
#[derive(Debug, Serialize, ToSchema)]
struct Outbox {
    #[schema(example = "13800000001")]
    phone: String,
    items: Vec<SmsMessage>,
}

const OUTBOX_LIMIT_DEFAULT: usize = 10;

/// The mock SMS outbox
///
/// What the mock SMS gateway "delivered" to a phone, newest first, codes
/// included: stands in for the user's phone. No token needed.
#[utoipa::path(
    get,
    path = "/mock/sms/outbox",
    operation_id = "mock_sms_outbox",
    tag = "mock",
    params(OutboxQuery),
    responses(
        (status = 200, description = "The messages.", body = Outbox),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field` = `phone`): not a mainland mobile number; \
            a missing `phone`, a malformed `limit`, an unknown query parameter.", body = ErrorBody),
        StoreUnavailable,
    )
)]
pub async fn outbox(outbox: web::Data<MockSmsOutbox>, query: ApiQuery<OutboxQuery>) -> Result<HttpResponse, ApiError> {
    Login::phone(&query.phone)?;
    let items = outbox.messages(&query.phone, query.limit.unwrap_or(OUTBOX_LIMIT_DEFAULT)).await?;
    Ok(HttpResponse::Ok().json(Outbox { phone: query.phone.clone(), items }))
}
