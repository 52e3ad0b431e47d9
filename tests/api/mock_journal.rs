//! The request journal (`/mock/requests`): every call to a mock provider,
//! over HTTP and in-process, recorded with its request and answer (secrets
//! masked), latency, business time and matched rule; listed newest first,
//! filtered and paged, cleared; kept in the store, shared by gateways and
//! capped.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use walletgate::clock::ManualClock;
use walletgate::providers::journal::{JournalFilter, RequestJournal, note_matched_rule};
use walletgate::settings::SimulatorSettings;
use walletgate::store::{MemoryStore, SharedStore};

use crate::helpers::{StoreKind, TestApp, assert_error, json_of, spawn_app, spawn_app_with, spawn_second_instance};
use crate::on_both_stores;
use crate::settlement::{approve, id_of, payee, settle, withdraw};

on_both_stores!(
    binding_and_paying_out_leave_every_mock_call_in_the_journal_newest_first,
    secrets_are_masked_codes_kept_and_long_bodies_cut,
    the_journal_filters_pages_and_clears,
    gateways_on_one_store_share_one_capped_journal,
    reading_the_outbox_or_the_journal_records_nothing,
    a_journal_of_size_zero_records_nothing,
    the_rules_and_magic_amounts_that_shaped_answers_are_named_with_their_faults,
    a_call_is_timed_by_the_business_clock,
);

/// Every entry of the journal, newest first.
async fn journal(app: &TestApp) -> Vec<Value> {
    page(app, "limit=200").await["items"].as_array().unwrap().clone()
}

async fn page(app: &TestApp, query: &str) -> Value {
    json_of(app.get(&format!("/mock/requests?{query}"), None).await, StatusCode::OK).await
}

/// The entry of `transport` to `method path`, the newest if several.
fn entry<'a>(entries: &'a [Value], transport: &str, method: &str, path: &str) -> &'a Value {
    entries
        .iter()
        .find(|e| e["transport"] == transport && e["request"]["method"] == method && e["request"]["path"] == path)
        .unwrap_or_else(|| panic!("no {transport} {method} {path} in {entries:#?}"))
}

fn body_of(side: &Value) -> Value {
    serde_json::from_str(side["body"].as_str().unwrap()).unwrap()
}

async fn binding_and_paying_out_leave_every_mock_call_in_the_journal_newest_first(store: StoreKind) {
    let app = spawn_app(store).await;
    let payee = payee(&app, "100.00", json!({})).await;
    let id = id_of(&withdraw(&app, &payee, "10.00").await);
    let operator = app.operator_token().await;
    json_of(approve(&app, &operator, &id).await, StatusCode::OK).await;
    app.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(settle(&app).await.settled, 1);
    let entries = journal(&app).await;

    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|pair| pair[0] > pair[1]), "newest first: {seqs:?}");
    let start = "2026-03-01T09:30:00Z";
    for e in &entries {
        assert!(e["latency_ms"].is_u64() && e["matched_rule"].is_null(), "{e}");
        assert!(e["at"].as_str().unwrap() >= start, "business time: {e}");
    }

    let created = entry(&entries, "http", "POST", "/mock/wechat/users");
    assert_eq!((created["provider"].as_str(), created["response"]["status"].as_u64()), (Some("wechat"), Some(201)));
    assert_eq!(body_of(&created["response"])["openid"], payee.openid.as_str());
    let consent = entry(&entries, "http", "POST", "/mock/wechat/connect/oauth2/authorize");
    assert_eq!(consent["response"]["status"], 302);
    assert!(consent["request"]["body"].as_str().unwrap().contains(&payee.openid), "{consent}");

    let exchange = entry(&entries, "in_process", "GET", "/mock/wechat/sns/oauth2/access_token");
    assert_eq!((exchange["provider"].as_str(), exchange["response"]["status"].as_u64()), (Some("wechat"), Some(200)));
    let query = exchange["request"]["query"].as_str().unwrap();
    assert!(query.contains("secret=[redacted]") && query.contains("grant_type=authorization_code"), "{query}");
    let token = body_of(&exchange["response"]);
    assert_eq!((token["openid"].as_str(), token["access_token"].as_str()), (Some(&*payee.openid), Some("[redacted]")));
    let profile = entry(&entries, "in_process", "GET", "/mock/wechat/sns/userinfo");
    assert_eq!(body_of(&profile["response"])["nickname"], "李小龙");

    let texts: Vec<Value> = entries
        .iter()
        .filter(|e| e["provider"] == "sms")
        .map(|e| {
            assert_eq!(
                (e["transport"].as_str(), e["request"]["path"].as_str()),
                (Some("in_process"), Some("/mock/sms/outbox"))
            );
            body_of(&e["request"])
        })
        .collect();
    let purposes: Vec<&str> = texts.iter().map(|text| text["purpose"].as_str().unwrap()).collect();
    assert_eq!(purposes, ["set_pin", "bind_wechat"], "newest first");
    assert!(texts.iter().all(|text| text["code"].as_str().is_some_and(|code| code.len() == 6)), "codes are kept");

    let payout = entry(&entries, "in_process", "POST", "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills");
    assert_eq!(payout["provider"], "wechat_pay");
    assert_eq!(payout, &entries[0], "the payout was the last call");
    assert_eq!(payout["at"], "2026-03-01T09:31:00Z", "at the business time of the worker step");
    assert_eq!(body_of(&payout["request"])["out_bill_no"], id.trim_start_matches("wd_"));
    let bill = body_of(&payout["response"]);
    assert_eq!((payout["response"]["status"].as_u64(), bill["state"].as_str()), (Some(200), Some("SUCCESS")));
}

async fn secrets_are_masked_codes_kept_and_long_bodies_cut(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.simulator.journal_body_bytes_max = 64).await;
    let secret = app.settings.mock_wechat.app_secret.clone();
    let exchange = format!(
        "/mock/wechat/sns/oauth2/access_token?appid={}&secret={}&code=NoSuchCode&grant_type=authorization_code",
        app.settings.mock_wechat.app_id,
        secrecy::ExposeSecret::expose_secret(&secret)
    );
    let answer = json_of(app.get(&exchange, None).await, StatusCode::OK).await;
    assert_eq!(answer["errcode"], 40029);
    let nickname = "很".repeat(32);
    json_of(app.post("/mock/wechat/users", None, &json!({ "nickname": nickname })).await, StatusCode::CREATED).await;

    let entries = journal(&app).await;
    let text = serde_json::to_string(&entries).unwrap();
    assert!(!text.contains(secrecy::ExposeSecret::expose_secret(&secret)), "the app secret is never kept");
    let exchanged = entry(&entries, "http", "GET", "/mock/wechat/sns/oauth2/access_token");
    let query = exchanged["request"]["query"].as_str().unwrap();
    assert!(query.contains("secret=[redacted]") && query.contains("code=NoSuchCode"), "{query}");
    let answered = exchanged["response"]["body"].as_str().unwrap();
    assert!(answered.starts_with("{\"errcode\":40029"), "WeChat's error, with HTTP 200: {answered}");
    assert_eq!(exchanged["response"]["status"], 200);
    let created = entry(&entries, "http", "POST", "/mock/wechat/users");
    for side in ["request", "response"] {
        let body = created[side]["body"].as_str().unwrap();
        assert!(body.len() <= 64 && created[side]["body_truncated"] == true, "{side}: {created}");
    }
    assert!(created["request"]["body"].as_str().unwrap().starts_with("{\"nickname\":\"很很"), "{created}");
}

async fn the_journal_filters_pages_and_clears(store: StoreKind) {
    let app = spawn_app(store).await;
    for nickname in ["一", "二", "三"] {
        json_of(app.post("/mock/wechat/users", None, &json!({ "nickname": nickname })).await, StatusCode::CREATED)
            .await;
    }
    app.clock.advance(chrono::Duration::hours(1));
    let user = app.new_phone_user().await;
    json_of(app.request_sms_code(&user.token, "set_pin").await, StatusCode::ACCEPTED).await;
    let bill = app.wechat_pay_get("/mock/wechat/v3/fund-app/mch-transfer/transfer-bills/out-bill-no/NEVER1").await;
    assert_eq!(bill.status(), StatusCode::NOT_FOUND);

    let providers = |page: &Value| -> Vec<String> {
        page["items"].as_array().unwrap().iter().map(|e| e["provider"].as_str().unwrap().to_owned()).collect()
    };
    assert_eq!(providers(&page(&app, "provider=sms").await), ["sms"]);
    assert_eq!(providers(&page(&app, "provider=wechat_pay").await), ["wechat_pay"]);
    assert_eq!(providers(&page(&app, "provider=wechat").await), ["wechat"; 3]);
    let users = page(&app, "path_prefix=/mock/wechat/users").await;
    assert_eq!(users["items"].as_array().unwrap().len(), 3);
    let recent = page(&app, "since=2026-03-01T10:00:00Z").await;
    assert_eq!(providers(&recent), ["wechat_pay", "sms"], "only the calls of the last hour");
    assert_eq!(providers(&page(&app, "since=2026-03-01T10:30:00%2B08:00").await).len(), 5, "any offset");

    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let query = if cursor.is_empty() { "limit=2".to_owned() } else { format!("limit=2&cursor={cursor}") };
        let page = page(&app, &query).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        seen.extend(items.iter().map(|e| e["seq"].as_u64().unwrap()));
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_owned(),
            None => break,
        }
    }
    let all: Vec<u64> = journal(&app).await.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert_eq!(all.len(), 5);
    assert_eq!(seen, all, "the pages hold every call once, newest first");

    for (query, field) in [
        ("provider=paypal", "provider"),
        ("path_prefix=mock", "path_prefix"),
        ("since=yesterday", "since"),
        ("limit=0", "limit"),
        ("cursor=6d723a", "cursor"),
        ("sort=asc", "sort"),
    ] {
        let refused = assert_error(
            app.get(&format!("/mock/requests?{query}"), None).await,
            StatusCode::BAD_REQUEST,
            "VALIDATION_FAILED",
        )
        .await;
        assert_eq!(refused["error"]["details"]["field"], field, "{query}: {refused}");
    }

    let cleared = app.delete("/mock/requests", None).await;
    assert_eq!(cleared.status(), StatusCode::NO_CONTENT);
    assert!(journal(&app).await.is_empty());
    let old_cursor = page(&app, &format!("limit=2&cursor={cursor}")).await;
    assert_eq!(old_cursor["items"], json!([]), "a cursor from before the clear reads nothing");
    json_of(app.post("/mock/wechat/users", None, &json!({ "nickname": "四" })).await, StatusCode::CREATED).await;
    let after = journal(&app).await;
    assert_eq!(after.len(), 1);
    assert!(after[0]["seq"].as_u64().unwrap() > all[0], "positions go on counting");
}

async fn gateways_on_one_store_share_one_capped_journal(store: StoreKind) {
    let first = spawn_app_with(store, |settings| settings.simulator.journal_keep = 3).await;
    let second = spawn_second_instance(&first).await;
    for (app, nickname) in [(&first, "甲"), (&second, "乙"), (&first, "丙"), (&second, "丁")] {
        json_of(app.post("/mock/wechat/users", None, &json!({ "nickname": nickname })).await, StatusCode::CREATED)
            .await;
    }
    for app in [&first, &second] {
        let nicknames: Vec<String> = journal(app)
            .await
            .iter()
            .map(|e| body_of(&e["request"])["nickname"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(nicknames, ["丁", "丙", "乙"], "both gateways' calls, the newest three");
    }
}

async fn reading_the_outbox_or_the_journal_records_nothing(store: StoreKind) {
    let app = spawn_app(store).await;
    json_of(app.get("/mock/sms/outbox?phone=13800000001", None).await, StatusCode::OK).await;
    journal(&app).await;
    json_of(app.get("/openapi.json", None).await, StatusCode::OK).await;
    assert_error(app.get("/mock/nothing", None).await, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert!(journal(&app).await.is_empty());
}

async fn a_journal_of_size_zero_records_nothing(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.simulator.journal_keep = 0).await;
    json_of(app.post("/mock/wechat/users", None, &json!({ "nickname": "小明" })).await, StatusCode::CREATED).await;
    assert!(journal(&app).await.is_empty());
}

async fn the_rules_and_magic_amounts_that_shaped_answers_are_named_with_their_faults(store: StoreKind) {
    const BILLS: &str = "/mock/wechat/v3/fund-app/mch-transfer/transfer-bills";
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let payee = payee(&app, "800.00", json!({})).await;
    let add_rule = |out_bill_no: &str, respond: Value| {
        let rule =
            json!({ "match": { "operation": "wechat_pay.transfer", "out_bill_no": out_bill_no }, "respond": respond });
        let app = &app;
        let operator = operator.clone();
        async move { json_of(app.post("/v1/sim/rules", Some(&operator), &rule).await, StatusCode::CREATED).await }
    };
    let bill = |out_bill_no: &str| {
        json!({ "appid": app.settings.mock_wechat.app_id, "out_bill_no": out_bill_no, "openid": payee.openid,
            "transfer_amount": 100, "transfer_remark": "journal", "transfer_scene_id": "1000" })
    };
    let limited = add_rule(
        "LIMITED1",
        json!({ "type": "http_error", "status": 429, "code": "FREQUENCY_LIMITED", "message": "slow down" }),
    )
    .await;
    assert_eq!(app.wechat_pay_post(BILLS, &bill("LIMITED1")).await.status(), StatusCode::TOO_MANY_REQUESTS);
    let reset = add_rule("RESET1", json!({ "type": "fault", "fault": "connection_reset" })).await;
    let body = bill("RESET1").to_string();
    let authorization = app.wechat_pay_authorization("POST", BILLS, body.as_bytes());
    if let Ok(answer) = app.client.post(app.url(BILLS)).header("authorization", authorization).body(body).send().await {
        assert!(answer.bytes().await.is_err(), "no readable answer");
    }

    let frozen = id_of(&withdraw(&app, &payee, "91.01").await);
    json_of(approve(&app, &operator, &frozen).await, StatusCode::OK).await;
    assert_eq!(settle(&app).await.failed, 1);
    let broken = id_of(&withdraw(&app, &payee, "92.04").await);
    if json_of(app.get(&format!("/v1/withdrawals/{broken}"), Some(&payee.user.token)).await, StatusCode::OK).await["status"]
        == "in_review"
    {
        json_of(approve(&app, &operator, &broken).await, StatusCode::OK).await;
    }
    app.clock.advance(chrono::Duration::minutes(1));
    assert_eq!(settle(&app).await.retried, 1, "an outage: tried again later");

    let entries = journal(&app).await;
    let of_bill = |transport: &str, out_bill_no: &str| -> Value {
        entries
            .iter()
            // The creations (with a body), not the queries that follow a lost answer.
            .filter(|e| e["request"]["method"] == "POST")
            .find(|e| e["transport"] == transport && body_of(&e["request"])["out_bill_no"] == out_bill_no)
            .cloned()
            .unwrap_or_else(|| panic!("no {transport} call for {out_bill_no}: {entries:#?}"))
    };
    let limited_call = of_bill("http", "LIMITED1");
    assert_eq!(
        (limited_call["response"]["status"].as_u64(), &limited_call["matched_rule"]),
        (Some(429), &limited["id"])
    );
    let reset_call = of_bill("http", "RESET1");
    assert_eq!(reset_call["matched_rule"], reset["id"]);
    assert_eq!(
        reset_call["response"],
        json!({ "status": null, "body": null, "body_truncated": false, "fault": "connection_reset" })
    );
    let frozen_call = of_bill("in_process", frozen.trim_start_matches("wd_"));
    assert_eq!(frozen_call["matched_rule"], "magic:91.01");
    assert_eq!(body_of(&frozen_call["response"])["fail_reason"], "ACCOUNT_FROZEN");
    let broken_call = of_bill("in_process", broken.trim_start_matches("wd_"));
    assert_eq!(broken_call["matched_rule"], "magic:92.04");
    assert_eq!(
        (&broken_call["response"]["status"], &broken_call["response"]["fault"]),
        (&Value::Null, &json!("connection_reset"))
    );
    let unruled = entries.iter().filter(|e| e["matched_rule"].is_null()).count();
    assert!(unruled > 0, "the mock's own answers name no rule");
}

async fn a_call_is_timed_by_the_business_clock(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let advance = app.post("/v1/sim/clock/advance", Some(&operator), &json!({ "by_secs": 86_400 })).await;
    json_of(advance, StatusCode::OK).await;
    let clock = json_of(app.get("/v1/sim/clock", None).await, StatusCode::OK).await;
    assert_eq!(clock["now"], "2026-03-02T09:30:00Z", "a day on: {clock}");
    json_of(app.post("/mock/wechat/users", None, &json!({ "nickname": "明日" })).await, StatusCode::CREATED).await;
    let entries = journal(&app).await;
    assert_eq!(entries[0]["at"], clock["now"], "business time, not the wall clock's");
    assert_eq!(page(&app, "since=2026-03-02T00:00:00Z").await["items"].as_array().unwrap().len(), 1);
}

/// The hook the rules engine uses: a rule noted while a mock answers is the
/// entry's `matched_rule`.
#[actix_web::test]
async fn a_rule_noted_while_a_mock_answers_is_the_entrys_matched_rule() {
    use actix_web::middleware::from_fn;
    use actix_web::{App, HttpResponse, test, web};

    let store: SharedStore = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap()));
    let settings = SimulatorSettings { enabled: true, journal_keep: 10, journal_body_bytes_max: 1024 };
    let journal = RequestJournal::new(store, clock, &settings);
    let recorded = journal.clone();
    let service = test::init_service(
        App::new()
            .wrap(from_fn(move |request, next| {
                walletgate::routes::mock_journal::record_http_calls(recorded.clone(), 1024, request, next)
            }))
            .route(
                "/mock/wechat/ruled",
                web::post().to(|body: web::Bytes| async move {
                    note_matched_rule("rule_7");
                    HttpResponse::ServiceUnavailable().body(body)
                }),
            ),
    )
    .await;
    let request = test::TestRequest::post().uri("/mock/wechat/ruled?x=1").set_payload("ping").to_request();
    assert_eq!(test::call_service(&service, request).await.status(), 503);
    let calls = journal.scan(&JournalFilter::default(), None, 10).await.unwrap().calls;
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.matched_rule.as_deref(), Some("rule_7"));
    assert_eq!(call.response.fault, None);
    assert_eq!((call.request.body.as_deref(), call.request.query.as_deref()), (Some("ping"), Some("x=1")));
    assert_eq!((call.response.status, call.response.body.as_deref()), (Some(503), Some("ping")));
    assert_eq!(call.at, Utc.with_ymd_and_hms(2026, 3, 1, 9, 30, 0).unwrap());
}
