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
    query_errors_name_the_parameter_in_words,
    a_bad_resume_point_blames_the_parameter_that_was_sent,
    error_bodies_carry_the_request_id_of_their_response,
    refused_credentials_answer_with_a_bearer_challenge,
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
        (json!({ "amount": "1.00" }), "memo", "missing field `memo`"),
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

async fn query_errors_name_the_parameter_in_words(store: StoreKind) {
    let app = spawn_app(store).await;
    let alice = app.login_phone("13800000001", "alice-demo").await["access_token"].as_str().unwrap().to_owned();
    let operator = app.operator_token().await;
    let cases = [
        ("/v1/withdrawals?limit=abc", &alice, "limit", "must be a whole number"),
        ("/v1/withdrawals?limit=", &alice, "limit", "must be a whole number"),
        ("/v1/withdrawals?limit=99999999999999999999999", &alice, "limit", "is too large"),
        ("/v1/withdrawals?status=sideways", &alice, "status", "must be one of `pending`"),
        ("/v1/withdrawals?colour=red", &alice, "colour", "is not a parameter here"),
        ("/v1/wallet/transactions?limit=-1", &alice, "limit", "must be a whole number"),
        ("/v1/ops/audit-log?before=yesterday", &operator, "before", "is not a parameter here"),
        ("/v1/ops/review-queue?limit=x", &operator, "limit", "must be a whole number"),
        ("/mock/sms/outbox", &alice, "phone", "is required"),
    ];
    for (path, token, field, message) in cases {
        let error = assert_error(app.get(path, Some(token)).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        assert_eq!(error["error"]["details"], json!({ "field": field }), "{path}: {error}");
        let said = error["error"]["message"].as_str().unwrap();
        assert!(said.contains(message), "{path}: {error}");
        assert!(!said.to_lowercase().contains("deserialize"), "{path}: {error}");
    }
}

async fn a_bad_resume_point_blames_the_parameter_that_was_sent(store: StoreKind) {
    let app = spawn_app(store).await;
    let alice = app.login_phone("13800000001", "alice-demo").await["access_token"].as_str().unwrap().to_owned();
    let by_query = app.get("/v1/events?after=garbage", Some(&alice)).await;
    let error = assert_error(by_query, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(error["error"]["details"]["field"], "after", "{error}");
    let by_header =
        app.client.get(app.url("/v1/events?after=0")).bearer_auth(&alice).header("Last-Event-ID", "garbage");
    let error = assert_error(by_header.send().await.unwrap(), StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(error["error"]["details"]["field"], "Last-Event-ID", "{error}");
}

async fn error_bodies_carry_the_request_id_of_their_response(store: StoreKind) {
    let app = spawn_app(store).await;
    let long_url = format!("/v1/withdrawals?cursor={}", "a".repeat(app.settings.server.uri_bytes_max));
    // A route's own refusal, an extractor's, the catch-all's and the edge's.
    for path in ["/v1/wallet", "/v1/withdrawals?limit=x", "/v1/nothing-here", long_url.as_str()] {
        let generated = app.get(path, None).await;
        let header = generated.headers()["x-request-id"].to_str().unwrap().to_owned();
        let body: Value = generated.json().await.unwrap();
        assert_eq!(body["error"]["request_id"], header.as_str(), "{path}: {body}");
        let echoed = app.client.get(app.url(path)).header("x-request-id", "trace-7.b").send().await.unwrap();
        assert_eq!(echoed.headers()["x-request-id"], "trace-7.b");
        let body: Value = echoed.json().await.unwrap();
        assert_eq!(body["error"]["request_id"], "trace-7.b", "{path}: {body}");
    }
}

async fn refused_credentials_answer_with_a_bearer_challenge(store: StoreKind) {
    let app = spawn_app(store).await;
    let challenge = |response: &reqwest::Response| {
        response.headers().get("www-authenticate").map(|value| value.to_str().unwrap().to_owned())
    };
    let none = app.get("/v1/wallet", None).await;
    assert_eq!(challenge(&none).as_deref(), Some("Bearer"));
    let forged = app.get("/v1/wallet", Some("not-a-token")).await;
    assert_eq!(challenge(&forged).as_deref(), Some(r#"Bearer error="invalid_token""#));
    let basic = app.client.get(app.url("/v1/wallet")).header("authorization", "Basic YTpi").send().await.unwrap();
    assert_eq!(challenge(&basic).as_deref(), Some(r#"Bearer error="invalid_request""#));
    let wrong_password = app.login(&json!({ "phone": "13800000001", "password": "wrong-password" })).await;
    assert_eq!(challenge(&wrong_password).as_deref(), Some("Bearer"));
    for response in [none, forged, basic, wrong_password] {
        assert_error(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    }
    let alice = app.login_phone("13800000001", "alice-demo").await["access_token"].as_str().unwrap().to_owned();
    let served = app.get("/v1/wallet", Some(&alice)).await;
    assert_eq!(challenge(&served), None);
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
    use walletgate::domain::asset::{Asset, Quantity};
    use walletgate::domain::ledger::{LedgerAccount, LedgerError};
    use walletgate::domain::limits::{LimitError, LimitKind};
    use walletgate::domain::money::{Money, MoneyError};
    use walletgate::domain::withdrawal::{WithdrawalError, WithdrawalStatus};
    use walletgate::error::ApiError;

    let short = |account| LedgerError::InsufficientFunds {
        account,
        balance: Quantity::zero(Asset::Cny),
        change: Quantity::zero(Asset::Cny),
    };
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

/// What a `details` value must be, by its key; amounts and times are JSON
/// strings of a fixed form, never numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Detail {
    Text,
    /// A decimal string with two places, as every amount on the wire.
    Amount,
    /// An RFC 3339 timestamp.
    Time,
    Integer,
    TextList,
}

impl Detail {
    fn admits(self, value: &Value) -> bool {
        match self {
            Detail::Text => value.is_string(),
            Detail::Amount => value.as_str().is_some_and(|text| {
                let (whole, fen) = text.split_once('.').unwrap_or((text, ""));
                // At an asset's places: CNY 2, USDT 6.
                let places = [2, 6].contains(&fen.len()) && fen.bytes().all(|b| b.is_ascii_digit());
                !whole.is_empty() && whole.bytes().all(|b| b.is_ascii_digit()) && places
            }),
            Detail::Time => value.as_str().is_some_and(|text| chrono::DateTime::parse_from_rfc3339(text).is_ok()),
            Detail::Integer => value.is_u64() || value.is_i64(),
            Detail::TextList => value.as_array().is_some_and(|items| items.iter().all(Value::is_string)),
        }
    }
}

/// One error of each variant of the catalogue (two where a code's details
/// take two forms) with the keys and types its `details` must have, exactly.
fn catalogue_samples() -> Vec<(walletgate::error::ApiError, &'static [(&'static str, Detail)])> {
    use Detail::{Amount, Integer, Text, TextList, Time};
    use walletgate::domain::limits::{LimitError, LimitKind};
    use walletgate::domain::money::Money;
    use walletgate::domain::scenario::ScenarioError;
    use walletgate::domain::withdrawal::WithdrawalError;
    use walletgate::error::{ApiError, BearerError};

    let at = chrono::DateTime::parse_from_rfc3339("2025-11-21T10:00:00Z").unwrap().to_utc();
    let money = |text: &str| text.parse::<Money>().unwrap();
    let limit = |error| ApiError::from(WithdrawalError::Limit(error));
    vec![
        (ApiError::validation("amount", "must not be empty"), &[("field", Text)]),
        (ApiError::Validation { field: None, message: "malformed JSON".into() }, &[]),
        (ApiError::PayloadTooLarge { bytes_max: 65_536 }, &[("bytes_max", Integer)]),
        (ApiError::RequestTimeout { secs: 10 }, &[("timeout_secs", Integer)]),
        (ApiError::UriTooLong { bytes_max: 8192 }, &[("bytes_max", Integer)]),
        (ApiError::HeadersTooLarge { bytes_max: 16_384 }, &[("bytes_max", Integer)]),
        (ApiError::Unauthenticated("wrong login or password".into()), &[]),
        (ApiError::bearer_refused(BearerError::InvalidToken, "the token has expired"), &[]),
        (ApiError::Forbidden { required: "operator" }, &[("required_role", Text)]),
        (ApiError::NotFound { resource: "withdrawal" }, &[("resource", Text)]),
        (ApiError::MethodNotAllowed { allowed: vec!["GET", "POST"] }, &[("allowed", TextList)]),
        (ApiError::AlreadyRegistered, &[]),
        (
            ApiError::InsufficientBalance { available: "10.00".into(), requested: "20.00".into() },
            &[("available", Amount), ("requested", Amount)],
        ),
        (ApiError::AccountFrozen, &[]),
        (ApiError::PasswordIncorrect, &[]),
        (ApiError::LoginLocked { locked_until: at }, &[("locked_until", Time)]),
        (ApiError::PinIncorrect { attempts_remaining: 4 }, &[("attempts_remaining", Integer)]),
        (ApiError::PinLocked { locked_until: at }, &[("locked_until", Time)]),
        (ApiError::PinNotSet, &[]),
        (ApiError::PinAlreadySet, &[]),
        (ApiError::PinTooSimple, &[]),
        (ApiError::NoPendingBinding, &[]),
        (ApiError::IdNumberTaken, &[]),
        (ApiError::NoActiveBinding, &[]),
        (ApiError::VerificationRequired, &[]),
        (ApiError::AmountBelowMinimum { minimum: "0.10".into() }, &[("minimum", Amount)]),
        (ApiError::QuoteExpired, &[]),
        (ApiError::IdempotencyKeyReused, &[]),
        (ApiError::WithdrawalFinished { status: "settled".into() }, &[("status", Text)]),
        (ApiError::WithdrawalAlreadyDecided { status: "approved" }, &[("status", Text)]),
        (ApiError::PayoutAlreadyMade { transfer_bill_no: "tb_1".into() }, &[("transfer_bill_no", Text)]),
        (
            limit(LimitError::AmountExceeded { limit: LimitKind::Daily, remaining: money("200.00") }),
            &[("limit", Text), ("remaining", Amount)],
        ),
        (limit(LimitError::CountExceeded { remaining: 0 }), &[("limit", Text), ("remaining_count", Integer)]),
        (
            ApiError::TransferLimitExceeded {
                limit: walletgate::domain::transfer_policy::TransferLimit::Daily,
                asset: walletgate::domain::asset::Asset::Usdt,
                remaining: "12.500000".into(),
            },
            &[("limit", Text), ("asset", Text), ("remaining", Amount)],
        ),
        (ApiError::TransferToSelf, &[]),
        (ApiError::RecipientNotFound, &[]),
        (ApiError::RecipientFrozen, &[]),
        (ApiError::KycConflict { reason: "already_pending" }, &[("reason", Text)]),
        (ApiError::FaceCheckFailed, &[]),
        (ApiError::PhoneRequired, &[]),
        (ApiError::SmsCodeIncorrect { attempts_remaining: 2 }, &[("attempts_remaining", Integer)]),
        (ApiError::SmsCodeExpired, &[]),
        (ApiError::IdentityCheckFailed, &[]),
        (ApiError::BindingStateInvalid, &[]),
        (ApiError::BindingConsentDenied, &[]),
        (
            ApiError::WeChatAuthorizationFailed { errcode: 40029, errmsg: "invalid code".into() },
            &[("errcode", Integer), ("errmsg", Text)],
        ),
        (ApiError::WeChatSnapshotUser, &[]),
        (ApiError::WeChatAlreadyBound, &[]),
        (ApiError::BindingAlreadyActive { binding_id: "bnd_1".into() }, &[("binding_id", Text)]),
        (ApiError::BindingStatusConflict { status: "active" }, &[("status", Text)]),
        (ApiError::BindingExpired, &[]),
        (ApiError::WeChatUnavailable, &[]),
        (
            ApiError::AlipayAuthorizationFailed {
                sub_code: "isv.code-invalid".into(),
                sub_msg: "授权码code无效".into(),
            },
            &[("sub_code", Text), ("sub_msg", Text)],
        ),
        (ApiError::AlipayAlreadyBound, &[]),
        (ApiError::ProviderUnavailable { provider: "alipay" }, &[("provider", Text)]),
        (ApiError::SmsUnavailable, &[]),
        (ApiError::SmsNotSent, &[]),
        (ApiError::ClockWouldGoBackwards { now: chrono::Utc::now() }, &[("now", Time)]),
        (ApiError::ClockAdvanceTooFar { max_secs: 31_622_400 }, &[("max_secs", Integer)]),
        (ApiError::ClockAdvancing, &[]),
        (ApiError::ClockAdvanceInterrupted, &[]),
        (ApiError::RateLimited { retry_after_secs: 7 }, &[("retry_after_secs", Integer)]),
        (ApiError::StoreUnavailable, &[]),
        (
            ApiError::ScenarioInvalid {
                scenario: "review-queue".into(),
                error: ScenarioError { field: Some("users[2].pin".into()), line: Some(31), message: "too easy".into() },
            },
            &[("scenario", Text), ("field", Text), ("line", Integer)],
        ),
        (
            ApiError::ScenarioInvalid {
                scenario: "big.toml".into(),
                error: ScenarioError { field: None, line: None, message: "too large".into() },
            },
            &[("scenario", Text)],
        ),
        (ApiError::StoreBusy, &[]),
        (ApiError::ServerBusy, &[]),
        (ApiError::internal(anyhow::anyhow!("a cause never sent")), &[]),
    ]
}

/// Every code of the catalogue, answered by a handler behind the service's
/// own request-id middleware: `{code, message, details, request_id}` and
/// nothing else, `details` with the keys and types of the table above, each
/// key of one type throughout a code, and the request id of the header.
#[actix_web::test]
async fn every_catalogue_code_renders_details_of_fixed_shape_and_the_request_id() {
    use std::collections::{BTreeMap, BTreeSet};

    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};
    use tracing_actix_web::TracingLogger;
    use walletgate::error::ApiError;
    use walletgate::telemetry::{WalletgateRootSpan, observe_request};

    let answer = |index: web::Path<usize>| async move {
        Err::<HttpResponse, ApiError>(catalogue_samples().swap_remove(index.into_inner()).0)
    };
    let service = test::init_service(
        App::new()
            .wrap(from_fn(observe_request))
            .wrap(TracingLogger::<WalletgateRootSpan>::new())
            .route("/{index}", web::get().to(answer)),
    )
    .await;
    let mut key_types: BTreeMap<(&str, &str), Detail> = BTreeMap::new();
    for (index, (sample, shape)) in catalogue_samples().into_iter().enumerate() {
        let code = sample.code();
        let response =
            test::call_service(&service, test::TestRequest::get().uri(&format!("/{index}")).to_request()).await;
        let header = response.headers().get("x-request-id").unwrap().to_str().unwrap().to_owned();
        let body: Value = test::read_body_json(response).await;
        let error = body["error"].as_object().unwrap_or_else(|| panic!("{code}: {body}"));
        let keys: BTreeSet<&str> = error.keys().map(String::as_str).collect();
        assert_eq!(keys, BTreeSet::from(["code", "details", "message", "request_id"]), "{code}: {body}");
        assert_eq!(error["code"], code, "{body}");
        assert!(error["message"].as_str().is_some_and(|message| !message.is_empty()), "{code}: {body}");
        assert_eq!(error["request_id"], header.as_str(), "{code}: {body}");
        let details = error["details"].as_object().unwrap_or_else(|| panic!("{code}: {body}"));
        let sent: BTreeSet<&str> = details.keys().map(String::as_str).collect();
        let expected: BTreeSet<&str> = shape.iter().map(|(key, _)| *key).collect();
        assert_eq!(sent, expected, "{code}: {body}");
        for (key, detail) in shape {
            assert!(detail.admits(&details[*key]), "{code}: `{key}` is not {detail:?}: {body}");
            let first = *key_types.entry((code, key)).or_insert(*detail);
            assert_eq!(first, *detail, "{code}: `{key}` has two types");
        }
    }
    let sampled: BTreeSet<&str> = catalogue_samples().iter().map(|(sample, _)| sample.code()).collect();
    let catalogue: BTreeSet<&str> = ApiError::CODES.iter().copied().collect();
    assert_eq!(sampled, catalogue, "every code of the catalogue has a sample, and only those");
    let two_forms = ["VALIDATION_FAILED", "SCENARIO_INVALID"].len();
    assert_eq!(catalogue_samples().len(), ApiError::CODES.len() + two_forms, "one sample per row, two for some");
}

/// `LIMIT_EXCEEDED` speaks of the limit that was hit: an amount limit with
/// the amount left (a decimal string), the count limit with the count left.
#[test]
fn limit_refusals_are_worded_and_shaped_by_their_limit() {
    use walletgate::domain::limits::{LimitError, LimitKind};
    use walletgate::domain::money::Money;
    use walletgate::domain::withdrawal::WithdrawalError;
    use walletgate::error::ApiError;

    let render = |error| ApiError::from(WithdrawalError::Limit(error)).body()["error"].clone();
    let count = render(LimitError::CountExceeded { remaining: 0 });
    assert_eq!(count["details"], json!({ "limit": "daily_count", "remaining_count": 0 }));
    let said = count["message"].as_str().unwrap();
    assert!(!said.contains("amount") && said.contains("count"), "{said}");
    for (kind, words) in [
        (LimitKind::PerTransaction, "per-transaction limit of 50.00"),
        (LimitKind::Daily, "today's limit (50.00)"),
        (LimitKind::Monthly, "this month's limit (50.00)"),
    ] {
        let remaining: Money = "50.00".parse().unwrap();
        let amount = render(LimitError::AmountExceeded { limit: kind, remaining });
        assert_eq!(amount["details"], json!({ "limit": kind.as_str(), "remaining": "50.00" }));
        assert!(amount["message"].as_str().unwrap().contains(words), "{amount}");
    }
}
