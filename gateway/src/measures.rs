//! Scored measures, safety flags and the measure schedule.

use async_graphql::{Enum, ID, Object, SimpleObject};
use trellis_plans_domain::measure::is_response;
use trellis_plans_domain::{MeasureTarget, SeverityBand};
use trellis_projector::compliance::MeasureDue;
use trellis_projector::{MeasureView, SafetyFlagView};

use crate::contract;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "SeverityBand")]
pub enum GqlSeverityBand {
    Minimal,
    Mild,
    Moderate,
    ModeratelySevere,
    Severe,
    Low,
    High,
}

pub(crate) fn band(b: SeverityBand) -> GqlSeverityBand {
    match b {
        SeverityBand::Minimal => GqlSeverityBand::Minimal,
        SeverityBand::Mild => GqlSeverityBand::Mild,
        SeverityBand::Moderate => GqlSeverityBand::Moderate,
        SeverityBand::ModeratelySevere => GqlSeverityBand::ModeratelySevere,
        SeverityBand::Severe => GqlSeverityBand::Severe,
        SeverityBand::Low => GqlSeverityBand::Low,
        SeverityBand::High => GqlSeverityBand::High,
    }
}

/// One score, read against the first score of the same instrument.
#[derive(Debug)]
pub struct Measure<'a> {
    pub(crate) measure: &'a MeasureView,
    pub(crate) baseline: u32,
}

#[Object]
impl Measure<'_> {
    async fn id(&self) -> ID {
        ID(self.measure.measure_id.clone())
    }
    async fn instrument(&self) -> contract::Instrument {
        self.measure.instrument.into()
    }
    /// LOINC code of the total (PHQ-9 44261-6, GAD-7 70274-6).
    async fn loinc(&self) -> Option<&'static str> {
        Some(self.measure.instrument.loinc()).filter(|c| !c.is_empty())
    }
    async fn total(&self) -> u32 {
        self.measure.total
    }
    async fn band(&self) -> GqlSeverityBand {
        band(self.measure.band)
    }
    async fn answers(&self) -> &[u8] {
        &self.measure.answers
    }
    async fn administered_on(&self) -> String {
        self.measure.administered_on.to_string()
    }
    async fn source(&self) -> contract::ProgressSource {
        self.measure.source.into()
    }
    async fn recorded_by(&self) -> &str {
        &self.measure.recorded_by
    }
    /// Points from the first score of this instrument (negative is better).
    async fn change_from_baseline(&self) -> i64 {
        i64::from(self.measure.total) - i64::from(self.baseline)
    }
    /// At least a 50% drop from the first score.
    async fn response(&self) -> bool {
        is_response(self.baseline, self.measure.total)
    }
    /// PHQ-9 or GAD-7 below 5; null where the instrument defines none.
    async fn remission(&self) -> Option<bool> {
        self.measure.instrument.in_remission(self.measure.total)
    }
    async fn entered_in_error(&self) -> Option<&str> {
        self.measure.entered_in_error.as_deref()
    }
}

#[derive(Debug)]
pub struct SafetyFlag<'a>(pub(crate) &'a SafetyFlagView);

#[Object]
impl SafetyFlag<'_> {
    async fn id(&self) -> ID {
        ID(self.0.flag_id.clone())
    }
    async fn measure_id(&self) -> ID {
        ID(self.0.measure_id.clone())
    }
    /// Why: PHQ-9 item 9 was answered above 0.
    async fn reason(&self) -> &'static str {
        "PHQ-9 item 9 above 0"
    }
    async fn raised_on(&self) -> String {
        self.0.raised_on.to_string()
    }
    async fn open(&self) -> bool {
        self.0.acknowledged_on.is_none()
    }
    async fn acknowledged_on(&self) -> Option<String> {
        self.0.acknowledged_on.map(|d| d.to_string())
    }
    async fn acknowledged_by(&self) -> Option<&str> {
        self.0.acknowledged_by.as_deref()
    }
    async fn note(&self) -> Option<&str> {
        self.0.note.as_deref()
    }
}

/// A scheduled questionnaire and when it is next due.
#[derive(Debug, SimpleObject)]
pub struct ScheduledMeasure {
    instrument: contract::Instrument,
    interval_days: u32,
    last_administered: Option<String>,
    due_on: String,
    overdue: bool,
}

impl From<MeasureDue> for ScheduledMeasure {
    fn from(d: MeasureDue) -> Self {
        Self {
            instrument: d.instrument.into(),
            interval_days: d.interval_days,
            last_administered: d.last_administered.map(|d| d.to_string()),
            due_on: d.due_on.to_string(),
            overdue: d.overdue,
        }
    }
}

/// "PHQ-9 at least 60% below baseline".
#[derive(Debug, SimpleObject)]
pub struct MeasureGoal {
    instrument: contract::Instrument,
    reduction_percent: u32,
}

impl MeasureGoal {
    pub(crate) fn new(instrument: contract::Instrument, reduction_percent: u32) -> Self {
        Self {
            instrument,
            reduction_percent,
        }
    }
}

impl From<MeasureTarget> for MeasureGoal {
    fn from(m: MeasureTarget) -> Self {
        Self {
            instrument: m.instrument.into(),
            reduction_percent: u32::from(m.reduction_percent),
        }
    }
}
