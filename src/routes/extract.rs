//! Request extractors that speak the error catalogue: a JSON body and a
//! query string that name the offending field (or parameter) when they
//! cannot be read, path failures as `VALIDATION_FAILED` instead of
//! actix's plain-text defaults, and the `Idempotency-Key` header.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use actix_web::web::BytesMut;
use actix_web::{FromRequest, HttpRequest, HttpResponse, web};
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use validator::{Validate, ValidationErrors};

use crate::domain::withdrawal_decision::IdempotencyKey;
use crate::error::ApiError;

/// Marks a saved reply of an earlier request with the same key.
const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The request's `Idempotency-Key`, which it must send.
pub fn idempotency_key(request: &HttpRequest) -> Result<IdempotencyKey, ApiError> {
    optional_idempotency_key(request)?.ok_or_else(refused_key)
}

/// The request's `Idempotency-Key`, if it sent one; a malformed one is refused.
pub fn optional_idempotency_key(request: &HttpRequest) -> Result<Option<IdempotencyKey>, ApiError> {
    let Some(value) = request.headers().get("idempotency-key") else { return Ok(None) };
    let text = value.to_str().map_err(|_| refused_key())?;
    IdempotencyKey::parse(text).map(Some).ok_or_else(refused_key)
}

fn refused_key() -> ApiError {
    ApiError::validation("Idempotency-Key", "send a unique Idempotency-Key header (1 to 255 visible characters)")
}

/// Marks `response` as the saved reply of an earlier request with the same key.
pub fn mark_replayed(response: &mut HttpResponse) {
    response.headers_mut().insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
}

/// The largest JSON body accepted, registered as app data by `startup`.
#[derive(Debug, Clone, Copy)]
pub struct JsonBodyLimit(pub usize);

const JSON_BODY_LIMIT_DEFAULT: usize = 64 * 1024;

/// A JSON body parsed into `T` (which should `deny_unknown_fields`) and then
/// checked with `validator`.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned + Validate + 'static> FromRequest for ApiJson<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<ApiJson<T>, ApiError>>>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let limit = request.app_data::<web::Data<JsonBodyLimit>>().map_or(JSON_BODY_LIMIT_DEFAULT, |l| l.0);
        let content_type_ok =
            content_type_is(request, |essence| essence == "application/json" || essence.ends_with("+json"));
        let mut payload = payload.take();
        Box::pin(async move {
            if !content_type_ok {
                return Err(ApiError::Validation {
                    field: None,
                    message: "the request body must be JSON (Content-Type: application/json)".into(),
                });
            }
            let body = read_body(&mut payload, limit).await?;
            let value = parse_json::<T>(&body)?;
            value.validate().map_err(first_validation_error)?;
            Ok(ApiJson(value))
        })
    }
}

/// Whether the request's `Content-Type` (its essence, lower case, without
/// parameters) is one `accepts`; a request that sends none is taken as sending the right one.
pub fn content_type_is(request: &HttpRequest, accepts: impl Fn(&str) -> bool) -> bool {
    request.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).is_none_or(|value| {
        let essence = value.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        accepts(&essence)
    })
}

/// The whole body, refused with 413 as soon as it grows past `limit` bytes.
pub async fn read_body(payload: &mut Payload, limit: usize) -> Result<BytesMut, ApiError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|e| ApiError::Validation { field: None, message: e.to_string() })?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge { bytes_max: limit });
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A query string parsed into `T` (which should `deny_unknown_fields`),
/// refused as `VALIDATION_FAILED` naming the parameter at fault, where
/// `web::Query` can only pass on serde's text without it.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<T> std::ops::Deref for ApiQuery<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for ApiQuery<T> {
    type Error = ApiError;
    type Future = std::future::Ready<Result<ApiQuery<T>, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(parse_query(request.query_string()).map(ApiQuery))
    }
}

/// Deserialises a query string, naming the parameter that fails.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let pairs = url::form_urlencoded::parse(query.as_bytes());
    serde_path_to_error::deserialize(serde_urlencoded::Deserializer::new(pairs)).map_err(|error| {
        let path = error.path().to_string();
        let text = error.into_inner().to_string();
        let field = object_field(&path, named_field(&text));
        ApiError::Validation { field, message: query_message(&text) }
    })
}

/// The field serde names in backticks in "missing field `x`", "unknown
/// field `x`, expected …" and "duplicate field `x`": errors raised for the
/// whole object, whose path therefore stops short of the field.
fn named_field(text: &str) -> Option<&str> {
    let named = ["missing field `", "unknown field `", "duplicate field `"]
        .iter()
        .find_map(|prefix| text.strip_prefix(prefix))?;
    named.split('`').next().filter(|field| !field.is_empty())
}

/// A sentence for a query parameter that cannot be read, in place of the
/// parser's words (Rust's `ParseIntError` and the like) where they say
/// nothing to a client.
fn query_message(text: &str) -> String {
    match text {
        "invalid digit found in string" | "cannot parse integer from empty string" => {
            "must be a whole number".to_owned()
        }
        "number too large to fit in target type" => "is too large".to_owned(),
        "number too small to fit in target type" => "is too small".to_owned(),
        "provided string was not `true` or `false`" => "must be true or false".to_owned(),
        _ if text.starts_with("missing field `") => "is required".to_owned(),
        _ if text.starts_with("duplicate field `") => "is given more than once".to_owned(),
        _ if text.starts_with("unknown variant `") => match text.split_once(", expected ") {
            Some((_, expected)) => format!("must be {expected}"),
            None => "is not one of the values it takes".to_owned(),
        },
        _ if text.starts_with("unknown field `") => match text.split_once(", expected ") {
            Some((_, expected)) => format!("is not a parameter here (expected {expected})"),
            None => "is not a parameter here".to_owned(),
        },
        _ => text.to_owned(),
    }
}

/// The address the request came from, for per-IP limits. The TCP peer, not
/// `X-Forwarded-For`, which any client can write.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub Option<std::net::IpAddr>);

impl FromRequest for ClientIp {
    type Error = ApiError;
    type Future = std::future::Ready<Result<ClientIp, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(ClientIp(request.peer_addr().map(|address| address.ip()))))
    }
}

/// Deserialises a JSON object with the path of the failing field, e.g.
/// `amount` or `items[2].id`. Every body of the API is an object: anything
/// else is refused before serde sees it, which would otherwise read a struct
/// from an array by position (`[null]` as a body whose fields are all optional).
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().find(|byte| !byte.is_ascii_whitespace()) != Some(&b'{') {
        return Err(ApiError::Validation { field: None, message: "the request body must be a JSON object".into() });
    }
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let text = inner.to_string();
        let field = object_field(&path, named_field(&text));
        let message = if inner.is_syntax() || inner.is_eof() {
            format!("malformed JSON: {inner}")
        } else {
            // serde's text, without its "at line 1 column 9" suffix for data errors
            text.split(" at line ").next().unwrap_or(&text).to_owned()
        };
        ApiError::Validation { field, message }
    })?;
    deserializer.end().map_err(|e| ApiError::Validation { field: None, message: format!("malformed JSON: {e}") })?;
    Ok(value)
}

/// The field at fault: the path serde reached, extended by the field an
/// object-level error names (a missing field's path is its object's).
fn object_field(path: &str, named: Option<&str>) -> Option<String> {
    let path = (path != "." && !path.is_empty()).then_some(path);
    match (path, named) {
        (Some(path), Some(named)) if path != named && !path.ends_with(&format!(".{named}")) => {
            Some(format!("{path}.{named}"))
        }
        (Some(path), _) => Some(path.to_owned()),
        (None, named) => named.map(str::to_owned),
    }
}

fn first_validation_error(errors: ValidationErrors) -> ApiError {
    let mut fields: Vec<_> = errors.field_errors().into_iter().collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    match fields.first().and_then(|(field, errors)| errors.first().map(|e| (field.to_string(), e.clone()))) {
        Some((field, error)) => {
            let message = error.message.map_or_else(|| format!("is invalid ({})", error.code), |m| m.to_string());
            ApiError::Validation { field: Some(field), message }
        }
        None => ApiError::Validation { field: None, message: errors.to_string() },
    }
}

/// For `QueryConfig`, should a route use `web::Query` rather than
/// `ApiQuery`: the parameter when serde's text names it.
pub fn query_error(error: actix_web::error::QueryPayloadError, _: &HttpRequest) -> actix_web::Error {
    let text = match &error {
        actix_web::error::QueryPayloadError::Deserialize(inner) => inner.to_string(),
        other => other.to_string(),
    };
    let field = named_field(&text).map(str::to_owned);
    ApiError::Validation { field, message: query_message(&text) }.into()
}

/// For `PathConfig`.
pub fn path_error(error: actix_web::error::PathError, _: &HttpRequest) -> actix_web::Error {
    ApiError::Validation { field: None, message: format!("invalid path: {error}") }.into()
}

/// For the built-in `Json` extractor, should a route use it: the field
/// when serde's text names it (it keeps no path).
pub fn json_error(error: actix_web::error::JsonPayloadError, _: &HttpRequest) -> actix_web::Error {
    let field = match &error {
        actix_web::error::JsonPayloadError::Deserialize(inner) => named_field(&inner.to_string()).map(str::to_owned),
        _ => None,
    };
    ApiError::Validation { field, message: error.to_string() }.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::money::Amount;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Transfer {
        amount: Amount,
        memo: String,
    }

    fn field_and_message(body: &str) -> (Option<String>, String) {
        match parse_json::<Transfer>(body.as_bytes()).unwrap_err() {
            ApiError::Validation { field, message } => (field, message),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        let (field, message) = field_and_message(r#"{"amount": 1.5, "memo": "x"}"#);
        assert_eq!(field.as_deref(), Some("amount"));
        assert!(message.contains("not a JSON number"), "{message}");
        let (field, message) = field_and_message(r#"{"amount": "1.005", "memo": "x"}"#);
        assert_eq!((field.as_deref(), message.as_str()), (Some("amount"), "must have at most 2 decimal places (fen)"));
        let (field, _) = field_and_message(r#"{"amount": "-1.00", "memo": "x"}"#);
        assert_eq!(field.as_deref(), Some("amount"));
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct AllOptional {
        reason: Option<String>,
    }

    #[test]
    fn only_an_object_is_a_body() {
        for body in ["[null]", " [\"x\"]", "null", "\"text\"", "12", "true", "", "  ", "not json"] {
            match parse_json::<AllOptional>(body.as_bytes()) {
                Err(ApiError::Validation { field: None, message }) => {
                    assert_eq!(message, "the request body must be a JSON object", "{body:?}")
                }
                other => panic!("{body:?} gave {other:?}"),
            }
        }
        assert!(parse_json::<AllOptional>(b" {}").is_ok());
        assert!(parse_json::<AllOptional>(b"\n{\"reason\": null}").is_ok());
    }

    #[test]
    fn unknown_fields_missing_fields_and_broken_json_are_refused() {
        assert!(field_and_message(r#"{"amount": "1.00", "memo": "x", "fee": "0"}"#).1.contains("unknown field `fee`"));
        assert!(field_and_message(r#"{"amount": "1.00"}"#).1.contains("missing field `memo`"));
        assert!(field_and_message(r#"{"amount": "1.00""#).1.starts_with("malformed JSON"));
        assert!(field_and_message(r#"{"amount": "1.00", "memo": "x"} trailing"#).1.starts_with("malformed JSON"));
        assert!(field_and_message("").1.contains("JSON object"));
        assert!(field_and_message("42").1.contains("JSON object"));
        assert!(field_and_message("[]").1.contains("JSON object"));
    }

    #[test]
    fn missing_fields_and_bad_query_parameters_are_named() {
        assert_eq!(field_and_message(r#"{"amount": "1.00"}"#).0.as_deref(), Some("memo"));
        assert_eq!(object_field("items[2]", Some("id")).as_deref(), Some("items[2].id"));
        assert_eq!(object_field("items[2].id", Some("id")).as_deref(), Some("items[2].id"));
        assert_eq!(object_field("bid", Some("id")).as_deref(), Some("bid.id"));

        #[derive(Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Page {
            limit: Option<usize>,
            cursor: String,
        }
        let refusal = |query: &str| match parse_query::<Page>(query).unwrap_err() {
            ApiError::Validation { field, message } => (field.unwrap_or_default(), message),
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(refusal("cursor=a&limit=ten"), ("limit".into(), "must be a whole number".into()));
        assert_eq!(refusal("limit=1"), ("cursor".into(), "is required".into()));
        assert_eq!(refusal("cursor=a&colour=red").0, "colour");
        assert!(parse_query::<Page>("cursor=a%20b&limit=3").is_ok());
    }
}
