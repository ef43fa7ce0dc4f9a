//! Folds status, consent, signature and care-team events.

use trellis_kernel::RecordedEvent;
use trellis_plans_domain::{PlanClosure, PlanEvent};

use super::plan::{ConsentView, LifecycleView, PlanView, SignatureView};

pub(super) fn apply(view: &mut PlanView, event: PlanEvent, recorded: &RecordedEvent) {
    match event {
        // A second PlanCreated cannot be decided; ignore rather than reset.
        PlanEvent::PlanCreated(_) => {}
        PlanEvent::PlanActivated(e) => {
            view.change_status(
                LifecycleView::Active,
                e.activated_on,
                String::new(),
                recorded,
            );
        }
        PlanEvent::PlanPutOnHold(e) => {
            view.change_status(LifecycleView::OnHold, e.on, e.reason, recorded);
        }
        PlanEvent::PlanResumed(e) => {
            view.change_status(LifecycleView::Active, e.on, String::new(), recorded);
        }
        PlanEvent::PlanClosed(e) => {
            let status = match e.closure {
                PlanClosure::Completed => LifecycleView::Completed,
                PlanClosure::Discharged => LifecycleView::Discharged,
                PlanClosure::Transferred => LifecycleView::Transferred,
            };
            view.change_status(status, e.closed_on, e.reason, recorded);
        }
        PlanEvent::ConsentRecorded(e) => view.consents.push(ConsentView {
            kind: e.kind,
            given_on: e.given_on,
            note: e.note,
            recorded_by: recorded.metadata.actor.subject.clone(),
        }),
        PlanEvent::PlanSigned(e) => view.signatures.push(SignatureView {
            version: e.version,
            role: e.role,
            signer_id: e.signer_id,
            signed_on: e.signed_on,
            recorded_at: Some(recorded.recorded_at),
            revision: Some(recorded.revision),
        }),
        PlanEvent::PlanVersionStarted(e) => view.plan_version = e.version,
        PlanEvent::CareTeamAssigned(e) => {
            view.primary_clinician_id = e.primary_clinician_id;
            view.care_team = e.members;
        }
        _ => {}
    }
}
