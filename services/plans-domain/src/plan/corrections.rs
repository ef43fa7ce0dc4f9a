//! Entered-in-error corrections: nothing is edited or deleted.

use super::Plan;
use crate::command::EnterInError;
use crate::error::PlanError;
use crate::event::{CorrectionTarget, EnteredInError, PlanEvent};
use crate::input::{MAX_TEXT, Violations};

impl Plan {
    pub(super) fn enter_in_error(&self, c: &EnterInError) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.required("reason", &c.reason, MAX_TEXT);
        v.finish()?;
        let exists = match &c.target {
            CorrectionTarget::Goal(id) => self.goals.contains_key(id),
            CorrectionTarget::Objective(id) => {
                self.objectives.contains_key(id) || self.drafts.contains_key(id)
            }
            CorrectionTarget::Intervention(id) => self.interventions.contains(id),
            CorrectionTarget::Measure(id) => self.has_measure(*id),
            CorrectionTarget::Referral(id) => self.referrals.contains_key(id),
            CorrectionTarget::Review(id) => self.reviews.contains_key(id),
            CorrectionTarget::Diagnosis(code) => self.diagnoses.contains(code),
        };
        if !exists {
            return Err(PlanError::UnknownCorrectionTarget);
        }
        if self.corrected.contains(&c.target) {
            return Err(PlanError::AlreadyEnteredInError);
        }
        Ok(vec![PlanEvent::EnteredInError(EnteredInError {
            target: c.target.clone(),
            reason: c.reason.trim().to_owned(),
        })])
    }
}
