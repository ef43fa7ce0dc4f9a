use std::fmt;

use crate::event::SignerRole;
use crate::status::PlanStatus;
use crate::{GoalId, InterventionId, MeasureId, ObjectiveId, ReferralId, ReviewId, SafetyFlagId};

/// The letter of SMART an objective fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmartCriterion {
    Specific,
    Measurable,
    Achievable,
    Relevant,
    TimeBound,
}

impl SmartCriterion {
    pub fn letter(self) -> char {
        match self {
            Self::Specific => 'S',
            Self::Measurable => 'M',
            Self::Achievable => 'A',
            Self::Relevant => 'R',
            Self::TimeBound => 'T',
        }
    }
}

impl fmt::Display for SmartCriterion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let word = match self {
            Self::Specific => "specific",
            Self::Measurable => "measurable",
            Self::Achievable => "achievable",
            Self::Relevant => "relevant",
            Self::TimeBound => "time-bound",
        };
        write!(f, "{} ({word})", self.letter())
    }
}

/// One refused input field. Descriptions state the rule, never the value:
/// values may be PHI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: &'static str,
    pub description: String,
}

impl FieldViolation {
    pub fn new(field: &'static str, description: impl Into<String>) -> Self {
        Self {
            field,
            description: description.into(),
        }
    }
}

/// Why the plan refused a command.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("invalid command: {}", describe(.0))]
    Invalid(Vec<FieldViolation>),
    #[error("objective is not SMART: fails {criterion}: {description}")]
    NotSmart {
        criterion: SmartCriterion,
        field: &'static str,
        description: String,
    },
    #[error("the plan's client was erased: it takes no more changes")]
    Erased,
    #[error(
        "the plan's retention period ends on {0}: erase its client before then only with an override reason"
    )]
    RetentionNotElapsed(chrono::NaiveDate),
    #[error(
        "the plan is {0}: a retention period runs from a plan's closing; erase it now only with an override reason"
    )]
    NotClosedForErasure(PlanStatus),
    #[error("plan not found")]
    PlanNotFound,
    #[error("plan already exists")]
    PlanAlreadyExists,
    #[error("the goal already exists")]
    GoalAlreadyExists(GoalId),
    #[error("the goal not found in this plan")]
    UnknownGoal(GoalId),
    #[error("the goal is closed")]
    GoalClosed(GoalId),
    #[error("the objective already exists")]
    ObjectiveAlreadyExists(ObjectiveId),
    #[error("the objective not found in this plan")]
    UnknownObjective(ObjectiveId),
    #[error("the objective is already met")]
    ObjectiveAlreadyMet(ObjectiveId),
    #[error("the review is already scheduled")]
    ReviewAlreadyScheduled(ReviewId),
    #[error("the review not found in this plan")]
    UnknownReview(ReviewId),
    #[error("the review was already held")]
    ReviewAlreadyHeld(ReviewId),
    #[error("the measure is already recorded")]
    MeasureAlreadyRecorded(MeasureId),
    #[error("the safety flag not found in this plan")]
    UnknownSafetyFlag(SafetyFlagId),
    #[error("the safety flag was already acknowledged")]
    SafetyFlagAlreadyAcknowledged(SafetyFlagId),
    #[error("the intervention already exists")]
    InterventionAlreadyExists(InterventionId),
    #[error("the diagnosis is already on the plan")]
    DiagnosisAlreadyRecorded(String),
    #[error("that entry is not in this plan")]
    UnknownCorrectionTarget,
    #[error("that entry is already marked entered in error")]
    AlreadyEnteredInError,
    #[error("the objective is already closed as not met")]
    ObjectiveClosed(ObjectiveId),
    #[error("the plan is {status}: {action} is not possible")]
    WrongStatus {
        status: PlanStatus,
        action: &'static str,
    },
    #[error("the plan cannot be activated yet: missing {}", .0.join(", "))]
    NotReadyToActivate(Vec<&'static str>),
    #[error("the referral already exists")]
    ReferralAlreadyExists(ReferralId),
    #[error("the referral not found in this plan")]
    UnknownReferral(ReferralId),
    #[error("this plan version is already signed by the {0:?}")]
    AlreadySigned(SignerRole),
    #[error("the client's consent to treatment must be recorded before the client signs")]
    ConsentRequired,
    #[error("the supervisor co-signs after the clinician has signed this version")]
    CosignBeforeClinician,
    #[error("a co-signature must come from someone other than the signing clinician")]
    CosignBySameSigner,
    #[error("that entry was entered in error")]
    EnteredInError,
    #[error("template not found")]
    UnknownTemplate,
    #[error("built-in templates cannot be changed; save a copy under another id")]
    TemplateReadOnly,
    #[error("the objective is a template placeholder; complete it first")]
    ObjectiveIncomplete(ObjectiveId),
    #[error("the objective is already complete")]
    ObjectiveAlreadyComplete(ObjectiveId),
}

fn describe(violations: &[FieldViolation]) -> String {
    violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl PlanError {
    /// The field violations a client can show next to its inputs.
    pub fn field_violations(&self) -> Vec<FieldViolation> {
        match self {
            Self::Invalid(v) => v.clone(),
            Self::NotSmart {
                criterion,
                field,
                description,
            } => vec![FieldViolation::new(
                field,
                format!("not {criterion}: {description}"),
            )],
            _ => Vec::new(),
        }
    }
}
