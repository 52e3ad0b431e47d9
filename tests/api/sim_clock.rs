//! The simulated business clock (`/v1/sim/clock`): advancing past a delay
//! settles without a worker step or a sleep, past the PIN lock unlocks, past
//! Asia/Shanghai midnight starts the daily limits again; freezing and
//! resuming; the refusals; the step cap; and two gateways sharing one clock
//! and never settling a withdrawal twice while one advances — in one process
//! on every store, and as two real processes on one Redis and on a cluster.

use chrono::{DateTime, Duration, Utc};
use futures_util::future::join_all;
use reqwest::{Response, StatusCode};
use serde_json::{Value, json};
use walletgate::clock::Clock;
use walletgate::services::work::WorkReport;
use walletgate::settings::{RateLimit, Settings};

use crate::helpers::{StoreKind, TestApp, assert_error, json_of, spawn_app, spawn_app_with, spawn_second_instance};
use crate::kyc::resident_id;
use crate::multi_process::{
    GatewayProcess, StoreVia, WITHOUT_PIN_LIMITS, bind_wechat, login, on_redis_and_cluster, post, set_pin,
    start_gateway,
};
use crate::on_both_stores;
use crate::settlement::{PIN, Payee, approve, id_of, mock_wallet, payee, withdraw, withdrawal};

on_both_stores!(
    advancing_past_the_review_delay_settles_a_withdrawal_without_a_worker_step,
    advancing_three_hours_ends_the_pin_lock,
    review_time_outs_and_identity_checks_are_decided_on_the_way,
    advancing_past_shanghai_midnight_starts_the_daily_limits_again,
    a_frozen_clock_stands_still_until_resumed_and_every_change_is_audited,
    the_clock_refuses_to_go_back_too_far_or_for_users,
    an_advance_that_runs_out_of_steps_stops_where_it_got_to,
    two_gateways_share_one_clock_and_settle_each_withdrawal_once_while_one_advances,
);

/// The clock's changes: operator role only (reading it is open to anyone).
const SIM_ENDPOINTS: [(&str, &str); 3] =
    [("POST", "/v1/sim/clock/advance"), ("POST", "/v1/sim/clock/freeze"), ("POST", "/v1/sim/clock/resume")];

async fn read_clock(app: &TestApp, operator: &str) -> Value {
    json_of(app.get("/v1/sim/clock", Some(operator)).await, StatusCode::OK).await
}

async fn advance(app: &TestApp, operator: &str, body: Value) -> Response {
    app.post("/v1/sim/clock/advance", Some(operator), &body).await
}

/// Advances and returns what the advance did.
async fn advanced(app: &TestApp, operator: &str, body: Value) -> Value {
    json_of(advance(app, operator, body).await, StatusCode::OK).await
}

async fn clock_action(app: &TestApp, operator: &str, action: &str) -> Value {
    json_of(app.post(&format!("/v1/sim/clock/{action}"), Some(operator), &json!({})).await, StatusCode::OK).await
}

fn time(value: &Value) -> DateTime<Utc> {
    value.as_str().and_then(|text| text.parse().ok()).unwrap_or_else(|| panic!("not a time: {value}"))
}

/// A payee whose first withdrawal (to a new destination, so reviewed) was
/// approved and then paid by an advance, so that later ones are automatic.
async fn paid_before(app: &TestApp, operator: &str) -> Payee {
    let payee = payee(app, "800.00", json!({})).await;
    let first = withdraw(app, &payee, "1.00").await;
    json_of(approve(app, operator, &id_of(&first)).await, StatusCode::OK).await;
    let done = advanced(app, operator, json!({ "by_secs": 0 })).await;
    assert_eq!(done["work"]["settled"], 1, "{done}");
    payee
}

/// Lifts the per-account PIN rate limit, so a test can withdraw many times.
fn many_pin_entries(settings: &mut Settings) {
    settings.rate_limits.pin.per_account = RateLimit { burst: 1000, per_minute: 1000 };
    settings.withdrawals.levels.l0.daily_count_max = 50;
}

async fn advancing_past_the_review_delay_settles_a_withdrawal_without_a_worker_step(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let payee = paid_before(&app, &operator).await;
    let created = withdraw(&app, &payee, "50.00").await;
    let id = id_of(&created);
    assert_eq!((created["status"].as_str(), created["review"].as_str()), (Some("pending"), Some("auto")));
    let created_at = time(&created["created_at"]);

    let early = advanced(&app, &operator, json!({ "by_secs": 4 })).await;
    assert_eq!((early["complete"].as_bool(), early["work"]["settled"].as_u64()), (Some(true), Some(0)), "{early}");
    assert_eq!(withdrawal(&app, &payee, &id).await["status"], "pending", "not due before the 5 s delay");

    let due = advanced(&app, &operator, json!({ "by_secs": 1 })).await;
    assert_eq!(due["work"]["settled"], 1, "{due}");
    assert_eq!(time(&due["reached"]), time(&due["target"]));
    assert_eq!(time(&due["clock"]["now"]), created_at + Duration::seconds(5));
    let settled = withdrawal(&app, &payee, &id).await;
    assert_eq!(settled["status"], "settled");
    let at = |status: &str| {
        settled["history"].as_array().unwrap().iter().find(|change| change["status"] == status).map(|c| time(&c["at"]))
    };
    assert_eq!(at("settled"), Some(created_at + Duration::seconds(5)), "settled the instant it fell due: {settled}");
    assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "51.00");

    // A day on, the same tokens still work: sessions go by the wall clock.
    let day = advanced(&app, &operator, json!({ "by_secs": 86_400 })).await;
    assert_eq!(day["clock"]["offset_secs"], 86_405, "{day}");
    json_of(app.me(&payee.user.token).await, StatusCode::OK).await;
    assert_eq!(app.services.partitions.now(), app.clock.now() + Duration::seconds(86_405), "the business clock");
    app.assert_ledger_balanced().await;
}

async fn advancing_three_hours_ends_the_pin_lock(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let user = app.new_phone_user().await;
    app.set_pin(&user, PIN).await;
    for _ in 0..4 {
        assert_error(app.verify_pin(&user.token, "975310").await, StatusCode::UNPROCESSABLE_ENTITY, "PIN_INCORRECT")
            .await;
    }
    let locked = assert_error(app.verify_pin(&user.token, "975310").await, StatusCode::LOCKED, "PIN_LOCKED").await;
    let until = time(&locked["error"]["details"]["locked_until"]);
    assert_eq!(until, app.clock.now() + Duration::hours(3));

    advanced(&app, &operator, json!({ "by_secs": 3 * 3600 - 1 })).await;
    assert_error(app.verify_pin(&user.token, PIN).await, StatusCode::LOCKED, "PIN_LOCKED").await;
    let over = advanced(&app, &operator, json!({ "to": until })).await;
    assert_eq!(time(&over["clock"]["now"]), until);
    json_of(app.verify_pin(&user.token, PIN).await, StatusCode::OK).await;
    assert_eq!(json_of(app.me(&user.token).await, StatusCode::OK).await["pin_locked_until"], Value::Null);
}

async fn review_time_outs_and_identity_checks_are_decided_on_the_way(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.withdrawals.manual_review_timeout_secs = 3600).await;
    let operator = app.operator_token().await;
    let payee = payee(&app, "800.00", json!({})).await;
    let in_review = withdraw(&app, &payee, "10.00").await;
    assert_eq!(in_review["status"], "in_review");
    let identity = json!({ "level": "L1", "real_name": "张三丰", "id_number": resident_id("11010519491231002") });
    json_of(app.post("/v1/kyc", Some(&payee.user.token), &identity).await, StatusCode::ACCEPTED).await;

    let hours = advanced(&app, &operator, json!({ "by_secs": 2 * 3600 })).await;
    assert_eq!(hours["work"]["rejected"], 1, "{hours}");
    let timed_out = withdrawal(&app, &payee, &id_of(&in_review)).await;
    assert_eq!(timed_out["status"], "rejected");
    let rejected_at = timed_out["history"].as_array().unwrap().last().map(|change| time(&change["at"]));
    assert_eq!(rejected_at, Some(time(&in_review["created_at"]) + Duration::hours(1)), "at its time-out: {timed_out}");
    let me = json_of(app.me(&payee.user.token).await, StatusCode::OK).await;
    assert_eq!(me["verification_level"], "L1", "approved automatically five seconds after it was sent");
}

async fn advancing_past_shanghai_midnight_starts_the_daily_limits_again(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let payee = payee(&app, "800.00", json!({})).await;
    withdraw(&app, &payee, "100.00").await;
    let limits = |wallet: Value| {
        let limits = &wallet["limits"];
        (
            limits["daily_remaining"].as_str().unwrap().to_owned(),
            limits["monthly_remaining"].as_str().unwrap().to_owned(),
            limits["daily_count_remaining"].as_u64().unwrap(),
        )
    };
    let used = ("900.00".to_owned(), "2900.00".to_owned(), 4);
    assert_eq!(limits(json_of(app.wallet(&payee.user.token).await, StatusCode::OK).await), used);

    // 2026-03-01 09:30 UTC is 17:30 in Shanghai: its next day starts at 16:00 UTC.
    advanced(&app, &operator, json!({ "to": "2026-03-01T23:59:59+08:00" })).await;
    assert_eq!(limits(json_of(app.wallet(&payee.user.token).await, StatusCode::OK).await), used, "still the same day");
    let midnight = advanced(&app, &operator, json!({ "to": "2026-03-01T16:00:00Z" })).await;
    assert_eq!(midnight["clock"]["now"], "2026-03-01T16:00:00Z");
    let next_day = ("1000.00".to_owned(), "2900.00".to_owned(), 5);
    assert_eq!(limits(json_of(app.wallet(&payee.user.token).await, StatusCode::OK).await), next_day);
}

async fn a_frozen_clock_stands_still_until_resumed_and_every_change_is_audited(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let start = app.clock.now();
    let clock = read_clock(&app, &operator).await;
    assert_eq!(
        clock,
        json!({ "now": start, "wall_time": start, "offset_secs": 0, "frozen": false, "status": "ready" }),
        "wall time until told otherwise"
    );

    let frozen = clock_action(&app, &operator, "freeze").await;
    assert_eq!((time(&frozen["now"]), frozen["frozen"].as_bool()), (start, Some(true)));
    app.clock.advance(Duration::minutes(10));
    let clock = read_clock(&app, &operator).await;
    assert_eq!((time(&clock["now"]), time(&clock["wall_time"])), (start, start + Duration::minutes(10)));
    assert_eq!(clock["offset_secs"], -600);
    assert_eq!(app.services.partitions.now(), start, "every business rule reads the frozen instant");
    assert_eq!(clock_action(&app, &operator, "freeze").await["now"], clock["now"], "freezing again changes nothing");

    let moved = advanced(&app, &operator, json!({ "by_secs": 60 })).await;
    assert_eq!(
        (time(&moved["clock"]["now"]), moved["clock"]["frozen"].as_bool()),
        (start + Duration::minutes(1), Some(true))
    );
    app.clock.advance(Duration::minutes(1));
    assert_eq!(time(&read_clock(&app, &operator).await["now"]), start + Duration::minutes(1), "still frozen");

    let resumed = clock_action(&app, &operator, "resume").await;
    assert_eq!((time(&resumed["now"]), resumed["frozen"].as_bool()), (start + Duration::minutes(1), Some(false)));
    app.clock.advance(Duration::seconds(5));
    let running = read_clock(&app, &operator).await;
    assert_eq!(time(&running["now"]), start + Duration::seconds(65), "it runs on from where it stood");
    assert_eq!(running["offset_secs"], 65 - 665);
    assert_eq!(clock_action(&app, &operator, "resume").await["frozen"], false);

    let audit = json_of(app.get("/v1/ops/audit-log?limit=5", Some(&operator)).await, StatusCode::OK).await;
    let actions: Vec<&str> =
        audit["items"].as_array().unwrap().iter().map(|item| item["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["sim.clock.resume", "sim.clock.resume", "sim.clock.advance", "sim.clock.freeze", "sim.clock.freeze"]
    );
    let advance_entry = &audit["items"][2];
    assert_eq!(advance_entry["details"]["request"], json!({ "by_secs": 60 }), "{advance_entry}");
    assert_eq!(advance_entry["outcome"], "succeeded");
    assert_eq!(advance_entry["target"]["kind"], "sim_clock");
}

async fn the_clock_refuses_to_go_back_too_far_or_for_users(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let start = app.clock.now();
    for body in [json!({ "by_secs": -1 }), json!({ "to": start - Duration::seconds(1) })] {
        let refused = assert_error(
            advance(&app, &operator, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "CLOCK_WOULD_GO_BACKWARDS",
        )
        .await;
        assert_eq!(time(&refused["error"]["details"]["now"]), start);
    }
    for body in [
        json!({ "by_secs": 366 * 86_400 + 1 }),
        json!({ "to": start + Duration::days(367) }),
        json!({ "by_secs": i64::MAX }),
    ] {
        let refused = assert_error(
            advance(&app, &operator, body).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "CLOCK_ADVANCE_TOO_FAR",
        )
        .await;
        assert_eq!(refused["error"]["details"]["max_secs"], 366 * 86_400);
    }
    let malformed = [
        json!({}),
        json!({ "by_secs": 60, "to": start + Duration::hours(1) }),
        json!({ "by_secs": 60, "hours": 1 }),
        json!({ "by_secs": "60" }),
        json!({ "by_secs": 1.5 }),
        json!({ "to": "tomorrow" }),
    ];
    for body in malformed {
        let refused =
            assert_error(advance(&app, &operator, body.clone()).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED")
                .await;
        assert!(refused["error"]["details"]["field"].is_string(), "{body}: {refused}");
    }

    let user = app.new_phone_user().await;
    for (method, path) in SIM_ENDPOINTS {
        let request = |token: Option<&str>| {
            let request = match method {
                "GET" => app.client.get(app.url(path)),
                _ => app.client.post(app.url(path)).json(&json!({ "by_secs": 60 })),
            };
            match token {
                Some(token) => request.bearer_auth(token),
                None => request,
            }
        };
        let forbidden =
            assert_error(request(Some(&user.token)).send().await.unwrap(), StatusCode::FORBIDDEN, "FORBIDDEN").await;
        assert_eq!(forbidden["error"]["details"]["required_role"], "operator", "{method} {path}");
        assert_error(request(None).send().await.unwrap(), StatusCode::UNAUTHORIZED, "UNAUTHENTICATED").await;
    }

    let clock = read_clock(&app, &operator).await;
    assert_eq!((time(&clock["now"]), clock["frozen"].as_bool()), (start, Some(false)), "nothing moved it");
    for token in [Some(user.token.as_str()), None] {
        let read = json_of(app.get("/v1/sim/clock", token).await, StatusCode::OK).await;
        assert_eq!(read["now"], clock["now"], "anyone may read the clock (the app's badge)");
    }
    let audit = json_of(app.get("/v1/ops/audit-log?limit=1", Some(&operator)).await, StatusCode::OK).await;
    let last = &audit["items"][0];
    assert_eq!((last["action"].as_str(), last["outcome"].as_str()), (Some("sim.clock.advance"), Some("refused")));
    assert_eq!(last["error_code"], "CLOCK_ADVANCE_TOO_FAR", "refusals are audited too: {last}");
}

async fn an_advance_that_runs_out_of_steps_stops_where_it_got_to(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.sim_clock.advance_steps_max = 3).await;
    let operator = app.operator_token().await;
    let payee = paid_before(&app, &operator).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(id_of(&withdraw(&app, &payee, "2.00").await));
        app.clock.advance(Duration::seconds(1));
    }
    let first_due = app.clock.now() + Duration::seconds(2);

    // One step finds nothing due now, the next two settle the first two at
    // their instants: out of steps with the third ahead.
    let short = advanced(&app, &operator, json!({ "by_secs": 60 })).await;
    assert_eq!((short["complete"].as_bool(), short["steps"].as_u64()), (Some(false), Some(3)), "{short}");
    assert_eq!(time(&short["reached"]), first_due + Duration::seconds(1));
    assert_eq!(short["work"]["settled"], 2);
    let clock = &short["clock"];
    assert_eq!(time(&clock["now"]), first_due + Duration::seconds(1), "the clock stands where the advance got to");
    assert_eq!((clock["status"].as_str(), clock["frozen"].as_bool()), (Some("ready"), Some(false)));

    // Advancing again goes on from there.
    let rest = advanced(&app, &operator, json!({ "by_secs": 60 })).await;
    assert_eq!((rest["complete"].as_bool(), rest["work"]["settled"].as_u64()), (Some(true), Some(1)), "{rest}");
    assert_eq!(time(&rest["reached"]), first_due + Duration::seconds(61));
    for id in &ids {
        assert_eq!(withdrawal(&app, &payee, id).await["status"], "settled");
    }
}

async fn two_gateways_share_one_clock_and_settle_each_withdrawal_once_while_one_advances(store: StoreKind) {
    let a = spawn_app_with(store, many_pin_entries).await;
    let b = spawn_second_instance(&a).await;
    let (operator_a, operator_b) = (a.operator_token().await, b.operator_token().await);
    let start = a.clock.now();

    // A change made through one is read through the other.
    advanced(&a, &operator_a, json!({ "by_secs": 3600 })).await;
    assert_eq!(time(&read_clock(&b, &operator_b).await["now"]), start + Duration::hours(1));
    assert_eq!(b.services.partitions.now(), start + Duration::hours(1), "B's business rules too");
    clock_action(&b, &operator_b, "freeze").await;
    let frozen = read_clock(&a, &operator_a).await;
    assert_eq!((time(&frozen["now"]), frozen["frozen"].as_bool()), (start + Duration::hours(1), Some(true)));
    clock_action(&a, &operator_a, "resume").await;
    assert_eq!(read_clock(&b, &operator_b).await["frozen"], false);

    let payee = paid_before(&a, &operator_a).await;
    let mut ids = Vec::new();
    for _ in 0..12 {
        ids.push(id_of(&withdraw(&a, &payee, "1.00").await));
        a.clock.advance(Duration::seconds(1));
    }
    // A walks a minute of work while B, reading the clock as it moves, runs worker steps of its own.
    let walking = advanced(&a, &operator_a, json!({ "by_secs": 60 }));
    let working = async {
        let mut work = WorkReport::default();
        for _ in 0..30 {
            b.services.sim_clock.as_ref().unwrap().refresh().await.unwrap();
            work.absorb(&b.services.worker.run_once().await.unwrap());
            tokio::task::yield_now().await;
        }
        work
    };
    let (walked, worked) = tokio::join!(walking, working);
    let settled_by_a = walked["work"]["settled"].as_u64().unwrap() as usize;
    assert_eq!(settled_by_a + worked.settled, 12, "each settled once, by one of them: {walked} {worked:?}");
    for id in &ids {
        let settled = withdrawal(&a, &payee, id).await;
        let settlements = settled["history"].as_array().unwrap().iter().filter(|c| c["status"] == "settled").count();
        assert_eq!((settled["status"].as_str(), settlements), (Some("settled"), 1), "{settled}");
    }
    assert_eq!(mock_wallet(&a, &payee.openid).await["balance"], "13.00", "paid once each");
    let history = json_of(a.transactions(&payee.user.token, "?limit=200").await, StatusCode::OK).await;
    let settlements =
        history["items"].as_array().unwrap().iter().filter(|item| item["kind"] == "withdrawal_settlement");
    assert_eq!(settlements.count(), 13, "one settlement entry each: {history}");
    a.assert_ledger_balanced().await;
}

// Two real gateway processes (system clocks) on one Redis and on a cluster.

on_redis_and_cluster!(two_gateway_processes_share_one_clock_and_settle_each_withdrawal_once);

async fn get(client: &reqwest::Client, gateway: &GatewayProcess, path: &str, token: &str) -> Value {
    let response = client.get(format!("{}{path}", gateway.address)).bearer_auth(token).send().await.unwrap();
    json_of(response, StatusCode::OK).await
}

async fn two_gateway_processes_share_one_clock_and_settle_each_withdrawal_once(store_url: &str) {
    // Withdrawals wait an hour of business time: only the advance makes them due.
    let env: Vec<(&str, &str)> = WITHOUT_PIN_LIMITS
        .iter()
        .copied()
        .chain([
            ("WALLETGATE__WITHDRAWALS__AUTO_REVIEW_DELAY_SECS", "3600"),
            ("WALLETGATE__WITHDRAWALS__LEVELS__L0__DAILY_COUNT_MAX", "50"),
        ])
        .collect();
    let prefix = crate::helpers::unique_prefix();
    let _keys = crate::helpers::RedisKeysGuard::new(store_url, &prefix);
    let (a, b) = tokio::join!(
        start_gateway(store_url, StoreVia::Flag, &prefix, &env),
        start_gateway(store_url, StoreVia::Environment, &prefix, &env)
    );
    let client = reqwest::Client::new();
    let operator_body = json!({ "email": "ops@walletgate.test", "password": "operator-demo" });
    let (operator_a, operator_b) =
        (login(&client, &a, operator_body.clone()).await, login(&client, &b, operator_body).await);

    // A change made through one is read through the other.
    let sim = |gateway: &GatewayProcess, action: &str| format!("{}/v1/sim/clock/{action}", gateway.address);
    let frozen = json_of(post(&client, sim(&a, "freeze"), Some(&operator_a), json!({})).await, StatusCode::OK).await;
    let seen = get(&client, &b, "/v1/sim/clock", &operator_b).await;
    assert_eq!((seen["now"].clone(), seen["frozen"].as_bool()), (frozen["now"].clone(), Some(true)), "{seen}");
    json_of(post(&client, sim(&b, "resume"), Some(&operator_b), json!({})).await, StatusCode::OK).await;
    assert_eq!(get(&client, &a, "/v1/sim/clock", &operator_a).await["frozen"], false);

    // A user with a binding, a PIN and money; a first withdrawal approved, then twelve that wait an hour.
    let phone = crate::helpers::unique_phone();
    let credentials = json!({ "phone": phone, "password": "correct-horse" });
    let register = post(&client, format!("{}/v1/auth/register", a.address), None, credentials.clone()).await;
    let user_id = json_of(register, StatusCode::CREATED).await["id"].as_str().unwrap().to_owned();
    let token = login(&client, &b, credentials).await;
    let binding_id = bind_wechat(&client, [&a, &b], &token, &phone).await;
    set_pin(&client, [&b, &a], &token, &phone).await;
    let credit = json!({ "amount": "100.00", "memo": "advance across processes" });
    let url = format!("{}/v1/ops/accounts/{user_id}/credit", a.address);
    json_of(post(&client, url, Some(&operator_a), credit).await, StatusCode::CREATED).await;
    let withdraw = |n: usize| {
        let gateway = if n.is_multiple_of(2) { &a } else { &b };
        client
            .post(format!("{}/v1/withdrawals", gateway.address))
            .bearer_auth(&token)
            .header("idempotency-key", format!("sim-clock-{n}"))
            .json(&json!({ "amount": "1.00", "binding_id": binding_id, "pin": PIN }))
            .send()
    };
    let first = json_of(withdraw(0).await.unwrap(), StatusCode::ACCEPTED).await;
    let url = format!("{}/v1/ops/withdrawals/{}/approve", b.address, id_of(&first));
    json_of(post(&client, url, Some(&operator_b), json!({})).await, StatusCode::OK).await;
    let mut ids = vec![id_of(&first)];
    for n in 1..=12 {
        let created = json_of(withdraw(n).await.unwrap(), StatusCode::ACCEPTED).await;
        assert_eq!(created["status"], "pending", "{created}");
        ids.push(id_of(&created));
    }

    // A advances two hours while B runs worker steps on demand (and both
    // background workers run): each withdrawal is settled exactly once.
    let walking = post(&client, sim(&a, "advance"), Some(&operator_a), json!({ "by_secs": 7200 }));
    let stepping = join_all((0..20).map(|_| async {
        let clock = get(&client, &b, "/v1/sim/clock", &operator_b).await;
        let url = format!("{}/v1/ops/worker/step", b.address);
        let step = json_of(post(&client, url, Some(&operator_b), json!({})).await, StatusCode::OK).await;
        (clock, step)
    }));
    let (walked, stepped) = tokio::join!(walking, stepping);
    let walked = json_of(walked, StatusCode::OK).await;
    assert_eq!(walked["complete"], true, "{walked}");
    assert!(stepped.iter().all(|(clock, _)| clock["status"] == "advancing" || clock["status"] == "ready"));

    // Both gateways read the same clock, two hours ahead.
    let (seen_a, seen_b) =
        (get(&client, &a, "/v1/sim/clock", &operator_a).await, get(&client, &b, "/v1/sim/clock", &operator_b).await);
    // Two hours ahead, less the wall time the advance took (the clock stood still meanwhile).
    let offsets = [&seen_a, &seen_b].map(|seen| seen["offset_secs"].as_i64().unwrap());
    assert!(offsets.iter().all(|offset| (7140..=7200).contains(offset)), "{seen_a} {seen_b}");
    assert!((offsets[0] - offsets[1]).abs() <= 1, "one clock: {seen_a} {seen_b}");
    for id in &ids {
        let found = get(&client, &b, &format!("/v1/withdrawals/{id}"), &token).await;
        let settlements = found["history"].as_array().unwrap().iter().filter(|c| c["status"] == "settled").count();
        assert_eq!((found["status"].as_str(), settlements), (Some("settled"), 1), "{found}");
    }
    let history = get(&client, &a, "/v1/wallet/transactions?limit=200", &token).await;
    let settlements =
        history["items"].as_array().unwrap().iter().filter(|item| item["kind"] == "withdrawal_settlement").count();
    assert_eq!(settlements, 13, "one settlement entry per withdrawal: {history}");
    let wallet = get(&client, &b, "/v1/wallet", &token).await;
    assert_eq!((wallet["available"].as_str(), wallet["held"].as_str()), (Some("87.00"), Some("0.00")), "{wallet}");
    assert_eq!(get(&client, &a, "/v1/ops/ledger/check", &operator_a).await["balanced"], true);
}
