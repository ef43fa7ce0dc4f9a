//! Plan templates: the seed's GAD and MDD plans built in, and each
//! tenant's own.
//!
//! A tenant's templates live in one stream (`<tenant>:templates-tenant`)
//! of [`TemplateEvent`]s; every save is a new version. A plan created from
//! a template copies its content into the plan's own events, so changing
//! or retiring a template never alters a plan made from it. Objectives
//! come as placeholders (no baseline, target or date) that the clinician
//! completes before the plan can be activated.

use std::collections::BTreeMap;

use crate::error::{FieldViolation, PlanError};
use crate::event::Modality;
pub use crate::event::TemplateRef;

pub const TEMPLATES_CATEGORY: &str = "templates";
pub const TEMPLATES_STREAM_ID: &str = "tenant";
/// Built-in template ids start with this; tenants cannot save over them.
pub const BUILTIN_PREFIX: &str = "builtin-";

const MAX_NAME: usize = 200;
const MAX_TEXT: usize = 4000;
const MAX_ENTRIES: usize = 50;

/// A template as offered to clinicians.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedTemplate {
    pub reference: TemplateRef,
    pub builtin: bool,
    pub template: PlanTemplate,
}

/// The built-in templates and a tenant's own, as the tenant's stream
/// leaves them.
#[derive(Debug, Clone, Default)]
pub struct TemplateLibrary {
    /// Tenant templates by id: latest version and content (None once retired).
    own: BTreeMap<String, (u32, Option<PlanTemplate>)>,
}

impl TemplateLibrary {
    pub fn evolve(&mut self, event: &TemplateEvent) {
        match event {
            TemplateEvent::Saved(e) => {
                let entry = self.own.entry(e.template_id.clone()).or_insert((0, None));
                entry.0 += 1;
                entry.1 = Some(e.template.clone());
            }
            TemplateEvent::Retired(e) => {
                if let Some(entry) = self.own.get_mut(&e.template_id) {
                    entry.1 = None;
                }
            }
        }
    }

    /// Every template in use: built-in ones first, then the tenant's.
    pub fn list(&self) -> Vec<ListedTemplate> {
        let builtin = builtin_templates()
            .into_iter()
            .map(|(id, template)| ListedTemplate {
                reference: TemplateRef {
                    template_id: id.to_owned(),
                    version: 1,
                },
                builtin: true,
                template,
            });
        let own = self.own.iter().filter_map(|(id, (version, template))| {
            template.as_ref().map(|t| ListedTemplate {
                reference: TemplateRef {
                    template_id: id.clone(),
                    version: *version,
                },
                builtin: false,
                template: t.clone(),
            })
        });
        builtin.chain(own).collect()
    }

    /// The current version of a template in use.
    pub fn get(&self, template_id: &str) -> Result<(TemplateRef, PlanTemplate), PlanError> {
        self.list()
            .into_iter()
            .find(|t| t.reference.template_id == template_id)
            .map(|t| (t.reference, t.template))
            .ok_or(PlanError::UnknownTemplate)
    }

    /// Saves a new template, or a new version of one of the tenant's.
    pub fn save(
        &self,
        template_id: &str,
        template: PlanTemplate,
    ) -> Result<TemplateEvent, PlanError> {
        if template_id.starts_with(BUILTIN_PREFIX) {
            return Err(PlanError::TemplateReadOnly);
        }
        if template_id.chars().count() > MAX_NAME {
            return Err(PlanError::Invalid(vec![FieldViolation::new(
                "template_id",
                format!("must be at most {MAX_NAME} characters"),
            )]));
        }
        Ok(TemplateEvent::Saved(Box::new(TemplateSaved {
            template_id: template_id.to_owned(),
            template: validate(&template)?,
        })))
    }

    pub fn retire(&self, template_id: &str) -> Result<TemplateEvent, PlanError> {
        if template_id.starts_with(BUILTIN_PREFIX) {
            return Err(PlanError::TemplateReadOnly);
        }
        match self.own.get(template_id) {
            Some((_, Some(_))) => Ok(TemplateEvent::Retired(TemplateRetired {
                template_id: template_id.to_owned(),
            })),
            _ => Err(PlanError::UnknownTemplate),
        }
    }
}

/// Checks a template and returns it with its service plan trimmed.
fn validate(t: &PlanTemplate) -> Result<PlanTemplate, PlanError> {
    let mut v = Vec::new();
    let mut text = |field: &'static str, value: &str, max: usize, required: bool| {
        if required && value.trim().is_empty() {
            v.push(FieldViolation::new(field, "is required"));
        } else if value.chars().count() > max {
            v.push(FieldViolation::new(
                field,
                format!("must be at most {max} characters"),
            ));
        }
    };
    text("name", &t.name, MAX_NAME, true);
    for goal in &t.goals {
        text("goals.description", &goal.description, MAX_TEXT, true);
        for o in &goal.objectives {
            text(
                "goals.objectives.description",
                &o.description,
                MAX_TEXT,
                true,
            );
            text(
                "goals.objectives.unit",
                &o.unit,
                MAX_NAME,
                o.measure.is_none(),
            );
            text("goals.objectives.period", &o.period, MAX_NAME, false);
        }
    }
    for i in &t.interventions {
        text("interventions.technique", &i.technique, MAX_TEXT, true);
        text("interventions.frequency", &i.frequency, MAX_NAME, false);
        text("interventions.comorbidity", &i.comorbidity, MAX_NAME, false);
        if let Modality::Other(name) = &i.modality {
            text("interventions.other_modality", name, MAX_NAME, true);
        }
    }
    if t.goals.is_empty() {
        v.push(FieldViolation::new("goals", "a template needs a goal"));
    }
    if t.goals.iter().any(|g| g.objectives.len() > MAX_ENTRIES)
        || t.measure_schedule.len() > MAX_ENTRIES
    {
        v.push(FieldViolation::new(
            "goals.objectives",
            format!("at most {MAX_ENTRIES} objectives per goal and schedule entries"),
        ));
    }
    if t.goals.len() > MAX_ENTRIES || t.interventions.len() > MAX_ENTRIES {
        v.push(FieldViolation::new(
            "goals",
            format!("at most {MAX_ENTRIES} goals and {MAX_ENTRIES} interventions"),
        ));
    }
    if t.goals
        .iter()
        .flat_map(|g| &g.objectives)
        .filter_map(|o| o.measure)
        .any(|m| !(1..=100).contains(&m.reduction_percent))
    {
        v.push(FieldViolation::new(
            "goals.objectives.measure.reduction_percent",
            "must be between 1 and 100",
        ));
    }
    if t.interventions
        .iter()
        .flat_map(|i| &i.goals)
        .any(|g| *g >= t.goals.len())
    {
        v.push(FieldViolation::new(
            "interventions.goals",
            "must name goals of the template by index",
        ));
    }
    if t.measure_schedule.iter().any(|s| s.interval_days > 365) {
        v.push(FieldViolation::new(
            "measure_schedule.interval_days",
            "must be at most 365",
        ));
    }
    let service_plan = match t
        .service_plan
        .as_ref()
        .map(crate::service_plan::checked_service_plan)
    {
        Some(Err(PlanError::Invalid(problems))) => {
            v.extend(problems);
            None
        }
        Some(checked) => checked.ok(),
        None => None,
    };
    if v.is_empty() {
        Ok(PlanTemplate {
            service_plan,
            ..t.clone()
        })
    } else {
        Err(PlanError::Invalid(v))
    }
}

mod builtin;
mod content;

pub use builtin::builtin_templates;
pub use content::{
    PlanTemplate, TemplateEvent, TemplateGoal, TemplateIntervention, TemplateObjective,
    TemplateRetired, TemplateSaved,
};

#[cfg(test)]
mod tests;
