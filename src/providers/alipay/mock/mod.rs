//! The built-in mock Alipay open platform served under `/mock/alipay`: one
//! registered app, its mock users and their wallets, the OAuth consent and
//! tokens, user info, and transfers to Alipay accounts with their queries
//! (reference §B), behind a gateway that checks the common parameters and
//! the app's RSA2 signature and signs every answer it can with the
//! platform's key (docs/alipay.md).
//!
//! The HTTP handlers (`routes::mock_alipay`) call the methods here. Every
//! lifetime (codes, tokens) and every day or month of a limit is decided
//! with the business clock; the store's TTL only reclaims space a day
//! after a record has expired, so a late caller is told "expired" rather
//! than "invalid". State lives in the store's documents (users, orders,
//! the merchant's balance) and short-lived values (codes and tokens), so
//! `POST /v1/sim/reset` wipes it with the rest.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};

use super::protocol::{ERROR_NODE, Failure};
use crate::clock::SharedClock;
use crate::domain::money::Money;
use crate::domain::rsa2::{self, PrivateKey, PublicKey};
use crate::providers::sim::RuleBook;
use crate::providers::wechat::mock::ReceivedTotals;
use crate::settings::{AlipayIdType, MockAlipayAmounts, MockAlipaySettings};
use crate::store::prelude::*;
use crate::store::{CommitOutcome, StoreError, Versioned};

mod builtin;
mod gateway;
mod oauth;
mod transfers;
mod users;

pub use builtin::*;
pub use gateway::*;
pub use oauth::*;
pub use transfers::*;
pub use users::*;

/// How long after its logical expiry the store keeps a code or token.
const STORE_GRACE_SECS: u64 = 86_400;
const ALPHANUMERIC: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// The keys the mock works with.
#[derive(Debug)]
struct Keys {
    /// Verifies the app's requests.
    app_public: PublicKey,
    /// Handed out at `/mock/alipay/keys` (the mock never signs with it).
    app_private: PrivateKey,
    /// Signs the mock's answers.
    platform_private: PrivateKey,
}

/// The keys an integrator configures an SDK with, as `GET /mock/alipay/keys` shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[schema(example = json!({
    "app_id": "2021004100000001", "sign_type": "RSA2", "published_test_keys": true,
    "app_private_key_pkcs1": "-----BEGIN RSA PRIVATE KEY-----\nMIIEow…\n-----END RSA PRIVATE KEY-----\n",
    "app_private_key_pkcs8": "-----BEGIN PRIVATE KEY-----\nMIIEvA…\n-----END PRIVATE KEY-----\n",
    "app_public_key": "-----BEGIN PUBLIC KEY-----\nMIIBIj…\n-----END PUBLIC KEY-----\n",
    "alipay_public_key": "-----BEGIN PUBLIC KEY-----\nMIIBIj…\n-----END PUBLIC KEY-----\n"
}))]
pub struct PublishedKeys {
    /// The app id to configure.
    pub app_id: String,
    /// Always `RSA2`.
    pub sign_type: String,
    /// Whether these are the published test keys of `config/sim-keys/`
    /// (anyone can sign with them; production refuses them).
    pub published_test_keys: bool,
    /// The app's private key, PKCS#1 PEM (Python, PHP and Go SDKs).
    pub app_private_key_pkcs1: String,
    /// The same key, PKCS#8 PEM (Java and Node SDKs).
    pub app_private_key_pkcs8: String,
    /// The app's public key, registered with the mock (it verifies requests).
    pub app_public_key: String,
    /// The platform's public key: SDKs verify the mock's answers with it
    /// (`alipay_public_key` in every SDK's configuration).
    pub alipay_public_key: String,
}

/// The mock platform: one registered app, its users, orders, codes and tokens.
#[derive(Debug)]
pub struct MockAlipay {
    store: SharedStore,
    clock: SharedClock,
    settings: MockAlipaySettings,
    amounts: MockAlipayAmounts,
    keys: Keys,
    /// The simulator's rules (shared with the other mocks through the
    /// store), consulted by every transfer.
    rules: RuleBook,
}

impl MockAlipay {
    /// The mock with the settings' keys and amounts (checked by the
    /// settings already; a problem here is reported the same way).
    pub fn new(store: SharedStore, clock: SharedClock, settings: MockAlipaySettings) -> Result<MockAlipay, String> {
        let texts = settings.key_texts()?;
        let key_problem = |name: &str, error: rsa2::KeyError| format!("mock_alipay.{name}: {error}");
        let keys = Keys {
            app_public: rsa2::public_key(&texts.app_public).map_err(|e| key_problem("app_public_key_file", e))?,
            app_private: rsa2::private_key(&texts.app_private).map_err(|e| key_problem("app_private_key_file", e))?,
            platform_private: rsa2::private_key(&texts.platform_private)
                .map_err(|e| key_problem("platform_private_key_file", e))?,
        };
        let amounts = settings.amounts()?;
        // The magic amounts are WeChat Pay's; Alipay transfers answer to rules only.
        let rules = RuleBook::new(store.clone(), clock.clone(), false);
        Ok(MockAlipay { store, clock, settings, amounts, keys, rules })
    }

    /// The app id registered with the mock.
    pub fn app_id(&self) -> &str {
        &self.settings.app_id
    }

    /// The keys an SDK needs to talk to the mock.
    pub fn published_keys(&self) -> PublishedKeys {
        let alipay_public = self.keys.platform_private.to_public_key();
        PublishedKeys {
            app_id: self.settings.app_id.clone(),
            sign_type: "RSA2".to_owned(),
            published_test_keys: rsa2::is_published_test_key(&self.keys.app_public)
                || rsa2::is_published_test_key(&alipay_public),
            app_private_key_pkcs1: rsa2::pkcs1_pem(&self.keys.app_private),
            app_private_key_pkcs8: rsa2::pkcs8_pem(&self.keys.app_private),
            app_public_key: rsa2::public_pem(&self.keys.app_public),
            alipay_public_key: rsa2::public_pem(&alipay_public),
        }
    }

    /// An answer signed with the platform's key over `response`'s exact text.
    fn signed(&self, node: &str, response: &str) -> String {
        rsa2::signed_answer(node, response, &self.keys.platform_private)
    }

    /// A failure the mock answers in the method's node, signed.
    fn signed_failure(&self, node: &str, failure: &Failure) -> String {
        self.signed(node, &failure.to_json())
    }

    /// A failure in `error_response`, signed (the token call answers so).
    fn signed_error(&self, failure: &Failure) -> String {
        self.signed(ERROR_NODE, &failure.to_json())
    }

    fn id_type(&self) -> AlipayIdType {
        self.settings.id_type
    }

    /// Stores `value` until `live_secs` from now, plus the grace period.
    async fn put<T: Serialize>(&self, key: &str, value: &T, live_secs: u64) -> Result<(), Failure> {
        let ttl = Duration::from_secs(live_secs.saturating_add(STORE_GRACE_SECS));
        self.store.put_ephemeral_as(key, value, ttl).await.map_err(unavailable)
    }
}

/// The store failed: the platform answers 20000 (result unknown); the cause is logged.
fn unavailable(error: StoreError) -> Failure {
    tracing::warn!(%error, "mock Alipay store failure");
    Failure::unavailable()
}

/// `now + secs`, saturating instead of overflowing on absurd settings.
fn after_secs(now: DateTime<Utc>, secs: u64) -> DateTime<Utc> {
    let secs = i64::try_from(secs).unwrap_or(i64::MAX);
    chrono::Duration::try_seconds(secs)
        .and_then(|duration| now.checked_add_signed(duration))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

fn random_chars(alphabet: &[u8], chars: usize) -> String {
    let mut rng = rand::rng();
    (0..chars).map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())])).collect()
}

fn random_digits(digits: usize) -> String {
    random_chars(b"0123456789", digits)
}

fn random_alphanumeric(chars: usize) -> String {
    random_chars(ALPHANUMERIC, chars)
}
