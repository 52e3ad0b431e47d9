//! Identity verification: submission, automatic approval by the clock,
//! operator decisions, and one ID number per account.

use chrono::Duration;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{StoreKind, TestApp, TestUser, assert_error, json_of, spawn_app, spawn_app_with};
use crate::on_both_stores;

on_both_stores!(
    a_verification_is_approved_automatically_after_the_delay,
    operators_approve_and_reject_requests,
    an_id_number_verifies_only_one_account,
    invalid_identities_are_refused_naming_the_field,
    a_rejection_tells_its_owner_a_listed_reason_and_keeps_the_note_for_operators,
    a_rejection_without_a_listed_reason_is_refused,
);

/// A valid resident ID number: the given 17 digits and their ISO 7064 MOD 11-2 check character.
pub(crate) fn resident_id(first17: &str) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17.bytes().zip(WEIGHTS).map(|(d, w)| u32::from(d - b'0') * w).sum();
    format!("{first17}{}", char::from(b"10X98765432"[(sum % 11) as usize]))
}

async fn submit(app: &TestApp, user: &TestUser, body: Value) -> reqwest::Response {
    app.post("/v1/kyc", Some(&user.token), &body).await
}

fn l1(id_number: &str) -> Value {
    json!({ "level": "L1", "real_name": "张三丰", "id_number": id_number })
}

async fn level(app: &TestApp, user: &TestUser) -> Value {
    json_of(app.me(&user.token).await, StatusCode::OK).await["verification_level"].clone()
}

async fn a_verification_is_approved_automatically_after_the_delay(store: StoreKind) {
    let app = spawn_app(store).await;
    let user = app.new_phone_user().await;
    let pending = json_of(submit(&app, &user, l1(&resident_id("11010519491231002"))).await, StatusCode::ACCEPTED).await;
    assert_eq!((pending["status"].as_str(), pending["level"].as_str()), (Some("pending"), Some("L1")));
    assert_eq!(pending["id_number"], "110105********002X");
    assert_eq!(pending["real_name"], "**丰");
    assert_eq!(level(&app, &user).await, "L0");
    let again = submit(&app, &user, l1(&resident_id("11010519491231002"))).await;
    assert_error(again, StatusCode::CONFLICT, "KYC_CONFLICT").await;

    app.clock.advance(Duration::seconds(5));
    assert_eq!(level(&app, &user).await, "L1");
    let overview = json_of(app.get("/v1/kyc", Some(&user.token)).await, StatusCode::OK).await;
    assert_eq!(overview["level"], "L1");
    assert_eq!(overview["pending"], Value::Null);
    assert_eq!(
        (overview["verified"]["status"].as_str(), overview["verified"]["decided_by"].as_str()),
        (Some("approved"), Some("automatic"))
    );

    let l2 = json!({ "level": "L2", "real_name": "张三丰", "id_number": resident_id("11010519491231002"), "face_check": "fail" });
    assert_error(submit(&app, &user, l2).await, StatusCode::UNPROCESSABLE_ENTITY, "FACE_CHECK_FAILED").await;
    let someone_else = json!({ "level": "L2", "real_name": "张三丰", "id_number": resident_id("11010519491231003"), "face_check": "pass" });
    assert_error(submit(&app, &user, someone_else).await, StatusCode::CONFLICT, "KYC_CONFLICT").await;
}

async fn operators_approve_and_reject_requests(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.kyc.auto_approve = false).await;
    let operator = app.operator_token().await;
    let user = app.new_phone_user().await;
    let id_number = resident_id("31010119900307001");
    let first = json_of(submit(&app, &user, l1(&id_number)).await, StatusCode::ACCEPTED).await;
    assert_eq!(first["auto_decide_at"], Value::Null);
    app.clock.advance(Duration::minutes(10));
    assert_eq!(level(&app, &user).await, "L0", "no automatic decision");

    let path = |id: &Value, action: &str| format!("/v1/ops/kyc/{}/{action}", id.as_str().unwrap());
    let forbidden = app.post(&path(&first["id"], "approve"), Some(&user.token), &json!({})).await;
    assert_error(forbidden, StatusCode::FORBIDDEN, "FORBIDDEN").await;
    let rejected = app.post(&path(&first["id"], "reject"), Some(&operator), &json!({ "reason": "blurry photo" })).await;
    let rejected = json_of(rejected, StatusCode::OK).await;
    let (status, reason, note) = (rejected["status"].as_str(), rejected["reason"].as_str(), rejected["note"].as_str());
    assert_eq!(
        (status, reason, note),
        (Some("rejected"), Some("OTHER"), Some("blurry photo")),
        "the old free text is a note"
    );
    let twice = app.post(&path(&first["id"], "approve"), Some(&operator), &json!({})).await;
    assert_error(twice, StatusCode::CONFLICT, "KYC_CONFLICT").await;

    let l2 = json!({ "level": "L2", "real_name": "李四", "id_number": id_number, "face_check": "pass" });
    let second = json_of(submit(&app, &user, l2).await, StatusCode::ACCEPTED).await;
    let approved =
        json_of(app.post(&path(&second["id"], "approve"), Some(&operator), &json!({})).await, StatusCode::OK).await;
    assert_eq!(approved["decided_by"], "acc_demo_operator");
    assert_eq!(level(&app, &user).await, "L2");
    let overview = json_of(app.get("/v1/kyc", Some(&user.token)).await, StatusCode::OK).await;
    assert_eq!(overview["verified"]["decided_by"], "operator", "its owner never sees whose decision: {overview}");
    let unknown = app.post("/v1/ops/kyc/kyc_nothing/approve", Some(&operator), &json!({})).await;
    assert_error(unknown, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

async fn an_id_number_verifies_only_one_account(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.kyc.auto_approve = false).await;
    let (first, second) = (app.new_phone_user().await, app.new_phone_user().await);
    let id_number = resident_id("44030419851120123");
    let pending = json_of(submit(&app, &first, l1(&id_number)).await, StatusCode::ACCEPTED).await;
    assert_error(submit(&app, &second, l1(&id_number)).await, StatusCode::CONFLICT, "ID_NUMBER_TAKEN").await;
    // A rejection frees the number for whoever it really belongs to.
    let operator = app.operator_token().await;
    let reject = format!("/v1/ops/kyc/{}/reject", pending["id"].as_str().unwrap());
    json_of(app.post(&reject, Some(&operator), &json!({ "reason": "not yours" })).await, StatusCode::OK).await;
    json_of(submit(&app, &second, l1(&id_number)).await, StatusCode::ACCEPTED).await;
}

async fn invalid_identities_are_refused_naming_the_field(store: StoreKind) {
    let app = spawn_app(store).await;
    let user = app.new_phone_user().await;
    let valid = resident_id("11010519491231002");
    let wrong_check = format!("{}{}", &valid[..17], if valid.ends_with('1') { '2' } else { '1' });
    let cases = [
        (json!({ "level": "L1", "real_name": "张三丰", "id_number": wrong_check }), "id_number"),
        (json!({ "level": "L1", "real_name": "张三丰", "id_number": resident_id("11010520991231002") }), "id_number"),
        (json!({ "level": "L1", "real_name": "张三丰", "id_number": resident_id("11010519490230002") }), "id_number"),
        (json!({ "level": "L1", "real_name": "张三丰", "id_number": "1101051949" }), "id_number"),
        (json!({ "level": "L1", "real_name": "X", "id_number": valid }), "real_name"),
        (json!({ "level": "L0", "real_name": "张三丰", "id_number": valid }), "level"),
        (json!({ "level": "L3", "real_name": "张三丰", "id_number": valid }), "level"),
        (json!({ "level": "L1", "real_name": "张三丰", "id_number": 110105194912310020u64 }), "id_number"),
    ];
    for (body, field) in cases {
        let refused =
            assert_error(submit(&app, &user, body.clone()).await, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        assert_eq!(refused["error"]["details"]["field"], field, "{body}: {refused}");
    }
    assert_eq!(level(&app, &user).await, "L0");
}

/// The decision path of a user's pending request.
async fn pending_request(app: &TestApp, user: &TestUser, first17: &str) -> String {
    let pending = json_of(submit(app, user, l1(&resident_id(first17))).await, StatusCode::ACCEPTED).await;
    format!("/v1/ops/kyc/{}", pending["id"].as_str().unwrap())
}

async fn a_rejection_tells_its_owner_a_listed_reason_and_keeps_the_note_for_operators(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.kyc.auto_approve = false).await;
    let operator = app.operator_token().await;
    let user = app.new_phone_user().await;
    let request = pending_request(&app, &user, "31010119900307001").await;
    let body = json!({ "reason_code": "NAME_MISMATCH", "note": "名字与证件不符 (checked by Li)" });
    let rejected = json_of(app.post(&format!("{request}/reject"), Some(&operator), &body).await, StatusCode::OK).await;
    assert_eq!(
        (rejected["reason"].as_str(), rejected["note"].as_str()),
        (Some("NAME_MISMATCH"), body["note"].as_str())
    );

    let overview = json_of(app.get("/v1/kyc", Some(&user.token)).await, StatusCode::OK).await;
    let told = &overview["rejected"];
    assert_eq!((told["status"].as_str(), told["reason"].as_str()), (Some("rejected"), Some("NAME_MISMATCH")));
    assert_eq!(told["decided_by"], "operator");
    let text = overview.to_string();
    assert!(!text.contains("Li)") && !text.contains("acc_demo_operator"), "no note, no operator id: {overview}");
    assert!(told.get("note").is_none(), "{told}");

    let audit = json_of(app.get("/v1/ops/audit-log?limit=5", Some(&operator)).await, StatusCode::OK).await;
    let entry = audit["items"].as_array().unwrap().iter().find(|e| e["action"] == "kyc.reject").unwrap().clone();
    assert_eq!(
        (entry["details"]["reason_code"].as_str(), entry["details"]["note"].as_str()),
        (Some("NAME_MISMATCH"), body["note"].as_str())
    );

    // Asked again: the refusal is no longer news.
    pending_request(&app, &user, "31010119900307001").await;
    let overview = json_of(app.get("/v1/kyc", Some(&user.token)).await, StatusCode::OK).await;
    assert_eq!(overview["rejected"], Value::Null, "{overview}");
}

async fn a_rejection_without_a_listed_reason_is_refused(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.kyc.auto_approve = false).await;
    let operator = app.operator_token().await;
    let user = app.new_phone_user().await;
    let reject = format!("{}/reject", pending_request(&app, &user, "44030419851120123").await);
    let cases = [
        (json!({}), "reason_code"),
        (json!({ "note": "blurry" }), "reason_code"),
        (json!({ "reason_code": "BLURRY" }), "reason_code"),
        (json!({ "reason_code": "OTHER", "note": "" }), "note"),
        (json!({ "reason_code": "OTHER", "note": "x".repeat(201) }), "note"),
        (json!({ "reason_code": "OTHER", "note": "a", "reason": "b" }), "reason"),
        (json!({ "reason_code": "OTHER", "operator": "me" }), "operator"),
    ];
    for (body, field) in cases {
        let refused = app.post(&reject, Some(&operator), &body).await;
        let refused = assert_error(refused, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        assert_eq!(refused["error"]["details"]["field"], field, "{body}: {refused}");
    }
    let overview = json_of(app.get("/v1/kyc", Some(&user.token)).await, StatusCode::OK).await;
    assert_eq!(overview["pending"]["status"], "pending", "still waiting: {overview}");
}
