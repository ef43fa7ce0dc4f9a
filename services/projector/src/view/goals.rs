//! Goals and objectives as clinicians see them.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use trellis_kernel::RecordedEvent;
use trellis_plans_domain::{GoalOutcome, GoalTerm, MeasureTarget, PlanEvent, ProgressSource};

use super::{EnteredView, PlanView};

pub(super) fn apply(view: &mut PlanView, event: PlanEvent, recorded: &RecordedEvent) {
    match event {
        PlanEvent::GoalAdded(e) => view.goals.push(GoalView {
            goal_id: e.goal_id.to_string(),
            description: e.description,
            term: e.term,
            outcome: None,
            closed_on: None,
            objectives: Vec::new(),
            entered_in_error: None,
            revisions: Vec::new(),
            added: EnteredView::of(recorded),
        }),
        PlanEvent::GoalClosed(e) => {
            let id = e.goal_id.to_string();
            if let Some(goal) = view.goals.iter_mut().find(|g| g.goal_id == id) {
                goal.outcome = Some(e.outcome);
                goal.closed_on = Some(e.closed_on);
            }
        }
        PlanEvent::ObjectiveDrafted(e) => {
            let goal_id = e.goal_id.to_string();
            if let Some(goal) = view.goals.iter_mut().find(|g| g.goal_id == goal_id) {
                goal.objectives.push(ObjectiveView {
                    objective_id: e.objective_id.to_string(),
                    description: e.description,
                    unit: e.unit,
                    period: e.period,
                    measure: e.measure,
                    placeholder: true,
                    added: EnteredView::of(recorded),
                    ..ObjectiveView::default()
                });
            }
        }
        PlanEvent::ObjectiveAdded(e) => {
            // Completing a template placeholder fills it in where it stands.
            if let Some(objective) = view.objective_mut(&e.objective_id.to_string()) {
                objective.description = e.description;
                objective.baseline = e.baseline;
                objective.target = e.target;
                objective.unit = e.unit;
                objective.period = e.period;
                objective.target_date = e.target_date;
                objective.measure = e.measure;
                objective.placeholder = false;
                return;
            }
            let goal_id = e.goal_id.to_string();
            if let Some(goal) = view.goals.iter_mut().find(|g| g.goal_id == goal_id) {
                goal.objectives.push(ObjectiveView {
                    objective_id: e.objective_id.to_string(),
                    description: e.description,
                    baseline: e.baseline,
                    target: e.target,
                    unit: e.unit,
                    period: e.period,
                    target_date: e.target_date,
                    met_on: None,
                    met_by_measure: None,
                    not_met: None,
                    measure: e.measure,
                    placeholder: false,
                    progress: Vec::new(),
                    entered_in_error: None,
                    added: EnteredView::of(recorded),
                });
            }
        }
        PlanEvent::ObjectiveProgressRecorded(e) => {
            if let Some(objective) = view.objective_mut(&e.objective_id.to_string()) {
                objective.progress.push(ProgressView {
                    value: e.value,
                    observed_on: e.observed_on,
                    source: e.source,
                    note: e.note,
                    recorded_by: recorded.metadata.actor.subject.clone(),
                    recorded_at: recorded.recorded_at,
                });
            }
        }
        PlanEvent::ObjectiveMet(e) => {
            if let Some(objective) = view.objective_mut(&e.objective_id.to_string()) {
                objective.met_on = Some(e.met_on);
                objective.met_by_measure = e.by_measure.map(|m| m.to_string());
            }
        }
        PlanEvent::GoalRevised(e) => {
            let id = e.goal_id.to_string();
            if let Some(goal) = view.goals.iter_mut().find(|g| g.goal_id == id) {
                let previous = std::mem::replace(&mut goal.description, e.description);
                goal.revisions.push(GoalRevisionView {
                    previous,
                    reason: e.reason,
                    revised_by: recorded.metadata.actor.subject.clone(),
                    revised_at: recorded.recorded_at,
                });
            }
        }
        PlanEvent::ObjectiveNotMet(e) => {
            if let Some(objective) = view.objective_mut(&e.objective_id.to_string()) {
                objective.not_met = Some(ClosedNotMetView {
                    closed_on: e.closed_on,
                    reason: e.reason,
                });
            }
        }
        _ => {}
    }
}

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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedNotMetView {
    pub closed_on: NaiveDate,
    pub reason: String,
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
