//! Entered-in-error corrections, shown beside the entry they correct.

use trellis_kernel::RecordedEvent;
use trellis_plans_domain::{CorrectionTarget, PlanEvent};

use super::plan::PlanView;

pub(super) fn apply(view: &mut PlanView, event: PlanEvent, _recorded: &RecordedEvent) {
    if let PlanEvent::EnteredInError(e) = event {
        let reason = Some(e.reason);
        match e.target {
            CorrectionTarget::Goal(id) => {
                let id = id.to_string();
                if let Some(goal) = view.goals.iter_mut().find(|g| g.goal_id == id) {
                    goal.entered_in_error = reason;
                }
            }
            CorrectionTarget::Objective(id) => {
                if let Some(objective) = view.objective_mut(&id.to_string()) {
                    objective.entered_in_error = reason;
                }
            }
            CorrectionTarget::Intervention(id) => {
                let id = id.to_string();
                if let Some(i) = view
                    .interventions
                    .iter_mut()
                    .find(|i| i.intervention_id == id)
                {
                    i.entered_in_error = reason;
                }
            }
            CorrectionTarget::Measure(id) => {
                let id = id.to_string();
                if let Some(m) = view.measures.iter_mut().find(|m| m.measure_id == id) {
                    m.entered_in_error = reason;
                }
            }
            CorrectionTarget::Referral(id) => {
                let id = id.to_string();
                if let Some(r) = view.referrals.iter_mut().find(|r| r.referral_id == id) {
                    r.entered_in_error = reason;
                }
            }
            CorrectionTarget::Review(id) => {
                let id = id.to_string();
                if let Some(r) = view.reviews.iter_mut().find(|r| r.review_id == id) {
                    r.entered_in_error = reason;
                }
            }
            CorrectionTarget::Diagnosis(code) => {
                // The latest entry of the code: it may have been added again.
                if let Some(d) = view.diagnoses.iter_mut().rev().find(|d| d.code == code) {
                    d.entered_in_error = reason;
                }
            }
        }
    }
}
