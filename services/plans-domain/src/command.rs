use chrono::NaiveDate;

use crate::event::TemplateRef;
use crate::event::{
    ConsentKind, CorrectionTarget, CrisisContact, MeasureTarget, Modality, PlanClosure,
    ReferralStatus, SignerRole, Support, Symptom,
};
use crate::measure::Instrument;
use crate::template::PlanTemplate;
use crate::{
    GoalId, GoalOutcome, GoalTerm, InterventionId, MeasureId, ObjectiveId, PlanId, ProgressSource,
    ReferralId, ReviewDecision, ReviewId, SafetyFlagId,
};

#[derive(Debug, Clone, PartialEq)]
pub struct CreatePlan {
    pub plan_id: PlanId,
    pub client_id: String,
    pub primary_clinician_id: String,
    pub clinic_id: String,
    pub title: String,
    /// Whose review rules apply; empty for the tenant's default.
    pub payer: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AddGoal {
    pub goal_id: GoalId,
    pub description: String,
    pub term: GoalTerm,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CloseGoal {
    pub goal_id: GoalId,
    pub outcome: GoalOutcome,
}

/// A quantity an objective moves from `baseline` to `target`, counted in
/// `unit` per `period` ("panic attacks", 4 → 1, per "week"). Every part is
/// optional on input so a missing one can be named as the SMART failure.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QuantityTarget {
    pub baseline: Option<f64>,
    pub target: Option<f64>,
    pub unit: String,
    pub period: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AddObjective {
    pub objective_id: ObjectiveId,
    pub goal_id: GoalId,
    pub description: String,
    pub quantity: Option<QuantityTarget>,
    /// Instead of a quantity: a questionnaire score to bring down.
    pub measure: Option<MeasureTarget>,
    pub target_date: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordObjectiveProgress {
    pub objective_id: ObjectiveId,
    pub value: f64,
    pub observed_on: NaiveDate,
    pub source: ProgressSource,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MarkObjectiveMet {
    pub objective_id: ObjectiveId,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ScheduleReview {
    pub review_id: ReviewId,
    pub due_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HoldReview {
    pub review_id: ReviewId,
    pub held_on: NaiveDate,
    pub participants: Vec<String>,
    pub summary: String,
    pub decision: ReviewDecision,
    /// The next review, scheduled by the tenant's rule unless the decision
    /// is to discharge. The service fills it in.
    pub next_review: Option<NextReview>,
}

/// A review to schedule `interval_days` after a date.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NextReview {
    pub review_id: ReviewId,
    pub interval_days: u32,
}

/// A questionnaire's answers (or only its total, when that is all there is).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordMeasure {
    pub measure_id: MeasureId,
    pub instrument: Instrument,
    pub answers: Vec<u8>,
    pub total: Option<u32>,
    pub administered_on: NaiveDate,
    pub source: ProgressSource,
}

/// Questionnaires one `RecordMeasures` may hold.
pub const MAX_MEASURES_AT_ONCE: usize = 50;

/// Several questionnaires of one plan, recorded together or not at all:
/// each judged by `RecordMeasure`'s rules against the plan as the ones
/// before it leave it (a FHIR transaction arrives so).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordMeasures {
    pub measures: Vec<RecordMeasure>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AcknowledgeSafetyFlag {
    pub flag_id: SafetyFlagId,
    pub note: String,
}

/// Marks an earlier entry as entered in error; the reason is required and
/// goes into the event's provenance.
#[derive(Debug, Clone, PartialEq)]
pub struct EnterInError {
    pub target: CorrectionTarget,
    pub reason: String,
}

/// A diagnosis by ICD-10-CM code.
#[derive(Debug, Clone, PartialEq)]
pub struct AddDiagnosis {
    pub code: String,
    pub primary: bool,
}

/// The presenting problem, in the client's and clinician's words; a later
/// one replaces it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordPresentingProblem {
    pub narrative: String,
    pub symptoms: Vec<Symptom>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AddIntervention {
    pub intervention_id: InterventionId,
    pub modality: Modality,
    pub technique: String,
    pub frequency: String,
    pub goal_ids: Vec<GoalId>,
    pub comorbidity: String,
}

/// The crisis and safety plan; a later one replaces it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordSafetyPlan {
    pub warning_signs: Vec<String>,
    pub coping_steps: Vec<String>,
    pub contacts: Vec<CrisisContact>,
    pub crisis_lines: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ReviseGoal {
    pub goal_id: GoalId,
    pub description: String,
    pub reason: String,
}

/// A new target or target date for an objective, and why; at least one
/// of the two changes.
#[derive(Debug, Clone, PartialEq)]
pub struct ReviseObjective {
    pub objective_id: ObjectiveId,
    pub target: Option<f64>,
    pub target_date: Option<NaiveDate>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct MarkObjectiveNotMet {
    pub objective_id: ObjectiveId,
    pub reason: String,
}

/// Strengths, barriers and supports; a later record replaces it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordClinicalContext {
    pub strengths: Vec<String>,
    pub barriers: Vec<String>,
    pub supports: Vec<Support>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AddReferral {
    pub referral_id: ReferralId,
    pub to: String,
    pub reason: String,
    pub status: ReferralStatus,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ChangeReferralStatus {
    pub referral_id: ReferralId,
    pub status: ReferralStatus,
}

/// The service plan; a later one replaces it.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordServicePlan {
    pub session_type: String,
    pub minutes: u32,
    pub frequency: String,
    pub sessions_min: u32,
    pub sessions_max: u32,
    pub focus: String,
    pub maintenance: String,
    pub monitoring: Vec<String>,
}

/// Administer `instrument` every `interval_days`; zero takes it off the
/// schedule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScheduleMeasure {
    pub instrument: Instrument,
    pub interval_days: u32,
}

/// Draft → active. The first review is scheduled by the tenant's rule.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ActivatePlan {
    pub first_review: NextReview,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PutPlanOnHold {
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ResumePlan;

#[derive(Debug, Clone, PartialEq)]
pub struct ClosePlan {
    pub closure: PlanClosure,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct RecordConsent {
    pub kind: ConsentKind,
    pub given_on: NaiveDate,
    pub note: String,
}

/// Signs the plan's current version as `role`; the signer is the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct SignPlan {
    pub role: SignerRole,
    pub signer_id: String,
}

/// A new plan with a template's goals, objective placeholders,
/// interventions, measure schedule and service plan.
#[derive(Debug, Clone, PartialEq)]
pub struct CreatePlanFromTemplate {
    pub create: CreatePlan,
    pub template_id: String,
    /// The template's current version; the service looks it up.
    pub resolved: Option<(TemplateRef, PlanTemplate)>,
}

/// Fills in a template placeholder with the client's numbers; an empty
/// description keeps the template's wording.
#[derive(Debug, Clone, PartialEq)]
pub struct CompleteObjective {
    pub objective_id: ObjectiveId,
    pub description: String,
    pub quantity: Option<QuantityTarget>,
    pub target_date: Option<NaiveDate>,
}

/// Admin or supervisor: who treats under the plan. `members` are the
/// care team besides the primary clinician.
#[derive(Debug, Clone, PartialEq)]
pub struct AssignCareTeam {
    pub primary_clinician_id: String,
    pub members: Vec<String>,
}

/// Admin: erase the plan's content with its client's key. Without an
/// override the plan must be closed and `retention_years` past its
/// closing; `override_reason` states the legal basis for erasing sooner
/// (it is kept in clear: no PHI in it).
#[derive(Debug, Clone, PartialEq)]
pub struct EraseClientContent {
    pub retention_years: u32,
    pub override_reason: Option<String>,
}

/// What a clinician asks of a plan, in the imperative.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanCommand {
    CreatePlan(CreatePlan),
    AddGoal(AddGoal),
    CloseGoal(CloseGoal),
    AddObjective(AddObjective),
    RecordObjectiveProgress(RecordObjectiveProgress),
    MarkObjectiveMet(MarkObjectiveMet),
    ScheduleReview(ScheduleReview),
    HoldReview(HoldReview),
    RecordMeasure(RecordMeasure),
    RecordMeasures(RecordMeasures),
    AcknowledgeSafetyFlag(AcknowledgeSafetyFlag),
    RecordPresentingProblem(RecordPresentingProblem),
    AddDiagnosis(AddDiagnosis),
    AddIntervention(AddIntervention),
    EnterInError(EnterInError),
    RecordSafetyPlan(RecordSafetyPlan),
    ReviseGoal(ReviseGoal),
    MarkObjectiveNotMet(MarkObjectiveNotMet),
    RecordClinicalContext(RecordClinicalContext),
    AddReferral(AddReferral),
    ChangeReferralStatus(ChangeReferralStatus),
    RecordServicePlan(RecordServicePlan),
    ScheduleMeasure(ScheduleMeasure),
    ActivatePlan(ActivatePlan),
    PutPlanOnHold(PutPlanOnHold),
    ResumePlan(ResumePlan),
    ClosePlan(ClosePlan),
    RecordConsent(RecordConsent),
    SignPlan(SignPlan),
    CreatePlanFromTemplate(Box<CreatePlanFromTemplate>),
    CompleteObjective(CompleteObjective),
    AssignCareTeam(AssignCareTeam),
    ReviseObjective(ReviseObjective),
    EraseClientContent(EraseClientContent),
}

impl PlanCommand {
    /// Why, for commands that must say: recorded in every event's envelope.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Self::EnterInError(c) => Some(c.reason.trim()),
            Self::ReviseGoal(c) => Some(c.reason.trim()),
            Self::ReviseObjective(c) => Some(c.reason.trim()),
            Self::MarkObjectiveNotMet(c) => Some(c.reason.trim()),
            Self::PutPlanOnHold(c) => Some(c.reason.trim()),
            Self::ClosePlan(c) => Some(c.reason.trim()),
            Self::EraseClientContent(c) => c.override_reason.as_deref().map(str::trim),
            _ => None,
        }
    }

    /// Name used in telemetry and errors; never carries content.
    pub fn name(&self) -> &'static str {
        match self {
            Self::CreatePlan(_) => "CreatePlan",
            Self::AddGoal(_) => "AddGoal",
            Self::CloseGoal(_) => "CloseGoal",
            Self::AddObjective(_) => "AddObjective",
            Self::RecordObjectiveProgress(_) => "RecordObjectiveProgress",
            Self::MarkObjectiveMet(_) => "MarkObjectiveMet",
            Self::ScheduleReview(_) => "ScheduleReview",
            Self::HoldReview(_) => "HoldReview",
            Self::RecordMeasure(_) => "RecordMeasure",
            Self::RecordMeasures(_) => "RecordMeasures",
            Self::AcknowledgeSafetyFlag(_) => "AcknowledgeSafetyFlag",
            Self::RecordPresentingProblem(_) => "RecordPresentingProblem",
            Self::AddDiagnosis(_) => "AddDiagnosis",
            Self::EnterInError(_) => "EnterInError",
            Self::AddIntervention(_) => "AddIntervention",
            Self::RecordSafetyPlan(_) => "RecordSafetyPlan",
            Self::ReviseGoal(_) => "ReviseGoal",
            Self::ReviseObjective(_) => "ReviseObjective",
            Self::MarkObjectiveNotMet(_) => "MarkObjectiveNotMet",
            Self::RecordClinicalContext(_) => "RecordClinicalContext",
            Self::AddReferral(_) => "AddReferral",
            Self::ChangeReferralStatus(_) => "ChangeReferralStatus",
            Self::RecordServicePlan(_) => "RecordServicePlan",
            Self::ScheduleMeasure(_) => "ScheduleMeasure",
            Self::ActivatePlan(_) => "ActivatePlan",
            Self::PutPlanOnHold(_) => "PutPlanOnHold",
            Self::ResumePlan(_) => "ResumePlan",
            Self::ClosePlan(_) => "ClosePlan",
            Self::RecordConsent(_) => "RecordConsent",
            Self::SignPlan(_) => "SignPlan",
            Self::CreatePlanFromTemplate(_) => "CreatePlanFromTemplate",
            Self::CompleteObjective(_) => "CompleteObjective",
            Self::AssignCareTeam(_) => "AssignCareTeam",
            Self::EraseClientContent(_) => "EraseClientContent",
        }
    }
}
