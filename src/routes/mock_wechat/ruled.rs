//! How the mock WeChat's endpoints answer once the simulator's rules had
//! their say (`providers::sim::Ruled`): the mock's own answer, a rule's HTTP
//! error in the endpoint's error shape, or a connection that breaks as the
//! rule's fault says; the rule (or magic amount) that shaped the answer is
//! named in the `x-walletgate-sim-rule` header.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::web;

use crate::providers::journal::note_fault;
use crate::providers::sim::rules::TIMEOUT_FAULT_MS;
use crate::providers::sim::{Answer, Fault, Ruled};

/// The answer's header naming the simulator rule (or magic amount) that shaped it.
pub const SIM_RULE_HEADER: &str = "x-walletgate-sim-rule";

/// The HTTP answer to a ruled call: `normal` renders the mock's own answer,
/// `error` a rule's error answer (status, code, message) in the endpoint's
/// shape.
pub async fn answer<T>(
    ruled: Ruled<T>,
    error: impl FnOnce(StatusCode, &str, &str) -> HttpResponse,
    normal: impl FnOnce(T) -> HttpResponse,
) -> HttpResponse {
    let mut response = match ruled.answer {
        Answer::Normal(value) => normal(value),
        Answer::Error { status, code, message } => {
            error(StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), &code, &message)
        }
        Answer::Broken(fault) => broken(fault).await,
    };
    if let Some(rule) = ruled.rule.and_then(|rule| HeaderValue::from_str(&rule).ok()) {
        response.headers_mut().insert(HeaderName::from_static(SIM_RULE_HEADER), rule);
    }
    response
}

/// A connection that breaks as `fault` says. A reset is a body that fails
/// before its first byte, on which the server drops the connection; a
/// timeout holds it first for longer than a caller waits.
async fn broken(fault: Fault) -> HttpResponse {
    // The journal records the fault, and no answer when none reaches the caller.
    note_fault(fault.as_str(), matches!(fault, Fault::MalformedBody | Fault::EmptyResponse));
    let dropped = || {
        let failing = futures_util::stream::once(async {
            Err::<web::Bytes, std::io::Error>(std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "simulated fault",
            ))
        });
        HttpResponse::Ok().content_type("application/json").streaming(failing)
    };
    match fault {
        Fault::Timeout => {
            tokio::time::sleep(std::time::Duration::from_millis(TIMEOUT_FAULT_MS)).await;
            dropped()
        }
        Fault::ConnectionReset => dropped(),
        Fault::MalformedBody => HttpResponse::Ok().content_type("application/json").body("{\"errcode\": \"12"),
        Fault::EmptyResponse => HttpResponse::Ok().content_type("application/json").finish(),
    }
}
