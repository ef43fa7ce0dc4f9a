//! The fold, event by event.

use chrono::DateTime;
use trellis_kernel::{Actor, EventMetadata, StreamName, TenantId};
use trellis_plans_domain::{GoalAdded, GoalId, GoalTerm, PlanCreated, PlanId};
use uuid::Uuid;

use super::*;

pub(crate) fn recorded(revision: u64, event: &PlanEvent) -> RecordedEvent {
    let tenant = TenantId::parse("northside").unwrap();
    RecordedEvent {
        event_id: Uuid::new_v4(),
        stream: StreamName::new(tenant, "plan", "p1").unwrap(),
        revision,
        global_position: revision + 10,
        event_type: event.event_type().into(),
        schema_version: event.schema_version(),
        payload: event.encode(),
        metadata: EventMetadata {
            actor: Actor {
                subject: "clin-3".into(),
                role: "clinician".into(),
            },
            correlation_id: Uuid::nil(),
            causation_id: Uuid::nil(),
            request_id: "r".into(),
            trace_id: String::new(),
            span_id: String::new(),
            reason: None,
        },
        recorded_at: DateTime::from_timestamp(1_790_000_000, 0).unwrap(),
        hash: trellis_kernel::EventHash::GENESIS,
    }
}

pub(crate) fn created() -> PlanEvent {
    PlanEvent::PlanCreated(PlanCreated {
        plan_id: PlanId(Uuid::from_u128(1)),
        client_id: "client-17".into(),
        primary_clinician_id: "clin-3".into(),
        clinic_id: "eastside".into(),
        title: "GAD".into(),
        created_on: "2026-11-29".parse().unwrap(),
        template: None,
        payer: "medicaid".into(),
    })
}

pub(crate) fn goal() -> PlanEvent {
    PlanEvent::GoalAdded(GoalAdded {
        goal_id: GoalId(Uuid::from_u128(2)),
        description: "Reduce worry".into(),
        term: GoalTerm::ShortTerm,
    })
}

#[test]
fn a_plan_view_follows_its_events() {
    let mut view = None;
    apply_event(&mut view, &recorded(0, &created())).unwrap();
    apply_event(&mut view, &recorded(1, &goal())).unwrap();
    let view = view.unwrap();
    assert_eq!(view.version, 1);
    assert_eq!(view.client_id, "client-17");
    assert_eq!(view.goals.len(), 1);
    assert_eq!(view.goals[0].description, "Reduce worry");
}

#[test]
fn applying_an_event_twice_changes_nothing() {
    let mut view = None;
    apply_event(&mut view, &recorded(0, &created())).unwrap();
    apply_event(&mut view, &recorded(1, &goal())).unwrap();
    let once = view.clone();
    apply_event(&mut view, &recorded(1, &goal())).unwrap();
    assert_eq!(view, once);
    assert_eq!(view.unwrap().goals.len(), 1);
}

#[test]
fn a_history_without_its_creation_is_not_projected() {
    let mut view = None;
    apply_event(&mut view, &recorded(1, &goal())).unwrap();
    assert_eq!(view, None);
}

#[test]
fn an_unreadable_event_leaves_the_view_as_it_was() {
    let mut view = None;
    apply_event(&mut view, &recorded(0, &created())).unwrap();
    let before = view.clone();
    let mut broken = recorded(1, &goal());
    broken.payload = b"{".to_vec();
    assert!(apply_event(&mut view, &broken).is_err());
    assert_eq!(view, before);
}
