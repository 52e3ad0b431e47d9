//! Outgoing webhooks: one signed JSON POST per notification to the URL a
//! deployment configures, and the signature check receivers run.
//!
//! The signature follows the Stripe-style scheme many integrators know: the
//! `Walletgate-Signature` header is `t=<unix seconds>,v1=<hex>` where the hex
//! is HMAC-SHA256 with the shared secret over `"<t>.<raw body>"`. Signing the
//! timestamp with the body lets a receiver refuse replays of old deliveries.
//! `Walletgate-Event-Id` repeats the event's id so a receiver can drop
//! duplicates (a delivery may be retried after a lost acknowledgement).

use std::time::Duration;

use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use subtle::ConstantTimeEq;

pub const SIGNATURE_HEADER: &str = "Walletgate-Signature";
pub const EVENT_ID_HEADER: &str = "Walletgate-Event-Id";
pub const EVENT_TYPE_HEADER: &str = "Walletgate-Event-Type";

/// Hex HMAC-SHA256 of `"<timestamp>.<body>"`.
pub fn signature(secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes()).expect("HMAC takes any key");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The value of the signature header for a delivery at `timestamp`.
pub fn signature_header(secret: &SecretString, timestamp: i64, body: &[u8]) -> String {
    format!("t={timestamp},v1={}", signature(secret, timestamp, body))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is not `t=<seconds>,v1=<hex>`")]
    Malformed,
    #[error("the signature does not match the body")]
    Mismatch,
    #[error("the signed timestamp is too far from now")]
    Stale,
}

/// What a receiver runs: the header must carry a `v1` signature of this body
/// made with `secret`, at a timestamp within `tolerance_secs` of `now_unix`.
pub fn verify_signature(
    secret: &SecretString,
    header: &str,
    body: &[u8],
    now_unix: i64,
    tolerance_secs: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = value.parse::<i64>().ok(),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let expected = signature(secret, timestamp, body);
    if !signatures.iter().any(|candidate| bool::from(candidate.as_bytes().ct_eq(expected.as_bytes()))) {
        return Err(SignatureError::Mismatch);
    }
    if (now_unix - timestamp).abs() > tolerance_secs {
        return Err(SignatureError::Stale);
    }
    Ok(())
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// The receiver answered 2xx.
    Accepted,
    /// Any other answer, or none; worth retrying.
    Refused(String),
}

/// Posts signed notifications to one URL.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    url: String,
    secret: SecretString,
}

impl WebhookSender {
    pub fn new(url: &str, secret: SecretString, timeout: Duration) -> Result<WebhookSender, reqwest::Error> {
        let client = reqwest::Client::builder().timeout(timeout).redirect(reqwest::redirect::Policy::none()).build()?;
        Ok(WebhookSender { client, url: url.to_owned(), secret })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// One attempt to deliver `body` (the event's JSON), signed at `timestamp`.
    pub async fn deliver(&self, event_id: &str, event_type: &str, body: &str, timestamp: i64) -> Delivery {
        let request = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(EVENT_ID_HEADER, event_id)
            .header(EVENT_TYPE_HEADER, event_type)
            .header(SIGNATURE_HEADER, signature_header(&self.secret, timestamp, body.as_bytes()))
            .body(body.to_owned());
        match request.send().await {
            Ok(response) if response.status().is_success() => Delivery::Accepted,
            Ok(response) => Delivery::Refused(format!("HTTP {}", response.status().as_u16())),
            Err(error) => Delivery::Refused(error.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret() -> SecretString {
        SecretString::from("whsec-test-secret-of-thirty-two-bytes!!")
    }

    #[test]
    fn a_signature_verifies_only_its_own_body_and_time() {
        let body = br#"{"id":"evt_1","type":"withdrawal.settled"}"#;
        let header = signature_header(&secret(), 1_700_000_000, body);
        assert_eq!(verify_signature(&secret(), &header, body, 1_700_000_100, 300), Ok(()));
        assert_eq!(
            verify_signature(&secret(), &header, br#"{"id":"evt_2"}"#, 1_700_000_000, 300),
            Err(SignatureError::Mismatch)
        );
        let other = SecretString::from("another-secret-of-thirty-two-bytes!!!!!");
        assert_eq!(verify_signature(&other, &header, body, 1_700_000_000, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify_signature(&secret(), &header, body, 1_700_000_301, 300), Err(SignatureError::Stale));
        let moved = header.replace("t=1700000000", "t=1700000001");
        assert_eq!(verify_signature(&secret(), &moved, body, 1_700_000_000, 300), Err(SignatureError::Mismatch));
    }

    #[test]
    fn malformed_headers_are_refused_without_panicking() {
        for header in ["", "t=1", "v1=abc", "t=x,v1=abc", ",,,", "t=1,v1"] {
            assert_eq!(verify_signature(&secret(), header, b"{}", 1, 300), Err(SignatureError::Malformed), "{header}");
        }
    }

    #[test]
    fn the_signature_is_hmac_sha256_over_timestamp_dot_body() {
        // Known answer: printf '1.{}' | openssl dgst -sha256 -hmac '<the secret above>'
        assert_eq!(signature(&secret(), 1, b"{}"), "b52f0250f2fc566ed089460b956f7fd76cf8431d8e6721bf89f4981ac236268b");
    }
}
