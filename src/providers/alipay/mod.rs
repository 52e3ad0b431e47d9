//! Alipay's open platform as a client meets it: one gateway (`gateway.do`)
//! taking the common parameters (`app_id`, `method`, `sign_type=RSA2`,
//! `sign`, `timestamp`, `biz_content`, …) signed with the app's key, and
//! answering `{"<method>_response": {...}, "sign": "..."}` signed with the
//! platform's, with the gateway codes (10000, 20000, 20001, 40001, 40002,
//! 40004, 40006) and `sub_code`s of reference §B. `protocol` holds those
//! shapes and names (the signatures themselves are `domain::rsa2`);
//! `client` is walletgate's signing client, reaching the gateway over HTTP
//! (`http`) or in-process (`mock::BuiltinGateway`); `payouts` reads a
//! transfer's answer as a withdrawal's outcome; `mock` is the built-in mock
//! platform served under `/mock/alipay`.

pub mod client;
pub mod http;
pub mod mock;
pub mod payouts;
pub mod protocol;
