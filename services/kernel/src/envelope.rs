use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::{EventHash, StreamName, TenantId};

/// Who caused an event: the authenticated subject and the role they acted in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub subject: String,
    pub role: String,
}

/// Provenance carried by every event. None of it is optional except the
/// reason, which the domain requires for corrections and revisions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventMetadata {
    pub actor: Actor,
    /// Groups every event caused by one user request, across services.
    pub correlation_id: Uuid,
    /// The client-chosen id of the command that caused the event.
    pub causation_id: Uuid,
    pub request_id: String,
    /// W3C trace id (32 hex characters), or empty when the request was not traced.
    pub trace_id: String,
    /// The span (16 hex characters) that appended the event, so later work
    /// on it (the projection) can link back; empty when not traced.
    pub span_id: String,
    pub reason: Option<String>,
}

/// An event about to be appended.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_id: Uuid,
    pub event_type: String,
    pub schema_version: u32,
    /// Serialized payload (JSON). Stored byte for byte.
    pub payload: Vec<u8>,
    pub metadata: EventMetadata,
}

/// An event as the store holds it: the envelope plus the payload bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub event_id: Uuid,
    pub stream: StreamName,
    /// 0-based position of the event within its stream.
    pub revision: u64,
    /// Position in the store-wide order; increases with every append.
    pub global_position: u64,
    pub event_type: String,
    pub schema_version: u32,
    pub payload: Vec<u8>,
    pub metadata: EventMetadata,
    /// Server time when the event was stored (microsecond precision).
    pub recorded_at: DateTime<Utc>,
    /// This event's link in its stream's hash chain.
    pub hash: EventHash,
}

impl RecordedEvent {
    pub fn tenant(&self) -> &TenantId {
        self.stream.tenant()
    }
}
