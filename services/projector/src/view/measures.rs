//! Folds scored measures, their schedule and safety flags.

use trellis_kernel::RecordedEvent;
use trellis_plans_domain::PlanEvent;

use super::plan::{MeasureScheduleView, MeasureView, PlanView, SafetyFlagView};

pub(super) fn apply(view: &mut PlanView, event: PlanEvent, recorded: &RecordedEvent) {
    match event {
        PlanEvent::MeasureRecorded(e) => view.measures.push(MeasureView {
            measure_id: e.measure_id.to_string(),
            band: e.instrument.band(e.total),
            instrument: e.instrument,
            answers: e.answers,
            total: e.total,
            administered_on: e.administered_on,
            source: e.source,
            recorded_by: recorded.metadata.actor.subject.clone(),
            entered_in_error: None,
        }),
        PlanEvent::SafetyFlagRaised(e) => view.safety_flags.push(SafetyFlagView {
            flag_id: e.flag_id.to_string(),
            measure_id: e.measure_id.to_string(),
            raised_on: e.raised_on,
            acknowledged_on: None,
            acknowledged_by: None,
            note: None,
        }),
        PlanEvent::MeasureScheduled(e) => {
            view.measure_schedule
                .retain(|s| s.instrument != e.instrument);
            if e.interval_days > 0 {
                view.measure_schedule.push(MeasureScheduleView {
                    instrument: e.instrument,
                    interval_days: e.interval_days,
                });
            }
        }
        PlanEvent::SafetyFlagAcknowledged(e) => {
            let id = e.flag_id.to_string();
            if let Some(flag) = view.safety_flags.iter_mut().find(|f| f.flag_id == id) {
                flag.acknowledged_on = Some(e.acknowledged_on);
                flag.acknowledged_by = Some(recorded.metadata.actor.subject.clone());
                flag.note = Some(e.note);
            }
        }
        _ => {}
    }
}
