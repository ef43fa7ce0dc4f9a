//! Draft → active → on hold → closed; consent and signatures.

use chrono::NaiveDate;

use super::Plan;
use crate::command::{
    ActivatePlan, AssignCareTeam, ClosePlan, CreatePlan, PutPlanOnHold, RecordConsent, SignPlan,
};
use crate::error::PlanError;
use crate::event::{
    CareTeamAssigned, ConsentKind, ConsentRecorded, CorrectionTarget, PlanActivated, PlanClosed,
    PlanCreated, PlanEvent, PlanPutOnHold, PlanResumed, PlanSigned, ReviewOrigin, ReviewScheduled,
    SignerRole,
};
use crate::input::{MAX_ID, MAX_SHORT_TEXT, MAX_TEXT, Violations};
use crate::status::PlanStatus;

/// Longest review interval a rule may set.
pub const MAX_REVIEW_INTERVAL_DAYS: u32 = 366;

impl Plan {
    fn wrong_status(&self, action: &'static str) -> PlanError {
        PlanError::WrongStatus {
            status: self.status,
            action,
        }
    }

    /// What a draft still lacks before treatment may start under it.
    pub fn missing_for_activation(&self) -> Vec<&'static str> {
        let mut missing = Vec::new();
        // Entries entered in error do not count.
        if !self
            .diagnoses
            .iter()
            .any(|code| self.stands(&CorrectionTarget::Diagnosis(code.clone())))
        {
            missing.push("a diagnosis");
        }
        if !self.has_presenting_problem {
            missing.push("the presenting problem");
        }
        if !self
            .goals
            .iter()
            .any(|(id, g)| g.open && self.stands(&CorrectionTarget::Goal(*id)))
        {
            missing.push("a goal");
        }
        if !self
            .objectives
            .keys()
            .any(|id| self.stands(&CorrectionTarget::Objective(*id)))
        {
            missing.push("a measurable objective");
        }
        if !self
            .interventions
            .iter()
            .any(|id| self.stands(&CorrectionTarget::Intervention(*id)))
        {
            missing.push("an intervention");
        }
        if self
            .drafts
            .keys()
            .any(|id| self.stands(&CorrectionTarget::Objective(*id)))
        {
            missing.push("the template's objectives completed");
        }
        missing
    }

    pub(super) fn activate(
        &self,
        c: &ActivatePlan,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        if self.status != PlanStatus::Draft {
            return Err(self.wrong_status("ActivatePlan"));
        }
        let missing = self.missing_for_activation();
        if !missing.is_empty() {
            return Err(PlanError::NotReadyToActivate(missing));
        }
        let due_on = super::reviews::next_review_due(today, c.first_review)?;
        let mut events = vec![PlanEvent::PlanActivated(PlanActivated {
            activated_on: today,
        })];
        // A review already scheduled by hand stands; otherwise the rule's.
        if !self.has_open_review_besides(c.first_review.review_id)
            && !self.reviews.contains_key(&c.first_review.review_id)
        {
            events.push(PlanEvent::ReviewScheduled(ReviewScheduled {
                review_id: c.first_review.review_id,
                due_on,
                origin: ReviewOrigin::Rule,
            }));
        }
        Ok(events)
    }

    pub(super) fn put_on_hold(
        &self,
        c: &PutPlanOnHold,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.required("reason", &c.reason, MAX_TEXT);
        v.finish()?;
        if self.status != PlanStatus::Active {
            return Err(self.wrong_status("PutPlanOnHold"));
        }
        Ok(vec![PlanEvent::PlanPutOnHold(PlanPutOnHold {
            on: today,
            reason: c.reason.trim().to_owned(),
        })])
    }

    pub(super) fn resume(&self, today: NaiveDate) -> Result<Vec<PlanEvent>, PlanError> {
        if self.status != PlanStatus::OnHold {
            return Err(self.wrong_status("ResumePlan"));
        }
        Ok(vec![PlanEvent::PlanResumed(PlanResumed { on: today })])
    }

    pub(super) fn close(
        &self,
        c: &ClosePlan,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.required("reason", &c.reason, MAX_TEXT);
        v.finish()?;
        Ok(vec![PlanEvent::PlanClosed(PlanClosed {
            closure: c.closure,
            closed_on: today,
            reason: c.reason.trim().to_owned(),
        })])
    }

    pub(super) fn assign_care_team(c: &AssignCareTeam) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.required("primary_clinician_id", &c.primary_clinician_id, MAX_ID);
        v.list("members", c.members.len());
        for member in &c.members {
            v.required("members", member, MAX_ID);
        }
        v.finish()?;
        let primary = c.primary_clinician_id.trim().to_owned();
        let mut members: Vec<String> = Vec::new();
        for member in c.members.iter().map(|m| m.trim()) {
            if member != primary && !members.iter().any(|m| m == member) {
                members.push(member.to_owned());
            }
        }
        Ok(vec![PlanEvent::CareTeamAssigned(CareTeamAssigned {
            primary_clinician_id: primary,
            members,
        })])
    }

    pub(super) fn consent(
        c: &RecordConsent,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        if c.given_on > today {
            v.push("given_on", "must not be in the future");
        }
        v.optional("note", &c.note, MAX_TEXT);
        v.finish()?;
        Ok(vec![PlanEvent::ConsentRecorded(ConsentRecorded {
            kind: c.kind,
            given_on: c.given_on,
            note: c.note.trim().to_owned(),
        })])
    }

    pub(super) fn sign(&self, c: &SignPlan, today: NaiveDate) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.required("signer_id", &c.signer_id, MAX_ID);
        v.finish()?;
        if self.signatures.contains_key(&c.role) {
            return Err(PlanError::AlreadySigned(c.role));
        }
        let signer = c.signer_id.trim();
        match c.role {
            SignerRole::Client if !self.consents.contains(&ConsentKind::Treatment) => {
                return Err(PlanError::ConsentRequired);
            }
            SignerRole::Supervisor => match self.signatures.get(&SignerRole::Clinician) {
                None => return Err(PlanError::CosignBeforeClinician),
                Some(clinician) if clinician == signer => {
                    return Err(PlanError::CosignBySameSigner);
                }
                Some(_) => {}
            },
            _ => {}
        }
        Ok(vec![PlanEvent::PlanSigned(PlanSigned {
            version: self.version,
            role: c.role,
            signer_id: c.signer_id.trim().to_owned(),
            signed_on: today,
        })])
    }
}

impl Plan {
    pub(super) fn create(
        &self,
        c: &CreatePlan,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        if self.status != PlanStatus::New {
            return Err(PlanError::PlanAlreadyExists);
        }
        let mut v = Violations::default();
        v.required("client_id", &c.client_id, MAX_ID);
        v.required("primary_clinician_id", &c.primary_clinician_id, MAX_ID);
        v.required("clinic_id", &c.clinic_id, MAX_ID);
        v.optional("title", &c.title, MAX_SHORT_TEXT);
        v.optional("payer", &c.payer, MAX_ID);
        v.finish()?;
        Ok(vec![PlanEvent::PlanCreated(PlanCreated {
            plan_id: c.plan_id,
            client_id: c.client_id.trim().to_owned(),
            primary_clinician_id: c.primary_clinician_id.trim().to_owned(),
            clinic_id: c.clinic_id.trim().to_owned(),
            title: c.title.trim().to_owned(),
            created_on: today,
            template: None,
            payer: c.payer.trim().to_ascii_lowercase(),
        })])
    }
}
