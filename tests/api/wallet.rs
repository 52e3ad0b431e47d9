//! Balances, history and operator adjustments, with the ledger checked after each.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{StoreKind, assert_error, json_of, spawn_app};
use crate::on_both_stores;

on_both_stores!(
    an_operator_credit_is_a_balanced_entry_the_user_sees,
    a_debit_larger_than_the_balance_is_refused_and_changes_nothing,
    history_pages_newest_first_with_cursors,
    adjusting_an_unknown_account_is_not_found,
    the_ledger_check_adds_up_every_account,
    the_ledger_check_totals_may_exceed_what_one_balance_can_hold,
    a_user_cannot_see_another_users_movement,
    the_wallet_shows_the_limits_of_the_level_in_force,
    an_operator_credit_repeated_with_its_key_credits_once,
    concurrent_repeats_of_a_keyed_credit_credit_once,
    operators_credit_usdt_which_the_wallet_history_and_ledger_keep_apart,
    an_amount_with_more_places_than_its_asset_is_refused_naming_it,
);

async fn an_operator_credit_is_a_balanced_entry_the_user_sees(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let (user_id, user) = app.new_user().await;
    let credited = json_of(app.credit(&operator, &user_id, "100.50").await, StatusCode::CREATED).await;
    assert_eq!(credited["wallet"]["available"], "100.50");
    assert_eq!(credited["entry"]["kind"], "operator_credit");
    assert_eq!(credited["entry"]["available_change"], "100.50");
    assert_eq!(credited["entry"]["held_change"], "0.00");

    let debited = json_of(app.debit(&operator, &user_id, "0.50").await, StatusCode::CREATED).await;
    assert_eq!(debited["wallet"]["available"], "100.00");
    assert_eq!(debited["entry"]["available_change"], "-0.50");

    assert_eq!(app.available(&user).await, "100.00");
    let history = json_of(app.transactions(&user, "").await, StatusCode::OK).await;
    let kinds: Vec<_> = history["items"].as_array().unwrap().iter().map(|i| i["kind"].clone()).collect();
    assert_eq!(kinds, [json!("operator_debit"), json!("operator_credit")]);
    assert_eq!(history["items"][1]["memo"], "test top-up");
    app.assert_ledger_balanced().await;
}

async fn a_debit_larger_than_the_balance_is_refused_and_changes_nothing(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let (user_id, user) = app.new_user().await;
    app.credit(&operator, &user_id, "10.00").await;
    let refused = assert_error(
        app.debit(&operator, &user_id, "10.01").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "INSUFFICIENT_BALANCE",
    )
    .await;
    assert_eq!(refused["error"]["details"], json!({ "available": "10.00", "requested": "10.01" }));
    assert_eq!(app.available(&user).await, "10.00");
    let history = json_of(app.transactions(&user, "").await, StatusCode::OK).await;
    assert_eq!(history["items"].as_array().unwrap().len(), 1);
    json_of(app.debit(&operator, &user_id, "10.00").await, StatusCode::CREATED).await;
    assert_eq!(app.available(&user).await, "0.00");
    app.assert_ledger_balanced().await;
}

async fn history_pages_newest_first_with_cursors(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let (user_id, user) = app.new_user().await;
    for amount in ["1.00", "2.00", "3.00", "4.00", "5.00"] {
        json_of(app.credit(&operator, &user_id, amount).await, StatusCode::CREATED).await;
    }
    let mut seen = Vec::new();
    let mut query = "?limit=2".to_owned();
    for expected_len in [2, 2, 1] {
        let page = json_of(app.transactions(&user, &query).await, StatusCode::OK).await;
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), expected_len, "page: {page}");
        seen.extend(items.iter().map(|i| i["available_change"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("?limit=2&cursor={cursor}"),
            None => assert_eq!(expected_len, 1),
        }
    }
    assert_eq!(seen, ["5.00", "4.00", "3.00", "2.00", "1.00"]);
    let bad_cursor = app.transactions(&user, "?cursor=abc").await;
    assert_error(bad_cursor, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    let bad_limit = app.transactions(&user, "?limit=-1").await;
    assert_error(bad_limit, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
}

async fn adjusting_an_unknown_account_is_not_found(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    for id in ["acc_doesnotexist", "not-an-id", "acc_%2E%2E"] {
        assert_error(app.credit(&operator, id, "1.00").await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
}

async fn the_ledger_check_adds_up_every_account(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let (user_id, _) = app.new_user().await;
    app.credit(&operator, &user_id, "0.01").await;
    let report = app.assert_ledger_balanced().await;
    // Seeded 800.00 + 120000.00 + 5000.00, plus 0.01.
    assert_eq!(report["totals"]["user_available"], "125800.01");
    assert_eq!(report["totals"]["funding"], "-125800.01");
    assert_eq!(report["totals"]["user_held"], "0.00");
    assert_eq!(report["accounts_checked"], 5);
    assert_eq!(report["entries_checked"], 4);
    assert_eq!(report["mismatches"], json!([]));
}

async fn the_ledger_check_totals_may_exceed_what_one_balance_can_hold(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    // Each wallet stays within the 1000000000000.00 a balance may hold; together they do not.
    json_of(app.credit(&operator, "acc_demo_alice", "999999999000.00").await, StatusCode::CREATED).await;
    json_of(app.credit(&operator, "acc_demo_bob", "999999000000.00").await, StatusCode::CREATED).await;
    let report = app.assert_ledger_balanced().await;
    assert_eq!(report["totals"]["user_available"], "1999999124800.00");
    assert_eq!(report["totals"]["funding"], "-1999999124800.00");
}

async fn a_user_cannot_see_another_users_movement(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let (alice_id, alice) = app.new_user().await;
    let (bob_id, bob) = app.new_user().await;
    let alices = json_of(app.credit(&operator, &alice_id, "5.00").await, StatusCode::CREATED).await;
    json_of(app.credit(&operator, &bob_id, "6.00").await, StatusCode::CREATED).await;
    let entry_id = alices["entry"]["id"].as_str().unwrap();

    let own =
        json_of(app.get(&format!("/v1/wallet/transactions/{entry_id}"), Some(&alice)).await, StatusCode::OK).await;
    assert_eq!(own, alices["entry"]);
    let others = app.get(&format!("/v1/wallet/transactions/{entry_id}"), Some(&bob)).await;
    let refused = assert_error(others, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert!(!refused.to_string().contains("5.00"));
    for bad in ["je_00000000000000000000000000000000", "nonsense", "je_..%2F"] {
        let response = app.get(&format!("/v1/wallet/transactions/{bad}"), Some(&alice)).await;
        assert_error(response, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
}

async fn the_wallet_shows_the_limits_of_the_level_in_force(store: StoreKind) {
    let app = spawn_app(store).await;
    for (phone, password, per_transaction, daily) in
        [("13800000002", "bob-demo", "50000.00", "100000.00"), ("13800000003", "carol-demo", "5000.00", "10000.00")]
    {
        let token = app.login_phone(phone, password).await["access_token"].as_str().unwrap().to_owned();
        let wallet = json_of(app.wallet(&token).await, StatusCode::OK).await;
        assert_eq!(wallet["limits"]["per_transaction_max"], per_transaction);
        assert_eq!(wallet["limits"]["daily_remaining"], daily);
    }
    // A verification that falls due raises the limits at once.
    let user = app.new_phone_user().await;
    let identity = json!({ "level": "L1", "real_name": "王五", "id_number": "11010519491231002X" });
    json_of(app.post("/v1/kyc", Some(&user.token), &identity).await, StatusCode::ACCEPTED).await;
    app.clock.advance(chrono::Duration::seconds(5));
    let wallet = json_of(app.wallet(&user.token).await, StatusCode::OK).await;
    assert_eq!(
        (wallet["verification_level"].as_str(), wallet["limits"]["per_transaction_max"].as_str()),
        (Some("L1"), Some("5000.00"))
    );
}

async fn an_operator_credit_repeated_with_its_key_credits_once(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let (user_id, user) = app.new_user().await;
    let body = json!({ "amount": "25.00", "memo": "top-up once" });
    let first = app.adjust_once(&operator, "credit", &user_id, &body, "top-up-1").await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = json_of(first, StatusCode::CREATED).await;
    let again = app.adjust_once(&operator, "credit", &user_id, &body, "top-up-1").await;
    assert_eq!(again.headers().get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert_eq!(json_of(again, StatusCode::CREATED).await, first, "the first outcome, entry id and balances included");
    assert_eq!(app.available(&user).await, "25.00");

    // The key names one adjustment: another amount or direction under it is refused.
    let other = json!({ "amount": "26.00", "memo": "top-up once" });
    let reused = app.adjust_once(&operator, "credit", &user_id, &other, "top-up-1").await;
    assert_error(reused, StatusCode::CONFLICT, "IDEMPOTENCY_KEY_REUSED").await;
    let reused = app.adjust_once(&operator, "debit", &user_id, &body, "top-up-1").await;
    assert_error(reused, StatusCode::CONFLICT, "IDEMPOTENCY_KEY_REUSED").await;
    // A new key is a new credit; a user's own key space is apart from the operator's.
    json_of(app.adjust_once(&operator, "credit", &user_id, &body, "top-up-2").await, StatusCode::CREATED).await;
    assert_eq!(app.available(&user).await, "50.00");
    let history = json_of(app.transactions(&user, "").await, StatusCode::OK).await;
    assert_eq!(history["items"].as_array().unwrap().len(), 2);
    let bad = app.adjust_once(&operator, "credit", &user_id, &body, "").await;
    assert_error(bad, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    app.assert_ledger_balanced().await;
}

async fn concurrent_repeats_of_a_keyed_credit_credit_once(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let (user_id, user) = app.new_user().await;
    let body = json!({ "amount": "10.00", "memo": "double enter" });
    let repeats = (0..8).map(|_| app.adjust_once(&operator, "credit", &user_id, &body, "double-enter"));
    let answers = futures_util::future::join_all(repeats).await;
    let mut entries = std::collections::BTreeSet::new();
    for answer in answers {
        let answer = json_of(answer, StatusCode::CREATED).await;
        entries.insert(answer["entry"]["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(app.available(&user).await, "10.00");
    app.assert_ledger_balanced().await;
}

async fn operators_credit_usdt_which_the_wallet_history_and_ledger_keep_apart(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let (user_id, user) = app.new_user().await;
    app.credit(&operator, &user_id, "10.00").await;
    let usdt = json!({ "asset": "USDT", "amount": "2.5", "memo": "usdt top-up" });
    let credited =
        json_of(app.adjust_once(&operator, "credit", &user_id, &usdt, "usdt-1").await, StatusCode::CREATED).await;
    assert_eq!(
        credited["wallet"],
        json!({ "account_id": user_id, "currency": "USDT", "available": "2.500000", "held": "0.000000" })
    );
    assert_eq!(
        (credited["entry"]["asset"].as_str(), credited["entry"]["available_change"].as_str()),
        (Some("USDT"), Some("2.500000"))
    );
    // The same key with the other asset is another request.
    let as_cny = json!({ "asset": "CNY", "amount": "2.5", "memo": "usdt top-up" });
    let reused = app.adjust_once(&operator, "credit", &user_id, &as_cny, "usdt-1").await;
    assert_error(reused, StatusCode::CONFLICT, "IDEMPOTENCY_KEY_REUSED").await;

    let wallet = json_of(app.wallet(&user).await, StatusCode::OK).await;
    assert_eq!((wallet["currency"].as_str(), wallet["available"].as_str()), (Some("CNY"), Some("10.00")));
    assert_eq!(
        wallet["assets"],
        json!([
            { "asset": "CNY", "available": "10.00", "held": "0.00" },
            { "asset": "USDT", "available": "2.500000", "held": "0.000000" },
        ])
    );
    let history = json_of(app.transactions(&user, "").await, StatusCode::OK).await;
    let moved: Vec<_> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["asset"].clone(), i["available_change"].clone()))
        .collect();
    assert_eq!(moved, [(json!("USDT"), json!("2.500000")), (json!("CNY"), json!("10.00"))]);

    // USDT is not spent from CNY: taking back more USDT than held is refused in USDT.
    let too_much = json!({ "asset": "USDT", "amount": "2.500001", "memo": "take back" });
    let refused = app.adjust_once(&operator, "debit", &user_id, &too_much, "usdt-2").await;
    let refused = assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, "INSUFFICIENT_BALANCE").await;
    assert_eq!(refused["error"]["details"], json!({ "available": "2.500000", "requested": "2.500001" }));
    let back = json!({ "asset": "USDT", "amount": "0.000001", "memo": "take back" });
    json_of(app.adjust_once(&operator, "debit", &user_id, &back, "usdt-3").await, StatusCode::CREATED).await;

    let report = app.assert_ledger_balanced().await;
    let assets: Vec<_> = report["assets"].as_array().unwrap().iter().map(|a| a["asset"].clone()).collect();
    assert!(assets.contains(&json!("USDT")), "{report}");
    let usdt_totals = report["assets"].as_array().unwrap().iter().find(|a| a["asset"] == "USDT").unwrap();
    assert_eq!(usdt_totals["sum"], "0.000000");
    assert_eq!(usdt_totals["totals"]["user_available"], "2.499999");
}

async fn an_amount_with_more_places_than_its_asset_is_refused_naming_it(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let (user_id, user) = app.new_user().await;
    for (body, message) in [
        (json!({ "asset": "USDT", "amount": "1.1234567", "memo": "m" }), "must have at most 6 decimal places for USDT"),
        (json!({ "asset": "CNY", "amount": "1.123", "memo": "m" }), "must have at most 2 decimal places for CNY"),
        (json!({ "asset": "USDT", "amount": "0", "memo": "m" }), "must be greater than 0.000000"),
    ] {
        let refused = app.post(&format!("/v1/ops/accounts/{user_id}/credit"), Some(&operator), &body).await;
        let refused = assert_error(refused, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        assert_eq!(refused["error"]["details"]["field"], "amount", "{body}");
        assert!(refused["error"]["message"].as_str().unwrap().contains(message), "{refused}");
    }
    let unknown = json!({ "asset": "BTC", "amount": "1", "memo": "m" });
    let refused = app.post(&format!("/v1/ops/accounts/{user_id}/credit"), Some(&operator), &unknown).await;
    let refused = assert_error(refused, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(refused["error"]["details"]["field"], "asset");
    assert_eq!(app.available(&user).await, "0.00");
}
