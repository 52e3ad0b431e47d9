//! Editable mock WeChat users: `GET /mock/wechat/users` lists them newest
//! first, paged; `PATCH /mock/wechat/users/{openid}` changes their flags,
//! nickname and balance, and the next payout fails the way the flag says.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{StoreKind, TestApp, assert_error, json_of, spawn_app};
use crate::on_both_stores;
use crate::settlement::{approve, id_of, mock_wallet, payee, settle, wechat_user, withdraw, withdrawal};

on_both_stores!(
    mock_users_are_listed_newest_first_one_page_at_a_time,
    a_flag_set_on_a_mock_user_fails_the_next_payout_with_its_reason_and_unset_lets_it_pay,
    a_change_sets_only_the_fields_sent_and_refuses_bad_ones_by_name,
);

async fn patch(app: &TestApp, openid: &str, body: &Value) -> reqwest::Response {
    let url = app.url(&format!("/mock/wechat/users/{openid}"));
    app.client.request(Method::PATCH, url).json(body).send().await.unwrap()
}

async fn mock_users_are_listed_newest_first_one_page_at_a_time(store: StoreKind) {
    let app = spawn_app(store).await;
    let mut created = Vec::new();
    for nickname in ["一", "二", "三"] {
        app.clock.advance(chrono::Duration::seconds(1));
        created.push(wechat_user(&app, nickname, json!({})).await);
    }
    let all = json_of(app.get("/mock/wechat/users?limit=200", None).await, StatusCode::OK).await;
    let listed: Vec<&str> = all["items"].as_array().unwrap().iter().map(|u| u["openid"].as_str().unwrap()).collect();
    assert_eq!(&listed[..3], [&created[2], &created[1], &created[0]], "newest first");
    assert_eq!(all["next_cursor"], Value::Null);

    let mut paged = Vec::new();
    let mut query = "limit=2".to_owned();
    loop {
        let page = json_of(app.get(&format!("/mock/wechat/users?{query}"), None).await, StatusCode::OK).await;
        let items = page["items"].as_array().unwrap();
        assert!(items.len() <= 2);
        paged.extend(items.iter().map(|u| u["openid"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(paged, listed, "the pages hold every user once");
    for (query, field) in [("limit=0", "limit"), ("cursor=6d753a", "cursor"), ("nickname=x", "nickname")] {
        let refused = app.get(&format!("/mock/wechat/users?{query}"), None).await;
        let body = assert_error(refused, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        assert_eq!(body["error"]["details"]["field"], field, "{query}");
    }
}

async fn a_flag_set_on_a_mock_user_fails_the_next_payout_with_its_reason_and_unset_lets_it_pay(store: StoreKind) {
    let app = spawn_app(store).await;
    let operator = app.operator_token().await;
    let cases = [
        (json!({ "frozen": true }), json!({ "frozen": false }), "ACCOUNT_FROZEN"),
        (json!({ "real_name_verified": false }), json!({ "real_name_verified": true }), "REAL_NAME_CHECK_FAIL"),
        (json!({ "day_quota_reached": true }), json!({ "day_quota_reached": false }), "DAY_RECEIVED_QUOTA_EXCEED"),
        (
            json!({ "month_quota_reached": true }),
            json!({ "month_quota_reached": false }),
            "MONTH_RECEIVED_QUOTA_EXCEED",
        ),
    ];
    for (set, unset, reason) in cases {
        let payee = payee(&app, "800.00", json!({})).await;
        let changed = json_of(patch(&app, &payee.openid, &set).await, StatusCode::OK).await;
        let (flag, value) = set.as_object().unwrap().iter().next().unwrap();
        assert_eq!(&changed[flag], value, "{reason}: {changed}");

        let id = id_of(&withdraw(&app, &payee, "300.00").await);
        json_of(approve(&app, &operator, &id).await, StatusCode::OK).await;
        assert_eq!(settle(&app).await.failed, 1, "{reason}");
        let failed = withdrawal(&app, &payee, &id).await;
        assert_eq!((failed["status"].as_str(), failed["failure_reason"].as_str()), (Some("failed"), Some(reason)));

        json_of(patch(&app, &payee.openid, &unset).await, StatusCode::OK).await;
        let id = id_of(&withdraw(&app, &payee, "300.00").await);
        if withdrawal(&app, &payee, &id).await["status"] == "in_review" {
            json_of(approve(&app, &operator, &id).await, StatusCode::OK).await;
        }
        app.clock.advance(chrono::Duration::minutes(1));
        assert_eq!(settle(&app).await.settled, 1, "{reason}: unset, it pays");
        assert_eq!(mock_wallet(&app, &payee.openid).await["balance"], "300.00", "{reason}");
    }
    app.assert_ledger_balanced().await;
}

async fn a_change_sets_only_the_fields_sent_and_refuses_bad_ones_by_name(store: StoreKind) {
    let app = spawn_app(store).await;
    let openid = wechat_user(&app, "小明", json!({ "snapshot": true })).await;
    let before = json_of(app.get(&format!("/mock/wechat/users/{openid}"), None).await, StatusCode::OK).await;
    let changed =
        json_of(patch(&app, &openid, &json!({ "nickname": "小红", "balance": "12.5" })).await, StatusCode::OK).await;
    assert_eq!((changed["nickname"].as_str(), changed["wallet"]["balance"].as_str()), (Some("小红"), Some("12.50")));
    let mut expected = before.clone();
    expected["nickname"] = json!("小红");
    expected["wallet"]["balance"] = json!("12.50");
    assert_eq!(changed, expected, "nothing else changed");
    let shown = json_of(app.get(&format!("/mock/wechat/users/{openid}"), None).await, StatusCode::OK).await;
    assert_eq!(shown, changed, "kept");
    let unchanged = json_of(patch(&app, &openid, &json!({ "frozen": null })).await, StatusCode::OK).await;
    assert_eq!(unchanged, changed, "null, like a field left out, changes nothing");

    for (body, field) in [
        (json!({ "nickname": "  " }), "nickname"),
        (json!({ "nickname": "明".repeat(33) }), "nickname"),
        (json!({ "balance": "-1.00" }), "balance"),
        (json!({ "balance": 5 }), "balance"),
        (json!({ "balance": "1.005" }), "balance"),
        (json!({ "frozen": "yes" }), "frozen"),
        (json!({ "wallet": {} }), "wallet"),
    ] {
        let refused =
            assert_error(patch(&app, &openid, &body).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        assert_eq!(refused["error"]["details"]["field"], field, "{body}: {refused}");
    }
    assert_eq!(json_of(app.get(&format!("/mock/wechat/users/{openid}"), None).await, StatusCode::OK).await, changed);
    for unknown in [format!("o{}", "Z".repeat(27)), "nobody".to_owned()] {
        let missing =
            assert_error(patch(&app, &unknown, &json!({ "frozen": true })).await, StatusCode::NOT_FOUND, "NOT_FOUND")
                .await;
        assert_eq!(missing["error"]["details"]["resource"], "wechat user");
    }

    let journal =
        json_of(app.get("/mock/requests?path_prefix=/mock/wechat/users/&limit=200", None).await, StatusCode::OK).await;
    let patches = journal["items"].as_array().unwrap().iter().filter(|e| e["request"]["method"] == "PATCH").count();
    assert_eq!(patches, 11, "every change asked for is in the journal");

    let preflight = app
        .client
        .request(Method::OPTIONS, app.url(&format!("/mock/wechat/users/{openid}")))
        .header("Origin", "http://localhost:3000")
        .header("Access-Control-Request-Method", "PATCH")
        .send()
        .await
        .unwrap();
    let allowed = preflight.headers().get("access-control-allow-methods").unwrap().to_str().unwrap().to_owned();
    assert!(allowed.contains("PATCH"), "browsers may send it: {allowed}");
}
