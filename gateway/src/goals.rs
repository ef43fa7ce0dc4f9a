//! Goals and objectives as GraphQL shows them, with their progress.

use async_graphql::{ID, Object};
use trellis_projector::{GoalView, ObjectiveRevisionView, ObjectiveView, ProgressView};

use crate::contract;
use crate::entered::Entered;
use crate::measures::MeasureGoal;

#[derive(Debug)]
pub struct Goal<'a>(pub(crate) &'a GoalView);

#[Object]
impl Goal<'_> {
    async fn id(&self) -> ID {
        ID(self.0.goal_id.clone())
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    async fn term(&self) -> contract::GoalTerm {
        self.0.term.into()
    }
    /// Set once the goal is closed.
    async fn outcome(&self) -> Option<contract::GoalOutcome> {
        self.0.outcome.map(Into::into)
    }
    async fn closed_on(&self) -> Option<String> {
        self.0.closed_on.map(|d| d.to_string())
    }
    async fn objectives(&self) -> Vec<Objective<'_>> {
        self.0.objectives.iter().map(Objective).collect()
    }
    /// Why this goal was marked entered in error; null when it stands.
    async fn entered_in_error(&self) -> Option<&str> {
        self.0.entered_in_error.as_deref()
    }
    /// Earlier wordings, oldest first, each with why it changed.
    async fn revisions(&self) -> Vec<GoalRevision<'_>> {
        self.0.revisions.iter().map(GoalRevision).collect()
    }
    /// Who added it and when; null only for plans projected before this
    /// was kept (rebuild the read models to fill it).
    async fn added(&self) -> Option<Entered<'_>> {
        self.0.added.as_ref().map(Entered)
    }
}

#[derive(Debug)]
pub struct GoalRevision<'a>(pub(crate) &'a trellis_projector::GoalRevisionView);

#[Object]
impl GoalRevision<'_> {
    async fn previous(&self) -> &str {
        &self.0.previous
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    async fn revised_by(&self) -> &str {
        &self.0.revised_by
    }
    async fn revised_at(&self) -> String {
        self.0.revised_at.to_rfc3339()
    }
}

#[derive(Debug)]
pub struct Objective<'a>(pub(crate) &'a ObjectiveView);

#[Object]
impl Objective<'_> {
    async fn id(&self) -> ID {
        ID(self.0.objective_id.clone())
    }
    async fn description(&self) -> &str {
        &self.0.description
    }
    /// Null while the objective is a template placeholder.
    async fn baseline(&self) -> Option<f64> {
        (!self.0.placeholder).then_some(self.0.baseline)
    }
    async fn target(&self) -> Option<f64> {
        (!self.0.placeholder).then_some(self.0.target)
    }
    /// A template's objective still waiting for the client's numbers; the
    /// plan cannot be activated until it is completed.
    async fn placeholder(&self) -> bool {
        self.0.placeholder
    }
    async fn unit(&self) -> &str {
        &self.0.unit
    }
    async fn period(&self) -> &str {
        &self.0.period
    }
    async fn target_date(&self) -> Option<String> {
        (!self.0.placeholder).then(|| self.0.target_date.to_string())
    }
    async fn met(&self) -> bool {
        self.0.met_on.is_some()
    }
    async fn met_on(&self) -> Option<String> {
        self.0.met_on.map(|d| d.to_string())
    }
    /// The last progress value recorded, if any (a value entered late for
    /// an earlier day is the last recorded; `progress` gives each day).
    async fn latest_value(&self) -> Option<f64> {
        self.0.progress.last().map(|p| p.value)
    }
    async fn progress(&self) -> Vec<Progress<'_>> {
        self.0.progress.iter().map(Progress).collect()
    }
    /// Why this objective was marked entered in error; null when it stands.
    async fn entered_in_error(&self) -> Option<&str> {
        self.0.entered_in_error.as_deref()
    }
    /// For a measure-based objective: the instrument and reduction asked for.
    async fn measure(&self) -> Option<MeasureGoal> {
        self.0.measure.map(Into::into)
    }
    /// The score that met it, when a questionnaire did.
    async fn met_by_measure(&self) -> Option<ID> {
        self.0.met_by_measure.clone().map(ID)
    }
    /// Set when the objective was closed as not met.
    async fn not_met_on(&self) -> Option<String> {
        self.0.not_met.as_ref().map(|n| n.closed_on.to_string())
    }
    async fn not_met_reason(&self) -> Option<&str> {
        self.0.not_met.as_ref().map(|n| n.reason.as_str())
    }
    /// Earlier targets and dates, oldest first, each with why it changed
    /// (`reviseObjective`).
    async fn revisions(&self) -> Vec<ObjectiveRevision<'_>> {
        self.0.revisions.iter().map(ObjectiveRevision).collect()
    }
    /// Who added it (for a template's objective: who made the plan) and
    /// when; null only for plans projected before this was kept.
    async fn added(&self) -> Option<Entered<'_>> {
        self.0.added.as_ref().map(Entered)
    }
}

#[derive(Debug)]
pub struct Progress<'a>(pub(crate) &'a ProgressView);

#[Object]
impl Progress<'_> {
    async fn value(&self) -> f64 {
        self.0.value
    }
    async fn observed_on(&self) -> String {
        self.0.observed_on.to_string()
    }
    async fn source(&self) -> contract::ProgressSource {
        self.0.source.into()
    }
    async fn note(&self) -> &str {
        &self.0.note
    }
    async fn recorded_by(&self) -> &str {
        &self.0.recorded_by
    }
    async fn recorded_at(&self) -> String {
        self.0.recorded_at.to_rfc3339()
    }
}

#[derive(Debug)]
pub struct ObjectiveRevision<'a>(pub(crate) &'a ObjectiveRevisionView);

#[Object]
impl ObjectiveRevision<'_> {
    /// The target before this revision.
    async fn previous_target(&self) -> f64 {
        self.0.previous_target
    }
    async fn previous_target_date(&self) -> String {
        self.0.previous_target_date.to_string()
    }
    async fn reason(&self) -> &str {
        &self.0.reason
    }
    async fn revised_by(&self) -> &str {
        &self.0.revised_by
    }
    async fn revised_at(&self) -> String {
        self.0.revised_at.to_rfc3339()
    }
}
