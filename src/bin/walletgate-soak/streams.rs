//! Live event streams (invariant 21). A few listeners hold `GET /v1/events`
//! open for the whole run, each on a gateway of its own, for an account the
//! workload made, and follow it through the faults as a browser's
//! `EventSource` does: when the stream drops (its gateway killed, Redis
//! gone) they reconnect with `Last-Event-ID` of the last event they heard.
//!
//! After the other invariants, each listener's events are compared with
//! what its account's stream holds: heard in order, each once, none missed,
//! none the stream does not hold. Then a small transfer to each watched
//! account is sent through another gateway than its listener's, and its
//! `transfer.received` must be heard within `PROMPT`: far less than the
//! stream's 15 s heartbeat, after which a stream re-reads the store by
//! itself, so only the wake-up the committing gateway sends to the others
//! (also after Redis was killed and came back) delivers it in time.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use tokio::task::JoinHandle;

use crate::client::{Api, Meta, Request};
use crate::invariants::{Checked, STREAMS};
use crate::world::{Known, World, snapshot};

/// Accounts listened to: the first ones the workload registers.
const LISTENERS: usize = 4;
/// How soon an event made on another gateway must be heard.
const PROMPT: Duration = Duration::from_secs(5);
/// How long a listener waits before reconnecting (a browser waits the `retry:` the stream names, 2 s).
const RECONNECT_AFTER: Duration = Duration::from_millis(250);
/// How long the end of the run waits for a listener to be connected again.
const RECONNECTED_WITHIN: Duration = Duration::from_secs(15);
/// Senders tried for one account's ping.
const SENDERS_TRIED: usize = 12;

/// One event as a listener heard it.
#[derive(Debug, Clone)]
pub struct Heard {
    /// Its stream position (`<ms>-<seq>`), the SSE `id:`.
    pub id: String,
    /// The `data:` line, JSON.
    pub data: String,
    pub at: Instant,
}

/// What one listener heard, and how its connections went.
#[derive(Debug, Default)]
pub struct Listened {
    pub phone: Option<String>,
    pub account_id: Option<String>,
    /// The access token it listens with, once it could log in.
    pub token: Option<String>,
    pub heard: Vec<Heard>,
    /// Streams opened (answered 200).
    pub opened: u64,
    /// Whether a stream is open now.
    pub connected: bool,
}

/// What the listeners heard, for the report.
#[derive(Debug, Default)]
pub struct StreamCounts {
    pub listeners: usize,
    pub heard: usize,
    /// Streams opened again after one dropped.
    pub reconnects: u64,
    pub pinged: usize,
    /// The slowest ping, from the transfer's answer to its event heard.
    pub slowest_ping: Option<Duration>,
}

/// The listeners' tasks and what they heard.
pub struct Listeners {
    listened: Vec<Arc<Mutex<Listened>>>,
    gateways: usize,
    stop: Arc<AtomicBool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Listeners {
    /// Starts the listeners: listener `i` waits for the workload's `i`-th
    /// account and listens on gateway `i` (of as many as there are).
    pub fn start(api: Arc<Api>, world: Arc<World>) -> anyhow::Result<Listeners> {
        let http = reqwest::Client::builder().connect_timeout(Duration::from_secs(2)).build()?;
        let stop = Arc::new(AtomicBool::new(false));
        let gateways = api.gateways.len();
        let listened: Vec<_> = (0..LISTENERS).map(|_| Arc::new(Mutex::new(Listened::default()))).collect();
        let tasks = listened
            .iter()
            .enumerate()
            .map(|(index, listened)| {
                let listener = Listener {
                    api: api.clone(),
                    world: world.clone(),
                    http: http.clone(),
                    index,
                    gateway: index % gateways,
                    listened: listened.clone(),
                    stop: stop.clone(),
                };
                tokio::spawn(listener.run())
            })
            .collect();
        Ok(Listeners { listened, gateways, stop, tasks })
    }

    /// Checks invariant 21 (see the module's doc); the listeners stop after it.
    pub async fn check(self, api: &Api, world: &World, checked: &mut Checked) {
        let operator = crate::invariants::operator(api).await.ok();
        for (index, listened) in self.listened.iter().enumerate() {
            let (phone, account_id, token) = {
                let listened = listened.lock().expect("listened lock");
                (listened.phone.clone(), listened.account_id.clone(), listened.token.clone())
            };
            // A listener whose account never let it log in (its login locked
            // by the workload's wrong passwords) heard nothing to check.
            let (Some(phone), Some(account_id), Some(token)) = (phone, account_id, token) else { continue };
            checked.streams.listeners += 1;
            // Connected again after the faults, and caught up with what the stream holds.
            let connected = wait_until(RECONNECTED_WITHIN, || listened.lock().expect("listened lock").connected).await;
            checked.check(
                STREAMS,
                connected,
                || format!("the listener of {phone} could not open its stream again"),
                &[&phone],
            );
            let kept = kept_events(api, &token).await;
            let Some(kept) = kept else {
                checked.check(STREAMS, false, || format!("{phone}'s events could not be read"), &[&phone]);
                continue;
            };
            let caught_up = wait_until(PROMPT, || {
                let listened = listened.lock().expect("listened lock");
                kept.last().is_none_or(|last| listened.heard.iter().any(|heard| &heard.id == last))
            })
            .await;
            let heard: Vec<String> =
                listened.lock().expect("listened lock").heard.iter().map(|h| h.id.clone()).collect();
            let problems = judge(&heard, &kept);
            checked.check(
                STREAMS,
                caught_up && problems.is_empty(),
                || {
                    let late = (!caught_up).then(|| format!("its last event not heard within {PROMPT:?}"));
                    let all: Vec<String> = late.into_iter().chain(problems).collect();
                    format!("the live stream of {phone} on gateway {}: {}", index % self.gateways, all.join("; "))
                },
                &[&phone],
            );
            // An event made through another gateway, heard at once.
            let through = (index + 1) % self.gateways;
            let Some((transfer_id, answered)) = ping(api, world, &operator, &phone, &account_id, through).await else {
                continue;
            };
            let heard_at = wait_for(PROMPT, || {
                let listened = listened.lock().expect("listened lock");
                listened.heard.iter().find(|heard| heard.data.contains(&transfer_id)).map(|heard| heard.at)
            })
            .await;
            checked.streams.pinged += 1;
            if let Some(at) = heard_at {
                let took = at.saturating_duration_since(answered);
                checked.streams.slowest_ping = checked.streams.slowest_ping.max(Some(took));
            }
            checked.check(
                STREAMS,
                heard_at.is_some(),
                || {
                    format!(
                        "transfer {transfer_id} to {phone}, made through gateway {through}, was not heard on gateway \
                         {} within {PROMPT:?}",
                        index % self.gateways
                    )
                },
                &[&phone],
            );
        }
        self.stop.store(true, Ordering::Relaxed);
        for listened in &self.listened {
            let listened = listened.lock().expect("listened lock");
            checked.streams.heard += listened.heard.len();
            checked.streams.reconnects += listened.opened.saturating_sub(1);
        }
        for task in self.tasks {
            task.abort();
        }
    }
}

/// One listener: logs in as its account and keeps its stream open.
struct Listener {
    api: Arc<Api>,
    world: Arc<World>,
    http: reqwest::Client,
    index: usize,
    gateway: usize,
    listened: Arc<Mutex<Listened>>,
    stop: Arc<AtomicBool>,
}

impl Listener {
    async fn run(self) {
        let mut token: Option<String> = None;
        while !self.stop.load(Ordering::Relaxed) {
            let Some(known) = self.account() else {
                tokio::time::sleep(RECONNECT_AFTER).await;
                continue;
            };
            if token.is_none() {
                token = login(&self.api, "listener login", &known, self.gateway).await;
                self.listened.lock().expect("listened lock").token.clone_from(&token);
            }
            if let Some(current) = &token
                && self.listen(current).await == Opened::Unauthenticated
            {
                token = None;
            }
            self.listened.lock().expect("listened lock").connected = false;
            tokio::time::sleep(RECONNECT_AFTER).await;
        }
    }

    /// The account once the workload has registered it (and knows its id).
    fn account(&self) -> Option<Known> {
        let known = snapshot(self.world.account(self.index)?.as_ref());
        let mut listened = self.listened.lock().expect("listened lock");
        listened.phone = Some(known.phone.clone());
        listened.account_id = Some(known.id.clone()?);
        Some(known)
    }

    /// Opens the stream after the last event heard (from the start the
    /// first time) and records its events until it ends or the run stops.
    async fn listen(&self, token: &str) -> Opened {
        let last = self.listened.lock().expect("listened lock").heard.last().map(|heard| heard.id.clone());
        let url = format!("{}/v1/events", self.api.gateways[self.gateway]);
        let request = match &last {
            Some(last) => self.http.get(url).header("last-event-id", last),
            None => self.http.get(url).query(&[("after", "0")]),
        };
        let Ok(mut response) = request.bearer_auth(token).send().await else { return Opened::Not };
        if response.status() == reqwest::StatusCode::UNAUTHORIZED {
            return Opened::Unauthenticated;
        }
        if !response.status().is_success() {
            return Opened::Not;
        }
        {
            let mut listened = self.listened.lock().expect("listened lock");
            listened.opened += 1;
            listened.connected = true;
        }
        let mut buffer = String::new();
        while !self.stop.load(Ordering::Relaxed) {
            let chunk = match tokio::time::timeout(Duration::from_millis(500), response.chunk()).await {
                Err(_) => continue,
                Ok(Ok(Some(chunk))) => chunk,
                Ok(Ok(None) | Err(_)) => break,
            };
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let frame: String = buffer.drain(..end + 2).collect();
                if let Some((id, data)) = event_of(&frame) {
                    let heard = Heard { id, data, at: Instant::now() };
                    self.listened.lock().expect("listened lock").heard.push(heard);
                }
            }
        }
        Opened::Yes
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Opened {
    Yes,
    Not,
    Unauthenticated,
}

/// The `id:` and `data:` of one Server-Sent Events frame, if it is an event
/// (not the `retry:` greeting or a keep-alive comment).
fn event_of(frame: &str) -> Option<(String, String)> {
    let field = |name: &str| frame.lines().find_map(|line| line.strip_prefix(name)).map(str::to_owned);
    Some((field("id: ")?, field("data: ")?))
}

/// A stream position's order: `<ms>-<seq>`.
fn position(id: &str) -> Option<(u64, u64)> {
    let (ms, seq) = id.split_once('-')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// What is wrong with what a listener heard (`heard`, in the order heard),
/// against the event ids its account's stream holds (`kept`, oldest
/// first): an event heard twice or out of order, one the stream holds up
/// to the last heard but the listener missed, one heard that the stream
/// never held (events older than the oldest kept may have been trimmed).
fn judge(heard: &[String], kept: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for pair in heard.windows(2) {
        if position(&pair[0]) >= position(&pair[1]) {
            problems.push(format!("{} heard after {}", pair[1], pair[0]));
        }
    }
    let last_heard = heard.iter().filter_map(|id| position(id)).max();
    let missed: Vec<&String> =
        kept.iter().filter(|id| position(id) <= last_heard && !heard.contains(id)).take(5).collect();
    if !missed.is_empty() {
        problems.push(format!("missed {missed:?}"));
    }
    let oldest_kept = kept.first().and_then(|id| position(id));
    let phantom: Vec<&String> =
        heard.iter().filter(|id| position(id) >= oldest_kept && !kept.contains(id)).take(5).collect();
    if !phantom.is_empty() {
        problems.push(format!("heard {phantom:?}, which the stream does not hold"));
    }
    problems
}

/// The ids of the events the stream of `token`'s account holds, oldest
/// first (`None` if it could not be read). Read with the listener's own
/// token: a fresh login may meet a lock the workload's wrong passwords set.
async fn kept_events(api: &Api, token: &str) -> Option<Vec<String>> {
    let text =
        api.read_stream(0, "/v1/events?after=0", token, Duration::from_millis(700), Duration::from_secs(8)).await?;
    Some(text.split("\n\n").filter_map(event_of).map(|(id, _)| id).collect())
}

/// Sends ¥0.01 to `account_id` through gateway `through`, from the first
/// account of the harness that can (a PIN it knows, and the money: the
/// operator credits ¥1 to one without); the transfer's id and when it was
/// answered. The money invariants were checked before, so this moves
/// nothing they look at.
async fn ping(
    api: &Api,
    world: &World,
    operator: &Option<String>,
    phone: &str,
    account_id: &str,
    through: usize,
) -> Option<(String, Instant)> {
    let senders = world.all_accounts().into_iter().filter(|known| known.phone != phone && !known.pins.is_empty());
    for sender in senders.take(SENDERS_TRIED) {
        let Some(token) = login(api, "login", &sender, through).await else { continue };
        if let (Some(operator), Some(sender_id)) = (operator, &sender.id) {
            let path = format!("/v1/ops/accounts/{sender_id}/credit");
            let body = json!({ "amount": "1.00", "memo": "soak: the live streams' ping" });
            let meta = Meta::new("ping credit", usize::MAX, &[&sender.phone], through);
            api.send(&meta, Request::json(Method::POST, &path, Some(operator), body)).await;
        }
        for pin in &sender.pins {
            let meta = Meta::new("ping transfer", usize::MAX, &[&sender.phone, phone], through);
            let body = json!({ "to": account_id, "amount": "0.01", "memo": "soak: ping", "pin": pin });
            let mut request = Request::json(Method::POST, "/v1/transfers", Some(&token), body);
            request.headers.push(("idempotency-key", format!("soak-ping-{}-{phone}-{pin}", world.seed)));
            let reply = api.send(&meta, request).await;
            let answered = Instant::now();
            if let (true, Some(id)) = (reply.is(201), reply.body["id"].as_str()) {
                return Some((id.to_owned(), answered));
            }
            if reply.code() != Some("PIN_INCORRECT") {
                break;
            }
        }
    }
    None
}

/// Logs `known` in through `gateway` (recorded as `op`); its access token.
async fn login(api: &Api, op: &'static str, known: &Known, gateway: usize) -> Option<String> {
    let meta = Meta::new(op, usize::MAX, &[&known.phone], gateway);
    let body = json!({ "phone": known.phone, "password": known.password });
    let reply = api.send(&meta, Request::json(Method::POST, "/v1/auth/login", None, body)).await;
    reply.body["access_token"].as_str().map(str::to_owned)
}

/// Waits until `holds` (checked every 50 ms), at most `within`; whether it held.
async fn wait_until(within: Duration, mut holds: impl FnMut() -> bool) -> bool {
    wait_for(within, || holds().then_some(())).await.is_some()
}

/// Waits until `found` finds something (checked every 50 ms), at most `within`.
async fn wait_for<T>(within: Duration, mut found: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = found() {
            return Some(value);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::{event_of, judge};

    fn ids(ids: &[&str]) -> Vec<String> {
        ids.iter().map(|id| (*id).to_owned()).collect()
    }

    #[test]
    fn a_stream_heard_whole_and_in_order_passes() {
        let kept = ids(&["10-0", "10-1", "12-0"]);
        assert!(judge(&kept, &kept).is_empty());
        // Heard up to an event, the later ones not yet: nothing missed.
        assert!(judge(&ids(&["10-0", "10-1"]), &kept).is_empty());
        // Events older than the oldest kept were trimmed from the stream.
        assert!(judge(&ids(&["5-0", "10-0", "10-1", "12-0"]), &kept).is_empty());
    }

    #[test]
    fn an_event_heard_twice_or_out_of_order_is_named() {
        let kept = ids(&["10-0", "10-1", "12-0"]);
        let twice = judge(&ids(&["10-0", "10-1", "10-1", "12-0"]), &kept);
        assert_eq!(twice, ["10-1 heard after 10-1"]);
        let swapped = judge(&ids(&["10-0", "12-0", "10-1"]), &kept);
        assert_eq!(swapped, ["10-1 heard after 12-0"]);
    }

    #[test]
    fn a_missed_event_is_named() {
        let kept = ids(&["10-0", "10-1", "12-0"]);
        assert_eq!(judge(&ids(&["10-0", "12-0"]), &kept), [r#"missed ["10-1"]"#]);
    }

    #[test]
    fn an_event_the_stream_never_held_is_named() {
        let kept = ids(&["10-0", "12-0"]);
        assert_eq!(
            judge(&ids(&["10-0", "11-0", "12-0"]), &kept),
            [r#"heard ["11-0"], which the stream does not hold"#]
        );
    }

    #[test]
    fn frames_that_are_not_events_are_left_aside() {
        assert_eq!(event_of("retry: 2000\n\n"), None);
        assert_eq!(event_of(": keep-alive\n\n"), None);
        let frame = "id: 10-1\nevent: transfer.received\ndata: {\"id\":\"evt_1\"}\n\n";
        assert_eq!(event_of(frame), Some(("10-1".to_owned(), "{\"id\":\"evt_1\"}".to_owned())));
    }
}
