//! `/graphql` over HTTP: authentication at the edge, then the schema.

use std::sync::Arc;

use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLRequest, GraphQLResponse};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tower_http::limit::RequestBodyLimitLayer;
use trellis_auth::TokenVerifier;

use crate::TrellisSchema;

/// Largest GraphQL request body accepted.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct GatewayConfig {
    /// Serve GraphiQL on `GET /graphql` (development).
    pub graphiql: bool,
}

#[derive(Clone)]
struct GatewayState {
    schema: TrellisSchema,
    verifier: Arc<TokenVerifier>,
    config: GatewayConfig,
}

/// The gateway's routes: `/graphql` (POST; GET serves GraphiQL if enabled).
pub fn router(
    schema: TrellisSchema,
    verifier: Arc<TokenVerifier>,
    config: GatewayConfig,
) -> Router {
    Router::new()
        .route("/graphql", get(graphiql).post(graphql))
        // The GraphQL extractor reads the body itself, so the limit is a
        // tower layer rather than axum's DefaultBodyLimit.
        .layer(RequestBodyLimitLayer::new(MAX_REQUEST_BYTES))
        .with_state(GatewayState {
            schema,
            verifier,
            config,
        })
}

async fn graphql(
    State(state): State<GatewayState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    let caller = match state.verifier.verify_header(authorization) {
        Ok(caller) => caller,
        Err(e) => {
            let body = serde_json::json!({
                "data": null,
                "errors": [{
                    "message": e.to_string(),
                    "extensions": { "code": "UNAUTHENTICATED" }
                }]
            });
            return (StatusCode::UNAUTHORIZED, Json(body)).into_response();
        }
    };
    let request = request.into_inner().data(caller);
    GraphQLResponse::from(state.schema.execute(request).await).into_response()
}

async fn graphiql(State(state): State<GatewayState>) -> Response {
    if !state.config.graphiql {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            "GraphiQL is disabled; POST queries to /graphql",
        )
            .into_response();
    }
    Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response()
}
