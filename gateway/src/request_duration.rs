//! `http.server.request.duration` for every route the gateway serves
//! (GraphQL, the console, FHIR), labelled by the matched route's template
//! — a closed set — never by the path a client sent.

use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use trellis_grpc_edge::metrics::record_http;

/// The method as OpenTelemetry's HTTP conventions name it: a standard
/// one, or `_OTHER` (anyone can send any token as a method).
fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::PATCH => "PATCH",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "_OTHER",
    }
}

/// Route-layer middleware: times the request and records it on the way out.
pub(crate) async fn record(route: MatchedPath, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = method_label(request.method());
    let response = next.run(request).await;
    record_http(
        method,
        route.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_methods_are_one_label() {
        assert_eq!(method_label(&Method::POST), "POST");
        let made_up = Method::from_bytes(b"BREW").unwrap();
        assert_eq!(method_label(&made_up), "_OTHER");
    }
}
