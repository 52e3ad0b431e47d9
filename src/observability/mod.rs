//! What the layers name to be observed, in one leaf they may all use (the
//! store and the services included, which may not reach `telemetry` and its
//! HTTP wiring):
//!
//! - [`catalogue`]: every metric — name, kind, labels, help, buckets — and
//!   the constants code records under;
//! - [`redact`]: secrets out of URLs before they are logged.

pub mod catalogue;
pub mod redact;

pub use redact::redact_url;
