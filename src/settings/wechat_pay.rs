//! WeChat Pay v3's merchant identity and keys, both sides of the signed
//! protocol (docs/review-and-settlement.md, "Signatures"):
//!
//! - `[wechat.pay]`: walletgate as the merchant — its `mchid`, the serial of
//!   its API certificate, its private key (signs every request) and WeChat
//!   Pay's public key with its id (verifies every answer);
//! - `[mock_wechat.pay]`: the mock WeChat Pay — the one merchant registered
//!   with it (mchid, serial, public key; its private key only handed out at
//!   `/mock/wechat/keys`) and the platform's key id and private key (signs
//!   every answer).
//!
//! Key files left empty mean the published test keys (`config/sim-keys/`,
//! compiled in); production refuses them, in a file or by default. The
//! APIv3 key (notifications' AES-256-GCM) follows the same rule: empty
//! means the published test key, which production refuses, left empty or
//! written out.

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use super::refuse_published_key;
use crate::domain::rsa2::{self, test_keys};
use crate::domain::wechatpay_crypto::ApiV3Key;
use crate::domain::wechatpay_sign::{MerchantKey, PlatformKey, PlatformPublicKey, RegisteredMerchant};

/// `[wechat.pay]`: what walletgate signs its payouts with, and verifies answers with.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeChatPaySettings {
    /// The merchant id (商户号).
    pub mchid: String,
    /// The serial number of the merchant's API certificate (商户API证书序列号).
    pub merchant_serial_no: String,
    /// PEM file of the merchant's private key (`apiclient_key.pem`). Empty: the published test key.
    pub merchant_private_key_file: String,
    /// WeChat Pay's public key id (`PUB_KEY_ID_…`), what answers name in `Wechatpay-Serial`.
    pub platform_public_key_id: String,
    /// PEM file of WeChat Pay's public key (`pub_key.pem`). Empty: the published test key.
    pub platform_public_key_file: String,
    /// The merchant's APIv3 key (32 characters), which decrypts WeChat Pay's
    /// notifications. Empty: the published test key.
    pub apiv3_key: SecretString,
    /// Where WeChat Pay is asked to send a bill's `MCHTRANSFER.BILL.FINISHED`
    /// (`notify_url` of every transfer bill). Empty: this server's own
    /// `/v1/callbacks/wechat-pay/transfer-bills` while the mock WeChat runs,
    /// else none; `"none"`: never sent.
    pub notify_url: String,
}

/// `wechat.pay.notify_url`'s word for "send no notify_url".
pub const NOTIFY_URL_NONE: &str = "none";

/// `[mock_wechat.pay]`: the merchant the mock WeChat Pay knows, and its platform key.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockWeChatPaySettings {
    pub mchid: String,
    pub merchant_serial_no: String,
    /// The merchant's public key (verifies requests). Empty: the published test key.
    pub merchant_public_key_file: String,
    /// The merchant's private key, only handed out at `/mock/wechat/keys`
    /// (and used by `/mock/wechat/sign`). Empty: the published test key.
    pub merchant_private_key_file: String,
    /// The platform key's id, sent as `Wechatpay-Serial`.
    pub platform_public_key_id: String,
    /// The platform's private key (signs answers). Empty: the published test key.
    pub platform_private_key_file: String,
    /// Business seconds a new bill stays `ACCEPTED` before `PROCESSING`.
    pub accepted_secs: u64,
    /// Business seconds a bill stays `PROCESSING` (and a cancellation
    /// `CANCELING`) before it is final. With `accepted_secs`, both 0: a bill
    /// is decided in the call that creates it, as the old mock did.
    pub processing_secs: u64,
    /// How long a bill waits for its payee's confirmation before it is
    /// `CANCELLED` (24 hours at WeChat Pay).
    pub confirm_timeout_secs: u64,
    /// Scenes (`transfer_scene_id`) whose bills wait for the payee's
    /// confirmation (`WAIT_USER_CONFIRM`); a mock user flagged
    /// `confirm_required` confirms whatever the scene.
    pub confirm_scene_ids: Vec<String>,
    /// The registered merchant's APIv3 key, which encrypts the notifications
    /// sent to a bill's `notify_url`. Empty: the published test key.
    pub apiv3_key: SecretString,
    /// How long the mock waits for a notification's receiver to answer.
    pub notify_timeout_ms: u64,
}

/// The mock's keys, read.
#[derive(Debug, Clone)]
pub struct MockWeChatPayKeys {
    pub merchant: RegisteredMerchant,
    pub merchant_private: MerchantKey,
    pub platform: PlatformKey,
    pub apiv3: ApiV3Key,
}

/// walletgate's keys as a merchant, read.
#[derive(Debug, Clone)]
pub struct WeChatPayKeys {
    pub merchant: MerchantKey,
    pub platform: PlatformPublicKey,
    pub apiv3: ApiV3Key,
}

/// An APIv3 key setting, or the published test key when it is empty.
fn apiv3_key(name: &str, text: &SecretString) -> Result<ApiV3Key, String> {
    match text.expose_secret() {
        "" => Ok(ApiV3Key::published()),
        text => ApiV3Key::parse(text).map_err(|e| format!("{name}: {e}")),
    }
}

/// In production: the published test APIv3 key written out is refused, and
/// so is an empty one (meaning it) where the key is used.
fn refuse_published_apiv3_key(name: &str, text: &SecretString, used: bool, problems: &mut Vec<String>) {
    match text.expose_secret() {
        "" if used => problems
            .push(format!("{name} must be the merchant's own APIv3 key in production (empty: the published test key)")),
        "" => {}
        text if ApiV3Key::parse(text).is_ok_and(|key| key.is_published()) => problems.push(format!(
            "{name} is the published test key (config/sim-keys); use the merchant's own APIv3 key in production"
        )),
        _ => {}
    }
}

/// A key file's text, or the published test key when `path` is empty.
fn key_text(name: &str, path: &str, built_in: &str) -> Result<String, String> {
    if path.is_empty() {
        return Ok(built_in.to_owned());
    }
    std::fs::read_to_string(path).map_err(|e| format!("{name} {path:?}: {e}"))
}

fn private(name: &str, path: &str, built_in: &str) -> Result<rsa2::PrivateKey, String> {
    rsa2::private_key(&key_text(name, path, built_in)?).map_err(|e| format!("{name}: {e}"))
}

fn public(name: &str, path: &str, built_in: &str) -> Result<rsa2::PublicKey, String> {
    rsa2::public_key(&key_text(name, path, built_in)?).map_err(|e| format!("{name}: {e}"))
}

/// Ids as WeChat Pay issues them: a 1–32 character mchid of digits, a serial
/// of hex digits, a key id of letters, digits and `_`.
fn check_ids(section: &str, mchid: &str, serial: &str, key_id: &str, problems: &mut Vec<String>) {
    if mchid.is_empty() || mchid.len() > 32 || !mchid.bytes().all(|b| b.is_ascii_digit()) {
        problems.push(format!("{section}.mchid {mchid:?} must be 1–32 digits, like a real merchant id"));
    }
    if serial.is_empty() || serial.len() > 64 || !serial.bytes().all(|b| b.is_ascii_hexdigit()) {
        problems.push(format!("{section}.merchant_serial_no {serial:?} must be a certificate serial in hex"));
    }
    if key_id.is_empty() || key_id.len() > 64 || !key_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        problems.push(format!("{section}.platform_public_key_id {key_id:?} must be like PUB_KEY_ID_0119…"));
    }
}

impl WeChatPaySettings {
    pub fn keys(&self) -> Result<WeChatPayKeys, String> {
        Ok(WeChatPayKeys {
            merchant: MerchantKey {
                mchid: self.mchid.clone(),
                serial_no: self.merchant_serial_no.clone(),
                private_key: private(
                    "wechat.pay.merchant_private_key_file",
                    &self.merchant_private_key_file,
                    test_keys::WECHATPAY_MERCHANT_PRIVATE_KEY_PEM,
                )?,
            },
            platform: PlatformPublicKey {
                key_id: self.platform_public_key_id.clone(),
                public_key: public(
                    "wechat.pay.platform_public_key_file",
                    &self.platform_public_key_file,
                    test_keys::WECHATPAY_PLATFORM_PUBLIC_KEY_PEM,
                )?,
            },
            apiv3: apiv3_key("wechat.pay.apiv3_key", &self.apiv3_key)?,
        })
    }

    /// The section's problems. `paying`: payouts go over HTTP somewhere
    /// (the keys are used). In production an empty key file (the published
    /// test key) is refused as much as a file holding one.
    pub(super) fn check(&self, production: bool, paying: bool, problems: &mut Vec<String>) {
        let files = [
            ("wechat.pay.merchant_private_key_file", &self.merchant_private_key_file),
            ("wechat.pay.platform_public_key_file", &self.platform_public_key_file),
        ];
        if production {
            for (name, path) in files {
                refuse_published_key(name, path, problems);
                if paying && path.is_empty() {
                    problems.push(format!(
                        "{name} must name the merchant's own key in production (empty: a published test key)"
                    ));
                }
            }
            refuse_published_apiv3_key("wechat.pay.apiv3_key", &self.apiv3_key, paying, problems);
        }
        if !paying {
            return;
        }
        let notify_url = self.notify_url.as_str();
        if !notify_url.is_empty() && notify_url != NOTIFY_URL_NONE && !is_notify_url(notify_url) {
            problems.push(format!(
                "wechat.pay.notify_url {notify_url:?} must be an http(s) URL without a query, empty or \"none\""
            ));
        }
        check_ids("wechat.pay", &self.mchid, &self.merchant_serial_no, &self.platform_public_key_id, problems);
        if let Err(problem) = self.keys() {
            problems.push(problem);
        }
    }
}

impl MockWeChatPaySettings {
    pub fn keys(&self) -> Result<MockWeChatPayKeys, String> {
        let merchant_private = private(
            "mock_wechat.pay.merchant_private_key_file",
            &self.merchant_private_key_file,
            test_keys::WECHATPAY_MERCHANT_PRIVATE_KEY_PEM,
        )?;
        Ok(MockWeChatPayKeys {
            merchant: RegisteredMerchant {
                mchid: self.mchid.clone(),
                serial_no: self.merchant_serial_no.clone(),
                public_key: public(
                    "mock_wechat.pay.merchant_public_key_file",
                    &self.merchant_public_key_file,
                    test_keys::WECHATPAY_MERCHANT_PUBLIC_KEY_PEM,
                )?,
            },
            merchant_private: MerchantKey {
                mchid: self.mchid.clone(),
                serial_no: self.merchant_serial_no.clone(),
                private_key: merchant_private,
            },
            platform: PlatformKey {
                key_id: self.platform_public_key_id.clone(),
                private_key: private(
                    "mock_wechat.pay.platform_private_key_file",
                    &self.platform_private_key_file,
                    test_keys::WECHATPAY_PLATFORM_PRIVATE_KEY_PEM,
                )?,
            },
            apiv3: apiv3_key("mock_wechat.pay.apiv3_key", &self.apiv3_key)?,
        })
    }

    /// The section's problems; in production any published test key a key file holds.
    pub(super) fn check(&self, production: bool, enabled: bool, problems: &mut Vec<String>) {
        if production {
            for (name, path) in [
                ("mock_wechat.pay.merchant_public_key_file", &self.merchant_public_key_file),
                ("mock_wechat.pay.merchant_private_key_file", &self.merchant_private_key_file),
                ("mock_wechat.pay.platform_private_key_file", &self.platform_private_key_file),
            ] {
                refuse_published_key(name, path, problems);
            }
            refuse_published_apiv3_key("mock_wechat.pay.apiv3_key", &self.apiv3_key, false, problems);
        }
        if !enabled {
            return;
        }
        if !(100..=30_000).contains(&self.notify_timeout_ms) {
            problems.push("mock_wechat.pay.notify_timeout_ms must be from 100 to 30000".into());
        }
        let day_secs = 366 * 86_400;
        for (name, secs) in [
            ("accepted_secs", self.accepted_secs),
            ("processing_secs", self.processing_secs),
            ("confirm_timeout_secs", self.confirm_timeout_secs),
        ] {
            if secs > day_secs {
                problems.push(format!("mock_wechat.pay.{name} must be at most {day_secs} (a year)"));
            }
        }
        if self.confirm_timeout_secs == 0 {
            problems.push("mock_wechat.pay.confirm_timeout_secs must be more than 0".into());
        }
        check_ids("mock_wechat.pay", &self.mchid, &self.merchant_serial_no, &self.platform_public_key_id, problems);
        if let Err(problem) = self.keys() {
            problems.push(problem);
        }
    }
}

#[cfg(test)]
impl MockWeChatPaySettings {
    /// The shipped values, for the crate's unit tests.
    pub fn sample() -> MockWeChatPaySettings {
        MockWeChatPaySettings {
            mchid: "1900000109".into(),
            merchant_serial_no: "19EFC2E8E56C4A6A1B8BB48A28E86726824D6608".into(),
            merchant_public_key_file: String::new(),
            merchant_private_key_file: String::new(),
            platform_public_key_id: "PUB_KEY_ID_0119000000012026030100000000000001".into(),
            platform_private_key_file: String::new(),
            accepted_secs: 0,
            processing_secs: 0,
            confirm_timeout_secs: 86_400,
            confirm_scene_ids: vec!["1005".into()],
            apiv3_key: SecretString::from(""),
            notify_timeout_ms: 5000,
        }
    }
}

/// Whether `url` can be a bill's `notify_url`: http or https (WeChat Pay
/// takes https only; the simulator takes http too, for local receivers),
/// with a host, and no query string, as WeChat Pay requires.
pub fn is_notify_url(url: &str) -> bool {
    url::Url::parse(url).is_ok_and(|parsed| {
        matches!(parsed.scheme(), "http" | "https") && parsed.has_host() && parsed.query().is_none()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> WeChatPaySettings {
        WeChatPaySettings {
            mchid: "1900000109".into(),
            merchant_serial_no: "19EFC2E8E56C4A6A1B8BB48A28E86726824D6608".into(),
            merchant_private_key_file: String::new(),
            platform_public_key_id: "PUB_KEY_ID_0119000000012026030100000000000001".into(),
            platform_public_key_file: String::new(),
            apiv3_key: SecretString::from(""),
            notify_url: String::new(),
        }
    }

    fn problems(check: impl FnOnce(&mut Vec<String>)) -> Vec<String> {
        let mut problems = Vec::new();
        check(&mut problems);
        problems
    }

    #[test]
    fn the_shipped_values_pass_outside_production_and_bad_ids_are_named() {
        assert!(problems(|p| sample().check(false, true, p)).is_empty());
        assert!(problems(|p| MockWeChatPaySettings::sample().check(false, true, p)).is_empty());
        let mut bad = sample();
        bad.mchid = "wx1".into();
        bad.platform_public_key_id = "PUB KEY".into();
        bad.merchant_private_key_file = "/nonexistent/apiclient_key.pem".into();
        let found = problems(|p| bad.check(false, true, p));
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found[0].starts_with("wechat.pay.mchid"), "{found:?}");
        assert!(found[2].starts_with("wechat.pay.merchant_private_key_file"), "{found:?}");
    }

    const PUBLISHED: &str = crate::domain::wechatpay_crypto::PUBLISHED_TEST_APIV3_KEY;

    #[test]
    fn apiv3_keys_and_notify_urls_are_checked() {
        let short = WeChatPaySettings { apiv3_key: SecretString::from("short"), ..sample() };
        let found = problems(|p| short.check(false, true, p));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].starts_with("wechat.pay.apiv3_key"), "{found:?}");
        assert!(sample().keys().unwrap().apiv3.is_published(), "empty: the published test key");
        for good in ["", "none", "http://127.0.0.1:8080/v1/callbacks/wechat-pay/transfer-bills", "https://a.example/n"]
        {
            let settings = WeChatPaySettings { notify_url: good.into(), ..sample() };
            assert!(problems(|p| settings.check(false, true, p)).is_empty(), "{good}");
        }
        for bad in ["ftp://a.example/n", "https://a.example/n?x=1", "/relative", "nope"] {
            let settings = WeChatPaySettings { notify_url: bad.into(), ..sample() };
            assert_eq!(problems(|p| settings.check(false, true, p)).len(), 1, "{bad}");
        }
    }

    #[test]
    fn production_refuses_the_published_keys_by_default_and_in_a_file() {
        let found = problems(|p| sample().check(true, true, p));
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(found.iter().all(|problem| problem.contains("published test key")), "{found:?}");
        assert!(found[2].starts_with("wechat.pay.apiv3_key"), "{found:?}");
        let written_out = WeChatPaySettings { apiv3_key: SecretString::from(PUBLISHED), ..sample() };
        let found = problems(|p| written_out.check(true, false, p));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("apiv3_key is the published test key"), "{found:?}");
        let own = WeChatPaySettings { apiv3_key: SecretString::from("k".repeat(32)), ..sample() };
        assert!(problems(|p| own.check(true, false, p)).is_empty());
        let mut mock = MockWeChatPaySettings::sample();
        mock.apiv3_key = SecretString::from(PUBLISHED);
        assert_eq!(problems(|p| mock.check(true, false, p)).len(), 1);
        assert!(problems(|p| sample().check(true, false, p)).is_empty(), "no payouts, no keys used");
        let dir = std::env::temp_dir().join(format!("walletgate-wechatpay-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let published = dir.join("pub_key.pem");
        std::fs::write(&published, test_keys::WECHATPAY_PLATFORM_PUBLIC_KEY_PEM).unwrap();
        let mut mock = MockWeChatPaySettings::sample();
        mock.merchant_public_key_file = published.display().to_string();
        let found = problems(|p| mock.check(true, false, p));
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("holds a published test key"), "{found:?}");
    }
}
