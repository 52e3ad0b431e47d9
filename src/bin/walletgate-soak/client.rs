//! The harness's HTTP side: every request it sends goes through `Api::send`,
//! which records it in the `History` (who sent it, for which accounts, to
//! which gateway, when, and what came back), so a broken invariant can be
//! shown with the operations that led to it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::Value;
use walletgate::domain::rsa2;
use walletgate::domain::wechatpay_sign::{MerchantKey, Request as SignedRequest};

/// Longest wait for one reply; a paused gateway or Redis answers after
/// the pause, or the request counts as an unknown outcome.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// How much of a reply body the history keeps.
const KEPT_BODY_CHARS: usize = 300;

/// What a request came back with.
#[derive(Debug, Clone)]
pub struct Reply {
    /// `None` when no answer came (connection refused or reset, time-out).
    pub status: Option<u16>,
    pub body: Value,
    /// `Location`, for the consent form's redirect.
    pub location: Option<String>,
    /// `Idempotent-Replayed: true`.
    pub replayed: bool,
    pub seq: u64,
}

impl Reply {
    /// An answer that says nothing about the outcome: no answer at all, or
    /// the store (or a proxy) unavailable. The request may or may not have
    /// taken effect.
    pub fn unknown(&self) -> bool {
        matches!(self.status, None | Some(502..=504))
    }

    pub fn is(&self, status: u16) -> bool {
        self.status == Some(status)
    }

    pub fn code(&self) -> Option<&str> {
        self.body["error"]["code"].as_str()
    }

    /// `202`, `422 PIN_INCORRECT`, `unknown`: the class counted in the summary.
    pub fn class(&self) -> String {
        match (self.status, self.code()) {
            (None, _) => "unknown (no answer)".into(),
            (Some(status @ 502..=504), code) => format!("unknown ({status} {})", code.unwrap_or("")),
            (Some(status), Some(code)) => format!("{status} {code}"),
            (Some(status), None) => status.to_string(),
        }
    }
}

/// Who sends a request and what it concerns.
#[derive(Debug, Clone)]
pub struct Meta {
    pub op: &'static str,
    pub client: usize,
    /// The accounts (by phone) the request concerns.
    pub accounts: Vec<String>,
    pub gateway: usize,
}

impl Meta {
    pub fn new(op: &'static str, client: usize, accounts: &[&str], gateway: usize) -> Meta {
        Meta { op, client, accounts: accounts.iter().map(|a| (*a).to_owned()).collect(), gateway }
    }
}

/// One request of the run, as the history keeps it.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub seq: u64,
    pub client: usize,
    pub op: &'static str,
    pub accounts: Vec<String>,
    pub gateway: usize,
    pub request: String,
    pub started_ms: u64,
    pub ended_ms: u64,
    pub outcome: String,
    pub response: String,
}

/// Every request of the run, in the order they were answered, and counts by operation and outcome.
#[derive(Debug)]
pub struct History {
    started: Instant,
    records: Mutex<Vec<Recorded>>,
    counts: Mutex<BTreeMap<(&'static str, String), u64>>,
}

impl History {
    pub fn new() -> History {
        History { started: Instant::now(), records: Mutex::new(Vec::new()), counts: Mutex::new(BTreeMap::new()) }
    }

    pub fn elapsed_ms(&self) -> u64 {
        self.started.elapsed().as_millis() as u64
    }

    fn record(&self, mut record: Recorded, class: String) -> u64 {
        *self.counts.lock().expect("counts lock").entry((record.op, class)).or_default() += 1;
        // The lock guards a push only; nothing awaits while holding it.
        let mut records = self.records.lock().expect("history lock");
        record.seq = records.len() as u64;
        let seq = record.seq;
        records.push(record);
        seq
    }

    pub fn counts(&self) -> BTreeMap<(&'static str, String), u64> {
        self.counts.lock().expect("counts lock").clone()
    }

    /// The requests concerning any of `accounts`, in order.
    pub fn about(&self, accounts: &[String]) -> Vec<Recorded> {
        let records = self.records.lock().expect("history lock");
        records.iter().filter(|r| r.accounts.iter().any(|a| accounts.contains(a))).cloned().collect()
    }

    /// The requests of the given numbers.
    pub fn by_seq(&self, seqs: &[u64]) -> Vec<Recorded> {
        let records = self.records.lock().expect("history lock");
        seqs.iter().filter_map(|&seq| records.get(seq as usize).cloned()).collect()
    }

    pub fn len(&self) -> usize {
        self.records.lock().expect("history lock").len()
    }
}

/// The gateways' addresses and two HTTP clients (one follows no redirects, as the consent step needs).
#[derive(Debug)]
pub struct Api {
    http: reqwest::Client,
    pub gateways: Vec<String>,
    pub history: History,
}

/// A request to send: method, path (or full URL), bearer token, JSON body, headers.
pub struct Request<'a> {
    pub method: Method,
    pub path: &'a str,
    pub token: Option<&'a str>,
    pub body: Option<Body>,
    pub headers: Vec<(&'static str, String)>,
}

pub enum Body {
    Json(Value),
    Form(Vec<(String, String)>),
}

impl<'a> Request<'a> {
    pub fn get(path: &'a str, token: Option<&'a str>) -> Request<'a> {
        Request { method: Method::GET, path, token, body: None, headers: Vec::new() }
    }

    pub fn json(method: Method, path: &'a str, token: Option<&'a str>, body: Value) -> Request<'a> {
        Request { method, path, token, body: Some(Body::Json(body)), headers: Vec::new() }
    }
}

impl Api {
    pub fn new(gateways: Vec<String>) -> anyhow::Result<Api> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .pool_max_idle_per_host(64)
            .build()?;
        Ok(Api { http, gateways, history: History::new() })
    }

    /// Sends a request to `meta.gateway` (or to a full URL) and records it.
    /// The mock WeChat Pay's merchant, as an SDK is configured with it: its
    /// key as `GET /mock/wechat/keys` publishes it.
    pub async fn merchant_key(&self, meta: &Meta) -> anyhow::Result<MerchantKey> {
        let keys = self.send(meta, Request::get("/mock/wechat/keys", None)).await;
        let text = |field: &str| {
            keys.body[field]
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow::anyhow!("GET /mock/wechat/keys: no {field}: {}", keys.body))
        };
        Ok(MerchantKey {
            mchid: text("mchid")?,
            serial_no: text("merchant_serial_no")?,
            private_key: rsa2::private_key(&text("merchant_private_key")?)
                .map_err(|error| anyhow::anyhow!("GET /mock/wechat/keys: {error}"))?,
        })
    }

    /// `method` of the mock WeChat Pay's `url` (`/v3/...`), without a body,
    /// signed now as its `merchant`.
    pub async fn as_merchant(&self, meta: &Meta, merchant: &MerchantKey, method: Method, url: &str) -> Reply {
        let nonce = format!("{:032X}", rand::random::<u128>());
        // The wall clock, not the business one: the mock checks a merchant's
        // signature time as WeChat Pay does, against its own clock.
        let now = chrono::Utc::now().timestamp();
        let signed = merchant.authorize(SignedRequest { method: method.as_str(), url, body: b"" }, now, &nonce);
        let path = format!("/mock/wechat{url}");
        let request =
            Request { method, path: &path, token: None, body: None, headers: vec![("authorization", signed.header())] };
        self.send(meta, request).await
    }

    pub async fn send(&self, meta: &Meta, request: Request<'_>) -> Reply {
        let url = if request.path.starts_with("http") {
            request.path.to_owned()
        } else {
            format!("{}{}", self.gateways[meta.gateway % self.gateways.len()], request.path)
        };
        let summary = summarize(&request);
        let started_ms = self.history.elapsed_ms();
        let mut builder = self.http.request(request.method.clone(), &url);
        if let Some(token) = request.token {
            builder = builder.bearer_auth(token);
        }
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        builder = match request.body {
            Some(Body::Json(body)) => builder.json(&body),
            Some(Body::Form(form)) => builder.form(&form),
            None => builder,
        };
        let (status, body, location, replayed, text) = match builder.send().await {
            Ok(response) => {
                let status = response.status().as_u16();
                let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
                let location = header("location");
                let replayed = header("idempotent-replayed").as_deref() == Some("true");
                match response.text().await {
                    Ok(text) => {
                        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
                        (Some(status), body, location, replayed, text)
                    }
                    Err(error) => (None, Value::Null, None, false, format!("body lost: {error}")),
                }
            }
            Err(error) => (None, Value::Null, None, false, format!("{error}")),
        };
        let mut reply = Reply { status, body, location, replayed, seq: 0 };
        let class = reply.class();
        let outcome = if replayed { format!("{class} (replayed)") } else { class.clone() };
        let record = Recorded {
            seq: 0,
            client: meta.client,
            op: meta.op,
            accounts: meta.accounts.clone(),
            gateway: meta.gateway % self.gateways.len(),
            request: format!("{} {url} {summary}", request.method),
            started_ms,
            ended_ms: self.history.elapsed_ms(),
            outcome,
            response: text.chars().take(KEPT_BODY_CHARS).collect(),
        };
        reply.seq = self.history.record(record, class);
        reply
    }

    /// Reads a stream (the SSE event stream) until it has been quiet for
    /// `idle`, or `total` has passed; not recorded (it is only read at the end).
    pub async fn read_stream(
        &self,
        gateway: usize,
        path: &str,
        token: &str,
        idle: Duration,
        total: Duration,
    ) -> Option<String> {
        let url = format!("{}{path}", self.gateways[gateway % self.gateways.len()]);
        let mut response = self.http.get(url).bearer_auth(token).timeout(total).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        let deadline = Instant::now() + total;
        let mut text = String::new();
        while Instant::now() < deadline {
            match tokio::time::timeout(idle, response.chunk()).await {
                Ok(Ok(Some(chunk))) => text.push_str(&String::from_utf8_lossy(&chunk)),
                Ok(Ok(None)) | Ok(Err(_)) | Err(_) => break,
            }
        }
        Some(text)
    }
}

/// The request as one line: its body with secrets left in (they are the
/// harness's own test values, and replaying needs them).
fn summarize(request: &Request<'_>) -> String {
    let headers: Vec<String> = request.headers.iter().map(|(name, value)| format!("{name}: {value}")).collect();
    let body = match &request.body {
        Some(Body::Json(body)) => body.to_string(),
        Some(Body::Form(form)) => form.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&"),
        None => String::new(),
    };
    format!("{} {body}", headers.join(" ")).trim().to_owned()
}

/// Yuan as a decimal string ("-12.30") to fen.
pub fn fen(text: &str) -> Option<i64> {
    units(text, 2)
}

/// Fen as yuan, two places.
pub fn yuan(fen: i64) -> String {
    decimal(fen, 2)
}

/// A decimal string with at most `places` places ("-1.5", "0.000001") as
/// whole units of the last place (USDT's micro-units at 6 places).
pub fn units(text: &str, places: u32) -> Option<i64> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    let all_digits = |part: &str| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit());
    if !all_digits(whole) || !all_digits(fraction) || fraction.len() > places as usize {
        return None;
    }
    let scale = 10_i64.checked_pow(places)?;
    let padded = format!("{fraction:0<width$}", width = places as usize);
    let fraction = if places == 0 { 0 } else { padded.parse::<i64>().ok()? };
    let value = whole.parse::<i64>().ok()?.checked_mul(scale)?.checked_add(fraction)?;
    Some(if negative { -value } else { value })
}

/// Units of the last of `places` places as a decimal string.
pub fn decimal(units: i64, places: u32) -> String {
    let sign = if units < 0 { "-" } else { "" };
    let scale = 10_u64.pow(places);
    let (whole, fraction) = (units.unsigned_abs() / scale, units.unsigned_abs() % scale);
    if places == 0 {
        return format!("{sign}{whole}");
    }
    format!("{sign}{whole}.{fraction:0width$}", width = places as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_and_print_at_their_places() {
        assert_eq!(fen("-12.3"), Some(-1230));
        assert_eq!(units("12.345678", 6), Some(12_345_678));
        assert_eq!(units("0.000001", 6), Some(1));
        assert_eq!(units("1.2345678", 6), None);
        assert_eq!(units("1.", 2), None);
        assert_eq!(units("1.-2", 2), None);
        assert_eq!(decimal(12_345_678, 6), "12.345678");
        assert_eq!(decimal(-5, 2), "-0.05");
        assert_eq!(yuan(100), "1.00");
    }
}
