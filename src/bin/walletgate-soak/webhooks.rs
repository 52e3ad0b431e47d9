//! The run's webhook receiver. Every gateway posts its webhooks here
//! (`webhooks.url`); the receiver refuses a seeded share of the deliveries
//! with a 500, so the gateways' retries run under the faults too, and keeps
//! what it accepted. After quiescence, `missing_and_phantom` compares what
//! arrived with an account's event stream (invariant 17 of docs/soak.md):
//! every outcome walletgate posts arrives, signed, under the id the stream
//! gave it, and nothing arrives that the stream does not hold.

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::SecretString;
use serde_json::Value;
use walletgate::providers::webhooks::verify_signature;

/// The signing key every gateway of the run is given.
pub const SECRET: &str = "walletgate-soak-webhook-secret-0123456789";
/// The event types walletgate posts to webhooks, as its documentation
/// lists them (docs/review-and-settlement.md, "Notifications: webhooks");
/// the harness keeps its own list rather than ask the code it checks.
pub const POSTED: &[&str] = &[
    "withdrawal.settled",
    "withdrawal.failed",
    "withdrawal.rejected",
    "binding.activated",
    "transfer.received",
    "transfer.completed",
    "transfer.returned",
];
/// The share of deliveries answered 500 (each is retried).
const REFUSED_SHARE: f64 = 0.2;
/// A signature's timestamp may be this far from the receiver's clock.
const SIGNATURE_TOLERANCE_SECS: i64 = 300;

/// One delivery the receiver accepted.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub event_id: String,
    pub kind: String,
    pub account_id: String,
    /// What the event is about: a withdrawal's, transfer's or binding's id.
    pub subject: String,
    /// Whether `Walletgate-Signature` verified and named this body, and the
    /// `Walletgate-Event-Id` header named the body's event.
    pub signed: bool,
}

#[derive(Debug)]
struct State {
    rng: StdRng,
    accepted: Vec<Accepted>,
    refused: u64,
}

/// The receiver, listening on a loopback port until the run ends.
pub struct Receiver {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl Receiver {
    /// Starts listening; refusals are drawn from `seed`.
    pub fn start(seed: u64) -> anyhow::Result<Receiver> {
        let state = Arc::new(Mutex::new(State {
            rng: StdRng::seed_from_u64(seed ^ 0x00AB_00CD_EF01),
            accepted: Vec::new(),
            refused: 0,
        }));
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}/hooks", listener.local_addr()?);
        let shared = web::Data::new(state.clone());
        let server =
            HttpServer::new(move || App::new().app_data(shared.clone()).route("/hooks", web::post().to(receive)))
                .workers(1)
                .listen(listener)?
                .run();
        tokio::spawn(server);
        Ok(Receiver { url, state })
    }

    pub fn accepted(&self) -> Vec<Accepted> {
        self.state.lock().map(|state| state.accepted.clone()).unwrap_or_default()
    }

    pub fn refused(&self) -> u64 {
        self.state.lock().map(|state| state.refused).unwrap_or_default()
    }
}

async fn receive(state: web::Data<Arc<Mutex<State>>>, request: HttpRequest, body: web::Bytes) -> HttpResponse {
    let header = |name: &str| request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let text = |pointer: &str| event.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned();
    let subject = ["/data/withdrawal/id", "/data/transfer/id", "/data/binding/id"]
        .iter()
        .map(|pointer| text(pointer))
        .find(|id| !id.is_empty())
        .unwrap_or_default();
    let secret = SecretString::from(SECRET);
    let now = chrono::Utc::now().timestamp();
    let verified =
        verify_signature(&secret, header("walletgate-signature"), &body, now, SIGNATURE_TOLERANCE_SECS).is_ok();
    let accepted = Accepted {
        event_id: text("/id"),
        kind: text("/type"),
        account_id: text("/account_id"),
        subject,
        signed: verified && header("walletgate-event-id") == text("/id"),
    };
    // A poisoned lock means a panic elsewhere: refuse, the gateway retries.
    let Ok(mut state) = state.lock() else { return HttpResponse::InternalServerError().finish() };
    if state.rng.random_bool(REFUSED_SHARE) {
        state.refused += 1;
        return HttpResponse::InternalServerError().finish();
    }
    state.accepted.push(accepted);
    HttpResponse::NoContent().finish()
}

/// The events of one account's stream that walletgate posts: id → type.
pub fn posted_in_stream(stream: &str) -> BTreeMap<String, String> {
    let mut posted = BTreeMap::new();
    for block in stream.split("\n\n") {
        let Some(data) = block.lines().find_map(|line| line.strip_prefix("data: ")) else { continue };
        let Ok(event) = serde_json::from_str::<Value>(data) else { continue };
        let (Some(id), Some(kind)) = (event["id"].as_str(), event["type"].as_str()) else { continue };
        if POSTED.contains(&kind) {
            posted.insert(id.to_owned(), kind.to_owned());
        }
    }
    posted
}

/// What one account's stream and the deliveries to it disagree on.
#[derive(Debug, Default, PartialEq)]
pub struct Mismatch {
    /// Posted events of the stream that never arrived.
    pub missing: Vec<String>,
    /// Deliveries whose event the stream does not hold, or holds under another type.
    pub phantom: Vec<String>,
    /// Deliveries whose signature or event id header did not match.
    pub unsigned: Vec<String>,
    /// `(type, subject)` announced under more than one event id.
    pub repeated: Vec<String>,
}

impl Mismatch {
    pub fn is_empty(&self) -> bool {
        *self == Mismatch::default()
    }
}

/// Compares an account's posted stream events with what arrived for it.
pub fn compare(posted: &BTreeMap<String, String>, arrived: &[&Accepted]) -> Mismatch {
    let arrived_ids: BTreeSet<&str> = arrived.iter().map(|a| a.event_id.as_str()).collect();
    let mut mismatch = Mismatch {
        missing: posted.keys().filter(|id| !arrived_ids.contains(id.as_str())).cloned().collect(),
        ..Mismatch::default()
    };
    let mut announced: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    for delivery in arrived {
        if posted.get(&delivery.event_id) != Some(&delivery.kind) {
            mismatch.phantom.push(format!("{} {}", delivery.kind, delivery.event_id));
        }
        if !delivery.signed {
            mismatch.unsigned.push(delivery.event_id.clone());
        }
        // binding.activated may come again for a binding bound again.
        if delivery.kind != "binding.activated" {
            announced.entry((&delivery.kind, &delivery.subject)).or_default().insert(&delivery.event_id);
        }
    }
    mismatch.repeated = announced
        .into_iter()
        .filter(|(_, ids)| ids.len() > 1)
        .map(|((kind, subject), ids)| format!("{kind} of {subject} as {ids:?}"))
        .collect();
    mismatch.phantom.dedup();
    mismatch
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(events: &[(&str, &str)]) -> String {
        events
            .iter()
            .enumerate()
            .map(|(n, (id, kind))| {
                format!("id: {n}-0\nevent: {kind}\ndata: {{\"id\":\"{id}\",\"type\":\"{kind}\"}}\n\n")
            })
            .collect()
    }

    fn arrived(event_id: &str, kind: &str, subject: &str) -> Accepted {
        Accepted {
            event_id: event_id.into(),
            kind: kind.into(),
            account_id: "acc_1".into(),
            subject: subject.into(),
            signed: true,
        }
    }

    #[test]
    fn only_the_posted_types_are_expected_from_a_stream() {
        let posted = posted_in_stream(&stream(&[
            ("evt_1", "withdrawal.created"),
            ("evt_2", "withdrawal.settled"),
            ("evt_3", "transfer.received"),
        ]));
        let expected: Vec<(&str, &str)> = posted.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(expected, [("evt_2", "withdrawal.settled"), ("evt_3", "transfer.received")]);
    }

    #[test]
    fn every_way_of_disagreeing_is_named() {
        let posted = posted_in_stream(&stream(&[("evt_1", "transfer.received"), ("evt_2", "withdrawal.settled")]));
        let good = arrived("evt_1", "transfer.received", "tr_1");
        let again = arrived("evt_1", "transfer.received", "tr_1");
        assert!(compare(&posted, &[&good, &again, &arrived("evt_2", "withdrawal.settled", "wd_1")]).is_empty());

        let mismatch = compare(&posted, &[&good]);
        assert_eq!(mismatch.missing, ["evt_2"]);
        let phantom = arrived("evt_9", "transfer.received", "tr_1");
        let retyped = arrived("evt_2", "withdrawal.failed", "wd_1");
        let mut unsigned = arrived("evt_2", "withdrawal.settled", "wd_1");
        unsigned.signed = false;
        let mismatch = compare(&posted, &[&good, &phantom, &retyped, &unsigned]);
        assert_eq!(mismatch.phantom, ["transfer.received evt_9", "withdrawal.failed evt_2"]);
        assert_eq!(mismatch.unsigned, ["evt_2"]);
        assert_eq!(mismatch.repeated, [r#"transfer.received of tr_1 as {"evt_1", "evt_9"}"#]);
    }
}
