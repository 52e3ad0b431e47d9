//! WeChat Pay v3's encryption, as pure functions:
//!
//! - **Notifications** (回调通知): WeChat Pay POSTs `{id, create_time,
//!   resource_type: "encrypt-resource", event_type, summary, resource}` to
//!   the merchant's `notify_url`, signed like an answer (`Wechatpay-*`
//!   headers over `TIMESTAMP\nNONCE\nBODY\n`, `domain::wechatpay_sign`), its
//!   `resource` encrypted with the merchant's APIv3 key: AEAD_AES_256_GCM,
//!   the key's 32 bytes as the key, a 12-character `nonce`, the
//!   `associated_data` as AAD, and `ciphertext` the base64 of the encrypted
//!   bytes followed by the 16-byte tag. A transfer bill that reaches
//!   `SUCCESS`, `FAIL` or `CANCELLED` is told as `MCHTRANSFER.BILL.FINISHED`
//!   (`BillFinished` is the plaintext); a receiver that does not answer
//!   200/204 is sent it again after `RETRY_INTERVALS_SECS`.
//! - **Sensitive fields** (敏感信息, e.g. a transfer bill's `user_name`):
//!   RSA-OAEP (SHA-1, MGF1-SHA-1) with WeChat Pay's public key, base64; the
//!   request names the key in `Wechatpay-Serial`. WeChat Pay opens one with
//!   `open_sensitive`: a request naming another key, or a field that does
//!   not decrypt (sent in the clear, or for another key), is refused with
//!   400 `PARAM_ERROR` and its own message (`SensitiveFailure`).
//!
//! Randomness (a notification's nonce, OAEP's seed) comes from the caller.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::Oaep;
use rsa::rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};

use crate::domain::rsa2::{PrivateKey, PublicKey};
use crate::domain::wechatpay_sign::{AnswerFailure, AnswerSignature, PlatformKey, PlatformPublicKey};

/// The event of a transfer bill that reached a final state.
pub const BILL_FINISHED_EVENT: &str = "MCHTRANSFER.BILL.FINISHED";
/// Its `summary`, as WeChat Pay writes it.
pub const BILL_FINISHED_SUMMARY: &str = "商家转账单据终态通知";
/// A transfer bill's resource: `original_type` and `associated_data`.
pub const BILL_ORIGINAL_TYPE: &str = "mch_payment";
pub const ENCRYPT_RESOURCE: &str = "encrypt-resource";
pub const ALGORITHM: &str = "AEAD_AES_256_GCM";
/// An AES-GCM nonce's length, in characters (bytes) as WeChat Pay sends it.
pub const NONCE_CHARS: usize = 12;
/// The APIv3 key's length: 32 characters, which are the AES-256 key's bytes.
pub const APIV3_KEY_CHARS: usize = 32;
/// The published test APIv3 key (config/sim-keys/README.md): anyone can
/// read every notification encrypted with it, so production refuses it.
pub const PUBLISHED_TEST_APIV3_KEY: &str = "WalletgateSimPublishedApiV3Key01";
/// After the first delivery fails, WeChat Pay sends a notification again
/// after these pauses (15 s, 15 s, 30 s, 3 min, 10 min, 20 min, 30 min ×3,
/// 60 min, 3 h ×3, 6 h ×2: about 24 h 4 min), then gives up.
pub const RETRY_INTERVALS_SECS: [u64; 15] =
    [15, 15, 30, 180, 600, 1200, 1800, 1800, 1800, 3600, 10_800, 10_800, 10_800, 21_600, 21_600];

/// The pause before the next delivery after `attempts` deliveries failed;
/// `None` once every retry is spent.
pub fn retry_pause_secs(attempts: u32) -> Option<u64> {
    let index = usize::try_from(attempts).ok()?.checked_sub(1)?;
    RETRY_INTERVALS_SECS.get(index).copied()
}

/// The merchant's APIv3 key (APIv3密钥): 32 characters.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiV3Key([u8; APIV3_KEY_CHARS]);

impl std::fmt::Debug for ApiV3Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiV3Key(…)")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("an APIv3 key is 32 ASCII characters")]
pub struct ApiV3KeyError;

impl ApiV3Key {
    pub fn parse(text: &str) -> Result<ApiV3Key, ApiV3KeyError> {
        let bytes: [u8; APIV3_KEY_CHARS] = text.as_bytes().try_into().map_err(|_| ApiV3KeyError)?;
        if !bytes.iter().all(|b| b.is_ascii_graphic()) {
            return Err(ApiV3KeyError);
        }
        Ok(ApiV3Key(bytes))
    }

    /// The published test key.
    pub fn published() -> ApiV3Key {
        let bytes = PUBLISHED_TEST_APIV3_KEY.as_bytes().try_into().unwrap_or([b'0'; APIV3_KEY_CHARS]);
        ApiV3Key(bytes)
    }

    pub fn is_published(&self) -> bool {
        self.0 == PUBLISHED_TEST_APIV3_KEY.as_bytes()
    }

    /// The key as text, for an SDK to be configured with (`/mock/wechat/keys`).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0).into_owned()
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(&self.0.into())
    }

    /// `plaintext` encrypted as a notification's resource, with `nonce`
    /// (`NONCE_CHARS` characters) and `associated_data`.
    pub fn encrypt(
        &self,
        plaintext: &[u8],
        nonce: &str,
        associated_data: &str,
    ) -> Result<EncryptedResource, NoticeFailure> {
        let nonce_bytes: [u8; NONCE_CHARS] = nonce.as_bytes().try_into().map_err(|_| NoticeFailure::Malformed)?;
        let payload = Payload { msg: plaintext, aad: associated_data.as_bytes() };
        let sealed = self.cipher().encrypt(&Nonce::from(nonce_bytes), payload).map_err(|_| NoticeFailure::Malformed)?;
        Ok(EncryptedResource {
            original_type: BILL_ORIGINAL_TYPE.to_owned(),
            algorithm: ALGORITHM.to_owned(),
            ciphertext: BASE64.encode(sealed),
            nonce: nonce.to_owned(),
            associated_data: associated_data.to_owned(),
        })
    }

    /// The plaintext of a resource encrypted with this key; any tampering
    /// (ciphertext, nonce, associated data) or another key fails the tag.
    pub fn decrypt(&self, resource: &EncryptedResource) -> Result<Vec<u8>, NoticeFailure> {
        if resource.algorithm != ALGORITHM {
            return Err(NoticeFailure::Undecryptable);
        }
        let nonce: [u8; NONCE_CHARS] =
            resource.nonce.as_bytes().try_into().map_err(|_| NoticeFailure::Undecryptable)?;
        let sealed = BASE64.decode(resource.ciphertext.trim()).map_err(|_| NoticeFailure::Undecryptable)?;
        let payload = Payload { msg: &sealed, aad: resource.associated_data.as_bytes() };
        self.cipher().decrypt(&Nonce::from(nonce), payload).map_err(|_| NoticeFailure::Undecryptable)
    }
}

/// A notification's body, as WeChat Pay POSTs it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notification {
    pub id: String,
    /// RFC 3339, Beijing time.
    pub create_time: String,
    pub resource_type: String,
    pub event_type: String,
    pub summary: String,
    pub resource: EncryptedResource,
}

/// A notification's encrypted `resource`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EncryptedResource {
    pub original_type: String,
    pub algorithm: String,
    /// Base64 of the encrypted bytes and the 16-byte tag.
    pub ciphertext: String,
    pub nonce: String,
    #[serde(default)]
    pub associated_data: String,
}

/// The plaintext of `MCHTRANSFER.BILL.FINISHED`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillFinished {
    pub mchid: String,
    pub out_bill_no: String,
    pub transfer_bill_no: String,
    /// `SUCCESS`, `FAIL` or `CANCELLED`.
    pub state: String,
    /// Integer fen.
    pub transfer_amount: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_reason: Option<String>,
    pub openid: String,
    pub create_time: String,
    pub update_time: String,
}

/// Why a notification was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NoticeFailure {
    #[error("the signature does not hold: {0}")]
    Signature(AnswerFailure),
    #[error("the body is not a WeChat Pay notification")]
    Malformed,
    #[error("the resource does not decrypt with the APIv3 key")]
    Undecryptable,
}

/// A notification as its receiver checks it at `now` (Unix seconds, wall
/// clock): the platform's signature over the exact body (within five
/// minutes), then the body, then the resource decrypted with `key`.
pub fn open_notification(
    platform: &PlatformPublicKey,
    key: &ApiV3Key,
    signed: Option<&AnswerSignature>,
    body: &[u8],
    now: i64,
) -> Result<(Notification, Vec<u8>), NoticeFailure> {
    platform.verify_answer(signed, body, now).map_err(NoticeFailure::Signature)?;
    let notification: Notification = serde_json::from_slice(body).map_err(|_| NoticeFailure::Malformed)?;
    let plaintext = key.decrypt(&notification.resource)?;
    Ok((notification, plaintext))
}

/// A sensitive field encrypted for WeChat Pay: RSA-OAEP (SHA-1) with its public key, base64.
pub fn encrypt_sensitive(key: &PublicKey, text: &str, rng: &mut impl CryptoRngCore) -> Option<String> {
    let sealed = key.encrypt(rng, Oaep::new::<sha1::Sha1>(), text.as_bytes()).ok()?;
    Some(BASE64.encode(sealed))
}

/// A sensitive field as WeChat Pay reads it with its private key; `None`
/// when it is not base64 of an RSA-OAEP block for this key, or not UTF-8.
pub fn decrypt_sensitive(key: &PrivateKey, sealed: &str) -> Option<String> {
    let bytes = BASE64.decode(sealed.trim()).ok()?;
    let opened = key.decrypt(Oaep::new::<sha1::Sha1>(), &bytes).ok()?;
    String::from_utf8(opened).ok()
}

/// Why WeChat Pay refuses a request's sensitive field; each is its 400
/// `PARAM_ERROR` with the message WeChat Pay gives (`message`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SensitiveFailure {
    /// `Wechatpay-Serial` is missing or names a key other than the platform's.
    #[error("Wechatpay-Serial does not name the platform key")]
    WrongSerial,
    /// Not base64 of an RSA-OAEP block for the platform key: sent in the
    /// clear, or encrypted for another key.
    #[error("the field does not decrypt with the platform key")]
    NotCiphertext,
}

impl SensitiveFailure {
    /// WeChat Pay's message for it, as SDK users meet it.
    pub fn message(self) -> &'static str {
        match self {
            SensitiveFailure::WrongSerial => "平台证书序列号Wechatpay-Serial错误",
            SensitiveFailure::NotCiphertext => "请确认待处理的消息是否为加密后的密文",
        }
    }
}

/// A request's sensitive field as WeChat Pay opens it: the request's
/// `Wechatpay-Serial` (`serial`, `None` when not sent) must name `platform`,
/// and the field decrypt with its private key.
pub fn open_sensitive(platform: &PlatformKey, serial: Option<&str>, sealed: &str) -> Result<String, SensitiveFailure> {
    if serial.map(str::trim) != Some(platform.key_id.as_str()) {
        return Err(SensitiveFailure::WrongSerial);
    }
    decrypt_sensitive(&platform.private_key, sealed).ok_or(SensitiveFailure::NotCiphertext)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::domain::rsa2::{self, test_keys};
    use crate::domain::wechatpay_sign::PlatformKey;

    const NOW: i64 = 1_772_357_400;

    fn platform() -> (PlatformKey, PlatformPublicKey) {
        let key_id = "PUB_KEY_ID_0119000000012026030100000000000001".to_owned();
        let private_key = rsa2::private_key(test_keys::WECHATPAY_PLATFORM_PRIVATE_KEY_PEM).unwrap();
        let public_key = private_key.to_public_key();
        (PlatformKey { key_id: key_id.clone(), private_key }, PlatformPublicKey { key_id, public_key })
    }

    fn notification(key: &ApiV3Key, plaintext: &[u8]) -> Vec<u8> {
        let resource = key.encrypt(plaintext, "fdasflkja484", BILL_ORIGINAL_TYPE).unwrap();
        let notification = Notification {
            id: "EV-2026030117300000000001".into(),
            create_time: "2026-03-01T17:30:00+08:00".into(),
            resource_type: ENCRYPT_RESOURCE.into(),
            event_type: BILL_FINISHED_EVENT.into(),
            summary: BILL_FINISHED_SUMMARY.into(),
            resource,
        };
        serde_json::to_vec(&notification).unwrap()
    }

    #[test]
    fn the_published_key_is_32_characters_and_other_lengths_are_refused() {
        assert_eq!(PUBLISHED_TEST_APIV3_KEY.len(), APIV3_KEY_CHARS);
        assert!(ApiV3Key::parse(PUBLISHED_TEST_APIV3_KEY).unwrap().is_published());
        assert!(ApiV3Key::published().is_published());
        assert!(!ApiV3Key::parse(&"k".repeat(32)).unwrap().is_published());
        for bad in ["", "short", &"k".repeat(31), &"k".repeat(33), &format!("{} ", "k".repeat(31))] {
            assert_eq!(ApiV3Key::parse(bad), Err(ApiV3KeyError), "{bad:?}");
        }
        assert_eq!(format!("{:?}", ApiV3Key::published()), "ApiV3Key(…)", "a key never prints");
    }

    #[test]
    fn a_signed_notification_opens_and_any_change_is_refused() {
        let (signer, verifier) = platform();
        let key = ApiV3Key::published();
        let body = notification(&key, br#"{"out_bill_no":"A1"}"#);
        let signed = signer.sign_answer(&body, NOW, "C5AC7061FCCAB6BF3E254DCF98995B8C");
        let (opened, plaintext) = open_notification(&verifier, &key, Some(&signed), &body, NOW + 299).unwrap();
        assert_eq!(
            (opened.event_type.as_str(), plaintext.as_slice()),
            (BILL_FINISHED_EVENT, &br#"{"out_bill_no":"A1"}"#[..])
        );

        let refused = |signed: Option<&AnswerSignature>, body: &[u8], key: &ApiV3Key, now: i64| {
            open_notification(&verifier, key, signed, body, now).unwrap_err()
        };
        let tampered = String::from_utf8(body.clone()).unwrap().replace("EV-2026", "EV-2027");
        assert_eq!(
            refused(Some(&signed), tampered.as_bytes(), &key, NOW),
            NoticeFailure::Signature(AnswerFailure::BadSignature)
        );
        assert_eq!(refused(None, &body, &key, NOW), NoticeFailure::Signature(AnswerFailure::Unsigned));
        assert_eq!(
            refused(Some(&signed), &body, &key, NOW + 301),
            NoticeFailure::Signature(AnswerFailure::StaleTimestamp)
        );
        let other = ApiV3Key::parse(&"k".repeat(32)).unwrap();
        assert_eq!(refused(Some(&signed), &body, &other, NOW), NoticeFailure::Undecryptable);
        let not_json = b"not a notification";
        let signed_junk = signer.sign_answer(not_json, NOW, "N");
        assert_eq!(refused(Some(&signed_junk), not_json, &key, NOW), NoticeFailure::Malformed);
    }

    #[test]
    fn a_changed_nonce_or_associated_data_fails_the_tag() {
        let key = ApiV3Key::published();
        let resource = key.encrypt(b"{}", "0123456789ab", "mch_payment").unwrap();
        assert_eq!(key.decrypt(&resource).unwrap(), b"{}");
        let changed = [
            EncryptedResource { nonce: "0123456789ac".into(), ..resource.clone() },
            EncryptedResource { associated_data: "other".into(), ..resource.clone() },
            EncryptedResource { nonce: "short".into(), ..resource.clone() },
            EncryptedResource { ciphertext: "!!".into(), ..resource.clone() },
            EncryptedResource { algorithm: "AEAD_AES_128_GCM".into(), ..resource },
        ];
        for resource in changed {
            assert_eq!(key.decrypt(&resource), Err(NoticeFailure::Undecryptable), "{resource:?}");
        }
    }

    #[test]
    fn the_retries_follow_wechat_pays_intervals_then_stop() {
        let pauses: Vec<u64> = (1..=16).map_while(retry_pause_secs).collect();
        assert_eq!(pauses, RETRY_INTERVALS_SECS);
        assert_eq!(pauses.iter().sum::<u64>(), 24 * 3600 + 4 * 60, "about 24 h 4 min, as WeChat Pay says");
        assert_eq!(retry_pause_secs(0), None);
        assert_eq!(retry_pause_secs(16), None);
    }

    #[test]
    fn a_sensitive_field_opens_only_with_the_platforms_private_key() {
        let (signer, verifier) = platform();
        let mut rng = rsa::rand_core::OsRng;
        let sealed = encrypt_sensitive(&verifier.public_key, "张三", &mut rng).unwrap();
        assert_ne!(encrypt_sensitive(&verifier.public_key, "张三", &mut rng).unwrap(), sealed, "OAEP is randomised");
        assert_eq!(decrypt_sensitive(&signer.private_key, &sealed).as_deref(), Some("张三"));
        let merchant = rsa2::private_key(test_keys::WECHATPAY_MERCHANT_PRIVATE_KEY_PEM).unwrap();
        assert_eq!(decrypt_sensitive(&merchant, &sealed), None);
        assert_eq!(decrypt_sensitive(&signer.private_key, "张三"), None);
    }

    #[test]
    fn a_sensitive_field_is_opened_only_under_the_platform_keys_serial() {
        let (signer, verifier) = platform();
        let mut rng = rsa::rand_core::OsRng;
        let sealed = encrypt_sensitive(&verifier.public_key, "李小龙", &mut rng).unwrap();
        let serial = verifier.key_id.as_str();
        assert_eq!(open_sensitive(&signer, Some(serial), &sealed).as_deref(), Ok("李小龙"));
        for wrong in [None, Some(""), Some("PUB_KEY_ID_0119000000012026030100000000000002")] {
            assert_eq!(open_sensitive(&signer, wrong, &sealed), Err(SensitiveFailure::WrongSerial), "{wrong:?}");
        }
        assert_eq!(open_sensitive(&signer, Some(serial), "李小龙"), Err(SensitiveFailure::NotCiphertext));
        let merchant = rsa2::private_key(test_keys::WECHATPAY_MERCHANT_PRIVATE_KEY_PEM).unwrap();
        let for_another = encrypt_sensitive(&merchant.to_public_key(), "李小龙", &mut rng).unwrap();
        assert_eq!(open_sensitive(&signer, Some(serial), &for_another), Err(SensitiveFailure::NotCiphertext));
        assert_eq!(SensitiveFailure::WrongSerial.message(), "平台证书序列号Wechatpay-Serial错误");
    }

    proptest! {
        #[test]
        fn any_plaintext_round_trips(plaintext in proptest::collection::vec(any::<u8>(), 0..512), nonce in "[0-9a-zA-Z]{12}") {
            let key = ApiV3Key::published();
            let resource = key.encrypt(&plaintext, &nonce, BILL_ORIGINAL_TYPE).unwrap();
            prop_assert_eq!(key.decrypt(&resource).unwrap(), plaintext);
        }
    }
}
