//! The plans service: command handling around the plan aggregate, the
//! access policy for commands, and the `trellis.plans.v1.PlanService` gRPC
//! edge that maps wire messages and errors.
//!
//! Architecture invariant: the aggregate stays pure; this crate does the
//! I/O (load history, append) through the `EventStore` trait and never
//! names a concrete store backend.

mod access;
mod commands;
pub mod grpc;

pub use access::{
    AccessDenied, authorize_command, authorize_settings_change, authorize_settings_read,
};
pub use commands::{CommandContext, CommandError, CommandOutcome, PlanCommands};
