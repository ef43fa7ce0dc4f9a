//! The mapping checked field by field, without a server.

use trellis_kernel::{ChainInput, TenantId, chain_hash};

use super::*;

fn event() -> NewEvent {
    NewEvent {
        event_id: Uuid::from_u128(5),
        event_type: "GoalAdded".into(),
        schema_version: 2,
        payload: br#"{"goal_id":"g"}"#.to_vec(),
        metadata: EventMetadata {
            actor: Actor {
                subject: "clin-1".into(),
                role: "clinician".into(),
            },
            correlation_id: Uuid::from_u128(7),
            causation_id: Uuid::from_u128(8),
            request_id: "req".into(),
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            span_id: "00f067aa0ba902b7".into(),
            reason: Some("entered in error".into()),
        },
    }
}

#[test]
fn an_envelope_survives_the_round_trip_through_kurrentdb_fields() {
    let stream = StreamName::new(TenantId::parse("north").unwrap(), "plan", "p1").unwrap();
    let e = event();
    let hash = chain_hash(
        &EventHash::GENESIS,
        &ChainInput::new_event(&stream, 0, &e, 1_000),
    );
    let metadata = serde_json::to_vec(&StoredMetadata::of(&stream, &e, 1_000, hash)).unwrap();
    let raw = RawEvent {
        stream_id: "north:plan-p1",
        id: e.event_id,
        revision: 0,
        event_type: "GoalAdded",
        data: &e.payload,
        custom_metadata: &metadata,
        commit_position: 4242,
    };
    let recorded = to_recorded(&raw).unwrap().unwrap();
    assert_eq!(recorded.stream, stream);
    assert_eq!(recorded.global_position, 4242);
    assert_eq!(recorded.schema_version, 2);
    assert_eq!(recorded.metadata, e.metadata);
    assert_eq!(recorded.payload, e.payload);
    assert_eq!(recorded.hash, hash);
    assert_eq!(recorded.recorded_at.timestamp_micros(), 1_000);
    // The chain recomputes from what was read back.
    assert_eq!(
        chain_hash(&EventHash::GENESIS, &ChainInput::recorded(&recorded)),
        hash
    );
}

#[test]
fn system_and_foreign_events_are_skipped_and_broken_ones_reported() {
    let raw = |stream_id, event_type, custom_metadata| RawEvent {
        stream_id,
        id: Uuid::nil(),
        revision: 0,
        event_type,
        data: b"{}",
        custom_metadata,
        commit_position: 1,
    };
    assert!(to_recorded(&raw("$stats-node", "$statsCollected", b"")).is_none());
    assert!(to_recorded(&raw("orders-1", "OrderPlaced", b"")).is_none());
    assert!(matches!(
        to_recorded(&raw("north:plan-p1", "GoalAdded", b"not json")),
        Some(Err(StoreError::Corrupt(_)))
    ));
}

#[test]
fn expectations_map_to_stream_states() {
    assert_eq!(stream_state(ExpectedRevision::Any), StreamState::Any);
    assert_eq!(
        stream_state(ExpectedRevision::NoStream),
        StreamState::NoStream
    );
    assert_eq!(
        stream_state(ExpectedRevision::Exact(4)),
        StreamState::StreamRevision(4)
    );
}
