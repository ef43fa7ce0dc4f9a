//! What a command carries in and what comes back out.

use trellis_access::AccessDenied;
use trellis_auth::Caller;
use trellis_kernel::StoreError;
use trellis_plans_domain::{PlanError, PlanId};
use uuid::Uuid;

/// Request-level facts that go into every event's envelope.
#[derive(Debug, Clone)]
pub struct CommandContext {
    pub caller: Caller,
    /// Client-chosen; a retried command with the same id appends nothing.
    pub command_id: Uuid,
    pub correlation_id: Uuid,
    pub request_id: String,
    pub trace_id: String,
    pub span_id: String,
}

impl CommandContext {
    /// This context with the current span's trace and span ids, when the
    /// span is traced (the ids the request brought otherwise).
    pub fn within_current_span(&self) -> Self {
        let mut ctx = self.clone();
        if let Some((trace_id, span_id)) = trellis_grpc_edge::tracing_context::current_ids() {
            ctx.trace_id = trace_id;
            ctx.span_id = span_id;
        }
        ctx
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommandOutcome {
    pub plan_id: PlanId,
    /// The plan's stream revision after the command.
    pub revision: u64,
    /// The command id had been applied before: nothing new was written.
    pub duplicate: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Rejected(#[from] PlanError),
    #[error(transparent)]
    Denied(#[from] AccessDenied),
    #[error("the plan changed concurrently too often; retry the command")]
    Contended,
    /// The command id was used before for a different command (on another
    /// plan or settings stream): a mistake of the client, never retried.
    #[error("command_id was already used for another command")]
    CommandIdReused,
    #[error("event store: {0}")]
    Store(#[from] StoreError),
    #[error("stored plan event cannot be read: {0}")]
    Corrupt(String),
    /// This deployment keeps no data keys (plans in clear): there is
    /// nothing to destroy, so no client can be erased.
    #[error("this deployment keeps plans in clear: no client can be erased")]
    ErasureUnavailable,
}
