//! Bad input gets a clear 4xx in the catalogue's shape and changes nothing.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{StoreKind, TestApp, assert_error, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    bad_amounts_are_refused_naming_the_field,
    malformed_bodies_are_refused_not_crashed_on,
    oversized_bodies_are_refused,
    unknown_routes_answer_in_json,
    a_stalled_request_body_is_answered_408_and_the_connection_closed,
    a_stalled_request_head_is_closed,
    long_urls_and_large_heads_answer_in_json,
    an_oversized_consent_form_answers_413_in_json,
    heads_the_http_parser_refuses_are_answered_and_closed,
);

async fn bad_amounts_are_refused_naming_the_field(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let path = "/v1/ops/accounts/acc_demo_alice/credit";
    let cases = [
        (json!({ "amount": 100.5, "memo": "m" }), "amount", "not a JSON number"),
        (json!({ "amount": 100, "memo": "m" }), "amount", "not a JSON number"),
        (json!({ "amount": "100.505", "memo": "m" }), "amount", "at most 2 decimal places"),
        (json!({ "amount": "-1.00", "memo": "m" }), "amount", "negative"),
        (json!({ "amount": "0.00", "memo": "m" }), "amount", "greater than 0.00"),
        (json!({ "amount": "1e3", "memo": "m" }), "amount", "plain decimal string"),
        (json!({ "amount": " 1.00", "memo": "m" }), "amount", "plain decimal string"),
        (json!({ "amount": "99999999999999999999.00", "memo": "m" }), "amount", "must not exceed"),
        (json!({ "amount": "", "memo": "m" }), "amount", "must not be empty"),
        (json!({ "amount": null, "memo": "m" }), "amount", "decimal string"),
        (json!({ "amount": ["1.00"], "memo": "m" }), "amount", "decimal string"),
        (json!({ "amount": "1.00", "memo": "" }), "memo", "1 to 200 characters"),
        (json!({ "amount": "1.00", "memo": "m".repeat(201) }), "memo", "1 to 200 characters"),
        (json!({ "amount": "1.00" }), "", "missing field `memo`"),
        (json!({ "amount": "1.00", "memo": "m", "currency": "USD" }), "currency", "unknown field `currency`"),
    ];
    for (body, field, message) in cases {
        let error =
            assert_error(app.post(path, Some(&operator), &body).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
                .await;
        if !field.is_empty() {
            assert_eq!(error["error"]["details"]["field"], field, "{body}: {error}");
        }
        assert!(error["error"]["message"].as_str().unwrap().contains(message), "{body}: {error}");
    }
    let alice = app.login_phone("13800000001", "alice-demo").await["access_token"].as_str().unwrap().to_owned();
    assert_eq!(app.available(&alice).await, "800.00");
    app.assert_ledger_balanced().await;
}

async fn malformed_bodies_are_refused_not_crashed_on(store: StoreKind) {
    let app = spawn_app(store).await;
    let bodies = [
        ("application/json", "{\"phone\": \"13800000001\", \"password\": "),
        ("application/json", "not json at all"),
        ("application/json", ""),
        ("application/json", "[1, 2, 3]"),
        ("application/json", "\"a string\""),
        ("application/json", "{\"phone\": \"13800000001\", \"password\": \"alice-demo\"} {}"),
        ("application/json", "{\"phone\": \"\\ud800\", \"password\": \"x\"}"),
        ("application/json; charset=utf-8", "{\"phone\": \"\u{0}\", \"password\": \"alice-demo\"}"),
        ("text/plain", "{\"phone\": \"13800000001\", \"password\": \"alice-demo\"}"),
        ("application/x-www-form-urlencoded", "phone=13800000001&password=alice-demo"),
    ];
    for (content_type, body) in bodies {
        let response = app.post_raw("/v1/auth/login", None, content_type, body.to_owned()).await;
        assert_error(response, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    }
    let invalid_utf8 = app
        .client
        .post(app.url("/v1/auth/register"))
        .header("content-type", "application/json")
        .body(vec![b'{', 0xff, 0xfe, b'}'])
        .send()
        .await
        .unwrap();
    assert_error(invalid_utf8, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
}

async fn oversized_bodies_are_refused(store: StoreKind) {
    let app = spawn_app(store).await;
    let huge = format!("{{\"phone\": \"13800000001\", \"password\": \"{}\"}}", "x".repeat(100_000));
    let response = app.post_raw("/v1/auth/login", None, "application/json", huge).await;
    assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
}

async fn unknown_routes_answer_in_json(store: StoreKind) {
    let app = spawn_app(store).await;
    assert_error(app.get("/v1/nothing-here", None).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let wrong_method = app.client.delete(app.url("/v1/wallet")).send().await.unwrap();
    assert_eq!(wrong_method.headers()["allow"], "GET");
    let error = assert_error(wrong_method, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
    assert_eq!(error["error"]["details"]["allowed"], json!(["GET"]));
    let two_methods = app.client.put(app.url("/v1/withdrawals")).send().await.unwrap();
    assert_eq!(two_methods.headers()["allow"], "POST, GET");
    assert_error(two_methods, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
}

/// How long a raw exchange waits for the server to answer and close: well
/// past the 1 s timeouts the slow-client tests configure, well short of forever.
const RAW_WAIT: Duration = Duration::from_secs(5);

/// What a raw TCP exchange got back.
struct RawAnswer {
    status: u16,
    head: String,
    body: Vec<u8>,
    /// The server closed the connection (read returned 0) within `RAW_WAIT`.
    closed: bool,
    elapsed: Duration,
}

impl RawAnswer {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("{e}: {}\n{}", self.head, self.body.escape_ascii()))
    }
}

/// Writes `bytes` to a fresh connection, then sends nothing more and reads
/// until the server closes it or `RAW_WAIT` passes: network time, not
/// business time, so this is a real wait.
async fn raw_exchange(app: &TestApp, bytes: &[u8]) -> RawAnswer {
    let started = Instant::now();
    let mut stream = TcpStream::connect(app.address.trim_start_matches("http://")).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut received = Vec::new();
    let closed = tokio::time::timeout(RAW_WAIT, async {
        let mut buffer = [0u8; 8192];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .is_ok();
    let elapsed = started.elapsed();
    let split = received.windows(4).position(|w| w == b"\r\n\r\n").map_or(received.len(), |at| at + 4);
    let head = String::from_utf8_lossy(&received[..split]).into_owned();
    let status = head.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or(0);
    RawAnswer { status, head, body: received[split..].to_vec(), closed, elapsed }
}

async fn a_stalled_request_body_is_answered_408_and_the_connection_closed(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.server.request_body_timeout_secs = 1).await;
    // A route that reads its body, and one that never does.
    for path in ["/v1/auth/login", "/v1/nothing-here"] {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: walletgate\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"phone\":"
        );
        let answer = raw_exchange(&app, request.as_bytes()).await;
        assert!(answer.closed, "{path}: still open after {:?}: {}", answer.elapsed, answer.head);
        assert!(answer.elapsed < Duration::from_secs(3), "{path}: took {:?}", answer.elapsed);
        if path == "/v1/auth/login" {
            assert_eq!(answer.status, 408, "{}", answer.head);
            let body = answer.json();
            assert_eq!(body["error"]["code"], "REQUEST_TIMEOUT", "{body}");
            assert_eq!(body["error"]["details"]["timeout_secs"], 1, "{body}");
            assert!(answer.head.to_ascii_lowercase().contains("connection: close"), "{}", answer.head);
        } else {
            assert_eq!(answer.status, 404, "{}", answer.head);
        }
    }
    // A body that arrives in time is read as ever.
    let login = app.login(&json!({ "phone": "13800000001", "password": "alice-demo" })).await;
    assert_eq!(login.status(), StatusCode::OK);
}

async fn a_stalled_request_head_is_closed(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.server.request_head_timeout_secs = 1).await;
    let answer = raw_exchange(&app, b"GET /healthz HTTP/1.1\r\nHost: walletgate\r\nX-Slow: ").await;
    assert!(answer.closed, "still open after {:?}: {}", answer.elapsed, answer.head);
    assert!(answer.elapsed < Duration::from_secs(3), "took {:?}", answer.elapsed);
    // actix answers this one itself, before the application sees a request.
    assert!(answer.status == 408 || answer.status == 0, "{}", answer.head);
}

async fn long_urls_and_large_heads_answer_in_json(store: StoreKind) {
    let app = spawn_app(store).await;
    let uri_max = app.settings.server.uri_bytes_max;
    let head_max = app.settings.server.head_bytes_max;
    let long_url = app.url(&format!("/v1/withdrawals?cursor={}", "a".repeat(uri_max)));
    let error =
        assert_error(app.client.get(long_url).send().await.unwrap(), StatusCode::URI_TOO_LONG, "URI_TOO_LONG").await;
    assert_eq!(error["error"]["details"]["bytes_max"], uri_max);
    let large_head = app.client.get(app.url("/healthz")).header("x-filler", "b".repeat(head_max)).send().await.unwrap();
    let error = assert_error(large_head, StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "HEADERS_TOO_LARGE").await;
    assert_eq!(error["error"]["details"]["bytes_max"], head_max);
    // Within the limits, the same requests are served.
    let fitting =
        app.client.get(app.url("/healthz")).header("x-filler", "b".repeat(head_max / 2)).send().await.unwrap();
    assert_eq!(fitting.status(), StatusCode::OK);
}

async fn an_oversized_consent_form_answers_413_in_json(store: StoreKind) {
    let app = spawn_app(store).await;
    // Over actix's own default for bytes bodies (256 KiB) and over ours.
    let form = format!("appid=wx&state=s&action=allow&nickname={}", "n".repeat(300 * 1024));
    let response =
        app.post_raw("/mock/wechat/connect/oauth2/authorize", None, "application/x-www-form-urlencoded", form).await;
    let error = assert_error(response, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
    assert_eq!(error["error"]["details"]["bytes_max"], app.settings.server.json_body_bytes_max);
}

/// These never reach the application: actix-http's parser answers them
/// itself, with an empty body (see `edge.rs`), and closes the connection.
async fn heads_the_http_parser_refuses_are_answered_and_closed(store: StoreKind) {
    let app = spawn_app(store).await;
    let control_character = b"GET /healthz HTTP/1.1\r\nHost: walletgate\r\nX-Note: a\x01b\r\n\r\n".to_vec();
    let mut too_many_headers = b"GET /healthz HTTP/1.1\r\nHost: walletgate\r\n".to_vec();
    for index in 0..100 {
        too_many_headers.extend_from_slice(format!("X-{index}: a\r\n").as_bytes());
    }
    too_many_headers.extend_from_slice(b"\r\n");
    for (request, status) in [(control_character, 400), (too_many_headers, 431)] {
        let answer = raw_exchange(&app, &request).await;
        assert_eq!(answer.status, status, "{}", answer.head);
        assert!(answer.closed, "{}", answer.head);
    }
}

/// A submission's refusals are replayed under their idempotency key, faults
/// are not: the domain's `is_refusal` must draw the line where the error
/// catalogue does, between client errors and the service's own.
#[test]
fn withdrawal_refusals_are_exactly_the_client_errors_of_the_catalogue() {
    use actix_web::ResponseError;
    use walletgate::domain::ledger::{LedgerAccount, LedgerError};
    use walletgate::domain::limits::{LimitError, LimitKind};
    use walletgate::domain::money::{Money, MoneyError};
    use walletgate::domain::withdrawal::{WithdrawalError, WithdrawalStatus};
    use walletgate::error::ApiError;

    let short = |account| LedgerError::InsufficientFunds { account, balance: Money::ZERO, change: Money::ZERO };
    let errors = [
        WithdrawalError::BindingNotFound,
        WithdrawalError::NoActiveBinding,
        WithdrawalError::AccountFrozen,
        WithdrawalError::Limit(LimitError::NotAllowed),
        WithdrawalError::Limit(LimitError::BelowMinimum { minimum: Money::ZERO }),
        WithdrawalError::Limit(LimitError::AmountExceeded { limit: LimitKind::Daily, remaining: Money::ZERO }),
        WithdrawalError::Limit(LimitError::CountExceeded { remaining: 0 }),
        WithdrawalError::Limit(LimitError::Money(MoneyError::Overflow)),
        WithdrawalError::InsufficientBalance { available: Money::ZERO, required: Money::ZERO },
        WithdrawalError::Money(MoneyError::Overflow),
        WithdrawalError::Ledger(short(LedgerAccount::UserAvailable)),
        WithdrawalError::Ledger(short(LedgerAccount::UserHeld)),
        WithdrawalError::Ledger(LedgerError::EmptyEntry),
        WithdrawalError::Ledger(LedgerError::Money(MoneyError::Overflow)),
        WithdrawalError::AlreadyFinished(WithdrawalStatus::Settled),
        WithdrawalError::AlreadyDecided(WithdrawalStatus::Settled),
        WithdrawalError::NotPayable(WithdrawalStatus::Settled),
        WithdrawalError::NotFound,
    ];
    for error in errors {
        let status = ApiError::from(error.clone()).status_code();
        assert_eq!(error.is_refusal(), status.is_client_error(), "{error:?} answers {status}");
    }
}
