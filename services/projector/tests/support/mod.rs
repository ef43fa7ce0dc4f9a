//! Writing plan histories straight into a store, for projection tests.

use trellis_kernel::{
    Actor, EventMetadata, EventStore, ExpectedRevision, NewEvent, StreamName, TenantId,
};
use trellis_plans_domain::{GoalAdded, GoalId, GoalTerm, PlanCreated, PlanEvent, PlanId};
use trellis_store_sqlite::SqliteEventStore;
use uuid::Uuid;

pub fn envelope(event: &PlanEvent) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: event.event_type().into(),
        schema_version: event.schema_version(),
        payload: event.encode(),
        metadata: EventMetadata {
            actor: Actor {
                subject: "clin-1".into(),
                role: "clinician".into(),
            },
            correlation_id: Uuid::new_v4(),
            causation_id: Uuid::new_v4(),
            request_id: "r".into(),
            trace_id: String::new(),
            span_id: String::new(),
            reason: None,
        },
    }
}

pub async fn write_plan(
    store: &SqliteEventStore,
    tenant: &TenantId,
    clinician: &str,
    goals: u64,
) -> PlanId {
    let plan_id = PlanId(Uuid::new_v4());
    let stream = StreamName::new(tenant.clone(), "plan", &plan_id.to_string()).unwrap();
    let created = PlanEvent::PlanCreated(PlanCreated {
        plan_id,
        client_id: "client-1".into(),
        primary_clinician_id: clinician.into(),
        clinic_id: "clinic-a".into(),
        title: "t".into(),
        created_on: "2026-11-29".parse().unwrap(),
        template: None,
        payer: String::new(),
    });
    store
        .append(
            &stream,
            ExpectedRevision::NoStream,
            vec![envelope(&created)],
        )
        .await
        .unwrap();
    for n in 0..goals {
        let goal = PlanEvent::GoalAdded(GoalAdded {
            goal_id: GoalId(Uuid::new_v4()),
            description: format!("Goal {n}"),
            term: GoalTerm::ShortTerm,
        });
        store
            .append(&stream, ExpectedRevision::Exact(n), vec![envelope(&goal)])
            .await
            .unwrap();
    }
    plan_id
}
