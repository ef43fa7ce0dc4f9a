//! Plan templates over GraphQL: list them, make a plan from one, complete
//! its objective placeholders; admins save and retire the tenant's own.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use trellis_proto::plans::v1 as pb;

use crate::care_schema::{MeasureGoal, ServicePlan};
use crate::mutation::{
    CommandResult, CreatePlanInput, MeasureTargetInput, QuantityInput, call_plans, id, send,
    wire_instrument, wire_modality, wire_term,
};
use crate::schema::{GqlGoalTerm, GqlInstrument, GqlModality};

fn term_of(raw: i32) -> GqlGoalTerm {
    match pb::GoalTerm::try_from(raw) {
        Ok(pb::GoalTerm::LongTerm) => GqlGoalTerm::LongTerm,
        _ => GqlGoalTerm::ShortTerm,
    }
}

fn instrument_of(raw: i32) -> GqlInstrument {
    match pb::Instrument::try_from(raw) {
        Ok(pb::Instrument::Gad7) => GqlInstrument::Gad7,
        Ok(pb::Instrument::Pswq) => GqlInstrument::Pswq,
        _ => GqlInstrument::Phq9,
    }
}

fn modality_of(raw: i32) -> GqlModality {
    match pb::Modality::try_from(raw).unwrap_or(pb::Modality::Other) {
        pb::Modality::Cbt => GqlModality::Cbt,
        pb::Modality::Dbt => GqlModality::Dbt,
        pb::Modality::Act => GqlModality::Act,
        pb::Modality::Mbsr => GqlModality::Mbsr,
        pb::Modality::Exposure => GqlModality::Exposure,
        pb::Modality::FamilyTherapy => GqlModality::FamilyTherapy,
        pb::Modality::Psychoeducation => GqlModality::Psychoeducation,
        pb::Modality::RelaxationTraining => GqlModality::RelaxationTraining,
        pb::Modality::BehaviouralActivation => GqlModality::BehaviouralActivation,
        pb::Modality::SleepHygiene => GqlModality::SleepHygiene,
        pb::Modality::MotivationalInterviewing => GqlModality::MotivationalInterviewing,
        pb::Modality::Other | pb::Modality::Unspecified => GqlModality::Other,
    }
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
    term: GqlGoalTerm,
    objectives: Vec<TemplateObjective>,
}

#[derive(Debug, SimpleObject)]
pub struct TemplateIntervention {
    modality: GqlModality,
    other_modality: Option<String>,
    technique: String,
    frequency: String,
    /// Indexes into the template's goals.
    goal_indexes: Vec<u32>,
    comorbidity: String,
}

#[derive(Debug, SimpleObject)]
pub struct TemplateMeasure {
    instrument: GqlInstrument,
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
    term: GqlGoalTerm,
    #[graphql(default)]
    objectives: Vec<TemplateObjectiveInput>,
}

#[derive(Debug, InputObject)]
pub struct TemplateInterventionInput {
    modality: GqlModality,
    other_modality: Option<String>,
    technique: String,
    frequency: Option<String>,
    #[graphql(default)]
    goal_indexes: Vec<u32>,
    comorbidity: Option<String>,
}

#[derive(Debug, InputObject)]
pub struct TemplateMeasureInput {
    instrument: GqlInstrument,
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
                template_id: id(self.template_id),
                version: 0,
                builtin: false,
                name: self.name,
                goals: self
                    .goals
                    .into_iter()
                    .map(|g| pb::TemplateGoal {
                        description: g.description,
                        term: wire_term(g.term) as i32,
                        objectives: g
                            .objectives
                            .into_iter()
                            .map(|o| pb::TemplateObjective {
                                description: o.description,
                                unit: o.unit.unwrap_or_default(),
                                period: o.period.unwrap_or_default(),
                                measure: o.measure.map(|m| m.to_wire()),
                            })
                            .collect(),
                    })
                    .collect(),
                interventions: self
                    .interventions
                    .into_iter()
                    .map(|i| pb::TemplateIntervention {
                        modality: wire_modality(i.modality) as i32,
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
                        instrument: wire_instrument(s.instrument) as i32,
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
pub struct CreatePlanFromTemplateInput {
    /// The plan's fields, as for `createPlan`.
    #[graphql(flatten)]
    plan: CreatePlanInput,
    /// e.g. "builtin-gad", "builtin-mdd", or a tenant template's id.
    template_id: ID,
}

#[derive(Debug, InputObject)]
pub struct CompleteObjectiveInput {
    command_id: ID,
    plan_id: ID,
    objective_id: ID,
    /// Omitted keeps the template's wording.
    description: Option<String>,
    /// Unit and period default to the template's; omit for a
    /// questionnaire-measured objective.
    quantity: Option<QuantityInput>,
    target_date: Option<String>,
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
    /// A new draft plan with the template's goals, objective placeholders,
    /// interventions, measure schedule and service plan.
    async fn create_plan_from_template(
        &self,
        ctx: &Context<'_>,
        input: CreatePlanFromTemplateInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::CreatePlanFromTemplateRequest {
            plan: Some(input.plan.into_wire()),
            template_id: input.template_id.0,
        };
        send(
            ctx,
            "CreatePlanFromTemplate",
            message,
            |mut c, r| async move { c.create_plan_from_template(r).await },
        )
        .await
    }

    /// Fills in a template placeholder with the client's numbers.
    async fn complete_objective(
        &self,
        ctx: &Context<'_>,
        input: CompleteObjectiveInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::CompleteObjectiveRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            objective_id: input.objective_id.0,
            description: input.description.unwrap_or_default(),
            quantity: input.quantity.map(QuantityInput::into_wire),
            target_date: input.target_date.unwrap_or_default(),
        };
        send(ctx, "CompleteObjective", message, |mut c, r| async move {
            c.complete_objective(r).await
        })
        .await
    }

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
