//! Running a fixed GraphQL operation in-process as an authenticated
//! caller: how the console and the FHIR API reach the schema, so they
//! share its resolvers, role and tenant rules, validation messages, rate
//! limits and access log with API clients.

use std::time::Duration;

use async_graphql::Variables;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use trellis_auth::Caller;
use trellis_grpc_edge::metrics::record_request;
use trellis_kernel::TenantId;
use trellis_projector::ReadModelStore;

use crate::context::Via;
use crate::mobile::RateLimiter;
use crate::plans_client::BearerToken;
use crate::{IntrospectionPolicy, RequestMeta, TrellisSchema};

/// Why an operation was refused or failed, as the API said it.
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

    pub(crate) fn internal() -> Self {
        Self::new("INTERNAL", "internal error")
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

/// Who an operation runs as, and where the request came from.
#[derive(Debug, Clone)]
pub(crate) struct AsCaller {
    pub(crate) caller: Caller,
    pub(crate) meta: RequestMeta,
    /// The caller's bearer token, for the commands the gateway forwards.
    pub(crate) token: String,
}

/// The schema and the limits every in-process operation runs under.
#[derive(Clone)]
pub(crate) struct Operations {
    pub(crate) schema: TrellisSchema,
    pub(crate) limiter: std::sync::Arc<dyn RateLimiter>,
    pub(crate) introspection: IntrospectionPolicy,
}

impl Operations {
    /// Runs `query` as `who` for `via`'s API; `label` names the page or
    /// interaction in metrics and spans (a closed set: ours).
    pub(crate) async fn run<T: DeserializeOwned>(
        &self,
        who: &AsCaller,
        via: Via,
        label: &'static str,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<T, Failure> {
        let api = match via {
            Via::Console => "console",
            Via::Fhir => "fhir",
        };
        let caller = &who.caller;
        let tenant = caller.tenant.to_string();
        if !self.limiter.allow(&tenant, &caller.subject).await {
            record_request(&tenant, api, label, Some("RATE_LIMITED"));
            return Err(Failure::new(
                "RATE_LIMITED",
                "the request budget for this minute is used (the clinic network's or yours); try again shortly",
            ));
        }
        let span = tracing::info_span!(
            "inprocess.request",
            otel.name = %format!("{api} {label}"),
            otel.kind = "server",
            tenant = %tenant,
            trellis.api = api,
            trellis.operation = label,
            outcome = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        let request = async_graphql::Request::new(query)
            .variables(Variables::from_json(variables))
            .data(caller.clone())
            .data(who.meta.clone())
            .data(crate::context::Replays::default())
            .data(self.introspection)
            .data(BearerToken(who.token.clone()))
            .data(via);
        let response = self.schema.execute(request).instrument(span.clone()).await;
        if let Some(error) = response.errors.first() {
            let failure = Failure::of(error);
            span.record("outcome", failure.code.as_str());
            if crate::ErrorCode::is_server_fault(&failure.code) {
                span.record("otel.status_code", "ERROR");
            }
            record_request(&tenant, api, label, Some(&failure.code));
            return Err(failure);
        }
        span.record("outcome", "ok");
        record_request(&tenant, api, label, None);
        let data = response.data.into_json().map_err(|e| {
            tracing::error!(error = %e, "{api}: response is not JSON");
            Failure::internal()
        })?;
        serde_json::from_value(data).map_err(|e| {
            // A mismatch between our query and our structs: a bug of ours,
            // logged without the data (which is PHI).
            tracing::error!(label, error = %classify(&e), "{api}: unexpected response shape");
            Failure::internal()
        })
    }
}

fn classify(e: &serde_json::Error) -> &'static str {
    match e.classify() {
        serde_json::error::Category::Io => "io",
        serde_json::error::Category::Syntax => "syntax",
        serde_json::error::Category::Data => "data",
        serde_json::error::Category::Eof => "eof",
    }
}

/// How long an answer after a command waits for the change to reach the
/// read models; past it the answer shows what is there (and says nothing
/// false: the plan's version is in it).
const OWN_WRITE_WAIT: Duration = Duration::from_secs(2);

/// Waits, bounded, until the read models show `plan_id` at `revision`,
/// so a caller reads its own write.
pub(crate) async fn until_projected(
    read_models: Option<&dyn ReadModelStore>,
    tenant: &TenantId,
    plan_id: &str,
    revision: u64,
) {
    let Some(read_models) = read_models else {
        return;
    };
    let waited = tokio::time::timeout(OWN_WRITE_WAIT, async {
        loop {
            match read_models.plan(tenant, plan_id).await {
                Ok(Some(plan)) if plan.version >= revision => return,
                Err(_) => return,
                // Short: the projector applies a change within milliseconds.
                _ => tokio::time::sleep(Duration::from_millis(3)).await,
            }
        }
    })
    .await;
    if waited.is_err() {
        tracing::warn!("the read models did not show a command within 2 s");
    }
}
