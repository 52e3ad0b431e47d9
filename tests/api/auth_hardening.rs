//! Authentication under abuse: password hashing has a bound and answers
//! `SERVER_BUSY` past it, registration is rate-limited, and access tokens are
//! checked against the account they name where it matters.

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use walletgate::settings::RateLimit;

use crate::helpers::{StoreKind, assert_error, json_of, spawn_app, spawn_app_with, unique_phone};
use crate::on_both_stores;

on_both_stores!(
    password_hashing_past_its_bound_answers_server_busy_and_never_500,
    concurrent_registrations_and_logins_all_succeed_with_the_default_bound,
    registration_past_its_rate_limit_answers_429_in_the_catalogue_shape,
);

async fn password_hashing_past_its_bound_answers_server_busy_and_never_500(store: StoreKind) {
    let app = spawn_app_with(store, |settings| {
        settings.auth.password_hashing_concurrency = 1;
        settings.auth.password_hashing_wait_ms = 1;
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
