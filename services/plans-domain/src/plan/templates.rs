//! Plans made from templates, and completing the objective placeholders
//! a template leaves.

use chrono::NaiveDate;

use super::Plan;
use crate::command::{AddObjective, CompleteObjective, CreatePlanFromTemplate, QuantityTarget};
use crate::error::{FieldViolation, PlanError};
use crate::event::{GoalAdded, InterventionAdded, ObjectiveDrafted, PlanEvent};
use crate::{GoalId, InterventionId, ObjectiveId, child_id};

impl Plan {
    /// The plan, then the template's content copied into its own events:
    /// later changes to the template never reach this plan.
    pub(super) fn create_from_template(
        &self,
        c: &CreatePlanFromTemplate,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let Some((reference, template)) = &c.resolved else {
            return Err(PlanError::UnknownTemplate);
        };
        let mut events = self.create(&c.create, today)?;
        if let Some(PlanEvent::PlanCreated(created)) = events.first_mut() {
            created.template = Some(reference.clone());
        }
        let plan = c.create.plan_id;
        let goal_ids: Vec<GoalId> = (0..template.goals.len())
            .map(|n| GoalId(child_id(plan, "goal", n)))
            .collect();
        let mut objectives = 0;
        for (goal, goal_id) in template.goals.iter().zip(&goal_ids) {
            events.push(PlanEvent::GoalAdded(GoalAdded {
                goal_id: *goal_id,
                description: goal.description.clone(),
                term: goal.term,
            }));
            for objective in &goal.objectives {
                events.push(PlanEvent::ObjectiveDrafted(ObjectiveDrafted {
                    objective_id: ObjectiveId(child_id(plan, "objective", objectives)),
                    goal_id: *goal_id,
                    description: objective.description.clone(),
                    unit: objective.unit.clone(),
                    period: objective.period.clone(),
                    measure: objective.measure,
                }));
                objectives += 1;
            }
        }
        for (n, i) in template.interventions.iter().enumerate() {
            events.push(PlanEvent::InterventionAdded(InterventionAdded {
                intervention_id: InterventionId(child_id(plan, "intervention", n)),
                modality: i.modality.clone(),
                technique: i.technique.clone(),
                frequency: i.frequency.clone(),
                goal_ids: i
                    .goals
                    .iter()
                    .filter_map(|g| goal_ids.get(*g))
                    .copied()
                    .collect(),
                comorbidity: i.comorbidity.clone(),
            }));
        }
        events.extend(
            template
                .measure_schedule
                .iter()
                .map(|s| PlanEvent::MeasureScheduled(*s)),
        );
        if let Some(service_plan) = &template.service_plan {
            events.push(PlanEvent::ServicePlanRecorded(service_plan.clone()));
        }
        Ok(events)
    }

    /// A placeholder completed with the client's numbers goes through the
    /// same SMART checks as any new objective.
    pub(super) fn complete_objective(
        &self,
        c: &CompleteObjective,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let Some(draft) = self.drafts.get(&c.objective_id) else {
            return Err(if self.objectives.contains_key(&c.objective_id) {
                PlanError::ObjectiveAlreadyComplete(c.objective_id)
            } else {
                PlanError::UnknownObjective(c.objective_id)
            });
        };
        if draft.measure.is_some() && c.quantity.is_some() {
            return Err(PlanError::Invalid(vec![FieldViolation::new(
                "quantity",
                "this objective is measured by a questionnaire; give only its target date",
            )]));
        }
        let quantity = c.quantity.as_ref().map(|q| QuantityTarget {
            baseline: q.baseline,
            target: q.target,
            unit: if q.unit.trim().is_empty() {
                draft.unit.clone()
            } else {
                q.unit.clone()
            },
            period: if q.period.trim().is_empty() {
                draft.period.clone()
            } else {
                q.period.clone()
            },
        });
        let description = if c.description.trim().is_empty() {
            draft.description.clone()
        } else {
            c.description.clone()
        };
        self.decide_objective(
            &AddObjective {
                objective_id: c.objective_id,
                goal_id: draft.goal_id,
                description,
                quantity,
                measure: draft.measure,
                target_date: c.target_date,
            },
            today,
        )
    }
}
