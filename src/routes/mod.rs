//! Thin HTTP handlers, one file per resource: request DTO in, one service
//! call, response DTO out. The route table itself lives in `startup.rs`.

pub mod auth;
pub mod bindings;
pub mod docs;
pub mod events;
pub mod extract;
pub mod html;
pub mod kyc;
pub mod me;
pub mod mock_sms;
pub mod mock_wechat;
pub mod ops;
pub mod pin;
pub mod review;
pub mod system;
pub mod views;
pub mod withdrawals;

/// Answers any path no route matched, in the catalogue's shape.
pub async fn not_found() -> Result<actix_web::HttpResponse, crate::error::ApiError> {
    Err(crate::error::ApiError::NotFound { resource: "route" })
}
