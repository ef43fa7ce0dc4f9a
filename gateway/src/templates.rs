//! Plan templates over GraphQL: list them; admins save and retire the
//! tenant's own. Making a plan from one and completing its objective
//! placeholders are plan commands (`contract.rs`).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use trellis_proto::plans::v1 as pb;

use crate::clinical::ServicePlan;
use crate::contract::{GoalTerm, Instrument, MeasureTargetInput, Modality};
use crate::measures::MeasureGoal;
use crate::plans_client::call_plans;

// A template the plans service lists was validated when it was saved; a
// value this gateway does not know (a newer server) shows as the first.
fn term_of(raw: i32) -> GoalTerm {
    GoalTerm::from_wire(raw).unwrap_or(GoalTerm::ShortTerm)
}

fn instrument_of(raw: i32) -> Instrument {
    Instrument::from_wire(raw).unwrap_or(Instrument::Phq9)
}

fn modality_of(raw: i32) -> Modality {
    Modality::from_wire(raw).unwrap_or(Modality::Other)
}

#[derive(Debug, SimpleObject)]
pub struct TemplateObjective {
    description: String,
    unit: String,
    period: String,
    measure: Option<MeasureGoal>,
}

#[derive(Debug, SimpleObject)]
pub struct TemplateGoal {
    description: String,
    term: GoalTerm,
    objectives: Vec<TemplateObjective>,
}

#[derive(Debug, SimpleObject)]
pub struct TemplateIntervention {
    modality: Modality,
    other_modality: Option<String>,
    technique: String,
    frequency: String,
    /// Indexes into the template's goals.
    goal_indexes: Vec<u32>,
    comorbidity: String,
}

#[derive(Debug, SimpleObject)]
pub struct TemplateMeasure {
    instrument: Instrument,
    interval_days: u32,
}

/// A plan template: built in (from the seed's GAD and MDD plans) or the
/// tenant's own, at its current version.
#[derive(Debug, SimpleObject)]
pub struct PlanTemplate {
    id: ID,
    version: u32,
    builtin: bool,
    name: String,
    goals: Vec<TemplateGoal>,
    interventions: Vec<TemplateIntervention>,
    measure_schedule: Vec<TemplateMeasure>,
    service_plan: Option<ServicePlan>,
}

impl From<pb::PlanTemplate> for PlanTemplate {
    fn from(t: pb::PlanTemplate) -> Self {
        Self {
            id: ID(t.template_id),
            version: t.version,
            builtin: t.builtin,
            name: t.name,
            goals: t
                .goals
                .into_iter()
                .map(|g| TemplateGoal {
                    description: g.description,
                    term: term_of(g.term),
                    objectives: g
                        .objectives
                        .into_iter()
                        .map(|o| TemplateObjective {
                            description: o.description,
                            unit: o.unit,
                            period: o.period,
                            measure: o.measure.map(|m| {
                                MeasureGoal::new(instrument_of(m.instrument), m.reduction_percent)
                            }),
                        })
                        .collect(),
                })
                .collect(),
            interventions: t
                .interventions
                .into_iter()
                .map(|i| TemplateIntervention {
                    modality: modality_of(i.modality),
                    other_modality: Some(i.other_modality).filter(|o| !o.is_empty()),
                    technique: i.technique,
                    frequency: i.frequency,
                    goal_indexes: i.goal_indexes,
                    comorbidity: i.comorbidity,
                })
                .collect(),
            measure_schedule: t
                .measure_schedule
                .into_iter()
                .map(|s| TemplateMeasure {
                    instrument: instrument_of(s.instrument),
                    interval_days: s.interval_days,
                })
                .collect(),
            service_plan: t.service_plan.map(ServicePlan::from_wire),
        }
    }
}

#[derive(Debug, InputObject)]
pub struct TemplateObjectiveInput {
    description: String,
    /// Required unless `measure` is given.
    unit: Option<String>,
    period: Option<String>,
    measure: Option<MeasureTargetInput>,
}

#[derive(Debug, InputObject)]
pub struct TemplateGoalInput {
    description: String,
    term: GoalTerm,
    #[graphql(default)]
    objectives: Vec<TemplateObjectiveInput>,
}

#[derive(Debug, InputObject)]
pub struct TemplateInterventionInput {
    modality: Modality,
    other_modality: Option<String>,
    technique: String,
    frequency: Option<String>,
    #[graphql(default)]
    goal_indexes: Vec<u32>,
    comorbidity: Option<String>,
}

#[derive(Debug, InputObject)]
pub struct TemplateMeasureInput {
    instrument: Instrument,
    interval_days: u32,
}

#[derive(Debug, InputObject)]
pub struct TemplateServicePlanInput {
    session_type: String,
    minutes: u32,
    frequency: String,
    sessions_min: u32,
    sessions_max: u32,
    focus: Option<String>,
    maintenance: Option<String>,
    #[graphql(default)]
    monitoring: Vec<String>,
}

#[derive(Debug, InputObject)]
pub struct SaveTemplateInput {
    command_id: ID,
    /// Omitted for a new template; an existing id saves a new version.
    template_id: Option<ID>,
    name: String,
    goals: Vec<TemplateGoalInput>,
    #[graphql(default)]
    interventions: Vec<TemplateInterventionInput>,
    #[graphql(default)]
    measure_schedule: Vec<TemplateMeasureInput>,
    service_plan: Option<TemplateServicePlanInput>,
}

impl SaveTemplateInput {
    fn into_wire(self) -> pb::SaveTemplateRequest {
        pb::SaveTemplateRequest {
            command_id: self.command_id.0,
            template: Some(pb::PlanTemplate {
                template_id: self.template_id.map(|t| t.0).unwrap_or_default(),
                version: 0,
                builtin: false,
                name: self.name,
                goals: self
                    .goals
                    .into_iter()
                    .map(|g| pb::TemplateGoal {
                        description: g.description,
                        term: pb::GoalTerm::from(g.term) as i32,
                        objectives: g
                            .objectives
                            .into_iter()
                            .map(|o| pb::TemplateObjective {
                                description: o.description,
                                unit: o.unit.unwrap_or_default(),
                                period: o.period.unwrap_or_default(),
                                measure: o.measure.map(Into::into),
                            })
                            .collect(),
                    })
                    .collect(),
                interventions: self
                    .interventions
                    .into_iter()
                    .map(|i| pb::TemplateIntervention {
                        modality: pb::Modality::from(i.modality) as i32,
                        other_modality: i.other_modality.unwrap_or_default(),
                        technique: i.technique,
                        frequency: i.frequency.unwrap_or_default(),
                        goal_indexes: i.goal_indexes,
                        comorbidity: i.comorbidity.unwrap_or_default(),
                    })
                    .collect(),
                measure_schedule: self
                    .measure_schedule
                    .into_iter()
                    .map(|s| pb::MeasureSchedule {
                        instrument: pb::Instrument::from(s.instrument) as i32,
                        interval_days: s.interval_days,
                    })
                    .collect(),
                service_plan: self.service_plan.map(|s| pb::ServicePlan {
                    session_type: s.session_type,
                    minutes: s.minutes,
                    frequency: s.frequency,
                    sessions_min: s.sessions_min,
                    sessions_max: s.sessions_max,
                    focus: s.focus.unwrap_or_default(),
                    maintenance: s.maintenance.unwrap_or_default(),
                    monitoring: s.monitoring,
                }),
            }),
        }
    }
}

#[derive(Debug, InputObject)]
pub struct RetireTemplateInput {
    command_id: ID,
    template_id: ID,
}

#[derive(Debug, Default)]
pub struct TemplateMutation;

#[Object]
impl TemplateMutation {
    /// Admin: saves a tenant template (a new version when it exists).
    async fn save_template(
        &self,
        ctx: &Context<'_>,
        input: SaveTemplateInput,
    ) -> async_graphql::Result<PlanTemplate> {
        let reply = call_plans(
            ctx,
            "SaveTemplate",
            input.into_wire(),
            |mut c, r| async move { c.save_template(r).await },
        )
        .await?;
        Ok(reply.into())
    }

    /// Admin: takes a tenant template out of use.
    async fn retire_template(
        &self,
        ctx: &Context<'_>,
        input: RetireTemplateInput,
    ) -> async_graphql::Result<bool> {
        let message = pb::RetireTemplateRequest {
            command_id: input.command_id.0,
            template_id: input.template_id.0,
        };
        call_plans(ctx, "RetireTemplate", message, |mut c, r| async move {
            c.retire_template(r).await
        })
        .await?;
        Ok(true)
    }
}

#[derive(Debug, Default)]
pub struct TemplateQuery;

#[Object]
impl TemplateQuery {
    /// Built-in and tenant templates (not for clients).
    async fn templates(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<PlanTemplate>> {
        let reply = call_plans(
            ctx,
            "ListTemplates",
            pb::ListTemplatesRequest {},
            |mut c, r| async move { c.list_templates(r).await },
        )
        .await?;
        Ok(reply.templates.into_iter().map(Into::into).collect())
    }
}
