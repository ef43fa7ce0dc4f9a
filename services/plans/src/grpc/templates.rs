//! Templates on the wire: proto ↔ domain, both ways.

use trellis_plans_domain::template::{
    ListedTemplate, PlanTemplate, TemplateGoal, TemplateIntervention, TemplateObjective,
};
use trellis_plans_domain::{
    GoalTerm, Instrument, MeasureScheduled, MeasureTarget, Modality, ServicePlanRecorded,
};
use trellis_proto::plans::v1 as pb;

use super::{Fields, goal_term, instrument, modality};

fn wire_term(t: GoalTerm) -> pb::GoalTerm {
    match t {
        GoalTerm::ShortTerm => pb::GoalTerm::ShortTerm,
        GoalTerm::LongTerm => pb::GoalTerm::LongTerm,
    }
}

fn wire_instrument(i: Instrument) -> pb::Instrument {
    match i {
        Instrument::Phq9 => pb::Instrument::Phq9,
        Instrument::Gad7 => pb::Instrument::Gad7,
        Instrument::Pswq => pb::Instrument::Pswq,
    }
}

/// The wire modality and, for "other", its name.
fn wire_modality(m: &Modality) -> (pb::Modality, String) {
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

fn wire_measure(m: MeasureTarget) -> pb::MeasureTarget {
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

fn measure_from_wire(f: &mut Fields, m: &pb::MeasureTarget) -> Option<MeasureTarget> {
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
