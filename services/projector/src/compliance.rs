//! What payers and supervisors check, computed from plan views: reviews
//! due, pending signatures, measures due, insurance readiness, outcomes.
//! Pure functions of a view and today's date, so every read answers the
//! same way whichever store kept the view.

use chrono::{Days, NaiveDate};
use serde::{Deserialize, Serialize};
use trellis_plans_domain::measure::is_response;
use trellis_plans_domain::{Instrument, SignerRole};

use crate::view::{LifecycleView, MeasureView, PlanView, ReviewView};

/// A review this close is "due soon".
pub const REVIEW_DUE_SOON_DAYS: u64 = 14;

/// Signatures every plan version needs before it is in force for a payer.
pub const REQUIRED_SIGNERS: [SignerRole; 2] = [SignerRole::Clinician, SignerRole::Client];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewStanding {
    /// No open review is scheduled.
    NotScheduled,
    OnSchedule,
    DueSoon,
    Overdue,
}

/// The earliest review not yet held.
pub fn next_review(plan: &PlanView) -> Option<&ReviewView> {
    plan.reviews
        .iter()
        .filter(|r| r.held_on.is_none() && r.entered_in_error.is_none())
        .min_by_key(|r| r.due_on)
}

pub fn review_standing(plan: &PlanView, today: NaiveDate) -> ReviewStanding {
    standing_of(next_review(plan).map(|r| r.due_on), today)
}

fn standing_of(next_due: Option<NaiveDate>, today: NaiveDate) -> ReviewStanding {
    match next_due {
        None => ReviewStanding::NotScheduled,
        Some(due) if due < today => ReviewStanding::Overdue,
        Some(due) if due <= today + Days::new(REVIEW_DUE_SOON_DAYS) => ReviewStanding::DueSoon,
        Some(_) => ReviewStanding::OnSchedule,
    }
}

/// Required signers who have not signed the version in force.
pub fn pending_signatures(plan: &PlanView) -> Vec<SignerRole> {
    REQUIRED_SIGNERS
        .into_iter()
        .filter(|role| !plan.current_signatures().any(|s| s.role == *role))
        .collect()
}

/// One scheduled questionnaire and when it is next due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MeasureDue {
    pub instrument: Instrument,
    pub interval_days: u32,
    pub last_administered: Option<NaiveDate>,
    pub due_on: NaiveDate,
    pub overdue: bool,
}

/// Scores that count: not entered in error.
fn valid_scores(plan: &PlanView, instrument: Instrument) -> impl Iterator<Item = &MeasureView> {
    plan.measures
        .iter()
        .filter(move |m| m.instrument == instrument && m.entered_in_error.is_none())
}

/// When each scheduled questionnaire is due: its interval after the last
/// administration, or after the plan started if it was never given.
pub fn measures_due(plan: &PlanView, today: NaiveDate) -> Vec<MeasureDue> {
    let started = plan
        .status_changes
        .iter()
        .find(|c| c.status == LifecycleView::Active)
        .map_or(plan.created_on, |c| c.on);
    plan.measure_schedule
        .iter()
        .map(|s| {
            let last = valid_scores(plan, s.instrument)
                .map(|m| m.administered_on)
                .max();
            let due_on = last.unwrap_or(started) + Days::new(u64::from(s.interval_days));
            MeasureDue {
                instrument: s.instrument,
                interval_days: s.interval_days,
                last_administered: last,
                due_on,
                overdue: due_on < today,
            }
        })
        .collect()
}

/// Objectives that count: complete (not a template placeholder) and not
/// entered in error, under a goal that was not either.
fn standing_objectives(plan: &PlanView) -> impl Iterator<Item = &crate::view::ObjectiveView> {
    plan.goals
        .iter()
        .filter(|g| g.entered_in_error.is_none())
        .flat_map(|g| &g.objectives)
        .filter(|o| o.entered_in_error.is_none() && !o.placeholder)
}

/// What a payer would find missing in this plan, in the words of an
/// insurance-readiness checklist; empty when it is ready.
pub fn insurance_gaps(plan: &PlanView, today: NaiveDate) -> Vec<&'static str> {
    let mut gaps = Vec::new();
    if !plan
        .diagnoses
        .iter()
        .any(|d| d.primary && d.entered_in_error.is_none())
    {
        gaps.push("a primary ICD-10-CM diagnosis");
    }
    if plan
        .presenting_problem
        .as_ref()
        .is_none_or(|p| p.symptoms.is_empty())
    {
        gaps.push("symptoms with frequency, intensity and onset");
    }
    let objectives = standing_objectives(plan).count();
    if objectives == 0 {
        gaps.push("measurable objectives");
    }
    if !plan
        .interventions
        .iter()
        .any(|i| i.entered_in_error.is_none())
    {
        gaps.push("interventions");
    }
    if plan.service_plan.is_none() {
        gaps.push("service type, amount, frequency and duration");
    }
    if !pending_signatures(plan).is_empty() {
        gaps.push("current signatures of clinician and client");
    }
    match review_standing(plan, today) {
        ReviewStanding::NotScheduled => gaps.push("a scheduled review"),
        ReviewStanding::Overdue => gaps.push("a review within schedule"),
        ReviewStanding::OnSchedule | ReviewStanding::DueSoon => {}
    }
    gaps
}

/// What the compliance queries need of one plan, small enough to read
/// thousands of: kept beside each plan document by stores that can.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanSummary {
    /// Which `PlanSummary::of` wrote it: a summary from another is ignored
    /// and the document read instead.
    #[serde(default)]
    pub schema: u32,
    pub tenant: String,
    pub plan_id: String,
    pub client_id: String,
    pub primary_clinician_id: String,
    #[serde(default)]
    pub care_team: Vec<String>,
    pub clinic_id: String,
    pub status: LifecycleView,
    /// Due date of the earliest open review.
    pub next_review_due: Option<NaiveDate>,
    pub pending_signatures: Vec<SignerRole>,
    pub open_safety_flags: u32,
    /// When the oldest unacknowledged safety flag was raised.
    #[serde(default)]
    pub oldest_open_flag: Option<NaiveDate>,
    pub objectives: u32,
    pub objectives_met: u32,
    /// Per instrument with a baseline and a later score.
    pub score_changes: Vec<ScoreChange>,
    /// Every standing score with its date, oldest first: outcome rates as
    /// of any past date come from these.
    #[serde(default)]
    pub scores: Vec<DatedScore>,
    /// Each standing objective's added and met dates.
    #[serde(default)]
    pub objective_dates: Vec<ObjectiveDates>,
    /// `score_changes` and `scores` as a store that seals keeps them (both
    /// are then empty in what it keeps); never set on a summary read back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_scores: Option<String>,
}

/// One standing score.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DatedScore {
    pub instrument: Instrument,
    pub on: NaiveDate,
    pub total: u32,
}

/// When a standing objective was added (`None` in documents from before
/// that was kept) and met.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectiveDates {
    pub added: Option<NaiveDate>,
    pub met: Option<NaiveDate>,
}

/// The first and the latest standing score of one instrument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScoreChange {
    pub instrument: Instrument,
    pub baseline: u32,
    pub latest: u32,
}

impl PlanSummary {
    /// Bumped whenever what `of` computes changes.
    pub const SCHEMA: u32 = 2;

    pub fn of(plan: &PlanView) -> Self {
        let objectives: Vec<_> = standing_objectives(plan).collect();
        let score_changes = [Instrument::Phq9, Instrument::Gad7, Instrument::Pswq]
            .into_iter()
            .filter_map(|instrument| {
                let mut scores = valid_scores(plan, instrument);
                let (first, latest) = (scores.next()?, scores.last()?);
                Some(ScoreChange {
                    instrument,
                    baseline: first.total,
                    latest: latest.total,
                })
            })
            .collect();
        let open_flags = || {
            plan.safety_flags
                .iter()
                .filter(|f| f.acknowledged_on.is_none())
        };
        Self {
            schema: Self::SCHEMA,
            tenant: plan.tenant.clone(),
            plan_id: plan.plan_id.clone(),
            client_id: plan.client_id.clone(),
            primary_clinician_id: plan.primary_clinician_id.clone(),
            care_team: plan.care_team.clone(),
            clinic_id: plan.clinic_id.clone(),
            status: plan.status,
            next_review_due: next_review(plan).map(|r| r.due_on),
            pending_signatures: pending_signatures(plan),
            open_safety_flags: open_flags().count() as u32,
            oldest_open_flag: open_flags().map(|f| f.raised_on).min(),
            objectives: objectives.len() as u32,
            objectives_met: objectives.iter().filter(|o| o.met_on.is_some()).count() as u32,
            score_changes,
            scores: plan
                .measures
                .iter()
                .filter(|m| m.entered_in_error.is_none())
                .map(|m| DatedScore {
                    instrument: m.instrument,
                    on: m.administered_on,
                    total: m.total,
                })
                .collect(),
            objective_dates: objectives
                .iter()
                .map(|o| ObjectiveDates {
                    added: o.added.as_ref().map(|a| a.at.date_naive()),
                    met: o.met_on,
                })
                .collect(),
            sealed_scores: None,
        }
    }

    pub fn treated_by(&self, clinician: &str) -> bool {
        self.primary_clinician_id == clinician || self.care_team.iter().any(|m| m == clinician)
    }

    pub fn review_standing(&self, today: NaiveDate) -> ReviewStanding {
        standing_of(self.next_review_due, today)
    }

    /// The due date `reviewsDue` lists and orders this plan by: its next
    /// review's, while the plan is open.
    pub fn open_review_due(&self) -> Option<NaiveDate> {
        self.next_review_due.filter(|_| !self.status.is_closed())
    }

    /// Whether `unsignedPlans` lists this plan: it is open and its current
    /// version lacks a required signature.
    pub fn is_unsigned(&self) -> bool {
        !self.status.is_closed() && !self.pending_signatures.is_empty()
    }
}

/// A compliance list that stores answer from an index of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexedList {
    /// `reviewsDue`: open plans whose next review is due by this day.
    ReviewsDue(NaiveDate),
    /// `unsignedPlans`.
    Unsigned,
}

impl IndexedList {
    /// Whether the list has this plan.
    pub fn lists(self, plan: &PlanSummary) -> bool {
        match self {
            Self::ReviewsDue(due_by) => plan.open_review_due().is_some_and(|d| d <= due_by),
            Self::Unsigned => plan.is_unsigned(),
        }
    }

    /// The first `limit` of these plans the list has, in its order.
    pub fn pick(
        self,
        plans: impl IntoIterator<Item = PlanSummary>,
        limit: usize,
    ) -> Vec<PlanSummary> {
        match self {
            Self::ReviewsDue(due_by) => pick_reviews_due(plans, due_by, limit),
            Self::Unsigned => pick_unsigned(plans, limit),
        }
    }
}

/// What `reviewsDue` lists of these plans: open ones whose next review is
/// due by `due_by`, soonest (most overdue) first, ties in plan-id order; at
/// most `limit`. The reference every store's index must answer alike.
pub fn pick_reviews_due(
    plans: impl IntoIterator<Item = PlanSummary>,
    due_by: NaiveDate,
    limit: usize,
) -> Vec<PlanSummary> {
    let mut due: Vec<(NaiveDate, PlanSummary)> = plans
        .into_iter()
        .filter_map(|p| Some((p.open_review_due().filter(|d| *d <= due_by)?, p)))
        .collect();
    due.sort_by(|(a, p), (b, q)| a.cmp(b).then_with(|| p.plan_id.cmp(&q.plan_id)));
    due.truncate(limit);
    due.into_iter().map(|(_, p)| p).collect()
}

/// What `unsignedPlans` lists of these plans: the unsigned ones in plan-id
/// order; at most `limit`.
pub fn pick_unsigned(
    plans: impl IntoIterator<Item = PlanSummary>,
    limit: usize,
) -> Vec<PlanSummary> {
    let mut unsigned: Vec<PlanSummary> =
        plans.into_iter().filter(PlanSummary::is_unsigned).collect();
    unsigned.sort_by(|p, q| p.plan_id.cmp(&q.plan_id));
    unsigned.truncate(limit);
    unsigned
}

/// A tenant's outcome figures over a set of plans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcomes {
    /// Clients with a baseline and at least one later score.
    pub clients_measured: u32,
    /// Of those, clients whose latest score is at least 50% below baseline
    /// on some instrument.
    pub clients_with_response: u32,
    /// Of those, clients whose latest PHQ-9 or GAD-7 is below 5.
    pub clients_in_remission: u32,
    pub objectives: u32,
    pub objectives_met: u32,
}

pub fn outcomes<'a>(plans: impl IntoIterator<Item = &'a PlanSummary>) -> Outcomes {
    let mut changes = Vec::new();
    let (mut objectives, mut met) = (0, 0);
    for plan in plans {
        changes.extend(
            plan.score_changes
                .iter()
                .map(|c| (plan.client_id.as_str(), *c)),
        );
        objectives += plan.objectives;
        met += plan.objectives_met;
    }
    tally(changes, objectives, met)
}

/// The outcome figures as they stood at the end of `at`: scores given by
/// then (baseline the first, latest the last), objectives added by then
/// and met by then.
pub fn outcomes_at<'a>(
    plans: impl IntoIterator<Item = &'a PlanSummary>,
    at: NaiveDate,
) -> Outcomes {
    let mut changes = Vec::new();
    let (mut objectives, mut met) = (0, 0);
    for plan in plans {
        for instrument in [Instrument::Phq9, Instrument::Gad7, Instrument::Pswq] {
            let mut given = plan
                .scores
                .iter()
                .filter(|s| s.instrument == instrument && s.on <= at);
            if let (Some(first), Some(latest)) = (given.next(), given.next_back()) {
                let change = ScoreChange {
                    instrument,
                    baseline: first.total,
                    latest: latest.total,
                };
                changes.push((plan.client_id.as_str(), change));
            }
        }
        for o in plan
            .objective_dates
            .iter()
            .filter(|o| o.added.is_none_or(|a| a <= at))
        {
            objectives += 1;
            met += u32::from(o.met.is_some_and(|m| m <= at));
        }
    }
    tally(changes, objectives, met)
}

/// Per client: a response on any instrument, remission on PHQ-9 or GAD-7.
fn tally(changes: Vec<(&str, ScoreChange)>, objectives: u32, met: u32) -> Outcomes {
    let mut measured = std::collections::BTreeMap::<&str, (bool, bool)>::new();
    for (client, change) in changes {
        let entry = measured.entry(client).or_default();
        entry.0 |= is_response(change.baseline, change.latest);
        entry.1 |= change.instrument.in_remission(change.latest) == Some(true);
    }
    Outcomes {
        clients_measured: measured.len() as u32,
        clients_with_response: measured.values().filter(|(r, _)| *r).count() as u32,
        clients_in_remission: measured.values().filter(|(_, r)| *r).count() as u32,
        objectives,
        objectives_met: met,
    }
}

#[cfg(test)]
mod tests;
