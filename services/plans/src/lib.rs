//! The plans service: command handling around the plan aggregate (checked
//! against the access policy of `trellis-access`), and the
//! `trellis.plans.v1.PlanService` gRPC edge that maps wire messages and
//! errors.
//!
//! Architecture invariant: the aggregate stays pure; this crate does the
//! I/O (load history, append) through the `EventStore` and `SnapshotStore`
//! traits and never names a concrete store backend. Hot plans are held in
//! memory at their revision; commands on one plan are decided one after
//! another, batched into one append (`commands/cache.rs`, `batch.rs`).

mod commands;
pub mod grpc;

pub use commands::{
    ClientErasureOutcome, CommandContext, CommandError, CommandOutcome, DEFAULT_CACHE_BYTES,
    DEFAULT_RETENTION_YEARS, PlanCommands, RetentionPeriod, SNAPSHOT_EVERY,
};
// A command error carries it, so callers of this crate can match on it.
pub use trellis_access::AccessDenied;
