//! Shared gRPC edge: bearer authentication, request metadata, and
//! `INVALID_ARGUMENT` with field violations.
//!
//! Architecture invariant: transport only; knows no domain or store.

use std::sync::Arc;

use tonic::{Code, Request, Status};
use tonic_types::{ErrorDetails, StatusExt};
use trellis_auth::{AuthError, Caller, TokenVerifier};
use uuid::Uuid;

/// Turns the bearer token into a [`Caller`] in the request extensions, or
/// answers `UNAUTHENTICATED` before the service sees the request.
#[derive(Debug, Clone)]
pub struct Authenticate {
    verifier: Arc<TokenVerifier>,
}

impl Authenticate {
    pub fn new(verifier: Arc<TokenVerifier>) -> Self {
        Self { verifier }
    }
}

impl tonic::service::Interceptor for Authenticate {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let caller = request
            .metadata()
            .get("authorization")
            .map(|v| v.to_str().map_err(|_| AuthError::NotBearer))
            .transpose()
            .and_then(|h| self.verifier.verify_header(h))
            .map_err(|e| Status::unauthenticated(e.to_string()))?;
        request.extensions_mut().insert(caller);
        Ok(request)
    }
}

/// The caller the interceptor authenticated.
pub fn caller<T>(request: &Request<T>) -> Result<Caller, Status> {
    request
        .extensions()
        .get::<Caller>()
        .cloned()
        .ok_or_else(|| Status::unauthenticated("missing bearer token"))
}

/// Facts about a request that go into events and the access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMeta {
    /// `x-request-id`, or a fresh UUID.
    pub request_id: String,
    /// From the W3C `traceparent`; empty when absent.
    pub trace_id: String,
    /// `x-correlation-id` when it is a UUID.
    pub correlation_id: Option<Uuid>,
    /// The peer address as the server saw it.
    pub address: String,
}

impl RequestMeta {
    pub fn of<T>(request: &Request<T>) -> Self {
        Self {
            request_id: header(request, "x-request-id")
                .unwrap_or_else(|| Uuid::new_v4().to_string()),
            trace_id: header(request, "traceparent")
                .and_then(|tp| trace_id_of(&tp))
                .unwrap_or_default(),
            correlation_id: header(request, "x-correlation-id")
                .and_then(|c| Uuid::parse_str(&c).ok()),
            address: request
                .remote_addr()
                .map(|a| a.to_string())
                .unwrap_or_default(),
        }
    }
}

fn header<T>(request: &Request<T>, name: &str) -> Option<String> {
    request
        .metadata()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// The trace id of a W3C `traceparent` (`00-<32 hex>-<16 hex>-<2 hex>`).
pub fn trace_id_of(traceparent: &str) -> Option<String> {
    let mut parts = traceparent.split('-');
    let (_version, trace_id) = (parts.next()?, parts.next()?);
    (trace_id.len() == 32 && trace_id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| trace_id.to_ascii_lowercase())
}

/// `INVALID_ARGUMENT` carrying a `BadRequest` with one violation per field.
pub fn invalid_argument<'a>(
    message: &str,
    violations: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Status {
    let mut details = ErrorDetails::new();
    for (field, description) in violations {
        details.add_bad_request_violation(field, description);
    }
    Status::with_error_details(Code::InvalidArgument, message, details)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_ids_come_from_traceparent() {
        assert_eq!(
            trace_id_of("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01").as_deref(),
            Some("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(trace_id_of("garbage"), None);
    }

    #[test]
    fn field_violations_travel_in_the_status() {
        let status = invalid_argument("bad", [("plan_id", "must be a UUID")]);
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let violations = &details.bad_request().expect("bad request").field_violations;
        assert_eq!(violations[0].field, "plan_id");
    }
}
