//! `/openapi.json` and `/docs`: the generated OpenAPI document, and the
//! Swagger UI that shows it. The UI's files are compiled into the binary, so
//! the docs work offline; the document is built once, at startup.

use actix_web::HttpResponse;
use actix_web::http::header::{CACHE_CONTROL, ContentType, LOCATION};
use actix_web::web::{self, Bytes};
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::openapi;

/// Where the Swagger UI is served; the trailing slash matters (its assets
/// are relative to it), so `/docs` redirects here.
pub const SWAGGER_UI_PATH: &str = "/swagger-ui/";
/// The route pattern of the UI and its assets.
pub const SWAGGER_UI_ROUTE: &str = "/swagger-ui/{_:.*}";
pub const OPENAPI_JSON_PATH: &str = "/openapi.json";

/// The document as served, serialised once.
#[derive(Debug, Clone)]
pub struct OpenApiJson(Bytes);

impl OpenApiJson {
    /// The document of this instance: without the mock providers' paths when they are off.
    pub fn new(mock_enabled: bool) -> serde_json::Result<OpenApiJson> {
        Ok(OpenApiJson(Bytes::from(serde_json::to_vec(&openapi::document(mock_enabled))?)))
    }
}

/// The Swagger UI, pointed at `/openapi.json` (which `openapi_json` serves).
pub fn swagger_ui() -> SwaggerUi {
    SwaggerUi::new(SWAGGER_UI_ROUTE).config(Config::new([OPENAPI_JSON_PATH]))
}

/// This OpenAPI document
///
/// The OpenAPI 3.1 description of every route this instance serves (the mock
/// providers' only when they are enabled).
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "docs",
    responses((status = 200, description = "The document.", body = Object, content_type = "application/json"))
)]
pub async fn openapi_json(document: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::json()).body(document.0.clone())
}

/// Interactive API documentation
///
/// Redirects to the Swagger UI at `/swagger-ui/`, which reads `/openapi.json`.
#[utoipa::path(
    get,
    path = "/docs",
    tag = "docs",
    responses((status = 302, description = "To the Swagger UI.", headers(("Location" = String, description = "`/swagger-ui/`"))))
)]
pub async fn swagger_ui_redirect() -> HttpResponse {
    HttpResponse::Found().insert_header((LOCATION, SWAGGER_UI_PATH)).insert_header((CACHE_CONTROL, "no-cache")).finish()
}
