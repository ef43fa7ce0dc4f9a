//! `/graphql` over HTTP: authentication at the edge, then the schema.

use std::sync::Arc;

use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse};
use axum::extract::WebSocketUpgrade;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::limit::RequestBodyLimitLayer;
use trellis_auth::TokenVerifier;

use tracing::Instrument;
use trellis_grpc_edge::metrics::record_request;
use trellis_grpc_edge::tracing_context::continue_from;

use crate::edge::EdgeConfig;
use crate::error::ErrorCode;
use crate::mobile::{QueryCache, RateLimiter};
use crate::plans_client::BearerToken;
use crate::{RequestMeta, TrellisSchema};

/// Largest GraphQL request body accepted.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct GatewayConfig {
    /// Serve GraphiQL on `GET /graphql` (development).
    pub graphiql: bool,
    /// Automatic persisted queries.
    pub queries: Arc<dyn QueryCache>,
    /// The per-tenant request budget.
    pub limiter: Arc<dyn RateLimiter>,
    /// Introspection policy, trusted proxies, WebSocket limits.
    pub edge: EdgeConfig,
    /// The browser console under `/console`.
    pub console: crate::console::ConsoleConfig,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("graphiql", &self.graphiql)
            .field("edge", &self.edge)
            .finish_non_exhaustive()
    }
}

/// An error answered before GraphQL runs (authentication, rate limit,
/// persisted queries), in the shape GraphQL errors have.
fn error_body(code: ErrorCode, message: &str) -> Json<serde_json::Value> {
    Json(serde_json::json!({
        "data": null,
        "errors": [{ "message": message, "extensions": { "code": code.as_str() } }]
    }))
}

/// Resolves an automatic persisted query: the hash alone looks the text
/// up; text and hash together register it. `Err` is the answer to send.
async fn persisted_query(
    queries: &dyn QueryCache,
    tenant: &str,
    request: &mut async_graphql::Request,
) -> Result<(), Response> {
    let Some(hash) = request
        .extensions
        .get("persistedQuery")
        .and_then(|p| serde_json::to_value(p).ok())
        .and_then(|p| {
            p.get("sha256Hash")
                .and_then(|h| h.as_str())
                .map(str::to_owned)
        })
    else {
        return Ok(());
    };
    if request.query.trim().is_empty() {
        match queries.get(tenant, &hash).await {
            Some(query) => request.query = query,
            // Apollo's convention: the client sends the text next time.
            None => {
                return Err(error_body(
                    ErrorCode::PersistedQueryNotFound,
                    "PersistedQueryNotFound",
                )
                .into_response());
            }
        }
    } else if crate::mobile::sha256_hex(&request.query) == hash {
        queries.put(tenant, &hash, &request.query).await;
    } else {
        let body = error_body(
            ErrorCode::BadUserInput,
            "the query does not match its sha256Hash",
        );
        return Err((StatusCode::BAD_REQUEST, body).into_response());
    }
    Ok(())
}

/// Cloned for every request (axum's `State`), so whatever it owns is
/// behind an `Arc`: the console's settings alone are a few lists.
#[derive(Clone)]
struct GatewayState {
    schema: TrellisSchema,
    verifier: Arc<TokenVerifier>,
    config: Arc<GatewayConfig>,
}

/// The gateway's routes: `/graphql` (POST; GET serves GraphiQL if
/// enabled, with its files under `/graphql/assets/`) and `/graphql/ws`
/// (subscriptions over WebSocket).
pub fn router(
    schema: TrellisSchema,
    verifier: Arc<TokenVerifier>,
    config: GatewayConfig,
) -> Router {
    let console = crate::console::router(crate::console::Console {
        schema: schema.clone(),
        verifier: Arc::clone(&verifier),
        edge: config.edge.clone(),
        limiter: Arc::clone(&config.limiter),
        config: config.console.clone(),
    });
    let fhir = crate::fhir::router(crate::fhir::Fhir {
        operations: crate::inprocess::Operations {
            schema: schema.clone(),
            limiter: Arc::clone(&config.limiter),
            introspection: config.edge.introspection,
        },
        verifier: Arc::clone(&verifier),
        edge: config.edge.clone(),
        read_models: config.console.read_models.clone(),
        bulk: Arc::default(),
    });
    Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        .route("/graphql/ws", get(graphql_ws))
        .route(
            &format!("{}/{{hash}}/{{name}}", crate::graphiql::ASSETS),
            get(graphiql_asset),
        )
        .with_state(GatewayState {
            schema,
            verifier,
            config: Arc::new(config),
        })
        .merge(console)
        .merge(fhir)
        .route_layer(axum::middleware::from_fn(crate::request_duration::record))
        // The GraphQL extractor reads the body itself, so the limit is a
        // tower layer rather than axum's DefaultBodyLimit.
        .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BYTES))
        .layer(axum::middleware::map_response(security_headers))
}

/// Headers every answer carries: no MIME sniffing, never framed, no
/// referrer leaves, and a CSP that allows nothing at all — unless the
/// answer brought its own (the GraphiQL page: scripts, styles and
/// requests from this origin only).
pub async fn security_headers(mut response: Response) -> Response {
    // The body was left unread: the connection cannot carry another
    // request, and a client that reused it would see it reset.
    let unread = response.status() == StatusCode::PAYLOAD_TOO_LARGE;
    let headers = response.headers_mut();
    if unread {
        headers.insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::X_FRAME_OPTIONS,
        header::HeaderValue::from_static("DENY"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    headers
        .entry(header::CONTENT_SECURITY_POLICY)
        .or_insert(header::HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'",
        ));
    response
}

/// A body that is not a GraphQL request. async-graphql's own answer
/// quotes the JSON parser's message, which quotes the client's values.
#[derive(Debug)]
pub struct NotAGraphqlRequest(async_graphql::ParseRequestError);

impl From<async_graphql::ParseRequestError> for NotAGraphqlRequest {
    fn from(error: async_graphql::ParseRequestError) -> Self {
        Self(error)
    }
}

impl IntoResponse for NotAGraphqlRequest {
    fn into_response(self) -> Response {
        match self.0 {
            async_graphql::ParseRequestError::PayloadTooLarge => {
                let body = error_body(ErrorCode::BadUserInput, "the request is over 64 KiB");
                (StatusCode::PAYLOAD_TOO_LARGE, body).into_response()
            }
            _ => {
                let body = error_body(
                    ErrorCode::BadUserInput,
                    "the body is not a GraphQL request: a JSON object with a string `query`, \
                     optionally `variables` (an object) and `operationName` (a string)",
                );
                (StatusCode::BAD_REQUEST, body).into_response()
            }
        }
    }
}

/// A GraphQL POST must say it is JSON: other content types (forms,
/// `text/plain`) are how browsers send cross-site requests unasked.
fn is_json(headers: &HeaderMap) -> bool {
    crate::media_type::of(headers)
        .is_some_and(|v| v == "application/json" || v == "application/graphql-response+json")
}

/// Serve the router with `into_make_service_with_connect_info::<SocketAddr>()`
/// so the access log knows where each read came from.
async fn graphql(
    State(state): State<GatewayState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    request: GraphQLRequest<NotAGraphqlRequest>,
) -> Response {
    if !is_json(&headers) {
        let body = error_body(
            ErrorCode::BadUserInput,
            "send the request as application/json",
        );
        return (StatusCode::UNSUPPORTED_MEDIA_TYPE, body).into_response();
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let caller = match state.verifier.verify_header(authorization) {
        Ok(caller) => caller,
        Err(e) => {
            record_request(
                "",
                "graphql",
                "authenticate",
                Some(ErrorCode::Unauthenticated.as_str()),
            );
            let body = error_body(ErrorCode::Unauthenticated, &e.to_string());
            return (StatusCode::UNAUTHORIZED, body).into_response();
        }
    };
    let meta = RequestMeta {
        address: state
            .config
            .edge
            .trusted_proxies
            .client_address(peer, &headers),
        request_id: trellis_grpc_edge::request_id(
            headers.get("x-request-id").and_then(|v| v.to_str().ok()),
        ),
    };
    let token = authorization
        .and_then(|h| h.get(7..))
        .map(|t| BearerToken(t.trim().to_owned()));
    let tenant = caller.tenant.to_string();
    if !state.config.limiter.allow(&tenant, &caller.subject).await {
        record_request(
            &tenant,
            "graphql",
            "rate-limited",
            Some(ErrorCode::RateLimited.as_str()),
        );
        let body = error_body(ErrorCode::RateLimited, crate::mobile::OVER_BUDGET);
        return (
            StatusCode::TOO_MANY_REQUESTS,
            [(header::RETRY_AFTER, "60")],
            body,
        )
            .into_response();
    }
    let mut request = request.into_inner();
    if let Err(answer) = persisted_query(state.config.queries.as_ref(), &tenant, &mut request).await
    {
        return answer;
    }
    // A label from a closed set, never the client's operation name (which
    // would make a metric series per made-up name); the query text and
    // variables (which may hold PHI) never go into telemetry.
    let operation = operation_label(&state.schema, &mut request);
    let span = tracing::info_span!(
        "graphql.request",
        otel.name = %format!("graphql {operation}"),
        otel.kind = "server",
        tenant = %tenant,
        graphql.operation = %operation,
        http.request.method = "POST",
        url.path = "/graphql",
        http.response.status_code = tracing::field::Empty,
        outcome = tracing::field::Empty,
        otel.status_code = tracing::field::Empty,
    );
    continue_from(&headers, &span);
    request = request
        .data(caller)
        .data(meta)
        .data(crate::context::Replays::default())
        .data(state.config.edge.introspection);
    if let Some(token) = token {
        request = request.data(token);
    }
    let response = state.schema.execute(request).instrument(span.clone()).await;
    let code = response.errors.first().map(ErrorCode::of_error);
    // GraphQL answers errors with 200; the outcome is the first error's
    // code (a closed set: ours, or GRAPHQL_ERROR), and only a fault of
    // the server marks the span as an error, as for gRPC.
    span.record("http.response.status_code", 200);
    span.record("outcome", code.as_deref().unwrap_or("ok"));
    if code.as_deref().is_some_and(ErrorCode::is_server_fault) {
        span.record("otel.status_code", "ERROR");
    }
    record_request(&tenant, "graphql", &operation, code.as_deref());
    GraphQLResponse::from(response).into_response()
}

/// Subscriptions: graphql-ws or graphql-transport-ws (see `crate::ws`).
async fn graphql_ws(
    State(state): State<GatewayState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    let edge = &state.config.edge;
    let setup = crate::ws::SocketSetup {
        address: edge.trusted_proxies.client_address(peer, &headers),
        introspection: edge.introspection,
        limits: edge.websocket,
        budget: Arc::clone(&state.config.limiter),
        max_message_bytes: MAX_REQUEST_BYTES,
    };
    crate::ws::upgrade(
        upgrade,
        protocol,
        state.schema.for_sockets(),
        Arc::clone(&state.verifier),
        setup,
    )
}

/// The request's label in metrics and span names, from a closed set
/// (`operation.rs`): parsed once, from the kept document when the text was
/// seen before.
fn operation_label(schema: &crate::TrellisSchema, request: &mut async_graphql::Request) -> String {
    let fields = crate::operation::trellis_root_fields(schema);
    let name = request.operation_name.clone();
    if let Some(document) = crate::cost::kept_document(&request.query) {
        return fields.label(&document, name.as_deref());
    }
    match request.parsed_query() {
        Ok(document) => fields.label(document, name.as_deref()),
        Err(_) => crate::operation::OTHER.into(),
    }
}

async fn graphiql(State(state): State<GatewayState>, headers: HeaderMap) -> Response {
    if !state.config.graphiql {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "GraphiQL is disabled; POST queries to /graphql",
        )
            .into_response();
    }
    crate::graphiql::page(&headers)
}

async fn graphiql_asset(
    State(state): State<GatewayState>,
    Path((hash, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    if !state.config.graphiql {
        return (StatusCode::NOT_FOUND, "GraphiQL is disabled").into_response();
    }
    crate::graphiql::asset(&hash, &name, &headers)
}
