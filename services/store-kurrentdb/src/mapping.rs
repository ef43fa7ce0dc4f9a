//! Trellis envelopes ↔ KurrentDB events: pure, unit-tested without a server.

use chrono::DateTime;
use kurrentdb::StreamState;
use serde::{Deserialize, Serialize};
use trellis_kernel::{
    Actor, EventHash, EventMetadata, ExpectedRevision, NewEvent, RecordedEvent, StoreError,
    StreamName,
};
use uuid::Uuid;

/// What Trellis keeps in a KurrentDB event's custom metadata: the parts of
/// the envelope KurrentDB has no field for, and the chain hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredMetadata {
    pub tenant: String,
    pub schema_version: u32,
    pub actor_subject: String,
    pub actor_role: String,
    pub correlation_id: Uuid,
    pub causation_id: Uuid,
    pub request_id: String,
    pub trace_id: String,
    pub span_id: String,
    pub reason: Option<String>,
    /// Trellis's own server time (the chain covers it), microseconds.
    pub recorded_at_us: i64,
    pub hash: String,
}

impl StoredMetadata {
    pub fn of(stream: &StreamName, event: &NewEvent, recorded_at_us: i64, hash: EventHash) -> Self {
        let m = &event.metadata;
        Self {
            tenant: stream.tenant().to_string(),
            schema_version: event.schema_version,
            actor_subject: m.actor.subject.clone(),
            actor_role: m.actor.role.clone(),
            correlation_id: m.correlation_id,
            causation_id: m.causation_id,
            request_id: m.request_id.clone(),
            trace_id: m.trace_id.clone(),
            span_id: m.span_id.clone(),
            reason: m.reason.clone(),
            recorded_at_us,
            hash: hash.to_hex(),
        }
    }
}

pub(crate) fn stream_state(expected: ExpectedRevision) -> StreamState {
    match expected {
        ExpectedRevision::Any => StreamState::Any,
        ExpectedRevision::NoStream => StreamState::NoStream,
        ExpectedRevision::Exact(r) => StreamState::StreamRevision(r),
    }
}

/// One event as read from KurrentDB, field by field (the client's own
/// type cannot be built outside it, so this is what tests feed in).
#[derive(Debug, Clone)]
pub(crate) struct RawEvent<'a> {
    pub stream_id: &'a str,
    pub id: Uuid,
    pub revision: u64,
    pub event_type: &'a str,
    pub data: &'a [u8],
    pub custom_metadata: &'a [u8],
    pub commit_position: u64,
}

/// A Trellis event, `None` for anything else in `$all` (system events,
/// other applications' streams), `Err` for a Trellis event that does not
/// read back.
pub(crate) fn to_recorded(raw: &RawEvent<'_>) -> Option<Result<RecordedEvent, StoreError>> {
    if raw.stream_id.starts_with('$') || raw.event_type.starts_with('$') {
        return None;
    }
    let stream = StreamName::parse(raw.stream_id).ok()?;
    let Ok(stored) = serde_json::from_slice::<StoredMetadata>(raw.custom_metadata) else {
        return Some(Err(StoreError::Corrupt("malformed event metadata".into())));
    };
    let decoded = (|| {
        Ok(RecordedEvent {
            event_id: raw.id,
            stream,
            revision: raw.revision,
            global_position: raw.commit_position,
            event_type: raw.event_type.to_owned(),
            schema_version: stored.schema_version,
            payload: raw.data.to_vec(),
            metadata: EventMetadata {
                actor: Actor {
                    subject: stored.actor_subject,
                    role: stored.actor_role,
                },
                correlation_id: stored.correlation_id,
                causation_id: stored.causation_id,
                request_id: stored.request_id,
                trace_id: stored.trace_id,
                span_id: stored.span_id,
                reason: stored.reason,
            },
            recorded_at: DateTime::from_timestamp_micros(stored.recorded_at_us)
                .ok_or_else(|| StoreError::Corrupt("malformed timestamp".into()))?,
            hash: EventHash::from_hex(&stored.hash)
                .ok_or_else(|| StoreError::Corrupt("malformed event hash".into()))?,
        })
    })();
    Some(decoded)
}

#[cfg(test)]
mod tests;
