//! What every FHIR interaction shares: who is asking (the bearer token,
//! verified as for GraphQL), where the server is as the client reaches
//! it, and the search parameters it may send.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use trellis_auth::TokenVerifier;
use trellis_grpc_edge::metrics::record_request;
use trellis_projector::ReadModelStore;

use super::bundle::Base;
use super::outcome::{Issue, Refusal};
use crate::RequestMeta;
use crate::context::Via;
use crate::edge::EdgeConfig;
use crate::inprocess::{AsCaller, Operations};

/// Where the FHIR API is served.
pub(crate) const FHIR_BASE_PATH: &str = "/fhir/r4";

/// The FHIR API's state.
#[derive(Clone)]
pub(crate) struct Fhir {
    pub(crate) operations: Operations,
    pub(crate) verifier: Arc<TokenVerifier>,
    pub(crate) edge: EdgeConfig,
    /// Where an import waits for its measure to reach the read models, so
    /// a search right after it finds it.
    pub(crate) read_models: Option<Arc<dyn ReadModelStore>>,
    /// Bulk export jobs (`$export`), in this gateway's memory.
    pub(crate) bulk: Arc<super::export_jobs::BulkJobs>,
}

/// An authenticated interaction.
#[derive(Debug, Clone)]
pub(crate) struct Interaction {
    pub(crate) who: AsCaller,
    pub(crate) base: Base,
}

/// Every FHIR handler but `metadata` takes the authenticated caller.
impl FromRequestParts<Fhir> for Interaction {
    type Rejection = Refusal;

    async fn from_request_parts(parts: &mut Parts, fhir: &Fhir) -> Result<Self, Refusal> {
        // Served with connect info; without it (in-process tests) the
        // access log records an unspecified address.
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
        // A bulk export's file is the one thing served as NDJSON.
        let served = if parts.uri.path().contains("/$export-file/") {
            Served::Ndjson
        } else {
            Served::Json
        };
        formats(parts.uri.query(), served)?;
        fhir.authenticate(&parts.headers, peer, served)
    }
}

/// A `_format` in the query must name what the route serves, on every
/// route (searches check it again with their parameters).
pub(crate) fn formats(query: Option<&str>, served: Served) -> Result<(), Refusal> {
    let asked = query.and_then(pairs).and_then(|pairs| {
        pairs
            .into_iter()
            .find(|(name, _)| name == "_format")
            .map(|(_, value)| value)
    });
    let Some(asked) = asked else {
        return Ok(());
    };
    let fits = match served {
        Served::Json => matches!(
            asked.as_str(),
            "json" | "application/json" | "application/fhir+json"
        ),
        Served::Ndjson => matches!(
            asked.as_str(),
            "ndjson" | "application/ndjson" | "application/fhir+ndjson"
        ),
    };
    if fits {
        Ok(())
    } else {
        Err(Refusal::new(
            StatusCode::NOT_ACCEPTABLE,
            Issue::new(
                "not-supported",
                "_format: only json is served (ndjson for export files)",
            ),
        ))
    }
}

/// What a route answers in, for `Accept` and `_format`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Served {
    Json,
    Ndjson,
}

impl Fhir {
    /// The caller of this request, or the refusal to send.
    fn authenticate(
        &self,
        headers: &HeaderMap,
        peer: SocketAddr,
        served: Served,
    ) -> Result<Interaction, Refusal> {
        accepts(headers, served)?;
        let authorization = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let caller = self.verifier.verify_header(authorization).map_err(|e| {
            record_request("", "fhir", "authenticate", Some("UNAUTHENTICATED"));
            Refusal::new(StatusCode::UNAUTHORIZED, Issue::new("login", e.to_string()))
        })?;
        let token = authorization
            .and_then(|h| h.get(7..))
            .map(|t| t.trim().to_owned())
            .unwrap_or_default();
        let meta = RequestMeta {
            address: self.edge.trusted_proxies.client_address(peer, headers),
            request_id: trellis_grpc_edge::request_id(
                headers.get("x-request-id").and_then(|v| v.to_str().ok()),
            ),
        };
        Ok(Interaction {
            who: AsCaller {
                caller,
                meta,
                token,
            },
            base: self.base(headers),
        })
    }

    /// The server's base as clients reach it: the configured public URL,
    /// else the request's `Host` (only when it is a plain host name).
    pub(crate) fn base(&self, headers: &HeaderMap) -> Base {
        if let Some(url) = &self.edge.public_url {
            return Base(format!("{}{FHIR_BASE_PATH}", url.trim_end_matches('/')));
        }
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|h| is_host(h))
            .unwrap_or("localhost");
        Base(format!("http://{host}{FHIR_BASE_PATH}"))
    }

    /// Runs one of the FHIR API's operations as the caller.
    pub(crate) async fn run<T: DeserializeOwned>(
        &self,
        interaction: &Interaction,
        label: &'static str,
        query: &str,
        variables: serde_json::Value,
    ) -> Result<T, Refusal> {
        self.operations
            .run(&interaction.who, Via::Fhir, label, query, variables)
            .await
            .map_err(Refusal::from)
    }
}

fn is_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b))
}

/// JSON is the only format served (NDJSON for a bulk export's files): an
/// `Accept` that rules it out is refused rather than answered in a format
/// the client did not ask for.
fn accepts(headers: &HeaderMap, served: Served) -> Result<(), Refusal> {
    let Some(accept) = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) else {
        return Ok(());
    };
    let (kinds, rule): (&[&str], &str) = match served {
        Served::Json => (
            &["application/json", "application/fhir+json"],
            "only JSON is served: accept application/fhir+json",
        ),
        Served::Ndjson => (
            &["application/ndjson", "application/fhir+ndjson"],
            "an export file is NDJSON: accept application/fhir+ndjson",
        ),
    };
    let fits = accept.split(',').any(|kind| {
        let kind = kind.split(';').next().unwrap_or_default().trim();
        matches!(kind, "*/*" | "application/*") || kinds.contains(&kind)
    });
    if fits {
        Ok(())
    } else {
        Err(Refusal::new(
            StatusCode::NOT_ACCEPTABLE,
            Issue::new("not-supported", rule),
        ))
    }
}

/// [`accepts`] for the JSON routes.
pub(crate) fn accepts_json(headers: &HeaderMap) -> Result<(), Refusal> {
    accepts(headers, Served::Json)
}

/// The search parameters of a request; unknown ones are refused, so a
/// misspelt filter never returns everything unfiltered.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(raw: Option<&str>, known: &[&str]) -> Result<Self, Refusal> {
        let pairs = match raw {
            None => Vec::new(),
            Some(query) => pairs(query).ok_or_else(|| {
                Refusal::invalid("the query string is not form-encoded", "search parameter")
            })?,
        };
        for (name, value) in &pairs {
            match name.as_str() {
                "_format" => {
                    if !matches!(
                        value.as_str(),
                        "json" | "application/json" | "application/fhir+json"
                    ) {
                        return Err(Refusal::new(
                            StatusCode::NOT_ACCEPTABLE,
                            Issue::new("not-supported", "_format: only json is served"),
                        ));
                    }
                }
                name if known.contains(&name) => {}
                _ => {
                    return Err(Refusal::invalid(
                        format!(
                            "unsupported search parameter; this search takes {}",
                            known.join(", ")
                        ),
                        "search parameter",
                    ));
                }
            }
        }
        Ok(Self(pairs))
    }

    pub(crate) fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The page size: `_count`, 1 to 50, 20 when absent.
    pub(crate) fn count(&self) -> Result<usize, Refusal> {
        match self.get("_count") {
            None => Ok(20),
            Some(raw) => match raw.parse::<usize>() {
                Ok(n) if (1..=50).contains(&n) => Ok(n),
                _ => Err(Refusal::invalid(
                    "_count must be a whole number from 1 to 50",
                    "_count",
                )),
            },
        }
    }
}

fn pairs(query: &str) -> Option<Vec<(String, String)>> {
    let uri: axum::http::Uri = format!("/?{query}").parse().ok()?;
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .ok()
        .map(|q| q.0)
}

/// Anything else under `/fhir/r4`: not part of what this server offers.
pub(crate) async fn unsupported() -> Response {
    Refusal::new(
        StatusCode::NOT_FOUND,
        Issue::new(
            "not-supported",
            "this interaction is not supported; GET /fhir/r4/metadata lists what is",
        ),
    )
    .into_response()
}
