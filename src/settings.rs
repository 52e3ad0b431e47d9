//! Typed settings, layered: the compiled-in `config/default.toml` → that file
//! on disk → `config/<environment>.toml` → `WALLETGATE__SECTION__KEY`
//! environment variables → command-line flags. Checked after loading, so a bad
//! value stops the service at startup rather than at the first request.
//! Secrets are `SecretString`s: their `Debug` prints `[REDACTED]`.

use std::path::PathBuf;

use chrono_tz::Tz;
use config::{Config, Environment, File, FileFormat};
use rust_decimal::Decimal;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::domain::fees::{DestinationFees, FeePolicy};
use crate::domain::limits::LevelLimits;
use crate::domain::money::Money;
use crate::domain::withdrawal::ReviewPolicy;
use crate::domain::withdrawal_policy::{LevelRules, PAYOUT_AMOUNT_MIN_FEN, WithdrawalPolicy};

mod alipay;
mod mock_alipay;
mod sim_clock;
mod simulator;
mod transfers;
mod wechat_pay;
pub use alipay::{AlipayClientKind, AlipaySettings};
pub use mock_alipay::{AlipayIdType, MockAlipayAmounts, MockAlipayKeyTexts, MockAlipaySettings, refuse_published_key};
pub use sim_clock::SimClockSettings;
pub use simulator::SimulatorSettings;
pub use transfers::TransferSettings;
pub use wechat_pay::{
    MockWeChatPayKeys, MockWeChatPaySettings, NOTIFY_URL_NONE, WeChatPayKeys, WeChatPaySettings, is_notify_url,
};

const DEFAULT_TOML: &str = include_str!("../config/default.toml");
const DEV_JWT_SECRET: &str = "walletgate-local-development-jwt-secret-change-me";
const DEV_PIN_PEPPER: &str = "walletgate-local-development-pin-pepper-change-me";
const DEV_FINGERPRINT_SECRET: &str = "walletgate-local-development-fingerprint-secret-change-me";
const DEV_WEBHOOK_SECRET: &str = "walletgate-local-development-webhook-secret";
const SECRET_BYTES_MIN: usize = 32;
const LOCK_SECS_MAX: u64 = 366 * 24 * 3600;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Which `config/<environment>.toml` was layered in; not read from files.
    #[serde(skip, default = "default_environment")]
    pub environment: String,
    /// Deprecated settings that were given, each with what replaces it, to
    /// warn of once logging is up; not read from files.
    #[serde(skip)]
    pub deprecated: Vec<String>,
    pub server: ServerSettings,
    pub store: StoreSettings,
    pub auth: AuthSettings,
    pub seed: SeedSettings,
    pub rate_limits: RateLimitSettings,
    pub simulator: SimulatorSettings,
    pub bindings: BindingSettings,
    pub wechat: WeChatSettings,
    pub alipay: AlipaySettings,
    pub mock_wechat: MockWeChatSettings,
    pub mock_alipay: MockAlipaySettings,
    pub sms: SmsSettings,
    pub pin: LockoutSettings,
    pub login_lock: LockoutSettings,
    pub kyc: KycSettings,
    pub withdrawals: WithdrawalSettings,
    pub transfers: TransferSettings,
    pub worker: WorkerSettings,
    pub webhooks: WebhookSettings,
    pub log: LogSettings,
    pub sim_clock: SimClockSettings,
}

/// The background worker that reviews, pays out and notifies.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerSettings {
    /// Off: this instance only serves HTTP (another instance runs the worker).
    pub enabled: bool,
    pub poll_interval_ms: u64,
    /// Most items claimed per step.
    pub batch_size: usize,
    /// Items of one batch worked on at once.
    pub concurrency: usize,
    /// How long a claim is exclusive; a worker that dies mid-way loses it after this.
    pub lease_secs: u64,
    /// Payout attempts (provider unreachable) before the withdrawal is parked for an operator.
    pub payout_attempts_max: u32,
    pub retry_backoff_initial_ms: u64,
    pub retry_backoff_max_ms: u64,
    /// How long (business time) a payout waits on a bill under way before it is parked.
    pub payout_bill_wait_max_secs: u64,
}

/// Outgoing webhooks: every notification POSTed to one URL, signed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Empty: no webhooks.
    pub url: String,
    /// Key of the HMAC-SHA256 signature.
    pub secret: SecretString,
    pub timeout_ms: u64,
    /// Delivery is retried with growing pauses for this long, then given up.
    pub retry_for_secs: u64,
    pub retry_backoff_initial_ms: u64,
    pub retry_backoff_max_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub workers: usize,
    pub shutdown_timeout_secs: u64,
    /// The largest request body: JSON, and the mock providers' forms.
    pub json_body_bytes_max: usize,
    /// From the first byte of a connection to the end of its first request head.
    pub request_head_timeout_secs: u64,
    /// From the end of a request head to the last byte of its body.
    pub request_body_timeout_secs: u64,
    /// How long a connection closed by the server may linger for the client's side.
    pub client_disconnect_timeout_ms: u64,
    /// Open connections at once, over all workers; 0: three quarters of the
    /// process's open-file limit.
    pub connections_max: usize,
    /// Path and query string of a request, in bytes.
    pub uri_bytes_max: usize,
    /// A request's header lines, in bytes.
    pub head_bytes_max: usize,
    /// Which web origins may call the API from a browser.
    pub cors: CorsSettings,
}

/// Cross-origin requests from browsers (a Vite dev server, an Expo web build).
/// Tokens travel in the `Authorization` header, never in cookies, so no
/// origin is ever sent credentials.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorsSettings {
    /// Exact origins (`http://localhost:3000`), or `*` for any; empty: none.
    pub allowed_origins: Vec<String>,
    /// How long a browser may cache a preflight answer.
    pub max_age_secs: usize,
}

/// actix-http refuses, with an empty body, a URL it cannot parse (64 KiB and
/// over) and a head over its 128 KiB read buffer; the limits of our own,
/// which answer in the catalogue, stay below those.
pub const URI_BYTES_MAX_CEILING: usize = 60 * 1024;
pub const HEAD_BYTES_MAX_CEILING: usize = 64 * 1024;

/// A log filter of levels: `info`, or `walletgate=debug,info`. (A bare word
/// that is no level would be taken for a target and silently log nothing.)
fn is_log_filter(text: &str) -> bool {
    const LEVELS: [&str; 6] = ["off", "error", "warn", "info", "debug", "trace"];
    let is_level = |level: &str| LEVELS.contains(&level.to_ascii_lowercase().as_str());
    !text.trim().is_empty()
        && text.split(',').all(|part| match part.trim().rsplit_once('=') {
            Some((target, level)) => !target.is_empty() && !target.contains('=') && is_level(level),
            None => is_level(part.trim()),
        })
        && tracing_subscriber::EnvFilter::try_new(text).is_ok()
}

/// `scheme://host[:port]`, nothing after: what a browser sends as `Origin`.
fn is_web_origin(text: &str) -> bool {
    let Some((scheme, rest)) = text.split_once("://") else { return false };
    let host_port_ok = !rest.is_empty()
        && rest.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
        && !rest.ends_with(':');
    matches!(scheme, "http" | "https") && host_port_ok
}

impl ServerSettings {
    fn check(&self, problems: &mut Vec<String>) {
        if self.request_head_timeout_secs == 0 || self.request_body_timeout_secs == 0 {
            problems.push("server.request_head_timeout_secs and request_body_timeout_secs must be at least 1".into());
        }
        if self.json_body_bytes_max == 0 {
            problems.push("server.json_body_bytes_max must be at least 1".into());
        }
        if !(1..=URI_BYTES_MAX_CEILING).contains(&self.uri_bytes_max) {
            problems.push(format!("server.uri_bytes_max must be between 1 and {URI_BYTES_MAX_CEILING}"));
        }
        if !(1..=HEAD_BYTES_MAX_CEILING).contains(&self.head_bytes_max) {
            problems.push(format!("server.head_bytes_max must be between 1 and {HEAD_BYTES_MAX_CEILING}"));
        }
        for origin in &self.cors.allowed_origins {
            if origin != "*" && !is_web_origin(origin) {
                problems.push(format!(
                    "server.cors.allowed_origins: {origin:?} is not an origin like \"http://localhost:3000\" (scheme, host, optional port, no path) or \"*\""
                ));
            }
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreSettings {
    pub url: String,
    pub key_prefix: String,
    pub command_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub commit_attempts_max: u32,
    /// At startup, how long to keep trying a store that does not answer yet
    /// (a Redis still starting or loading) before giving up.
    pub startup_wait_secs: u64,
    /// Replicas a partition commit must reach (Redis `WAIT`) before it is
    /// answered; 0: none asked, replication stays asynchronous.
    pub wait_replicas: u32,
    /// Longest `WAIT` for those replicas; a commit that reached fewer is
    /// answered as committed, with a warning and a metric (docs/durability.md).
    pub wait_timeout_ms: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub jwt_secret: SecretString,
    pub pin_pepper: SecretString,
    /// Key of the digests that tell requests under one `Idempotency-Key` apart.
    pub fingerprint_secret: SecretString,
    pub issuer: String,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    /// Password hashes (argon2id, 19 MiB each) computed at once; 0: one per core.
    pub password_hashing_concurrency: usize,
    /// Longest wait for a hashing turn before 503 `SERVER_BUSY`.
    pub password_hashing_wait_ms: u64,
    /// Memory of one new password hash, KiB (argon2id's `m`); production
    /// refuses less than 19 456.
    pub password_hash_memory_kib: u32,
    /// Passes over that memory (argon2id's `t`); production refuses fewer than 2.
    pub password_hash_iterations: u32,
}

/// OWASP's minimum cost for argon2id (the argon2 crate's default), which
/// production requires: 19 MiB and two passes.
pub const PASSWORD_HASH_MEMORY_KIB_MIN: u32 = argon2::Params::DEFAULT_M_COST;
pub const PASSWORD_HASH_ITERATIONS_MIN: u32 = argon2::Params::DEFAULT_T_COST;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeedSettings {
    pub demo_accounts: bool,
    /// How often (seconds) to check that the demo accounts still exist and
    /// put back missing ones; 0: only at startup and from `/readyz`.
    pub recheck_secs: u64,
}

/// Binding a wallet (WeChat or Alipay): how long each step may wait.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BindingSettings {
    /// How long a started binding waits for the provider's consent.
    pub start_ttl_secs: u64,
    /// How long a consented binding then waits for its SMS code.
    pub confirm_ttl_secs: u64,
}

/// How the gateway reaches WeChat (the built-in mock, or anything shaped like it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WeChatSettings {
    pub client: WeChatClientKind,
    pub api_base_url: String,
    pub pay_base_url: String,
    pub authorize_base_url: String,
    pub public_base_url: String,
    pub app_id: String,
    pub app_secret: SecretString,
    pub scope: String,
    /// Deprecated: `bindings.start_ttl_secs`, which a value here overrides
    /// (with a warning at start-up).
    #[serde(default)]
    pub binding_start_ttl_secs: Option<u64>,
    /// Deprecated: `bindings.confirm_ttl_secs`, likewise.
    #[serde(default)]
    pub binding_confirm_ttl_secs: Option<u64>,
    /// The merchant identity and keys payouts are signed and verified with.
    pub pay: WeChatPaySettings,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WeChatClientKind {
    /// Calls the built-in mock provider in-process.
    Builtin,
    /// Real HTTP requests to `api_base_url` (OAuth) and `pay_base_url` (payouts).
    Http,
}

/// The built-in mock WeChat provider under `/mock/wechat`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MockWeChatSettings {
    pub enabled: bool,
    pub app_id: String,
    pub app_secret: SecretString,
    pub callback_domains: Vec<String>,
    pub code_ttl_secs: u64,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    /// Payouts of the documented magic amounts (91.01, 92.03, …) get their forced answers.
    pub magic_amounts: bool,
    /// The merchant registered with the mock WeChat Pay, and the platform's key.
    pub pay: MockWeChatPaySettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    pub code_ttl_secs: u64,
    pub code_attempts_max: u8,
    pub outbox_keep: usize,
    /// Registering with a phone needs the `register` code texted to it.
    pub register_code_required: bool,
}

/// Request-rate limits per action, each per account (or login) and per client IP.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitSettings {
    pub login: RateLimitPair,
    /// Per phone or email asked for, and per client IP.
    pub register: RateLimitPair,
    pub sms: RateLimitPair,
    pub pin: RateLimitPair,
    /// Transfer recipients looked up, per account and per client IP.
    pub recipient_lookup: RateLimitPair,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitPair {
    pub per_account: RateLimit,
    pub per_ip: RateLimit,
}

/// `burst` requests at once, then refilled at `per_minute`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub burst: u32,
    pub per_minute: u32,
}

/// Withdrawal rules. Amounts are strings ("1000.00") so that environment
/// overrides are never read as floats; they are parsed and checked at startup.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalSettings {
    pub time_zone: String,
    pub quote_ttl_secs: u64,
    pub manual_review_over: String,
    pub auto_review_delay_secs: u64,
    /// Manual reviews left undecided this long are rejected; 0 waits forever.
    pub manual_review_timeout_secs: u64,
    /// How soon operators promise to decide a manual review (what a quote
    /// tells the app to expect).
    pub review_sla_secs: u64,
    /// Withdrawals this soon after a PIN change or reset go to manual review.
    pub review_after_pin_change_secs: u64,
    pub idempotency_ttl_secs: u64,
    pub levels: LevelTable,
    /// Fee schedules of destinations other than WeChat (whose schedule is
    /// each level's `free_quota`, `fee_rate` and `min_fee`).
    #[serde(default)]
    pub fees: DestinationFeeSettings,
}

/// `[withdrawals.fees.<destination>]`: a destination's own fee schedule, for
/// every level; without one, the destination pays as WeChat does.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestinationFeeSettings {
    pub alipay: Option<FeeSettings>,
}

/// A lifetime free quota, then `fee_rate` on the part above it, at least `min_fee`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FeeSettings {
    pub free_quota: String,
    pub fee_rate: String,
    pub min_fee: String,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelTable {
    pub l0: LevelSettings,
    pub l1: LevelSettings,
    pub l2: LevelSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LevelSettings {
    pub withdrawals_allowed: bool,
    pub amount_min: String,
    pub per_transaction_max: String,
    pub daily_amount_max: String,
    pub monthly_amount_max: String,
    pub daily_count_max: u32,
    pub free_quota: String,
    pub fee_rate: String,
    pub min_fee: String,
    /// Overrides `withdrawals.auto_review_delay_secs` for this level.
    #[serde(default)]
    pub auto_review_delay_secs: Option<u64>,
}

/// Identity verification review.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KycSettings {
    pub auto_approve: bool,
    pub auto_approve_after_secs: u64,
}

/// Wrong answers (payment-PIN entries, login passwords) and the locks they lead to.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutSettings {
    pub attempts_max: u8,
    pub lock_secs: u64,
    pub lock_growth: u32,
    pub lock_max_secs: u64,
}

impl WithdrawalSettings {
    /// The withdrawal rules these settings describe; one line per problem.
    pub fn policy(&self) -> Result<WithdrawalPolicy, String> {
        let settings = self;
        let time_zone: Tz = settings
            .time_zone
            .parse()
            .map_err(|_| format!("withdrawals.time_zone {:?} is not an IANA time zone", settings.time_zone))?;
        let delay = settings.auto_review_delay_secs;
        let alipay =
            settings.fees.alipay.as_ref().map(|fees| fee_policy("withdrawals.fees.alipay", fees)).transpose()?;
        let levels = [
            level_rules("l0", &settings.levels.l0, delay, alipay)?,
            level_rules("l1", &settings.levels.l1, delay, alipay)?,
            level_rules("l2", &settings.levels.l2, delay, alipay)?,
        ];
        let quote_ttl = chrono::Duration::seconds(settings.quote_ttl_secs as i64);
        let manual_over = settings.manual_review_over.parse::<Money>().ok().filter(|over| !over.is_negative());
        let manual_over = manual_over.ok_or_else(|| {
            format!(
                "withdrawals.manual_review_over must be an amount like \"5000.00\", got {:?}",
                settings.manual_review_over
            )
        })?;
        let manual_review_timeout = (settings.manual_review_timeout_secs > 0)
            .then(|| chrono::Duration::seconds(settings.manual_review_timeout_secs as i64));
        let idempotency_ttl = chrono::Duration::seconds(settings.idempotency_ttl_secs as i64);
        Ok(WithdrawalPolicy {
            time_zone,
            quote_ttl,
            review: ReviewPolicy {
                manual_over,
                after_pin_change: chrono::Duration::seconds(
                    settings.review_after_pin_change_secs.min(u32::MAX as u64) as i64
                ),
            },
            manual_review_timeout,
            review_sla: chrono::Duration::seconds(settings.review_sla_secs.clamp(1, u32::MAX as u64) as i64),
            idempotency_ttl,
            levels,
        })
    }
}

/// An amount setting at `path`: a non-negative amount of yuan.
fn amount_setting(path: &str, text: &str) -> Result<Money, String> {
    text.parse::<Money>()
        .ok()
        .filter(|m| !m.is_negative())
        .ok_or_else(|| format!("{path} must be an amount like \"1000.00\", got {text:?}"))
}

/// The fee schedule `fees` at `table` describes.
fn fee_policy(table: &str, fees: &FeeSettings) -> Result<FeePolicy, String> {
    let rate: Decimal = fees
        .fee_rate
        .parse()
        .ok()
        .filter(|rate: &Decimal| (Decimal::ZERO..Decimal::ONE).contains(rate))
        .ok_or_else(|| format!("{table}.fee_rate must be a decimal in [0, 1), got {:?}", fees.fee_rate))?;
    Ok(FeePolicy {
        free_quota: amount_setting(&format!("{table}.free_quota"), &fees.free_quota)?,
        rate,
        min_fee: amount_setting(&format!("{table}.min_fee"), &fees.min_fee)?,
    })
}

fn level_rules(
    name: &str,
    level: &LevelSettings,
    default_delay_secs: u64,
    alipay_fees: Option<FeePolicy>,
) -> Result<LevelRules, String> {
    let money = |key: &str, text: &str| amount_setting(&format!("withdrawals.levels.{name}.{key}"), text);
    let limits = LevelLimits {
        withdrawals_allowed: level.withdrawals_allowed,
        amount_min: money("amount_min", &level.amount_min)?,
        per_transaction_max: money("per_transaction_max", &level.per_transaction_max)?,
        daily_amount_max: money("daily_amount_max", &level.daily_amount_max)?,
        monthly_amount_max: money("monthly_amount_max", &level.monthly_amount_max)?,
        daily_count_max: level.daily_count_max,
    };
    if limits.amount_min > limits.per_transaction_max {
        return Err(format!("withdrawals.levels.{name}: amount_min is above per_transaction_max"));
    }
    if limits.per_transaction_max > limits.daily_amount_max || limits.daily_amount_max > limits.monthly_amount_max {
        return Err(format!(
            "withdrawals.levels.{name}: per_transaction_max ≤ daily_amount_max ≤ monthly_amount_max must hold, got \
             {} / {} / {}",
            limits.per_transaction_max, limits.daily_amount_max, limits.monthly_amount_max
        ));
    }
    let provider_min = Money::from_fen(PAYOUT_AMOUNT_MIN_FEN).map_err(|e| e.to_string())?;
    if limits.withdrawals_allowed && limits.amount_min < provider_min {
        return Err(format!(
            "withdrawals.levels.{name}.amount_min must be at least {provider_min} (WeChat Pay's smallest \
             transfer), got {}",
            limits.amount_min
        ));
    }
    let wechat = fee_policy(
        &format!("withdrawals.levels.{name}"),
        &FeeSettings {
            free_quota: level.free_quota.clone(),
            fee_rate: level.fee_rate.clone(),
            min_fee: level.min_fee.clone(),
        },
    )?;
    let fees = DestinationFees { wechat, alipay: alipay_fees.unwrap_or(wechat) };
    let delay_secs = level.auto_review_delay_secs.unwrap_or(default_delay_secs);
    let auto_review_delay = i64::try_from(delay_secs)
        .ok()
        .and_then(chrono::Duration::try_seconds)
        .ok_or_else(|| format!("withdrawals.levels.{name}.auto_review_delay_secs is too large"))?;
    Ok(LevelRules { limits, fees, auto_review_delay })
}

impl LockoutSettings {
    pub fn policy(&self) -> crate::domain::lockout::LockoutPolicy {
        crate::domain::lockout::LockoutPolicy {
            attempts_max: self.attempts_max,
            lock: chrono::Duration::seconds(self.lock_secs.min(i64::MAX as u64 / 1000) as i64),
            lock_growth: self.lock_growth,
            lock_max: chrono::Duration::seconds(self.lock_max_secs.min(i64::MAX as u64 / 1000) as i64),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    pub level: String,
    pub format: LogFormat,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

/// The two kinds of store a URL can name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    Memory,
    Redis(String),
    /// A Redis Cluster: the seed nodes' URLs (`redis://[user:password@]host:port`).
    RedisCluster(Vec<String>),
}

impl std::fmt::Display for StoreKind {
    /// Safe to log: a Redis URL's credentials are left out.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreKind::Memory => f.write_str("memory://"),
            StoreKind::Redis(url) => {
                let (scheme, rest) = url.split_once("://").unwrap_or(("redis", url));
                let host = rest.rsplit_once('@').map_or(rest, |(_, host)| host);
                write!(f, "{scheme}://{host}")
            }
            StoreKind::RedisCluster(nodes) => {
                let hosts: Vec<&str> = nodes
                    .iter()
                    .map(|node| node.split_once("://").map_or(node.as_str(), |(_, rest)| rest))
                    .map(|rest| rest.rsplit_once('@').map_or(rest, |(_, host)| host))
                    .collect();
                write!(f, "redis+cluster://{}", hosts.join(","))
            }
        }
    }
}

/// Environments that need no file of their own (`local` runs on the defaults).
const KNOWN_ENVIRONMENTS: [&str; 3] = ["local", "test", "production"];

fn default_environment() -> String {
    "local".to_owned()
}

/// What the command line (or a test) layers on top of files and environment.
#[derive(Debug, Clone, Default, clap::Parser)]
#[command(name = "walletgate", version, about = "Wallet-to-wallet transfer gateway simulator")]
pub struct Overrides {
    /// Settings environment: loads config/<ENV>.toml over the defaults.
    #[arg(long = "env", env = "WALLETGATE_ENV")]
    pub environment: Option<String>,
    /// Folder holding default.toml and <environment>.toml.
    #[arg(long, env = "WALLETGATE_CONFIG_DIR")]
    pub config_dir: Option<PathBuf>,
    /// Address to listen on (server.host).
    #[arg(long)]
    pub host: Option<String>,
    /// Port to listen on (server.port); 0 picks a free one.
    #[arg(long)]
    pub port: Option<u16>,
    /// Store URL (store.url): memory:// or redis://host:port/db.
    #[arg(long = "store")]
    pub store_url: Option<String>,
    /// A scenario file to load at startup, after the demo accounts
    /// (docs/simulator.md); repeat for several, loaded in order. Not a setting.
    #[arg(long = "scenario", value_name = "FILE")]
    pub scenarios: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("could not read settings: {0}")]
    Load(#[from] config::ConfigError),
    #[error("invalid settings: {}", .0.join("; "))]
    Invalid(Vec<String>),
}

impl Settings {
    pub fn load(overrides: &Overrides) -> Result<Settings, SettingsError> {
        let environment = overrides.environment.clone().unwrap_or_else(default_environment);
        let config_dir = overrides.config_dir.clone().unwrap_or_else(|| PathBuf::from("config"));
        if overrides.config_dir.is_some() && !config_dir.is_dir() {
            return Err(SettingsError::Invalid(vec![format!(
                "--config-dir {}: no such directory (it holds default.toml and <environment>.toml)",
                config_dir.display()
            )]));
        }
        let environment_file = config_dir.join(format!("{environment}.toml"));
        if !KNOWN_ENVIRONMENTS.contains(&environment.as_str()) && !environment_file.is_file() {
            return Err(SettingsError::Invalid(vec![format!(
                "--env {environment:?}: not one of {} and no {} exists",
                KNOWN_ENVIRONMENTS.join(", "),
                environment_file.display()
            )]));
        }
        let mut builder = Config::builder()
            .add_source(File::from_str(DEFAULT_TOML, FileFormat::Toml))
            .add_source(File::from(config_dir.join("default.toml")).required(false))
            .add_source(File::from(config_dir.join(format!("{environment}.toml"))).required(false))
            .add_source(
                Environment::with_prefix("WALLETGATE")
                    .prefix_separator("__")
                    .separator("__")
                    .try_parsing(true)
                    .list_separator(",")
                    .with_list_parse_key("server.cors.allowed_origins"),
            );
        if let Some(host) = &overrides.host {
            builder = builder.set_override("server.host", host.as_str())?;
        }
        if let Some(port) = overrides.port {
            builder = builder.set_override("server.port", port)?;
        }
        if let Some(url) = &overrides.store_url {
            builder = builder.set_override("store.url", url.as_str())?;
        }
        let mut settings: Settings = builder.build()?.try_deserialize()?;
        settings.environment = environment;
        settings.adopt_deprecated();
        settings.validate()?;
        Ok(settings)
    }

    /// Carries deprecated settings that were given over to the ones that
    /// replace them, noting each in `deprecated`.
    fn adopt_deprecated(&mut self) {
        let moved = [
            (self.wechat.binding_start_ttl_secs.take(), &mut self.bindings.start_ttl_secs, "start_ttl_secs"),
            (self.wechat.binding_confirm_ttl_secs.take(), &mut self.bindings.confirm_ttl_secs, "confirm_ttl_secs"),
        ];
        for (given, replacement, name) in moved {
            if let Some(value) = given {
                *replacement = value;
                self.deprecated.push(format!(
                    "wechat.binding_{name} is deprecated (it applies to Alipay bindings too): set bindings.{name}"
                ));
            }
        }
    }

    /// Every problem at once, so one restart fixes them all.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let mut problems = Vec::new();
        if let Err(problem) = self.store.kind() {
            problems.push(problem);
        }
        if self.store.key_prefix.is_empty() || self.store.key_prefix.contains(['{', '}', ' ']) {
            problems.push("store.key_prefix must be non-empty, without braces or spaces".into());
        }
        if self.store.commit_attempts_max == 0 {
            problems.push("store.commit_attempts_max must be at least 1".into());
        }
        // WAIT 0 would wait for ever; a wait as long as a reply may take
        // would turn every short commit into a timed-out (503) one.
        if self.store.wait_replicas > 0 && !(1..self.store.command_timeout_ms).contains(&self.store.wait_timeout_ms) {
            problems.push(format!(
                "store.wait_timeout_ms must be at least 1 and below store.command_timeout_ms ({}) \
                 when store.wait_replicas is set",
                self.store.command_timeout_ms
            ));
        }
        self.server.check(&mut problems);
        let production = self.environment == "production";
        for (name, secret, dev_value) in [
            ("auth.jwt_secret", &self.auth.jwt_secret, DEV_JWT_SECRET),
            ("auth.pin_pepper", &self.auth.pin_pepper, DEV_PIN_PEPPER),
            ("auth.fingerprint_secret", &self.auth.fingerprint_secret, DEV_FINGERPRINT_SECRET),
            ("webhooks.secret", &self.webhooks.secret, DEV_WEBHOOK_SECRET),
        ] {
            // The webhook secret's length matters only once a URL is set (below).
            if name != "webhooks.secret" && secret.expose_secret().len() < SECRET_BYTES_MIN {
                problems.push(format!("{name} must be at least {SECRET_BYTES_MIN} bytes"));
            }
            // Published in this repository: anyone could sign as this deployment.
            if production && secret.expose_secret() == dev_value {
                problems.push(format!("{name} still has its development value; set it from the environment"));
            }
        }
        if self.auth.access_token_ttl_secs == 0 || self.auth.refresh_token_ttl_secs == 0 {
            problems.push("auth token lifetimes must be positive".into());
        }
        if self.auth.password_hashing_wait_ms == 0 {
            problems.push("auth.password_hashing_wait_ms must be at least 1".into());
        }
        let (memory_kib, iterations) = (self.auth.password_hash_memory_kib, self.auth.password_hash_iterations);
        if let Err(refused) = argon2::Params::new(memory_kib, iterations, 1, None) {
            problems.push(format!("auth.password_hash_memory_kib and _iterations: argon2id refuses them ({refused})"));
        } else if production && (memory_kib < PASSWORD_HASH_MEMORY_KIB_MIN || iterations < PASSWORD_HASH_ITERATIONS_MIN)
        {
            problems.push(format!(
                "auth.password_hash_memory_kib and auth.password_hash_iterations must be at least \
                 {PASSWORD_HASH_MEMORY_KIB_MIN} and {PASSWORD_HASH_ITERATIONS_MIN} in production"
            ));
        }
        let limits = &self.rate_limits;
        let named = [
            ("login", limits.login),
            ("register", limits.register),
            ("sms", limits.sms),
            ("pin", limits.pin),
            ("recipient_lookup", limits.recipient_lookup),
        ];
        for (name, pair) in named {
            for (scope, limit) in [("per_account", pair.per_account), ("per_ip", pair.per_ip)] {
                if limit.burst == 0 || limit.per_minute == 0 {
                    problems.push(format!("rate_limits.{name}.{scope}: burst and per_minute must be at least 1"));
                }
            }
        }
        if let Err(problem) = self.withdrawals.policy() {
            problems.push(problem);
        } else if let Err(problem) = self.transfers.policy(&self.withdrawals) {
            problems.push(problem);
        }
        for (name, lockout) in [("pin", &self.pin), ("login_lock", &self.login_lock)] {
            if lockout.attempts_max == 0 || lockout.lock_secs == 0 || lockout.lock_growth == 0 {
                problems.push(format!("{name}.attempts_max, lock_secs and lock_growth must be at least 1"));
            }
            if lockout.lock_max_secs < lockout.lock_secs {
                problems.push(format!("{name}.lock_max_secs must be at least {name}.lock_secs"));
            }
            if lockout.lock_max_secs > LOCK_SECS_MAX {
                problems.push(format!("{name}.lock_max_secs must be at most {LOCK_SECS_MAX} (a year)"));
            }
        }
        simulator::check(self, &mut problems);
        self.mock_alipay.check(production, self.simulator.enabled, &mut problems);
        // Payouts go over HTTP to a named WeChat Pay, or (outside production,
        // which refuses the mock anyway) to this server's own mock.
        let mock_wechat_on = self.simulator.enabled && self.mock_wechat.enabled;
        let pay_url_named =
            url::Url::parse(&self.wechat.pay_base_url).is_ok_and(|url| url.scheme().starts_with("http"));
        let paying_over_http =
            self.wechat.client == WeChatClientKind::Http && (pay_url_named || (mock_wechat_on && !production));
        self.wechat.pay.check(production, paying_over_http, &mut problems);
        self.mock_wechat.pay.check(production, mock_wechat_on, &mut problems);
        self.alipay.check(production, &mut problems);
        if self.wechat.client == WeChatClientKind::Builtin && !self.mock_wechat.enabled {
            problems.push("wechat.client = \"builtin\" needs mock_wechat.enabled = true".into());
        }
        if self.sms.code_attempts_max == 0 || self.sms.code_ttl_secs == 0 || self.sms.outbox_keep == 0 {
            problems.push("sms.code_attempts_max, code_ttl_secs and outbox_keep must be at least 1".into());
        }
        if self.mock_wechat.code_ttl_secs == 0 || self.bindings.start_ttl_secs == 0 {
            problems.push("mock_wechat.code_ttl_secs and bindings.start_ttl_secs must be positive".into());
        }
        let worker = &self.worker;
        if worker.batch_size == 0 || worker.concurrency == 0 || worker.lease_secs == 0 || worker.poll_interval_ms == 0 {
            problems.push("worker.batch_size, concurrency, lease_secs and poll_interval_ms must be at least 1".into());
        }
        if worker.payout_attempts_max == 0 || worker.retry_backoff_max_ms < worker.retry_backoff_initial_ms {
            problems.push("worker.payout_attempts_max must be at least 1 and retry_backoff_max_ms ≥ initial".into());
        }
        let webhooks = &self.webhooks;
        if !webhooks.url.is_empty() {
            match url::Url::parse(&webhooks.url) {
                Ok(url) if matches!(url.scheme(), "http" | "https") => {}
                _ => problems.push(format!("webhooks.url {:?} must be an http(s) URL", webhooks.url)),
            }
            if webhooks.secret.expose_secret().len() < SECRET_BYTES_MIN {
                problems.push(format!("webhooks.secret must be at least {SECRET_BYTES_MIN} bytes"));
            }
        }
        self.sim_clock.check(&mut problems);
        if self.server.json_body_bytes_max < 1024 {
            problems.push("server.json_body_bytes_max must be at least 1024".into());
        }
        if !is_log_filter(&self.log.level) {
            problems.push(format!(
                "log.level {:?}: each comma-separated part must be a level (off, error, warn, info, debug, trace) \
                 or target=level, e.g. \"info\" or \"walletgate=debug,info\"",
                self.log.level
            ));
        }
        if problems.is_empty() { Ok(()) } else { Err(SettingsError::Invalid(problems)) }
    }
}

impl StoreSettings {
    pub fn kind(&self) -> Result<StoreKind, String> {
        let url = self.url.trim();
        if url == "memory://" || url == "memory" {
            Ok(StoreKind::Memory)
        } else if url.starts_with("redis://") || url.starts_with("rediss://") {
            Ok(StoreKind::Redis(url.to_owned()))
        } else if let Some(rest) = url.strip_prefix("redis+cluster://") {
            cluster_nodes(rest).map(StoreKind::RedisCluster)
        } else {
            Err(format!(
                "store.url must be memory://, redis://host:port/db or redis+cluster://host:port,host:port,…, got {url:?}"
            ))
        }
    }
}

/// The seed nodes of `redis+cluster://[user:password@]host:port,host:port/`:
/// each as its own `redis://` URL, carrying the credentials.
fn cluster_nodes(rest: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim_end_matches('/');
    let (credentials, hosts) = match rest.rsplit_once('@') {
        Some((credentials, hosts)) => (format!("{credentials}@"), hosts),
        None => (String::new(), rest),
    };
    let nodes: Vec<String> = hosts
        .split(',')
        .map(str::trim)
        .map(|host| match host.rsplit_once(':') {
            Some((name, port)) if !name.is_empty() && port.parse::<u16>().is_ok_and(|port| port > 0) => {
                Ok(format!("redis://{credentials}{host}"))
            }
            _ => Err(format!("store.url: cluster node {host:?} must be host:port")),
        })
        .collect::<Result<_, _>>()?;
    if nodes.is_empty() {
        return Err("store.url: redis+cluster:// needs at least one host:port".into());
    }
    Ok(nodes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A settings folder holding one `default.toml` with `toml`, layered over the compiled defaults.
    fn with_file(name: &str, toml: &str) -> Overrides {
        let dir = std::env::temp_dir().join(format!("walletgate-settings-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("default.toml"), toml).unwrap();
        Overrides { config_dir: Some(dir), ..Overrides::default() }
    }

    fn refusal(overrides: &Overrides) -> String {
        match Settings::load(overrides) {
            Ok(_) => panic!("loaded, but should have been refused"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn every_bad_value_stops_the_service_with_a_line_naming_it() {
        let table: [(&str, &str, &str); 12] = [
            ("misspelt-top", "auto_review_delay = 5", "unknown field `auto_review_delay`"),
            ("misspelt-key", "[withdrawals]\nauto_review_delay = 5", "unknown field `auto_review_delay`"),
            ("negative-review", "[withdrawals]\nmanual_review_over = \"-5\"", "withdrawals.manual_review_over"),
            (
                "per-tx-over-daily",
                "[withdrawals.levels.l0]\nper_transaction_max = \"5000.00\"",
                "withdrawals.levels.l0: per_transaction_max ≤ daily_amount_max",
            ),
            (
                "under-provider-min",
                "[withdrawals.levels.l1]\namount_min = \"0.01\"",
                "levels.l1.amount_min must be at least 0.10",
            ),
            ("log-level", "[log]\nlevel = \"ignoring\"", "log.level \"ignoring\""),
            ("log-target", "[log]\nlevel = \"walletgate=loud\"", "log.level"),
            (
                "cors-path",
                "[server.cors]\nallowed_origins = [\"http://localhost:3000/app\"]",
                "server.cors.allowed_origins",
            ),
            ("cors-unknown", "[server.cors]\nallow = [\"*\"]", "unknown field `allow`"),
            ("zero-lock", "[pin]\nattempts_max = 0", "pin.attempts_max"),
            ("bad-store", "[store]\nurl = \"postgres://x\"", "store.url"),
            ("time-zone", "[withdrawals]\ntime_zone = \"Mars/Olympus\"", "withdrawals.time_zone"),
        ];
        for (name, toml, expected) in table {
            let error = refusal(&with_file(name, toml));
            assert!(error.contains(expected), "{name}: {error}");
        }
    }

    #[test]
    fn an_unknown_environment_or_a_missing_config_folder_is_refused() {
        let error = refusal(&Overrides { environment: Some("nope".into()), ..overrides() });
        assert!(error.contains("--env \"nope\""), "{error}");
        let error = refusal(&Overrides { config_dir: Some("/nonexistent/walletgate".into()), ..Overrides::default() });
        assert!(error.contains("--config-dir /nonexistent/walletgate"), "{error}");
        for known in ["local", "test"] {
            assert!(Settings::load(&Overrides { environment: Some(known.into()), ..overrides() }).is_ok(), "{known}");
        }
    }

    #[test]
    fn good_log_filters_and_origins_are_accepted() {
        for level in ["info", "WARN", "walletgate=debug,info", "off", "actix_web=warn,walletgate=trace"] {
            assert!(is_log_filter(level), "{level}");
        }
        for level in ["", "ignoring", "info,", "=info", "a=b=info"] {
            assert!(!is_log_filter(level), "{level:?}");
        }
        for origin in ["http://localhost:3000", "https://app.example.com", "http://[::1]:8081"] {
            assert!(is_web_origin(origin), "{origin}");
        }
        for origin in ["localhost:3000", "http://", "ftp://x", "http://a/b", "http://a:"] {
            assert!(!is_web_origin(origin), "{origin}");
        }
    }

    /// Every key of `config/default.toml` has a row in docs/configuration.md's
    /// table: a first cell that names its section and the key (or the group
    /// the key belongs to, for the rate limits' burst and per_minute).
    #[test]
    fn every_key_is_documented() {
        let docs = include_str!("../docs/configuration.md");
        let cells: Vec<&str> =
            docs.lines().filter(|line| line.starts_with("| `")).filter_map(|line| line.split(" | ").next()).collect();
        let defaults: toml::Table = DEFAULT_TOML.parse().unwrap();
        let mut keys = Vec::new();
        fn walk(prefix: &str, table: &toml::Table, keys: &mut Vec<String>) {
            for (name, value) in table {
                let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
                match value {
                    toml::Value::Table(inner) => walk(&path, inner, keys),
                    _ => keys.push(path),
                }
            }
        }
        walk("", &defaults, &mut keys);
        assert!(keys.len() > 60, "{keys:?}");
        let undocumented: Vec<&String> = keys
            .iter()
            .filter(|key| {
                let segments: Vec<&str> = key.split('.').collect();
                let section = format!("`{}.", segments[0]);
                let leaf = segments[segments.len() - 1];
                let parent = segments[segments.len().saturating_sub(2)];
                !cells.iter().any(|cell| cell.contains(&section) && (cell.contains(leaf) || cell.contains(parent)))
            })
            .collect();
        assert!(undocumented.is_empty(), "keys without a row in docs/configuration.md: {undocumented:?}");
    }

    fn overrides() -> Overrides {
        Overrides { config_dir: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")), ..Overrides::default() }
    }

    #[test]
    fn defaults_run_locally_on_the_memory_store() {
        let settings = Settings::load(&overrides()).unwrap();
        assert_eq!(settings.server.port, 8080);
        assert_eq!(settings.store.kind(), Ok(StoreKind::Memory));
        assert!(settings.seed.demo_accounts);
    }

    /// A binding's lifetimes are `bindings.*`; their names before, under
    /// `wechat.`, still set them, and are noted to be warned of.
    #[test]
    fn binding_lifetimes_are_read_under_their_names_before_too() {
        let settings = Settings::load(&overrides()).unwrap();
        assert_eq!((settings.bindings.start_ttl_secs, settings.bindings.confirm_ttl_secs), (600, 600));
        assert!(settings.deprecated.is_empty(), "{:?}", settings.deprecated);

        let settings = Settings::load(&with_file("bindings", "[bindings]\nconfirm_ttl_secs = 90")).unwrap();
        assert_eq!((settings.bindings.start_ttl_secs, settings.bindings.confirm_ttl_secs), (600, 90));
        assert!(settings.deprecated.is_empty(), "{:?}", settings.deprecated);

        let before = "[wechat]\nbinding_start_ttl_secs = 120\nbinding_confirm_ttl_secs = 30";
        let settings = Settings::load(&with_file("bindings-before", before)).unwrap();
        assert_eq!((settings.bindings.start_ttl_secs, settings.bindings.confirm_ttl_secs), (120, 30));
        assert_eq!(settings.deprecated.len(), 2, "{:?}", settings.deprecated);
        assert!(settings.deprecated[0].contains("set bindings.start_ttl_secs"), "{:?}", settings.deprecated);
        let error = refusal(&with_file("bindings-zero", "[wechat]\nbinding_start_ttl_secs = 0"));
        assert!(error.contains("bindings.start_ttl_secs must be positive"), "{error}");
    }

    #[test]
    fn flags_override_files() {
        let settings = Settings::load(&Overrides {
            port: Some(9191),
            store_url: Some("redis://127.0.0.1:6379/3".into()),
            ..overrides()
        })
        .unwrap();
        assert_eq!(settings.server.port, 9191);
        assert_eq!(settings.store.kind(), Ok(StoreKind::Redis("redis://127.0.0.1:6379/3".into())));
    }

    #[test]
    fn production_refuses_development_secrets_and_secrets_never_print() {
        let error = Settings::load(&Overrides { environment: Some("production".into()), ..overrides() }).unwrap_err();
        assert!(error.to_string().contains("auth.jwt_secret still has its development value"), "{error}");
        let settings = Settings::load(&overrides()).unwrap();
        let printed = format!("{settings:?}");
        assert!(!printed.contains(DEV_JWT_SECRET) && !printed.contains(DEV_PIN_PEPPER));
        assert!(!printed.contains(DEV_FINGERPRINT_SECRET));
    }

    /// The local defaults turned into a production deployment's (as the
    /// environment would), development secrets aside.
    fn production_like() -> Settings {
        let mut settings = Settings::load(&overrides()).unwrap();
        settings.environment = "production".into();
        settings.simulator.enabled = false;
        settings.mock_wechat.enabled = false;
        settings.mock_alipay.enabled = false;
        settings.wechat.client = WeChatClientKind::Http;
        settings.wechat.api_base_url = "https://api.weixin.qq.com".into();
        settings.wechat.authorize_base_url = "https://open.weixin.qq.com".into();
        settings.wechat.public_base_url = "https://wallet.example.com".into();
        settings.wechat.app_id = "wx0123456789abcdef".into();
        settings.wechat.app_secret = SecretString::from("0123456789abcdef0123456789abcdef");
        settings
    }

    #[test]
    fn production_refuses_a_password_hash_cheaper_than_owasps_minimum_and_argon2_refuses_nonsense() {
        let mut settings = production_like();
        settings.auth.password_hash_memory_kib = 64;
        settings.auth.password_hash_iterations = 1;
        let error = settings.validate().unwrap_err().to_string();
        assert!(error.contains("must be at least 19456 and 2 in production"), "{error}");

        let mut settings = Settings::load(&overrides()).unwrap();
        settings.auth.password_hash_memory_kib = 64;
        settings.auth.password_hash_iterations = 1;
        assert!(!settings.validate().map_err(|e| e.to_string()).err().unwrap_or_default().contains("password_hash"));
        settings.auth.password_hash_iterations = 0;
        let error = settings.validate().unwrap_err().to_string();
        assert!(error.contains("argon2id refuses them"), "{error}");
    }

    #[test]
    fn production_refuses_the_development_fingerprint_secret() {
        let mut settings = production_like();
        settings.auth.jwt_secret = SecretString::from("a production jwt secret of 32+ bytes, from env");
        settings.auth.pin_pepper = SecretString::from("a production pin pepper of 32+ bytes, from env");
        settings.webhooks.secret = SecretString::from("a production webhook secret, 32+ bytes, from env");
        let error = settings.validate().unwrap_err().to_string();
        assert!(error.contains("auth.fingerprint_secret still has its development value"), "{error}");
    }

    #[test]
    fn production_refuses_the_development_webhook_secret() {
        let mut settings = production_like();
        settings.auth.jwt_secret = SecretString::from("a production jwt secret of 32+ bytes, from env");
        settings.auth.pin_pepper = SecretString::from("a production pin pepper of 32+ bytes, from env");
        settings.auth.fingerprint_secret = SecretString::from("a production fingerprint key, 32+ bytes, from env");
        let error = settings.validate().unwrap_err().to_string();
        assert!(error.contains("webhooks.secret still has its development value"), "{error}");
        assert!(!error.contains("auth."), "only the webhook secret is left: {error}");
        settings.webhooks.secret = SecretString::from("a production webhook secret, 32+ bytes, from env");
        assert!(settings.validate().is_ok());
        let printed = format!("{settings:?}");
        assert!(!printed.contains("production webhook secret"));
    }

    #[test]
    fn a_manual_review_is_expected_decided_by_the_promise_or_the_time_out_if_sooner() {
        let mut withdrawals = Settings::load(&overrides()).unwrap().withdrawals;
        let now = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        let level = crate::domain::account::VerificationLevel::L0;
        let expected = |withdrawals: &WithdrawalSettings, reviewed: bool| {
            let policy = withdrawals.policy().unwrap();
            policy.expected_settlement(policy.rules(level), reviewed, now)
        };
        withdrawals.review_sla_secs = 7200;
        withdrawals.manual_review_timeout_secs = 0;
        let two_hours = now + chrono::Duration::hours(2);
        assert_eq!(expected(&withdrawals, true), (two_hours, Some(two_hours)));
        withdrawals.manual_review_timeout_secs = 600;
        let ten_minutes = now + chrono::Duration::minutes(10);
        assert_eq!(expected(&withdrawals, true), (ten_minutes, Some(ten_minutes)));
        let (at, decided_by) = expected(&withdrawals, false);
        assert_eq!(
            (at, decided_by),
            (now + chrono::Duration::seconds(withdrawals.auto_review_delay_secs as i64), None)
        );
    }

    #[test]
    fn store_urls_print_without_credentials() {
        let kind = StoreKind::Redis("redis://user:hunter2@cache:6379/1".into());
        assert_eq!(kind.to_string(), "redis://cache:6379/1");
        let mut settings = Settings::load(&overrides()).unwrap().store;
        settings.url = "redis+cluster://user:hunter2@a:7000,b:7001/".into();
        let kind = settings.kind().unwrap();
        assert_eq!(
            kind,
            StoreKind::RedisCluster(vec!["redis://user:hunter2@a:7000".into(), "redis://user:hunter2@b:7001".into()])
        );
        assert_eq!(kind.to_string(), "redis+cluster://a:7000,b:7001");
    }

    #[test]
    fn cluster_urls_name_every_node_by_host_and_port() {
        for bad in ["redis+cluster://", "redis+cluster://a", "redis+cluster://a:7000,:7001", "redis+cluster://a:0"] {
            let mut settings = Settings::load(&overrides()).unwrap().store;
            settings.url = bad.into();
            assert!(settings.kind().unwrap_err().contains("store.url"), "{bad}");
        }
    }

    #[test]
    fn a_replica_wait_must_end_before_a_reply_times_out() {
        let mut settings = Settings::load(&overrides()).unwrap();
        assert_eq!(settings.store.wait_replicas, 0, "off by default");
        settings.store.wait_replicas = 1;
        assert!(settings.validate().is_ok(), "the default timeout fits");
        for bad in [0, settings.store.command_timeout_ms] {
            settings.store.wait_timeout_ms = bad;
            let error = settings.validate().unwrap_err().to_string();
            assert!(error.contains("store.wait_timeout_ms"), "{bad}: {error}");
        }
    }

    #[test]
    fn bad_store_urls_are_refused() {
        let error = Settings::load(&Overrides { store_url: Some("postgres://x".into()), ..overrides() }).unwrap_err();
        assert!(error.to_string().contains("store.url"), "{error}");
    }

    #[test]
    fn edge_limits_must_stay_under_what_actix_parses() {
        let mut settings = Settings::load(&overrides()).unwrap();
        settings.server.request_body_timeout_secs = 0;
        settings.server.uri_bytes_max = URI_BYTES_MAX_CEILING + 1;
        settings.server.head_bytes_max = 0;
        let error = settings.validate().unwrap_err().to_string();
        for name in ["request_body_timeout_secs", "uri_bytes_max", "head_bytes_max"] {
            assert!(error.contains(name), "{name}: {error}");
        }
    }
}
