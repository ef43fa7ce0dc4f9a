//! Folds the clinical record's events: diagnoses, presenting problem,
//! interventions, safety plan, clinical context, referrals, service plan.

use trellis_kernel::RecordedEvent;
use trellis_plans_domain::PlanEvent;

use super::plan::{
    ClinicalContextView, DiagnosisView, EnteredView, InterventionView, PlanView,
    PresentingProblemView, ReferralView, SafetyPlanView, ServicePlanView,
};

pub(super) fn apply(view: &mut PlanView, event: PlanEvent, recorded: &RecordedEvent) {
    match event {
        PlanEvent::DiagnosisAdded(e) => {
            if e.primary {
                for d in &mut view.diagnoses {
                    d.primary = false;
                }
            }
            view.diagnoses.push(DiagnosisView {
                code: e.code,
                description: e.description,
                primary: e.primary,
                entered_in_error: None,
                added: EnteredView::of(recorded),
            });
        }
        PlanEvent::PresentingProblemRecorded(e) => {
            view.presenting_problem = Some(PresentingProblemView {
                narrative: e.narrative,
                symptoms: e.symptoms,
            });
        }
        PlanEvent::InterventionAdded(e) => view.interventions.push(InterventionView {
            intervention_id: e.intervention_id.to_string(),
            modality: e.modality,
            technique: e.technique,
            frequency: e.frequency,
            goal_ids: e.goal_ids.iter().map(ToString::to_string).collect(),
            entered_in_error: None,
            comorbidity: e.comorbidity,
            added: EnteredView::of(recorded),
        }),
        PlanEvent::SafetyPlanRecorded(e) => {
            view.safety_plan = Some(SafetyPlanView {
                warning_signs: e.warning_signs,
                coping_steps: e.coping_steps,
                contacts: e.contacts,
                crisis_lines: e.crisis_lines,
            });
        }
        PlanEvent::ClinicalContextRecorded(e) => {
            view.clinical_context = Some(ClinicalContextView {
                strengths: e.strengths,
                barriers: e.barriers,
                supports: e.supports,
            });
        }
        PlanEvent::ReferralAdded(e) => view.referrals.push(ReferralView {
            referral_id: e.referral_id.to_string(),
            to: e.to,
            reason: e.reason,
            status: e.status,
            status_changed_on: None,
            entered_in_error: None,
        }),
        PlanEvent::ReferralStatusChanged(e) => {
            let id = e.referral_id.to_string();
            if let Some(r) = view.referrals.iter_mut().find(|r| r.referral_id == id) {
                r.status = e.status;
                r.status_changed_on = Some(e.changed_on);
            }
        }
        PlanEvent::ServicePlanRecorded(e) => {
            view.service_plan = Some(ServicePlanView {
                session_type: e.session_type,
                minutes: e.minutes,
                frequency: e.frequency,
                sessions_min: e.sessions_min,
                sessions_max: e.sessions_max,
                focus: e.focus,
                maintenance: e.maintenance,
                monitoring: e.monitoring,
            });
        }
        _ => {}
    }
}
