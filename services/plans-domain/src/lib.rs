//! The treatment-plan aggregate.
//!
//! Pure: commands in, events out, no I/O and no clock (the caller passes
//! today's date). [`Plan::decide`] holds every business rule; [`Plan::evolve`]
//! only folds events into state and never refuses one, because stored
//! events are facts.
//!
//! Architecture invariant: this crate depends on `trellis-kernel` and plain
//! data crates only — never on gRPC, GraphQL, SQL or Redis.

mod command;
pub mod diagnosis;
mod error;
mod event;
mod ids;
pub mod measure;
mod plan;

pub use command::{
    AcknowledgeSafetyFlag, AddDiagnosis, AddGoal, AddIntervention, AddObjective, CloseGoal,
    CreatePlan, EnterInError, HoldReview, MarkObjectiveMet, PlanCommand, QuantityTarget,
    RecordMeasure, RecordObjectiveProgress, RecordPresentingProblem, RecordSafetyPlan,
    ScheduleReview,
};
pub use error::{FieldViolation, PlanError, SmartCriterion};
pub use event::{
    CorrectionTarget, CrisisContact, DiagnosisAdded, EnteredInError, EventDecodeError, GoalAdded,
    GoalClosed, GoalOutcome, GoalTerm, InterventionAdded, MeasureRecorded, Modality,
    ObjectiveAdded, ObjectiveMet, ObjectiveProgressRecorded, PlanCreated, PlanEvent,
    PresentingProblemRecorded, ProgressSource, ReviewDecision, ReviewHeld, ReviewScheduled,
    SafetyFlagAcknowledged, SafetyFlagRaised, SafetyPlanRecorded, Symptom,
};
pub use ids::{
    GoalId, InterventionId, MeasureId, ObjectiveId, PlanId, ReviewId, SafetyFlagId, derive_id,
};
pub use measure::{Instrument, SeverityBand};
pub use plan::{CareAssignment, Plan, PlanStatus};

/// Stream category of plan streams: `<tenant>:plan-<plan id>`.
pub const PLAN_CATEGORY: &str = "plan";
