//! The mock WeChat provider's HTTP face under `/mock/wechat`: thin handlers
//! over `MockWeChat`, one file per part of the provider, mirroring
//! `providers::wechat::mock`. Each answers errors in the shape the real
//! endpoint uses:
//!
//! - `users`: `POST /mock/wechat/users` and `GET /mock/wechat/users/{openid}`,
//!   mock-only, with the catalogue's JSON errors;
//! - `authorize`: `GET` and `POST /mock/wechat/connect/oauth2/authorize`, the
//!   browser-facing consent step, with an HTML error page (its number also in
//!   an `X-WeChat-Errcode` header for scripts);
//! - `sns`: `GET /mock/wechat/sns/oauth2/access_token`, `…/refresh_token`,
//!   `/sns/auth` and `/sns/userinfo`, with HTTP 200 `{errcode, errmsg}`;
//! - `payouts`: WeChat Pay's transfer bills under
//!   `/mock/wechat/v3/fund-app/mch-transfer/transfer-bills`, with WeChat Pay
//!   v3's 4xx/5xx `{code, message}`; `signature` checks every request's
//!   APIv3 signature and signs every answer, in one middleware;
//! - `platform`: `GET /mock/wechat/keys` (what an SDK is configured with) and
//!   `POST /mock/wechat/sign` (signing for tools without RSA), mock-only.
//!
//! `ruled` renders the simulator rules' forced answers (errors, broken
//! connections) for the `sns` and `payouts` endpoints alike.
//!
//! The route table itself is `startup::mock_routes` (registered only when the
//! mock is enabled), so every endpoint stays readable in one place. Handlers
//! take `web::Data<MockWeChat>`: startup registers it with
//! `web::Data::from(Arc<MockWeChat>)`, sharing the very `Arc` the in-process
//! `BuiltinWeChatClient` and `BuiltinPayouts` hold, so all reach one provider.

pub mod authorize;
pub mod payouts;
pub mod platform;
pub mod ruled;
pub mod signature;
pub mod sns;
pub mod users;
