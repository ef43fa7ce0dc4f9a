//! Folds the events of goals and objectives.

use trellis_kernel::RecordedEvent;
use trellis_plans_domain::PlanEvent;

use super::plan::{
    ClosedNotMetView, EnteredView, GoalRevisionView, GoalView, ObjectiveRevisionView,
    ObjectiveView, PlanView, ProgressView,
};

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
                    revisions: Vec::new(),
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
        PlanEvent::ObjectiveRevised(e) => {
            if let Some(objective) = view.objective_mut(&e.objective_id.to_string()) {
                objective.revisions.push(ObjectiveRevisionView {
                    previous_target: objective.target,
                    previous_target_date: objective.target_date,
                    reason: e.reason,
                    revised_by: recorded.metadata.actor.subject.clone(),
                    revised_at: recorded.recorded_at,
                });
                if let Some(target) = e.target {
                    objective.target = target;
                }
                if let Some(date) = e.target_date {
                    objective.target_date = date;
                }
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
