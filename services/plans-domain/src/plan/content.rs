//! Plan content beyond goals and measures: goal revisions, measure-based
//! objectives, the clinical context, referrals, the service plan and the
//! measure schedule.

use chrono::NaiveDate;

use super::{MAX_SHORT_TEXT, MAX_TEXT, Plan, Violations};
use crate::MeasureId;
use crate::command::{
    AddObjective, AddReferral, ChangeReferralStatus, MarkObjectiveNotMet, RecordClinicalContext,
    RecordServicePlan, ReviseGoal, ScheduleMeasure,
};
use crate::error::{FieldViolation, PlanError, SmartCriterion};
use crate::event::{
    ClinicalContextRecorded, CorrectionTarget, GoalRevised, MeasureScheduled, MeasureTarget,
    ObjectiveAdded, ObjectiveMet, ObjectiveNotMet, PlanEvent, ReferralAdded, ReferralStatusChanged,
    ServicePlanRecorded,
};
use crate::measure::Instrument;

/// Longest session a service plan may name, in minutes.
const MAX_SESSION_MINUTES: u32 = 480;
const MAX_SESSIONS: u32 = 500;
/// Longest gap between two administrations of a questionnaire.
const MAX_MEASURE_INTERVAL_DAYS: u32 = 365;

impl Plan {
    /// "PHQ-9 at least 60% below baseline": the baseline is the first
    /// score of the instrument, so one must have been recorded.
    pub(super) fn add_measure_objective(
        &self,
        c: &AddObjective,
        measure: MeasureTarget,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let smart = |criterion, field, description: String| PlanError::NotSmart {
            criterion,
            field,
            description,
        };
        if !(1..=100).contains(&measure.reduction_percent) {
            return Err(PlanError::Invalid(vec![FieldViolation::new(
                "measure.reduction_percent",
                "must be between 1 and 100",
            )]));
        }
        let label = measure.instrument.label();
        let Some(baseline) = self.baseline(measure.instrument) else {
            return Err(smart(
                SmartCriterion::Measurable,
                "measure",
                format!("record a baseline {label} before an objective measured by it"),
            ));
        };
        let target = target_score(baseline, measure.reduction_percent);
        if target == baseline {
            return Err(smart(
                SmartCriterion::Achievable,
                "measure.reduction_percent",
                format!("the baseline {label} leaves no room for that reduction"),
            ));
        }
        let target_date = self.time_bound_and_placed(c, today)?;
        Ok(vec![PlanEvent::ObjectiveAdded(ObjectiveAdded {
            objective_id: c.objective_id,
            goal_id: c.goal_id,
            description: c.description.trim().to_owned(),
            baseline: f64::from(baseline),
            target: f64::from(target),
            unit: format!("{label} total score"),
            period: String::new(),
            target_date,
            measure: Some(measure),
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

    pub(super) fn revise_goal(&self, c: &ReviseGoal) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.required("description", &c.description, MAX_TEXT);
        v.required("reason", &c.reason, MAX_TEXT);
        v.finish()?;
        self.open_goal(c.goal_id)?;
        Ok(vec![PlanEvent::GoalRevised(GoalRevised {
            goal_id: c.goal_id,
            description: c.description.trim().to_owned(),
            reason: c.reason.trim().to_owned(),
        })])
    }

    pub(super) fn mark_not_met(
        &self,
        c: &MarkObjectiveNotMet,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.required("reason", &c.reason, MAX_TEXT);
        v.finish()?;
        self.open_objective(c.objective_id)?;
        Ok(vec![PlanEvent::ObjectiveNotMet(ObjectiveNotMet {
            objective_id: c.objective_id,
            closed_on: today,
            reason: c.reason.trim().to_owned(),
        })])
    }

    pub(super) fn clinical_context(c: &RecordClinicalContext) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        for (field, list) in [("strengths", &c.strengths), ("barriers", &c.barriers)] {
            v.list(field, list.len());
            for entry in list {
                v.required(field, entry, MAX_TEXT);
            }
        }
        v.list("supports", c.supports.len());
        for support in &c.supports {
            v.required("supports.involvement", &support.involvement, MAX_TEXT);
        }
        v.finish()?;
        let trimmed = |list: &[String]| list.iter().map(|s| s.trim().to_owned()).collect();
        Ok(vec![PlanEvent::ClinicalContextRecorded(
            ClinicalContextRecorded {
                strengths: trimmed(&c.strengths),
                barriers: trimmed(&c.barriers),
                supports: c.supports.clone(),
            },
        )])
    }

    pub(super) fn add_referral(&self, c: &AddReferral) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        v.required("to", &c.to, MAX_SHORT_TEXT);
        v.required("reason", &c.reason, MAX_TEXT);
        v.finish()?;
        if self.referrals.contains_key(&c.referral_id) {
            return Err(PlanError::ReferralAlreadyExists(c.referral_id));
        }
        Ok(vec![PlanEvent::ReferralAdded(ReferralAdded {
            referral_id: c.referral_id,
            to: c.to.trim().to_owned(),
            reason: c.reason.trim().to_owned(),
            status: c.status,
        })])
    }

    pub(super) fn change_referral(
        &self,
        c: &ChangeReferralStatus,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        if !self.stands(&CorrectionTarget::Referral(c.referral_id)) {
            return Err(PlanError::EnteredInError);
        }
        match self.referrals.get(&c.referral_id) {
            None => Err(PlanError::UnknownReferral(c.referral_id)),
            Some(status) if *status == c.status => {
                Err(PlanError::Invalid(vec![FieldViolation::new(
                    "status",
                    "the referral already has this status",
                )]))
            }
            Some(_) => Ok(vec![PlanEvent::ReferralStatusChanged(
                ReferralStatusChanged {
                    referral_id: c.referral_id,
                    status: c.status,
                    changed_on: today,
                },
            )]),
        }
    }

    pub(super) fn service_plan(c: &RecordServicePlan) -> Result<Vec<PlanEvent>, PlanError> {
        let service_plan = checked_service_plan(&ServicePlanRecorded {
            session_type: c.session_type.clone(),
            minutes: c.minutes,
            frequency: c.frequency.clone(),
            sessions_min: c.sessions_min,
            sessions_max: c.sessions_max,
            focus: c.focus.clone(),
            maintenance: c.maintenance.clone(),
            monitoring: c.monitoring.clone(),
        })?;
        Ok(vec![PlanEvent::ServicePlanRecorded(service_plan)])
    }

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
}

/// A service plan from a command or a template, checked and trimmed.
pub fn checked_service_plan(c: &ServicePlanRecorded) -> Result<ServicePlanRecorded, PlanError> {
    let mut v = Violations::default();
    v.required("session_type", &c.session_type, MAX_SHORT_TEXT);
    v.required("frequency", &c.frequency, MAX_SHORT_TEXT);
    if !(1..=MAX_SESSION_MINUTES).contains(&c.minutes) {
        v.push(
            "minutes",
            format!("must be between 1 and {MAX_SESSION_MINUTES}"),
        );
    }
    if !(1..=MAX_SESSIONS).contains(&c.sessions_min) {
        v.push(
            "sessions_min",
            format!("must be between 1 and {MAX_SESSIONS}"),
        );
    }
    if c.sessions_max < c.sessions_min || c.sessions_max > MAX_SESSIONS {
        v.push(
            "sessions_max",
            format!("must be at least sessions_min and at most {MAX_SESSIONS}"),
        );
    }
    v.optional("focus", &c.focus, MAX_TEXT);
    v.optional("maintenance", &c.maintenance, MAX_TEXT);
    v.list("monitoring", c.monitoring.len());
    for entry in &c.monitoring {
        v.required("monitoring", entry, MAX_TEXT);
    }
    v.finish()?;
    Ok(ServicePlanRecorded {
        session_type: c.session_type.trim().to_owned(),
        minutes: c.minutes,
        frequency: c.frequency.trim().to_owned(),
        sessions_min: c.sessions_min,
        sessions_max: c.sessions_max,
        focus: c.focus.trim().to_owned(),
        maintenance: c.maintenance.trim().to_owned(),
        monitoring: c.monitoring.iter().map(|m| m.trim().to_owned()).collect(),
    })
}

/// The highest score that is `percent` below `baseline`.
pub fn target_score(baseline: u32, percent: u8) -> u32 {
    let kept = 100u32.saturating_sub(u32::from(percent));
    u32::try_from(u64::from(baseline) * u64::from(kept) / 100).unwrap_or(u32::MAX)
}
