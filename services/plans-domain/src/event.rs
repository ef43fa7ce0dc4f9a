use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::codec::{Upcast, stored_events};
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
    }
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
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use uuid::Uuid;

    use super::*;
    use crate::review_rules::{ReviewRuleEvent, ReviewRuleSet};
    use crate::template::{PlanTemplate, TemplateEvent, TemplateRetired, TemplateSaved};

    fn id(n: u128) -> Uuid {
        Uuid::from_u128(n)
    }

    fn on() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
    }

    fn words(w: &str) -> String {
        w.to_owned()
    }

    /// One event of every type, with every optional part filled so the
    /// round trip covers it.
    fn one_of_each() -> Vec<PlanEvent> {
        let measure = Some(MeasureTarget {
            instrument: Instrument::Phq9,
            reduction_percent: 50,
        });
        vec![
            PlanEvent::PlanCreated(PlanCreated {
                plan_id: PlanId(id(1)),
                client_id: words("client-17"),
                primary_clinician_id: words("clin-3"),
                clinic_id: words("eastside"),
                title: words("GAD"),
                created_on: on(),
                template: Some(TemplateRef {
                    template_id: words("builtin-gad"),
                    version: 1,
                }),
                payer: words("medicaid"),
            }),
            PlanEvent::GoalAdded(GoalAdded {
                goal_id: GoalId(id(2)),
                description: words("Worry less"),
                term: GoalTerm::LongTerm,
            }),
            PlanEvent::GoalClosed(GoalClosed {
                goal_id: GoalId(id(2)),
                outcome: GoalOutcome::Achieved,
                closed_on: on(),
            }),
            PlanEvent::ObjectiveAdded(ObjectiveAdded {
                objective_id: ObjectiveId(id(3)),
                goal_id: GoalId(id(2)),
                description: words("PHQ-9 half"),
                baseline: 18.0,
                target: 9.0,
                unit: words("points"),
                period: String::new(),
                target_date: on(),
                measure,
            }),
            PlanEvent::ObjectiveProgressRecorded(ObjectiveProgressRecorded {
                objective_id: ObjectiveId(id(3)),
                value: 12.5,
                observed_on: on(),
                source: ProgressSource::ClientSelfReport,
                note: words("better week"),
            }),
            PlanEvent::ObjectiveMet(ObjectiveMet {
                objective_id: ObjectiveId(id(3)),
                met_on: on(),
                by_measure: Some(MeasureId(id(9))),
            }),
            PlanEvent::ReviewScheduled(ReviewScheduled {
                review_id: ReviewId(id(4)),
                due_on: on(),
                origin: ReviewOrigin::ByHand,
            }),
            PlanEvent::ReviewHeld(ReviewHeld {
                review_id: ReviewId(id(4)),
                held_on: on(),
                participants: vec![words("clin-3")],
                summary: words("continue"),
                decision: ReviewDecision::Revise,
            }),
            PlanEvent::MeasureRecorded(MeasureRecorded {
                measure_id: MeasureId(id(9)),
                instrument: Instrument::Gad7,
                answers: vec![1, 2, 3, 0, 1, 2, 3],
                total: 12,
                administered_on: on(),
                source: ProgressSource::Clinician,
            }),
            PlanEvent::SafetyFlagRaised(SafetyFlagRaised {
                flag_id: SafetyFlagId(id(10)),
                measure_id: MeasureId(id(9)),
                raised_on: on(),
            }),
            PlanEvent::SafetyFlagAcknowledged(SafetyFlagAcknowledged {
                flag_id: SafetyFlagId(id(10)),
                acknowledged_on: on(),
                note: words("safety plan reviewed"),
            }),
            PlanEvent::PresentingProblemRecorded(PresentingProblemRecorded {
                narrative: words("worry"),
                symptoms: vec![Symptom {
                    name: words("insomnia"),
                    frequency: words("nightly"),
                    intensity: words("moderate"),
                    onset: words("a month ago"),
                }],
            }),
            PlanEvent::DiagnosisAdded(DiagnosisAdded {
                code: words("F41.1"),
                description: words("Generalized anxiety disorder"),
                primary: true,
            }),
            PlanEvent::EnteredInError(EnteredInError {
                target: CorrectionTarget::Diagnosis(words("F41.1")),
                reason: words("wrong client"),
            }),
            PlanEvent::InterventionAdded(InterventionAdded {
                intervention_id: InterventionId(id(11)),
                modality: Modality::Other(words("EMDR")),
                technique: words("bilateral stimulation"),
                frequency: words("weekly"),
                goal_ids: vec![GoalId(id(2))],
                comorbidity: words("alcohol use"),
            }),
            PlanEvent::SafetyPlanRecorded(SafetyPlanRecorded {
                warning_signs: vec![words("isolation")],
                coping_steps: vec![words("walk")],
                contacts: vec![CrisisContact {
                    name: words("Sam"),
                    relationship: words("brother"),
                    phone: words("555-0100"),
                }],
                crisis_lines: vec![words("988")],
            }),
            PlanEvent::GoalRevised(GoalRevised {
                goal_id: GoalId(id(2)),
                description: words("Worry less at work"),
                reason: words("review decided to revise"),
            }),
            PlanEvent::ObjectiveNotMet(ObjectiveNotMet {
                objective_id: ObjectiveId(id(3)),
                closed_on: on(),
                reason: words("time ran out"),
            }),
            PlanEvent::ObjectiveDrafted(ObjectiveDrafted {
                objective_id: ObjectiveId(id(12)),
                goal_id: GoalId(id(2)),
                description: words("fewer worry episodes"),
                unit: words("episodes"),
                period: words("week"),
                measure,
            }),
            PlanEvent::ClinicalContextRecorded(ClinicalContextRecorded {
                strengths: vec![words("motivated")],
                barriers: vec![words("shift work")],
                supports: vec![Support {
                    kind: SupportKind::Family,
                    involvement: words("partner joins one session"),
                }],
            }),
            PlanEvent::ReferralAdded(ReferralAdded {
                referral_id: ReferralId(id(13)),
                to: words("psychiatrist"),
                reason: words("medication evaluation"),
                status: ReferralStatus::Planned,
            }),
            PlanEvent::ReferralStatusChanged(ReferralStatusChanged {
                referral_id: ReferralId(id(13)),
                status: ReferralStatus::Completed,
                changed_on: on(),
            }),
            PlanEvent::ServicePlanRecorded(ServicePlanRecorded {
                session_type: words("individual psychotherapy"),
                minutes: 50,
                frequency: words("weekly"),
                sessions_min: 12,
                sessions_max: 16,
                focus: words("CBT for worry"),
                maintenance: words("every 4-6 weeks"),
                monitoring: vec![words("worry diary")],
            }),
            PlanEvent::MeasureScheduled(MeasureScheduled {
                instrument: Instrument::Pswq,
                interval_days: 28,
            }),
            PlanEvent::PlanActivated(PlanActivated { activated_on: on() }),
            PlanEvent::PlanPutOnHold(PlanPutOnHold {
                on: on(),
                reason: words("travelling"),
            }),
            PlanEvent::PlanResumed(PlanResumed { on: on() }),
            PlanEvent::PlanClosed(PlanClosed {
                closure: PlanClosure::Transferred,
                closed_on: on(),
                reason: words("moved"),
            }),
            PlanEvent::ConsentRecorded(ConsentRecorded {
                kind: ConsentKind::InformationRelease,
                given_on: on(),
                note: words("to the PCP"),
            }),
            PlanEvent::PlanSigned(PlanSigned {
                version: 2,
                role: SignerRole::Supervisor,
                signer_id: words("sup-1"),
                signed_on: on(),
            }),
            PlanEvent::PlanVersionStarted(PlanVersionStarted {
                version: 2,
                changed_by: words("AddGoal"),
            }),
            PlanEvent::CareTeamAssigned(CareTeamAssigned {
                primary_clinician_id: words("clin-3"),
                members: vec![words("clin-8")],
            }),
        ]
    }

    /// Fails when an event type has no sample here, so a new variant is
    /// round-tripped before it ships.
    #[track_caller]
    fn covers_every_type(declared: &[&str], sampled: impl IntoIterator<Item = &'static str>) {
        let sampled: BTreeSet<&str> = sampled.into_iter().collect();
        let declared_set: BTreeSet<&str> = declared.iter().copied().collect();
        assert_eq!(
            declared_set.len(),
            declared.len(),
            "a type name is declared twice"
        );
        assert_eq!(sampled, declared_set);
    }

    #[test]
    fn every_plan_event_round_trips_through_its_stored_form() {
        let events = one_of_each();
        covers_every_type(
            PlanEvent::EVENT_TYPES,
            events.iter().map(PlanEvent::event_type),
        );
        for event in events {
            let (name, version) = (event.event_type(), event.schema_version());
            assert_eq!(PlanEvent::current_version(name), Some(version));
            let decoded = PlanEvent::decode(name, version, &event.encode()).unwrap();
            assert_eq!(decoded, event);
        }
    }

    #[test]
    fn every_template_and_settings_event_round_trips() {
        let templates = vec![
            TemplateEvent::Saved(Box::new(TemplateSaved {
                template_id: words("t-1"),
                template: PlanTemplate {
                    name: words("Panic"),
                    goals: vec![],
                    interventions: vec![],
                    measure_schedule: vec![MeasureScheduled {
                        instrument: Instrument::Gad7,
                        interval_days: 14,
                    }],
                    service_plan: None,
                },
            })),
            TemplateEvent::Retired(TemplateRetired {
                template_id: words("t-1"),
            }),
        ];
        covers_every_type(
            TemplateEvent::EVENT_TYPES,
            templates.iter().map(TemplateEvent::event_type),
        );
        for event in templates {
            let stored = event.encode();
            let decoded =
                TemplateEvent::decode(event.event_type(), event.schema_version(), &stored).unwrap();
            assert_eq!(decoded, event);
        }
        let rules = vec![ReviewRuleEvent::RuleSet(ReviewRuleSet {
            payer: words("medicaid"),
            interval_days: 42,
        })];
        covers_every_type(
            ReviewRuleEvent::EVENT_TYPES,
            rules.iter().map(ReviewRuleEvent::event_type),
        );
        for event in rules {
            let decoded = ReviewRuleEvent::decode(
                event.event_type(),
                event.schema_version(),
                &event.encode(),
            )
            .unwrap();
            assert_eq!(decoded, event);
        }
    }

    #[test]
    fn every_older_schema_version_has_a_path_to_today() {
        for name in PlanEvent::EVENT_TYPES {
            let current = PlanEvent::current_version(name).unwrap();
            let steps: BTreeSet<u32> = PlanEvent::upcasts(name).iter().map(|u| u.from).collect();
            assert_eq!(steps, (1..current).collect(), "{name}");
        }
    }

    #[test]
    fn a_review_stored_before_origins_reads_as_unrecorded() {
        let stored =
            br#"{"review_id":"00000000-0000-0000-0000-000000000004","due_on":"2027-01-15"}"#;
        let decoded = PlanEvent::decode("ReviewScheduled", 1, stored).unwrap();
        assert_eq!(
            decoded,
            PlanEvent::ReviewScheduled(ReviewScheduled {
                review_id: ReviewId(id(4)),
                due_on: NaiveDate::from_ymd_opt(2027, 1, 15).unwrap(),
                origin: ReviewOrigin::Unrecorded,
            })
        );
        // Version 2 requires the origin: it is never guessed for new events.
        assert!(matches!(
            PlanEvent::decode("ReviewScheduled", 2, stored),
            Err(EventDecodeError::Malformed { .. })
        ));
    }

    #[test]
    fn unknown_types_and_versions_are_refused() {
        assert!(matches!(
            PlanEvent::decode("GoalAdded", 9, b"{}"),
            Err(EventDecodeError::UnsupportedVersion { version: 9, .. })
        ));
        assert!(matches!(
            PlanEvent::decode("Nope", 1, b"{}"),
            Err(EventDecodeError::UnknownType(_))
        ));
    }
}
