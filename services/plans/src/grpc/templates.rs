//! Plans made from templates, and the admin's template commands.

use tonic::{Request, Response, Status};
use trellis_auth::Caller;
use trellis_grpc_edge::{caller, observed};
use trellis_plans_domain::template::{
    ListedTemplate, PlanTemplate, TemplateGoal, TemplateIntervention, TemplateLibrary,
    TemplateObjective,
};
use trellis_plans_domain::{CompleteObjective, CreatePlanFromTemplate, MeasureTarget, Modality};
use trellis_plans_domain::{GoalTerm, Instrument, MeasureScheduled, ServicePlanRecorded};
use trellis_plans_domain::{ObjectiveId, PlanCommand, QuantityTarget};
use trellis_proto::plans::v1 as pb;

use crate::PlanCommands;

use super::fields::{Fields, Mapped};
use super::lifecycle::map_create_plan;
use super::settings::{settings_command, settings_context, settings_request};
use super::status::to_status;
use super::wire::{goal_term, instrument, modality};

pub(super) fn create_plan_from_template(
    caller: &Caller,
    r: &pb::CreatePlanFromTemplateRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    // The plan's own ids are named under `plan.`, where the request holds
    // them.
    let created = match &r.plan {
        Some(plan) => {
            let mut inner = Fields::default();
            let created = map_create_plan(caller, plan, &mut inner);
            for violation in inner.0 {
                let field = match violation.field {
                    "command_id" => "plan.command_id",
                    "plan_id" => "plan.plan_id",
                    other => other,
                };
                f.violation(field, &violation.description);
            }
            created
        }
        None => {
            f.violation("plan", "is required");
            None
        }
    };
    if r.template_id.trim().is_empty() {
        f.violation("template_id", "is required");
    }
    let (command_id, create) = created?;
    Some(Mapped {
        plan_id: create.plan_id,
        command_id,
        entity_id: create.plan_id.0,
        command: PlanCommand::CreatePlanFromTemplate(Box::new(CreatePlanFromTemplate {
            create,
            template_id: r.template_id.trim().to_owned(),
            resolved: None,
        })),
    })
}

pub(super) fn complete_objective(
    _caller: &Caller,
    r: &pb::CompleteObjectiveRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let command_id = f.command_id(&r.command_id);
    let plan_id = f.plan_id(&r.plan_id);
    let objective_id = f.uuid("objective_id", &r.objective_id).map(ObjectiveId);
    let target_date = f.optional_date("target_date", &r.target_date);
    let objective_id = objective_id?;
    Some(Mapped {
        plan_id: plan_id?,
        command_id: command_id?,
        entity_id: objective_id.0,
        command: PlanCommand::CompleteObjective(CompleteObjective {
            objective_id,
            description: r.description.clone(),
            quantity: r.quantity.as_ref().map(|q| QuantityTarget {
                baseline: q.baseline,
                target: q.target,
                unit: q.unit.clone(),
                period: q.period.clone(),
            }),
            target_date: target_date?,
        }),
    })
}

pub(super) async fn save_template(
    commands: &PlanCommands,
    request: Request<pb::SaveTemplateRequest>,
) -> Result<Response<pb::PlanTemplate>, Status> {
    let (caller, meta, body) = settings_request(request)?;
    let tenant = caller.tenant.to_string();
    let mut fields = Fields::default();
    // Required here (unlike the other settings): a template saved twice
    // would be two versions, so a resend must be recognisable.
    let command_id = fields.command_id(&body.command_id);
    let wire = body.template.unwrap_or_default();
    let template = from_wire(&mut fields, &wire);
    if let Some(t) = &template
        && !fields.0.is_empty()
    {
        // Refused here anyway: name the template's content rules too,
        // which the domain would otherwise check only after the edge.
        let checked = TemplateLibrary::default().save(wire.template_id.trim(), t.clone());
        if let Err(e) = checked {
            fields.0.extend(e.field_violations());
        }
    }
    let (command_id, template) = match (command_id, template, fields.into_status()) {
        (Some(c), Some(t), None) => (c, t),
        (_, _, status) => {
            let status = status.unwrap_or_else(|| Status::invalid_argument("invalid template"));
            return observed(&tenant, "invalid", Err(status));
        }
    };
    let ctx = settings_context(caller, meta, command_id);
    let saved = commands
        .save_template(&ctx, &wire.template_id, template)
        .await
        .map_err(to_status);
    observed(&tenant, "SaveTemplate", saved).map(|t| Response::new(to_wire(t)))
}

pub(super) async fn retire_template(
    commands: &PlanCommands,
    request: Request<pb::RetireTemplateRequest>,
) -> Result<Response<pb::RetireTemplateResponse>, Status> {
    let (ctx, body, tenant) = settings_command(
        request,
        |b| &b.command_id,
        |b, fields| {
            if b.command_id.trim().is_empty() {
                fields.violation("command_id", "is required");
            }
            if b.template_id.trim().is_empty() {
                fields.violation("template_id", "is required");
            }
        },
    )?;
    let retired = commands
        .retire_template(&ctx, body.template_id.trim())
        .await
        .map_err(to_status);
    observed(&tenant, "RetireTemplate", retired)
        .map(|()| Response::new(pb::RetireTemplateResponse {}))
}

pub(super) async fn list_templates(
    commands: &PlanCommands,
    request: Request<pb::ListTemplatesRequest>,
) -> Result<Response<pb::Templates>, Status> {
    let caller = caller(&request)?;
    let tenant = caller.tenant.to_string();
    let listed = commands.list_templates(&caller).await.map_err(to_status);
    observed(&tenant, "ListTemplates", listed).map(|list| {
        Response::new(pb::Templates {
            templates: list.into_iter().map(to_wire).collect(),
        })
    })
}

// Templates on the wire: proto ↔ domain, both ways.

pub(super) fn wire_term(t: GoalTerm) -> pb::GoalTerm {
    match t {
        GoalTerm::ShortTerm => pb::GoalTerm::ShortTerm,
        GoalTerm::LongTerm => pb::GoalTerm::LongTerm,
    }
}

pub(super) fn wire_instrument(i: Instrument) -> pb::Instrument {
    match i {
        Instrument::Phq9 => pb::Instrument::Phq9,
        Instrument::Gad7 => pb::Instrument::Gad7,
        Instrument::Pswq => pb::Instrument::Pswq,
    }
}

/// The wire modality and, for "other", its name.
pub(super) fn wire_modality(m: &Modality) -> (pb::Modality, String) {
    let kind = match m {
        Modality::Cbt => pb::Modality::Cbt,
        Modality::Dbt => pb::Modality::Dbt,
        Modality::Act => pb::Modality::Act,
        Modality::Mbsr => pb::Modality::Mbsr,
        Modality::Exposure => pb::Modality::Exposure,
        Modality::FamilyTherapy => pb::Modality::FamilyTherapy,
        Modality::Psychoeducation => pb::Modality::Psychoeducation,
        Modality::RelaxationTraining => pb::Modality::RelaxationTraining,
        Modality::BehaviouralActivation => pb::Modality::BehaviouralActivation,
        Modality::SleepHygiene => pb::Modality::SleepHygiene,
        Modality::MotivationalInterviewing => pb::Modality::MotivationalInterviewing,
        Modality::Other(name) => return (pb::Modality::Other, name.clone()),
    };
    (kind, String::new())
}

pub(super) fn wire_measure(m: MeasureTarget) -> pb::MeasureTarget {
    pb::MeasureTarget {
        instrument: wire_instrument(m.instrument) as i32,
        reduction_percent: u32::from(m.reduction_percent),
    }
}

pub(super) fn to_wire(listed: ListedTemplate) -> pb::PlanTemplate {
    let t = listed.template;
    pb::PlanTemplate {
        template_id: listed.reference.template_id,
        version: listed.reference.version,
        builtin: listed.builtin,
        name: t.name,
        goals: t
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
                        unit: o.unit,
                        period: o.period,
                        measure: o.measure.map(wire_measure),
                    })
                    .collect(),
            })
            .collect(),
        interventions: t
            .interventions
            .into_iter()
            .map(|i| {
                let (kind, other) = wire_modality(&i.modality);
                pb::TemplateIntervention {
                    modality: kind as i32,
                    other_modality: other,
                    technique: i.technique,
                    frequency: i.frequency,
                    goal_indexes: i
                        .goals
                        .iter()
                        .map(|g| u32::try_from(*g).unwrap_or(u32::MAX))
                        .collect(),
                    comorbidity: i.comorbidity,
                }
            })
            .collect(),
        measure_schedule: t
            .measure_schedule
            .into_iter()
            .map(|s| pb::MeasureSchedule {
                instrument: wire_instrument(s.instrument) as i32,
                interval_days: s.interval_days,
            })
            .collect(),
        service_plan: t.service_plan.map(|s| pb::ServicePlan {
            session_type: s.session_type,
            minutes: s.minutes,
            frequency: s.frequency,
            sessions_min: s.sessions_min,
            sessions_max: s.sessions_max,
            focus: s.focus,
            maintenance: s.maintenance,
            monitoring: s.monitoring,
        }),
    }
}

pub(super) fn measure_from_wire(f: &mut Fields, m: &pb::MeasureTarget) -> Option<MeasureTarget> {
    let instrument = f.choice("measure.instrument", instrument(m.instrument))?;
    Some(MeasureTarget {
        instrument,
        // Out-of-range shares saturate and are refused by validation.
        reduction_percent: u8::try_from(m.reduction_percent).unwrap_or(u8::MAX),
    })
}

/// The template's content; every unreadable enum is a field violation.
pub(super) fn from_wire(f: &mut Fields, w: &pb::PlanTemplate) -> Option<PlanTemplate> {
    let goals: Vec<Option<TemplateGoal>> = w
        .goals
        .iter()
        .map(|g| {
            let term = f.choice("goals.term", goal_term(g.term));
            let objectives: Vec<Option<TemplateObjective>> = g
                .objectives
                .iter()
                .map(|o| {
                    let measure = match &o.measure {
                        None => Some(None),
                        Some(m) => measure_from_wire(f, m).map(Some),
                    };
                    Some(TemplateObjective {
                        description: o.description.clone(),
                        unit: o.unit.clone(),
                        period: o.period.clone(),
                        measure: measure?,
                    })
                })
                .collect();
            Some(TemplateGoal {
                description: g.description.clone(),
                term: term?,
                objectives: objectives.into_iter().collect::<Option<_>>()?,
            })
        })
        .collect();
    let interventions: Vec<Option<TemplateIntervention>> = w
        .interventions
        .iter()
        .map(|i| {
            let kind = f.choice(
                "interventions.modality",
                modality(i.modality, &i.other_modality),
            )?;
            Some(TemplateIntervention {
                modality: kind,
                technique: i.technique.clone(),
                frequency: i.frequency.clone(),
                goals: i.goal_indexes.iter().map(|g| *g as usize).collect(),
                comorbidity: i.comorbidity.clone(),
            })
        })
        .collect();
    let schedule: Vec<Option<MeasureScheduled>> = w
        .measure_schedule
        .iter()
        .map(|s| {
            Some(MeasureScheduled {
                instrument: f.choice("measure_schedule.instrument", instrument(s.instrument))?,
                interval_days: s.interval_days,
            })
        })
        .collect();
    Some(PlanTemplate {
        name: w.name.clone(),
        goals: goals.into_iter().collect::<Option<_>>()?,
        interventions: interventions.into_iter().collect::<Option<_>>()?,
        measure_schedule: schedule.into_iter().collect::<Option<_>>()?,
        service_plan: w.service_plan.as_ref().map(|s| ServicePlanRecorded {
            session_type: s.session_type.clone(),
            minutes: s.minutes,
            frequency: s.frequency.clone(),
            sessions_min: s.sessions_min,
            sessions_max: s.sessions_max,
            focus: s.focus.clone(),
            maintenance: s.maintenance.clone(),
            monitoring: s.monitoring.clone(),
        }),
    })
}
