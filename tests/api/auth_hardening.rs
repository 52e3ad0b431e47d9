//! Authentication under abuse: password hashing has a bound and answers
//! `SERVER_BUSY` past it, registration is rate-limited, and access tokens are
//! checked against the account they name where it matters.

use futures_util::future::join_all;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use secrecy::ExposeSecret;
use serde_json::json;
use walletgate::clock::Clock;
use walletgate::settings::RateLimit;

use crate::helpers::{StoreKind, TestApp, TestUser, assert_error, json_of, spawn_app, spawn_app_with, unique_phone};
use crate::on_both_stores;
use crate::withdrawals::{body, ready_user, withdraw};

on_both_stores!(
    password_hashing_past_its_bound_answers_server_busy_and_never_500,
    concurrent_registrations_and_logins_all_succeed_with_the_default_bound,
    registration_past_its_rate_limit_answers_429_in_the_catalogue_shape,
    signed_tokens_for_missing_accounts_or_claiming_operator_are_refused,
    after_a_reused_refresh_token_the_earlier_access_tokens_move_no_money,
);

async fn password_hashing_past_its_bound_answers_server_busy_and_never_500(store: StoreKind) {
    let app = spawn_app_with(store, |settings| {
        settings.auth.password_hashing_concurrency = 1;
        settings.auth.password_hashing_wait_ms = 1;
        // Hashes of the real cost (the test profile's are nearly free), so they queue.
        settings.auth.password_hash_memory_kib = 19456;
        settings.auth.password_hash_iterations = 2;
    })
    .await;
    let app = &app;
    let credentials = |_| json!({ "phone": unique_phone(), "password": "correct-horse" });
    let registrations = join_all((0..12).map(credentials).map(|body| async move { app.register(&body).await }));
    let logins = join_all((0..12).map(credentials).map(|body| async move { app.login(&body).await }));
    let (registered, logged_in) = tokio::join!(registrations, logins);
    let mut busy = 0;
    for response in registered.into_iter().chain(logged_in) {
        match response.status() {
            // A registration, or an unknown login's refusal: the hash ran.
            StatusCode::CREATED | StatusCode::UNAUTHORIZED => {}
            StatusCode::SERVICE_UNAVAILABLE => {
                assert_eq!(response.headers()["retry-after"], "1");
                assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "SERVER_BUSY").await;
                busy += 1;
            }
            other => panic!("unexpected {other}: {:?}", response.text().await),
        }
    }
    assert!(busy > 0, "one hash at a time, waiting 1 ms: some of 24 at once must be turned away");
}

async fn concurrent_registrations_and_logins_all_succeed_with_the_default_bound(store: StoreKind) {
    let app = spawn_app(store).await;
    let phones: Vec<String> = (0..12).map(|_| unique_phone()).collect();
    let credentials: Vec<_> =
        phones.iter().map(|phone| json!({ "phone": phone, "password": "correct-horse" })).collect();
    let registered = join_all(credentials.iter().map(|body| app.register(body))).await;
    for response in registered {
        json_of(response, StatusCode::CREATED).await;
    }
    let logged_in = join_all(credentials.iter().map(|body| app.login(body))).await;
    for response in logged_in {
        json_of(response, StatusCode::OK).await;
    }
}

async fn registration_past_its_rate_limit_answers_429_in_the_catalogue_shape(store: StoreKind) {
    let app = spawn_app_with(store, |settings| {
        settings.rate_limits.register.per_ip = RateLimit { burst: 3, per_minute: 1 };
        settings.rate_limits.register.per_account = RateLimit { burst: 2, per_minute: 1 };
    })
    .await;
    // Probing one phone: the second answer says it is taken, the third is refused.
    let probe = json!({ "phone": "13800000001", "password": "correct-horse" });
    assert_error(app.register(&probe).await, StatusCode::CONFLICT, "ALREADY_REGISTERED").await;
    assert_error(app.register(&probe).await, StatusCode::CONFLICT, "ALREADY_REGISTERED").await;
    let limited = app.register(&probe).await;
    assert!(limited.headers().contains_key("retry-after"));
    let body = assert_error(limited, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    assert!(body["error"]["details"]["retry_after_secs"].as_u64().is_some_and(|secs| secs >= 1), "{body}");

    // Sweeping many phones from one address: the address's budget (3) is spent.
    let sweep = app.register(&json!({ "phone": unique_phone(), "password": "correct-horse" })).await;
    let body = assert_error(sweep, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    assert!(body["error"]["details"]["retry_after_secs"].as_u64().is_some_and(|secs| secs >= 1), "{body}");
}

/// A token signed with the server's own key (as a leaked key, or a bug that
/// signs the wrong claims, would give): the signature alone must not be enough.
fn validly_signed(app: &TestApp, sub: &str, role: &str) -> String {
    let now = app.clock.now().timestamp();
    let claims = json!({
        "sub": sub, "role": role, "iss": app.settings.auth.issuer,
        "iat": now, "exp": now + 600, "jti": "signed-but-not-issued"
    });
    let key = EncodingKey::from_secret(app.settings.auth.jwt_secret.expose_secret().as_bytes());
    jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
}

async fn signed_tokens_for_missing_accounts_or_claiming_operator_are_refused(store: StoreKind) {
    let app = spawn_app(store).await;
    let (alice_id, alice) = app.new_user().await;

    let ghost_operator = validly_signed(&app, "acc_no_such_account", "operator");
    assert_error(app.ledger_check(&ghost_operator).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let credit = app.credit(&ghost_operator, &alice_id, "1000.00").await;
    assert_error(credit, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;

    let promoted = validly_signed(&app, &alice_id, "operator");
    assert_error(app.ledger_check(&promoted).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let credit = app.credit(&promoted, &alice_id, "1000.00").await;
    assert_error(credit, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    assert_eq!(app.available(&alice).await, "0.00");

    // Money-moving calls of a user whose account does not exist.
    let ghost_user = validly_signed(&app, "acc_no_such_account", "user");
    let change = app.put_pin(&ghost_user, &json!({ "pin": "284619", "old_pin": "135790" })).await;
    assert_error(change, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let ghost = TestUser { id: "acc_no_such_account".into(), phone: unique_phone(), token: ghost_user };
    let withdrawal = withdraw(&app, &ghost, "ghost-1", body("bnd_0000000000000000000000000000000a", "1.00")).await;
    assert_error(withdrawal, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;

    let operator = app.operator_token().await;
    json_of(app.ledger_check(&operator).await, StatusCode::OK).await;
}

async fn after_a_reused_refresh_token_the_earlier_access_tokens_move_no_money(store: StoreKind) {
    let app = spawn_app(store).await;
    let (user, binding_id) = ready_user(&app, "100.00").await;
    let pair = app.login_phone(&user.phone, "correct-horse").await;
    let refresh = pair["refresh_token"].as_str().unwrap();
    json_of(app.refresh(refresh).await, StatusCode::OK).await;
    // The stolen copy comes back: the family is revoked, and with it every
    // access token the account was given so far.
    assert_error(app.refresh(refresh).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let earlier = [pair["access_token"].as_str().unwrap().to_owned(), user.token.clone()];
    for (n, token) in earlier.into_iter().enumerate() {
        let holder = TestUser { token, ..user.clone() };
        let refused = withdraw(&app, &holder, format!("revoked-{n}"), body(&binding_id, "1.00")).await;
        assert_error(refused, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    }
    // A login right after, in the same second, works.
    let fresh = app.login_phone(&user.phone, "correct-horse").await["access_token"].as_str().unwrap().to_owned();
    let holder = TestUser { token: fresh, ..user.clone() };
    json_of(withdraw(&app, &holder, "fresh-1", body(&binding_id, "1.00")).await, StatusCode::ACCEPTED).await;

    // The same for an operator's credit.
    let operator = json_of(
        app.login(&json!({ "email": "ops@walletgate.test", "password": "operator-demo" })).await,
        StatusCode::OK,
    )
    .await;
    let operator_refresh = operator["refresh_token"].as_str().unwrap();
    json_of(app.refresh(operator_refresh).await, StatusCode::OK).await;
    assert_error(app.refresh(operator_refresh).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let stale = operator["access_token"].as_str().unwrap();
    assert_error(app.credit(stale, &user.id, "5.00").await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let fresh_operator = app.operator_token().await;
    json_of(app.credit(&fresh_operator, &user.id, "5.00").await, StatusCode::CREATED).await;
}
