//! The GraphQL gateway: plan queries over the read models, served at
//! `/graphql` (GraphiQL on GET when enabled, its files embedded).
//!
//! Every read of a plan's clinical content is written to the access log
//! before it is answered; if the record cannot be written, the read fails.
//!
//! Architecture invariant: reads read models, and the audit trail through
//! `trellis-audit` (never the event store or the aggregate directly);
//! knows the caller only through `trellis-auth`.
//! Errors leave as GraphQL errors with an `extensions.code`; internals go
//! to the log, never to the caller.

mod access;
mod audit;
mod audit_backend;
mod clinical;
mod compliance;
pub mod console;
mod context;
mod contract;
mod cost;
mod edge;
mod embedded;
mod entered;
mod error;
pub mod fhir;
mod forwarded;
mod goals;
mod graphiql;
mod http;
mod inprocess;
mod introspection;
mod known;
mod lifecycle;
mod measures;
mod media_type;
pub mod mobile;
mod operation;
mod outcomes;
mod parsed;
mod plan;
pub mod plan_json;
mod plans_client;
mod redact;
mod request_duration;
mod reviews;
mod rules;
mod schema;
mod settings;
mod subscription;
mod templates;
mod wording;
mod ws;

pub use audit_backend::{AuditBackend, RemoteAudit};
pub use context::RequestMeta;
pub use cost::CostLimits;
pub use edge::EdgeConfig;
pub use error::ErrorCode;
pub use forwarded::TrustedProxies;
pub use http::{GatewayConfig, MAX_REQUEST_BYTES, router, security_headers};
pub use introspection::IntrospectionPolicy;
pub use schema::{TrellisSchema, build_schema};
pub use ws::WebSocketLimits;
