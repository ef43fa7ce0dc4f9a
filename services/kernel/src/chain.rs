//! The per-stream hash chain that makes stored history tamper-evident.
//!
//! Each event's hash covers its tenant, stream, revision, id, type, schema
//! version, payload bytes, metadata, recorded time, and the previous
//! event's hash. Every backend computes the same chain with
//! [`chain_hash`], so verification does not depend on the backend.

use std::fmt;

use sha2::{Digest, Sha256};

use uuid::Uuid;

use crate::{EventMetadata, NewEvent, RecordedEvent, StreamName};

/// SHA-256 of one event in its stream's chain.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventHash(pub [u8; 32]);

impl EventHash {
    /// The "previous hash" of a stream's first event.
    pub const GENESIS: EventHash = EventHash([0; 32]);

    pub fn to_hex(&self) -> String {
        to_hex(&self.0)
    }

    pub fn from_hex(hex: &str) -> Option<Self> {
        let bytes = from_hex(hex)?;
        Some(Self(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for EventHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventHash({})", self.to_hex())
    }
}

impl fmt::Display for EventHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

/// The bytes of the metadata that the chain covers: its JSON form, whose
/// field order is fixed by the struct.
pub fn metadata_bytes(metadata: &EventMetadata) -> Vec<u8> {
    serde_json::to_vec(metadata).expect("metadata serializes")
}

/// Everything of one stored event that its hash covers.
#[derive(Debug, Clone, Copy)]
pub struct ChainInput<'a> {
    pub stream: &'a StreamName,
    pub revision: u64,
    pub event_id: Uuid,
    pub event_type: &'a str,
    pub schema_version: u32,
    pub payload: &'a [u8],
    pub metadata: &'a EventMetadata,
    /// Server time in microseconds since the epoch, as stored.
    pub recorded_at_us: i64,
}

impl<'a> ChainInput<'a> {
    pub fn new_event(
        stream: &'a StreamName,
        revision: u64,
        event: &'a NewEvent,
        recorded_at_us: i64,
    ) -> Self {
        Self {
            stream,
            revision,
            event_id: event.event_id,
            event_type: &event.event_type,
            schema_version: event.schema_version,
            payload: &event.payload,
            metadata: &event.metadata,
            recorded_at_us,
        }
    }

    pub fn recorded(event: &'a RecordedEvent) -> Self {
        Self {
            stream: &event.stream,
            revision: event.revision,
            event_id: event.event_id,
            event_type: &event.event_type,
            schema_version: event.schema_version,
            payload: &event.payload,
            metadata: &event.metadata,
            recorded_at_us: event.recorded_at.timestamp_micros(),
        }
    }
}

/// Hash of one event given the previous hash of its stream.
pub fn chain_hash(previous: &EventHash, input: &ChainInput<'_>) -> EventHash {
    let mut h = Sha256::new();
    // Domain separation, then every field length-prefixed so no two
    // different events can produce the same byte string.
    h.update(b"trellis-event-chain-v1");
    let mut field = |bytes: &[u8]| {
        h.update((bytes.len() as u64).to_be_bytes());
        h.update(bytes);
    };
    field(input.stream.tenant().as_str().as_bytes());
    field(input.stream.to_string().as_bytes());
    field(&input.revision.to_be_bytes());
    field(input.event_id.as_bytes());
    field(input.event_type.as_bytes());
    field(&input.schema_version.to_be_bytes());
    field(input.payload);
    field(&metadata_bytes(input.metadata));
    field(&input.recorded_at_us.to_be_bytes());
    field(&previous.0);
    EventHash(h.finalize().into())
}

pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0xf) as usize] as char);
    }
    out
}

pub fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// SHA-256 of arbitrary bytes (Merkle leaves and nodes).
pub fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::{Actor, TenantId};

    fn event() -> NewEvent {
        NewEvent {
            event_id: Uuid::from_u128(9),
            event_type: "GoalAdded".into(),
            schema_version: 1,
            payload: br#"{"a":1}"#.to_vec(),
            metadata: EventMetadata {
                actor: Actor {
                    subject: "s".into(),
                    role: "clinician".into(),
                },
                correlation_id: Uuid::nil(),
                causation_id: Uuid::nil(),
                request_id: "r".into(),
                trace_id: String::new(),
                span_id: String::new(),
                reason: None,
            },
        }
    }

    fn hash(
        prev: EventHash,
        stream: &StreamName,
        revision: u64,
        e: &NewEvent,
        at: i64,
    ) -> EventHash {
        chain_hash(&prev, &ChainInput::new_event(stream, revision, e, at))
    }

    #[test]
    fn every_covered_field_changes_the_hash() {
        let g = EventHash::GENESIS;
        let stream = StreamName::new(TenantId::parse("t").unwrap(), "plan", "p").unwrap();
        let base = hash(g, &stream, 0, &event(), 1);
        let other_stream = StreamName::new(TenantId::parse("t").unwrap(), "plan", "q").unwrap();
        assert_ne!(base, hash(g, &other_stream, 0, &event(), 1));
        assert_ne!(base, hash(g, &stream, 1, &event(), 1));
        assert_ne!(base, hash(EventHash([1; 32]), &stream, 0, &event(), 1));
        assert_ne!(base, hash(g, &stream, 0, &event(), 2));
        let mut payload = event();
        payload.payload[2] ^= 1;
        assert_ne!(base, hash(g, &stream, 0, &payload, 1));
        let mut reason = event();
        reason.metadata.reason = Some("x".into());
        assert_ne!(base, hash(g, &stream, 0, &reason, 1));
        let mut kind = event();
        kind.event_type = "GoalClosed".into();
        assert_ne!(base, hash(g, &stream, 0, &kind, 1));
        assert_eq!(base, hash(g, &stream, 0, &event(), 1));
    }

    #[test]
    fn hex_round_trips() {
        let h = EventHash([0xab; 32]);
        assert_eq!(EventHash::from_hex(&h.to_hex()), Some(h));
        assert_eq!(from_hex("zz"), None);
    }
}
