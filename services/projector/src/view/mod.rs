//! Plan documents and the pure fold that builds them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use trellis_kernel::RecordedEvent;
use trellis_plans_domain::{EventDecodeError, PlanEvent};

mod clinical;
mod corrections;
mod goals;
mod lifecycle;
mod measures;
mod reviews;

pub use clinical::{
    ClinicalContextView, DiagnosisView, InterventionView, PresentingProblemView, ReferralView,
    SafetyPlanView, ServicePlanView,
};
pub use goals::{ClosedNotMetView, GoalRevisionView, GoalView, ObjectiveView, ProgressView};
pub use lifecycle::{ConsentView, LifecycleView, SignatureView, StatusChangeView};
pub use measures::{MeasureScheduleView, MeasureView, SafetyFlagView};
pub use reviews::ReviewView;

/// Who entered an item on the plan, in which role, and when: read from
/// its event's envelope, so clinicians see it without the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnteredView {
    pub by: String,
    pub role: String,
    pub at: DateTime<Utc>,
}

impl EnteredView {
    fn of(recorded: &RecordedEvent) -> Option<Self> {
        Some(Self {
            by: recorded.metadata.actor.subject.clone(),
            role: recorded.metadata.actor.role.clone(),
            at: recorded.recorded_at,
        })
    }
}

/// Everything a clinician sees of one plan.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct PlanView {
    pub tenant: String,
    pub plan_id: String,
    pub client_id: String,
    pub primary_clinician_id: String,
    pub clinic_id: String,
    pub title: String,
    pub created_on: NaiveDate,
    /// Stream revision of the last event applied: the plan version.
    pub version: u64,
    pub updated_at: DateTime<Utc>,
    pub goals: Vec<GoalView>,
    pub reviews: Vec<ReviewView>,
    #[serde(default)]
    pub measures: Vec<MeasureView>,
    #[serde(default)]
    pub safety_flags: Vec<SafetyFlagView>,
    #[serde(default)]
    pub diagnoses: Vec<DiagnosisView>,
    #[serde(default)]
    pub presenting_problem: Option<PresentingProblemView>,
    #[serde(default)]
    pub interventions: Vec<InterventionView>,
    #[serde(default)]
    pub safety_plan: Option<SafetyPlanView>,
    /// The care team besides the primary clinician.
    #[serde(default)]
    pub care_team: Vec<String>,
    #[serde(default)]
    pub payer: String,
    /// The template the plan was made from, as `id@version`.
    #[serde(default)]
    pub template: Option<String>,
    #[serde(default)]
    pub status: LifecycleView,
    #[serde(default)]
    pub status_changes: Vec<StatusChangeView>,
    #[serde(default)]
    pub clinical_context: Option<ClinicalContextView>,
    #[serde(default)]
    pub referrals: Vec<ReferralView>,
    #[serde(default)]
    pub service_plan: Option<ServicePlanView>,
    #[serde(default)]
    pub measure_schedule: Vec<MeasureScheduleView>,
    #[serde(default)]
    pub consents: Vec<ConsentView>,
    /// The content version signatures bind to (not the stream revision).
    #[serde(default = "first_version")]
    pub plan_version: u32,
    /// Every signature, of every version.
    #[serde(default)]
    pub signatures: Vec<SignatureView>,
}

fn first_version() -> u32 {
    1
}

impl PlanView {
    fn change_status(
        &mut self,
        status: LifecycleView,
        on: NaiveDate,
        reason: String,
        recorded: &RecordedEvent,
    ) {
        self.status = status;
        self.status_changes.push(StatusChangeView {
            status,
            on,
            reason,
            by: recorded.metadata.actor.subject.clone(),
        });
    }

    /// Whether `clinician` is on the care team (primary included).
    pub fn treated_by(&self, clinician: &str) -> bool {
        self.primary_clinician_id == clinician || self.care_team.iter().any(|m| m == clinician)
    }

    /// Signatures of the version in force.
    pub fn current_signatures(&self) -> impl Iterator<Item = &SignatureView> {
        self.signatures
            .iter()
            .filter(move |s| s.version == self.plan_version)
    }

    fn objective_mut(&mut self, id: &str) -> Option<&mut ObjectiveView> {
        self.goals
            .iter_mut()
            .flat_map(|g| g.objectives.iter_mut())
            .find(|o| o.objective_id == id)
    }
}

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
    let event = PlanEvent::decode(
        &recorded.event_type,
        recorded.schema_version,
        &recorded.payload,
    )?;
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
            });
        }
        (None, _) => {}
        (Some(current), event) => {
            apply_to(current, event, recorded);
            current.version = recorded.revision;
            current.updated_at = recorded.recorded_at;
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
    }
}

#[cfg(test)]
mod tests;
