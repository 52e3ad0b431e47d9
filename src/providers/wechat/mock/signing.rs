//! The mock WeChat Pay's side of APIv3 signatures (`domain::wechatpay_sign`):
//! the one merchant registered with it, whose requests it verifies, and the
//! platform key it signs every answer with (public-key mode). Timestamps go
//! by the wall clock it is given, never the simulator's business clock: a
//! signature is a transport matter, and an SDK signs with its machine's time.
//!
//! It opens the sensitive fields of requests (`user_name`) with the platform
//! key, as WeChat Pay does (`domain::wechatpay_crypto::open_sensitive`).
//!
//! It also holds the merchant's APIv3 key, which encrypts the
//! notifications (`notify`), and publishes what an SDK is configured with (`published_keys`, at
//! `GET /mock/wechat/keys`) and signs a request for a tool that cannot
//! (`sign_request`, at `POST /mock/wechat/sign`).

use serde::Serialize;
use utoipa::ToSchema;

use crate::clock::SharedClock;
use crate::domain::rsa2;
use crate::domain::wechatpay_crypto::{ApiV3Key, SensitiveFailure, open_sensitive};
use crate::domain::wechatpay_sign::{AnswerSignature, Authorization, Request, SCHEMA, SignFailure};
use crate::providers::wechat::pay_nonce;
use crate::settings::{MockWeChatPayKeys, MockWeChatSettings};

/// What to configure a WeChat Pay v3 SDK with to talk to the mock.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "mchid": "1900000109", "appid": "wx8a3f5c7e2b9d1046",
    "merchant_serial_no": "19EFC2E8E56C4A6A1B8BB48A28E86726824D6608",
    "merchant_private_key": "-----BEGIN PRIVATE KEY-----\nMIIEvQ…\n-----END PRIVATE KEY-----\n",
    "merchant_public_key": "-----BEGIN PUBLIC KEY-----\nMIIBIj…\n-----END PUBLIC KEY-----\n",
    "platform_public_key_id": "PUB_KEY_ID_0119000000012026030100000000000001",
    "platform_public_key": "-----BEGIN PUBLIC KEY-----\nMIIBIj…\n-----END PUBLIC KEY-----\n",
    "signature_type": "WECHATPAY2-SHA256-RSA2048", "apiv3_key": "WalletgateSimPublishedApiV3Key01",
    "published_test_keys": true
}))]
pub struct PublishedPayKeys {
    /// The merchant id (商户号).
    #[schema(example = "1900000109")]
    pub mchid: String,
    /// The app bound to the merchant (`appid` of transfer bills).
    #[schema(example = "wx8a3f5c7e2b9d1046")]
    pub appid: String,
    /// The serial of the merchant's API certificate (`serial_no` of `Authorization`).
    #[schema(example = "19EFC2E8E56C4A6A1B8BB48A28E86726824D6608")]
    pub merchant_serial_no: String,
    /// The merchant's private key, PKCS#8 PEM, as `apiclient_key.pem`: SDKs sign requests with it.
    pub merchant_private_key: String,
    /// The merchant's public key, registered with the mock (it verifies requests).
    pub merchant_public_key: String,
    /// WeChat Pay's public key id, what answers name in `Wechatpay-Serial`.
    #[schema(example = "PUB_KEY_ID_0119000000012026030100000000000001")]
    pub platform_public_key_id: String,
    /// WeChat Pay's public key, SPKI PEM, as `pub_key.pem`: SDKs verify answers with it.
    pub platform_public_key: String,
    /// Always `WECHATPAY2-SHA256-RSA2048`.
    pub signature_type: String,
    /// The merchant's APIv3 key (32 characters): SDKs decrypt the
    /// notifications sent to a bill's `notify_url` with it (`apiv3_key`).
    #[schema(example = "WalletgateSimPublishedApiV3Key01")]
    pub apiv3_key: String,
    /// Whether these are the published test keys of `config/sim-keys/`
    /// (anyone can sign with them; production refuses them).
    pub published_test_keys: bool,
}

/// The mock WeChat Pay's keys and wall clock.
#[derive(Debug)]
pub struct MockPaySigning {
    keys: MockWeChatPayKeys,
    appid: String,
    wall_clock: SharedClock,
}

impl MockPaySigning {
    /// From the settings (checked by them already; a problem here is reported the same way).
    pub fn new(settings: &MockWeChatSettings, wall_clock: SharedClock) -> Result<MockPaySigning, String> {
        Ok(MockPaySigning { keys: settings.pay.keys()?, appid: settings.app_id.clone(), wall_clock })
    }

    /// Checks a request's `Authorization` (`None`: missing) now.
    pub fn verify(&self, authorization: Option<&str>, request: Request<'_>) -> Result<(), SignFailure> {
        self.keys.merchant.verify(authorization, request, self.wall_clock.now().timestamp())
    }

    /// The signature headers of an answer with `body`, made now with a fresh nonce.
    pub fn sign_answer(&self, body: &[u8]) -> AnswerSignature {
        self.keys.platform.sign_answer(body, self.wall_clock.now().timestamp(), &pay_nonce())
    }

    /// The `Authorization` the registered merchant would send with `request` now.
    pub fn sign_request(&self, request: Request<'_>) -> Authorization {
        self.keys.merchant_private.authorize(request, self.wall_clock.now().timestamp(), &pay_nonce())
    }

    /// A request's sensitive field (e.g. a transfer bill's `user_name`)
    /// opened with the platform's private key, the request's
    /// `Wechatpay-Serial` (`serial`) naming it.
    pub fn open_sensitive(&self, serial: Option<&str>, sealed: &str) -> Result<String, SensitiveFailure> {
        open_sensitive(&self.keys.platform, serial, sealed)
    }

    /// Whether `serial` (a request's `Wechatpay-Serial`) names the platform key.
    pub fn is_platform_serial(&self, serial: &str) -> bool {
        serial.trim() == self.keys.platform.key_id
    }

    /// The registered merchant's id.
    pub fn mchid(&self) -> &str {
        &self.keys.merchant.mchid
    }

    /// The registered merchant's APIv3 key, which encrypts notifications.
    pub fn apiv3_key(&self) -> &ApiV3Key {
        &self.keys.apiv3
    }

    pub fn published_keys(&self) -> PublishedPayKeys {
        let platform_public = self.keys.platform.private_key.to_public_key();
        PublishedPayKeys {
            mchid: self.keys.merchant.mchid.clone(),
            appid: self.appid.clone(),
            merchant_serial_no: self.keys.merchant.serial_no.clone(),
            merchant_private_key: rsa2::pkcs8_pem(&self.keys.merchant_private.private_key),
            merchant_public_key: rsa2::public_pem(&self.keys.merchant.public_key),
            platform_public_key_id: self.keys.platform.key_id.clone(),
            platform_public_key: rsa2::public_pem(&platform_public),
            signature_type: SCHEMA.to_owned(),
            apiv3_key: self.keys.apiv3.text(),
            published_test_keys: rsa2::is_published_test_key(&self.keys.merchant.public_key)
                || rsa2::is_published_test_key(&platform_public)
                || self.keys.apiv3.is_published(),
        }
    }
}
