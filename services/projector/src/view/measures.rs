//! Scored measures, their schedule and safety flags.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use trellis_kernel::RecordedEvent;
use trellis_plans_domain::{Instrument, PlanEvent, ProgressSource, SeverityBand};

use super::PlanView;

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

/// One administration of a standardized measure, scored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeasureView {
    pub measure_id: String,
    pub instrument: Instrument,
    pub answers: Vec<u8>,
    pub total: u32,
    pub band: SeverityBand,
    pub administered_on: NaiveDate,
    pub source: ProgressSource,
    pub recorded_by: String,
    #[serde(default)]
    pub entered_in_error: Option<String>,
}

/// A safety concern for the care team, open until acknowledged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SafetyFlagView {
    pub flag_id: String,
    pub measure_id: String,
    pub raised_on: NaiveDate,
    pub acknowledged_on: Option<NaiveDate>,
    pub acknowledged_by: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MeasureScheduleView {
    pub instrument: Instrument,
    pub interval_days: u32,
}
