use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;

use crate::command::{
    AcknowledgeSafetyFlag, AddDiagnosis, AddGoal, AddIntervention, AddObjective, CloseGoal,
    CreatePlan, EnterInError, HoldReview, MarkObjectiveMet, PlanCommand, RecordMeasure,
    RecordObjectiveProgress, RecordPresentingProblem, RecordSafetyPlan, ScheduleReview,
};
use crate::error::{FieldViolation, PlanError, SmartCriterion};
use crate::event::ReviewDecision;
use crate::event::{ConsentKind, MeasureTarget, PlanClosure, ReferralStatus, SignerRole};
use crate::event::{
    CorrectionTarget, DiagnosisAdded, EnteredInError, GoalAdded, GoalClosed, InterventionAdded,
    MeasureRecorded, Modality, ObjectiveAdded, ObjectiveMet, ObjectiveProgressRecorded,
    PlanCreated, PlanEvent, PresentingProblemRecorded, ReviewHeld, ReviewOrigin, ReviewScheduled,
    SafetyFlagAcknowledged, SafetyFlagRaised, SafetyPlanRecorded,
};
use crate::measure::{Instrument, raises_safety_flag};
use crate::{
    GoalId, InterventionId, MeasureId, ObjectiveId, PlanId, ReferralId, ReviewId, SafetyFlagId,
};

mod content;
mod from_template;
mod lifecycle;

pub use content::{checked_service_plan, target_score};
pub use lifecycle::MAX_REVIEW_INTERVAL_DAYS;

const MAX_ID: usize = 128;
const MAX_SHORT_TEXT: usize = 200;
const MAX_TEXT: usize = 4000;
const MAX_PARTICIPANTS: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanStatus {
    /// No `PlanCreated` yet: the stream is empty.
    New,
    /// Being written; not yet in force.
    Draft,
    Active,
    OnHold,
    Closed(PlanClosure),
}

impl std::fmt::Display for PlanStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::New => "not created",
            Self::Draft => "a draft",
            Self::Active => "active",
            Self::OnHold => "on hold",
            Self::Closed(PlanClosure::Completed) => "completed",
            Self::Closed(PlanClosure::Discharged) => "discharged",
            Self::Closed(PlanClosure::Transferred) => "transferred",
        })
    }
}

/// The people a plan belongs to, by their opaque ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CareAssignment {
    pub client_id: String,
    pub primary_clinician_id: String,
    pub clinic_id: String,
    /// The care team besides the primary clinician.
    pub care_team: Vec<String>,
}

impl CareAssignment {
    /// Whether `clinician` is on the plan's care team (primary included).
    pub fn treats(&self, clinician: &str) -> bool {
        self.primary_clinician_id == clinician || self.care_team.iter().any(|m| m == clinician)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct GoalState {
    open: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct ObjectiveState {
    /// `Some(true)` met, `Some(false)` closed as not met.
    outcome: Option<bool>,
    measure: Option<MeasureTarget>,
    /// As recorded when the objective was added: what a score must reach.
    target: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ReviewState {
    held: bool,
    origin: ReviewOrigin,
}

/// What the plan must remember to decide the next command: identities and
/// statuses, not the clinical text (that lives in the events and read models).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    id: Option<PlanId>,
    status: PlanStatus,
    care: Option<CareAssignment>,
    goals: BTreeMap<GoalId, GoalState>,
    objectives: BTreeMap<ObjectiveId, ObjectiveState>,
    reviews: BTreeMap<ReviewId, ReviewState>,
    interventions: BTreeSet<InterventionId>,
    diagnoses: BTreeSet<String>,
    /// Entries already marked entered in error.
    corrected: BTreeSet<CorrectionTarget>,
    /// Safety flags and whether each was acknowledged.
    safety_flags: BTreeMap<SafetyFlagId, bool>,
    payer: String,
    /// The content version signatures bind to; starts at 1.
    version: u32,
    /// Who signed the current version, in which role.
    signatures: BTreeMap<SignerRole, String>,
    consents: BTreeSet<ConsentKind>,
    referrals: BTreeMap<ReferralId, ReferralStatus>,
    /// Scores in the order recorded (which measures exist); the first
    /// uncorrected one of an instrument is its baseline.
    scores: Vec<(MeasureId, Instrument, u32)>,
    has_presenting_problem: bool,
    /// Template objectives still waiting for the client's numbers.
    drafts: BTreeMap<ObjectiveId, crate::event::ObjectiveDrafted>,
}

impl Default for Plan {
    fn default() -> Self {
        Self {
            id: None,
            status: PlanStatus::New,
            care: None,
            goals: BTreeMap::new(),
            objectives: BTreeMap::new(),
            reviews: BTreeMap::new(),
            interventions: BTreeSet::new(),
            diagnoses: BTreeSet::new(),
            corrected: BTreeSet::new(),
            safety_flags: BTreeMap::new(),
            payer: String::new(),
            version: 1,
            signatures: BTreeMap::new(),
            consents: BTreeSet::new(),
            referrals: BTreeMap::new(),
            scores: Vec::new(),
            has_presenting_problem: false,
            drafts: BTreeMap::new(),
        }
    }
}

impl Plan {
    /// Folds a history into the plan it describes.
    pub fn from_history<'a>(events: impl IntoIterator<Item = &'a PlanEvent>) -> Self {
        let mut plan = Self::default();
        for event in events {
            plan.evolve(event);
        }
        plan
    }

    pub fn id(&self) -> Option<PlanId> {
        self.id
    }

    pub fn status(&self) -> PlanStatus {
        self.status
    }

    /// Whose plan this is and who treats: what access decisions need.
    pub fn care(&self) -> Option<&CareAssignment> {
        self.care.as_ref()
    }

    /// The payer whose review rules apply; empty for the tenant default.
    pub fn payer(&self) -> &str {
        &self.payer
    }

    /// The content version signatures bind to.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Whether an entry still stands (was not entered in error).
    fn stands(&self, target: &CorrectionTarget) -> bool {
        !self.corrected.contains(target)
    }

    fn has_measure(&self, id: MeasureId) -> bool {
        self.scores.iter().any(|(m, _, _)| *m == id)
    }

    /// The first uncorrected score of `instrument`: its baseline.
    fn baseline(&self, instrument: Instrument) -> Option<u32> {
        self.scores
            .iter()
            .find(|(id, i, _)| {
                *i == instrument && !self.corrected.contains(&CorrectionTarget::Measure(*id))
            })
            .map(|(_, _, total)| *total)
    }

    /// Applies one event. Never fails: stored events are facts.
    pub fn evolve(&mut self, event: &PlanEvent) {
        match event {
            PlanEvent::PlanCreated(e) => {
                self.id = Some(e.plan_id);
                self.status = PlanStatus::Draft;
                self.payer.clone_from(&e.payer);
                self.care = Some(CareAssignment {
                    client_id: e.client_id.clone(),
                    primary_clinician_id: e.primary_clinician_id.clone(),
                    clinic_id: e.clinic_id.clone(),
                    care_team: Vec::new(),
                });
            }
            PlanEvent::GoalAdded(e) => {
                self.goals.insert(e.goal_id, GoalState { open: true });
            }
            PlanEvent::GoalClosed(e) => {
                self.goals.insert(e.goal_id, GoalState { open: false });
            }
            PlanEvent::ObjectiveDrafted(e) => {
                self.drafts.insert(e.objective_id, e.clone());
            }
            PlanEvent::ObjectiveAdded(e) => {
                self.drafts.remove(&e.objective_id);
                self.objectives.insert(
                    e.objective_id,
                    ObjectiveState {
                        outcome: None,
                        measure: e.measure,
                        target: e.target,
                    },
                );
            }
            PlanEvent::ObjectiveProgressRecorded(_) => {}
            PlanEvent::ObjectiveMet(e) => {
                if let Some(o) = self.objectives.get_mut(&e.objective_id) {
                    o.outcome = Some(true);
                }
            }
            PlanEvent::ObjectiveNotMet(e) => {
                if let Some(o) = self.objectives.get_mut(&e.objective_id) {
                    o.outcome = Some(false);
                }
            }
            PlanEvent::ReviewScheduled(e) => {
                self.reviews.insert(
                    e.review_id,
                    ReviewState {
                        held: false,
                        origin: e.origin,
                    },
                );
            }
            PlanEvent::ReviewHeld(e) => {
                self.reviews
                    .entry(e.review_id)
                    .or_insert(ReviewState {
                        held: false,
                        origin: ReviewOrigin::Unrecorded,
                    })
                    .held = true;
            }
            PlanEvent::MeasureRecorded(e) => {
                self.scores.push((e.measure_id, e.instrument, e.total));
            }
            PlanEvent::SafetyFlagRaised(e) => {
                self.safety_flags.insert(e.flag_id, false);
            }
            PlanEvent::SafetyFlagAcknowledged(e) => {
                self.safety_flags.insert(e.flag_id, true);
            }
            PlanEvent::InterventionAdded(e) => {
                self.interventions.insert(e.intervention_id);
            }
            PlanEvent::DiagnosisAdded(e) => {
                // Added again after a correction: it stands again.
                self.corrected
                    .remove(&CorrectionTarget::Diagnosis(e.code.clone()));
                self.diagnoses.insert(e.code.clone());
            }
            PlanEvent::EnteredInError(e) => {
                self.corrected.insert(e.target.clone());
            }
            PlanEvent::PresentingProblemRecorded(_) => self.has_presenting_problem = true,
            PlanEvent::ReferralAdded(e) => {
                self.referrals.insert(e.referral_id, e.status);
            }
            PlanEvent::ReferralStatusChanged(e) => {
                self.referrals.insert(e.referral_id, e.status);
            }
            PlanEvent::PlanActivated(_) | PlanEvent::PlanResumed(_) => {
                self.status = PlanStatus::Active;
            }
            PlanEvent::PlanPutOnHold(_) => self.status = PlanStatus::OnHold,
            PlanEvent::PlanClosed(e) => self.status = PlanStatus::Closed(e.closure),
            PlanEvent::ConsentRecorded(e) => {
                self.consents.insert(e.kind);
            }
            PlanEvent::PlanSigned(e) => {
                if e.version == self.version {
                    self.signatures.insert(e.role, e.signer_id.clone());
                }
            }
            PlanEvent::CareTeamAssigned(e) => {
                if let Some(care) = &mut self.care {
                    care.primary_clinician_id
                        .clone_from(&e.primary_clinician_id);
                    care.care_team.clone_from(&e.members);
                }
            }
            PlanEvent::PlanVersionStarted(e) => {
                self.version = e.version;
                self.signatures.clear();
            }
            PlanEvent::SafetyPlanRecorded(_)
            | PlanEvent::GoalRevised(_)
            | PlanEvent::ClinicalContextRecorded(_)
            | PlanEvent::ServicePlanRecorded(_)
            | PlanEvent::MeasureScheduled(_) => {}
        }
    }

    /// Decides what a command means for this plan, given today's date.
    pub fn decide(
        &self,
        command: &PlanCommand,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        match command {
            PlanCommand::CreatePlan(c) => return self.create(c, today),
            PlanCommand::CreatePlanFromTemplate(c) => return self.create_from_template(c, today),
            _ => {}
        }
        if self.status == PlanStatus::New {
            return Err(PlanError::PlanNotFound);
        }
        // A closed plan is a record: only corrections of it are accepted.
        if matches!(self.status, PlanStatus::Closed(_))
            && !matches!(command, PlanCommand::EnterInError(_))
        {
            return Err(PlanError::WrongStatus {
                status: self.status,
                action: command.name(),
            });
        }
        let mut events = self.decide_open(command, today)?;
        // A material change to signed content is a new version; the
        // signatures of the old one stay with it.
        // A correction of a closed record is not a new version of it.
        if !self.signatures.is_empty()
            && !matches!(self.status, PlanStatus::Closed(_))
            && events.iter().any(PlanEvent::is_material)
        {
            events.insert(
                0,
                PlanEvent::PlanVersionStarted(crate::event::PlanVersionStarted {
                    version: self.version + 1,
                    changed_by: command.name().to_owned(),
                }),
            );
        }
        Ok(events)
    }

    fn decide_open(
        &self,
        command: &PlanCommand,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        match command {
            PlanCommand::CreatePlan(_) | PlanCommand::CreatePlanFromTemplate(_) => {
                unreachable!("handled above")
            }
            PlanCommand::CompleteObjective(c) => self.complete_objective(c, today),
            PlanCommand::AddGoal(c) => self.add_goal(c),
            PlanCommand::CloseGoal(c) => self.close_goal(c, today),
            PlanCommand::AddObjective(c) => self.add_objective(c, today),
            PlanCommand::RecordObjectiveProgress(c) => self.record_progress(c, today),
            PlanCommand::MarkObjectiveMet(c) => self.mark_met(c, today),
            PlanCommand::ScheduleReview(c) => self.schedule_review(c, today),
            PlanCommand::HoldReview(c) => self.hold_review(c, today),
            PlanCommand::RecordMeasure(c) => self.record_measure(c, today),
            PlanCommand::AcknowledgeSafetyFlag(c) => self.acknowledge_flag(c, today),
            PlanCommand::RecordPresentingProblem(c) => Self::presenting_problem(c),
            PlanCommand::AddIntervention(c) => self.add_intervention(c),
            PlanCommand::AddDiagnosis(c) => self.add_diagnosis(c),
            PlanCommand::EnterInError(c) => self.enter_in_error(c),
            PlanCommand::RecordSafetyPlan(c) => Self::safety_plan(c),
            PlanCommand::ReviseGoal(c) => self.revise_goal(c),
            PlanCommand::MarkObjectiveNotMet(c) => self.mark_not_met(c, today),
            PlanCommand::RecordClinicalContext(c) => Self::clinical_context(c),
            PlanCommand::AddReferral(c) => self.add_referral(c),
            PlanCommand::ChangeReferralStatus(c) => self.change_referral(c, today),
            PlanCommand::RecordServicePlan(c) => Self::service_plan(c),
            PlanCommand::ScheduleMeasure(c) => Self::schedule_measure(c),
            PlanCommand::ActivatePlan(c) => self.activate(c, today),
            PlanCommand::PutPlanOnHold(c) => self.put_on_hold(c, today),
            PlanCommand::ResumePlan(_) => self.resume(today),
            PlanCommand::ClosePlan(c) => self.close(c, today),
            PlanCommand::RecordConsent(c) => Self::consent(c, today),
            PlanCommand::SignPlan(c) => self.sign(c, today),
            PlanCommand::AssignCareTeam(c) => Self::assign_care_team(c),
        }
    }

    fn create(&self, c: &CreatePlan, today: NaiveDate) -> Result<Vec<PlanEvent>, PlanError> {
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

    fn add_goal(&self, c: &AddGoal) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.required("description", &c.description, MAX_TEXT);
        v.finish()?;
        if self.goals.contains_key(&c.goal_id) {
            return Err(PlanError::GoalAlreadyExists(c.goal_id));
        }
        Ok(vec![PlanEvent::GoalAdded(GoalAdded {
            goal_id: c.goal_id,
            description: c.description.trim().to_owned(),
            term: c.term,
        })])
    }

    fn close_goal(&self, c: &CloseGoal, today: NaiveDate) -> Result<Vec<PlanEvent>, PlanError> {
        self.open_goal(c.goal_id)?;
        Ok(vec![PlanEvent::GoalClosed(GoalClosed {
            goal_id: c.goal_id,
            outcome: c.outcome,
            closed_on: today,
        })])
    }

    fn open_goal(&self, goal_id: GoalId) -> Result<(), PlanError> {
        match self.goals.get(&goal_id) {
            None => Err(PlanError::UnknownGoal(goal_id)),
            Some(GoalState { open: false }) => Err(PlanError::GoalClosed(goal_id)),
            Some(GoalState { open: true }) => Ok(()),
        }
    }

    fn add_objective(
        &self,
        c: &AddObjective,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        // A template placeholder's id is taken: it is completed, not added.
        if self.drafts.contains_key(&c.objective_id) {
            return Err(PlanError::ObjectiveAlreadyExists(c.objective_id));
        }
        self.decide_objective(c, today)
    }

    /// The SMART checks and the event of a new (or completed) objective.
    fn decide_objective(
        &self,
        c: &AddObjective,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.optional("description", &c.description, MAX_TEXT);
        if let Some(q) = &c.quantity {
            v.optional("quantity.unit", &q.unit, MAX_SHORT_TEXT);
            v.optional("quantity.period", &q.period, MAX_SHORT_TEXT);
            for (field, value) in [
                ("quantity.baseline", q.baseline),
                ("quantity.target", q.target),
            ] {
                if value.is_some_and(|x| !x.is_finite()) {
                    v.push(field, "must be a finite number");
                }
            }
        }
        v.finish()?;
        let smart = |criterion, field, description: &str| PlanError::NotSmart {
            criterion,
            field,
            description: description.to_owned(),
        };
        if c.description.trim().is_empty() {
            return Err(smart(
                SmartCriterion::Specific,
                "description",
                "describe the behaviour or outcome the objective is about",
            ));
        }
        if let Some(measure) = c.measure {
            if c.quantity.is_some() {
                return Err(PlanError::Invalid(vec![FieldViolation::new(
                    "measure",
                    "give a quantity or a measure, not both",
                )]));
            }
            return self.add_measure_objective(c, measure, today);
        }
        let Some(q) = &c.quantity else {
            return Err(smart(
                SmartCriterion::Measurable,
                "quantity",
                "a baseline, a target and a unit are required",
            ));
        };
        let Some(baseline) = q.baseline else {
            return Err(smart(
                SmartCriterion::Measurable,
                "quantity.baseline",
                "a baseline is required",
            ));
        };
        let Some(target) = q.target else {
            return Err(smart(
                SmartCriterion::Measurable,
                "quantity.target",
                "a target is required",
            ));
        };
        if q.unit.trim().is_empty() {
            return Err(smart(
                SmartCriterion::Measurable,
                "quantity.unit",
                "a unit is required",
            ));
        }
        #[allow(clippy::float_cmp)] // exact equality is the rule: no change asked for
        if baseline == target {
            return Err(smart(
                SmartCriterion::Achievable,
                "quantity.target",
                "the target must differ from the baseline",
            ));
        }
        let target_date = self.time_bound_and_placed(c, today)?;
        Ok(vec![PlanEvent::ObjectiveAdded(ObjectiveAdded {
            objective_id: c.objective_id,
            goal_id: c.goal_id,
            description: c.description.trim().to_owned(),
            baseline,
            target,
            unit: q.unit.trim().to_owned(),
            period: q.period.trim().to_owned(),
            target_date,
            measure: None,
        })])
    }

    /// The T of SMART, then where the objective goes: an open goal, a
    /// fresh id. Returns the target date.
    fn time_bound_and_placed(
        &self,
        c: &AddObjective,
        today: NaiveDate,
    ) -> Result<NaiveDate, PlanError> {
        let not_time_bound = |description: &str| PlanError::NotSmart {
            criterion: SmartCriterion::TimeBound,
            field: "target_date",
            description: description.to_owned(),
        };
        let Some(target_date) = c.target_date else {
            return Err(not_time_bound("a target date is required"));
        };
        if target_date <= today {
            return Err(not_time_bound("the target date must be in the future"));
        }
        self.open_goal(c.goal_id)?;
        if self.objectives.contains_key(&c.objective_id) {
            return Err(PlanError::ObjectiveAlreadyExists(c.objective_id));
        }
        Ok(target_date)
    }

    fn objective(&self, id: ObjectiveId) -> Result<ObjectiveState, PlanError> {
        if self.drafts.contains_key(&id) {
            return Err(PlanError::ObjectiveIncomplete(id));
        }
        self.objectives
            .get(&id)
            .copied()
            .ok_or(PlanError::UnknownObjective(id))
    }

    fn record_progress(
        &self,
        c: &RecordObjectiveProgress,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        if !c.value.is_finite() {
            v.push("value", "must be a finite number");
        }
        if c.observed_on > today {
            v.push("observed_on", "must not be in the future");
        }
        v.optional("note", &c.note, MAX_TEXT);
        v.finish()?;
        self.objective(c.objective_id)?;
        Ok(vec![PlanEvent::ObjectiveProgressRecorded(
            ObjectiveProgressRecorded {
                objective_id: c.objective_id,
                value: c.value,
                observed_on: c.observed_on,
                source: c.source,
                note: c.note.trim().to_owned(),
            },
        )])
    }

    /// An objective that is neither met nor closed as not met.
    fn open_objective(&self, id: ObjectiveId) -> Result<ObjectiveState, PlanError> {
        let objective = self.objective(id)?;
        match objective.outcome {
            None => Ok(objective),
            Some(true) => Err(PlanError::ObjectiveAlreadyMet(id)),
            Some(false) => Err(PlanError::ObjectiveClosed(id)),
        }
    }

    fn mark_met(
        &self,
        c: &MarkObjectiveMet,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        self.open_objective(c.objective_id)?;
        Ok(vec![PlanEvent::ObjectiveMet(ObjectiveMet {
            objective_id: c.objective_id,
            met_on: today,
            by_measure: None,
        })])
    }

    fn schedule_review(
        &self,
        c: &ScheduleReview,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        if c.due_on < today {
            return Err(PlanError::Invalid(vec![FieldViolation::new(
                "due_on",
                "must not be in the past",
            )]));
        }
        if self.reviews.contains_key(&c.review_id) {
            return Err(PlanError::ReviewAlreadyScheduled(c.review_id));
        }
        Ok(vec![PlanEvent::ReviewScheduled(ReviewScheduled {
            review_id: c.review_id,
            due_on: c.due_on,
            origin: ReviewOrigin::ByHand,
        })])
    }

    fn hold_review(&self, c: &HoldReview, today: NaiveDate) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        if c.held_on > today {
            v.push("held_on", "must not be in the future");
        }
        if c.participants.is_empty() {
            v.push("participants", "name at least one participant");
        }
        if c.participants.len() > MAX_PARTICIPANTS {
            v.push(
                "participants",
                format!("at most {MAX_PARTICIPANTS} participants"),
            );
        }
        for p in &c.participants {
            v.required("participants", p, MAX_SHORT_TEXT);
        }
        v.required("summary", &c.summary, MAX_TEXT);
        v.finish()?;
        match self.reviews.get(&c.review_id) {
            None => return Err(PlanError::UnknownReview(c.review_id)),
            Some(ReviewState { held: true, .. }) => {
                return Err(PlanError::ReviewAlreadyHeld(c.review_id));
            }
            Some(ReviewState { held: false, .. }) => {}
        }
        if !self.stands(&CorrectionTarget::Review(c.review_id)) {
            return Err(PlanError::EnteredInError);
        }
        let next_due = match c.next_review {
            Some(next) => Some(next_review_due(c.held_on, next)?),
            None => None,
        };
        let mut events = vec![PlanEvent::ReviewHeld(ReviewHeld {
            review_id: c.review_id,
            held_on: c.held_on,
            participants: c.participants.iter().map(|p| p.trim().to_owned()).collect(),
            summary: c.summary.trim().to_owned(),
            decision: c.decision,
        })];
        if c.decision == ReviewDecision::Discharge {
            events.push(PlanEvent::PlanClosed(crate::event::PlanClosed {
                closure: PlanClosure::Discharged,
                closed_on: c.held_on,
                reason: "discharge decided at review".to_owned(),
            }));
        } else if let (Some(next), Some(due_on)) = (c.next_review, next_due)
            && !self.reviews.contains_key(&next.review_id)
            && !self.has_open_rule_review_besides(c.review_id)
        {
            // Holding any review continues the rule's cadence, unless the
            // rule's next review is already on the calendar; a review
            // scheduled by hand is an extra one and does not stop it.
            events.push(PlanEvent::ReviewScheduled(ReviewScheduled {
                review_id: next.review_id,
                due_on,
                origin: ReviewOrigin::Rule,
            }));
        }
        Ok(events)
    }
}

impl Plan {
    fn record_measure(
        &self,
        c: &RecordMeasure,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let instrument = c.instrument;
        let mut v = Violations::default();
        let (low, high) = instrument.item_range();
        let (min_total, max_total) = instrument.total_range();
        if c.administered_on > today {
            v.push("administered_on", "must not be in the future");
        }
        let total = if c.answers.is_empty() {
            match c.total {
                None => {
                    v.push("answers", "give the item answers or a total");
                    None
                }
                Some(t) if (min_total..=max_total).contains(&t) => Some(t),
                Some(_) => {
                    v.push(
                        "total",
                        format!("must be between {min_total} and {max_total}"),
                    );
                    None
                }
            }
        } else if c.answers.len() != instrument.items() {
            v.push(
                "answers",
                format!("this questionnaire has {} items", instrument.items()),
            );
            None
        } else if c.answers.iter().any(|a| !(low..=high).contains(a)) {
            v.push(
                "answers",
                format!("each answer must be between {low} and {high}"),
            );
            None
        } else {
            let scored = instrument.score(&c.answers);
            if c.total.is_some_and(|t| t != scored) {
                v.push("total", "does not match the answers");
            }
            Some(scored)
        };
        v.finish()?;
        let total = total.expect("a valid measure has a total");
        if self.has_measure(c.measure_id) {
            return Err(PlanError::MeasureAlreadyRecorded(c.measure_id));
        }
        let mut events = vec![PlanEvent::MeasureRecorded(MeasureRecorded {
            measure_id: c.measure_id,
            instrument,
            answers: c.answers.clone(),
            total,
            administered_on: c.administered_on,
            source: c.source,
        })];
        events.extend(self.objectives_met_by(c.measure_id, instrument, total, today));
        if raises_safety_flag(instrument, &c.answers) {
            events.push(PlanEvent::SafetyFlagRaised(SafetyFlagRaised {
                flag_id: SafetyFlagId(c.measure_id.0),
                measure_id: c.measure_id,
                raised_on: today,
            }));
        }
        Ok(events)
    }

    fn acknowledge_flag(
        &self,
        c: &AcknowledgeSafetyFlag,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.optional("note", &c.note, MAX_TEXT);
        v.finish()?;
        match self.safety_flags.get(&c.flag_id) {
            None => Err(PlanError::UnknownSafetyFlag(c.flag_id)),
            Some(true) => Err(PlanError::SafetyFlagAlreadyAcknowledged(c.flag_id)),
            Some(false) => Ok(vec![PlanEvent::SafetyFlagAcknowledged(
                SafetyFlagAcknowledged {
                    flag_id: c.flag_id,
                    acknowledged_on: today,
                    note: c.note.trim().to_owned(),
                },
            )]),
        }
    }
}

const MAX_LIST: usize = 50;

impl Plan {
    fn presenting_problem(c: &RecordPresentingProblem) -> Result<Vec<PlanEvent>, PlanError> {
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

    fn enter_in_error(&self, c: &EnterInError) -> Result<Vec<PlanEvent>, PlanError> {
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

    fn add_diagnosis(&self, c: &AddDiagnosis) -> Result<Vec<PlanEvent>, PlanError> {
        let code = c.code.trim().to_ascii_uppercase();
        let Some(description) = crate::diagnosis::describe(&code) else {
            // The caller's own code, named so they can correct it.
            let problem = if code.is_empty() {
                "is required".to_owned()
            } else {
                format!("{code} is not a billable ICD-10-CM behavioural-health code")
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

    fn add_intervention(&self, c: &AddIntervention) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        if let Modality::Other(name) = &c.modality {
            v.required("modality", name, MAX_SHORT_TEXT);
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

    fn safety_plan(c: &RecordSafetyPlan) -> Result<Vec<PlanEvent>, PlanError> {
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
    /// An open review other than `except` that still stands.
    fn has_open_review_besides(&self, except: ReviewId) -> bool {
        self.open_reviews_besides(except).next().is_some()
    }

    /// An open review other than `except`, scheduled by the rule (or
    /// stored before origins were recorded), that still stands.
    fn has_open_rule_review_besides(&self, except: ReviewId) -> bool {
        self.open_reviews_besides(except)
            .any(|r| r.origin != ReviewOrigin::ByHand)
    }

    fn open_reviews_besides(&self, except: ReviewId) -> impl Iterator<Item = &ReviewState> {
        self.reviews.iter().filter_map(move |(id, r)| {
            (*id != except && !r.held && self.stands(&CorrectionTarget::Review(*id))).then_some(r)
        })
    }
}

/// The date a review is due `next.interval_days` after `from`; the
/// interval is the tenant's rule, checked here all the same.
fn next_review_due(
    from: NaiveDate,
    next: crate::command::NextReview,
) -> Result<NaiveDate, PlanError> {
    let out_of_range = || {
        PlanError::Invalid(vec![FieldViolation::new(
            "interval_days",
            format!("must be between 1 and {MAX_REVIEW_INTERVAL_DAYS}"),
        )])
    };
    if !(1..=MAX_REVIEW_INTERVAL_DAYS).contains(&next.interval_days) {
        return Err(out_of_range());
    }
    from.checked_add_days(chrono::Days::new(u64::from(next.interval_days)))
        .ok_or_else(out_of_range)
}

/// Collects every field problem of a command so the caller sees them all at once.
#[derive(Default)]
struct Violations(Vec<FieldViolation>);

impl Violations {
    fn push(&mut self, field: &'static str, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    fn required(&mut self, field: &'static str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.push(field, "is required");
        } else {
            self.optional(field, value, max);
        }
    }

    fn optional(&mut self, field: &'static str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.push(field, format!("must be at most {max} characters"));
        }
    }

    fn list(&mut self, field: &'static str, len: usize) {
        if len > MAX_LIST {
            self.push(field, format!("at most {MAX_LIST} entries"));
        }
    }

    fn finish(self) -> Result<(), PlanError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(PlanError::Invalid(self.0))
        }
    }
}

#[cfg(test)]
mod tests;
