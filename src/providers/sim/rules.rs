//! Forced outcomes of the mock providers, as data: a rule matches a call
//! (the operation — a WeChat Pay payout, bill query or cancellation, a WeChat OAuth code
//! exchange or profile read, an Alipay transfer, token call or user-info
//! read, an SMS — and the payee, an amount range, the
//! walletgate account, the bill, the phone, the code's purpose) and says how
//! to answer it (a payout outcome, a WeChat error, an HTTP error, a fault),
//! after what delay, how many times and with what probability, in the
//! manner of WireMock's stubs and Toxiproxy's toxics. The magic amounts are
//! the same answers, built in, for a client that sends no special header.
//!
//! Everything here is pure: which rule answers a call, what a delay comes
//! to, whether a rule is well formed. `book` keeps the rules in the store.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::account::AccountId;
use crate::domain::money::Money;
use crate::providers::payouts::FailReason;

/// The most rules a deployment keeps at once.
pub const RULES_MAX: usize = 100;
/// The longest delay a rule may add (fixed, or drawn from its distribution).
pub const DELAY_MS_MAX: u64 = 60_000;
/// How long a `timeout` fault keeps the caller waiting when the rule sets no
/// delay: longer than any client of the gateway waits.
pub const TIMEOUT_FAULT_MS: u64 = 30_000;
const DESCRIPTION_CHARS_MAX: usize = 200;
const MESSAGE_CHARS_MAX: usize = 200;
const CODE_CHARS_MAX: usize = 64;
const PAYEE_CHARS_MAX: usize = 128;
const PHONE_DIGITS_MAX: usize = 20;
const PURPOSE_CHARS_MAX: usize = 32;

/// What a provider is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = "wechat_pay.transfer")]
pub enum Operation {
    /// WeChat Pay: create a transfer bill (a payout).
    #[serde(rename = "wechat_pay.transfer")]
    WeChatPayTransfer,
    /// WeChat Pay: read a transfer bill by `out_bill_no`.
    #[serde(rename = "wechat_pay.query")]
    WeChatPayQuery,
    /// WeChat Pay: cancel a transfer bill (`…/out-bill-no/{out_bill_no}/cancel`).
    #[serde(rename = "wechat_pay.cancel")]
    WeChatPayCancel,
    /// WeChat OAuth: exchange an authorization code for tokens
    /// (`sns/oauth2/access_token`), as a binding's callback does.
    #[serde(rename = "wechat_oauth.access_token")]
    WeChatOAuthAccessToken,
    /// WeChat OAuth: read the user's profile (`sns/userinfo`).
    #[serde(rename = "wechat_oauth.userinfo")]
    WeChatOAuthUserInfo,
    /// The SMS gateway: text a verification code to a phone.
    #[serde(rename = "sms.send")]
    SmsSend,
    /// Alipay: `alipay.fund.trans.uni.transfer` (a payout to an Alipay account).
    #[serde(rename = "alipay.transfer")]
    AlipayTransfer,
    /// Alipay: `alipay.system.oauth.token`, an `auth_code` (or refresh
    /// token) exchanged for tokens, as an Alipay binding's callback does.
    #[serde(rename = "alipay.oauth_token")]
    AlipayOAuthToken,
    /// Alipay: `alipay.user.info.share`, the user's profile read with the access token.
    #[serde(rename = "alipay.user_info")]
    AlipayUserInfo,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::WeChatPayTransfer => "wechat_pay.transfer",
            Operation::WeChatPayQuery => "wechat_pay.query",
            Operation::WeChatPayCancel => "wechat_pay.cancel",
            Operation::WeChatOAuthAccessToken => "wechat_oauth.access_token",
            Operation::WeChatOAuthUserInfo => "wechat_oauth.userinfo",
            Operation::SmsSend => "sms.send",
            Operation::AlipayTransfer => "alipay.transfer",
            Operation::AlipayOAuthToken => "alipay.oauth_token",
            Operation::AlipayUserInfo => "alipay.user_info",
        }
    }

    /// The operations whose calls concern a withdrawal's bill (by its number).
    fn is_payout(self) -> bool {
        matches!(
            self,
            Operation::WeChatPayTransfer
                | Operation::WeChatPayQuery
                | Operation::WeChatPayCancel
                | Operation::AlipayTransfer
        )
    }

    /// The operations whose calls carry a payee and an amount.
    fn is_transfer(self) -> bool {
        matches!(self, Operation::WeChatPayTransfer | Operation::AlipayTransfer)
    }

    fn is_wechat_oauth(self) -> bool {
        matches!(self, Operation::WeChatOAuthAccessToken | Operation::WeChatOAuthUserInfo)
    }
}

/// Which calls a rule answers: every field given must hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"operation": "wechat_pay.transfer", "amount_min": "100.00", "amount_max": "500.00"}))]
pub struct CallMatch {
    pub operation: Operation,
    /// The payee's openid (`wechat_pay.transfer`), Alipay user id or open id
    /// (`alipay.transfer`, `payee_info.identity`), or the user's whose
    /// profile is read (`wechat_oauth.userinfo`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee: Option<String>,
    /// The least amount of a payout, yuan as a string (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "100.00")]
    pub amount_min: Option<Money>,
    /// The greatest amount of a payout, yuan as a string (inclusive).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "500.00")]
    pub amount_max: Option<Money>,
    /// The walletgate account whose withdrawal is being paid out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "acc_0196a3c5e2b87d40a1f3c9e2d4b5a6c7")]
    pub account_id: Option<AccountId>,
    /// The merchant's bill number (a withdrawal's id without `wd_`): WeChat
    /// Pay's `out_bill_no`, Alipay's `out_biz_no`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub out_bill_no: Option<String>,
    /// The phone a text goes to (`sms.send`), digits only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "13800000001")]
    pub phone: Option<String>,
    /// What the texted code is for (`sms.send`): `set_pin`, `reset_pin`, `bind_wechat`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(example = "reset_pin")]
    pub purpose: Option<String>,
}

/// How a matched call is answered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[schema(example = json!({"type": "fail", "fail_reason": "ACCOUNT_FROZEN"}))]
pub enum Respond {
    /// As the mock would answer anyway, after the rule's delay: latency alone.
    AsUsual,
    /// The Alipay transfer fails (40004) with this `sub_code` (`alipay.transfer`
    /// only): `SYSTEM_ERROR` and the payer-side codes keep no order, the
    /// others a FAIL order, as the mock keeps them.
    AlipayFail {
        #[schema(example = "PAYEE_ACCOUNT_STATUS_ERROR")]
        sub_code: String,
    },
    /// The bill is decided `FAIL` with this reason (nothing is paid).
    Fail {
        #[schema(value_type = String, example = "ACCOUNT_FROZEN")]
        fail_reason: FailReason,
    },
    /// The bill stays `PROCESSING` (an Alipay order `DEALING`; nothing is
    /// paid yet); a later call the rule no longer answers decides it.
    Processing,
    /// The provider's own failure: WeChat Pay's 500 `SYSTEM_ERROR` (retry
    /// the same bill), Alipay's 20000 `isp.unknow-error` (the transfer not
    /// made; query, then retry; on `alipay.oauth_token` and
    /// `alipay.user_info` the call not made either), WeChat OAuth's errcode
    /// -1 "system error", an SMS gateway that refuses to send.
    SystemError,
    /// WeChat's `{errcode, errmsg}` answer, with HTTP 200 as WeChat sends
    /// it (`wechat_oauth.*` only): e.g. 40029 invalid code, 40163 code
    /// been used, 48001 api unauthorized.
    ApiError {
        #[schema(example = 40163)]
        errcode: i64,
        #[serde(default)]
        #[schema(example = "code been used")]
        errmsg: String,
    },
    /// An HTTP error answer: a status from 400 to 599 with its code (WeChat
    /// Pay's `{code, message}` body; the other providers' callers see the
    /// status).
    HttpError {
        #[schema(minimum = 400, maximum = 599, example = 429)]
        status: u16,
        #[schema(example = "FREQUENCY_LIMITED")]
        code: String,
        #[serde(default)]
        message: String,
    },
    /// A broken connection instead of an answer. On `alipay.transfer` the
    /// call is made first and its answer lost (the money may have moved); on
    /// `alipay.oauth_token` and `alipay.user_info` the call is not made (an
    /// `auth_code` stays unused).
    Fault { fault: Fault },
}

/// The ways a connection can break (WireMock's faults, Toxiproxy's toxics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "connection_reset")]
pub enum Fault {
    /// No answer until the caller gives up (the rule's delay, else 30 s).
    Timeout,
    /// The connection is closed with no answer.
    ConnectionReset,
    /// A 200 whose body is not JSON.
    MalformedBody,
    /// A 200 with an empty body.
    EmptyResponse,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Timeout => "timeout",
            Fault::ConnectionReset => "connection_reset",
            Fault::MalformedBody => "malformed_body",
            Fault::EmptyResponse => "empty_response",
        }
    }
}

/// How long to wait before answering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[schema(example = json!({"type": "lognormal", "median_ms": 300, "sigma": 0.5}))]
pub enum Delay {
    Fixed {
        #[schema(maximum = 60000, example = 1500)]
        ms: u64,
    },
    /// Log-normal, as real latencies are: half the calls wait less than
    /// `median_ms`; `sigma` spreads the tail (0.1 tight, 1 wide).
    Lognormal {
        #[schema(maximum = 60000, example = 300)]
        median_ms: u64,
        #[schema(minimum = 0, maximum = 3, example = 0.5)]
        sigma: f64,
    },
}

impl Delay {
    /// One wait, from a standard normal draw `z` (capped at `DELAY_MS_MAX`).
    pub fn sample(&self, z: f64) -> Duration {
        let ms = match *self {
            Delay::Fixed { ms } => ms as f64,
            Delay::Lognormal { median_ms, sigma } => median_ms as f64 * (sigma * z).exp(),
        };
        Duration::from_millis(ms.clamp(0.0, DELAY_MS_MAX as f64) as u64)
    }
}

/// A standard normal draw from two uniform ones in (0, 1] (Box–Muller).
pub fn standard_normal(u1: f64, u2: f64) -> f64 {
    let u1 = u1.clamp(f64::MIN_POSITIVE, 1.0);
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A rule as an operator writes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "description": "the next two payouts time out",
    "match": {"operation": "wechat_pay.transfer"},
    "respond": {"type": "fault", "fault": "timeout"},
    "times": 2
}))]
pub struct NewRule {
    #[serde(default)]
    pub description: String,
    #[serde(rename = "match")]
    pub when: CallMatch,
    pub respond: Respond,
    #[serde(default)]
    pub delay: Option<Delay>,
    /// Answers this many calls, then no more; absent: every call.
    #[serde(default)]
    #[schema(minimum = 1, example = 2)]
    pub times: Option<u32>,
    /// The chance that a matching call is answered (0 to 1); absent: 1.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1, example = 0.5)]
    pub probability: Option<f64>,
}

/// Why a rule is refused; each message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct RuleError {
    pub field: &'static str,
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> RuleError {
    RuleError { field, message: message.into() }
}

impl NewRule {
    /// Checks every field; the first problem is returned.
    pub fn check(&self) -> Result<(), RuleError> {
        if self.description.chars().count() > DESCRIPTION_CHARS_MAX {
            return Err(refuse("description", format!("at most {DESCRIPTION_CHARS_MAX} characters")));
        }
        let when = &self.when;
        if when.payee.as_ref().is_some_and(|payee| payee.is_empty() || payee.chars().count() > PAYEE_CHARS_MAX) {
            return Err(refuse("match.payee", format!("1 to {PAYEE_CHARS_MAX} characters")));
        }
        if let (Some(min), Some(max)) = (when.amount_min, when.amount_max)
            && min > max
        {
            return Err(refuse("match.amount_max", "must not be below amount_min"));
        }
        if [when.amount_min, when.amount_max].iter().flatten().any(|amount| amount.is_negative()) {
            return Err(refuse("match.amount_min", "amounts must not be negative"));
        }
        let bill_like = |text: &str| (1..=32).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric());
        if when.out_bill_no.as_deref().is_some_and(|text| !bill_like(text)) {
            return Err(refuse("match.out_bill_no", "1 to 32 characters [0-9A-Za-z]"));
        }
        self.check_match()?;
        self.check_respond()?;
        match self.delay {
            Some(Delay::Fixed { ms }) | Some(Delay::Lognormal { median_ms: ms, .. }) if ms > DELAY_MS_MAX => {
                return Err(refuse("delay", format!("at most {DELAY_MS_MAX} ms")));
            }
            Some(Delay::Lognormal { sigma, .. }) if !(0.0..=3.0).contains(&sigma) => {
                return Err(refuse("delay.sigma", "from 0 to 3"));
            }
            _ => {}
        }
        if self.times == Some(0) {
            return Err(refuse("times", "at least 1 (leave it out for every call)"));
        }
        if self.probability.is_some_and(|p| !(0.0..=1.0).contains(&p)) {
            return Err(refuse("probability", "from 0 to 1"));
        }
        Ok(())
    }

    /// Each field of `match` is one the operation's calls carry.
    fn check_match(&self) -> Result<(), RuleError> {
        let when = &self.when;
        let operation = when.operation;
        let carried = [
            (
                "match.payee",
                when.payee.is_some(),
                operation.is_transfer() || operation == Operation::WeChatOAuthUserInfo,
            ),
            ("match.amount_min", when.amount_min.is_some(), operation.is_transfer()),
            ("match.amount_max", when.amount_max.is_some(), operation.is_transfer()),
            ("match.account_id", when.account_id.is_some(), operation.is_payout()),
            ("match.out_bill_no", when.out_bill_no.is_some(), operation.is_payout()),
            ("match.phone", when.phone.is_some(), operation == Operation::SmsSend),
            ("match.purpose", when.purpose.is_some(), operation == Operation::SmsSend),
        ];
        if let Some((field, ..)) = carried.iter().find(|(_, given, carried)| *given && !carried) {
            return Err(refuse(field, format!("{} calls carry no such field", operation.as_str())));
        }
        let phone_like =
            |text: &str| (1..=PHONE_DIGITS_MAX).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
        if when.phone.as_deref().is_some_and(|phone| !phone_like(phone)) {
            return Err(refuse("match.phone", format!("1 to {PHONE_DIGITS_MAX} digits")));
        }
        let purpose_like = |text: &str| {
            (1..=PURPOSE_CHARS_MAX).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        };
        if when.purpose.as_deref().is_some_and(|purpose| !purpose_like(purpose)) {
            return Err(refuse("match.purpose", format!("1 to {PURPOSE_CHARS_MAX} characters [a-z_]")));
        }
        Ok(())
    }

    fn check_respond(&self) -> Result<(), RuleError> {
        let operation = self.when.operation;
        if matches!(self.respond, Respond::Fail { .. }) && operation != Operation::WeChatPayTransfer {
            return Err(refuse("respond.type", "fail answers wechat_pay.transfer only (alipay_fail alipay.transfer)"));
        }
        if self.respond == Respond::Processing && !operation.is_transfer() {
            return Err(refuse("respond.type", "processing answers wechat_pay.transfer and alipay.transfer only"));
        }
        if let Respond::AlipayFail { sub_code } = &self.respond {
            if operation != Operation::AlipayTransfer {
                return Err(refuse("respond.type", "alipay_fail answers alipay.transfer only"));
            }
            let code_like =
                |text: &str| text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            if sub_code.is_empty() || sub_code.len() > CODE_CHARS_MAX || !code_like(sub_code) {
                return Err(refuse("respond.sub_code", format!("1 to {CODE_CHARS_MAX} characters [A-Z0-9_]")));
            }
        }
        if let Respond::ApiError { errcode, errmsg } = &self.respond {
            if !operation.is_wechat_oauth() {
                return Err(refuse("respond.type", "api_error answers wechat_oauth.* only"));
            }
            if *errcode == 0 {
                return Err(refuse("respond.errcode", "not 0 (WeChat's success)"));
            }
            if errmsg.chars().count() > MESSAGE_CHARS_MAX {
                return Err(refuse("respond.errmsg", format!("at most {MESSAGE_CHARS_MAX} characters")));
            }
        }
        if let Respond::HttpError { status, code, message } = &self.respond {
            if !(400..=599).contains(status) {
                return Err(refuse("respond.status", "from 400 to 599"));
            }
            let code_like =
                |text: &str| text.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
            if code.is_empty() || code.len() > CODE_CHARS_MAX || !code_like(code) {
                return Err(refuse("respond.code", format!("1 to {CODE_CHARS_MAX} characters [A-Z0-9_]")));
            }
            if message.chars().count() > MESSAGE_CHARS_MAX {
                return Err(refuse("respond.message", format!("at most {MESSAGE_CHARS_MAX} characters")));
            }
        }
        Ok(())
    }
}

/// A request body's check: the first problem, naming its field.
impl validator::Validate for NewRule {
    fn validate(&self) -> Result<(), validator::ValidationErrors> {
        self.check().map_err(|error| {
            let mut errors = validator::ValidationErrors::new();
            errors.add(error.field, validator::ValidationError::new("invalid").with_message(error.message.into()));
            errors
        })
    }
}

/// A rule as kept: what was written, and what it has done.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "id": "rule_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", "description": "the next two payouts time out",
    "match": {"operation": "wechat_pay.transfer"}, "respond": {"type": "fault", "fault": "timeout"},
    "delay": null, "times": 2, "probability": null, "remaining": 1, "matched": 1, "created_at": "2026-03-01T09:30:00Z"
}))]
pub struct Rule {
    pub id: String,
    pub description: String,
    #[serde(rename = "match")]
    pub when: CallMatch,
    pub respond: Respond,
    pub delay: Option<Delay>,
    pub times: Option<u32>,
    pub probability: Option<f64>,
    /// How many more calls it answers (with `times`); absent: unlimited.
    pub remaining: Option<u32>,
    /// How many calls it has answered.
    pub matched: u64,
    pub created_at: DateTime<Utc>,
}

impl Rule {
    pub fn new(id: String, rule: NewRule, now: DateTime<Utc>) -> Rule {
        Rule {
            id,
            description: rule.description,
            when: rule.when,
            respond: rule.respond,
            delay: rule.delay,
            times: rule.times,
            probability: rule.probability,
            remaining: rule.times,
            matched: 0,
            created_at: now,
        }
    }

    /// Whether it still answers calls.
    pub fn is_live(&self) -> bool {
        self.remaining != Some(0)
    }

    /// Whether `call` is one it answers; `account` resolves the call's
    /// account, asked only when the rule names one.
    pub fn matches(&self, call: &ProviderCall<'_>, account: impl FnOnce() -> Option<AccountId>) -> bool {
        let when = &self.when;
        let amount_in = |bound: Option<Money>, inside: fn(Money, Money) -> bool| match (bound, call.amount) {
            (None, _) => true,
            (Some(bound), Some(amount)) => inside(amount, bound),
            (Some(_), None) => false,
        };
        self.is_live()
            && when.operation == call.operation
            && when.payee.as_deref().is_none_or(|payee| payee == call.payee)
            && when.out_bill_no.as_deref().is_none_or(|bill| bill == call.out_bill_no)
            && when.phone.as_deref().is_none_or(|phone| phone == call.phone)
            && when.purpose.as_deref().is_none_or(|purpose| purpose == call.purpose)
            && amount_in(when.amount_min, |amount, min| amount >= min)
            && amount_in(when.amount_max, |amount, max| amount <= max)
            && when.account_id.as_ref().is_none_or(|wanted| account().as_ref() == Some(wanted))
    }

    /// Counts one answered call.
    pub fn count_match(&mut self) {
        self.matched = self.matched.saturating_add(1);
        if let Some(remaining) = &mut self.remaining {
            *remaining = remaining.saturating_sub(1);
        }
    }
}

/// A call to a mock provider, as the rules see it; a field the call does
/// not carry is empty.
#[derive(Debug, Clone, Copy)]
pub struct ProviderCall<'a> {
    pub operation: Operation,
    /// The payee's openid (a payout), or the user's (a profile read).
    pub payee: &'a str,
    pub amount: Option<Money>,
    pub out_bill_no: &'a str,
    pub phone: &'a str,
    pub purpose: &'a str,
}

impl<'a> ProviderCall<'a> {
    fn of(operation: Operation) -> ProviderCall<'a> {
        ProviderCall { operation, payee: "", amount: None, out_bill_no: "", phone: "", purpose: "" }
    }

    /// A WeChat Pay transfer bill of `amount` to `payee`.
    pub fn payout(payee: &'a str, amount: Money, out_bill_no: &'a str) -> ProviderCall<'a> {
        ProviderCall { payee, amount: Some(amount), out_bill_no, ..ProviderCall::of(Operation::WeChatPayTransfer) }
    }

    /// An Alipay transfer of `amount` to `payee` (`payee_info.identity`) under `out_biz_no`.
    pub fn alipay_transfer(payee: &'a str, amount: Money, out_biz_no: &'a str) -> ProviderCall<'a> {
        ProviderCall {
            payee,
            amount: Some(amount),
            out_bill_no: out_biz_no,
            ..ProviderCall::of(Operation::AlipayTransfer)
        }
    }

    /// A WeChat Pay bill read by its number.
    pub fn bill_query(out_bill_no: &'a str) -> ProviderCall<'a> {
        ProviderCall { out_bill_no, ..ProviderCall::of(Operation::WeChatPayQuery) }
    }

    /// A WeChat Pay bill cancelled by its number.
    pub fn bill_cancel(out_bill_no: &'a str) -> ProviderCall<'a> {
        ProviderCall { out_bill_no, ..ProviderCall::of(Operation::WeChatPayCancel) }
    }

    /// A WeChat OAuth code exchange (the code's user is not known yet).
    pub fn code_exchange() -> ProviderCall<'a> {
        ProviderCall::of(Operation::WeChatOAuthAccessToken)
    }

    /// A WeChat OAuth profile read of `openid`.
    pub fn profile_read(openid: &'a str) -> ProviderCall<'a> {
        ProviderCall { payee: openid, ..ProviderCall::of(Operation::WeChatOAuthUserInfo) }
    }

    /// An Alipay `alipay.system.oauth.token` call (the user is not known yet).
    pub fn alipay_oauth_token() -> ProviderCall<'a> {
        ProviderCall::of(Operation::AlipayOAuthToken)
    }

    /// An Alipay `alipay.user.info.share` call (the token names the user, the call does not).
    pub fn alipay_user_info() -> ProviderCall<'a> {
        ProviderCall::of(Operation::AlipayUserInfo)
    }

    /// A text to `phone` carrying a code for `purpose`.
    pub fn sms(phone: &'a str, purpose: &'a str) -> ProviderCall<'a> {
        ProviderCall { phone, purpose, ..ProviderCall::of(Operation::SmsSend) }
    }
}

/// The answer a call gets: from a rule (its id) or a magic amount.
#[derive(Debug, Clone, PartialEq)]
pub struct Forced {
    /// The rule's id, or `magic:<amount>`.
    pub rule: String,
    pub respond: Respond,
    pub delay: Duration,
}

/// The magic amounts: a payout of exactly one of these is answered so, with
/// no rule and no special header (like a payment sandbox's test cards).
pub const MAGIC_AMOUNTS: [(&str, MagicAnswer); 15] = [
    ("91.01", MagicAnswer::Fail(FailReason::AccountFrozen)),
    ("91.02", MagicAnswer::Fail(FailReason::RealNameCheckFail)),
    ("91.03", MagicAnswer::Fail(FailReason::DayReceivedQuotaExceed)),
    ("91.04", MagicAnswer::Fail(FailReason::MonthReceivedQuotaExceed)),
    ("91.05", MagicAnswer::Fail(FailReason::OpenidInvalid)),
    ("91.06", MagicAnswer::Fail(FailReason::TransferRisk)),
    ("91.07", MagicAnswer::Fail(FailReason::PayeeAccountAbnormal)),
    ("91.08", MagicAnswer::Fail(FailReason::NameNotCorrect)),
    ("92.01", MagicAnswer::Processing),
    ("92.02", MagicAnswer::SystemError),
    ("92.03", MagicAnswer::Fault(Fault::Timeout)),
    ("92.04", MagicAnswer::Fault(Fault::ConnectionReset)),
    ("92.05", MagicAnswer::Fault(Fault::MalformedBody)),
    ("92.06", MagicAnswer::HttpError(403, "NOT_ENOUGH", "merchant balance is not enough")),
    ("92.07", MagicAnswer::HttpError(429, "FREQUENCY_LIMITED", "frequency limited, retry later")),
];

/// A magic amount's answer (a `Respond` that can live in a constant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MagicAnswer {
    Fail(FailReason),
    Processing,
    SystemError,
    /// An error answer: status, code, message.
    HttpError(u16, &'static str, &'static str),
    Fault(Fault),
}

impl MagicAnswer {
    fn respond(self) -> Respond {
        match self {
            MagicAnswer::Fail(fail_reason) => Respond::Fail { fail_reason },
            MagicAnswer::Processing => Respond::Processing,
            MagicAnswer::SystemError => Respond::SystemError,
            MagicAnswer::HttpError(status, code, message) => {
                Respond::HttpError { status, code: code.to_owned(), message: message.to_owned() }
            }
            MagicAnswer::Fault(fault) => Respond::Fault { fault },
        }
    }
}

/// How a magic timeout waits: long enough for any caller to give up.
const MAGIC_TIMEOUT: Duration = Duration::from_millis(TIMEOUT_FAULT_MS);

/// The magic answer to a payout of `call`'s amount, if it is a magic amount.
pub fn magic_answer(call: &ProviderCall<'_>) -> Option<Forced> {
    if call.operation != Operation::WeChatPayTransfer {
        return None;
    }
    let amount = call.amount?;
    MAGIC_AMOUNTS.iter().find(|(magic, _)| magic.parse::<Money>().is_ok_and(|magic| magic == amount)).map(
        |(magic, answer)| {
            let delay = match answer {
                MagicAnswer::Fault(Fault::Timeout) => MAGIC_TIMEOUT,
                _ => Duration::ZERO,
            };
            Forced { rule: format!("magic:{magic}"), respond: answer.respond(), delay }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn money(text: &str) -> Money {
        text.parse().unwrap()
    }

    fn transfer_rule(when: CallMatch) -> Rule {
        let rule = NewRule {
            description: String::new(),
            when,
            respond: Respond::SystemError,
            delay: None,
            times: Some(2),
            probability: None,
        };
        Rule::new("rule_1".into(), rule, DateTime::<Utc>::UNIX_EPOCH)
    }

    fn any_transfer() -> CallMatch {
        CallMatch {
            operation: Operation::WeChatPayTransfer,
            payee: None,
            amount_min: None,
            amount_max: None,
            account_id: None,
            out_bill_no: None,
            phone: None,
            purpose: None,
        }
    }

    fn matching(operation: Operation) -> CallMatch {
        CallMatch { operation, ..any_transfer() }
    }

    fn call(amount: &str) -> ProviderCall<'static> {
        ProviderCall::payout("oPayee", money(amount), "0196a3c5e2b87d40")
    }

    #[test]
    fn a_rule_matches_on_every_field_it_names() {
        let rule = transfer_rule(CallMatch {
            payee: Some("oPayee".into()),
            amount_min: Some(money("10.00")),
            amount_max: Some(money("20.00")),
            ..any_transfer()
        });
        assert!(rule.matches(&call("10.00"), || None));
        assert!(rule.matches(&call("20.00"), || None));
        assert!(!rule.matches(&call("20.01"), || None));
        assert!(!rule.matches(&call("9.99"), || None));
        assert!(!rule.matches(&ProviderCall { payee: "oOther", ..call("15.00") }, || None));
        let query = ProviderCall { operation: Operation::WeChatPayQuery, amount: None, ..call("15.00") };
        assert!(!rule.matches(&query, || None));
    }

    #[test]
    fn the_account_is_resolved_only_for_a_rule_that_names_one() {
        let any = transfer_rule(any_transfer());
        assert!(any.matches(&call("1.00"), || panic!("not asked")));
        let account = AccountId::generate();
        let named = transfer_rule(CallMatch { account_id: Some(account.clone()), ..any_transfer() });
        assert!(named.matches(&call("1.00"), || Some(account.clone())));
        assert!(!named.matches(&call("1.00"), || Some(AccountId::generate())));
        assert!(!named.matches(&call("1.00"), || None));
    }

    #[test]
    fn a_counted_rule_stops_after_its_times() {
        let mut rule = transfer_rule(any_transfer());
        rule.count_match();
        assert!(rule.matches(&call("1.00"), || None));
        rule.count_match();
        assert_eq!((rule.remaining, rule.matched), (Some(0), 2));
        assert!(!rule.matches(&call("1.00"), || None));
    }

    #[test]
    fn ill_formed_rules_are_refused_naming_the_field() {
        let base = NewRule {
            description: String::new(),
            when: any_transfer(),
            respond: Respond::SystemError,
            delay: None,
            times: Some(2),
            probability: None,
        };
        let matched = |when: CallMatch| NewRule { when, ..base.clone() };
        let cases: Vec<(NewRule, &str)> = vec![
            (NewRule { times: Some(0), ..base.clone() }, "times"),
            (NewRule { probability: Some(1.5), ..base.clone() }, "probability"),
            (NewRule { delay: Some(Delay::Fixed { ms: DELAY_MS_MAX + 1 }), ..base.clone() }, "delay"),
            (NewRule { delay: Some(Delay::Lognormal { median_ms: 10, sigma: 4.0 }), ..base.clone() }, "delay.sigma"),
            (
                NewRule {
                    when: CallMatch {
                        amount_min: Some(money("2.00")),
                        amount_max: Some(money("1.00")),
                        ..any_transfer()
                    },
                    ..base.clone()
                },
                "match.amount_max",
            ),
            (
                NewRule { when: CallMatch { out_bill_no: Some("wd_x".into()), ..any_transfer() }, ..base.clone() },
                "match.out_bill_no",
            ),
            (
                NewRule {
                    respond: Respond::HttpError { status: 302, code: "X".into(), message: String::new() },
                    ..base.clone()
                },
                "respond.status",
            ),
            (
                NewRule {
                    respond: Respond::HttpError { status: 429, code: "slow down".into(), message: String::new() },
                    ..base.clone()
                },
                "respond.code",
            ),
            (
                NewRule {
                    when: CallMatch { operation: Operation::WeChatPayQuery, ..any_transfer() },
                    respond: Respond::Processing,
                    ..base.clone()
                },
                "respond.type",
            ),
            (
                NewRule { respond: Respond::ApiError { errcode: 40029, errmsg: String::new() }, ..base.clone() },
                "respond.type",
            ),
            (
                NewRule {
                    when: matching(Operation::WeChatOAuthAccessToken),
                    respond: Respond::ApiError { errcode: 0, errmsg: String::new() },
                    ..base.clone()
                },
                "respond.errcode",
            ),
            (
                matched(CallMatch { phone: Some("13800000001".into()), ..matching(Operation::WeChatPayTransfer) }),
                "match.phone",
            ),
            (matched(CallMatch { payee: Some("oPayee".into()), ..matching(Operation::SmsSend) }), "match.payee"),
            (
                matched(CallMatch { amount_min: Some(money("1.00")), ..matching(Operation::WeChatPayQuery) }),
                "match.amount_min",
            ),
            (matched(CallMatch { phone: Some("+86 138".into()), ..matching(Operation::SmsSend) }), "match.phone"),
            (matched(CallMatch { purpose: Some("Reset PIN".into()), ..matching(Operation::SmsSend) }), "match.purpose"),
        ];
        assert!(base.check().is_ok());
        for (rule, field) in cases {
            assert_eq!(rule.check().map_err(|error| error.field), Err(field), "{rule:?}");
        }
    }

    #[test]
    fn texts_and_profile_reads_match_on_their_own_fields() {
        let sms = transfer_rule(CallMatch { purpose: Some("reset_pin".into()), ..matching(Operation::SmsSend) });
        assert!(sms.matches(&ProviderCall::sms("13800000001", "reset_pin"), || None));
        assert!(!sms.matches(&ProviderCall::sms("13800000001", "set_pin"), || None));
        assert!(!sms.matches(&call("1.00"), || None));
        let phone = transfer_rule(CallMatch { phone: Some("13800000002".into()), ..matching(Operation::SmsSend) });
        assert!(!phone.matches(&ProviderCall::sms("13800000001", "reset_pin"), || None));
        let profile =
            transfer_rule(CallMatch { payee: Some("oUser".into()), ..matching(Operation::WeChatOAuthUserInfo) });
        assert!(profile.matches(&ProviderCall::profile_read("oUser"), || None));
        assert!(!profile.matches(&ProviderCall::profile_read("oOther"), || None));
        assert!(!profile.matches(&ProviderCall::code_exchange(), || None));
        let exchange = transfer_rule(matching(Operation::WeChatOAuthAccessToken));
        assert!(exchange.matches(&ProviderCall::code_exchange(), || None));
    }

    #[test]
    fn a_cancel_rule_matches_cancellations_of_its_bill_only() {
        let cancel =
            transfer_rule(CallMatch { out_bill_no: Some("WD1".into()), ..matching(Operation::WeChatPayCancel) });
        assert!(cancel.matches(&ProviderCall::bill_cancel("WD1"), || None));
        assert!(!cancel.matches(&ProviderCall::bill_cancel("WD2"), || None));
        assert!(!cancel.matches(&ProviderCall::bill_query("WD1"), || None));
        let amounts = CallMatch { amount_min: Some(money("1.00")), ..matching(Operation::WeChatPayCancel) };
        let refused = NewRule {
            description: String::new(),
            when: amounts,
            respond: Respond::SystemError,
            delay: None,
            times: None,
            probability: None,
        };
        assert_eq!(refused.check().map_err(|error| error.field), Err("match.amount_min"));
    }

    #[test]
    fn every_operation_reads_and_writes_its_documented_name() {
        for operation in [
            Operation::WeChatPayTransfer,
            Operation::WeChatPayQuery,
            Operation::WeChatPayCancel,
            Operation::WeChatOAuthAccessToken,
            Operation::WeChatOAuthUserInfo,
            Operation::SmsSend,
        ] {
            let json = serde_json::to_value(operation).unwrap();
            assert_eq!(json, operation.as_str());
            assert_eq!(serde_json::from_value::<Operation>(json).unwrap(), operation);
        }
    }

    #[test]
    fn magic_amounts_answer_payouts_only() {
        let forced = magic_answer(&call("91.01")).unwrap();
        assert_eq!(forced.rule, "magic:91.01");
        assert_eq!(forced.respond, Respond::Fail { fail_reason: FailReason::AccountFrozen });
        assert_eq!(magic_answer(&call("92.03")).unwrap().delay, MAGIC_TIMEOUT);
        assert_eq!(magic_answer(&call("92.01")).unwrap().respond, Respond::Processing);
        assert_eq!(
            magic_answer(&call("91.06")).unwrap().respond,
            Respond::Fail { fail_reason: FailReason::TransferRisk }
        );
        let short = magic_answer(&call("92.06")).unwrap().respond;
        assert!(matches!(short, Respond::HttpError { status: 403, ref code, .. } if code == "NOT_ENOUGH"), "{short:?}");
        assert!(magic_answer(&call("91.00")).is_none());
        let query = ProviderCall { operation: Operation::WeChatPayQuery, ..call("91.01") };
        assert!(magic_answer(&query).is_none());
    }

    #[test]
    fn rules_read_and_write_the_documented_json() {
        let json = serde_json::json!({
            "match": {"operation": "wechat_pay.transfer", "amount_min": "100.00"},
            "respond": {"type": "fault", "fault": "connection_reset"},
            "delay": {"type": "lognormal", "median_ms": 200, "sigma": 0.5},
            "times": 2
        });
        let rule: NewRule = serde_json::from_value(json).unwrap();
        assert_eq!(rule.respond, Respond::Fault { fault: Fault::ConnectionReset });
        assert_eq!(rule.when.amount_min, Some(money("100.00")));
        let unknown = serde_json::json!({"match": {"operation": "wechat_pay.transfer", "payer": "x"}, "respond": {"type": "processing"}});
        assert!(serde_json::from_value::<NewRule>(unknown).is_err());
    }

    #[test]
    fn a_lognormal_delay_has_its_median_at_zero() {
        let delay = Delay::Lognormal { median_ms: 300, sigma: 0.5 };
        assert_eq!(delay.sample(0.0), Duration::from_millis(300));
        assert!(delay.sample(1.0) > Duration::from_millis(300));
        assert!(delay.sample(-1.0) < Duration::from_millis(300));
        assert_eq!(Delay::Fixed { ms: 1500 }.sample(2.0), Duration::from_millis(1500));
    }

    proptest! {
        #[test]
        fn delays_stay_within_their_cap(median_ms in 0u64..=DELAY_MS_MAX, sigma in 0.0f64..=3.0, u1 in 0.0f64..=1.0, u2 in 0.0f64..=1.0) {
            let z = standard_normal(u1, u2);
            prop_assert!(z.is_finite());
            let waited = Delay::Lognormal { median_ms, sigma }.sample(z);
            prop_assert!(waited <= Duration::from_millis(DELAY_MS_MAX));
        }
    }
}
