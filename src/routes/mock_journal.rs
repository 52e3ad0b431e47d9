//! `/mock/requests`: the request journal of the mock providers
//! (`providers::journal`) — list it, newest first and filtered, and clear
//! it — and `record_http_calls`, the middleware that journals every HTTP
//! call to a mock provider (`/mock/wechat/*`) with its request and answer.

use std::cell::RefCell;
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::middleware::Next;
use actix_web::web::{self, Bytes};
use actix_web::{Error, HttpMessage, HttpResponse};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::ApiQuery;
use super::pagination::{List, PageRequest};
use super::responses::StoreUnavailable;
use crate::error::{ApiError, ErrorBody};
use crate::providers::journal::{
    CallAnswer, JournalFilter, MockCall, MockProvider, RequestJournal, Transport, with_call_notes,
};

/// Longest `path_prefix` accepted.
const PATH_PREFIX_CHARS_MAX: usize = 256;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct JournalQuery {
    /// Only calls to this provider.
    pub provider: Option<MockProvider>,
    /// Only calls whose path starts with this, e.g. `/mock/wechat/sns/`; at most 256 characters.
    #[param(example = "/mock/wechat/sns/")]
    pub path_prefix: Option<String>,
    /// Only calls at or after this time (business clock), RFC 3339.
    #[param(example = "2026-03-01T09:30:00Z")]
    pub since: Option<DateTime<Utc>>,
    /// Items per page: 1 to 200, 50 if not given; other values are refused
    /// (`VALIDATION_FAILED` naming `limit`).
    #[param(minimum = 1, maximum = 200, default = 50, example = 50)]
    pub limit: Option<usize>,
    /// The previous page's `next_cursor`, passed back unchanged; opaque. One
    /// this list did not issue is refused (`VALIDATION_FAILED` naming `cursor`).
    #[param(min_length = 1, example = "7764733a77645f30313936")]
    pub cursor: Option<String>,
}

/// A page of the journal.
#[derive(Debug, Serialize, ToSchema)]
pub struct JournalPage {
    pub items: Vec<MockCall>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(example = json!(null))]
    pub next_cursor: Option<String>,
}

/// The request journal
///
/// Every call to a mock provider, newest first: over HTTP (`transport`
/// `http`) and in-process (`in_process`: the built-in WeChat client, the
/// worker's payouts, SMS sends), with the request and the answer (secrets
/// masked, bodies cut at `simulator.journal_body_bytes_max`), the latency,
/// the business time and the rule that decided it (`matched_rule`). Kept in
/// the store, shared by every gateway on it, the newest
/// `simulator.journal_keep`. One page looks at no more than 2000 calls: a
/// narrow filter may get a short (even empty) page with a `next_cursor`.
/// No token needed (the simulator only).
#[utoipa::path(
    get,
    path = "/mock/requests",
    operation_id = "mock_requests",
    tag = "mock",
    params(JournalQuery),
    responses(
        (status = 200, description = "A page of calls.", body = JournalPage),
        (status = 400, description = "`VALIDATION_FAILED` (`details.field`): an unknown `provider`, a \
            `path_prefix` not starting with `/` or over 256 characters, a `since` that is not RFC 3339, a bad \
            `limit` or `cursor`, an unknown query parameter.", body = ErrorBody),
        StoreUnavailable,
    )
)]
pub async fn list(
    journal: web::Data<RequestJournal>,
    ApiQuery(query): ApiQuery<JournalQuery>,
) -> Result<HttpResponse, ApiError> {
    if let Some(prefix) = &query.path_prefix
        && (!prefix.starts_with('/') || prefix.chars().count() > PATH_PREFIX_CHARS_MAX)
    {
        return Err(ApiError::validation("path_prefix", "must start with / and be at most 256 characters"));
    }
    let page = PageRequest::<u64>::read(query.limit, query.cursor.as_deref(), List::MockRequests)?;
    let filter = JournalFilter { provider: query.provider, path_prefix: query.path_prefix, since: query.since };
    let scanned = journal.scan(&filter, page.after, page.read_ahead()).await?;
    let (items, next_cursor) = page.page_scanned(scanned.calls, |call| call.seq, scanned.stopped_at);
    Ok(HttpResponse::Ok().json(JournalPage { items, next_cursor }))
}

/// Clear the request journal
///
/// Drops every recorded call, for every gateway on the store. Positions
/// (`seq`) go on counting, so a cursor from before the clear reads nothing.
#[utoipa::path(
    delete,
    path = "/mock/requests",
    operation_id = "mock_clear_requests",
    tag = "mock",
    responses(
        (status = 204, description = "Cleared."),
        StoreUnavailable,
    )
)]
pub async fn clear(journal: web::Data<RequestJournal>) -> Result<HttpResponse, ApiError> {
    journal.clear().await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The request body as the handler read it, up to a bound.
#[derive(Debug, Default)]
struct Captured {
    bytes: Vec<u8>,
    over: bool,
}

/// Journals an HTTP call to a mock provider: the request (its body copied
/// as the handler reads it, up to `capture_bytes_max`: a larger one is
/// refused by the handler and kept as no body), the answer, and the rule
/// noted meanwhile. Other requests pass untouched.
pub async fn record_http_calls(
    journal: RequestJournal,
    capture_bytes_max: usize,
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, Error> {
    let provider = MockProvider::of_http_path(request.path()).filter(|_| journal.is_on());
    let Some(provider) = provider else {
        return next.call(request).await.map(ServiceResponse::map_into_boxed_body);
    };
    let mut start = journal.start(provider, Transport::Http, request.method().as_str(), request.path());
    start.query = Some(request.query_string().to_owned()).filter(|query| !query.is_empty());
    let captured = Rc::new(RefCell::new(Captured::default()));
    if let payload @ (Payload::H1 { .. } | Payload::H2 { .. } | Payload::Stream { .. }) = request.take_payload() {
        // Copied as it streams by: the handler's limits and deadlines stay as they are.
        let copy = captured.clone();
        let teed = payload.inspect(move |chunk| {
            let mut copy = copy.borrow_mut();
            match chunk {
                Ok(bytes) if copy.bytes.len() + bytes.len() <= capture_bytes_max => copy.bytes.extend_from_slice(bytes),
                Ok(_) => copy.over = true,
                Err(_) => {}
            }
        });
        let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(teed);
        request.set_payload(Payload::from(stream));
    }
    let (answered, notes) = with_call_notes(next.call(request)).await;
    let captured = captured.take();
    start.body_too_large = captured.over;
    start.body = (!captured.over).then_some(captured.bytes);
    let response = match answered {
        Ok(response) => response,
        Err(error) => {
            let status = error.as_response_error().status_code().as_u16();
            journal.finish(start, CallAnswer::status(status), notes).await;
            return Err(error);
        }
    };
    let (request, response) = response.into_parts();
    let (response, body) = response.into_parts();
    let (kept, body) = match body.try_into_bytes() {
        Ok(bytes) => (Some(bytes.to_vec()), BoxBody::new(bytes)),
        Err(streamed) => (None, BoxBody::new(streamed)),
    };
    let answer = CallAnswer { status: Some(response.status().as_u16()), body: kept, fault: None };
    journal.finish(start, answer, notes).await;
    Ok(ServiceResponse::new(request, response.set_body(body)))
}
