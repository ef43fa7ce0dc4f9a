//! Plan documents and the pure fold that builds them: `plan` is the
//! document, and each section module folds its own events into it.

use trellis_kernel::{ERASED_PAYLOAD, RecordedEvent};
use trellis_plans_domain::{EventDecodeError, PlanEvent};

mod clinical;
mod corrections;
mod erasure;
mod goals;
mod lifecycle;
mod measures;
mod plan;
mod reviews;

pub use erasure::ERASED_TITLE;
pub use plan::{
    ClinicalContextView, ClosedNotMetView, ConsentView, DiagnosisView, EnteredView, ErasureView,
    GoalRevisionView, GoalView, InterventionView, LifecycleView, MeasureScheduleView, MeasureView,
    ObjectiveRevisionView, ObjectiveView, PlanView, PresentingProblemView, ProgressView,
    ReferralView, ReviewView, SafetyFlagView, SafetyPlanView, ServicePlanView, SignatureView,
    StatusChangeView,
};

/// Applies one stored plan event to the current view of its plan.
///
/// Idempotent: an event at or below the view's version was applied before
/// and changes nothing. A stream without `PlanCreated` leaves `None` (an
/// impossible history, left unprojected). On a decode error the view is
/// left as it was.
pub fn apply_event(
    view: &mut Option<PlanView>,
    recorded: &RecordedEvent,
) -> Result<(), EventDecodeError> {
    if view
        .as_ref()
        .is_some_and(|v| recorded.revision <= v.version)
    {
        return Ok(());
    }
    // Sealed under a key since destroyed: its plan's erasure, which comes
    // later in the stream, says what is left.
    if recorded.payload == ERASED_PAYLOAD {
        return Ok(());
    }
    let event = PlanEvent::decode(
        &recorded.event_type,
        recorded.schema_version,
        &recorded.payload,
    )?;
    if let PlanEvent::ClientErased(e) = event {
        *view = Some(erasure::erased_view(e, recorded));
        return Ok(());
    }
    match (view.as_mut(), event) {
        (None, PlanEvent::PlanCreated(e)) => {
            *view = Some(PlanView {
                tenant: recorded.tenant().to_string(),
                plan_id: e.plan_id.to_string(),
                client_id: e.client_id,
                primary_clinician_id: e.primary_clinician_id,
                clinic_id: e.clinic_id,
                title: e.title,
                created_on: e.created_on,
                version: recorded.revision,
                updated_at: recorded.recorded_at,
                created_at: Some(recorded.recorded_at),
                record_hash: recorded.hash.to_hex(),
                goals: Vec::new(),
                reviews: Vec::new(),
                measures: Vec::new(),
                safety_flags: Vec::new(),
                diagnoses: Vec::new(),
                presenting_problem: None,
                interventions: Vec::new(),
                safety_plan: None,
                care_team: Vec::new(),
                payer: e.payer,
                template: e
                    .template
                    .map(|t| format!("{}@{}", t.template_id, t.version)),
                status: LifecycleView::Draft,
                status_changes: Vec::new(),
                clinical_context: None,
                referrals: Vec::new(),
                service_plan: None,
                measure_schedule: Vec::new(),
                consents: Vec::new(),
                plan_version: 1,
                signatures: Vec::new(),
                erasure: None,
            });
        }
        (None, _) => {}
        (Some(current), event) => {
            apply_to(current, event, recorded);
            current.version = recorded.revision;
            current.updated_at = recorded.recorded_at;
            current.record_hash = recorded.hash.to_hex();
        }
    }
    Ok(())
}

fn apply_to(view: &mut PlanView, event: PlanEvent, recorded: &RecordedEvent) {
    // Each event is folded by the section of the plan it belongs to.
    match event {
        PlanEvent::GoalAdded(_)
        | PlanEvent::GoalClosed(_)
        | PlanEvent::ObjectiveDrafted(_)
        | PlanEvent::ObjectiveAdded(_)
        | PlanEvent::ObjectiveProgressRecorded(_)
        | PlanEvent::ObjectiveMet(_)
        | PlanEvent::GoalRevised(_)
        | PlanEvent::ObjectiveRevised(_)
        | PlanEvent::ObjectiveNotMet(_) => {
            goals::apply(view, event, recorded);
        }
        PlanEvent::ReviewScheduled(_) | PlanEvent::ReviewHeld(_) => {
            reviews::apply(view, event, recorded);
        }
        PlanEvent::MeasureRecorded(_)
        | PlanEvent::SafetyFlagRaised(_)
        | PlanEvent::SafetyFlagAcknowledged(_)
        | PlanEvent::MeasureScheduled(_) => {
            measures::apply(view, event, recorded);
        }
        PlanEvent::DiagnosisAdded(_)
        | PlanEvent::PresentingProblemRecorded(_)
        | PlanEvent::InterventionAdded(_)
        | PlanEvent::SafetyPlanRecorded(_)
        | PlanEvent::ClinicalContextRecorded(_)
        | PlanEvent::ReferralAdded(_)
        | PlanEvent::ReferralStatusChanged(_)
        | PlanEvent::ServicePlanRecorded(_) => {
            clinical::apply(view, event, recorded);
        }
        PlanEvent::PlanCreated(_)
        | PlanEvent::PlanActivated(_)
        | PlanEvent::PlanPutOnHold(_)
        | PlanEvent::PlanResumed(_)
        | PlanEvent::PlanClosed(_)
        | PlanEvent::ConsentRecorded(_)
        | PlanEvent::PlanSigned(_)
        | PlanEvent::PlanVersionStarted(_)
        | PlanEvent::CareTeamAssigned(_) => {
            lifecycle::apply(view, event, recorded);
        }
        PlanEvent::EnteredInError(_) => {
            corrections::apply(view, event, recorded);
        }
        // Replaces the whole view in `apply_event`; nothing to fold here.
        PlanEvent::ClientErased(_) => {}
    }
}

#[cfg(test)]
pub(crate) mod tests;
