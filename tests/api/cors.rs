//! Browsers on another origin (a Vite dev server, an Expo web build) can call
//! the API: preflights are answered, answers carry the CORS headers an app
//! needs to read them, and an origin that is not allowed gets no headers
//! (the browser keeps the answer from the page) without the request being
//! refused, so same-origin pages keep working whatever the list says.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{StoreKind, TestApp, json_of, spawn_app, spawn_app_with};
use crate::on_both_stores;

const VITE: &str = "http://localhost:3000";

async fn preflight(app: &TestApp, path: &str, origin: &str, method: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url(path))
        .header("Origin", origin)
        .header("Access-Control-Request-Method", method)
        .header("Access-Control-Request-Headers", "authorization,content-type,idempotency-key")
        .send()
        .await
        .unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_owned)
}

async fn a_page_on_another_origin_may_call_the_api_by_default(store: StoreKind) {
    let app = spawn_app(store).await;
    let answer = preflight(&app, "/v1/withdrawals", VITE, "POST").await;
    assert!(answer.status().is_success(), "{}", answer.status());
    assert_eq!(header(&answer, "access-control-allow-origin").as_deref(), Some(VITE));
    let allowed = header(&answer, "access-control-allow-headers").unwrap_or_default().to_ascii_lowercase();
    for needed in ["authorization", "content-type", "idempotency-key"] {
        assert!(allowed.contains(needed), "{needed} not in {allowed}");
    }
    assert!(header(&answer, "access-control-max-age").is_some());

    // The real request, refused for want of a token: the app can still read why.
    let refused = app.client.get(app.url("/v1/wallet")).header("Origin", VITE).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(header(&refused, "access-control-allow-origin").as_deref(), Some(VITE));
    let exposed = header(&refused, "access-control-expose-headers").unwrap_or_default().to_ascii_lowercase();
    for needed in ["idempotent-replayed", "retry-after", "x-request-id"] {
        assert!(exposed.contains(needed), "{needed} not in {exposed}");
    }
}

async fn only_listed_origins_get_cors_headers_and_no_request_is_refused_for_its_origin(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.server.cors.allowed_origins = vec![VITE.to_owned()]).await;
    let listed = preflight(&app, "/v1/wallet", VITE, "GET").await;
    assert_eq!(header(&listed, "access-control-allow-origin").as_deref(), Some(VITE));

    let stranger = app.client.get(app.url("/v1/wallet")).header("Origin", "http://evil.example").send().await.unwrap();
    assert_eq!(stranger.status(), StatusCode::UNAUTHORIZED, "answered as usual");
    assert_eq!(header(&stranger, "access-control-allow-origin"), None);

    // The wallet app served by the gateway itself sends its own Origin.
    let own_origin = app.address.clone();
    let user = app.new_phone_user().await;
    let login = app
        .client
        .post(app.url("/v1/auth/login"))
        .header("Origin", own_origin)
        .json(&json!({ "phone": user.phone, "password": "correct-horse" }))
        .send()
        .await
        .unwrap();
    json_of(login, StatusCode::OK).await;
}

async fn a_gateway_on_every_interface_hands_out_a_redirect_a_browser_can_open(store: StoreKind) {
    let app = spawn_app_with(store, |settings| settings.server.host = "0.0.0.0".to_owned()).await;
    let user = app.new_phone_user().await;
    let started =
        json_of(app.post("/v1/bindings/wechat", Some(&user.token), &json!({})).await, StatusCode::CREATED).await;
    let authorize_url = started["authorize_url"].as_str().unwrap();
    assert!(!authorize_url.contains("0.0.0.0"), "{authorize_url}");
    let port = app.address.rsplit(':').next().unwrap();
    assert!(authorize_url.starts_with(&format!("http://127.0.0.1:{port}/mock/wechat/")), "{authorize_url}");
    let redirect = url::Url::parse(authorize_url)
        .unwrap()
        .query_pairs()
        .find(|(name, _)| name == "redirect_uri")
        .map(|(_, value)| value.into_owned())
        .unwrap();
    assert_eq!(redirect, format!("http://127.0.0.1:{port}/v1/bindings/wechat/callback"));
    // The mock accepts its own gateway's redirect: the consent page opens.
    let page = app.client.get(authorize_url).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
}

on_both_stores!(
    a_page_on_another_origin_may_call_the_api_by_default,
    only_listed_origins_get_cors_headers_and_no_request_is_refused_for_its_origin,
    a_gateway_on_every_interface_hands_out_a_redirect_a_browser_can_open,
);
