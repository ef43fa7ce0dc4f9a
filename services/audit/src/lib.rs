//! The audit trail an auditor replays and trusts.
//!
//! - [`history`]: a plan's events with full provenance, paged and filtered;
//! - [`timetravel`]: the plan as it stood at a time or version, and the
//!   field-level difference between two versions;
//! - [`integrity`]: hash-chain verification, Merkle digests over every
//!   stream head signed with Ed25519, and their verification;
//! - [`export`]: a plan's history as JSON Lines and as an HTML report;
//! - [`Audit`]: the service auditors call (auditor role only; every read
//!   is written to the access log before it is answered);
//! - [`grpc`]: the `trellis.audit.v1.AuditService` edge, which answers
//!   plans in the shape a [`PlanRenderer`] gives them (the gateway's
//!   GraphQL shape, wired in by the binary).
//!
//! Architecture invariant: reads the store through the `EventStore` and
//! `AccessLog` traits only, never a backend, and never writes or deletes a
//! plan event — the only events it appends are signed digests.

pub mod export;
pub mod grpc;
pub mod history;
pub mod integrity;
pub mod render;
pub mod timetravel;

mod service;

pub use integrity::{DigestKey, SignedDigest, VerifyReport};
pub use render::{PlanRenderer, RenderError};
pub use service::{Audit, AuditError, ReadContext, plan_stream};
