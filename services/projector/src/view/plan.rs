//! The plan document as clinicians see it and the read-model stores keep
//! it: [`PlanView`] and every part of it. Plain data; the section modules
//! beside this one fold events into it.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use trellis_kernel::RecordedEvent;
use trellis_plans_domain::{
    ConsentKind, CrisisContact, GoalOutcome, GoalTerm, Instrument, MeasureTarget, Modality,
    ProgressSource, ReferralStatus, ReviewDecision, ReviewOrigin, SeverityBand, SignerRole,
    Support, Symptom,
};

/// Who entered an item on the plan, in which role, and when: read from
/// its event's envelope, so clinicians see it without the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnteredView {
    pub by: String,
    pub role: String,
    pub at: DateTime<Utc>,
}

impl EnteredView {
    pub(super) fn of(recorded: &RecordedEvent) -> Option<Self> {
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
    /// When the server recorded the plan's creation; `None` in views saved
    /// before it was kept.
    #[serde(default)]
    pub created_at: Option<DateTime<Utc>>,
    /// The hash-chain link (hex) of the event at `version`: which record
    /// this view was made from. Empty in views saved before it was kept.
    #[serde(default)]
    pub record_hash: String,
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
    /// Set when the plan's client was erased: the plan keeps its shape
    /// and who treated under it; every content field is empty.
    #[serde(default)]
    pub erasure: Option<ErasureView>,
}

/// What is left of a plan whose client was erased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErasureView {
    pub erased_on: NaiveDate,
    /// `retention_elapsed` or `override`.
    pub basis: String,
    /// The override's stated legal basis (no PHI by rule); none after a
    /// retention period.
    pub reason: Option<String>,
    pub goals: u32,
    pub objectives: u32,
    pub interventions: u32,
    pub diagnoses: u32,
    pub reviews: u32,
    pub measures: u32,
    pub signatures: u32,
    /// After a retention period: the period checked against, in years.
    #[serde(default)]
    pub retention_years: Option<u32>,
}

fn first_version() -> u32 {
    1
}

impl PlanView {
    pub(super) fn change_status(
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

    pub(super) fn objective_mut(&mut self, id: &str) -> Option<&mut ObjectiveView> {
        self.goals
            .iter_mut()
            .flat_map(|g| g.objectives.iter_mut())
            .find(|o| o.objective_id == id)
    }
}

// Goals and objectives.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgressView {
    pub value: f64,
    pub observed_on: NaiveDate,
    pub source: ProgressSource,
    pub note: String,
    pub recorded_by: String,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ObjectiveView {
    pub objective_id: String,
    pub description: String,
    pub baseline: f64,
    pub target: f64,
    pub unit: String,
    pub period: String,
    pub target_date: NaiveDate,
    pub met_on: Option<NaiveDate>,
    /// The questionnaire score that met it, for a measure-based objective.
    #[serde(default)]
    pub met_by_measure: Option<String>,
    #[serde(default)]
    pub not_met: Option<ClosedNotMetView>,
    #[serde(default)]
    pub measure: Option<MeasureTarget>,
    /// A template's objective still waiting for the client's numbers:
    /// baseline, target and date mean nothing yet.
    #[serde(default)]
    pub placeholder: bool,
    pub progress: Vec<ProgressView>,
    /// Why this entry was marked entered in error, if it was.
    #[serde(default)]
    pub entered_in_error: Option<String>,
    /// Who added it; `None` only in documents built before this was kept.
    #[serde(default)]
    pub added: Option<EnteredView>,
    /// Earlier targets and dates, oldest first, each with why it changed.
    #[serde(default)]
    pub revisions: Vec<ObjectiveRevisionView>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedNotMetView {
    pub closed_on: NaiveDate,
    pub reason: String,
}

/// An objective's target and date before a revision, and why it changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveRevisionView {
    pub previous_target: f64,
    pub previous_target_date: NaiveDate,
    pub reason: String,
    pub revised_by: String,
    pub revised_at: DateTime<Utc>,
}

/// A goal's earlier wording and why it changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalRevisionView {
    pub previous: String,
    pub reason: String,
    pub revised_by: String,
    pub revised_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GoalView {
    pub goal_id: String,
    pub description: String,
    pub term: GoalTerm,
    pub outcome: Option<GoalOutcome>,
    pub closed_on: Option<NaiveDate>,
    pub objectives: Vec<ObjectiveView>,
    #[serde(default)]
    pub entered_in_error: Option<String>,
    #[serde(default)]
    pub revisions: Vec<GoalRevisionView>,
    #[serde(default)]
    pub added: Option<EnteredView>,
}

// Reviews.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewView {
    pub review_id: String,
    pub due_on: NaiveDate,
    pub held_on: Option<NaiveDate>,
    pub participants: Vec<String>,
    pub summary: Option<String>,
    pub decision: Option<ReviewDecision>,
    #[serde(default)]
    pub entered_in_error: Option<String>,
    /// Scheduled by the tenant's rule or by hand.
    #[serde(default = "unrecorded_origin")]
    pub origin: ReviewOrigin,
}

fn unrecorded_origin() -> ReviewOrigin {
    ReviewOrigin::Unrecorded
}

// Scored measures, their schedule and safety flags.

/// One administration of a standardized measure, scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureView {
    pub measure_id: String,
    pub instrument: Instrument,
    pub answers: Vec<u8>,
    pub total: u32,
    pub band: SeverityBand,
    pub administered_on: NaiveDate,
    pub source: ProgressSource,
    pub recorded_by: String,
    #[serde(default)]
    pub entered_in_error: Option<String>,
}

/// A safety concern for the care team, open until acknowledged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SafetyFlagView {
    pub flag_id: String,
    pub measure_id: String,
    pub raised_on: NaiveDate,
    pub acknowledged_on: Option<NaiveDate>,
    pub acknowledged_by: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasureScheduleView {
    pub instrument: Instrument,
    pub interval_days: u32,
}

// The clinical record.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DiagnosisView {
    pub code: String,
    pub description: String,
    pub primary: bool,
    #[serde(default)]
    pub entered_in_error: Option<String>,
    #[serde(default)]
    pub added: Option<EnteredView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PresentingProblemView {
    pub narrative: String,
    pub symptoms: Vec<Symptom>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InterventionView {
    pub intervention_id: String,
    pub modality: Modality,
    pub technique: String,
    pub frequency: String,
    pub goal_ids: Vec<String>,
    #[serde(default)]
    pub entered_in_error: Option<String>,
    #[serde(default)]
    pub comorbidity: String,
    #[serde(default)]
    pub added: Option<EnteredView>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SafetyPlanView {
    pub warning_signs: Vec<String>,
    pub coping_steps: Vec<String>,
    pub contacts: Vec<CrisisContact>,
    pub crisis_lines: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClinicalContextView {
    pub strengths: Vec<String>,
    pub barriers: Vec<String>,
    pub supports: Vec<Support>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReferralView {
    pub referral_id: String,
    pub to: String,
    pub reason: String,
    pub status: ReferralStatus,
    pub status_changed_on: Option<NaiveDate>,
    #[serde(default)]
    pub entered_in_error: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServicePlanView {
    pub session_type: String,
    pub minutes: u32,
    pub frequency: String,
    pub sessions_min: u32,
    pub sessions_max: u32,
    pub focus: String,
    pub maintenance: String,
    pub monitoring: Vec<String>,
}

// Status, consent, signatures.

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConsentView {
    pub kind: ConsentKind,
    pub given_on: NaiveDate,
    pub note: String,
    pub recorded_by: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignatureView {
    pub version: u32,
    pub role: SignerRole,
    pub signer_id: String,
    pub signed_on: NaiveDate,
    /// When the server recorded the signature, and the stream revision
    /// that holds it; `None` in views saved before they were kept.
    #[serde(default)]
    pub recorded_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub revision: Option<u64>,
}

/// Where a plan is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LifecycleView {
    #[default]
    Draft,
    Active,
    OnHold,
    Completed,
    Discharged,
    Transferred,
}

/// One change of status, with the reason given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChangeView {
    pub status: LifecycleView,
    pub on: NaiveDate,
    pub reason: String,
    pub by: String,
}

impl LifecycleView {
    pub fn is_closed(self) -> bool {
        matches!(self, Self::Completed | Self::Discharged | Self::Transferred)
    }
}
