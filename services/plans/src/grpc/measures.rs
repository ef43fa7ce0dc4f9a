//! Measures, safety flags and the measure schedule on the wire.

use trellis_auth::Caller;
use trellis_plans_domain::ScheduleMeasure;
use trellis_plans_domain::{
    AcknowledgeSafetyFlag, MAX_MEASURES_AT_ONCE, MeasureId, PlanCommand, RecordMeasure,
    RecordMeasures, SafetyFlagId,
};
use trellis_proto::plans::v1 as pb;

use super::fields::{Fields, Mapped};
use super::wire::{instrument, progress_source};

pub(super) fn record_measure(
    caller: &Caller,
    r: &pb::RecordMeasureRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let pb::RecordMeasureRequest {
        command_id,
        plan_id,
        measure_id,
        instrument: which,
        answers,
        total,
        administered_on,
        source,
    } = r;
    let command_id = f.command_id(command_id);
    let plan_id = f.plan_id(plan_id);
    let measure_id = f.new_id("measure_id", measure_id, caller, command_id);
    let which = f.choice("instrument", instrument(*which));
    let administered_on = f.date("administered_on", administered_on);
    let source = f.choice("source", progress_source(*source));
    let answers: Option<Vec<u8>> = answers.iter().map(|a| u8::try_from(*a).ok()).collect();
    if answers.is_none() {
        f.violation("answers", "each answer must be a small number");
    }
    let measure_id = MeasureId(measure_id?);
    Some(Mapped {
        plan_id: plan_id?,
        command_id: command_id?,
        entity_id: measure_id.0,
        command: PlanCommand::RecordMeasure(RecordMeasure {
            measure_id,
            instrument: which?,
            answers: answers?,
            total: *total,
            administered_on: administered_on?,
            source: source?,
        }),
    })
}

pub(super) fn record_measures(
    _caller: &Caller,
    r: &pb::RecordMeasuresRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let pb::RecordMeasuresRequest {
        command_id,
        plan_id,
        measures,
    } = r;
    let command_id = f.command_id(command_id);
    let plan_id = f.plan_id(plan_id);
    // Bounded before anything is decoded further.
    if measures.is_empty() || measures.len() > MAX_MEASURES_AT_ONCE {
        // The message says the bound; this keeps the two together.
        const _: () = assert!(MAX_MEASURES_AT_ONCE == 50);
        f.violation("measures", "give 1 to 50 questionnaires");
        return None;
    }
    let decoded: Vec<Option<RecordMeasure>> = measures
        .iter()
        .enumerate()
        .map(|(n, m)| {
            let before = f.0.len();
            let measure_id = f.uuid("measures.measure_id", &m.measure_id);
            let which = f.choice("measures.instrument", instrument(m.instrument));
            let administered_on = f.date("measures.administered_on", &m.administered_on);
            let source = f.choice("measures.source", progress_source(m.source));
            let answers: Option<Vec<u8>> =
                m.answers.iter().map(|a| u8::try_from(*a).ok()).collect();
            if answers.is_none() {
                f.violation("measures.answers", "each answer must be a small number");
            }
            // Named by place, as the plan's own refusals are.
            for violation in &mut f.0[before..] {
                violation.description =
                    format!("questionnaire {}: {}", n + 1, violation.description);
            }
            Some(RecordMeasure {
                measure_id: MeasureId(measure_id?),
                instrument: which?,
                answers: answers?,
                total: m.total,
                administered_on: administered_on?,
                source: source?,
            })
        })
        .collect();
    let measures: Vec<RecordMeasure> = decoded.into_iter().collect::<Option<_>>()?;
    let entity_id = measures.first()?.measure_id.0;
    Some(Mapped {
        plan_id: plan_id?,
        command_id: command_id?,
        entity_id,
        command: PlanCommand::RecordMeasures(RecordMeasures { measures }),
    })
}

pub(super) fn acknowledge_safety_flag(
    _caller: &Caller,
    r: &pb::AcknowledgeSafetyFlagRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let pb::AcknowledgeSafetyFlagRequest {
        command_id,
        plan_id,
        flag_id,
        note,
    } = r;
    let command_id = f.command_id(command_id);
    let plan_id = f.plan_id(plan_id);
    let flag_id = f.uuid("flag_id", flag_id).map(SafetyFlagId);
    let flag_id = flag_id?;
    Some(Mapped {
        plan_id: plan_id?,
        command_id: command_id?,
        entity_id: flag_id.0,
        command: PlanCommand::AcknowledgeSafetyFlag(AcknowledgeSafetyFlag {
            flag_id,
            note: note.clone(),
        }),
    })
}

pub(super) fn schedule_measure(
    _caller: &Caller,
    r: &pb::ScheduleMeasureRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    f.plan_wide(&r.command_id, &r.plan_id, |f| {
        let instrument = f.choice("instrument", instrument(r.instrument));
        Some(PlanCommand::ScheduleMeasure(ScheduleMeasure {
            instrument: instrument?,
            interval_days: r.interval_days,
        }))
    })
}
