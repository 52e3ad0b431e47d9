//! The OpenAPI document: it describes exactly the routes the service has,
//! and the live server serves it, the Swagger UI and every documented path.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::Value;
use walletgate::routes::docs::{
    LOCAL_DEFAULT_URL, MOCK_ALIPAY_PATH_PREFIX, MOCK_PATH_PREFIX, MOCK_WECHAT_PATH_PREFIX, SIM_PATH_PREFIX, document,
};
use walletgate::startup::{
    MOCK_ALIPAY_ROUTE_TABLE, MOCK_ROUTE_TABLE, MOCK_WECHAT_ROUTE_TABLE, ROUTE_TABLE, SIM_ROUTE_TABLE, Served,
};

use crate::helpers::{StoreKind, spawn_app};
use crate::on_both_stores;

const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// `(METHOD, path)` of every operation a document describes.
fn documented_operations(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("the document has paths");
    paths
        .iter()
        .flat_map(|(path, item)| {
            METHODS
                .iter()
                .filter(|method| item.get(**method).is_some())
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect()
}

fn document_json(served: Served) -> Value {
    serde_json::to_value(document(|path| served.serves(path), LOCAL_DEFAULT_URL)).expect("the document serialises")
}

/// `(METHOD, path)` of the routes of some tables.
fn operations_of(tables: &[&[(&str, &str)]]) -> BTreeSet<(String, String)> {
    tables.iter().flat_map(|table| table.iter()).map(|(method, path)| (method.to_string(), path.to_string())).collect()
}

/// Where a gateway with the shipped settings listens: `config/default.toml`'s port on loopback.
pub fn default_base_url() -> String {
    let settings = walletgate::settings::Settings::load(&walletgate::settings::Overrides {
        config_dir: Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("config")),
        ..Default::default()
    })
    .unwrap();
    format!("http://127.0.0.1:{}", settings.server.port)
}

#[test]
fn every_route_is_documented_and_every_documented_operation_is_served() {
    let table: Vec<(String, String)> = ROUTE_TABLE
        .iter()
        .chain(MOCK_ROUTE_TABLE)
        .chain(MOCK_WECHAT_ROUTE_TABLE)
        .chain(MOCK_ALIPAY_ROUTE_TABLE)
        .chain(SIM_ROUTE_TABLE)
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    let routes: BTreeSet<(String, String)> = table.iter().cloned().collect();
    assert_eq!(routes.len(), table.len(), "a route is registered twice");
    let documented = documented_operations(&document_json(Served::ALL));
    let undocumented: Vec<_> = routes.difference(&documented).collect();
    let not_served: Vec<_> = documented.difference(&routes).collect();
    assert!(undocumented.is_empty(), "routes the OpenAPI document does not describe: {undocumented:?}");
    assert!(not_served.is_empty(), "operations the document names but no route serves: {not_served:?}");
}

#[test]
fn the_mock_and_simulator_routes_are_documented_only_when_served() {
    let provider = |path: &str| path.starts_with(MOCK_WECHAT_PATH_PREFIX) || path.starts_with(MOCK_ALIPAY_PATH_PREFIX);
    let mock = |path: &str| path.starts_with(MOCK_PATH_PREFIX) && !provider(path);
    assert!(MOCK_ROUTE_TABLE.iter().all(|(_, path)| mock(path)));
    assert!(MOCK_WECHAT_ROUTE_TABLE.iter().all(|(_, path)| path.starts_with(MOCK_WECHAT_PATH_PREFIX)));
    assert!(MOCK_ALIPAY_ROUTE_TABLE.iter().all(|(_, path)| path.starts_with(MOCK_ALIPAY_PATH_PREFIX)));
    assert!(SIM_ROUTE_TABLE.iter().all(|(_, path)| path.starts_with(SIM_PATH_PREFIX)));
    let optional = |path: &str| path.starts_with(MOCK_PATH_PREFIX) || path.starts_with(SIM_PATH_PREFIX);
    assert!(ROUTE_TABLE.iter().all(|(_, path)| !optional(path)));
    let everything = documented_operations(&document_json(Served::ALL));
    let all_tables = [ROUTE_TABLE, MOCK_ROUTE_TABLE, MOCK_WECHAT_ROUTE_TABLE, MOCK_ALIPAY_ROUTE_TABLE, SIM_ROUTE_TABLE];
    assert_eq!(everything, operations_of(&all_tables));
    let production = documented_operations(&document_json(Served::NONE));
    assert_eq!(production, operations_of(&[ROUTE_TABLE]));
    let simulator_alone = Served { simulator: true, mock_wechat: false, mock_alipay: false };
    assert_eq!(documented_operations(&document_json(simulator_alone)), operations_of(&[ROUTE_TABLE, MOCK_ROUTE_TABLE]));
    let with_alipay = Served { simulator: true, mock_wechat: false, mock_alipay: true };
    let expected = operations_of(&[ROUTE_TABLE, MOCK_ROUTE_TABLE, MOCK_ALIPAY_ROUTE_TABLE]);
    assert_eq!(documented_operations(&document_json(with_alipay)), expected);
    for alone in [
        Served { simulator: false, mock_wechat: true, mock_alipay: false },
        Served { simulator: false, mock_wechat: false, mock_alipay: true },
    ] {
        assert_eq!(documented_operations(&document_json(alone)), production, "the mocks need the simulator");
    }
}

/// Every `$ref` of `value`, with where it was found.
fn references<'a>(value: &'a Value, at: String, found: &mut Vec<(String, &'a str)>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push((at.clone(), target));
            }
            for (key, inner) in map {
                references(inner, format!("{at}/{key}"), found);
            }
        }
        Value::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                references(inner, format!("{at}/{index}"), found);
            }
        }
        _ => {}
    }
}

/// A document with a reference to nothing is refused whole by tools that
/// load it (Prism stops at the first), whatever else it gets right.
#[test]
fn every_reference_in_the_document_resolves() {
    let document = document_json(Served::ALL);
    let mut found = Vec::new();
    references(&document, "#".to_owned(), &mut found);
    assert!(found.len() > 100, "the document references its schemas: {}", found.len());
    let dangling: Vec<_> = found
        .iter()
        .filter(|(_, target)| target.strip_prefix('#').is_none_or(|pointer| document.pointer(pointer).is_none()))
        .collect();
    assert!(dangling.is_empty(), "references to nothing: {dangling:#?}");
}

#[test]
fn operations_have_unique_ids_tags_and_documented_errors() {
    let document = document_json(Served::ALL);
    let mut ids = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in METHODS.iter().filter(|method| item.get(**method).is_some()) {
            let operation = &item[*method];
            let id = operation["operationId"].as_str().unwrap_or_default();
            assert!(ids.insert(id.to_owned()), "operationId {id:?} of {method} {path} is used twice");
            // An id names a provider only where its path does: SDKs name their methods after it.
            for provider in ["wechat", "alipay"] {
                assert!(
                    !id.contains(provider) || path.contains(provider),
                    "operationId {id:?} of {method} {path} names {provider}, its path does not"
                );
            }
            assert!(operation["tags"].as_array().is_some_and(|tags| !tags.is_empty()), "{method} {path} has no tag");
            assert!(operation["summary"].as_str().is_some_and(|s| !s.is_empty()), "{method} {path} has no summary");
            let secured = operation["security"].as_array().is_some_and(|s| !s.is_empty());
            // Reading the simulator's clock is open to anyone (the app's "simulated time" badge).
            let open_read = *method == "get" && path == "/v1/sim/clock";
            if (path.starts_with("/v1/ops/") || path.starts_with(SIM_PATH_PREFIX)) && !open_read {
                assert!(secured, "{method} {path} must need the bearer token");
                let tag = if path.starts_with(SIM_PATH_PREFIX) { "simulator" } else { "ops" };
                assert_eq!(operation["tags"][0], tag, "{method} {path}");
                assert!(operation["responses"]["403"].is_object(), "{method} {path} must document 403");
            }
            if secured {
                assert!(operation["responses"]["401"].is_object(), "{method} {path} must document 401");
            }
            for (status, response) in operation["responses"].as_object().unwrap() {
                let Some(json) = response["content"].get("application/json") else { continue };
                // The mock WeChat and WeChat Pay's callbacks speak WeChat's protocol, not the catalogue's.
                let wechat_shaped = path.starts_with("/mock/wechat/") || path.starts_with("/v1/callbacks/wechat-pay/");
                if status.starts_with('4') && !wechat_shaped {
                    assert_eq!(
                        json["schema"]["$ref"], "#/components/schemas/ErrorBody",
                        "{method} {path} {status} must use the catalogue's error body"
                    );
                    let description = response["description"].as_str().unwrap_or_default();
                    assert!(description.contains('`'), "{method} {path} {status} must name its codes");
                }
            }
        }
    }
}

on_both_stores!(
    the_document_is_served_as_openapi_3_1_with_bearer_auth,
    docs_redirect_to_the_swagger_ui_which_works_offline,
    every_documented_get_without_parameters_is_routed,
);

async fn the_document_is_served_as_openapi_3_1_with_bearer_auth(store: StoreKind) {
    let app = spawn_app(store).await;
    let response = app.get("/openapi.json", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("application/json"));
    let served: Value = response.json().await.unwrap();
    assert!(served["openapi"].as_str().is_some_and(|version| version.starts_with("3.1.")), "{}", served["openapi"]);
    assert_eq!(served["info"]["title"], "walletgate");
    let bearer = &served["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!((bearer["type"].as_str(), bearer["scheme"].as_str()), (Some("http"), Some("bearer")));
    assert_eq!(bearer["bearerFormat"], "JWT");
    let generated = serde_json::to_value(document(|path| Served::ALL.serves(path), &app.address)).unwrap();
    assert_eq!(served, generated, "the served document is the generated one");
    assert_eq!(served["servers"][0]["url"], app.address, "the document names the instance serving it first");
    let money = &served["components"]["schemas"]["Money"];
    assert_eq!((money["type"].as_str(), money["examples"][0].as_str()), (Some("string"), Some("100.50")));
}

async fn docs_redirect_to_the_swagger_ui_which_works_offline(store: StoreKind) {
    let app = spawn_app(store).await;
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let response = no_redirects.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()["location"], "/swagger-ui/");
    let page = app.get("/docs", None).await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger-ui"), "{html}");
    // Every asset the page loads is served by this process itself.
    for asset in ["swagger-ui-bundle.js", "swagger-ui.css", "swagger-initializer.js"] {
        let response = app.get(&format!("/swagger-ui/{asset}"), None).await;
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        if asset == "swagger-initializer.js" {
            assert!(response.text().await.unwrap().contains("/openapi.json"));
        }
    }
    assert!(!html.contains("http://") && !html.contains("https://"), "no asset is fetched from elsewhere");
}

/// The catch-all's answer: no route has this path (and method).
fn is_route_not_found(status: StatusCode, body: &str) -> bool {
    let parsed: Value = serde_json::from_str(body).unwrap_or(Value::Null);
    status == StatusCode::NOT_FOUND
        && parsed["error"]["code"] == "NOT_FOUND"
        && parsed["error"]["details"]["resource"] == "route"
}

async fn every_documented_get_without_parameters_is_routed(store: StoreKind) {
    let app = spawn_app(store).await;
    let served: Value = app.get("/openapi.json", None).await.json().await.unwrap();
    let gets: Vec<String> = served["paths"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(path, item)| item.get("get").is_some() && !path.contains('{'))
        .map(|(path, _)| path.clone())
        .collect();
    assert!(gets.len() > 20, "{gets:?}");
    for path in gets {
        // No token: the bearer-token endpoints answer 401 at once (the event
        // stream among them, which would otherwise never end).
        let response = app.get(&path, None).await;
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(!is_route_not_found(status, &body), "GET {path} is documented but not routed: {status} {body}");
    }
    let unknown = app.get("/v1/no-such-thing", None).await;
    let status = unknown.status();
    assert!(is_route_not_found(status, &unknown.text().await.unwrap()), "the catch-all itself changed");
}

/// The collection imported alone (without the environment file) still knows
/// where the gateway listens by default; an environment's `base_url` wins.
#[test]
fn the_postman_collection_carries_a_default_base_url() {
    let collection: serde_json::Value =
        serde_json::from_str(include_str!("../../postman/walletgate.postman_collection.json")).unwrap();
    let base_url = collection["variable"]
        .as_array()
        .and_then(|variables| variables.iter().find(|variable| variable["key"] == "base_url"))
        .and_then(|variable| variable["value"].as_str())
        .map(str::to_owned);
    assert_eq!(base_url, Some(default_base_url()));
}
