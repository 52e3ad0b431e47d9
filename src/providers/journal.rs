//! The simulator's request journal, WireMock-style: every call to a mock
//! provider — the mock WeChat's OAuth, users and WeChat Pay transfer bills,
//! the mock Alipay's gateway, consent page and users, and SMS sends — with
//! its request, its answer, its latency, when it happened (business clock)
//! and the rule that decided it, newest first.
//!
//! Calls arrive two ways and are told apart by `transport`: over HTTP
//! (`routes::mock_journal` records each `/mock/wechat/*` request in a
//! middleware) and in-process, where the gateway calls a mock directly (the
//! built-in WeChat client, the built-in payouts, the SMS outbox), recorded
//! at that API boundary under the path the same call has over HTTP. Reading
//! the SMS outbox is looking at the phone, not calling the provider, and is
//! not recorded (mockups poll it; it would push real calls out).
//!
//! Entries live in one capped log of the store, shared by every gateway on
//! it, bounded by `simulator.journal_keep`. Bodies are kept up to
//! `simulator.journal_body_bytes_max` bytes each, after secrets are masked:
//! the app secret, access and refresh tokens, PINs and passwords (codes are
//! simulator test values and stay readable). A journal that cannot write
//! logs a warning and never fails the call it records.
//!
//! The hook for forced outcomes: whatever decides a call by a rule calls
//! `note_matched_rule` while the call runs (the mock WeChat Pay does, for
//! every rule and magic amount it consults); the journal then records the
//! rule as `matched_rule` (null otherwise), for both transports. A rule's
//! broken connection is noted the same way (`note_fault`).

use std::cell::RefCell;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::clock::SharedClock;
use crate::settings::SimulatorSettings;
use crate::store::{SharedStore, StoreError};

/// The store's capped log of the journal.
pub const JOURNAL_LOG: &str = "mock_requests";
/// Fields (JSON keys, form and query names) whose values are masked.
pub const MASKED_FIELDS: &[&str] =
    &["secret", "app_secret", "access_token", "refresh_token", "auth_token", "pin", "old_pin", "new_pin", "password"];
/// Where the mock Alipay's keys are read (not journaled).
pub const ALIPAY_KEYS_PATH: &str = "/mock/alipay/keys";
/// Where the mock WeChat Pay's keys are read, and requests signed for tools
/// without RSA (not journaled: a signature there could be replayed).
pub const WECHAT_PAY_TOOL_PATHS: [&str; 2] = ["/mock/wechat/keys", "/mock/wechat/sign"];
/// What a masked value is replaced with (as logged URLs show it).
pub const REDACTED: &str = "[redacted]";
/// Entries read from the store at a time while looking for a page.
const READ_BATCH: usize = 200;
/// Most entries one page request looks at; a page may then come back short,
/// with a cursor that goes on from where the look stopped.
pub const SCAN_MAX: usize = 2_000;

/// Which mock provider a call went to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "wechat_pay")]
pub enum MockProvider {
    /// The mock WeChat: OAuth (authorize, consent, `sns/*`) and its users.
    Wechat,
    /// The mock WeChat Pay: transfer bills.
    WechatPay,
    /// The mock SMS gateway: messages put into the outbox.
    Sms,
    /// The mock Alipay open platform: its gateway, consent page and users.
    Alipay,
}

impl MockProvider {
    /// The provider an HTTP request to this path calls, if it calls one.
    pub fn of_http_path(path: &str) -> Option<MockProvider> {
        if path.starts_with("/mock/alipay/") {
            // Reading the published keys is configuring a client, not calling the platform.
            (path != ALIPAY_KEYS_PATH).then_some(MockProvider::Alipay)
        } else if WECHAT_PAY_TOOL_PATHS.contains(&path) {
            // Configuring a client (or signing for one), not calling WeChat.
            None
        } else if path.starts_with("/mock/wechat/v3/") {
            Some(MockProvider::WechatPay)
        } else if path.starts_with("/mock/wechat/") {
            Some(MockProvider::Wechat)
        } else {
            None
        }
    }
}

/// How the call reached the mock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(example = "in_process")]
pub enum Transport {
    /// An HTTP request to `/mock/...`.
    Http,
    /// A direct call by the gateway (`wechat.client = "builtin"`, the
    /// worker's payouts, SMS sends): the values it passed, in the gateway's
    /// own shapes (amounts as yuan strings), under the HTTP path of the same call.
    InProcess,
    /// A notification the mock sent (a WeChat Pay transfer bill's
    /// `MCHTRANSFER.BILL.FINISHED` to its `notify_url`): the request is the
    /// POST it made, to the URL in `path`; the response is the receiver's answer.
    Notification,
}

/// The request side of a recorded call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "method": "GET", "path": "/mock/wechat/sns/oauth2/access_token",
    "query": "appid=wx8a3f5c7e2b9d1046&secret=[redacted]&code=Q2x5kTn8vR3wY7pL&grant_type=authorization_code",
    "body": null, "body_truncated": false
}))]
pub struct RecordedRequest {
    pub method: String,
    pub path: String,
    /// The query string, secrets masked; null without one.
    pub query: Option<String>,
    /// The body, secrets masked, cut at `simulator.journal_body_bytes_max`
    /// bytes; null when there was none, or (with `body_truncated`) when it
    /// was larger than the server accepts.
    pub body: Option<String>,
    /// Whether `body` was cut.
    pub body_truncated: bool,
}

/// The answer side of a recorded call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "status": 200, "body": "{\"out_bill_no\":\"0196a3c5e2b87d40a1f3c9e2d4b5a6c7\",\"state\":\"SUCCESS\"}",
    "body_truncated": false, "fault": null
}))]
pub struct RecordedResponse {
    /// The HTTP status, or for an in-process call the one the same answer
    /// has over HTTP; null when no answer came (a rule's timeout or reset
    /// connection over HTTP, any of a rule's faults in-process).
    pub status: Option<u16>,
    /// As the request's `body`.
    pub body: Option<String>,
    pub body_truncated: bool,
    /// The simulated fault a rule broke the call with (`timeout`,
    /// `connection_reset`, `malformed_body`, `empty_response`); null otherwise.
    #[schema(example = json!(null))]
    pub fault: Option<String>,
}

/// One call to a mock provider, as the journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "seq": 41, "at": "2026-03-01T09:30:05Z", "provider": "wechat_pay", "transport": "in_process",
    "request": {"method": "POST", "path": "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills", "query": null,
        "body": "{\"out_bill_no\":\"wd_0196a3c5e2b87d40a1f3c9e2d4b5a6c7\",\"amount\":\"100.00\"}",
        "body_truncated": false},
    "response": {"status": 200, "body": "{\"state\":\"SUCCESS\"}", "body_truncated": false, "fault": null},
    "latency_ms": 3, "matched_rule": null
}))]
pub struct MockCall {
    /// The entry's position in the journal: newer entries have larger ones,
    /// and a clear does not restart them.
    #[serde(default)]
    pub seq: u64,
    /// When the call started, by the business clock.
    pub at: DateTime<Utc>,
    pub provider: MockProvider,
    pub transport: Transport,
    pub request: RecordedRequest,
    pub response: RecordedResponse,
    /// Wall time the call took, in milliseconds.
    pub latency_ms: u64,
    /// The simulator rule (`rule_…`) or magic amount (`magic:92.04`) that
    /// shaped the answer, as the `x-walletgate-sim-rule` header names it;
    /// null when the mock answered by itself.
    #[schema(example = json!(null))]
    pub matched_rule: Option<String>,
}

/// Which entries a reader wants; every given part must match.
#[derive(Debug, Clone, Default)]
pub struct JournalFilter {
    pub provider: Option<MockProvider>,
    pub path_prefix: Option<String>,
    /// Calls at or after this business time.
    pub since: Option<DateTime<Utc>>,
}

impl JournalFilter {
    fn matches(&self, call: &MockCall) -> bool {
        self.provider.is_none_or(|provider| provider == call.provider)
            && self.path_prefix.as_deref().is_none_or(|prefix| call.request.path.starts_with(prefix))
            && self.since.is_none_or(|since| call.at >= since)
    }
}

/// A call about to be made: what to record besides its answer.
#[derive(Debug, Clone)]
pub struct CallStart {
    pub provider: MockProvider,
    pub transport: Transport,
    pub method: String,
    pub path: String,
    /// Unmasked; `finish` masks it.
    pub query: Option<String>,
    /// Unmasked, whole; `finish` masks and cuts it.
    pub body: Option<Vec<u8>>,
    /// The body was over what may be copied: kept as none, marked cut (a
    /// part of a body could not be masked safely).
    pub body_too_large: bool,
    at: DateTime<Utc>,
    started: Instant,
}

/// The answer of a call, unmasked and whole.
#[derive(Debug, Clone)]
pub struct CallAnswer {
    /// None: no answer came.
    pub status: Option<u16>,
    pub body: Option<Vec<u8>>,
    pub fault: Option<String>,
}

impl CallAnswer {
    /// A status and a JSON body.
    pub fn json(status: u16, body: &impl Serialize) -> CallAnswer {
        CallAnswer { status: Some(status), body: serde_json::to_vec(body).ok(), fault: None }
    }

    /// A status and no body.
    pub fn status(status: u16) -> CallAnswer {
        CallAnswer { status: Some(status), body: None, fault: None }
    }

    /// No answer: the connection broke with `fault`.
    pub fn broken(fault: &str) -> CallAnswer {
        CallAnswer { status: None, body: None, fault: Some(fault.to_owned()) }
    }
}

/// What whoever answers a call noted while it ran.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallNotes {
    pub matched_rule: Option<String>,
    /// The fault, and whether an answer still reached the caller.
    pub fault: Option<(String, bool)>,
}

/// Entries read for a page, and where the look stopped if it stopped early.
#[derive(Debug)]
pub struct ScannedCalls {
    pub calls: Vec<MockCall>,
    pub stopped_at: Option<u64>,
}

/// The journal; `off` records nothing (the simulator is off, or `journal_keep = 0`).
#[derive(Debug, Clone)]
pub struct RequestJournal {
    inner: Option<Arc<JournalInner>>,
}

#[derive(Debug)]
struct JournalInner {
    store: SharedStore,
    clock: SharedClock,
    keep: usize,
    body_bytes_max: usize,
}

impl RequestJournal {
    /// The journal of the simulator as configured.
    pub fn new(store: SharedStore, clock: SharedClock, settings: &SimulatorSettings) -> RequestJournal {
        let on = settings.enabled && settings.journal_keep > 0;
        let inner =
            JournalInner { store, clock, keep: settings.journal_keep, body_bytes_max: settings.journal_body_bytes_max };
        RequestJournal { inner: on.then(|| Arc::new(inner)) }
    }

    /// A journal that records nothing.
    pub fn off() -> RequestJournal {
        RequestJournal { inner: None }
    }

    pub fn is_on(&self) -> bool {
        self.inner.is_some()
    }

    /// How much of a body the journal keeps (0 when off): a caller reading
    /// a body only to record it needs no more than one byte beyond this.
    pub fn body_bytes_max(&self) -> usize {
        self.inner.as_ref().map_or(0, |inner| inner.body_bytes_max)
    }

    /// Notes the start of a call (its business time and the wall clock).
    pub fn start(&self, provider: MockProvider, transport: Transport, method: &str, path: &str) -> CallStart {
        let at = self.inner.as_ref().map_or(DateTime::<Utc>::UNIX_EPOCH, |inner| inner.clock.now());
        CallStart {
            provider,
            transport,
            method: method.to_owned(),
            path: path.to_owned(),
            query: None,
            body: None,
            body_too_large: false,
            at,
            started: Instant::now(),
        }
    }

    /// Records a finished call; a store failure is logged, never returned.
    pub async fn finish(&self, start: CallStart, mut answer: CallAnswer, notes: CallNotes) {
        let Some(inner) = &self.inner else { return };
        if let Some((fault, answered)) = notes.fault {
            answer.fault = Some(fault);
            if !answered {
                (answer.status, answer.body) = (None, None);
            }
        }
        let cut = |body: Option<Vec<u8>>| kept_body(body.as_deref(), inner.body_bytes_max);
        let (request_body, request_truncated) = if start.body_too_large { (None, true) } else { cut(start.body) };
        let (response_body, response_truncated) = cut(answer.body);
        let call = MockCall {
            seq: 0,
            at: start.at,
            provider: start.provider,
            transport: start.transport,
            request: RecordedRequest {
                method: start.method,
                path: start.path,
                query: start.query.as_deref().map(masked_query),
                body: request_body,
                body_truncated: request_truncated,
            },
            response: RecordedResponse {
                status: answer.status,
                body: response_body,
                body_truncated: response_truncated,
                fault: answer.fault,
            },
            latency_ms: u64::try_from(start.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            matched_rule: notes.matched_rule,
        };
        let written = match serde_json::to_string(&call) {
            Ok(text) => inner.store.append_capped_log(JOURNAL_LOG, &text, inner.keep).await.map(drop),
            Err(error) => Err(StoreError::Corrupt { key: JOURNAL_LOG.into(), reason: error.to_string() }),
        };
        if let Err(error) = written {
            tracing::warn!(%error, path = %call.request.path, "could not record a mock call in the journal");
        }
    }

    /// Runs an in-process call to a mock and records it: the request that
    /// `request` describes (its method, HTTP path, query and body), the
    /// answer `answer` makes of the call's result, the rule noted meanwhile.
    /// Off, only the call runs.
    pub async fn in_process<T>(
        &self,
        provider: MockProvider,
        request: impl FnOnce(&mut CallStart),
        call: impl Future<Output = T>,
        answer: impl FnOnce(&T) -> CallAnswer,
    ) -> T {
        if !self.is_on() {
            return call.await;
        }
        let mut start = self.start(provider, Transport::InProcess, "GET", "");
        request(&mut start);
        let (result, notes) = with_call_notes(call).await;
        self.finish(start, answer(&result), notes).await;
        result
    }

    /// Up to `wanted` entries matching `filter` below position `before`
    /// (or from the newest), newest first, looking at no more than `SCAN_MAX`.
    pub async fn scan(
        &self,
        filter: &JournalFilter,
        mut before: Option<u64>,
        wanted: usize,
    ) -> Result<ScannedCalls, StoreError> {
        let Some(inner) = &self.inner else { return Ok(ScannedCalls { calls: Vec::new(), stopped_at: None }) };
        let (mut calls, mut looked_at) = (Vec::new(), 0);
        loop {
            let batch = inner.store.read_capped_log(JOURNAL_LOG, before, READ_BATCH).await?;
            if batch.is_empty() {
                return Ok(ScannedCalls { calls, stopped_at: None });
            }
            for entry in batch {
                let mut call: MockCall = serde_json::from_str(&entry.body).map_err(|e| StoreError::Corrupt {
                    key: format!("{JOURNAL_LOG}#{}", entry.seq),
                    reason: e.to_string(),
                })?;
                call.seq = entry.seq;
                before = Some(entry.seq);
                looked_at += 1;
                if filter.matches(&call) {
                    calls.push(call);
                    if calls.len() == wanted {
                        return Ok(ScannedCalls { calls, stopped_at: None });
                    }
                }
                if looked_at == SCAN_MAX {
                    return Ok(ScannedCalls { calls, stopped_at: before.filter(|seq| *seq > 0) });
                }
            }
        }
    }

    /// Drops every entry (positions go on counting).
    pub async fn clear(&self) -> Result<(), StoreError> {
        match &self.inner {
            Some(inner) => inner.store.clear_capped_log(JOURNAL_LOG).await,
            None => Ok(()),
        }
    }
}

tokio::task_local! {
    static NOTES: RefCell<CallNotes>;
}

/// Tells the journal that the rule `rule_id` decided the call under way: the
/// entry of that call records it as `matched_rule`. To be called by whatever
/// applies rules to a mock's answer, on the task the call runs on (HTTP
/// handler or in-process call); outside a journaled call it does nothing.
pub fn note_matched_rule(rule_id: &str) {
    let _ = NOTES.try_with(|notes| notes.borrow_mut().matched_rule = Some(rule_id.to_owned()));
}

/// Tells the journal that a rule broke the call under way with `fault`,
/// and whether an answer (a malformed or empty body) still reached the
/// caller; without one the entry records no status and no body.
pub fn note_fault(fault: &str, answered: bool) {
    let _ = NOTES.try_with(|notes| notes.borrow_mut().fault = Some((fault.to_owned(), answered)));
}

/// Runs `call`, returning its output and what was noted while it ran.
pub async fn with_call_notes<F: Future>(call: F) -> (F::Output, CallNotes) {
    NOTES
        .scope(RefCell::new(CallNotes::default()), async move {
            let output = call.await;
            (output, NOTES.with(|notes| notes.take()))
        })
        .await
}

/// A body as kept: secrets masked (JSON and form bodies), as text, cut to
/// `bytes_max` at a character boundary; with whether it was cut.
fn kept_body(body: Option<&[u8]>, bytes_max: usize) -> (Option<String>, bool) {
    let Some(body) = body.filter(|body| !body.is_empty()) else { return (None, false) };
    let text = masked_body(body);
    if text.len() <= bytes_max {
        return (Some(text), false);
    }
    let mut end = bytes_max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    (Some(text[..end].to_owned()), true)
}

fn is_masked(name: &str) -> bool {
    MASKED_FIELDS.iter().any(|masked| masked.eq_ignore_ascii_case(name))
}

/// A JSON body with masked values at masked keys (at any depth), a form
/// body with masked values of masked names, anything else as (lossy) text.
fn masked_body(body: &[u8]) -> String {
    if let Ok(mut json) = serde_json::from_slice::<Value>(body)
        && mask_json(&mut json)
    {
        return json.to_string();
    }
    let text = String::from_utf8_lossy(body);
    let looks_like_a_form = !text.contains(char::is_whitespace) && text.contains('=');
    if looks_like_a_form { masked_query(&text) } else { text.into_owned() }
}

/// Masks the values of masked keys at any depth; whether any was. (A body
/// with none is kept as sent, not re-serialised.)
fn mask_json(value: &mut Value) -> bool {
    let mut masked = false;
    match value {
        Value::Object(fields) => {
            for (name, value) in fields.iter_mut() {
                if is_masked(name) && !value.is_null() {
                    *value = Value::String(REDACTED.to_owned());
                    masked = true;
                } else {
                    masked |= mask_json(value);
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                masked |= mask_json(item);
            }
        }
        _ => {}
    }
    masked
}

/// `name=value&…` with the values of masked names replaced, names as written.
pub fn masked_query(query: &str) -> String {
    query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if url::form_urlencoded::parse(name.as_bytes()).any(|(n, _)| is_masked(&n)) => {
                format!("{name}={REDACTED}")
            }
            _ => pair.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// A URL the journal records whole (a notification's `notify_url`), with a
/// password in it masked.
pub fn masked_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some(REDACTED));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A notify_url's password never reaches the request journal.
    #[test]
    fn a_password_in_the_notify_url_is_masked_in_the_journal() {
        let shown = masked_url("https://merchant:s3cret@pay.example.com/notify");
        assert_eq!(shown, "https://merchant:%5Bredacted%5D@pay.example.com/notify");
        assert!(!shown.contains("s3cret"));
        let plain = "http://127.0.0.1:8080/v1/callbacks/wechat-pay/transfer-bills";
        assert_eq!(masked_url(plain), plain);
    }

    #[test]
    fn secrets_are_masked_in_json_forms_and_queries_and_codes_are_kept() {
        let json = br#"{"appid":"wx1","secret":"s3","nested":[{"pin":"123456","code":"c0de"}],"password":null}"#;
        assert_eq!(
            masked_body(json),
            r#"{"appid":"wx1","nested":[{"code":"c0de","pin":"[redacted]"}],"password":null,"secret":"[redacted]"}"#
        );
        assert_eq!(
            masked_query("appid=wx1&SECRET=s3&code=c0de&access_%74oken=t&lang=zh_CN"),
            "appid=wx1&SECRET=[redacted]&code=c0de&access_%74oken=[redacted]&lang=zh_CN"
        );
        assert_eq!(
            masked_body(b"action=allow&password=x&nickname=%E5%B0%8F"),
            "action=allow&password=[redacted]&nickname=%E5%B0%8F"
        );
        assert_eq!(masked_body(b"<html>a = b</html>"), "<html>a = b</html>");
        assert_eq!(masked_body(br#"{"b": 1,  "a": 2}"#), r#"{"b": 1,  "a": 2}"#, "kept as sent when nothing is masked");
    }

    #[test]
    fn bodies_are_cut_at_a_character_boundary() {
        assert_eq!(kept_body(None, 4), (None, false));
        assert_eq!(kept_body(Some(b""), 4), (None, false));
        assert_eq!(kept_body(Some("小明".as_bytes()), 6), (Some("小明".into()), false));
        assert_eq!(kept_body(Some("小明".as_bytes()), 5), (Some("小".into()), true));
        assert_eq!(kept_body(Some(b"abcdef"), 4), (Some("abcd".into()), true));
    }

    #[test]
    fn http_paths_name_their_provider() {
        assert_eq!(MockProvider::of_http_path("/mock/wechat/v3/fund-app/x"), Some(MockProvider::WechatPay));
        assert_eq!(MockProvider::of_http_path("/mock/wechat/sns/auth"), Some(MockProvider::Wechat));
        assert_eq!(MockProvider::of_http_path("/mock/wechat/users"), Some(MockProvider::Wechat));
        assert_eq!(MockProvider::of_http_path("/mock/alipay/gateway.do"), Some(MockProvider::Alipay));
        assert_eq!(MockProvider::of_http_path("/mock/alipay/users"), Some(MockProvider::Alipay));
        for other in ["/mock/sms/outbox", "/mock/requests", "/v1/wallet", "/mock/wechatx", "/mock/alipay/keys"] {
            assert_eq!(MockProvider::of_http_path(other), None, "{other}");
        }
    }

    #[tokio::test]
    async fn what_is_noted_during_a_call_is_returned_with_its_output() {
        let (output, notes) = with_call_notes(async {
            note_matched_rule("rule_1");
            note_fault("timeout", false);
            7
        })
        .await;
        assert_eq!(output, 7);
        assert_eq!(notes, CallNotes { matched_rule: Some("rule_1".into()), fault: Some(("timeout".into(), false)) });
        assert_eq!(with_call_notes(async { 8 }).await, (8, CallNotes::default()));
        note_matched_rule("outside a call: ignored");
    }
}
