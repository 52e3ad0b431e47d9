//! One paging scheme, checked on every list endpoint from one table: the
//! first page, a `next_cursor` walk to the end with no duplicates or gaps,
//! `limit` bounds refused rather than clamped, cursors that are not this
//! list's refused naming `cursor`, and the OpenAPI document describing
//! `limit`, `cursor` and `next_cursor` the same way for each.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};
use walletgate::routes::docs::{LOCAL_DEFAULT_URL, document};
use walletgate::startup::Served;

use crate::bindings::Phone;
use crate::helpers::{StoreKind, TestApp, assert_error, json_of, spawn_app_with};
use crate::kyc::resident_id;
use crate::on_both_stores;
use crate::settlement::{payee, withdraw};

on_both_stores!(every_list_pages_the_same_way);

/// A list endpoint, who may read it, and where an item's id is.
struct Listing {
    path: String,
    token: String,
    id_at: &'static str,
}

impl Listing {
    fn id_of<'a>(&self, item: &'a Value) -> &'a str {
        item.pointer(self.id_at).and_then(Value::as_str).unwrap_or_else(|| panic!("{}: no id in {item}", self.path))
    }

    fn url(&self, query: &str) -> String {
        let separator = if self.path.contains('?') { '&' } else { '?' };
        format!("{}{separator}{query}", self.path)
    }

    async fn page(&self, app: &TestApp, query: &str) -> Value {
        let page = json_of(app.get(&self.url(query), Some(&self.token)).await, StatusCode::OK).await;
        assert!(page["items"].is_array(), "{} {query}: {page}", self.path);
        assert!(page["next_cursor"].is_string() || page["next_cursor"].is_null(), "{} {query}: {page}", self.path);
        page
    }

    async fn refused(&self, app: &TestApp, query: &str, field: &str) {
        let response = app.get(&self.url(query), Some(&self.token)).await;
        let error = assert_error(response, StatusCode::BAD_REQUEST, "VALIDATION_FAILED").await;
        assert_eq!(error["error"]["details"]["field"], field, "{} {query}: {error}", self.path);
    }
}

/// Five of everything: withdrawals (each one reviewed), movements, audit
/// lines, bindings (attempts superseded by the next), accounts, and
/// identity checks waiting for an operator.
async fn listings(app: &TestApp) -> Vec<Listing> {
    let operator = app.operator_token().await;
    let payee = payee(app, "900.00", json!({})).await;
    for _ in 0..4 {
        json_of(app.credit(&operator, &payee.user.id, "1.00").await, StatusCode::CREATED).await;
    }
    for amount in ["1.00", "2.00", "3.00", "4.00", "5.00"] {
        withdraw(app, &payee, amount).await;
    }
    let binder = app.new_phone_user().await;
    let phone = Phone::of(app, &binder);
    for _ in 0..5 {
        phone.start().await;
    }
    for sequence in 1..=5 {
        let user = app.new_phone_user().await;
        let body = json!({ "level": "L1", "real_name": "张三丰", "id_number": resident_id(&format!("31010119900307{sequence:03}")) });
        json_of(app.post("/v1/kyc", Some(&user.token), &body).await, StatusCode::ACCEPTED).await;
    }
    let user = payee.user.token.clone();
    let of_payee = format!("/v1/ops/withdrawals?account_id={}", payee.user.id);
    vec![
        Listing { path: "/v1/withdrawals".into(), token: user.clone(), id_at: "/id" },
        Listing { path: "/v1/withdrawals?status=in_review".into(), token: user.clone(), id_at: "/id" },
        Listing { path: "/v1/wallet/transactions".into(), token: user, id_at: "/id" },
        Listing { path: "/v1/ops/review-queue".into(), token: operator.clone(), id_at: "/withdrawal/id" },
        Listing { path: "/v1/ops/audit-log".into(), token: operator.clone(), id_at: "/id" },
        Listing { path: "/v1/bindings".into(), token: binder.token.clone(), id_at: "/id" },
        Listing { path: "/v1/ops/accounts".into(), token: operator.clone(), id_at: "/id" },
        Listing { path: "/v1/ops/withdrawals".into(), token: operator.clone(), id_at: "/withdrawal/id" },
        Listing {
            path: "/v1/ops/withdrawals?status=in_review".into(),
            token: operator.clone(),
            id_at: "/withdrawal/id",
        },
        Listing { path: of_payee, token: operator.clone(), id_at: "/withdrawal/id" },
        Listing { path: "/v1/ops/kyc/pending".into(), token: operator, id_at: "/request/id" },
    ]
}

async fn every_list_pages_the_same_way(store: StoreKind) {
    let app = spawn_app_with(store, |settings| {
        settings.withdrawals.manual_review_over = "0.00".into();
        settings.kyc.auto_approve = false;
    })
    .await;
    let listings = listings(&app).await;
    let mut cursors = Vec::new();
    for listing in &listings {
        let whole = listing.page(&app, "limit=200").await;
        assert_eq!(whole["next_cursor"], Value::Null, "{}: all fits on one page", listing.path);
        let all: Vec<&str> = whole["items"].as_array().unwrap().iter().map(|item| listing.id_of(item)).collect();
        assert!(all.len() >= 5, "{}: {whole}", listing.path);

        for limit in [1, 2, 3] {
            let mut walked = Vec::new();
            let mut query = format!("limit={limit}");
            loop {
                let page = listing.page(&app, &query).await;
                let items = page["items"].as_array().unwrap();
                assert!(!items.is_empty() && items.len() <= limit, "{} {query}: {page}", listing.path);
                walked.extend(items.iter().map(|item| listing.id_of(item).to_owned()));
                match page["next_cursor"].as_str() {
                    Some(cursor) => query = format!("limit={limit}&cursor={cursor}"),
                    None => break,
                }
            }
            assert_eq!(walked, all, "{} limit={limit}: the walk meets every item once, in order", listing.path);
        }
        let first = listing.page(&app, "limit=1").await;
        assert_eq!(first["items"].as_array().map(Vec::len), Some(1));
        cursors.push(first["next_cursor"].as_str().unwrap().to_owned());
        let default = listing.page(&app, "").await;
        assert_eq!(default["items"], whole["items"], "{}: 50 by default", listing.path);

        for limit in ["0", "201", "-1", "abc"] {
            listing.refused(&app, &format!("limit={limit}"), "limit").await;
        }
        for cursor in ["", "zzz", "abc", "0", &hex("wd:nonsense"), &hex("tx:01"), &hex("au:")] {
            listing.refused(&app, &format!("cursor={cursor}"), "cursor").await;
        }
    }
    for (at, listing) in listings.iter().enumerate() {
        // A cursor from another list (listings of one list with other
        // filters share its cursors).
        let own = list_of(&cursors[at]);
        let foreign = cursors.iter().cycle().skip(at + 1).find(|cursor| list_of(cursor) != own).unwrap();
        listing.refused(&app, &format!("cursor={foreign}"), "cursor").await;
    }
}

fn hex(text: &str) -> String {
    text.bytes().map(|byte| format!("{byte:02x}")).collect()
}

/// The list a cursor belongs to (what it starts with, before `:`). Tests
/// may look inside cursors; clients may not.
fn list_of(cursor: &str) -> String {
    let bytes: Vec<u8> =
        (0..cursor.len()).step_by(2).map(|at| u8::from_str_radix(&cursor[at..at + 2], 16).unwrap()).collect();
    String::from_utf8(bytes).unwrap().split(':').next().unwrap().to_owned()
}

const LIST_PATHS: [&str; 10] = [
    "/v1/withdrawals",
    "/v1/wallet/transactions",
    "/v1/ops/review-queue",
    "/v1/ops/audit-log",
    "/v1/bindings",
    "/v1/ops/accounts",
    "/v1/ops/withdrawals",
    "/v1/ops/kyc/pending",
    "/mock/requests",
    "/mock/wechat/users",
];

#[test]
fn the_document_describes_paging_the_same_way_for_every_list() {
    let document = serde_json::to_value(document(|path| Served::ALL.serves(path), LOCAL_DEFAULT_URL)).unwrap();
    let parameter = |path: &str, name: &str| {
        let parameters = document["paths"][path]["get"]["parameters"].as_array().cloned().unwrap_or_default();
        parameters.into_iter().find(|p| p["name"] == name).unwrap_or_else(|| panic!("GET {path} has no `{name}`"))
    };
    let page_schema = |path: &str| {
        let schema = &document["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"];
        let name = schema["$ref"].as_str().unwrap().trim_start_matches("#/components/schemas/");
        document["components"]["schemas"][name].clone()
    };
    let limit = parameter(LIST_PATHS[0], "limit");
    assert_eq!(
        (&limit["in"], &limit["schema"]["minimum"], &limit["schema"]["maximum"], &limit["schema"]["default"]),
        (&json!("query"), &json!(1), &json!(200), &json!(50))
    );
    let cursor = parameter(LIST_PATHS[0], "cursor");
    assert_eq!((&cursor["in"], &cursor["schema"]["type"]), (&json!("query"), &json!("string")));
    let next_cursor = page_schema(LIST_PATHS[0])["properties"]["next_cursor"].clone();
    assert_eq!(next_cursor["type"], json!(["string", "null"]));
    for path in LIST_PATHS {
        assert_eq!(parameter(path, "limit"), limit, "GET {path}");
        assert_eq!(parameter(path, "cursor"), cursor, "GET {path}");
        let page = page_schema(path);
        assert_eq!(page["properties"]["next_cursor"], next_cursor, "GET {path}");
        assert_eq!(page["properties"]["items"]["type"], "array", "GET {path}");
        let required: BTreeSet<&str> = page["required"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
        assert!(required.contains("items"), "GET {path}: {page}");
        let names: BTreeSet<&str> =
            page["properties"].as_object().unwrap().keys().map(String::as_str).collect::<BTreeSet<_>>();
        // The review queue also counts what matches its filters on every
        // page; the statement adds up the months its page shows.
        let expected = match path {
            "/v1/ops/review-queue" => BTreeSet::from(["items", "next_cursor", "total"]),
            "/v1/wallet/transactions" => BTreeSet::from(["items", "next_cursor", "months", "time_zone"]),
            _ => BTreeSet::from(["items", "next_cursor"]),
        };
        assert_eq!(names, expected, "GET {path}");
    }
}
