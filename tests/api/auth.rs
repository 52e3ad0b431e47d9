//! Registration, login, tokens and roles.

use chrono::Duration;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::json;
use walletgate::clock::Clock;

use crate::helpers::{StoreKind, assert_error, json_of, spawn_app, spawn_app_with, unique_phone, without_request_id};
use crate::on_both_stores;

on_both_stores!(
    seeded_demo_accounts_log_in_with_their_documented_balances_and_levels,
    registration_creates_an_l0_account_with_a_zero_balance,
    a_login_already_taken_cannot_register_again,
    registration_refuses_bad_credentials_naming_the_field,
    wrong_passwords_and_unknown_logins_get_the_same_answer,
    access_tokens_expire_by_the_clock,
    refresh_tokens_rotate_and_a_reused_one_revokes_its_family,
    refresh_tokens_expire_by_the_clock,
    forged_tokens_are_refused,
    user_tokens_cannot_use_operator_endpoints,
);

async fn seeded_demo_accounts_log_in_with_their_documented_balances_and_levels(store: StoreKind) {
    let app = spawn_app(store).await;
    let demo = [
        ("13800000001", "alice-demo", "L0", "800.00"),
        ("13800000002", "bob-demo", "L2", "120000.00"),
        ("13800000003", "carol-demo", "L1", "5000.00"),
    ];
    for (phone, password, level, balance) in demo {
        let tokens = app.login_phone(phone, password).await;
        assert_eq!(tokens["token_type"], "Bearer");
        assert_eq!(tokens["expires_in"], 900);
        let token = tokens["access_token"].as_str().unwrap();
        let me = json_of(app.me(token).await, StatusCode::OK).await;
        assert_eq!(me["verification_level"], level);
        assert_eq!(me["role"], "user");
        assert_eq!(me["phone"], format!("{}****{}", &phone[..3], &phone[7..]));
        assert_eq!(me["pin_set"], false);
        assert_eq!(app.available(token).await, balance);
    }
    let operator = app.operator_token().await;
    let me = json_of(app.me(&operator).await, StatusCode::OK).await;
    assert_eq!(me["role"], "operator");
    assert_eq!(me["email"], "o***@walletgate.test");
}

async fn registration_creates_an_l0_account_with_a_zero_balance(store: StoreKind) {
    let app = spawn_app(store).await;
    let phone = unique_phone();
    let profile =
        json_of(app.register(&json!({ "phone": phone, "password": "correct-horse" })).await, StatusCode::CREATED).await;
    assert!(profile["id"].as_str().unwrap().starts_with("acc_"));
    assert_eq!(profile["verification_level"], "L0");
    assert_eq!(profile["frozen"], false);
    let token = app.login_phone(&phone, "correct-horse").await["access_token"].as_str().unwrap().to_owned();
    let wallet = json_of(app.wallet(&token).await, StatusCode::OK).await;
    let expected = json!({
        "account_id": profile["id"], "currency": "CNY", "available": "0.00", "held": "0.00",
        "verification_level": "L0",
        "limits": {
            "per_transaction_max": "1000.00", "daily_remaining": "1000.00",
            "monthly_remaining": "3000.00", "daily_count_remaining": 5
        },
        "fee_free_quota_remaining": "1000.00",
        "fee_free_quotas": [
            { "provider": "wechat", "remaining": "1000.00" },
            { "provider": "alipay", "remaining": "20000.00" },
        ],
        "assets": [
            { "asset": "CNY", "available": "0.00", "held": "0.00" },
            { "asset": "USDT", "available": "0.000000", "held": "0.000000" },
        ]
    });
    assert_eq!(wallet, expected);

    let email = format!("{}@Example.COM", uuid::Uuid::new_v4().simple());
    let created =
        json_of(app.register(&json!({ "email": email, "password": "correct-horse" })).await, StatusCode::CREATED).await;
    assert_eq!(created["phone"], serde_json::Value::Null);
    let login = app.login(&json!({ "email": email.to_lowercase(), "password": "correct-horse" })).await;
    assert_eq!(login.status(), StatusCode::OK);
}

async fn a_login_already_taken_cannot_register_again(store: StoreKind) {
    let app = spawn_app(store).await;
    let taken = app.register(&json!({ "phone": "13800000001", "password": "another-password" })).await;
    assert_error(taken, StatusCode::CONFLICT, "ALREADY_REGISTERED").await;
    let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
    app.register(&json!({ "email": email, "password": "correct-horse" })).await;
    let same_in_capitals = app.register(&json!({ "email": email.to_uppercase(), "password": "correct-horse" })).await;
    assert_error(same_in_capitals, StatusCode::CONFLICT, "ALREADY_REGISTERED").await;
    // The original password still works: the refused attempt changed nothing.
    assert_eq!(app.login_phone("13800000001", "alice-demo").await["token_type"], "Bearer");
}

async fn registration_refuses_bad_credentials_naming_the_field(store: StoreKind) {
    let app = spawn_app(store).await;
    let cases = [
        (json!({ "phone": "12345", "password": "correct-horse" }), "phone"),
        (json!({ "email": "not-an-email", "password": "correct-horse" }), "email"),
        (json!({ "phone": unique_phone(), "password": "short" }), "password"),
        (json!({ "phone": unique_phone(), "password": "x".repeat(129) }), "password"),
        (json!({ "phone": unique_phone(), "email": "a@b.cn", "password": "correct-horse" }), "phone"),
        (json!({ "password": "correct-horse" }), "phone"),
        (json!({ "phone": 13800000009u64, "password": "correct-horse" }), "phone"),
        (json!({ "phone": unique_phone(), "password": "correct-horse", "role": "operator" }), "role"),
    ];
    for (body, field) in cases {
        let error = assert_error(app.register(&body).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        let named = error["error"]["details"]["field"].as_str().map(str::to_owned);
        let message = error["error"]["message"].as_str().unwrap();
        assert!(named.as_deref() == Some(field) || message.contains(field), "{body}: {error}");
    }
}

async fn wrong_passwords_and_unknown_logins_get_the_same_answer(store: StoreKind) {
    let app = spawn_app(store).await;
    let wrong = app.login(&json!({ "phone": "13800000001", "password": "not-alices" })).await;
    let wrong = assert_error(wrong, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let unknown = app.login(&json!({ "phone": unique_phone(), "password": "not-alices" })).await;
    let unknown = assert_error(unknown, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    assert_eq!(without_request_id(wrong), without_request_id(unknown));
}

async fn access_tokens_expire_by_the_clock(store: StoreKind) {
    let app = spawn_app(store).await;
    let (_, token) = app.new_user().await;
    app.clock.advance(Duration::seconds(899));
    assert_eq!(app.me(&token).await.status(), StatusCode::OK);
    app.clock.advance(Duration::seconds(1));
    let expired = assert_error(app.me(&token).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    assert!(expired["error"]["message"].as_str().unwrap().contains("expired"));
}

async fn refresh_tokens_rotate_and_a_reused_one_revokes_its_family(store: StoreKind) {
    let app = spawn_app(store).await;
    let first = app.login_phone("13800000001", "alice-demo").await;
    let first_refresh = first["refresh_token"].as_str().unwrap();
    let second = json_of(app.refresh(first_refresh).await, StatusCode::OK).await;
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    assert_ne!(second["access_token"], first["access_token"]);
    assert_eq!(app.me(second["access_token"].as_str().unwrap()).await.status(), StatusCode::OK);

    // Replaying the consumed token is refused, and the thief's success would
    // have been short-lived: the legitimate newer token is now revoked too.
    assert_error(app.refresh(first_refresh).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let second_refresh = second["refresh_token"].as_str().unwrap();
    assert_error(app.refresh(second_refresh).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;

    // Another login starts a new, unaffected family.
    let fresh = app.login_phone("13800000001", "alice-demo").await;
    assert_eq!(app.refresh(fresh["refresh_token"].as_str().unwrap()).await.status(), StatusCode::OK);
    assert_error(app.refresh("never-issued").await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

async fn refresh_tokens_expire_by_the_clock(store: StoreKind) {
    let app = spawn_app(store).await;
    let tokens = app.login_phone("13800000002", "bob-demo").await;
    app.clock.advance(Duration::days(30));
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_error(app.refresh(refresh).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

async fn forged_tokens_are_refused(store: StoreKind) {
    let app = spawn_app(store).await;
    let now = app.clock.now().timestamp();
    let claims = json!({
        "sub": "acc_demo_alice", "role": "operator", "iss": "walletgate",
        "iat": now, "exp": now + 600, "jti": "forged"
    });
    let wrong_key = jsonwebtoken::encode(
        &Header::default(),
        &claims,
        &EncodingKey::from_secret(b"not-the-server-secret-at-all!!!!"),
    )
    .unwrap();
    // Signed with the server's own key, but with another algorithm than HS256.
    let dev_secret = b"walletgate-local-development-jwt-secret-change-me";
    let other_algorithm =
        jsonwebtoken::encode(&Header::new(Algorithm::HS512), &claims, &EncodingKey::from_secret(dev_secret)).unwrap();
    let genuine = app.login_phone("13800000001", "alice-demo").await["access_token"].as_str().unwrap().to_owned();
    let payload = genuine.split('.').nth(1).unwrap();
    let alg_none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
    let mut tampered_parts: Vec<&str> = genuine.split('.').collect();
    let promoted = wrong_key.split('.').nth(1).unwrap();
    tampered_parts[1] = promoted;
    let tampered = tampered_parts.join(".");
    let forged = [wrong_key.as_str(), other_algorithm.as_str(), alg_none.as_str(), tampered.as_str(), "garbage", ""];
    for token in forged {
        let response = app.get("/v1/ops/ledger/check", Some(token)).await;
        assert_error(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    }
    let no_header = app.get("/v1/me", None).await;
    assert_error(no_header, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    let basic = app.client.get(app.url("/v1/me")).header("authorization", "Basic YTpi").send().await.unwrap();
    assert_error(basic, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
}

async fn user_tokens_cannot_use_operator_endpoints(store: StoreKind) {
    let app = spawn_app(store).await;
    let (alice_id, alice) = app.new_user().await;
    let forbidden = [
        app.ledger_check(&alice).await,
        app.credit(&alice, &alice_id, "1000.00").await,
        app.debit(&alice, "acc_demo_bob", "1.00").await,
    ];
    for response in forbidden {
        assert_error(response, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    }
    assert_eq!(app.available(&alice).await, "0.00");
}

on_both_stores!(
    repeated_login_attempts_are_rate_limited_per_login,
    concurrent_uses_of_one_refresh_token_revoke_its_family
);

async fn concurrent_uses_of_one_refresh_token_revoke_its_family(store: StoreKind) {
    let app = spawn_app(store).await;
    let tokens = app.login_phone("13800000002", "bob-demo").await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let responses = futures_util::future::join_all((0..10).map(|_| app.refresh(refresh))).await;
    let mut rotated = Vec::new();
    for response in responses {
        if response.status() == StatusCode::OK {
            rotated.push(response.json::<serde_json::Value>().await.unwrap());
        } else {
            assert_error(response, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
        }
    }
    // At most one use wins; the others are reuse, which revokes the whole
    // family, so even the winner's new refresh token is dead.
    assert!(rotated.len() <= 1, "{rotated:?}");
    for pair in rotated {
        let next = app.refresh(pair["refresh_token"].as_str().unwrap()).await;
        assert_error(next, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    }
}

async fn repeated_login_attempts_are_rate_limited_per_login(store: StoreKind) {
    // The login lock (tests/api/login_lock.rs) would step in after five.
    let app = spawn_app_with(store, |settings| settings.login_lock.attempts_max = 100).await;
    let guess = json!({ "phone": "13800000003", "password": "guess-guess" });
    for _ in 0..10 {
        assert_error(app.login(&guess).await, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    }
    let limited = app.login(&guess).await;
    let retry_after: u64 = limited.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=6).contains(&retry_after), "retry after {retry_after}");
    let body = assert_error(limited, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    assert_eq!(body["error"]["details"]["retry_after_secs"], retry_after);
    // Even the right password waits: the limit is on attempts, not failures.
    let right = app.login(&json!({ "phone": "13800000003", "password": "carol-demo" })).await;
    assert_error(right, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED").await;
    assert_eq!(app.login_phone("13800000001", "alice-demo").await["token_type"], "Bearer");
}
