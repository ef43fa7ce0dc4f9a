//! The console's way into the schema: each page runs a fixed GraphQL
//! operation in-process as the signed-in user, exactly as an API client's
//! request would run (same resolvers, same role rules, same access log).

use std::net::SocketAddr;
use std::time::Duration;

use async_graphql::Variables;
use axum::http::HeaderMap;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use trellis_grpc_edge::metrics::record_request;

use super::session::{NoSession, Session};
use super::state::Console;
use crate::RequestMeta;
use crate::context::ViaConsole;
use crate::plans_client::BearerToken;

/// A signed-in page request: who, and where from (for the access log).
#[derive(Debug, Clone)]
pub(crate) struct Visit {
    pub(crate) session: Session,
    pub(crate) meta: RequestMeta,
}

/// Why a page or form could not be served, as the API said it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Failure {
    /// The GraphQL error's `extensions.code`.
    pub(crate) code: String,
    /// The rule, never the submitted value (the API's messages are so).
    pub(crate) message: String,
    /// `(field, rule)` for each field the API refused.
    pub(crate) violations: Vec<(String, String)>,
}

impl Failure {
    pub(crate) fn new(code: &str, message: &str) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            violations: Vec::new(),
        }
    }

    fn of(error: &async_graphql::ServerError) -> Self {
        let extensions = error.extensions.as_ref();
        let code = crate::ErrorCode::of_error(error);
        let violations = extensions
            .and_then(|x| x.get("fieldViolations"))
            .and_then(|v| v.clone().into_json().ok())
            .and_then(|v| serde_json::from_value::<Vec<Violation>>(v).ok())
            .unwrap_or_default()
            .into_iter()
            .map(|v| (v.field, v.description))
            .collect();
        Self {
            code,
            message: error.message.clone(),
            violations,
        }
    }
}

#[derive(serde::Deserialize)]
struct Violation {
    field: String,
    description: String,
}

/// What an accepted command returned.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Accepted {
    pub(crate) revision: u64,
}

/// How long a page after a form waits for the change to reach the read
/// models; past it the page shows what is there (and says nothing false:
/// the plan's version is on the page).
const OWN_WRITE_WAIT: Duration = Duration::from_secs(2);

impl Console {
    /// The signed-in user of this request, or why there is none.
    pub(crate) fn visit(&self, headers: &HeaderMap, peer: SocketAddr) -> Result<Visit, NoSession> {
        let session = Session::from_headers(headers, &self.verifier)?;
        let meta = RequestMeta {
            address: self.edge.trusted_proxies.client_address(peer, headers),
            request_id: trellis_grpc_edge::request_id(
                headers.get("x-request-id").and_then(|v| v.to_str().ok()),
            ),
        };
        Ok(Visit { session, meta })
    }

    /// Runs one of the console's operations as the visitor. `label` names
    /// the page or form in metrics and spans (a closed set: ours).
    pub(crate) async fn run<T: DeserializeOwned>(
        &self,
        visit: &Visit,
        label: &'static str,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<T, Failure> {
        let caller = &visit.session.caller;
        let tenant = caller.tenant.to_string();
        if !self.limiter.allow(&tenant, &caller.subject).await {
            record_request(&tenant, "console", label, Some("RATE_LIMITED"));
            return Err(Failure::new(
                "RATE_LIMITED",
                "the request budget for this minute is used (the clinic network's or yours); try again shortly",
            ));
        }
        let span = tracing::info_span!(
            "console.request",
            otel.name = %format!("console {label}"),
            otel.kind = "server",
            tenant = %tenant,
            console.page = label,
            outcome = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        let request = async_graphql::Request::new(query)
            .variables(Variables::from_json(variables))
            .data(caller.clone())
            .data(visit.meta.clone())
            .data(self.edge.introspection)
            .data(BearerToken(visit.session.token.clone()))
            .data(ViaConsole);
        let response = self.schema.execute(request).instrument(span.clone()).await;
        if let Some(error) = response.errors.first() {
            let failure = Failure::of(error);
            span.record("outcome", failure.code.as_str());
            if crate::ErrorCode::is_server_fault(&failure.code) {
                span.record("otel.status_code", "ERROR");
            }
            record_request(&tenant, "console", label, Some(&failure.code));
            return Err(failure);
        }
        span.record("outcome", "ok");
        record_request(&tenant, "console", label, None);
        let data = response.data.into_json().map_err(|e| {
            tracing::error!(error = %e, "console: response is not JSON");
            Failure::new("INTERNAL", "internal error")
        })?;
        serde_json::from_value(data).map_err(|e| {
            // A mismatch between our query and our structs: a bug of ours,
            // logged without the data (which is PHI).
            tracing::error!(label, error = %e.classify_name(), "console: unexpected response shape");
            Failure::new("INTERNAL", "internal error")
        })
    }

    /// Sends one plan command (`field` is the mutation, `input` its
    /// input object) and waits, bounded, until the read models show it.
    pub(crate) async fn command(
        &self,
        visit: &Visit,
        label: &'static str,
        field: &str,
        input_type: &str,
        plan_id: &str,
        input: serde_json::Value,
    ) -> Result<Accepted, Failure> {
        let query = format!(
            "mutation Console($input: {input_type}!) {{ {field}(input: $input) {{ revision }} }}"
        );
        let mut answer: serde_json::Map<String, serde_json::Value> = self
            .run(visit, label, &query, serde_json::json!({ "input": input }))
            .await?;
        let accepted: Accepted = answer
            .remove(field)
            .and_then(|v| serde_json::from_value(v).ok())
            .ok_or_else(|| Failure::new("INTERNAL", "internal error"))?;
        self.until_projected(visit, plan_id, accepted.revision)
            .await;
        Ok(accepted)
    }

    async fn until_projected(&self, visit: &Visit, plan_id: &str, revision: u64) {
        let Some(read_models) = &self.config.read_models else {
            return;
        };
        let tenant = &visit.session.caller.tenant;
        let waited = tokio::time::timeout(OWN_WRITE_WAIT, async {
            loop {
                match read_models.plan(tenant, plan_id).await {
                    Ok(Some(plan)) if plan.version >= revision => return,
                    Err(_) => return,
                    _ => tokio::time::sleep(Duration::from_millis(15)).await,
                }
            }
        })
        .await;
        if waited.is_err() {
            tracing::warn!("console: the read models did not show a command within 2 s");
        }
    }
}

trait Classify {
    fn classify_name(&self) -> &'static str;
}

impl Classify for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "io",
            serde_json::error::Category::Syntax => "syntax",
            serde_json::error::Category::Data => "data",
            serde_json::error::Category::Eof => "eof",
        }
    }
}
