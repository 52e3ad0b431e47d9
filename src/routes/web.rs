//! The browser front ends: the phone-sized wallet app at `/app` and the
//! operator console at `/ops`. Their HTML, CSS and ES modules live in `web/`
//! and are compiled into the binary, so the service stays one file to run and
//! a browser needs nothing but this server (no CDN, no build step).
//!
//! URL layout, mirroring the folders:
//! - `/app`, `/app/` → `web/app/index.html`; `/app/assets/{file}` → `web/app/{file}`
//! - `/ops`, `/ops/` → `web/ops/index.html`; `/ops/assets/{file}` → `web/ops/{file}`
//! - `/shared/{file}` → `web/shared/{file}` (API client, i18n, SSE reader, styles)
//!
//! Files are looked up in a fixed table, never on disk, so no path can reach
//! outside it.

use std::collections::HashMap;
use std::sync::LazyLock;

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use sha2::{Digest, Sha256};

use crate::error::ApiError;

/// Same-origin only: the pages load their own scripts and styles and talk to
/// this server's API; nothing inline (so no `onclick` in markup), no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// File names carry no content hash, so a browser revalidates every time
/// (`no-cache`) and an unchanged file costs a 304 against its ETag; a new
/// binary's pages are never mixed with the old one's scripts.
const CACHE_CONTROL: &str = "no-cache";

struct Asset {
    /// Path under `web/`.
    path: &'static str,
    body: &'static [u8],
}

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(Asset { path: $path, body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $path)) }),*]
    };
}

/// Every file under `web/` (a test checks the list against the folder).
static ASSETS: &[Asset] = assets![
    "app/amount-input.js",
    "app/app.css",
    "app/index.html",
    "app/main.js",
    "app/messages.js",
    "app/outbox.js",
    "app/payment.js",
    "app/pin-pad.js",
    "app/pin-rules.js",
    "app/providers.js",
    "app/screens/bind.js",
    "app/screens/history.js",
    "app/screens/kyc.js",
    "app/screens/login.js",
    "app/screens/my.js",
    "app/screens/pin.js",
    "app/screens/register.js",
    "app/screens/status.js",
    "app/screens/transfer-detail.js",
    "app/screens/transfer.js",
    "app/screens/withdraw.js",
    "app/session.js",
    "app/sheet.js",
    "app/sim-badge.js",
    "app/sms-code.js",
    "app/statement-view.js",
    "app/transfer-view.js",
    "app/ui.js",
    "app/withdrawal-view.js",
    "ops/index.html",
    "ops/main.js",
    "ops/messages.js",
    "ops/ops.css",
    "ops/views/accounts.js",
    "ops/views/audit.js",
    "ops/views/credit.js",
    "ops/views/decisions.js",
    "ops/views/dialogs.js",
    "ops/views/header.js",
    "ops/views/kyc.js",
    "ops/views/login.js",
    "ops/views/paged.js",
    "ops/views/queue-table.js",
    "ops/views/queue.js",
    "ops/views/simulator.js",
    "ops/views/transfers.js",
    "ops/views/withdrawal.js",
    "shared/api.js",
    "shared/base.css",
    "shared/dom.js",
    "shared/errors.js",
    "shared/events.js",
    "shared/format.js",
    "shared/i18n.js",
    "shared/icon.svg",
    "shared/messages.js",
    "shared/money.js",
];

struct Prepared {
    body: &'static [u8],
    content_type: &'static str,
    etag: String,
}

static PREPARED: LazyLock<HashMap<&'static str, Prepared>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|asset| {
            let digest = Sha256::digest(asset.body);
            let etag = format!("\"{}\"", hex::encode(&digest[..12]));
            (asset.path, Prepared { body: asset.body, content_type: content_type(asset.path), etag })
        })
        .collect()
});

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// The front ends' routes; `startup.rs` adds them beside the API's.
pub fn configure(config: &mut web::ServiceConfig) {
    config
        .route("/app", web::get().to(app_page))
        .route("/app/", web::get().to(app_page))
        .route("/app/assets/{file:.+}", web::get().to(app_asset))
        .route("/ops", web::get().to(ops_page))
        .route("/ops/", web::get().to(ops_page))
        .route("/ops/assets/{file:.+}", web::get().to(ops_asset))
        .route("/shared/{file:.+}", web::get().to(shared_asset));
}

async fn app_page(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&request, "app/index.html")
}

async fn ops_page(request: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&request, "ops/index.html")
}

async fn app_asset(request: HttpRequest, file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve(&request, &format!("app/{file}"))
}

async fn ops_asset(request: HttpRequest, file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve(&request, &format!("ops/{file}"))
}

async fn shared_asset(request: HttpRequest, file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve(&request, &format!("shared/{file}"))
}

fn serve(request: &HttpRequest, path: &str) -> Result<HttpResponse, ApiError> {
    let asset = PREPARED.get(path).ok_or(ApiError::NotFound { resource: "file" })?;
    let unchanged = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|tag| tag.trim() == asset.etag || tag.trim() == "*"));
    let mut response = if unchanged { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    response
        .insert_header((header::ETAG, asset.etag.as_str()))
        .insert_header((header::CACHE_CONTROL, CACHE_CONTROL))
        .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .insert_header((header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")));
    if unchanged {
        return Ok(response.finish());
    }
    Ok(response.content_type(asset.content_type).body(asset.body))
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use actix_web::test::{TestRequest, call_service, init_service, read_body};
    use actix_web::{App, http::StatusCode};

    use super::*;

    fn files_under(root: &Path, folder: &Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(folder).expect("web/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                files_under(root, &path, found);
            } else {
                let relative = path.strip_prefix(root).expect("under web/");
                found.push(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }

    #[test]
    fn every_file_under_web_is_served_and_nothing_else() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("web");
        let mut on_disk = Vec::new();
        files_under(&root, &root, &mut on_disk);
        on_disk.sort();
        let mut listed: Vec<String> = ASSETS.iter().map(|asset| asset.path.to_owned()).collect();
        listed.sort();
        assert_eq!(listed, on_disk, "ASSETS in routes/web.rs must list exactly the files under web/");
    }

    #[test]
    fn every_error_code_has_a_sentence_in_both_languages() {
        // The codes as `ApiError::code` writes them: `Variant { .. } => "CODE",`.
        let codes: Vec<&str> = include_str!("../error.rs")
            .lines()
            .filter_map(|line| line.trim().strip_suffix("\","))
            .filter_map(|line| line.rsplit_once("=> \"").map(|(_, code)| code))
            .filter(|code| code.bytes().all(|b| b.is_ascii_uppercase() || b == b'_'))
            .collect();
        assert!(codes.len() > 30, "found only {codes:?} in error.rs");
        let messages = include_str!("../../web/shared/messages.js");
        for code in codes {
            let key = format!("\"error.{code}\":");
            assert_eq!(messages.matches(&key).count(), 2, "{code} needs an English and a Chinese sentence");
        }
    }

    #[actix_web::test]
    async fn pages_come_with_their_type_policy_and_validator() {
        let app = init_service(App::new().configure(configure)).await;
        for (uri, content_type) in [
            ("/app", "text/html; charset=utf-8"),
            ("/app/", "text/html; charset=utf-8"),
            ("/ops", "text/html; charset=utf-8"),
            ("/app/assets/main.js", "text/javascript; charset=utf-8"),
            ("/ops/assets/ops.css", "text/css; charset=utf-8"),
            ("/shared/icon.svg", "image/svg+xml"),
        ] {
            let response = call_service(&app, TestRequest::get().uri(uri).to_request()).await;
            assert_eq!(response.status(), StatusCode::OK, "{uri}");
            let headers = response.headers();
            assert_eq!(headers.get(header::CONTENT_TYPE).unwrap(), content_type, "{uri}");
            assert_eq!(headers.get(header::CACHE_CONTROL).unwrap(), "no-cache", "{uri}");
            assert!(headers.get(header::CONTENT_SECURITY_POLICY).unwrap().to_str().unwrap().contains("'self'"));
            assert_eq!(headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
            assert!(headers.contains_key(header::ETAG), "{uri}");
        }
    }

    #[actix_web::test]
    async fn an_unchanged_file_is_answered_with_not_modified() {
        let app = init_service(App::new().configure(configure)).await;
        let first = call_service(&app, TestRequest::get().uri("/shared/api.js").to_request()).await;
        let etag = first.headers().get(header::ETAG).unwrap().clone();
        let again = TestRequest::get().uri("/shared/api.js").insert_header((header::IF_NONE_MATCH, etag)).to_request();
        let response = call_service(&app, again).await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED);
        assert!(read_body(response).await.is_empty());
    }

    #[actix_web::test]
    async fn unknown_files_and_escapes_are_not_found() {
        let app = init_service(App::new().configure(configure)).await;
        for uri in ["/app/assets/nope.js", "/app/assets/../../Cargo.toml", "/ops/assets/%2e%2e/app/index.html"] {
            let response = call_service(&app, TestRequest::get().uri(uri).to_request()).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{uri}");
        }
    }
}
