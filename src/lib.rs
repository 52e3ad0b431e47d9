//! walletgate: a stateful wallet-to-wallet transfer gateway simulator.
//!
//! Data flows one way: HTTP route → service → domain rules → store.
//!
//! - [`settings`]: layered, validated configuration.
//! - [`startup`]: the application value, its listener and the route table.
//! - [`telemetry`]: logs (one access line per request), request ids, the Prometheus recorder and `/metrics`.
//! - [`observability`]: what every layer may name to be observed: the metric catalogue, and the redaction
//!   of secrets in logged URLs.
//! - [`clock`]: the injectable source of "now", and a simulator's shared business clock.
//! - [`error`]: the public error catalogue and its JSON body.
//! - [`edge`]: limits at the HTTP edge (body deadline, URL and head size) and JSON for actix's own errors.
//! - [`auth`]: passwords, access and refresh tokens, identity extractors.
//! - [`domain`]: pure rules — money, ledger, accounts, credentials.
//! - [`services`]: one use case each, orchestrating domain and store.
//! - [`store`]: one small trait per data model (`Store` is all of them), in memory and on Redis.
//! - [`providers`]: WeChat (OAuth, payouts), SMS and webhooks behind traits, with built-in mocks; the mock
//!   Alipay open platform.
//! - [`rate_limit`]: per-process request-rate limits on secret-guessing endpoints.
//! - [`retry`]: the one compare-and-set retry loop (bounded rounds, growing random pauses).
//! - [`routes`]: thin HTTP handlers and their DTOs, and the OpenAPI document generated from them.
//! - [`worker`]: the background loop that settles withdrawals and delivers webhooks.

pub mod auth;
pub mod clock;
pub mod domain;
pub mod edge;
pub mod error;
pub mod observability;
pub mod providers;
pub mod rate_limit;
pub mod retry;
pub mod routes;
pub mod services;
pub mod settings;
pub mod startup;
pub mod store;
pub mod telemetry;
pub mod worker;
