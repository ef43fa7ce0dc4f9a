//! What a template holds, and the events of a tenant's template stream.

use serde::{Deserialize, Serialize};

use crate::codec::stored_events;
use crate::event::{GoalTerm, MeasureScheduled, MeasureTarget, Modality, ServicePlanRecorded};

/// An objective to be completed with the client's own numbers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateObjective {
    pub description: String,
    pub unit: String,
    pub period: String,
    pub measure: Option<MeasureTarget>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateGoal {
    pub description: String,
    pub term: GoalTerm,
    pub objectives: Vec<TemplateObjective>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateIntervention {
    pub modality: Modality,
    pub technique: String,
    pub frequency: String,
    /// Indexes into the template's goals.
    pub goals: Vec<usize>,
    pub comorbidity: String,
}

/// What a plan made from the template starts with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanTemplate {
    pub name: String,
    pub goals: Vec<TemplateGoal>,
    pub interventions: Vec<TemplateIntervention>,
    pub measure_schedule: Vec<MeasureScheduled>,
    pub service_plan: Option<ServicePlanRecorded>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateSaved {
    pub template_id: String,
    pub template: PlanTemplate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TemplateRetired {
    pub template_id: String,
}

stored_events! {
    /// What happens to a tenant's templates.
    pub enum TemplateEvent {
        Saved(Box<TemplateSaved>) = "TemplateSaved" @ 1,
        Retired(TemplateRetired) = "TemplateRetired" @ 1,
    }
}
