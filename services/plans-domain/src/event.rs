use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::measure::Instrument;
use crate::template::TemplateRef;
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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewScheduled {
    pub review_id: ReviewId,
    pub due_on: NaiveDate,
}

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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PlanClosure {
    Completed,
    Discharged,
    Transferred,
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

/// Everything that can happen to a plan, in the past tense.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanEvent {
    PlanCreated(PlanCreated),
    GoalAdded(GoalAdded),
    GoalClosed(GoalClosed),
    ObjectiveAdded(ObjectiveAdded),
    ObjectiveProgressRecorded(ObjectiveProgressRecorded),
    ObjectiveMet(ObjectiveMet),
    ReviewScheduled(ReviewScheduled),
    ReviewHeld(ReviewHeld),
    MeasureRecorded(MeasureRecorded),
    SafetyFlagRaised(SafetyFlagRaised),
    SafetyFlagAcknowledged(SafetyFlagAcknowledged),
    PresentingProblemRecorded(PresentingProblemRecorded),
    DiagnosisAdded(DiagnosisAdded),
    EnteredInError(EnteredInError),
    InterventionAdded(InterventionAdded),
    SafetyPlanRecorded(SafetyPlanRecorded),
    GoalRevised(GoalRevised),
    ObjectiveNotMet(ObjectiveNotMet),
    ObjectiveDrafted(ObjectiveDrafted),
    ClinicalContextRecorded(ClinicalContextRecorded),
    ReferralAdded(ReferralAdded),
    ReferralStatusChanged(ReferralStatusChanged),
    ServicePlanRecorded(ServicePlanRecorded),
    MeasureScheduled(MeasureScheduled),
    PlanActivated(PlanActivated),
    PlanPutOnHold(PlanPutOnHold),
    PlanResumed(PlanResumed),
    PlanClosed(PlanClosed),
    ConsentRecorded(ConsentRecorded),
    PlanSigned(PlanSigned),
    PlanVersionStarted(PlanVersionStarted),
    CareTeamAssigned(CareTeamAssigned),
}

#[derive(Debug, thiserror::Error)]
pub enum EventDecodeError {
    #[error("unknown plan event type {0}")]
    UnknownType(String),
    #[error("unsupported schema version {version} of {event_type}")]
    UnsupportedVersion { event_type: String, version: u32 },
    #[error("malformed {event_type} payload: {source}")]
    Malformed {
        event_type: String,
        source: serde_json::Error,
    },
}

impl PlanEvent {
    /// Every event type is at schema version 1; an upcaster goes in
    /// [`PlanEvent::decode`] when one changes.
    pub const SCHEMA_VERSION: u32 = 1;

    pub fn event_type(&self) -> &'static str {
        match self {
            Self::PlanCreated(_) => "PlanCreated",
            Self::GoalAdded(_) => "GoalAdded",
            Self::GoalClosed(_) => "GoalClosed",
            Self::ObjectiveAdded(_) => "ObjectiveAdded",
            Self::ObjectiveProgressRecorded(_) => "ObjectiveProgressRecorded",
            Self::ObjectiveMet(_) => "ObjectiveMet",
            Self::ReviewScheduled(_) => "ReviewScheduled",
            Self::ReviewHeld(_) => "ReviewHeld",
            Self::MeasureRecorded(_) => "MeasureRecorded",
            Self::SafetyFlagRaised(_) => "SafetyFlagRaised",
            Self::SafetyFlagAcknowledged(_) => "SafetyFlagAcknowledged",
            Self::PresentingProblemRecorded(_) => "PresentingProblemRecorded",
            Self::DiagnosisAdded(_) => "DiagnosisAdded",
            Self::EnteredInError(_) => "EnteredInError",
            Self::InterventionAdded(_) => "InterventionAdded",
            Self::SafetyPlanRecorded(_) => "SafetyPlanRecorded",
            Self::GoalRevised(_) => "GoalRevised",
            Self::ObjectiveDrafted(_) => "ObjectiveDrafted",
            Self::ObjectiveNotMet(_) => "ObjectiveNotMet",
            Self::ClinicalContextRecorded(_) => "ClinicalContextRecorded",
            Self::ReferralAdded(_) => "ReferralAdded",
            Self::ReferralStatusChanged(_) => "ReferralStatusChanged",
            Self::ServicePlanRecorded(_) => "ServicePlanRecorded",
            Self::MeasureScheduled(_) => "MeasureScheduled",
            Self::PlanActivated(_) => "PlanActivated",
            Self::PlanPutOnHold(_) => "PlanPutOnHold",
            Self::PlanResumed(_) => "PlanResumed",
            Self::PlanClosed(_) => "PlanClosed",
            Self::ConsentRecorded(_) => "ConsentRecorded",
            Self::PlanSigned(_) => "PlanSigned",
            Self::PlanVersionStarted(_) => "PlanVersionStarted",
            Self::CareTeamAssigned(_) => "CareTeamAssigned",
        }
    }

    /// The stored payload: compact JSON of the event's fields.
    /// Whether the event changes what was signed: diagnoses, problem,
    /// goals, objectives, interventions, service plan. After a signature,
    /// such a change starts a new plan version.
    pub fn is_material(&self) -> bool {
        matches!(
            self,
            Self::GoalAdded(_)
                | Self::GoalRevised(_)
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

    /// The stored payload: compact JSON of the event's fields.
    pub fn encode(&self) -> Vec<u8> {
        let encoded = match self {
            Self::PlanCreated(e) => serde_json::to_vec(e),
            Self::GoalAdded(e) => serde_json::to_vec(e),
            Self::GoalClosed(e) => serde_json::to_vec(e),
            Self::ObjectiveAdded(e) => serde_json::to_vec(e),
            Self::ObjectiveProgressRecorded(e) => serde_json::to_vec(e),
            Self::ObjectiveMet(e) => serde_json::to_vec(e),
            Self::ReviewScheduled(e) => serde_json::to_vec(e),
            Self::ReviewHeld(e) => serde_json::to_vec(e),
            Self::MeasureRecorded(e) => serde_json::to_vec(e),
            Self::SafetyFlagRaised(e) => serde_json::to_vec(e),
            Self::SafetyFlagAcknowledged(e) => serde_json::to_vec(e),
            Self::PresentingProblemRecorded(e) => serde_json::to_vec(e),
            Self::DiagnosisAdded(e) => serde_json::to_vec(e),
            Self::EnteredInError(e) => serde_json::to_vec(e),
            Self::InterventionAdded(e) => serde_json::to_vec(e),
            Self::SafetyPlanRecorded(e) => serde_json::to_vec(e),
            Self::GoalRevised(e) => serde_json::to_vec(e),
            Self::ObjectiveDrafted(e) => serde_json::to_vec(e),
            Self::ObjectiveNotMet(e) => serde_json::to_vec(e),
            Self::ClinicalContextRecorded(e) => serde_json::to_vec(e),
            Self::ReferralAdded(e) => serde_json::to_vec(e),
            Self::ReferralStatusChanged(e) => serde_json::to_vec(e),
            Self::ServicePlanRecorded(e) => serde_json::to_vec(e),
            Self::MeasureScheduled(e) => serde_json::to_vec(e),
            Self::PlanActivated(e) => serde_json::to_vec(e),
            Self::PlanPutOnHold(e) => serde_json::to_vec(e),
            Self::PlanResumed(e) => serde_json::to_vec(e),
            Self::PlanClosed(e) => serde_json::to_vec(e),
            Self::ConsentRecorded(e) => serde_json::to_vec(e),
            Self::PlanSigned(e) => serde_json::to_vec(e),
            Self::PlanVersionStarted(e) => serde_json::to_vec(e),
            Self::CareTeamAssigned(e) => serde_json::to_vec(e),
        };
        // Plain structs of strings, numbers and dates always serialize;
        // f64 NaN/inf are refused by validation before an event exists.
        encoded.expect("plan events serialize to JSON")
    }

    pub fn decode(
        event_type: &str,
        schema_version: u32,
        payload: &[u8],
    ) -> Result<Self, EventDecodeError> {
        if schema_version != Self::SCHEMA_VERSION {
            return Err(EventDecodeError::UnsupportedVersion {
                event_type: event_type.to_owned(),
                version: schema_version,
            });
        }
        fn parse<T: serde::de::DeserializeOwned>(
            event_type: &str,
            payload: &[u8],
        ) -> Result<T, EventDecodeError> {
            serde_json::from_slice(payload).map_err(|source| EventDecodeError::Malformed {
                event_type: event_type.to_owned(),
                source,
            })
        }
        Ok(match event_type {
            "PlanCreated" => Self::PlanCreated(parse(event_type, payload)?),
            "GoalAdded" => Self::GoalAdded(parse(event_type, payload)?),
            "GoalClosed" => Self::GoalClosed(parse(event_type, payload)?),
            "ObjectiveAdded" => Self::ObjectiveAdded(parse(event_type, payload)?),
            "ObjectiveProgressRecorded" => {
                Self::ObjectiveProgressRecorded(parse(event_type, payload)?)
            }
            "ObjectiveMet" => Self::ObjectiveMet(parse(event_type, payload)?),
            "ReviewScheduled" => Self::ReviewScheduled(parse(event_type, payload)?),
            "ReviewHeld" => Self::ReviewHeld(parse(event_type, payload)?),
            "MeasureRecorded" => Self::MeasureRecorded(parse(event_type, payload)?),
            "SafetyFlagRaised" => Self::SafetyFlagRaised(parse(event_type, payload)?),
            "SafetyFlagAcknowledged" => Self::SafetyFlagAcknowledged(parse(event_type, payload)?),
            "PresentingProblemRecorded" => {
                Self::PresentingProblemRecorded(parse(event_type, payload)?)
            }
            "InterventionAdded" => Self::InterventionAdded(parse(event_type, payload)?),
            "DiagnosisAdded" => Self::DiagnosisAdded(parse(event_type, payload)?),
            "EnteredInError" => Self::EnteredInError(parse(event_type, payload)?),
            "SafetyPlanRecorded" => Self::SafetyPlanRecorded(parse(event_type, payload)?),
            "GoalRevised" => Self::GoalRevised(parse(event_type, payload)?),
            "ObjectiveDrafted" => Self::ObjectiveDrafted(parse(event_type, payload)?),
            "ObjectiveNotMet" => Self::ObjectiveNotMet(parse(event_type, payload)?),
            "ClinicalContextRecorded" => Self::ClinicalContextRecorded(parse(event_type, payload)?),
            "ReferralAdded" => Self::ReferralAdded(parse(event_type, payload)?),
            "ReferralStatusChanged" => Self::ReferralStatusChanged(parse(event_type, payload)?),
            "ServicePlanRecorded" => Self::ServicePlanRecorded(parse(event_type, payload)?),
            "MeasureScheduled" => Self::MeasureScheduled(parse(event_type, payload)?),
            "PlanActivated" => Self::PlanActivated(parse(event_type, payload)?),
            "PlanPutOnHold" => Self::PlanPutOnHold(parse(event_type, payload)?),
            "PlanResumed" => Self::PlanResumed(parse(event_type, payload)?),
            "PlanClosed" => Self::PlanClosed(parse(event_type, payload)?),
            "ConsentRecorded" => Self::ConsentRecorded(parse(event_type, payload)?),
            "PlanSigned" => Self::PlanSigned(parse(event_type, payload)?),
            "PlanVersionStarted" => Self::PlanVersionStarted(parse(event_type, payload)?),
            "CareTeamAssigned" => Self::CareTeamAssigned(parse(event_type, payload)?),
            other => return Err(EventDecodeError::UnknownType(other.to_owned())),
        })
    }
}
