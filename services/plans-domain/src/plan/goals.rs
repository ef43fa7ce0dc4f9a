//! Goals and objectives: added, measured, revised, met or closed.

use chrono::NaiveDate;

use super::measures::target_score;
use super::{GoalState, ObjectiveState, Plan};
use crate::command::{
    AddGoal, AddObjective, CloseGoal, MarkObjectiveMet, MarkObjectiveNotMet,
    RecordObjectiveProgress, ReviseGoal, ReviseObjective,
};
use crate::error::{FieldViolation, PlanError, SmartCriterion};
use crate::event::{
    CorrectionTarget, GoalAdded, GoalClosed, GoalRevised, MeasureTarget, ObjectiveAdded,
    ObjectiveMet, ObjectiveNotMet, ObjectiveProgressRecorded, ObjectiveRevised, PlanEvent,
};
use crate::input::{MAX_SHORT_TEXT, MAX_TEXT, Violations};
use crate::{GoalId, ObjectiveId};

impl Plan {
    pub(super) fn add_goal(&self, c: &AddGoal) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.required("description", &c.description, MAX_TEXT);
        v.finish()?;
        if self.goals.contains_key(&c.goal_id) {
            return Err(PlanError::GoalAlreadyExists(c.goal_id));
        }
        Ok(vec![PlanEvent::GoalAdded(GoalAdded {
            goal_id: c.goal_id,
            description: c.description.trim().to_owned(),
            term: c.term,
        })])
    }

    pub(super) fn close_goal(
        &self,
        c: &CloseGoal,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        self.open_goal(c.goal_id)?;
        Ok(vec![PlanEvent::GoalClosed(GoalClosed {
            goal_id: c.goal_id,
            outcome: c.outcome,
            closed_on: today,
        })])
    }

    pub(super) fn open_goal(&self, goal_id: GoalId) -> Result<(), PlanError> {
        match self.goals.get(&goal_id) {
            None => Err(PlanError::UnknownGoal(goal_id)),
            Some(GoalState { open: false }) => Err(PlanError::GoalClosed(goal_id)),
            Some(GoalState { open: true }) => Ok(()),
        }
    }

    pub(super) fn add_objective(
        &self,
        c: &AddObjective,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        // A template placeholder's id is taken: it is completed, not added.
        if self.drafts.contains_key(&c.objective_id) {
            return Err(PlanError::ObjectiveAlreadyExists(c.objective_id));
        }
        self.decide_objective(c, today)
    }

    /// The SMART checks and the event of a new (or completed) objective.
    pub(super) fn decide_objective(
        &self,
        c: &AddObjective,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.optional("description", &c.description, MAX_TEXT);
        if let Some(q) = &c.quantity {
            v.optional("quantity.unit", &q.unit, MAX_SHORT_TEXT);
            v.optional("quantity.period", &q.period, MAX_SHORT_TEXT);
            for (field, value) in [
                ("quantity.baseline", q.baseline),
                ("quantity.target", q.target),
            ] {
                if value.is_some_and(|x| !x.is_finite()) {
                    v.push(field, "must be a finite number");
                }
            }
        }
        v.finish()?;
        let smart = |criterion, field, description: &str| PlanError::NotSmart {
            criterion,
            field,
            description: description.to_owned(),
        };
        if c.description.trim().is_empty() {
            return Err(smart(
                SmartCriterion::Specific,
                "description",
                "describe the behaviour or outcome the objective is about",
            ));
        }
        if let Some(measure) = c.measure {
            if c.quantity.is_some() {
                return Err(PlanError::Invalid(vec![FieldViolation::new(
                    "measure",
                    "give a quantity or a measure, not both",
                )]));
            }
            return self.add_measure_objective(c, measure, today);
        }
        let Some(q) = &c.quantity else {
            return Err(smart(
                SmartCriterion::Measurable,
                "quantity",
                "a baseline, a target and a unit are required",
            ));
        };
        let Some(baseline) = q.baseline else {
            return Err(smart(
                SmartCriterion::Measurable,
                "quantity.baseline",
                "a baseline is required",
            ));
        };
        let Some(target) = q.target else {
            return Err(smart(
                SmartCriterion::Measurable,
                "quantity.target",
                "a target is required",
            ));
        };
        if q.unit.trim().is_empty() {
            return Err(smart(
                SmartCriterion::Measurable,
                "quantity.unit",
                "a unit is required",
            ));
        }
        #[allow(clippy::float_cmp)] // exact equality is the rule: no change asked for
        if baseline == target {
            return Err(smart(
                SmartCriterion::Achievable,
                "quantity.target",
                "the target must differ from the baseline",
            ));
        }
        let target_date = self.time_bound_and_placed(c, today)?;
        Ok(vec![PlanEvent::ObjectiveAdded(ObjectiveAdded {
            objective_id: c.objective_id,
            goal_id: c.goal_id,
            description: c.description.trim().to_owned(),
            baseline,
            target,
            unit: q.unit.trim().to_owned(),
            period: q.period.trim().to_owned(),
            target_date,
            measure: None,
        })])
    }

    /// The T of SMART, then where the objective goes: an open goal, a
    /// fresh id. Returns the target date.
    pub(super) fn time_bound_and_placed(
        &self,
        c: &AddObjective,
        today: NaiveDate,
    ) -> Result<NaiveDate, PlanError> {
        let not_time_bound = |description: &str| PlanError::NotSmart {
            criterion: SmartCriterion::TimeBound,
            field: "target_date",
            description: description.to_owned(),
        };
        let Some(target_date) = c.target_date else {
            return Err(not_time_bound("a target date is required"));
        };
        if target_date <= today {
            return Err(not_time_bound("the target date must be in the future"));
        }
        self.open_goal(c.goal_id)?;
        if self.objectives.contains_key(&c.objective_id) {
            return Err(PlanError::ObjectiveAlreadyExists(c.objective_id));
        }
        Ok(target_date)
    }

    pub(super) fn objective(&self, id: ObjectiveId) -> Result<ObjectiveState, PlanError> {
        if self.drafts.contains_key(&id) {
            return Err(PlanError::ObjectiveIncomplete(id));
        }
        self.objectives
            .get(&id)
            .copied()
            .ok_or(PlanError::UnknownObjective(id))
    }

    pub(super) fn record_progress(
        &self,
        c: &RecordObjectiveProgress,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        if !c.value.is_finite() {
            v.push("value", "must be a finite number");
        }
        if c.observed_on > today {
            v.push("observed_on", "must not be in the future");
        }
        v.optional("note", &c.note, MAX_TEXT);
        v.finish()?;
        self.objective(c.objective_id)?;
        Ok(vec![PlanEvent::ObjectiveProgressRecorded(
            ObjectiveProgressRecorded {
                objective_id: c.objective_id,
                value: c.value,
                observed_on: c.observed_on,
                source: c.source,
                note: c.note.trim().to_owned(),
            },
        )])
    }

    /// An objective that is neither met nor closed as not met.
    pub(super) fn open_objective(&self, id: ObjectiveId) -> Result<ObjectiveState, PlanError> {
        let objective = self.objective(id)?;
        match objective.outcome {
            None => Ok(objective),
            Some(true) => Err(PlanError::ObjectiveAlreadyMet(id)),
            Some(false) => Err(PlanError::ObjectiveClosed(id)),
        }
    }

    pub(super) fn mark_met(
        &self,
        c: &MarkObjectiveMet,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        self.open_objective(c.objective_id)?;
        Ok(vec![PlanEvent::ObjectiveMet(ObjectiveMet {
            objective_id: c.objective_id,
            met_on: today,
            by_measure: None,
        })])
    }
}

impl Plan {
    pub(super) fn revise_goal(&self, c: &ReviseGoal) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.required("description", &c.description, MAX_TEXT);
        v.required("reason", &c.reason, MAX_TEXT);
        v.finish()?;
        self.open_goal(c.goal_id)?;
        Ok(vec![PlanEvent::GoalRevised(GoalRevised {
            goal_id: c.goal_id,
            description: c.description.trim().to_owned(),
            reason: c.reason.trim().to_owned(),
        })])
    }

    /// A new target or date for an open objective, for a reason. The SMART
    /// rules a new objective meets apply to the new values too.
    pub(super) fn revise_objective(
        &self,
        c: &ReviseObjective,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.required("reason", &c.reason, MAX_TEXT);
        if c.target.is_some_and(|t| !t.is_finite()) {
            v.push("target", "must be a finite number");
        }
        if c.target.is_none() && c.target_date.is_none() {
            v.push("target", "give a new target, a new target date, or both");
        }
        v.finish()?;
        let objective = self.open_objective(c.objective_id)?;
        if !self.stands(&CorrectionTarget::Objective(c.objective_id)) {
            return Err(PlanError::EnteredInError);
        }
        if let Some(target) = c.target {
            if objective.measure.is_some() {
                return Err(PlanError::Invalid(vec![FieldViolation::new(
                    "target",
                    "a questionnaire-measured objective's target follows from its reduction; \
                     revise the date only",
                )]));
            }
            #[allow(clippy::float_cmp)] // exact equality is the rule: no change asked for
            if target == objective.baseline {
                return Err(PlanError::NotSmart {
                    criterion: SmartCriterion::Achievable,
                    field: "target",
                    description: "the target must differ from the baseline".to_owned(),
                });
            }
        }
        if c.target_date.is_some_and(|d| d <= today) {
            return Err(PlanError::NotSmart {
                criterion: SmartCriterion::TimeBound,
                field: "target_date",
                description: "the target date must be in the future".to_owned(),
            });
        }
        Ok(vec![PlanEvent::ObjectiveRevised(ObjectiveRevised {
            objective_id: c.objective_id,
            target: c.target,
            target_date: c.target_date,
            reason: c.reason.trim().to_owned(),
        })])
    }

    pub(super) fn mark_not_met(
        &self,
        c: &MarkObjectiveNotMet,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.required("reason", &c.reason, MAX_TEXT);
        v.finish()?;
        self.open_objective(c.objective_id)?;
        Ok(vec![PlanEvent::ObjectiveNotMet(ObjectiveNotMet {
            objective_id: c.objective_id,
            closed_on: today,
            reason: c.reason.trim().to_owned(),
        })])
    }

    /// "PHQ-9 at least 60% below baseline": the baseline is the first
    /// score of the instrument, so one must have been recorded.
    pub(super) fn add_measure_objective(
        &self,
        c: &AddObjective,
        measure: MeasureTarget,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let smart = |criterion, field, description: String| PlanError::NotSmart {
            criterion,
            field,
            description,
        };
        if !(1..=100).contains(&measure.reduction_percent) {
            return Err(PlanError::Invalid(vec![FieldViolation::new(
                "measure.reduction_percent",
                "must be between 1 and 100",
            )]));
        }
        let label = measure.instrument.label();
        let Some(baseline) = self.baseline(measure.instrument) else {
            return Err(smart(
                SmartCriterion::Measurable,
                "measure",
                format!("record a baseline {label} before an objective measured by it"),
            ));
        };
        let target = target_score(baseline, measure.reduction_percent);
        if target == baseline {
            return Err(smart(
                SmartCriterion::Achievable,
                "measure.reduction_percent",
                format!("the baseline {label} leaves no room for that reduction"),
            ));
        }
        let target_date = self.time_bound_and_placed(c, today)?;
        Ok(vec![PlanEvent::ObjectiveAdded(ObjectiveAdded {
            objective_id: c.objective_id,
            goal_id: c.goal_id,
            description: c.description.trim().to_owned(),
            baseline: f64::from(baseline),
            target: f64::from(target),
            unit: format!("{label} total score"),
            period: String::new(),
            target_date,
            measure: Some(measure),
        })])
    }
}
