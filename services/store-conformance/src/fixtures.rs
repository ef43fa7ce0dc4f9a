//! What the checks write (tenants, streams, events with full provenance)
//! and how they read it back.

use std::sync::Arc;

use trellis_kernel::{
    Actor, EventMetadata, EventStore, NewEvent, RecordedEvent, Snapshot, SnapshotStore, StreamName,
    TenantId,
};
use uuid::Uuid;

/// A tenant no other check uses.
pub fn fresh_tenant() -> TenantId {
    TenantId::parse(&format!("conf-{}", Uuid::new_v4().simple())).expect("valid tenant id")
}

pub fn plan_stream(tenant: &TenantId, id: &str) -> StreamName {
    StreamName::new(tenant.clone(), "plan", id).expect("valid stream name")
}

/// A small event with full provenance, distinguishable by `seq`.
pub fn sample_event(seq: u64) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: "GoalAdded".into(),
        schema_version: 1,
        payload: serde_json::to_vec(&serde_json::json!({ "seq": seq })).expect("json"),
        metadata: EventMetadata {
            actor: Actor {
                subject: "clinician-7".into(),
                role: "clinician".into(),
            },
            correlation_id: Uuid::new_v4(),
            causation_id: Uuid::new_v4(),
            request_id: format!("req-{seq}"),
            trace_id: "4bf92f3577b34da6a3ce929d0e0e4736".into(),
            span_id: "00f067aa0ba902b7".into(),
            reason: None,
        },
    }
}

/// A snapshot whose payload is binary (a zero byte, bytes no UTF-8 text
/// holds) and names it by `tag`.
pub fn sample_snapshot(revision: u64, schema_version: u32, tag: &str) -> Snapshot {
    let mut payload = vec![0x00, 0xff, 0xfe];
    payload.extend_from_slice(tag.as_bytes());
    Snapshot {
        revision,
        schema_version,
        payload,
    }
}

/// The store under test.
pub(crate) type Store = Arc<dyn EventStore>;

/// The same store's snapshots.
pub(crate) type Snapshots = Arc<dyn SnapshotStore>;

/// The `seq` of each event, in order.
pub(crate) fn seqs(events: &[RecordedEvent]) -> Vec<u64> {
    events
        .iter()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_slice(&e.payload).expect("json payload");
            v["seq"].as_u64().expect("seq")
        })
        .collect()
}

/// Every event of `tenant`, in global order.
pub(crate) async fn tenant_events(store: &Store, tenant: &TenantId) -> Vec<RecordedEvent> {
    let mut all = Vec::new();
    let mut after = None;
    loop {
        let page = store.read_all(after, 500).await.expect("read_all");
        let Some(last) = page.last() else { break };
        after = Some(last.global_position);
        all.extend(page.into_iter().filter(|e| e.tenant() == tenant));
    }
    all
}
