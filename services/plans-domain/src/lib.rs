//! The treatment-plan aggregate.
//!
//! Pure: commands in, events out, no I/O and no clock (the caller passes
//! today's date). [`Plan::decide`] holds every business rule; [`Plan::evolve`]
//! only folds events into state and never refuses one, because stored
//! events are facts.
//!
//! Architecture invariant: this crate depends on `trellis-kernel` and plain
//! data crates only — never on gRPC, GraphQL, SQL or Redis.

mod codec;
mod command;
pub mod diagnosis;
mod error;
mod event;
mod ids;
mod input;
pub mod measure;
mod plan;
pub mod retention;
pub mod review_rules;
mod service_plan;
pub mod staff;
mod status;
pub mod template;

pub use codec::{EventDecodeError, Upcast};
// Every command and event type, whole: a new one needs no line here.
pub use command::*;
pub use error::{FieldViolation, PlanError, SmartCriterion};
pub use event::*;
pub use ids::{
    GoalId, InterventionId, MeasureId, ObjectiveId, PlanId, ReferralId, ReviewId, SafetyFlagId,
    child_id, derive_id,
};
pub use measure::{Instrument, SeverityBand};
pub use plan::{
    CareAssignment, MAX_REVIEW_INTERVAL_DAYS, PLAN_STATE_VERSION, Plan, StateUnreadable,
    target_score,
};
pub use service_plan::checked_service_plan;
pub use status::PlanStatus;

/// Stream category of plan streams: `<tenant>:plan-<plan id>`.
pub const PLAN_CATEGORY: &str = "plan";
