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
            .map_err(|e| {
                metrics::record_request("", "grpc", "authenticate", Some("Unauthenticated"));
                Status::unauthenticated(e.to_string())
            })?;
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
    /// `x-request-id` when it is a plausible id (see [`request_id`]), or
    /// a fresh UUID.
    pub request_id: String,
    /// From the W3C `traceparent`; empty when absent.
    pub trace_id: String,
    /// The caller's span from the `traceparent`; empty when absent.
    pub span_id: String,
    /// `x-correlation-id` when it is a UUID.
    pub correlation_id: Option<Uuid>,
    /// The peer address as the server saw it.
    pub address: String,
}

impl RequestMeta {
    pub fn of<T>(request: &Request<T>) -> Self {
        Self {
            request_id: request_id(header(request, "x-request-id").as_deref()),
            trace_id: header(request, "traceparent")
                .and_then(|tp| trace_id_of(&tp))
                .unwrap_or_default(),
            span_id: header(request, "traceparent")
                .and_then(|tp| parent_span_of(&tp))
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

/// Longest client-chosen request id kept; it goes into every event and
/// access record the request causes.
pub const MAX_REQUEST_ID: usize = 128;

/// The client's request id when it is 1–128 visible ASCII characters;
/// otherwise (absent, too long, spaces or control characters, anything a
/// log line or an auditor's screen could be fooled by) a fresh UUID.
pub fn request_id(client: Option<&str>) -> String {
    match client {
        Some(id)
            if !id.is_empty()
                && id.len() <= MAX_REQUEST_ID
                && id.bytes().all(|b| b.is_ascii_graphic()) =>
        {
            id.to_owned()
        }
        _ => Uuid::new_v4().to_string(),
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

/// The parent span id of a W3C `traceparent`.
pub fn parent_span_of(traceparent: &str) -> Option<String> {
    let span_id = traceparent.split('-').nth(2)?;
    (span_id.len() == 16 && span_id.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| span_id.to_ascii_lowercase())
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
    fn a_client_request_id_is_kept_only_when_it_is_a_plain_short_id() {
        assert_eq!(request_id(Some("req-42")), "req-42");
        let long = "x".repeat(MAX_REQUEST_ID);
        assert_eq!(request_id(Some(&long)), long);
        for bad in [
            None,
            Some(""),
            Some("has space"),
            Some("tab\there"),
            Some("é"),
        ] {
            let got = request_id(bad);
            assert!(Uuid::parse_str(&got).is_ok(), "{bad:?} kept as {got}");
        }
        let too_long = "x".repeat(MAX_REQUEST_ID + 1);
        assert!(Uuid::parse_str(&request_id(Some(&too_long))).is_ok());
    }

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

/// W3C trace context across gRPC: the server side continues the caller's
/// trace, the client side sends its own.
pub mod tracing_context {
    use opentelemetry::propagation::{Extractor, Injector};
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    struct HeaderExtractor<'a>(&'a http::HeaderMap);

    impl Extractor for HeaderExtractor<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|v| v.to_str().ok())
        }
        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(http::HeaderName::as_str).collect()
        }
    }

    struct MetadataInjector<'a>(&'a mut tonic::metadata::MetadataMap);

    impl Injector for MetadataInjector<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(key), Ok(value)) = (
                tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
                value.parse(),
            ) {
                self.0.insert(key, value);
            }
        }
    }

    /// Sets `span`'s parent to the trace context in `headers`, if any.
    pub fn continue_from(headers: &http::HeaderMap, span: &tracing::Span) {
        let parent = opentelemetry::global::get_text_map_propagator(|p| {
            p.extract(&HeaderExtractor(headers))
        });
        let _ = span.set_parent(parent);
    }

    /// The server span of one gRPC request, child of the caller's trace.
    /// For `tonic::transport::Server::trace_fn`. Named as OpenTelemetry's
    /// RPC conventions ask (`package.Service/Method`, as the client span
    /// is), with `rpc.service`, `rpc.method` and the `server.address` the
    /// client called; a path or authority that is not one of those shapes
    /// (anyone can send one) is not copied into the span.
    pub fn server_span(request: &http::Request<()>) -> tracing::Span {
        let (service, method) = rpc_of(request.uri().path()).unwrap_or(("unknown", "unknown"));
        let authority = request.uri().authority();
        let address = authority
            .map(|a| a.host())
            .filter(|h| is_plain(h, b".-:[]"))
            .unwrap_or_default();
        let port = authority.and_then(|a| a.port_u16()).map(i64::from);
        let span = tracing::info_span!(
            "grpc.server",
            otel.name = %format!("{service}/{method}"),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = %service,
            rpc.method = %method,
            server.address = %address,
            server.port = tracing::field::Empty,
            rpc.grpc.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        if let Some(port) = port {
            span.record("server.port", port);
        }
        continue_from(request.headers(), &span);
        span
    }

    /// `/package.Service/Method` as (`package.Service`, `Method`), when it
    /// has that shape.
    fn rpc_of(path: &str) -> Option<(&str, &str)> {
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        (is_plain(service, b"._") && is_plain(method, b"_")).then_some((service, method))
    }

    fn is_plain(text: &str, also: &[u8]) -> bool {
        !text.is_empty()
            && text.len() <= 128
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || also.contains(&b))
    }

    /// The current span's trace and span ids (hex), when it is traced.
    pub fn current_ids() -> Option<(String, String)> {
        use opentelemetry::trace::TraceContextExt;
        let context = tracing::Span::current().context();
        let span = context.span();
        let ids = span.span_context();
        ids.is_valid()
            .then(|| (ids.trace_id().to_string(), ids.span_id().to_string()))
    }

    /// Client interceptor step: puts the current span's context into the
    /// outgoing metadata as `traceparent`.
    pub fn inject_current(metadata: &mut tonic::metadata::MetadataMap) {
        let context = tracing::Span::current().context();
        opentelemetry::global::get_text_map_propagator(|p| {
            p.inject_context(&context, &mut MetadataInjector(metadata));
        });
    }

    #[cfg(test)]
    mod tests {
        use super::rpc_of;

        #[test]
        fn only_rpc_shaped_paths_name_a_span() {
            assert_eq!(
                rpc_of("/trellis.plans.v1.PlanService/AddGoal"),
                Some(("trellis.plans.v1.PlanService", "AddGoal"))
            );
            assert_eq!(rpc_of("/x/y/z"), None);
            assert_eq!(rpc_of("/a b/c"), None);
            assert_eq!(rpc_of(&format!("/{}/M", "s".repeat(200))), None);
        }
    }
}

/// The gateway's calls to the plans service on behalf of a GraphQL
/// request: counted once, as the GraphQL request, not again as gRPC.
/// The same layer notes when each call started, for its duration.
pub mod hop {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    /// The metadata key an internal hop carries. It only keeps the call
    /// out of the request counters: spans, access logs and limits are
    /// the same either way.
    pub const HEADER: &str = "x-trellis-hop";

    tokio::task_local! {
        static HOP: bool;
        static STARTED: std::time::Instant;
    }

    /// Whether the gRPC call being served is an internal hop.
    pub fn is_hop() -> bool {
        HOP.try_with(|hop| *hop).unwrap_or(false)
    }

    /// When the gRPC call being served arrived.
    pub fn started() -> Option<std::time::Instant> {
        STARTED.try_with(|at| *at).ok()
    }

    /// Marks each served call as a hop or not, for `is_hop`.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct HopLayer;

    impl<S> tower::Layer<S> for HopLayer {
        type Service = HopService<S>;
        fn layer(&self, inner: S) -> Self::Service {
            HopService(inner)
        }
    }

    #[derive(Debug, Clone)]
    pub struct HopService<S>(S);

    impl<S, B> tower::Service<http::Request<B>> for HopService<S>
    where
        S: tower::Service<http::Request<B>>,
        S::Future: Send + 'static,
    {
        type Response = S::Response;
        type Error = S::Error;
        type Future = Pin<Box<dyn Future<Output = Result<S::Response, S::Error>> + Send>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.0.poll_ready(cx)
        }

        fn call(&mut self, request: http::Request<B>) -> Self::Future {
            let hop = request.headers().contains_key(HEADER);
            let call = self.0.call(request);
            Box::pin(HOP.scope(hop, STARTED.scope(std::time::Instant::now(), call)))
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[tokio::test]
        async fn a_call_is_a_hop_only_inside_its_scope() {
            assert!(!is_hop());
            assert!(HOP.scope(true, async { is_hop() }).await);
            assert!(!HOP.scope(false, async { is_hop() }).await);
        }
    }
}

/// Request and error counters every API shares, and the request
/// durations OpenTelemetry's conventions name.
pub mod metrics {
    use std::sync::OnceLock;
    use std::time::Duration;

    use opentelemetry::KeyValue;
    use opentelemetry::metrics::{Counter, Histogram};

    /// Bucket bounds, in seconds, of every latency histogram: 100 µs to
    /// 10 s, so a collector's p50 and p99 fall within a bucket of what a
    /// benchmark measures. The SDK's default bounds are milliseconds-sized
    /// (0, 5, 10 … 10000) and every observation here would fall in the
    /// first bucket.
    pub const LATENCY_BOUNDS_S: [f64; 16] = [
        0.000_1, 0.000_2, 0.000_5, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0,
        5.0, 10.0,
    ];

    struct Instruments {
        requests: Counter<u64>,
        errors: Counter<u64>,
        rpc_duration: Histogram<f64>,
        http_duration: Histogram<f64>,
    }

    fn instruments() -> &'static Instruments {
        static INSTRUMENTS: OnceLock<Instruments> = OnceLock::new();
        INSTRUMENTS.get_or_init(|| {
            let meter = opentelemetry::global::meter("trellis");
            Instruments {
                requests: meter
                    .u64_counter("trellis.requests")
                    .with_description("Requests by tenant, API and operation")
                    .build(),
                errors: meter
                    .u64_counter("trellis.errors")
                    .with_description("Failed requests by API and error code")
                    .build(),
                rpc_duration: meter
                    .f64_histogram("rpc.server.call.duration")
                    .with_unit("s")
                    .with_description("Duration of gRPC calls served, by method and status")
                    .with_boundaries(LATENCY_BOUNDS_S.to_vec())
                    .build(),
                http_duration: meter
                    .f64_histogram("http.server.request.duration")
                    .with_unit("s")
                    .with_description("Duration of HTTP requests served, by route and status")
                    .with_boundaries(LATENCY_BOUNDS_S.to_vec())
                    .build(),
            }
        })
    }

    /// Counts one request and, when `error_code` is set, its failure.
    /// Labels are identifiers only: tenant id, API, operation, code.
    pub fn record_request(
        tenant: &str,
        api: &'static str,
        operation: &str,
        error_code: Option<&str>,
    ) {
        // One count per request per API: a GraphQL request's call to the
        // plans service was counted as the GraphQL request.
        if api == "grpc" && super::hop::is_hop() {
            return;
        }
        let i = instruments();
        i.requests.add(
            1,
            &[
                KeyValue::new("tenant", tenant.to_owned()),
                KeyValue::new("api", api),
                KeyValue::new("operation", operation.to_owned()),
            ],
        );
        if let Some(code) = error_code {
            i.errors.add(
                1,
                &[
                    KeyValue::new("api", api),
                    KeyValue::new("code", code.to_owned()),
                    KeyValue::new("operation", operation.to_owned()),
                ],
            );
        }
    }

    /// One gRPC call served: `method` from our own closed set (the
    /// handler's name), never the path a client sent.
    pub fn record_rpc(method: &str, status: tonic::Code, took: Duration) {
        instruments().rpc_duration.record(
            took.as_secs_f64(),
            &[
                KeyValue::new("rpc.system", "grpc"),
                KeyValue::new("rpc.method", method.to_owned()),
                KeyValue::new("rpc.grpc.status_code", status as i64),
            ],
        );
    }

    /// One HTTP request served: `route` is the matched route's template
    /// (`/fhir/r4/CarePlan/{id}`), a closed set.
    pub fn record_http(method: &str, route: &str, status: u16, took: Duration) {
        instruments().http_duration.record(
            took.as_secs_f64(),
            &[
                KeyValue::new("http.request.method", method.to_owned()),
                KeyValue::new("http.route", route.to_owned()),
                KeyValue::new("http.response.status_code", i64::from(status)),
            ],
        );
    }
}

/// Counts a gRPC call's outcome under `operation`, measures its duration
/// (from when the hop layer saw it arrive), puts its status code on the
/// server span, and passes it through.
pub fn observed<T>(tenant: &str, operation: &str, result: Result<T, Status>) -> Result<T, Status> {
    let code = result.as_ref().err().map(|s| format!("{:?}", s.code()));
    metrics::record_request(tenant, "grpc", operation, code.as_deref());
    let status = result.as_ref().err().map_or(tonic::Code::Ok, Status::code);
    // A hop's time is inside the GraphQL request that made it.
    if let (false, Some(started)) = (hop::is_hop(), hop::started()) {
        metrics::record_rpc(operation, status, started.elapsed());
    }
    let span = tracing::Span::current();
    span.record("rpc.grpc.status_code", status as i64);
    if is_server_error(status) {
        span.record("otel.status_code", "ERROR");
    }
    result
}

/// The codes that mark a gRPC server span as failed, per OpenTelemetry's
/// conventions; the rest are the client's to fix (the span keeps an unset
/// status and carries the code).
fn is_server_error(code: tonic::Code) -> bool {
    matches!(
        code,
        tonic::Code::Unknown
            | tonic::Code::DeadlineExceeded
            | tonic::Code::Unimplemented
            | tonic::Code::Internal
            | tonic::Code::Unavailable
            | tonic::Code::DataLoss
    )
}
