//! Status, consent, signatures and the care team.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use trellis_kernel::RecordedEvent;
use trellis_plans_domain::{ConsentKind, PlanClosure, PlanEvent, SignerRole};

use super::PlanView;

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
        }),
        PlanEvent::PlanVersionStarted(e) => view.plan_version = e.version,
        PlanEvent::CareTeamAssigned(e) => {
            view.primary_clinician_id = e.primary_clinician_id;
            view.care_team = e.members;
        }
        _ => {}
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentView {
    pub kind: ConsentKind,
    pub given_on: NaiveDate,
    pub note: String,
    pub recorded_by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignatureView {
    pub version: u32,
    pub role: SignerRole,
    pub signer_id: String,
    pub signed_on: NaiveDate,
}

/// Where a plan is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleView {
    #[default]
    Draft,
    Active,
    OnHold,
    Completed,
    Discharged,
    Transferred,
}

/// One change of status, with the reason given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChangeView {
    pub status: LifecycleView,
    pub on: NaiveDate,
    pub reason: String,
    pub by: String,
}

impl LifecycleView {
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Completed | Self::Discharged | Self::Transferred)
    }
}
