//! Operators finding things: accounts by exact login or id, withdrawals
//! across accounts (newest first, by status or account), the identity checks
//! waiting for a decision, and accounts without a wallet (operators).

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletgate::services::keys::{KYC_PENDING_SCHEDULE, WITHDRAWAL_LIST};

use crate::helpers::{StoreKind, TestApp, assert_error, json_of, spawn_app, spawn_app_with};
use crate::kyc::resident_id;
use crate::on_both_stores;
use crate::settlement::{approve, id_of, payee, withdraw};

on_both_stores!(
    operators_find_an_account_by_its_exact_phone_email_or_id,
    operators_list_withdrawals_across_accounts_newest_first_by_status_or_account,
    a_withdrawal_missing_from_the_list_joins_it_at_its_next_change,
    identity_checks_wait_in_a_list_oldest_first_until_decided,
    a_check_the_clock_approved_leaves_the_list,
    an_operator_account_has_no_wallet,
);

async fn get_ok(app: &TestApp, path: &str, token: &str) -> Value {
    json_of(app.get(path, Some(token)).await, StatusCode::OK).await
}

async fn refused_naming(app: &TestApp, path: &str, token: &str, field: &str) {
    let error = assert_error(app.get(path, Some(token)).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
    assert_eq!(error["error"]["details"]["field"], field, "{path}: {error}");
}

fn ids<'a>(page: &'a Value, at: &str) -> Vec<&'a str> {
    let items = page["items"].as_array().unwrap_or_else(|| panic!("no items: {page}"));
    items.iter().map(|item| item.pointer(at).and_then(Value::as_str).unwrap()).collect()
}

async fn operators_find_an_account_by_its_exact_phone_email_or_id(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;

    let alice = get_ok(&app, "/v1/ops/accounts?phone=13800000001", &operator).await;
    assert_eq!(alice["next_cursor"], Value::Null);
    assert_eq!(
        alice["items"],
        json!([{
            "id": "acc_demo_alice", "role": "user", "phone": "138****0001", "email": null,
            "verification_level": "L0", "real_name": null, "frozen": false,
            "wallet": { "available": "800.00", "held": "0.00" },
            "assets": [
                { "asset": "CNY", "available": "800.00", "held": "0.00" },
                { "asset": "USDT", "available": "0.000000", "held": "0.000000" },
            ],
            "created_at": alice["items"][0]["created_at"],
        }])
    );
    let by_email = get_ok(&app, "/v1/ops/accounts?email=OPS@walletgate.test", &operator).await;
    assert_eq!(ids(&by_email, "/id"), ["acc_demo_operator"]);
    assert_eq!(by_email["items"][0]["email"], "o***@walletgate.test");
    assert_eq!(by_email["items"][0]["wallet"], Value::Null, "an operator has no wallet");
    assert_eq!(by_email["items"][0]["assets"], json!([]), "an operator has no wallet");
    let by_id = get_ok(&app, "/v1/ops/accounts?account_id=acc_demo_bob", &operator).await;
    assert_eq!((ids(&by_id, "/id"), &by_id["items"][0]["verification_level"]), (vec!["acc_demo_bob"], &json!("L2")));
    for nobody in ["phone=13800009999", "email=nobody@walletgate.test", "account_id=acc_nobody"] {
        let found = get_ok(&app, &format!("/v1/ops/accounts?{nobody}"), &operator).await;
        assert_eq!(found, json!({ "items": [], "next_cursor": null }), "{nobody}");
    }
    let all = get_ok(&app, "/v1/ops/accounts", &operator).await;
    let demo = ["acc_demo_alice", "acc_demo_bob", "acc_demo_carol", "acc_demo_operator"];
    assert_eq!(ids(&all, "/id"), demo, "every account, in id order");

    for (query, field) in [
        ("phone=1380000", "phone"),
        ("email=not-an-email", "email"),
        ("account_id=alice", "account_id"),
        ("phone=13800000001&email=ops@walletgate.test", "email"),
        ("name=alice", "name"),
    ] {
        refused_naming(&app, &format!("/v1/ops/accounts?{query}"), &operator, field).await;
    }
    let user = app.new_phone_user().await;
    let forbidden = app.get("/v1/ops/accounts?phone=13800000001", Some(&user.token)).await;
    assert_error(forbidden, StatusCode::FORBIDDEN, "FORBIDDEN").await;

    let shown = get_ok(&app, "/v1/ops/accounts/acc_demo_carol", &operator).await;
    assert_eq!(
        (&shown["id"], &shown["phone"], &shown["pending_kyc"]),
        (&json!("acc_demo_carol"), &json!("138****0003"), &Value::Null)
    );
    assert_eq!(shown["wallet"]["available"], "5000.00");
    for missing in ["acc_nobody", "nobody"] {
        let response = app.get(&format!("/v1/ops/accounts/{missing}"), Some(&operator)).await;
        let error = assert_error(response, StatusCode::NOT_FOUND, "NOT_FOUND").await;
        assert_eq!(error["error"]["details"]["resource"], "account");
    }
}

async fn operators_list_withdrawals_across_accounts_newest_first_by_status_or_account(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let (first, second) = (payee(&app, "900.00", json!({})).await, payee(&app, "900.00", json!({})).await);
    // The first withdrawal to a destination waits for review; later ones do not.
    let mut made = Vec::new();
    for (payee, amount) in [(&first, "1.00"), (&second, "2.00"), (&first, "3.00"), (&second, "4.00")] {
        made.push(id_of(&withdraw(&app, payee, amount).await));
        app.clock.advance(Duration::seconds(1));
    }
    let newest_first: Vec<String> = made.iter().rev().cloned().collect();

    let all = get_ok(&app, "/v1/ops/withdrawals", &operator).await;
    assert_eq!(ids(&all, "/withdrawal/id"), newest_first);
    assert_eq!(ids(&all, "/account_id"), [&second.user.id, &first.user.id, &second.user.id, &first.user.id]);
    assert_eq!(all["items"][0]["withdrawal"]["amount"], "4.00");

    let in_review = get_ok(&app, "/v1/ops/withdrawals?status=in_review", &operator).await;
    assert_eq!(ids(&in_review, "/withdrawal/id"), [&made[1], &made[0]]);
    let pending = get_ok(&app, "/v1/ops/withdrawals?status=pending", &operator).await;
    assert_eq!(ids(&pending, "/withdrawal/id"), [&made[3], &made[2]]);
    let of_first = get_ok(&app, &format!("/v1/ops/withdrawals?account_id={}", first.user.id), &operator).await;
    assert_eq!(ids(&of_first, "/withdrawal/id"), [&made[2], &made[0]]);
    let both = format!("/v1/ops/withdrawals?account_id={}&status=in_review", second.user.id);
    assert_eq!(ids(&get_ok(&app, &both, &operator).await, "/withdrawal/id"), [&made[1]]);
    assert_eq!(get_ok(&app, "/v1/ops/withdrawals?status=settled", &operator).await["items"], json!([]));

    refused_naming(&app, "/v1/ops/withdrawals?status=lost", &operator, "status").await;
    refused_naming(&app, "/v1/ops/withdrawals?account_id=first", &operator, "account_id").await;
    let unknown = app.get("/v1/ops/withdrawals?account_id=acc_nobody", Some(&operator)).await;
    assert_error(unknown, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    let forbidden = app.get("/v1/ops/withdrawals", Some(&first.user.token)).await;
    assert_error(forbidden, StatusCode::FORBIDDEN, "FORBIDDEN").await;
}

async fn a_withdrawal_missing_from_the_list_joins_it_at_its_next_change(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let payee = payee(&app, "900.00", json!({})).await;
    let older = id_of(&withdraw(&app, &payee, "5.00").await);
    app.clock.advance(Duration::seconds(1));
    let newer = id_of(&withdraw(&app, &payee, "6.00").await);
    // As if made before the list existed, when each withdrawal had an index entry to its account.
    let member = format!("{}/{older}", payee.user.id);
    let store = &app.services.partitions.store;
    assert!(store.unschedule(WITHDRAWAL_LIST, &member).await.unwrap());
    let index_key = format!("withdrawal_account:{older}");
    assert!(store.swap_index(&index_key, None, Some(&payee.user.id)).await.unwrap());

    let listed = get_ok(&app, "/v1/ops/withdrawals", &operator).await;
    assert_eq!(ids(&listed, "/withdrawal/id"), [&newer]);
    let of_account = format!("/v1/ops/withdrawals?account_id={}", payee.user.id);
    assert_eq!(ids(&get_ok(&app, &of_account, &operator).await, "/withdrawal/id"), [&newer, &older], "all of them");

    json_of(approve(&app, &operator, &older).await, StatusCode::OK).await;
    let listed = get_ok(&app, "/v1/ops/withdrawals", &operator).await;
    assert_eq!(ids(&listed, "/withdrawal/id"), [&newer, &older], "in its place by creation time");
}

fn l1(first17: &str) -> Value {
    json!({ "level": "L1", "real_name": "张三丰", "id_number": resident_id(first17) })
}

async fn identity_checks_wait_in_a_list_oldest_first_until_decided(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.kyc.auto_approve = false).await;
    let operator = app.operator_token().await;
    let mut requests = Vec::new();
    for sequence in ["31010119900307001", "31010119900307002", "31010119900307003"] {
        let user = app.new_phone_user().await;
        let submitted =
            json_of(app.post("/v1/kyc", Some(&user.token), &l1(sequence)).await, StatusCode::ACCEPTED).await;
        requests.push((user, id_of(&submitted)));
        app.clock.advance(Duration::seconds(1));
    }
    let listed = get_ok(&app, "/v1/ops/kyc/pending", &operator).await;
    assert_eq!(ids(&listed, "/request/id"), requests.iter().map(|(_, id)| id.clone()).collect::<Vec<_>>());
    let first = &listed["items"][0];
    let masked = format!("310101********{}", &resident_id("31010119900307001")[14..]);
    assert_eq!((&first["request"]["status"], &first["request"]["id_number"]), (&json!("pending"), &json!(masked)));
    assert_eq!(first["account"]["id"], json!(requests[0].0.id));
    assert_eq!(first["account"]["verification_level"], "L0");
    let shown = get_ok(&app, &format!("/v1/ops/accounts/{}", requests[1].0.id), &operator).await;
    assert_eq!(shown["pending_kyc"]["id"], json!(requests[1].1), "the account shows what it waits for");

    // Decided with the id the list gave: off the list.
    let approve = format!("/v1/ops/kyc/{}/approve", requests[0].1);
    json_of(app.post(&approve, Some(&operator), &json!({})).await, StatusCode::OK).await;
    let reject = format!("/v1/ops/kyc/{}/reject", requests[2].1);
    json_of(app.post(&reject, Some(&operator), &json!({ "reason": "blurry" })).await, StatusCode::OK).await;
    let listed = get_ok(&app, "/v1/ops/kyc/pending", &operator).await;
    assert_eq!(ids(&listed, "/request/id"), [&requests[1].1]);
    let verified = get_ok(&app, &format!("/v1/ops/accounts/{}", requests[0].0.id), &operator).await;
    assert_eq!(verified["real_name"], "**丰", "the verified name, masked as a payee's");
    let waiting = get_ok(&app, &format!("/v1/ops/accounts/{}", requests[1].0.id), &operator).await;
    assert_eq!(waiting["real_name"], Value::Null, "not verified yet");
    let user = &requests[0].0;
    assert_error(app.get("/v1/ops/kyc/pending", Some(&user.token)).await, StatusCode::FORBIDDEN, "FORBIDDEN").await;
}

async fn a_check_the_clock_approved_leaves_the_list(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let user = app.new_phone_user().await;
    let submitted =
        json_of(app.post("/v1/kyc", Some(&user.token), &l1("44030419851120123")).await, StatusCode::ACCEPTED).await;
    let listed = get_ok(&app, "/v1/ops/kyc/pending", &operator).await;
    assert_eq!(ids(&listed, "/request/id"), [id_of(&submitted)], "waiting until the delay passes");
    app.clock.advance(Duration::seconds(5));
    assert_eq!(get_ok(&app, "/v1/ops/kyc/pending", &operator).await["items"], json!([]));
    let store = &app.services.partitions.store;
    let left = store.scheduled(KYC_PENDING_SCHEDULE, i64::MAX, 10).await.unwrap();
    assert!(left.is_empty(), "taken off when read: {left:?}");
}

async fn an_operator_account_has_no_wallet(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    for response in [
        app.credit(&operator, "acc_demo_operator", "100.00").await,
        app.debit(&operator, "acc_demo_operator", "1.00").await,
        app.wallet(&operator).await,
        app.transactions(&operator, "").await,
        app.get("/v1/wallet/transactions/je_0196a3c5e2b87d40a1f3c9e2d4b5a6c7", Some(&operator)).await,
    ] {
        let error = assert_error(response, StatusCode::NOT_FOUND, "NOT_FOUND").await;
        assert_eq!(error["error"]["details"]["resource"], "wallet", "{error}");
    }
    let profile = json_of(app.me(&operator).await, StatusCode::OK).await;
    assert_eq!(profile["role"], "operator", "the account itself is there");
    let report = app.assert_ledger_balanced().await;
    assert_eq!(report["sum"], "0.00");
    // Users' wallets are as they were.
    json_of(app.credit(&operator, "acc_demo_alice", "1.00").await, StatusCode::CREATED).await;
}
