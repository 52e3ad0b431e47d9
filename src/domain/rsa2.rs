//! RSA2 as the Alipay open platform uses it: SHA256withRSA (PKCS#1 v1.5)
//! signatures, base64 on the wire, over a "sign content" that both sides
//! build the same way; RSA keys read from the PEM (or bare base64) texts
//! integrators paste; and the published test key pairs shipped in
//! `config/sim-keys/`, which anything facing real money must refuse.
//!
//! The sign content of a gateway request is every parameter except `sign`
//! whose value is not empty, sorted by name (byte order), as `name=value`
//! joined with `&`, values as sent (not URL-encoded). `sign_type` is part of
//! it: only asynchronous notifications leave it out, and the mock sends none.
//! An answer is signed over the exact JSON text of its response object.
//!
//! WeChat Pay v3 signs with the same algorithm over its own messages
//! (`domain::wechatpay_sign`); its published test key pairs are here too,
//! so one check refuses every published key.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey, EncodeRsaPrivateKey};
use rsa::pkcs1v15::{Signature, SigningKey, VerifyingKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer, Verifier};
use rsa::traits::PublicKeyParts;
use rsa::{RsaPrivateKey, RsaPublicKey};
use sha2::Sha256;

pub use rsa::{RsaPrivateKey as PrivateKey, RsaPublicKey as PublicKey};

/// The parameter that carries the signature, never part of the sign content.
pub const SIGN_PARAM: &str = "sign";

/// The published test key pairs (config/sim-keys/README.md): the app's,
/// whose public half is registered with the mock Alipay, and the
/// platform's, which signs the mock's answers. Compiled in, so the mock
/// needs no files; public, so nothing real may use them.
pub mod test_keys {
    pub const APP_PRIVATE_KEY_PEM: &str = include_str!("../../config/sim-keys/alipay_app_private_key.pem");
    pub const APP_PUBLIC_KEY_PEM: &str = include_str!("../../config/sim-keys/alipay_app_public_key.pem");
    pub const PLATFORM_PRIVATE_KEY_PEM: &str = include_str!("../../config/sim-keys/alipay_platform_private_key.pem");
    pub const PLATFORM_PUBLIC_KEY_PEM: &str = include_str!("../../config/sim-keys/alipay_platform_public_key.pem");
    /// WeChat Pay's: the merchant's pair (its public half registered with
    /// the mock WeChat Pay) and the platform's (WeChat Pay public-key mode).
    pub const WECHATPAY_MERCHANT_PRIVATE_KEY_PEM: &str =
        include_str!("../../config/sim-keys/wechatpay_merchant_private_key.pem");
    pub const WECHATPAY_MERCHANT_PUBLIC_KEY_PEM: &str =
        include_str!("../../config/sim-keys/wechatpay_merchant_public_key.pem");
    pub const WECHATPAY_PLATFORM_PRIVATE_KEY_PEM: &str =
        include_str!("../../config/sim-keys/wechatpay_platform_private_key.pem");
    pub const WECHATPAY_PLATFORM_PUBLIC_KEY_PEM: &str =
        include_str!("../../config/sim-keys/wechatpay_platform_public_key.pem");

    /// The public halves of every published pair.
    pub const PUBLIC_KEYS_PEM: [&str; 4] = [
        APP_PUBLIC_KEY_PEM,
        PLATFORM_PUBLIC_KEY_PEM,
        WECHATPAY_MERCHANT_PUBLIC_KEY_PEM,
        WECHATPAY_PLATFORM_PUBLIC_KEY_PEM,
    ];
}

/// Why a key text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RSA {kind} key in PEM (PKCS#1 or PKCS#8/SPKI) or bare base64 DER")]
pub struct KeyError {
    kind: &'static str,
}

/// A private key from PKCS#8 PEM (`BEGIN PRIVATE KEY`), PKCS#1 PEM (`BEGIN
/// RSA PRIVATE KEY`), or the bare base64 of either, as Alipay's key tool shows it.
pub fn private_key(text: &str) -> Result<RsaPrivateKey, KeyError> {
    let refused = KeyError { kind: "private" };
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return RsaPrivateKey::from_pkcs8_pem(text)
            .or_else(|_| RsaPrivateKey::from_pkcs1_pem(text))
            .map_err(|_| refused);
    }
    let der = bare_der(text).ok_or(refused.clone())?;
    RsaPrivateKey::from_pkcs8_der(&der).or_else(|_| RsaPrivateKey::from_pkcs1_der(&der)).map_err(|_| refused)
}

/// A public key from SPKI PEM (`BEGIN PUBLIC KEY`), PKCS#1 PEM (`BEGIN RSA
/// PUBLIC KEY`), or the bare base64 of either, as Alipay's console shows it.
pub fn public_key(text: &str) -> Result<RsaPublicKey, KeyError> {
    let refused = KeyError { kind: "public" };
    let text = text.trim();
    if text.starts_with("-----BEGIN") {
        return RsaPublicKey::from_public_key_pem(text)
            .or_else(|_| RsaPublicKey::from_pkcs1_pem(text))
            .map_err(|_| refused);
    }
    let der = bare_der(text).ok_or(refused.clone())?;
    RsaPublicKey::from_public_key_der(&der).or_else(|_| RsaPublicKey::from_pkcs1_der(&der)).map_err(|_| refused)
}

/// Base64 split over lines or not, as pasted.
fn bare_der(text: &str) -> Option<Vec<u8>> {
    let joined: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    BASE64.decode(joined).ok().filter(|der| !der.is_empty())
}

/// A private key as PKCS#8 PEM (what Java SDKs read).
pub fn pkcs8_pem(key: &RsaPrivateKey) -> String {
    key.to_pkcs8_pem(LineEnding::LF).map(|pem| pem.to_string()).unwrap_or_default()
}

/// A private key as PKCS#1 PEM (what the Python and PHP SDKs read).
pub fn pkcs1_pem(key: &RsaPrivateKey) -> String {
    key.to_pkcs1_pem(LineEnding::LF).map(|pem| pem.to_string()).unwrap_or_default()
}

/// A public key as SPKI PEM (`BEGIN PUBLIC KEY`, what every SDK reads).
pub fn public_pem(key: &RsaPublicKey) -> String {
    key.to_public_key_pem(LineEnding::LF).unwrap_or_default()
}

/// The base64 of a PEM's body on one line, as Alipay's console shows keys.
pub fn bare_base64(pem: &str) -> String {
    pem.lines().filter(|line| !line.starts_with("-----")).map(str::trim).collect()
}

/// Whether `key` is the public half of one of the published test key pairs.
pub fn is_published_test_key(key: &RsaPublicKey) -> bool {
    test_keys::PUBLIC_KEYS_PEM.iter().any(|pem| public_key(pem).is_ok_and(|published| published == *key))
}

/// Whether a key text (private or public) is, or is half of, a published test key pair.
pub fn is_published_test_key_text(text: &str) -> bool {
    let public = private_key(text).map(|key| key.to_public_key()).or_else(|_| public_key(text));
    public.is_ok_and(|key| is_published_test_key(&key))
}

/// The sign content of request parameters: every one but `sign` with a
/// non-empty value, sorted by name, `name=value` joined by `&`.
pub fn sign_content<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let mut kept: Vec<(&str, &str)> =
        params.into_iter().filter(|(name, value)| *name != SIGN_PARAM && !value.is_empty()).collect();
    kept.sort();
    kept.iter().map(|(name, value)| format!("{name}={value}")).collect::<Vec<_>>().join("&")
}

/// The base64 SHA256withRSA signature of `content`'s UTF-8 bytes.
pub fn sign(key: &RsaPrivateKey, content: &str) -> String {
    sign_bytes(key, content.as_bytes())
}

/// The base64 SHA256withRSA signature of `message`. PKCS#1 v1.5 is
/// deterministic, so either implementation gives the same bytes: `ring`'s
/// (about three times faster: 570 against 1 710 µs for a 2048-bit key on
/// this machine, and every payout's request, answer and notification is
/// signed) for any key it takes, `rsa`'s for the rest.
pub fn sign_bytes(key: &RsaPrivateKey, message: &[u8]) -> String {
    if let Some(signer) = fast_signers::of(key) {
        let mut signature = vec![0; signer.public().modulus_len()];
        let rng = ring::rand::SystemRandom::new();
        if signer.sign(&ring::signature::RSA_PKCS1_SHA256, &rng, message, &mut signature).is_ok() {
            return BASE64.encode(signature);
        }
    }
    let signer = SigningKey::<Sha256>::new(key.clone());
    BASE64.encode(signer.sign(message).to_bytes())
}

/// The signing keys in `ring`'s form, made once per key (by its modulus):
/// a process signs with the few keys its settings name.
mod fast_signers {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex, OnceLock, PoisonError};

    use ring::signature::RsaKeyPair;
    use rsa::RsaPrivateKey;
    use rsa::pkcs8::EncodePrivateKey;
    use rsa::traits::PublicKeyParts as _;

    /// Keys kept at most; past it the cache starts again (keys come from
    /// settings, so it is never reached in practice).
    const KEPT: usize = 32;

    type Signers = HashMap<Vec<u8>, Option<Arc<RsaKeyPair>>>;

    /// `key` as `ring` signs with it; `None` for a key `ring` refuses (under
    /// 2048 bits, say), which `rsa` then signs with.
    pub(super) fn of(key: &RsaPrivateKey) -> Option<Arc<RsaKeyPair>> {
        static SIGNERS: OnceLock<Mutex<Signers>> = OnceLock::new();
        let signers = SIGNERS.get_or_init(|| Mutex::new(HashMap::new()));
        let modulus = key.n().to_bytes_be();
        if let Some(known) = signers.lock().unwrap_or_else(PoisonError::into_inner).get(&modulus) {
            return known.clone();
        }
        let made = key.to_pkcs8_der().ok().and_then(|der| RsaKeyPair::from_pkcs8(der.as_bytes()).ok()).map(Arc::new);
        let mut signers = signers.lock().unwrap_or_else(PoisonError::into_inner);
        if signers.len() >= KEPT {
            signers.clear();
        }
        signers.insert(modulus, made.clone());
        made
    }
}

/// Whether `sign` (base64) is `key`'s SHA256withRSA signature of `content`.
pub fn verify(key: &RsaPublicKey, content: &str, sign: &str) -> bool {
    verify_bytes(key, content.as_bytes(), sign)
}

/// Whether `sign` (base64) is `key`'s SHA256withRSA signature of `message`:
/// checked by `ring` for the key sizes it takes (2048–8192 bits: 21 against
/// 185 µs for a 2048-bit key on this machine), by `rsa` for the others.
pub fn verify_bytes(key: &RsaPublicKey, message: &[u8], sign: &str) -> bool {
    let Ok(bytes) = BASE64.decode(sign.trim()) else { return false };
    if (2048..=8192).contains(&(key.size() * 8)) {
        let components = ring::signature::RsaPublicKeyComponents { n: key.n().to_bytes_be(), e: key.e().to_bytes_be() };
        return components.verify(&ring::signature::RSA_PKCS1_2048_8192_SHA256, message, &bytes).is_ok();
    }
    let Ok(signature) = Signature::try_from(bytes.as_slice()) else { return false };
    VerifyingKey::<Sha256>::new(key.clone()).verify(message, &signature).is_ok()
}

/// `{"<node>":<response>,"sign":"<sign of response>"}`: an answer as the
/// gateway sends it, signed over the exact text of `response` (a JSON object).
pub fn signed_answer(node: &str, response: &str, key: &RsaPrivateKey) -> String {
    let sign = sign(key, response);
    format!(r#"{{"{node}":{response},"sign":"{sign}"}}"#)
}

/// `{"<node>":<response>}`: an answer the gateway cannot sign for the caller
/// (it could not tell who is calling).
pub fn unsigned_answer(node: &str, response: &str) -> String {
    format!(r#"{{"{node}":{response}}}"#)
}

/// The response object's exact text and the sign of an answer, found the
/// way the SDKs find them: the object after `"<node>":`, up to its matching
/// brace (braces inside strings do not count), then `,"sign":"…"`.
pub fn signed_part<'a>(answer: &'a str, node: &str) -> Option<(&'a str, &'a str)> {
    let opening = format!("\"{node}\":");
    let start = answer.find(&opening)? + opening.len();
    let object = &answer[start..];
    let end = object_end(object)?;
    let rest = object[end..].strip_prefix(",\"sign\":\"")?;
    let sign = &rest[..rest.find('"')?];
    Some((&object[..end], sign))
}

/// Where the JSON object `text` starts with ends (exclusive).
fn object_end(text: &str) -> Option<usize> {
    if !text.starts_with('{') {
        return None;
    }
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (at, byte) in text.bytes().enumerate() {
        match (in_string, escaped, byte) {
            (true, true, _) => escaped = false,
            (true, false, b'\\') => escaped = true,
            (true, false, b'"') => in_string = false,
            (true, false, _) => {}
            (false, _, b'"') => in_string = true,
            (false, _, b'{') => depth += 1,
            (false, _, b'}') => {
                depth -= 1;
                if depth == 0 {
                    return Some(at + 1);
                }
            }
            _ => {}
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn app_private() -> RsaPrivateKey {
        private_key(test_keys::APP_PRIVATE_KEY_PEM).unwrap()
    }

    fn app_public() -> RsaPublicKey {
        public_key(test_keys::APP_PUBLIC_KEY_PEM).unwrap()
    }

    #[test]
    fn ring_signs_each_published_key_as_rsa_does_byte_for_byte() {
        let keys = [
            test_keys::APP_PRIVATE_KEY_PEM,
            test_keys::PLATFORM_PRIVATE_KEY_PEM,
            test_keys::WECHATPAY_MERCHANT_PRIVATE_KEY_PEM,
            test_keys::WECHATPAY_PLATFORM_PRIVATE_KEY_PEM,
        ];
        for pem in keys {
            let key = private_key(pem).unwrap();
            assert!(fast_signers::of(&key).is_some(), "ring takes a 2048-bit key");
            for message in ["", "app_id=2021004100000001&method=x", "POST\n/v3/fund-app\n1\nn\n{}\n"] {
                let by_rsa = BASE64.encode(SigningKey::<Sha256>::new(key.clone()).sign(message.as_bytes()).to_bytes());
                let signed = sign(&key, message);
                assert_eq!(signed, by_rsa, "{message:?}");
                assert!(verify(&key.to_public_key(), message, &signed));
                let other = format!("{message}.");
                assert!(!verify(&key.to_public_key(), &other, &signed), "ring refuses another message");
            }
        }
    }

    #[test]
    fn a_key_ring_refuses_is_signed_and_checked_by_rsa() {
        let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 1024).unwrap();
        assert!(fast_signers::of(&key).is_none(), "ring takes no key under 2048 bits");
        let message = "app_id=2021004100000001&method=x";
        let by_rsa = BASE64.encode(SigningKey::<Sha256>::new(key.clone()).sign(message.as_bytes()).to_bytes());
        let signed = sign(&key, message);
        assert_eq!(signed, by_rsa);
        assert!(verify(&key.to_public_key(), message, &signed));
        assert!(!verify(&key.to_public_key(), "app_id=2021004100000002&method=x", &signed));
    }

    #[test]
    fn the_sign_content_sorts_by_name_and_leaves_out_sign_and_empty_values() {
        let params = [
            ("timestamp", "2026-03-01 17:30:00"),
            ("sign", "c2lnbg=="),
            ("app_id", "2021004100000001"),
            ("notify_url", ""),
            ("biz_content", r#"{"out_biz_no":"A1","trans_amount":"1.00"}"#),
            ("sign_type", "RSA2"),
            ("method", "alipay.fund.trans.uni.transfer"),
        ];
        assert_eq!(
            sign_content(params),
            "app_id=2021004100000001&biz_content={\"out_biz_no\":\"A1\",\"trans_amount\":\"1.00\"}\
             &method=alipay.fund.trans.uni.transfer&sign_type=RSA2&timestamp=2026-03-01 17:30:00"
        );
        assert_eq!(sign_content([("sign", "x")]), "");
    }

    #[test]
    fn a_signature_verifies_with_the_matching_key_only_and_only_for_its_content() {
        let content = "app_id=2021004100000001&method=alipay.user.info.share&nick=小明";
        let signature = sign(&app_private(), content);
        assert!(verify(&app_public(), content, &signature));
        assert!(!verify(&app_public(), &format!("{content}x"), &signature));
        let platform = public_key(test_keys::PLATFORM_PUBLIC_KEY_PEM).unwrap();
        assert!(!verify(&platform, content, &signature));
        assert!(!verify(&app_public(), content, "not base64!"));
        assert!(!verify(&app_public(), content, "c2hvcnQ="));
        assert_eq!(signature, sign(&app_private(), content), "PKCS#1 v1.5 signatures are deterministic");
    }

    #[test]
    fn keys_read_from_every_shape_integrators_paste() {
        let key = app_private();
        for text in [pkcs8_pem(&key), pkcs1_pem(&key), bare_base64(&pkcs8_pem(&key)), bare_base64(&pkcs1_pem(&key))] {
            assert_eq!(private_key(&text).unwrap(), key, "{text}");
        }
        let public = key.to_public_key();
        let pkcs1_public = rsa::pkcs1::EncodeRsaPublicKey::to_pkcs1_pem(&public, LineEnding::LF).unwrap();
        for text in [public_pem(&public), bare_base64(&public_pem(&public)), pkcs1_public] {
            assert_eq!(public_key(&text).unwrap(), public, "{text}");
        }
        assert!(private_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----").is_err());
        assert!(private_key("").is_err());
        assert!(public_key("hello").is_err());
        assert!(public_key(test_keys::APP_PRIVATE_KEY_PEM).is_err());
    }

    #[test]
    fn the_published_test_keys_are_recognised_in_either_half_and_any_shape() {
        for text in [
            test_keys::APP_PRIVATE_KEY_PEM,
            test_keys::APP_PUBLIC_KEY_PEM,
            test_keys::PLATFORM_PRIVATE_KEY_PEM,
            test_keys::PLATFORM_PUBLIC_KEY_PEM,
            test_keys::WECHATPAY_MERCHANT_PRIVATE_KEY_PEM,
            test_keys::WECHATPAY_PLATFORM_PUBLIC_KEY_PEM,
        ] {
            assert!(is_published_test_key_text(text));
            assert!(is_published_test_key_text(&bare_base64(text)));
        }
        assert!(is_published_test_key_text(&pkcs1_pem(&app_private())));
        assert!(!is_published_test_key_text("not a key"));
        assert_ne!(app_public(), public_key(test_keys::PLATFORM_PUBLIC_KEY_PEM).unwrap());
    }

    #[test]
    fn a_signed_answer_gives_back_its_exact_response_text_and_sign() {
        let response = r#"{"code":"10000","msg":"Success","order_title":"a } and a \" {","n":{"x":1}}"#;
        let answer = signed_answer("alipay_fund_trans_uni_transfer_response", response, &app_private());
        let (text, signature) = signed_part(&answer, "alipay_fund_trans_uni_transfer_response").unwrap();
        assert_eq!(text, response);
        assert!(verify(&app_public(), text, signature));
        assert!(serde_json::from_str::<serde_json::Value>(&answer).is_ok());
        let unsigned = unsigned_answer("error_response", r#"{"code":"40002"}"#);
        assert_eq!(unsigned, r#"{"error_response":{"code":"40002"}}"#);
        assert_eq!(signed_part(&unsigned, "error_response"), None);
        assert_eq!(signed_part(&answer, "other_response"), None);
    }
}
