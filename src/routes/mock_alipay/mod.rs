//! The mock Alipay open platform's HTTP face under `/mock/alipay`: thin
//! handlers over `MockAlipay`, mirroring `providers::alipay::mock`. Each
//! answers in the shape the real endpoint uses:
//!
//! - `gateway`: `GET` and `POST /mock/alipay/gateway.do`, always HTTP 200
//!   with Alipay's signed JSON (`code`, `sub_code`);
//! - `authorize`: `GET` and `POST /mock/alipay/oauth2/publicAppAuthorize.htm`,
//!   the browser-facing consent step, with an HTML error page (its code also
//!   in an `X-Alipay-Error-Code` header for scripts);
//! - `users`: `/mock/alipay/users`, mock-only, with the catalogue's JSON errors;
//! - `platform`: `/mock/alipay/keys` (what an SDK is configured with) and
//!   `/mock/alipay/merchant` (the app's balance), mock-only.
//!
//! The route table is `startup::mock_alipay_routes`, registered only when
//! the mock is enabled; handlers take `web::Data<MockAlipay>`.

pub mod authorize;
pub mod gateway;
pub mod platform;
pub mod users;
