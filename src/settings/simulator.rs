//! `[simulator]`: the simulator profile, which every mock and simulator
//! control hangs on, and the checks that keep a production deployment free
//! of them. Off, no `/mock/*` or `/v1/sim/*` route is served and nothing
//! in-process uses a mock (no mock WeChat, no SMS outbox); the production
//! environment refuses to start with it, or the mock WeChat, on. Without the
//! mock WeChat the gateway needs a real one, named in full (no fallback to
//! the own `/mock/wechat`, which is not there); payouts go only to a
//! `wechat.pay_base_url` named in full, else nowhere.

use secrecy::ExposeSecret;
use serde::Deserialize;

use super::{Settings, WeChatClientKind};

/// The mock's app, as config/default.toml ships it: a real WeChat never knows it.
const MOCK_APP_ID: &str = "wx8a3f5c7e2b9d1046";
const MOCK_APP_SECRET: &str = "walletgate-mock-wechat-app-secret-0001";
/// Beyond these, the journal would cost more memory than a simulator's debugging is worth.
pub const JOURNAL_KEEP_MAX: usize = 100_000;
pub const JOURNAL_BODY_BYTES_MAX: usize = 65_536;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimulatorSettings {
    /// Serves `/mock/*` and `/v1/sim/*`; needed by `mock_wechat.enabled`.
    pub enabled: bool,
    /// Calls to the mock providers the request journal keeps, newest; 0: none recorded.
    pub journal_keep: usize,
    /// Of each request and response body, the journal keeps this many bytes.
    pub journal_body_bytes_max: usize,
}

/// Whether `text` is an absolute http(s) URL.
fn is_http_url(text: &str) -> bool {
    url::Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
}

/// The profile's problems, one line each.
pub(super) fn check(settings: &Settings, problems: &mut Vec<String>) {
    let simulator = &settings.simulator;
    let production = settings.environment == "production";
    if production && simulator.enabled {
        problems.push(
            "simulator.enabled must be false in production: the simulator serves /mock/* (the SMS outbox with \
             its codes among them) and /v1/sim/* to anyone"
                .into(),
        );
    }
    if production && settings.mock_wechat.enabled {
        problems.push("mock_wechat.enabled must be false in production: payouts and bindings would be mocked".into());
    }
    if settings.mock_wechat.enabled && !simulator.enabled {
        problems.push("mock_wechat.enabled needs simulator.enabled = true".into());
    }
    if simulator.journal_keep > JOURNAL_KEEP_MAX {
        problems.push(format!("simulator.journal_keep must be at most {JOURNAL_KEEP_MAX}"));
    }
    if !(1..=JOURNAL_BODY_BYTES_MAX).contains(&simulator.journal_body_bytes_max) {
        problems.push(format!("simulator.journal_body_bytes_max must be between 1 and {JOURNAL_BODY_BYTES_MAX}"));
    }
    let wechat = &settings.wechat;
    if !wechat.pay_base_url.is_empty() && !is_http_url(&wechat.pay_base_url) {
        problems.push(format!("wechat.pay_base_url {:?} must be an http(s) URL or empty", wechat.pay_base_url));
    }
    if !settings.mock_wechat.enabled {
        // Empty would mean this server's own /mock/wechat, which is not served.
        let mut needed = vec![("wechat.authorize_base_url", &wechat.authorize_base_url)];
        if wechat.client == WeChatClientKind::Http {
            needed.push(("wechat.api_base_url", &wechat.api_base_url));
        }
        for (name, url) in needed.into_iter().filter(|(_, url)| !is_http_url(url)) {
            problems.push(format!(
                "{name} {url:?} must be an http(s) URL while mock_wechat.enabled is false (there is no \
                 built-in mock to fall back to)"
            ));
        }
    }
    if production {
        if wechat.public_base_url.trim().is_empty() {
            problems.push(
                "wechat.public_base_url must be set in production: WeChat sends browsers back to it after consent"
                    .into(),
            );
        }
        if wechat.app_id == MOCK_APP_ID {
            problems.push("wechat.app_id still has the mock's value; set it from the environment".into());
        }
        if wechat.app_secret.expose_secret() == MOCK_APP_SECRET {
            problems.push("wechat.app_secret still has the mock's value; set it from the environment".into());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::settings::{Overrides, SettingsError};

    const SECRETS: &str = r#"
[auth]
jwt_secret = "a production jwt secret of 32+ bytes, from env"
pin_pepper = "a production pin pepper of 32+ bytes, from env"
fingerprint_secret = "a production fingerprint key, 32+ bytes, from env"
[webhooks]
secret = "a production webhook secret, 32+ bytes, from env"
[wechat]
app_id = "wx0123456789abcdef"
app_secret = "0123456789abcdef0123456789abcdef"
public_base_url = "https://wallet.example.com"
"#;

    /// A settings folder: `default.toml` holding `secrets` (what the
    /// environment would set) and the shipped `production.toml`.
    fn folder(name: &str, secrets: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("walletgate-simulator-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("default.toml"), secrets).unwrap();
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/production.toml");
        let production = std::fs::read_to_string(shipped).unwrap();
        std::fs::write(dir.join("production.toml"), production).unwrap();
        dir
    }

    fn load(environment: &str, dir: PathBuf) -> Result<Settings, Vec<String>> {
        let overrides =
            Overrides { environment: Some(environment.into()), config_dir: Some(dir), ..Overrides::default() };
        Settings::load(&overrides).map_err(|error| match error {
            SettingsError::Invalid(problems) => problems,
            SettingsError::Load(error) => vec![error.to_string()],
        })
    }

    fn problems_of(settings: &Settings) -> Vec<String> {
        match settings.validate() {
            Err(SettingsError::Invalid(problems)) => problems,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn the_shipped_production_settings_start_with_their_secrets_and_without_a_simulator() {
        let settings = load("production", folder("ok", SECRETS)).unwrap();
        assert!(!settings.simulator.enabled && !settings.mock_wechat.enabled);
        assert_eq!(settings.wechat.client, WeChatClientKind::Http);
        assert_eq!(settings.wechat.pay_base_url, "", "no payouts until the merchant's own keys are set");
    }

    #[test]
    fn production_refuses_the_simulator_and_the_mock_with_one_line_each() {
        let mut settings = load("production", folder("on", SECRETS)).unwrap();
        settings.simulator.enabled = true;
        settings.mock_wechat.enabled = true;
        let problems = problems_of(&settings);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].starts_with("simulator.enabled must be false in production"), "{problems:?}");
        assert!(problems[1].starts_with("mock_wechat.enabled must be false in production"), "{problems:?}");
    }

    #[test]
    fn production_needs_the_real_apps_credentials_and_its_public_address() {
        let problems = load("production", folder("mock-app", "")).unwrap_err();
        for expected in ["wechat.public_base_url must be set", "wechat.app_id still has", "wechat.app_secret still has"]
        {
            assert!(problems.iter().any(|problem| problem.starts_with(expected)), "{expected}: {problems:?}");
        }
    }

    #[test]
    fn without_the_mock_every_wechat_address_must_be_named() {
        let mut settings = load("production", folder("no-urls", SECRETS)).unwrap();
        settings.wechat.api_base_url = String::new();
        settings.wechat.authorize_base_url = "api.weixin.qq.com".into();
        settings.wechat.pay_base_url = "ftp://api.mch.weixin.qq.com".into();
        let problems = problems_of(&settings);
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("wechat.pay_base_url \"ftp://api.mch.weixin.qq.com\" must be"), "{problems:?}");
        assert!(problems[1].starts_with("wechat.authorize_base_url \"api.weixin.qq.com\" must be an http(s) URL"));
        assert!(problems[2].starts_with("wechat.api_base_url \"\" must be an http(s) URL"), "{problems:?}");
        settings.wechat.pay_base_url = String::new();
        settings.wechat.api_base_url = "https://api.weixin.qq.com".into();
        settings.wechat.authorize_base_url = "https://open.weixin.qq.com".into();
        assert!(settings.validate().is_ok(), "no payouts without the mock and an address: allowed");
        settings.wechat.pay_base_url = "https://api.mch.weixin.qq.com".into();
        let problems = problems_of(&settings);
        assert_eq!(problems.len(), 3, "paying needs the merchant's own keys, not the published ones: {problems:?}");
        assert!(problems[2].starts_with("wechat.pay.apiv3_key"), "the APIv3 key too: {problems:?}");
        assert!(problems.iter().all(|problem| problem.starts_with("wechat.pay.")), "{problems:?}");
    }

    #[test]
    fn the_mock_needs_the_simulator_and_the_journal_stays_bounded() {
        let mut settings = load("local", folder("local", "")).unwrap();
        settings.simulator.enabled = false;
        settings.simulator.journal_keep = JOURNAL_KEEP_MAX + 1;
        settings.simulator.journal_body_bytes_max = 0;
        let problems = problems_of(&settings);
        assert_eq!(problems.len(), 4, "{problems:?}");
        assert!(problems[0].starts_with("mock_wechat.enabled needs simulator.enabled"), "{problems:?}");
        assert!(problems[1].starts_with("simulator.journal_keep"), "{problems:?}");
        assert!(problems[2].starts_with("simulator.journal_body_bytes_max"), "{problems:?}");
        assert!(problems[3].starts_with("mock_alipay.enabled needs simulator.enabled"), "{problems:?}");
        settings.mock_wechat.enabled = false;
        settings.mock_alipay.enabled = false;
        settings.wechat.client = WeChatClientKind::Http;
        settings.simulator.journal_keep = 0;
        settings.simulator.journal_body_bytes_max = 1;
        let problems = problems_of(&settings);
        assert!(problems.iter().all(|problem| problem.starts_with("wechat.")), "only the addresses: {problems:?}");
    }
}
