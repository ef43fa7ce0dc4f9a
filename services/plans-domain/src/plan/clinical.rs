//! The clinical record: diagnoses, the presenting problem,
//! interventions, the safety plan, clinical context, referrals and the
//! service plan.

use chrono::NaiveDate;

use super::Plan;
use crate::command::{
    AddDiagnosis, AddIntervention, AddReferral, ChangeReferralStatus, RecordClinicalContext,
    RecordPresentingProblem, RecordSafetyPlan, RecordServicePlan,
};
use crate::error::{FieldViolation, PlanError};
use crate::event::{
    ClinicalContextRecorded, CorrectionTarget, DiagnosisAdded, InterventionAdded, Modality,
    PlanEvent, PresentingProblemRecorded, ReferralAdded, ReferralStatusChanged, SafetyPlanRecorded,
    ServicePlanRecorded,
};
use crate::input::{MAX_SHORT_TEXT, MAX_TEXT, Violations};
use crate::service_plan::checked_service_plan;

impl Plan {
    pub(super) fn presenting_problem(
        c: &RecordPresentingProblem,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.required("narrative", &c.narrative, MAX_TEXT * 2);
        v.list("symptoms", c.symptoms.len());
        for s in &c.symptoms {
            v.required("symptoms.name", &s.name, MAX_SHORT_TEXT);
            v.optional("symptoms.frequency", &s.frequency, MAX_SHORT_TEXT);
            v.optional("symptoms.intensity", &s.intensity, MAX_SHORT_TEXT);
            v.optional("symptoms.onset", &s.onset, MAX_SHORT_TEXT);
        }
        v.finish()?;
        Ok(vec![PlanEvent::PresentingProblemRecorded(
            PresentingProblemRecorded {
                narrative: c.narrative.trim().to_owned(),
                symptoms: c.symptoms.clone(),
            },
        )])
    }

    pub(super) fn add_diagnosis(&self, c: &AddDiagnosis) -> Result<Vec<PlanEvent>, PlanError> {
        let code = c.code.trim().to_ascii_uppercase();
        let Some(description) = crate::diagnosis::describe(&code) else {
            // The rule, never the value: what was typed here may be PHI.
            let problem = if code.is_empty() {
                "is required"
            } else {
                "is not a billable ICD-10-CM behavioural-health code"
            };
            return Err(PlanError::Invalid(vec![FieldViolation::new(
                "code", problem,
            )]));
        };
        if self.diagnoses.contains(&code) && self.stands(&CorrectionTarget::Diagnosis(code.clone()))
        {
            return Err(PlanError::DiagnosisAlreadyRecorded(code));
        }
        let first = !self
            .diagnoses
            .iter()
            .any(|d| self.stands(&CorrectionTarget::Diagnosis(d.clone())));
        Ok(vec![PlanEvent::DiagnosisAdded(DiagnosisAdded {
            code,
            description: description.to_owned(),
            // The first standing diagnosis is primary whatever was asked.
            primary: c.primary || first,
        })])
    }

    pub(super) fn add_intervention(
        &self,
        c: &AddIntervention,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        if let Modality::Other(name) = &c.modality {
            v.required("other_modality", name, MAX_SHORT_TEXT);
        }
        v.required("technique", &c.technique, MAX_TEXT);
        v.optional("frequency", &c.frequency, MAX_SHORT_TEXT);
        v.optional("comorbidity", &c.comorbidity, MAX_SHORT_TEXT);
        v.list("goal_ids", c.goal_ids.len());
        v.finish()?;
        for goal in &c.goal_ids {
            self.open_goal(*goal)?;
        }
        if self.interventions.contains(&c.intervention_id) {
            return Err(PlanError::InterventionAlreadyExists(c.intervention_id));
        }
        Ok(vec![PlanEvent::InterventionAdded(InterventionAdded {
            intervention_id: c.intervention_id,
            modality: c.modality.clone(),
            technique: c.technique.trim().to_owned(),
            frequency: c.frequency.trim().to_owned(),
            goal_ids: c.goal_ids.clone(),
            comorbidity: c.comorbidity.trim().to_owned(),
        })])
    }

    pub(super) fn safety_plan(c: &RecordSafetyPlan) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        for (field, list) in [
            ("warning_signs", &c.warning_signs),
            ("coping_steps", &c.coping_steps),
            ("crisis_lines", &c.crisis_lines),
        ] {
            v.list(field, list.len());
            for item in list {
                v.required(field, item, MAX_TEXT);
            }
        }
        if c.coping_steps.is_empty() {
            v.push("coping_steps", "a safety plan needs at least one step");
        }
        v.list("contacts", c.contacts.len());
        for contact in &c.contacts {
            v.required("contacts.name", &contact.name, MAX_SHORT_TEXT);
            v.optional(
                "contacts.relationship",
                &contact.relationship,
                MAX_SHORT_TEXT,
            );
            v.required("contacts.phone", &contact.phone, MAX_SHORT_TEXT);
        }
        v.finish()?;
        Ok(vec![PlanEvent::SafetyPlanRecorded(SafetyPlanRecorded {
            warning_signs: c.warning_signs.clone(),
            coping_steps: c.coping_steps.clone(),
            contacts: c.contacts.clone(),
            crisis_lines: c.crisis_lines.clone(),
        })])
    }
}

impl Plan {
    pub(super) fn clinical_context(c: &RecordClinicalContext) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        for (field, list) in [("strengths", &c.strengths), ("barriers", &c.barriers)] {
            v.list(field, list.len());
            for entry in list {
                v.required(field, entry, MAX_TEXT);
            }
        }
        v.list("supports", c.supports.len());
        for support in &c.supports {
            v.required("supports.involvement", &support.involvement, MAX_TEXT);
        }
        v.finish()?;
        let trimmed = |list: &[String]| list.iter().map(|s| s.trim().to_owned()).collect();
        Ok(vec![PlanEvent::ClinicalContextRecorded(
            ClinicalContextRecorded {
                strengths: trimmed(&c.strengths),
                barriers: trimmed(&c.barriers),
                supports: c.supports.clone(),
            },
        )])
    }

    pub(super) fn add_referral(&self, c: &AddReferral) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.required("to", &c.to, MAX_SHORT_TEXT);
        v.required("reason", &c.reason, MAX_TEXT);
        v.finish()?;
        if self.referrals.contains_key(&c.referral_id) {
            return Err(PlanError::ReferralAlreadyExists(c.referral_id));
        }
        Ok(vec![PlanEvent::ReferralAdded(ReferralAdded {
            referral_id: c.referral_id,
            to: c.to.trim().to_owned(),
            reason: c.reason.trim().to_owned(),
            status: c.status,
        })])
    }

    pub(super) fn change_referral(
        &self,
        c: &ChangeReferralStatus,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        if !self.stands(&CorrectionTarget::Referral(c.referral_id)) {
            return Err(PlanError::EnteredInError);
        }
        match self.referrals.get(&c.referral_id) {
            None => Err(PlanError::UnknownReferral(c.referral_id)),
            Some(status) if *status == c.status => {
                Err(PlanError::Invalid(vec![FieldViolation::new(
                    "status",
                    "the referral already has this status",
                )]))
            }
            Some(_) => Ok(vec![PlanEvent::ReferralStatusChanged(
                ReferralStatusChanged {
                    referral_id: c.referral_id,
                    status: c.status,
                    changed_on: today,
                },
            )]),
        }
    }

    pub(super) fn service_plan(c: &RecordServicePlan) -> Result<Vec<PlanEvent>, PlanError> {
        let service_plan = checked_service_plan(&ServicePlanRecorded {
            session_type: c.session_type.clone(),
            minutes: c.minutes,
            frequency: c.frequency.clone(),
            sessions_min: c.sessions_min,
            sessions_max: c.sessions_max,
            focus: c.focus.clone(),
            maintenance: c.maintenance.clone(),
            monitoring: c.monitoring.clone(),
        })?;
        Ok(vec![PlanEvent::ServicePlanRecorded(service_plan)])
    }
}
