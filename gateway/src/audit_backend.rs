//! Where the audit trail is read from: in this process (embedded) or
//! through the audit service (split). A leaf: the auditor's queries and the
//! plan's signed version both read through it.

use std::sync::Arc;

use tonic::transport::Channel;
use trellis_audit::Audit;
use trellis_kernel::EventStore;
use trellis_proto::audit::v1::audit_service_client::AuditServiceClient;

/// Where the audit trail is read.
#[derive(Clone)]
pub enum AuditBackend {
    /// In this process, on the event store (embedded).
    Local(Box<Audit>),
    /// The `AuditService` over gRPC (split topology).
    Remote(RemoteAudit),
}

/// The split topology's audit trail: the `AuditService`, which checks the
/// auditor and logs every read before it answers, and the event store the
/// gateway reads a plan's history from once the service has let it —
/// GraphQL resolves `Plan` from the read-model type, while the service's
/// `plan_json` is already the GraphQL-shaped answer.
#[derive(Clone)]
pub struct RemoteAudit {
    pub service: AuditServiceClient<Channel>,
    pub history: Arc<dyn EventStore>,
}

impl std::fmt::Debug for RemoteAudit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteAudit").finish_non_exhaustive()
    }
}

impl std::fmt::Debug for AuditBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Local(_) => "AuditBackend::Local",
            Self::Remote(_) => "AuditBackend::Remote",
        })
    }
}

impl AuditBackend {
    /// Where plan histories are read from, in either topology.
    pub(crate) fn event_store(&self) -> &dyn EventStore {
        match self {
            Self::Local(audit) => audit.event_store().as_ref(),
            Self::Remote(remote) => remote.history.as_ref(),
        }
    }
}
