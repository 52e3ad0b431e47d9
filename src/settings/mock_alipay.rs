//! `[mock_alipay]`: the built-in mock Alipay open platform under
//! `/mock/alipay` (docs/alipay.md): the one app registered with it, the
//! keys it verifies and signs with, the OAuth lifetimes, the merchant's
//! balance and the transfer limits. Key files left empty mean the
//! published test keys (`config/sim-keys/`, compiled in), which the
//! production environment refuses, like the mock itself.

use std::path::Path;

use serde::Deserialize;

use crate::domain::money::Money;
use crate::domain::rsa2::{self, test_keys};

/// Which id of a user the mock's OAuth answers carry, as an Alipay app is configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlipayIdType {
    /// Apps created since 2024: `open_id`, one per user and app.
    OpenId,
    /// Older apps: `user_id`, the user's `2088…` number.
    UserId,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockAlipaySettings {
    /// Serve `/mock/alipay`; needs `simulator.enabled`.
    pub enabled: bool,
    /// The one app registered with the mock.
    pub app_id: String,
    /// PEM files: the app's public key (verifies requests), the app's
    /// private key (only handed out at `/mock/alipay/keys`) and the
    /// platform's private key (signs answers). Empty: the published test key.
    pub app_public_key_file: String,
    pub app_private_key_file: String,
    pub platform_private_key_file: String,
    /// Hosts a `redirect_uri` may point at (host only).
    pub callback_domains: Vec<String>,
    pub id_type: AlipayIdType,
    pub auth_code_ttl_secs: u64,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    /// Yuan strings (`"1000000.00"`): what the merchant can pay out, and its limits.
    pub merchant_balance: String,
    pub transfer_amount_max: String,
    pub merchant_day_max: String,
    pub merchant_month_max: String,
    pub unverified_payee_day_max: String,
}

/// The key texts the mock works with, read from the files or built in.
#[derive(Debug, Clone)]
pub struct MockAlipayKeyTexts {
    pub app_public: String,
    pub app_private: String,
    pub platform_private: String,
}

/// The amounts of the settings, read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MockAlipayAmounts {
    pub merchant_balance: Money,
    pub transfer_amount_max: Money,
    pub merchant_day_max: Money,
    pub merchant_month_max: Money,
    pub unverified_payee_day_max: Money,
}

impl MockAlipaySettings {
    /// The three key texts: each file's content, or the published test key.
    pub fn key_texts(&self) -> Result<MockAlipayKeyTexts, String> {
        let read = |name: &str, path: &str, built_in: &str| -> Result<String, String> {
            if path.is_empty() {
                return Ok(built_in.to_owned());
            }
            std::fs::read_to_string(Path::new(path)).map_err(|e| format!("mock_alipay.{name} {path:?}: {e}"))
        };
        Ok(MockAlipayKeyTexts {
            app_public: read("app_public_key_file", &self.app_public_key_file, test_keys::APP_PUBLIC_KEY_PEM)?,
            app_private: read("app_private_key_file", &self.app_private_key_file, test_keys::APP_PRIVATE_KEY_PEM)?,
            platform_private: read(
                "platform_private_key_file",
                &self.platform_private_key_file,
                test_keys::PLATFORM_PRIVATE_KEY_PEM,
            )?,
        })
    }

    /// The amounts, each a non-negative yuan string.
    pub fn amounts(&self) -> Result<MockAlipayAmounts, String> {
        let read = |name: &str, text: &str| {
            text.parse::<Money>().ok().filter(|money| !money.is_negative()).ok_or_else(|| {
                format!("mock_alipay.{name} {text:?} must be a non-negative yuan amount like \"1000.00\"")
            })
        };
        Ok(MockAlipayAmounts {
            merchant_balance: read("merchant_balance", &self.merchant_balance)?,
            transfer_amount_max: read("transfer_amount_max", &self.transfer_amount_max)?,
            merchant_day_max: read("merchant_day_max", &self.merchant_day_max)?,
            merchant_month_max: read("merchant_month_max", &self.merchant_month_max)?,
            unverified_payee_day_max: read("unverified_payee_day_max", &self.unverified_payee_day_max)?,
        })
    }

    /// The section's problems, one line each; in production the mock is
    /// refused, and so is any published test key a key file holds.
    pub(super) fn check(&self, production: bool, simulator: bool, problems: &mut Vec<String>) {
        if production && self.enabled {
            problems.push("mock_alipay.enabled must be false in production: Alipay would be mocked".into());
        }
        if self.enabled && !simulator {
            problems.push("mock_alipay.enabled needs simulator.enabled = true".into());
        }
        if production {
            for (name, path) in [
                ("app_public_key_file", &self.app_public_key_file),
                ("app_private_key_file", &self.app_private_key_file),
                ("platform_private_key_file", &self.platform_private_key_file),
            ] {
                refuse_published_key(&format!("mock_alipay.{name}"), path, problems);
            }
        }
        if !self.enabled {
            return;
        }
        if self.app_id.len() != 16 || !self.app_id.bytes().all(|b| b.is_ascii_digit()) {
            problems.push(format!("mock_alipay.app_id {:?} must be 16 digits, like a real app id", self.app_id));
        }
        if self.auth_code_ttl_secs == 0 || self.access_token_ttl_secs == 0 || self.refresh_token_ttl_secs == 0 {
            problems.push("mock_alipay.auth_code_ttl_secs and the token lifetimes must be positive".into());
        }
        if let Err(problem) = self.amounts() {
            problems.push(problem);
        }
        match self.key_texts() {
            Err(problem) => problems.push(problem),
            Ok(texts) => {
                if let Err(error) = rsa2::public_key(&texts.app_public) {
                    problems.push(format!("mock_alipay.app_public_key_file: {error}"));
                }
                for (name, text) in [
                    ("app_private_key_file", &texts.app_private),
                    ("platform_private_key_file", &texts.platform_private),
                ] {
                    if let Err(error) = rsa2::private_key(text) {
                        problems.push(format!("mock_alipay.{name}: {error}"));
                    }
                }
            }
        }
    }
}

/// Pushes a problem when the key file at `path` holds one of the published
/// test keys (either half, any shape): anyone could sign with it. For every
/// setting that names an Alipay key in production.
pub fn refuse_published_key(name: &str, path: &str, problems: &mut Vec<String>) {
    if path.is_empty() {
        return;
    }
    match std::fs::read_to_string(path) {
        Ok(text) if rsa2::is_published_test_key_text(&text) => problems.push(format!(
            "{name} {path:?} holds a published test key (config/sim-keys); use the app's own key in production"
        )),
        Ok(_) => {}
        Err(error) => problems.push(format!("{name} {path:?}: {error}")),
    }
}

#[cfg(test)]
impl MockAlipaySettings {
    /// The shipped values, for the crate's unit tests.
    pub fn sample() -> MockAlipaySettings {
        MockAlipaySettings {
            enabled: true,
            app_id: "2021004100000001".into(),
            app_public_key_file: String::new(),
            app_private_key_file: String::new(),
            platform_private_key_file: String::new(),
            callback_domains: vec!["127.0.0.1".into()],
            id_type: AlipayIdType::OpenId,
            auth_code_ttl_secs: 300,
            access_token_ttl_secs: 1_296_000,
            refresh_token_ttl_secs: 2_592_000,
            merchant_balance: "1000000.00".into(),
            transfer_amount_max: "50000.00".into(),
            merchant_day_max: "2000000.00".into(),
            merchant_month_max: "31000000.00".into(),
            unverified_payee_day_max: "1000.00".into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> MockAlipaySettings {
        MockAlipaySettings::sample()
    }

    fn problems(settings: &MockAlipaySettings, production: bool) -> Vec<String> {
        let mut problems = Vec::new();
        settings.check(production, true, &mut problems);
        problems
    }

    #[test]
    fn the_shipped_shape_passes_and_bad_values_are_named() {
        assert_eq!(problems(&settings(), false), Vec::<String>::new());
        let mut bad = settings();
        bad.app_id = "wx123".into();
        bad.merchant_balance = "-1.00".into();
        bad.access_token_ttl_secs = 0;
        bad.platform_private_key_file = "/nonexistent/key.pem".into();
        let found = problems(&bad, false);
        assert_eq!(found.len(), 4, "{found:?}");
        assert!(found[0].starts_with("mock_alipay.app_id"), "{found:?}");
        assert!(found[2].starts_with("mock_alipay.merchant_balance"), "{found:?}");
        assert!(found[3].starts_with("mock_alipay.platform_private_key_file"), "{found:?}");
    }

    #[test]
    fn production_refuses_the_mock_and_any_published_test_key_file() {
        let dir = std::env::temp_dir().join(format!("walletgate-alipay-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let published = dir.join("published.pem");
        std::fs::write(&published, rsa2::bare_base64(test_keys::APP_PRIVATE_KEY_PEM)).unwrap();
        let mut production = settings();
        production.enabled = false;
        production.app_public_key_file = published.display().to_string();
        let found = problems(&production, true);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(found[0].contains("holds a published test key"), "{found:?}");
        production.enabled = true;
        assert!(problems(&production, true)[0].starts_with("mock_alipay.enabled must be false in production"));
    }
}
