use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::codec::{Upcast, stored_events};
use crate::measure::Instrument;
pub use crate::status::PlanClosure;
use crate::status::PlanStatus;
use crate::{
    GoalId, InterventionId, MeasureId, ObjectiveId, PlanId, ReferralId, ReviewId, SafetyFlagId,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalTerm {
    /// 0–3 months.
    ShortTerm,
    /// 3–12 months.
    LongTerm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalOutcome {
    Achieved,
    Discontinued,
}

/// Who reported a progress entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProgressSource {
    Clinician,
    ClientSelfReport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewDecision {
    Continue,
    Revise,
    Discharge,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanCreated {
    pub plan_id: PlanId,
    /// Opaque reference to the client in the clinic's records; not a name.
    pub client_id: String,
    pub primary_clinician_id: String,
    pub clinic_id: String,
    pub title: String,
    pub created_on: NaiveDate,
    /// The template the plan was made from, if any.
    #[serde(default)]
    pub template: Option<TemplateRef>,
    /// The payer whose review rules apply (e.g. "medicaid"); empty for
    /// self-pay or when not yet known.
    #[serde(default)]
    pub payer: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalAdded {
    pub goal_id: GoalId,
    pub description: String,
    pub term: GoalTerm,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalClosed {
    pub goal_id: GoalId,
    pub outcome: GoalOutcome,
    pub closed_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveAdded {
    pub objective_id: ObjectiveId,
    pub goal_id: GoalId,
    pub description: String,
    pub baseline: f64,
    pub target: f64,
    pub unit: String,
    /// The period the quantity is counted over, e.g. "week"; empty for a level.
    pub period: String,
    pub target_date: NaiveDate,
    /// Set for an objective evaluated from a questionnaire's scores; its
    /// baseline is the first score and its target follows from the share.
    #[serde(default)]
    pub measure: Option<MeasureTarget>,
}

/// "PHQ-9 at least 60% below baseline": met automatically when a score
/// reaches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasureTarget {
    pub instrument: Instrument,
    /// Reduction from the baseline score, in percent (1–100).
    pub reduction_percent: u8,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveProgressRecorded {
    pub objective_id: ObjectiveId,
    pub value: f64,
    pub observed_on: NaiveDate,
    pub source: ProgressSource,
    pub note: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveMet {
    pub objective_id: ObjectiveId,
    pub met_on: NaiveDate,
    /// Set when a score met a measure-based objective, not a clinician.
    #[serde(default)]
    pub by_measure: Option<MeasureId>,
}

/// An objective from a template, waiting for the client's own baseline,
/// target and date; completing it records an [`ObjectiveAdded`] with the
/// same id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveDrafted {
    pub objective_id: ObjectiveId,
    pub goal_id: GoalId,
    pub description: String,
    pub unit: String,
    pub period: String,
    pub measure: Option<MeasureTarget>,
}

/// The objective's time ran out, or it no longer fits, without it being met.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectiveNotMet {
    pub objective_id: ObjectiveId,
    pub closed_on: NaiveDate,
    pub reason: String,
}

/// A goal reworded; the reason says why (e.g. a review decided to revise).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoalRevised {
    pub goal_id: GoalId,
    pub description: String,
    pub reason: String,
}

/// An objective's target or target date changed; the reason says why. The
/// values before stay in the history (and in the read model's revisions).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveRevised {
    pub objective_id: ObjectiveId,
    /// The new target, when it changed.
    pub target: Option<f64>,
    /// The new target date, when it changed.
    pub target_date: Option<NaiveDate>,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewScheduled {
    pub review_id: ReviewId,
    pub due_on: NaiveDate,
    /// Since schema version 2; older events read as `Unrecorded`.
    pub origin: ReviewOrigin,
}

/// Why a review is on the plan's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewOrigin {
    /// Scheduled by the tenant's review rule, at activation or when a
    /// review was held: the plan's regular cadence.
    Rule,
    /// Scheduled by a clinician (`ScheduleReview`), besides the cadence.
    ByHand,
    /// Stored before the origin was recorded (schema version 1).
    Unrecorded,
}

/// Version 1 did not say where a review came from, and the event alone
/// cannot tell: such reviews read as `Unrecorded`.
const REVIEW_SCHEDULED_UPCASTS: &[Upcast] = &[Upcast {
    from: 1,
    apply: |fields| {
        fields
            .entry("origin")
            .or_insert_with(|| serde_json::Value::from("unrecorded"));
    },
}];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewHeld {
    pub review_id: ReviewId,
    pub held_on: NaiveDate,
    pub participants: Vec<String>,
    pub summary: String,
    pub decision: ReviewDecision,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureRecorded {
    pub measure_id: MeasureId,
    pub instrument: Instrument,
    /// Item answers as given; empty when only a total was recorded.
    pub answers: Vec<u8>,
    pub total: u32,
    pub administered_on: NaiveDate,
    pub source: ProgressSource,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SafetyFlagRaised {
    pub flag_id: SafetyFlagId,
    pub measure_id: MeasureId,
    pub raised_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SafetyFlagAcknowledged {
    pub flag_id: SafetyFlagId,
    pub acknowledged_on: NaiveDate,
    pub note: String,
}

/// What an entered-in-error correction points at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "id")]
pub enum CorrectionTarget {
    Goal(GoalId),
    Objective(ObjectiveId),
    Intervention(InterventionId),
    Measure(MeasureId),
    Referral(ReferralId),
    Review(ReviewId),
    /// By ICD-10-CM code.
    Diagnosis(String),
}

/// An earlier entry was a mistake. Nothing is edited or deleted: this
/// event says so, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnteredInError {
    pub target: CorrectionTarget,
    pub reason: String,
}

/// A diagnosis on the plan; exactly one is primary.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiagnosisAdded {
    /// ICD-10-CM code, e.g. F41.1.
    pub code: String,
    /// The official description of the code.
    pub description: String,
    /// The primary diagnosis; a new primary demotes the previous one.
    pub primary: bool,
}

/// A symptom as the client describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Symptom {
    pub name: String,
    /// e.g. "nightly", "3-4 times a week".
    pub frequency: String,
    /// e.g. "moderate".
    pub intensity: String,
    /// e.g. "childhood", "one month ago".
    pub onset: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresentingProblemRecorded {
    pub narrative: String,
    pub symptoms: Vec<Symptom>,
}

/// The therapeutic approaches a plan may name; "other" carries its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "name")]
pub enum Modality {
    Cbt,
    Dbt,
    Act,
    Mbsr,
    Exposure,
    FamilyTherapy,
    Psychoeducation,
    RelaxationTraining,
    BehaviouralActivation,
    SleepHygiene,
    MotivationalInterviewing,
    Other(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterventionAdded {
    pub intervention_id: InterventionId,
    pub modality: Modality,
    pub technique: String,
    pub frequency: String,
    pub goal_ids: Vec<GoalId>,
    /// A comorbid issue this intervention addresses (e.g. "alcohol use"),
    /// empty for the primary problem.
    #[serde(default)]
    pub comorbidity: String,
}

/// Someone to call in a crisis.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrisisContact {
    pub name: String,
    pub relationship: String,
    pub phone: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SafetyPlanRecorded {
    pub warning_signs: Vec<String>,
    pub coping_steps: Vec<String>,
    pub contacts: Vec<CrisisContact>,
    /// e.g. "988 Suicide & Crisis Lifeline".
    pub crisis_lines: Vec<String>,
}

/// Who supports the client, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SupportKind {
    Family,
    Social,
    Community,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Support {
    pub kind: SupportKind,
    /// How the support is involved, e.g. "educate partner on GAD symptoms".
    pub involvement: String,
}

/// Strengths, barriers and supports; a later record replaces it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClinicalContextRecorded {
    pub strengths: Vec<String>,
    pub barriers: Vec<String>,
    pub supports: Vec<Support>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReferralStatus {
    /// To be made if a condition holds ("if symptoms persist").
    Planned,
    Made,
    Completed,
    Declined,
}

/// Collaborative care: to whom, why, and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralAdded {
    pub referral_id: ReferralId,
    /// e.g. "psychiatrist", "primary care physician".
    pub to: String,
    pub reason: String,
    pub status: ReferralStatus,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReferralStatusChanged {
    pub referral_id: ReferralId,
    pub status: ReferralStatus,
    pub changed_on: NaiveDate,
}

/// What payers ask for: which sessions, how long, how often, how many.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePlanRecorded {
    /// e.g. "individual psychotherapy".
    pub session_type: String,
    pub minutes: u32,
    /// e.g. "weekly".
    pub frequency: String,
    /// Expected number of sessions, as a range ("12-16 sessions").
    pub sessions_min: u32,
    pub sessions_max: u32,
    /// What the sessions focus on.
    pub focus: String,
    /// After the active phase, e.g. "maintenance sessions every 4-6 weeks".
    pub maintenance: String,
    /// Monitoring beyond the scheduled questionnaires, e.g. "weekly
    /// symptom diary".
    pub monitoring: Vec<String>,
}

/// A questionnaire to administer every `interval_days`; zero stops it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasureScheduled {
    pub instrument: Instrument,
    pub interval_days: u32,
}

/// The plan leaves draft and treatment under it begins.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanActivated {
    pub activated_on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanPutOnHold {
    pub on: NaiveDate,
    pub reason: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanResumed {
    pub on: NaiveDate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanClosed {
    pub closure: PlanClosure,
    pub closed_on: NaiveDate,
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentKind {
    /// Consent to treatment under this plan.
    Treatment,
    /// Consent to share information with the named referral or payer.
    InformationRelease,
    Telehealth,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentRecorded {
    pub kind: ConsentKind,
    pub given_on: NaiveDate,
    /// e.g. to whom information may be released.
    pub note: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SignerRole {
    Clinician,
    Client,
    Supervisor,
}

/// A signature binds to one plan version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSigned {
    pub version: u32,
    pub role: SignerRole,
    pub signer_id: String,
    pub signed_on: NaiveDate,
}

/// A material change after signing: the plan's content is a new version
/// and its signatures are pending again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanVersionStarted {
    pub version: u32,
    /// The command whose change started it, e.g. "AddGoal".
    pub changed_by: String,
}

/// Who treats under the plan: the primary clinician and the rest of the
/// care team (clinician ids), replacing the previous assignment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CareTeamAssigned {
    pub primary_clinician_id: String,
    pub members: Vec<String>,
}

/// Why a client's content was erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErasureBasis {
    /// The plan was closed and the tenant's retention period is over.
    RetentionElapsed,
    /// Before that, on a stated legal basis (the reason, in the envelope).
    Override,
}

/// What a plan held when its client was erased, counted: the erased plan
/// keeps its shape, not its content.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanShape {
    pub goals: u32,
    pub objectives: u32,
    pub interventions: u32,
    pub diagnoses: u32,
    pub reviews: u32,
    pub measures: u32,
    pub signatures: u32,
}

/// The client's data key was destroyed: every earlier event of the plan
/// reads as erased. Stored in clear (its key is gone) and so holds no PHI:
/// staff ids, counts, the date and the basis; no client id, no content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientErased {
    pub plan_id: PlanId,
    pub erased_on: NaiveDate,
    pub basis: ErasureBasis,
    pub clinic_id: String,
    pub primary_clinician_id: String,
    pub care_team: Vec<String>,
    /// The plan's status when erased.
    pub status: PlanStatus,
    pub shape: PlanShape,
    /// The tenant's period (years) a retention-elapsed erasure was checked against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention_years: Option<u32>,
}

stored_events! {
    /// Everything that can happen to a plan, in the past tense.
    pub enum PlanEvent {
        PlanCreated(PlanCreated) = "PlanCreated" @ 1,
        GoalAdded(GoalAdded) = "GoalAdded" @ 1,
        GoalClosed(GoalClosed) = "GoalClosed" @ 1,
        ObjectiveAdded(ObjectiveAdded) = "ObjectiveAdded" @ 1,
        ObjectiveProgressRecorded(ObjectiveProgressRecorded) = "ObjectiveProgressRecorded" @ 1,
        ObjectiveMet(ObjectiveMet) = "ObjectiveMet" @ 1,
        ReviewScheduled(ReviewScheduled) = "ReviewScheduled" @ 2 upcast REVIEW_SCHEDULED_UPCASTS,
        ReviewHeld(ReviewHeld) = "ReviewHeld" @ 1,
        MeasureRecorded(MeasureRecorded) = "MeasureRecorded" @ 1,
        SafetyFlagRaised(SafetyFlagRaised) = "SafetyFlagRaised" @ 1,
        SafetyFlagAcknowledged(SafetyFlagAcknowledged) = "SafetyFlagAcknowledged" @ 1,
        PresentingProblemRecorded(PresentingProblemRecorded) = "PresentingProblemRecorded" @ 1,
        DiagnosisAdded(DiagnosisAdded) = "DiagnosisAdded" @ 1,
        EnteredInError(EnteredInError) = "EnteredInError" @ 1,
        InterventionAdded(InterventionAdded) = "InterventionAdded" @ 1,
        SafetyPlanRecorded(SafetyPlanRecorded) = "SafetyPlanRecorded" @ 1,
        GoalRevised(GoalRevised) = "GoalRevised" @ 1,
        ObjectiveNotMet(ObjectiveNotMet) = "ObjectiveNotMet" @ 1,
        ObjectiveDrafted(ObjectiveDrafted) = "ObjectiveDrafted" @ 1,
        ClinicalContextRecorded(ClinicalContextRecorded) = "ClinicalContextRecorded" @ 1,
        ReferralAdded(ReferralAdded) = "ReferralAdded" @ 1,
        ReferralStatusChanged(ReferralStatusChanged) = "ReferralStatusChanged" @ 1,
        ServicePlanRecorded(ServicePlanRecorded) = "ServicePlanRecorded" @ 1,
        MeasureScheduled(MeasureScheduled) = "MeasureScheduled" @ 1,
        PlanActivated(PlanActivated) = "PlanActivated" @ 1,
        PlanPutOnHold(PlanPutOnHold) = "PlanPutOnHold" @ 1,
        PlanResumed(PlanResumed) = "PlanResumed" @ 1,
        PlanClosed(PlanClosed) = "PlanClosed" @ 1,
        ConsentRecorded(ConsentRecorded) = "ConsentRecorded" @ 1,
        PlanSigned(PlanSigned) = "PlanSigned" @ 1,
        PlanVersionStarted(PlanVersionStarted) = "PlanVersionStarted" @ 1,
        CareTeamAssigned(CareTeamAssigned) = "CareTeamAssigned" @ 1,
        ObjectiveRevised(ObjectiveRevised) = "ObjectiveRevised" @ 1,
        ClientErased(ClientErased) = "ClientErased" @ 1,
    }
}

impl PlanEvent {
    /// Whether the event changes what was signed: diagnoses, problem,
    /// goals, objectives, interventions, service plan. After a signature,
    /// such a change starts a new plan version.
    pub fn is_material(&self) -> bool {
        matches!(
            self,
            Self::GoalAdded(_)
                | Self::GoalRevised(_)
                | Self::ObjectiveRevised(_)
                | Self::GoalClosed(_)
                | Self::ObjectiveAdded(_)
                | Self::ObjectiveDrafted(_)
                | Self::ObjectiveNotMet(_)
                | Self::InterventionAdded(_)
                | Self::DiagnosisAdded(_)
                | Self::PresentingProblemRecorded(_)
                | Self::ServicePlanRecorded(_)
                | Self::MeasureScheduled(_)
                | Self::EnteredInError(EnteredInError {
                    target: CorrectionTarget::Goal(_)
                        | CorrectionTarget::Objective(_)
                        | CorrectionTarget::Intervention(_)
                        | CorrectionTarget::Diagnosis(_),
                    ..
                })
        )
    }
}

/// Which template, at which version, a plan was made from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRef {
    pub template_id: String,
    pub version: u32,
}

#[cfg(test)]
mod tests;
