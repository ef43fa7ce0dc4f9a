//! The console's way into the schema: each page runs a fixed GraphQL
//! operation in-process as the signed-in user, exactly as an API client's
//! request would run (same resolvers, same role rules, same access log).

use std::net::SocketAddr;

use axum::http::HeaderMap;
use serde::de::DeserializeOwned;

use super::session::{NoSession, Session};
use super::state::Console;
use crate::RequestMeta;
use crate::context::Via;
pub(crate) use crate::inprocess::Failure;
use crate::inprocess::{AsCaller, Operations, until_projected};

/// A signed-in page request: who, and where from (for the access log).
#[derive(Debug, Clone)]
pub(crate) struct Visit {
    pub(crate) session: Session,
    pub(crate) meta: RequestMeta,
}

/// What an accepted command returned.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Accepted {
    pub(crate) revision: u64,
}

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
        let who = AsCaller {
            caller: visit.session.caller.clone(),
            meta: visit.meta.clone(),
            token: visit.session.token.clone(),
        };
        self.operations()
            .run(&who, Via::Console, label, query, variables)
            .await
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
        until_projected(
            self.config.read_models.as_deref(),
            &visit.session.caller.tenant,
            plan_id,
            revision,
        )
        .await;
    }

    fn operations(&self) -> Operations {
        Operations {
            schema: self.schema.clone(),
            limiter: std::sync::Arc::clone(&self.limiter),
            introspection: self.edge.introspection,
        }
    }
}
