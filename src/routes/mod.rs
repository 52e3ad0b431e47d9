//! Thin HTTP handlers, one file per resource: request DTO in, one service
//! call, response DTO out. The route table itself lives in `startup.rs`.

pub mod auth;
pub mod bindings;
pub mod docs;
pub mod events;
pub mod extract;
pub mod html;
pub mod identity;
pub mod kyc;
pub mod me;
pub mod mock_alipay;
pub mod mock_journal;
pub mod mock_sms;
pub mod mock_wechat;
pub mod ops;
pub mod ops_search;
pub mod pagination;
pub mod pin;
pub mod responses;
pub mod review;
pub mod sim;
pub mod sim_clock;
pub mod sim_rules;
pub mod system;
pub mod transfers;
pub mod views;
pub mod web;
pub mod wechat_pay_notify;
pub mod withdrawals;

use actix_web::dev::ResourceDef;
use actix_web::{HttpRequest, HttpResponse};

use crate::error::ApiError;

/// The route table's paths with the methods each takes, so that a request
/// for a path the service has, with another method, is told which methods
/// it takes (405 and `Allow`) instead of "not found".
#[derive(Debug)]
pub struct KnownRoutes(Vec<KnownPath>);

#[derive(Debug)]
struct KnownPath {
    pattern: ResourceDef,
    /// No `{…}` segment: it wins over templated paths, as in OpenAPI (and
    /// in the table, where a literal path is listed before the template it
    /// would also match).
    literal: bool,
    methods: Vec<&'static str>,
}

impl KnownRoutes {
    /// From `(method, path)` pairs such as `startup::ROUTE_TABLE`'s.
    pub fn new<'a>(table: impl IntoIterator<Item = &'a (&'static str, &'static str)>) -> KnownRoutes {
        let mut paths: Vec<(&'static str, Vec<&'static str>)> = Vec::new();
        for &(method, path) in table {
            match paths.iter_mut().find(|(known, _)| *known == path) {
                Some((_, methods)) => methods.push(method),
                None => paths.push((path, vec![method])),
            }
        }
        let known = paths.into_iter().map(|(path, methods)| KnownPath {
            pattern: ResourceDef::new(path),
            literal: !path.contains('{'),
            methods,
        });
        KnownRoutes(known.collect())
    }

    /// The methods the route table serves at `path` (a literal path's own,
    /// if one matches); empty if no path matches.
    pub fn methods_at(&self, path: &str) -> Vec<&'static str> {
        let matching: Vec<&KnownPath> = self.0.iter().filter(|known| known.pattern.is_match(path)).collect();
        let literal = matching.iter().any(|known| known.literal);
        matching.into_iter().filter(|known| known.literal == literal).flat_map(|known| known.methods.clone()).collect()
    }
}

/// Answers any request no route matched, in the catalogue's shape: 405
/// `METHOD_NOT_ALLOWED` (with `Allow`) for a known path and another method,
/// 404 `NOT_FOUND` otherwise.
pub async fn not_found(
    request: HttpRequest,
    known: Option<actix_web::web::Data<KnownRoutes>>,
) -> Result<HttpResponse, ApiError> {
    let allowed = known.map(|known| known.methods_at(request.path())).unwrap_or_default();
    if allowed.is_empty() {
        Err(ApiError::NotFound { resource: "route" })
    } else {
        Err(ApiError::MethodNotAllowed { allowed })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_paths_list_their_methods() {
        let table = [("GET", "/v1/bindings/{id}"), ("DELETE", "/v1/bindings/{id}"), ("POST", "/v1/bindings/wechat")];
        let known = KnownRoutes::new(&table);
        assert_eq!(known.methods_at("/v1/bindings/bnd_1"), ["GET", "DELETE"]);
        assert_eq!(known.methods_at("/v1/bindings/wechat"), ["POST"]);
        assert!(known.methods_at("/v1/bindings/bnd_1/more").is_empty());
        assert!(known.methods_at("/v1/nothing").is_empty());
    }
}
