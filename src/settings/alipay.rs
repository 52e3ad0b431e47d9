//! `[alipay]`: how walletgate reaches Alipay's open platform for Alipay
//! destinations (binding and payouts): in-process with the built-in mock or
//! over HTTP, with the same signed protocol either way (docs/alipay.md).
//! Key files left empty mean the published test keys of
//! `config/sim-keys/`, which the production environment refuses.

use std::path::Path;

use serde::Deserialize;

use super::refuse_published_key;
use crate::domain::rsa2::{self, PrivateKey, PublicKey, test_keys};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlipayClientKind {
    /// Calls the built-in mock's gateway in-process (signed as over HTTP).
    Builtin,
    /// Real HTTP requests to `gateway_url`.
    Http,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlipaySettings {
    pub client: AlipayClientKind,
    /// The gateway's full URL for `client = "http"`; empty: this server's own mock.
    pub gateway_url: String,
    /// The consent page (`publicAppAuthorize.htm`) handed to apps; empty: this server's own mock.
    pub authorize_url: String,
    pub app_id: String,
    /// PEM: the app's private key (signs requests) and Alipay's public key
    /// (verifies answers). Empty: the published test keys.
    pub app_private_key_file: String,
    pub alipay_public_key_file: String,
    /// Shown in the payee's Alipay bill (`order_title`).
    pub order_title: String,
}

impl AlipaySettings {
    /// The app's private key and Alipay's public key.
    pub fn keys(&self) -> Result<(PrivateKey, PublicKey), String> {
        let read = |name: &str, path: &str, built_in: &str| -> Result<String, String> {
            if path.is_empty() {
                return Ok(built_in.to_owned());
            }
            std::fs::read_to_string(Path::new(path)).map_err(|e| format!("alipay.{name} {path:?}: {e}"))
        };
        let app = read("app_private_key_file", &self.app_private_key_file, test_keys::APP_PRIVATE_KEY_PEM)?;
        let alipay = read("alipay_public_key_file", &self.alipay_public_key_file, test_keys::PLATFORM_PUBLIC_KEY_PEM)?;
        let app = rsa2::private_key(&app).map_err(|e| format!("alipay.app_private_key_file: {e}"))?;
        let alipay = rsa2::public_key(&alipay).map_err(|e| format!("alipay.alipay_public_key_file: {e}"))?;
        Ok((app, alipay))
    }

    /// The section's problems, one line each. In production a real gateway
    /// needs the app's own keys: an empty key file (the published test
    /// key) or one holding a published test key is refused.
    pub(super) fn check(&self, production: bool, problems: &mut Vec<String>) {
        if self.app_id.len() != 16 || !self.app_id.bytes().all(|b| b.is_ascii_digit()) {
            problems.push(format!("alipay.app_id {:?} must be 16 digits, like a real app id", self.app_id));
        }
        if self.order_title.is_empty() || self.order_title.chars().count() > 128 {
            problems.push("alipay.order_title must be 1 to 128 characters".into());
        }
        if let Err(problem) = self.keys() {
            problems.push(problem);
        }
        if production {
            for (name, path) in [
                ("app_private_key_file", &self.app_private_key_file),
                ("alipay_public_key_file", &self.alipay_public_key_file),
            ] {
                if path.is_empty() && !self.gateway_url.is_empty() {
                    problems.push(format!("alipay.{name} must name the app's own key file in production"));
                }
                refuse_published_key(&format!("alipay.{name}"), path, problems);
            }
        }
    }
}
