//! Standardized measures (PHQ-9, GAD-7, PSWQ), their schedule, the
//! objectives a score meets, and safety flags.

use chrono::NaiveDate;

use super::Plan;
use crate::command::{
    AcknowledgeSafetyFlag, MAX_MEASURES_AT_ONCE, RecordMeasure, RecordMeasures, ScheduleMeasure,
};
use crate::error::{FieldViolation, PlanError};
use crate::event::{
    CorrectionTarget, MeasureRecorded, MeasureScheduled, ObjectiveMet, PlanEvent,
    SafetyFlagAcknowledged, SafetyFlagRaised,
};
use crate::input::{MAX_TEXT, Violations};
use crate::measure::{Instrument, raises_safety_flag};
use crate::{MeasureId, SafetyFlagId};

impl Plan {
    pub(super) fn record_measures(
        &self,
        c: &RecordMeasures,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        if c.measures.is_empty() || c.measures.len() > MAX_MEASURES_AT_ONCE {
            return Err(PlanError::Invalid(vec![FieldViolation::new(
                "measures",
                format!("give 1 to {MAX_MEASURES_AT_ONCE} questionnaires"),
            )]));
        }
        // Each is decided against the plan as the ones before leave it, so
        // a repeated measure id or an objective met twice is caught.
        let mut plan = self.clone();
        let mut events = Vec::new();
        for (n, measure) in c.measures.iter().enumerate() {
            let decided = plan
                .record_measure(measure, today)
                .map_err(|e| numbered(e, n))?;
            for event in &decided {
                plan.evolve(event);
            }
            events.extend(decided);
        }
        Ok(events)
    }

    pub(super) fn record_measure(
        &self,
        c: &RecordMeasure,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let instrument = c.instrument;
        let mut v = Violations::default();
        let (low, high) = instrument.item_range();
        let (min_total, max_total) = instrument.total_range();
        if c.administered_on > today {
            v.push("administered_on", "must not be in the future");
        }
        let total = if c.answers.is_empty() {
            match c.total {
                None => {
                    v.push("answers", "give the item answers or a total");
                    None
                }
                Some(t) if (min_total..=max_total).contains(&t) => Some(t),
                Some(_) => {
                    v.push(
                        "total",
                        format!("must be between {min_total} and {max_total}"),
                    );
                    None
                }
            }
        } else if c.answers.len() != instrument.items() {
            v.push(
                "answers",
                format!("this questionnaire has {} items", instrument.items()),
            );
            None
        } else if c.answers.iter().any(|a| !(low..=high).contains(a)) {
            v.push(
                "answers",
                format!("each answer must be between {low} and {high}"),
            );
            None
        } else {
            let scored = instrument.score(&c.answers);
            if c.total.is_some_and(|t| t != scored) {
                v.push("total", "does not match the answers");
            }
            Some(scored)
        };
        v.finish()?;
        let total = total.expect("a valid measure has a total");
        if self.has_measure(c.measure_id) {
            return Err(PlanError::MeasureAlreadyRecorded(c.measure_id));
        }
        let mut events = vec![PlanEvent::MeasureRecorded(MeasureRecorded {
            measure_id: c.measure_id,
            instrument,
            answers: c.answers.clone(),
            total,
            administered_on: c.administered_on,
            source: c.source,
        })];
        events.extend(self.objectives_met_by(c.measure_id, instrument, total, today));
        if raises_safety_flag(instrument, &c.answers) {
            events.push(PlanEvent::SafetyFlagRaised(SafetyFlagRaised {
                flag_id: SafetyFlagId(c.measure_id.0),
                measure_id: c.measure_id,
                raised_on: today,
            }));
        }
        Ok(events)
    }

    pub(super) fn acknowledge_flag(
        &self,
        c: &AcknowledgeSafetyFlag,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.optional("note", &c.note, MAX_TEXT);
        v.finish()?;
        match self.safety_flags.get(&c.flag_id) {
            None => Err(PlanError::UnknownSafetyFlag(c.flag_id)),
            Some(true) => Err(PlanError::SafetyFlagAlreadyAcknowledged(c.flag_id)),
            Some(false) => Ok(vec![PlanEvent::SafetyFlagAcknowledged(
                SafetyFlagAcknowledged {
                    flag_id: c.flag_id,
                    acknowledged_on: today,
                    note: c.note.trim().to_owned(),
                },
            )]),
        }
    }
}

impl Plan {
    pub(super) fn schedule_measure(c: &ScheduleMeasure) -> Result<Vec<PlanEvent>, PlanError> {
        if c.interval_days > MAX_MEASURE_INTERVAL_DAYS {
            return Err(PlanError::Invalid(vec![FieldViolation::new(
                "interval_days",
                format!("must be at most {MAX_MEASURE_INTERVAL_DAYS} (zero stops the schedule)"),
            )]));
        }
        Ok(vec![PlanEvent::MeasureScheduled(MeasureScheduled {
            instrument: c.instrument,
            interval_days: c.interval_days,
        })])
    }

    /// Open measure-based objectives that a new score of `instrument`
    /// reaches. The first score of an instrument is its baseline and
    /// meets nothing.
    pub(super) fn objectives_met_by(
        &self,
        measure_id: MeasureId,
        instrument: Instrument,
        total: u32,
        today: NaiveDate,
    ) -> Vec<PlanEvent> {
        // The first score of an instrument is its baseline, not progress.
        if self.baseline(instrument).is_none() {
            return Vec::new();
        }
        self.objectives
            .iter()
            .filter(|(id, o)| {
                o.outcome.is_none()
                    && self.stands(&CorrectionTarget::Objective(**id))
                    && o.measure.is_some_and(|m| m.instrument == instrument)
                    // The target as recorded, which is what the plan shows.
                    && f64::from(total) <= o.target
            })
            .map(|(id, _)| {
                PlanEvent::ObjectiveMet(ObjectiveMet {
                    objective_id: *id,
                    met_on: today,
                    by_measure: Some(measure_id),
                })
            })
            .collect()
    }
}

/// Longest gap between two administrations of a questionnaire.
pub(super) const MAX_MEASURE_INTERVAL_DAYS: u32 = 365;

/// The highest score that is `percent` below `baseline`.
pub fn target_score(baseline: u32, percent: u8) -> u32 {
    let kept = 100u32.saturating_sub(u32::from(percent));
    u32::try_from(u64::from(baseline) * u64::from(kept) / 100).unwrap_or(u32::MAX)
}

/// Which questionnaire of several a refusal is about (1-based).
fn numbered(error: PlanError, n: usize) -> PlanError {
    match error {
        PlanError::Invalid(violations) => PlanError::Invalid(
            violations
                .into_iter()
                .map(|v| FieldViolation {
                    description: format!("questionnaire {}: {}", n + 1, v.description),
                    ..v
                })
                .collect(),
        ),
        other => other,
    }
}
