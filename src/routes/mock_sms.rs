//! `/mock/sms/outbox`: what the mock SMS gateway "delivered" to a phone, so
//! mockups and tests can read the codes a real phone would show.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use crate::domain::credentials::Login;
use crate::error::ApiError;
use crate::providers::sms::{MockSmsOutbox, SmsMessage};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxQuery {
    pub phone: String,
    pub limit: Option<usize>,
}

#[derive(Debug, Serialize)]
struct Outbox {
    phone: String,
    items: Vec<SmsMessage>,
}

const OUTBOX_LIMIT_DEFAULT: usize = 10;

pub async fn outbox(
    outbox: web::Data<MockSmsOutbox>,
    query: web::Query<OutboxQuery>,
) -> Result<HttpResponse, ApiError> {
    Login::phone(&query.phone)?;
    let items = outbox.messages(&query.phone, query.limit.unwrap_or(OUTBOX_LIMIT_DEFAULT)).await?;
    Ok(HttpResponse::Ok().json(Outbox { phone: query.phone.clone(), items }))
}
