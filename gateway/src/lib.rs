//! The GraphQL gateway: plan queries over the read models, served at
//! `/graphql` (GraphiQL on GET when enabled).
//!
//! Architecture invariant: reads only read models (never the event store
//! or the aggregate) and knows the caller only through `trellis-auth`.
//! Errors leave as GraphQL errors with an `extensions.code`; internals go
//! to the log, never to the caller.

mod access;
mod http;
mod schema;

pub use http::{GatewayConfig, router};
pub use schema::{TrellisSchema, build_schema};
