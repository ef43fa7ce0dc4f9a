//! Read models of plans, built from the event feed.
//!
//! [`view`] folds plan events into [`PlanView`] documents (pure, idempotent
//! by stream revision); [`ReadModelStore`] keeps them with the feed
//! checkpoint; [`Projector`] follows the store's catch-up subscription and
//! writes each batch of views and its checkpoint together, so a restart
//! resumes exactly where the last write ended.
//!
//! Architecture invariant: depends on the kernel's store contract and the
//! domain's event types, never on a concrete event-store backend, gRPC or
//! GraphQL. Read models are disposable: deleting them and replaying the
//! events gives the same documents.

mod access;
mod cache;
mod changes;
pub mod compliance;
mod embedded;
mod redis_store;
mod runner;
mod sealing;
mod store;
mod unsaved;
mod view;

pub use cache::CachedReadModels;
pub use changes::{CHANGES_CHANNEL, ChangePublisher, LocalChanges, PlanChanged, RedisChanges};
pub use embedded::SqliteReadModels;
pub use redis_store::RedisReadModels;
pub use runner::{Projector, ProjectorError};
pub use sealing::{DocumentSeal, SealedPart};
pub use store::{PlanFilter, PlanPage, ReadModelError, ReadModelStore};
pub use unsaved::UnsavedViews;
pub use view::{
    ClinicalContextView, ClosedNotMetView, ConsentView, DiagnosisView, ERASED_TITLE, EnteredView,
    ErasureView, GoalRevisionView, GoalView, InterventionView, LifecycleView, MeasureScheduleView,
    MeasureView, ObjectiveRevisionView, ObjectiveView, PlanView, PresentingProblemView,
    ProgressView, ReferralView, ReviewView, SafetyFlagView, SafetyPlanView, ServicePlanView,
    SignatureView, StatusChangeView, apply_event,
};
