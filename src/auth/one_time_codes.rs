//! Generating and digesting one-time codes (SMS codes, OAuth states).
//!
//! An SMS code has only a million values, so a plain hash of it is no
//! protection at all; the digest is an HMAC keyed by a pepper from settings
//! that never enters the store, and bound to the account, purpose and subject,
//! so a store dump reveals nothing and a digest cannot be replayed elsewhere.

use hmac::{Hmac, Mac};
use rand::Rng;
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const SMS_CODE_DIGITS: usize = 6;
const STATE_CHARS: usize = 32;
const STATE_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// A uniformly random 6-digit code, leading zeros allowed.
pub fn new_sms_code() -> String {
    let mut rng = rand::rng();
    (0..SMS_CODE_DIGITS).map(|_| char::from(b'0' + rng.random_range(0..10u8))).collect()
}

/// A random OAuth `state`: 32 characters of `[A-Za-z0-9]` (WeChat allows only these).
pub fn new_state() -> String {
    let mut rng = rand::rng();
    (0..STATE_CHARS).map(|_| char::from(STATE_ALPHABET[rng.random_range(0..STATE_ALPHABET.len())])).collect()
}

/// What the store knows a bearer secret (a state) by.
pub fn plain_digest(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Keyed digest of a short code, bound to its context.
pub fn keyed_digest(pepper: &SecretString, context: &[&str], code: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(pepper.expose_secret().as_bytes()) {
        Ok(mac) => mac,
        Err(_) => unreachable!("HMAC takes keys of any length"),
    };
    for part in context {
        mac.update(part.as_bytes());
        mac.update(b"\x1f");
    }
    mac.update(code.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

pub fn is_sms_code(text: &str) -> bool {
    text.len() == SMS_CODE_DIGITS && text.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_states_have_their_shapes() {
        for _ in 0..100 {
            assert!(is_sms_code(&new_sms_code()));
            let state = new_state();
            assert_eq!(state.len(), 32);
            assert!(state.bytes().all(|b| b.is_ascii_alphanumeric()));
        }
        assert!(!is_sms_code("12345a") && !is_sms_code("1234567"));
    }

    #[test]
    fn digests_depend_on_pepper_context_and_code() {
        let pepper = SecretString::from("p".repeat(32));
        let other = SecretString::from("q".repeat(32));
        let base = keyed_digest(&pepper, &["acc_1", "bind_wechat"], "123456");
        assert_eq!(base, keyed_digest(&pepper, &["acc_1", "bind_wechat"], "123456"));
        assert_ne!(base, keyed_digest(&other, &["acc_1", "bind_wechat"], "123456"));
        assert_ne!(base, keyed_digest(&pepper, &["acc_2", "bind_wechat"], "123456"));
        assert_ne!(base, keyed_digest(&pepper, &["acc_1", "bind_wechat"], "123457"));
        assert!(!base.contains("123456"));
    }
}
