//! Limits at the HTTP edge, checked before any handler runs: how long a
//! request body may take to arrive (actix bounds only the head), how long a
//! URL and how large a request head may be, how many connections each
//! worker keeps open (below the open-file limit), and the catalogue's JSON body
//! for the errors actix raises by itself (a body over a route's limit, a body
//! that cannot be read), which would otherwise go out as plain text.
//!
//! What actix-http's HTTP/1 parser refuses before the application sees a
//! request — a head over its fixed 128 KiB buffer or with more than 96
//! headers (431), a control character in a header or a URL beyond 64 KiB
//! (400), a head that takes longer than `request_head_timeout_secs` (408) —
//! it answers itself with an empty body; no hook of actix-http 3 reaches
//! those answers, so the limits here are set below the parser's to catch
//! every head it lets through.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::ConnectionType;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{Error, HttpMessage, ResponseError};
use futures_util::Stream;
use tokio::time::Sleep;

use crate::error::ApiError;
use crate::settings::ServerSettings;

/// What `guard` enforces, from `ServerSettings` (validated there).
#[derive(Debug, Clone, Copy)]
pub struct EdgeLimits {
    /// From the end of the head to the last byte of the body.
    pub body_timeout: Duration,
    /// Path and query string, in bytes.
    pub uri_bytes_max: usize,
    /// Header names and values, in bytes, as `name: value\r\n` lines.
    pub head_bytes_max: usize,
    /// The largest body any route takes, named in a 413 actix raised.
    pub body_bytes_max: usize,
}

impl EdgeLimits {
    pub fn from_settings(settings: &ServerSettings) -> EdgeLimits {
        EdgeLimits {
            body_timeout: Duration::from_secs(settings.request_body_timeout_secs),
            uri_bytes_max: settings.uri_bytes_max,
            head_bytes_max: settings.head_bytes_max,
            body_bytes_max: settings.json_body_bytes_max,
        }
    }
}

/// The middleware (wrapped with `from_fn`, inside the request logger so that
/// what it answers is logged and counted like any other answer).
pub async fn guard(
    limits: EdgeLimits,
    mut request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, Error> {
    if let Some(refusal) = oversized_head(&limits, &request) {
        return Ok(answer(request, &refusal, true));
    }
    // Only requests with a body are watched: most requests are GETs, and
    // they pay nothing for this.
    let expired = match request.take_payload() {
        Payload::None => None,
        payload => {
            let expired = Rc::new(Cell::new(false));
            let watched = BodyDeadline {
                inner: payload,
                deadline: Box::pin(tokio::time::sleep(limits.body_timeout)),
                expired: expired.clone(),
                done: false,
            };
            let stream: Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>> = Box::pin(watched);
            request.set_payload(Payload::from(stream));
            Some(expired)
        }
    };
    let response = next.call(request).await?;
    if expired.is_some_and(|expired| expired.get()) {
        let secs = limits.body_timeout.as_secs();
        let (request, _) = response.into_parts();
        return Ok(answer_request(request, &ApiError::RequestTimeout { secs }, true));
    }
    let foreign =
        response.response().error().filter(|error| error.as_error::<ApiError>().is_none()).map(|error| {
            ApiError::from_framework(error.as_response_error().status_code(), error, limits.body_bytes_max)
        });
    match foreign {
        Some(error) => {
            let (request, _) = response.into_parts();
            Ok(answer_request(request, &error, false))
        }
        None => Ok(response.map_into_left_body()),
    }
}

/// A URL or a head larger than the limits (both below what actix-http's parser takes).
fn oversized_head(limits: &EdgeLimits, request: &ServiceRequest) -> Option<ApiError> {
    let uri_bytes = request.uri().path_and_query().map_or(0, |target| target.as_str().len());
    if uri_bytes > limits.uri_bytes_max {
        return Some(ApiError::UriTooLong { bytes_max: limits.uri_bytes_max });
    }
    let mut head_bytes = 0;
    for (name, value) in request.headers() {
        head_bytes += name.as_str().len() + value.len() + 4;
        if head_bytes > limits.head_bytes_max {
            return Some(ApiError::HeadersTooLarge { bytes_max: limits.head_bytes_max });
        }
    }
    None
}

fn answer<B>(request: ServiceRequest, error: &ApiError, close: bool) -> ServiceResponse<EitherBody<B>> {
    let (request, _) = request.into_parts();
    answer_request(request, error, close)
}

/// `error` in the catalogue's shape; `close` when the rest of the request
/// may still be on its way, so the connection cannot carry another one.
fn answer_request<B>(request: actix_web::HttpRequest, error: &ApiError, close: bool) -> ServiceResponse<EitherBody<B>> {
    let mut response = error.error_response();
    if close {
        response.head_mut().set_connection_type(ConnectionType::Close);
    }
    ServiceResponse::new(request, response).map_into_right_body()
}

/// A request body that fails its next read once `deadline` has passed with
/// the body still incomplete; `expired` tells the middleware so, whatever
/// the reader made of the failed read.
struct BodyDeadline {
    inner: Payload,
    deadline: Pin<Box<Sleep>>,
    expired: Rc<Cell<bool>>,
    done: bool,
}

impl Stream for BodyDeadline {
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut this.inner).poll_next(cx) {
            Poll::Ready(None) => {
                this.done = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(chunk)) => Poll::Ready(Some(chunk)),
            // Checked only while waiting: a body that keeps arriving is
            // bounded by the readers' size limits, one that stalls by this.
            Poll::Pending => match this.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    this.done = true;
                    this.expired.set(true);
                    let timed_out = std::io::Error::new(std::io::ErrorKind::TimedOut, "request body timed out");
                    Poll::Ready(Some(Err(PayloadError::Io(timed_out))))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

/// actix caps connections per worker; the setting is for the whole process,
/// where open files run out. Each connection is one descriptor.
pub fn connections_per_worker(connections_max: usize, workers: usize) -> usize {
    let total = match connections_max {
        0 => open_files_max().map_or(CONNECTIONS_MAX_FALLBACK, |limit| limit / 4 * 3),
        configured => configured,
    };
    (total / workers.max(1)).max(1)
}

/// When the open-file limit cannot be read (or is unlimited).
const CONNECTIONS_MAX_FALLBACK: usize = 25_000;

/// The process's soft limit on open files, if it has one.
fn open_files_max() -> Option<usize> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit only writes the struct it is given, which lives for the call.
    let read = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) };
    (read == 0 && limit.rlim_cur != libc::RLIM_INFINITY).then(|| usize::try_from(limit.rlim_cur).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::test::TestRequest;

    fn limits() -> EdgeLimits {
        EdgeLimits {
            body_timeout: Duration::from_secs(1),
            uri_bytes_max: 64,
            head_bytes_max: 128,
            body_bytes_max: 1024,
        }
    }

    #[test]
    fn the_connection_cap_is_shared_by_the_workers() {
        assert_eq!(connections_per_worker(1000, 4), 250);
        assert_eq!(connections_per_worker(3, 4), 1);
        assert_eq!(connections_per_worker(10, 0), 10);
        let derived = connections_per_worker(0, 1);
        assert!(derived >= 1 && open_files_max().is_none_or(|limit| derived < limit), "{derived}");
    }

    #[test]
    fn long_urls_and_large_heads_are_refused_within_limits_they_pass() {
        let fits = TestRequest::get().uri(&format!("/v1/x?q={}", "a".repeat(50))).to_srv_request();
        assert!(oversized_head(&limits(), &fits).is_none());
        let long = TestRequest::get().uri(&format!("/v1/x?q={}", "a".repeat(60))).to_srv_request();
        assert!(matches!(oversized_head(&limits(), &long), Some(ApiError::UriTooLong { bytes_max: 64 })));
        let large = TestRequest::get().insert_header(("x-filler", "b".repeat(130))).to_srv_request();
        assert!(matches!(oversized_head(&limits(), &large), Some(ApiError::HeadersTooLarge { bytes_max: 128 })));
    }
}
