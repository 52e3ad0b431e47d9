//! Notifications: the Server-Sent Events stream (live, per user, resumable
//! with `Last-Event-ID`, across instances) and signed webhooks delivered to a
//! small local receiver, retried until accepted.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};
use walletgate::clock::Clock;
use walletgate::providers::webhooks::verify_signature;

use crate::helpers::{StoreKind, TestApp, assert_error, json_of, spawn_app, spawn_app_with, spawn_second_instance};
use crate::on_both_stores;
use crate::settlement::{approve, id_of, payee, reject, settle, withdraw};

on_both_stores!(
    the_owner_hears_withdrawal_changes_as_they_happen,
    a_reconnecting_client_resumes_after_its_last_event,
    events_made_on_another_instance_reach_the_stream,
    webhooks_are_signed_retried_and_carry_unique_ids,
    a_stream_ticket_opens_the_stream_once_without_a_bearer_header,
    stream_tickets_expire_and_a_token_is_never_taken_from_the_url,
);

/// One parsed Server-Sent Event.
#[derive(Debug, Clone)]
struct Sse {
    id: String,
    kind: String,
    data: Value,
}

/// A client reading `/v1/events`.
struct EventStream {
    response: reqwest::Response,
    buffer: String,
}

impl EventStream {
    /// Opens the stream with a ticket instead of a bearer header, as `EventSource` does.
    async fn open_with_ticket(app: &TestApp, ticket: &str) -> EventStream {
        let response = app.client.get(app.url(&format!("/v1/events?ticket={ticket}"))).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        EventStream { response, buffer: String::new() }
    }

    async fn open(app: &TestApp, token: &str, last_event_id: Option<&str>) -> EventStream {
        let mut request = app.client.get(app.url("/v1/events")).bearer_auth(token);
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        EventStream { response, buffer: String::new() }
    }

    /// The next `count` events (heartbeats and `retry` lines skipped), within a few seconds.
    async fn next(&mut self, count: usize) -> Vec<Sse> {
        let mut events = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while events.len() < count {
            while let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                if let Some(event) = parse(&block) {
                    events.push(event);
                }
            }
            if events.len() >= count {
                break;
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk()).await;
            let chunk = chunk.expect("events arrive in time").unwrap().expect("the stream stays open");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
        events
    }
}

fn parse(block: &str) -> Option<Sse> {
    let field = |name: &str| block.lines().find_map(|line| line.strip_prefix(&format!("{name}: ")).map(str::to_owned));
    Some(Sse { id: field("id")?, kind: field("event")?, data: serde_json::from_str(&field("data")?).unwrap() })
}

fn kinds(events: &[Sse]) -> Vec<&str> {
    events.iter().map(|event| event.kind.as_str()).collect()
}

async fn the_owner_hears_withdrawal_changes_as_they_happen(store: StoreKind) {
    let app = spawn_app(store).await;
    let other = payee(&app, "800.00", json!({})).await;
    let payee = payee(&app, "800.00", json!({})).await;
    let mut stream = EventStream::open(&app, &payee.user.token, None).await;
    let mut others = EventStream::open(&app, &other.user.token, None).await;

    let id = id_of(&withdraw(&app, &payee, "100.00").await);
    let operator = app.operator_token().await;
    json_of(approve(&app, &operator, &id).await, StatusCode::OK).await;
    assert_eq!(settle(&app).await.settled, 1);

    let events = stream.next(3).await;
    assert_eq!(kinds(&events), ["withdrawal.created", "withdrawal.approved", "withdrawal.settled"]);
    for event in &events {
        assert_eq!(event.data["type"], event.kind);
        assert_eq!(event.data["account_id"], payee.user.id.as_str());
        assert_eq!(event.data["data"]["withdrawal"]["id"], id.as_str());
        assert!(event.data["id"].as_str().unwrap().starts_with("evt_"));
    }
    assert_eq!(events[2].data["data"]["withdrawal"]["status"], "settled");
    assert_eq!(events[2].data["data"]["withdrawal"]["amount"], "100.00");
    assert_eq!(events[2].data["data"]["withdrawal"]["destination"]["nickname"], "李*龙");

    // The other user's stream stays silent about it: its next event is its own.
    let own = id_of(&withdraw(&app, &other, "5.00").await);
    let seen = others.next(1).await;
    assert_eq!(seen[0].data["data"]["withdrawal"]["id"], own.as_str());

    assert_error(app.get("/v1/events", None).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let bad = app.client.get(app.url("/v1/events")).bearer_auth(&payee.user.token).header("Last-Event-ID", "x");
    assert_error(bad.send().await.unwrap(), StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
}

async fn a_reconnecting_client_resumes_after_its_last_event(store: StoreKind) {
    let app = spawn_app(store).await;
    let payee = payee(&app, "800.00", json!({})).await;
    let operator = app.operator_token().await;
    let mut all = EventStream::open(&app, &payee.user.token, Some("0")).await;
    let binding = all.next(1).await;
    assert_eq!(kinds(&binding), ["binding.activated"], "everything kept, from the start");
    assert_eq!(binding[0].data["data"]["binding"]["id"], payee.binding_id.as_str());

    let first = id_of(&withdraw(&app, &payee, "10.00").await);
    json_of(reject(&app, &operator, &first, "no").await, StatusCode::OK).await;
    let second = id_of(&withdraw(&app, &payee, "20.00").await);
    let seen = all.next(3).await;
    assert_eq!(kinds(&seen), ["withdrawal.created", "withdrawal.rejected", "withdrawal.created"]);
    drop(all);

    // Reconnect after the first creation: exactly what came after it.
    let mut resumed = EventStream::open(&app, &payee.user.token, Some(&seen[0].id)).await;
    let replay = resumed.next(2).await;
    assert_eq!(replay.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(), [seen[1].id.as_str(), seen[2].id.as_str()]);
    assert_eq!(replay[1].data["data"]["withdrawal"]["id"], second.as_str());
    app.clock.advance(chrono::Duration::seconds(5));
    assert_eq!(settle(&app).await.settled, 1);
    assert_eq!(kinds(&resumed.next(2).await), ["withdrawal.processing", "withdrawal.settled"], "then live again");
}

async fn events_made_on_another_instance_reach_the_stream(store: StoreKind) {
    let app = spawn_app(store).await;
    let other_instance = spawn_second_instance(&app).await;
    let payee = payee(&app, "800.00", json!({})).await;
    let mut stream = EventStream::open(&app, &payee.user.token, None).await;
    let id = id_of(&withdraw(&other_instance, &payee, "10.00").await);
    let operator = other_instance.operator_token().await;
    json_of(approve(&other_instance, &operator, &id).await, StatusCode::OK).await;
    let report = other_instance.services.worker.settle_due(other_instance.clock.now()).await.unwrap();
    assert_eq!(report.settled, 1);
    let events = stream.next(3).await;
    assert_eq!(kinds(&events), ["withdrawal.created", "withdrawal.approved", "withdrawal.settled"]);
}

pub(crate) const WEBHOOK_SECRET: &str = "whsec-walletgate-test-secret-0123456789";

/// What the receiver got: headers that matter and the raw body.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    event_id: String,
    signature: String,
    pub body: String,
    /// Every header, by its lower-case name.
    pub headers: std::collections::BTreeMap<String, String>,
}

pub(crate) struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Vec<Received>>>,
}

/// A local webhook receiver (or WeChat Pay `notify_url`) that answers 500
/// to the first `failures` deliveries, then 204.
pub(crate) async fn start_receiver(failures: usize) -> Receiver {
    let received = Arc::new(Mutex::new(Vec::<Received>::new()));
    let state = web::Data::new((received.clone(), failures));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = HttpServer::new(move || {
        App::new().app_data(state.clone()).route(
            "/hooks",
            web::post().to(
                |state: web::Data<(Arc<Mutex<Vec<Received>>>, usize)>, request: HttpRequest, body: web::Bytes| async move {
                    let header = |name: &str| {
                        request.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
                    };
                    let mut received = state.0.lock().unwrap();
                    let headers = request
                        .headers()
                        .iter()
                        .map(|(name, value)| (name.as_str().to_owned(), value.to_str().unwrap_or_default().to_owned()))
                        .collect();
                    received.push(Received {
                        event_id: header("walletgate-event-id"),
                        signature: header("walletgate-signature"),
                        body: String::from_utf8(body.to_vec()).unwrap(),
                        headers,
                    });
                    if received.len() <= state.1 { HttpResponse::InternalServerError().finish() } else { HttpResponse::NoContent().finish() }
                },
            ),
        )
    })
    .workers(1)
    .listen(listener)
    .unwrap()
    .run();
    tokio::spawn(server);
    Receiver { url: format!("http://127.0.0.1:{port}/hooks"), received }
}

async fn webhooks_are_signed_retried_and_carry_unique_ids(store: StoreKind) {
    let receiver = start_receiver(1).await;
    let url = receiver.url.clone();
    let app = spawn_app_with(store, move |settings| {
        settings.webhooks.url = url;
        settings.webhooks.secret = SecretString::from(WEBHOOK_SECRET);
    })
    .await;
    let payee = payee(&app, "800.00", json!({})).await;

    // binding.activated: refused once (500), then delivered after the pause.
    let report = settle(&app).await;
    assert_eq!((report.webhooks_delivered, report.webhooks_retried), (0, 1), "{report:?}");
    assert_eq!(settle(&app).await.webhooks_delivered, 0, "not before the pause");
    app.clock.advance(chrono::Duration::seconds(1));
    assert_eq!(settle(&app).await.webhooks_delivered, 1);

    let operator = app.operator_token().await;
    let refused = id_of(&withdraw(&app, &payee, "20.00").await);
    json_of(reject(&app, &operator, &refused, "not today").await, StatusCode::OK).await;
    assert_eq!(settle(&app).await.webhooks_delivered, 1);
    let paid = id_of(&withdraw(&app, &payee, "10.00").await);
    app.clock.advance(chrono::Duration::seconds(5));
    let report = settle(&app).await;
    assert_eq!((report.settled, report.webhooks_delivered), (1, 1), "settled and told in one step: {report:?}");
    assert_eq!(settle(&app).await.claimed, 0, "nothing left to deliver");

    let received = receiver.received.lock().unwrap().clone();
    let secret = SecretString::from(WEBHOOK_SECRET);
    let now = app.clock.now().timestamp();
    let mut unique: Vec<Value> = Vec::new();
    for delivery in &received {
        verify_signature(&secret, &delivery.signature, delivery.body.as_bytes(), now, 300).expect("signed");
        let event: Value = serde_json::from_str(&delivery.body).unwrap();
        assert_eq!(event["id"], delivery.event_id.as_str());
        if !unique.iter().any(|seen| seen["id"] == event["id"]) {
            unique.push(event);
        }
    }
    assert_eq!(received.len(), 4, "one retry of the first delivery");
    assert_eq!(received[0].event_id, received[1].event_id, "a retry repeats the event id");
    let types: Vec<&str> = unique.iter().map(|event| event["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["binding.activated", "withdrawal.rejected", "withdrawal.settled"]);
    assert_eq!(unique[1]["data"]["withdrawal"]["failure_reason"], "OTHER");
    assert!(!received[2].body.contains("not today"), "the operator's note never leaves for the user");
    assert_eq!(unique[2]["data"]["withdrawal"]["id"], paid.as_str());
    let tampered = received[3].body.replace("10.00", "99.00");
    assert!(verify_signature(&secret, &received[2].signature, tampered.as_bytes(), now, 300).is_err());
}

async fn stream_ticket(app: &TestApp, token: &str) -> String {
    let ticket = json_of(app.post("/v1/events/ticket", Some(token), &json!({})).await, StatusCode::CREATED).await;
    assert!(ticket["expires_at"].is_string(), "{ticket}");
    ticket["ticket"].as_str().unwrap().to_owned()
}

async fn a_stream_ticket_opens_the_stream_once_without_a_bearer_header(store: StoreKind) {
    let app = spawn_app(store).await;
    let payee = payee(&app, "500.00", json!({})).await;
    let ticket = stream_ticket(&app, &payee.user.token).await;
    let mut stream = EventStream::open_with_ticket(&app, &ticket).await;
    let id = id_of(&withdraw(&app, &payee, "10.00").await);
    let events = stream.next(1).await;
    assert_eq!(kinds(&events), ["withdrawal.created"]);
    assert_eq!(events[0].data["data"]["withdrawal"]["id"], id.as_str());

    let again = app.client.get(app.url(&format!("/v1/events?ticket={ticket}"))).send().await.unwrap();
    assert_error(again, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

async fn stream_tickets_expire_and_a_token_is_never_taken_from_the_url(store: StoreKind) {
    let app = spawn_app(store).await;
    let (_, token) = app.new_user().await;
    let late = stream_ticket(&app, &token).await;
    app.clock.advance(chrono::Duration::seconds(61));
    let expired = app.client.get(app.url(&format!("/v1/events?ticket={late}"))).send().await.unwrap();
    assert_error(expired, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;

    let (_, token) = app.new_user().await;
    let forged = app.client.get(app.url("/v1/events?ticket=not-a-ticket")).send().await.unwrap();
    assert_error(forged, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    // A long-lived token is never taken from a URL.
    let in_url = app.client.get(app.url(&format!("/v1/events?access_token={token}"))).send().await.unwrap();
    assert_eq!(in_url.status(), StatusCode::BAD_REQUEST);
    let as_ticket = app.client.get(app.url(&format!("/v1/events?ticket={token}"))).send().await.unwrap();
    assert_error(as_ticket, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    // Without either, the stream asks for a bearer token as before.
    let nothing = app.client.get(app.url("/v1/events")).send().await.unwrap();
    assert_error(nothing, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}
