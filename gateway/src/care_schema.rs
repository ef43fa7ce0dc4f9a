//! GraphQL types for the rest of a plan (clinical context, referrals,
//! service plan, measure schedule, lifecycle, consent, signatures) and the
//! compliance queries over a caller's plans: reviews due, unsigned plans,
//! open safety flags, caseload, outcomes, review rules.

use std::sync::Arc;

use async_graphql::{Context, Enum, ID, Object, SimpleObject};
use chrono::{NaiveDate, Utc};
use trellis_access::reading_role;
use trellis_auth::Role;
use trellis_plans_domain::{MeasureTarget, Support};
use trellis_projector::compliance::{self, MeasureDue, PlanSummary, ReviewStanding};
use trellis_projector::{
    ClinicalContextView, ConsentView, LifecycleView, PlanFilter, PlanView, ReadModelStore,
    ReferralView, ServicePlanView, SignatureView, StatusChangeView,
};
use trellis_proto::plans::v1 as pb;

use crate::access::scope_filter;
use crate::contract;
use crate::error::{ErrorCode, error};
use crate::mutation::call_plans;
use crate::schema::{
    Plan, Review, SafetyFlag, caller, internal, record_accesses, record_reads, selected,
};
use crate::settings::{ReviewRule, review_rules};

/// How many plans a compliance list returns by default, and at most.
const DEFAULT_LIST: u32 = 100;
const MAX_LIST: u32 = 500;

fn list_length(first: Option<u32>) -> async_graphql::Result<usize> {
    match first.unwrap_or(DEFAULT_LIST) {
        n if n <= MAX_LIST => Ok(n as usize),
        _ => Err(error(
            ErrorCode::BadUserInput,
            &format!("first must be at most {MAX_LIST}"),
        )),
    }
}

/// The furthest ahead `reviewsDue` looks: a year.
const MAX_WITHIN_DAYS: u32 = 366;

pub(crate) fn today() -> NaiveDate {
    Utc::now().date_naive()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "PlanStatus")]
pub enum GqlPlanStatus {
    Draft,
    Active,
    OnHold,
    Completed,
    Discharged,
    Transferred,
}

pub(crate) fn plan_status(s: LifecycleView) -> GqlPlanStatus {
    match s {
        LifecycleView::Draft => GqlPlanStatus::Draft,
        LifecycleView::Active => GqlPlanStatus::Active,
        LifecycleView::OnHold => GqlPlanStatus::OnHold,
        LifecycleView::Completed => GqlPlanStatus::Completed,
        LifecycleView::Discharged => GqlPlanStatus::Discharged,
        LifecycleView::Transferred => GqlPlanStatus::Transferred,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "ReviewStanding")]
pub enum GqlReviewStanding {
    NotScheduled,
    OnSchedule,
    /// Due within 14 days.
    DueSoon,
    Overdue,
}

pub(crate) fn standing(s: ReviewStanding) -> GqlReviewStanding {
    match s {
        ReviewStanding::NotScheduled => GqlReviewStanding::NotScheduled,
        ReviewStanding::OnSchedule => GqlReviewStanding::OnSchedule,
        ReviewStanding::DueSoon => GqlReviewStanding::DueSoon,
        ReviewStanding::Overdue => GqlReviewStanding::Overdue,
    }
}

/// Strengths, barriers and who supports the client.
#[derive(Debug, SimpleObject)]
pub struct ClinicalContext {
    strengths: Vec<String>,
    barriers: Vec<String>,
    supports: Vec<SupportOut>,
}

#[derive(Debug, SimpleObject)]
#[graphql(name = "Support")]
pub struct SupportOut {
    kind: contract::SupportKind,
    involvement: String,
}

impl From<&ClinicalContextView> for ClinicalContext {
    fn from(v: &ClinicalContextView) -> Self {
        let support = |s: &Support| SupportOut {
            kind: s.kind.into(),
            involvement: s.involvement.clone(),
        };
        Self {
            strengths: v.strengths.clone(),
            barriers: v.barriers.clone(),
            supports: v.supports.iter().map(support).collect(),
        }
    }
}

/// Collaborative care: to whom, why, and where it stands.
#[derive(Debug, SimpleObject)]
pub struct Referral {
    id: ID,
    to: String,
    reason: String,
    status: contract::ReferralStatus,
    status_changed_on: Option<String>,
    /// Why this referral was marked entered in error; null when it stands.
    entered_in_error: Option<String>,
}

impl From<&ReferralView> for Referral {
    fn from(v: &ReferralView) -> Self {
        Self {
            id: ID(v.referral_id.clone()),
            to: v.to.clone(),
            reason: v.reason.clone(),
            status: v.status.into(),
            status_changed_on: v.status_changed_on.map(|d| d.to_string()),
            entered_in_error: v.entered_in_error.clone(),
        }
    }
}

/// What payers ask for: session type, amount, frequency, duration.
#[derive(Debug, SimpleObject)]
pub struct ServicePlan {
    session_type: String,
    minutes: u32,
    frequency: String,
    sessions_min: u32,
    sessions_max: u32,
    focus: String,
    maintenance: String,
    /// Monitoring beyond the scheduled questionnaires.
    monitoring: Vec<String>,
}

impl ServicePlan {
    pub(crate) fn from_wire(s: pb::ServicePlan) -> Self {
        Self {
            session_type: s.session_type,
            minutes: s.minutes,
            frequency: s.frequency,
            sessions_min: s.sessions_min,
            sessions_max: s.sessions_max,
            focus: s.focus,
            maintenance: s.maintenance,
            monitoring: s.monitoring,
        }
    }
}

impl From<&ServicePlanView> for ServicePlan {
    fn from(v: &ServicePlanView) -> Self {
        Self {
            session_type: v.session_type.clone(),
            minutes: v.minutes,
            frequency: v.frequency.clone(),
            sessions_min: v.sessions_min,
            sessions_max: v.sessions_max,
            focus: v.focus.clone(),
            maintenance: v.maintenance.clone(),
            monitoring: v.monitoring.clone(),
        }
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

#[derive(Debug, SimpleObject)]
pub struct StatusChange {
    status: GqlPlanStatus,
    on: String,
    reason: String,
    by: String,
}

impl From<&StatusChangeView> for StatusChange {
    fn from(v: &StatusChangeView) -> Self {
        Self {
            status: plan_status(v.status),
            on: v.on.to_string(),
            reason: v.reason.clone(),
            by: v.by.clone(),
        }
    }
}

#[derive(Debug, SimpleObject)]
pub struct Consent {
    kind: contract::ConsentKind,
    given_on: String,
    note: String,
    recorded_by: String,
}

impl From<&ConsentView> for Consent {
    fn from(v: &ConsentView) -> Self {
        Self {
            kind: v.kind.into(),
            given_on: v.given_on.to_string(),
            note: v.note.clone(),
            recorded_by: v.recorded_by.clone(),
        }
    }
}

/// A signature, bound to the plan version it was given for.
#[derive(Debug, SimpleObject)]
pub struct Signature {
    version: u32,
    role: contract::SignerRole,
    signer_id: String,
    signed_on: String,
}

impl From<&SignatureView> for Signature {
    fn from(v: &SignatureView) -> Self {
        Self {
            version: v.version,
            role: v.role.into(),
            signer_id: v.signer_id.clone(),
            signed_on: v.signed_on.to_string(),
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

/// What a payer would find missing; `ready` when nothing is.
#[derive(Debug, SimpleObject)]
pub struct InsuranceReadiness {
    ready: bool,
    missing: Vec<String>,
}

impl InsuranceReadiness {
    pub(crate) fn of(plan: &PlanView) -> Self {
        let missing: Vec<String> = compliance::insurance_gaps(plan, today())
            .into_iter()
            .map(str::to_owned)
            .collect();
        Self {
            ready: missing.is_empty(),
            missing,
        }
    }
}

/// A review due or overdue, with its plan.
pub struct ReviewDue {
    plan: PlanView,
    review: trellis_projector::ReviewView,
}

#[Object]
impl ReviewDue {
    async fn plan(&self) -> Plan {
        Plan(self.plan.clone())
    }
    async fn review(&self) -> Review<'_> {
        Review(&self.review)
    }
    async fn overdue(&self) -> bool {
        self.review.due_on < today()
    }
}

/// An open safety flag, with its plan.
pub struct OpenSafetyFlag {
    plan: PlanView,
    flag: trellis_projector::SafetyFlagView,
}

#[Object]
impl OpenSafetyFlag {
    async fn plan(&self) -> Plan {
        Plan(self.plan.clone())
    }
    async fn flag(&self) -> SafetyFlag<'_> {
        SafetyFlag(&self.flag)
    }
}

/// The plans one clinician treats (as primary or on the care team) by
/// status, and what needs their attention.
#[derive(Debug, SimpleObject, Default)]
pub struct Caseload {
    clinician_id: String,
    /// Of those, plans where they are the primary clinician.
    primary: u32,
    draft: u32,
    active: u32,
    on_hold: u32,
    closed: u32,
    reviews_overdue: u32,
    unsigned: u32,
    open_safety_flags: u32,
}

/// Outcome figures over the plans the caller may read.
#[derive(Debug, SimpleObject)]
pub struct Outcomes {
    /// Clients with a baseline and at least one later score.
    clients_measured: u32,
    /// Share of them whose latest score is at least 50% below baseline.
    response_rate: f64,
    /// Share of them whose latest PHQ-9 or GAD-7 is below 5.
    remission_rate: f64,
    objectives: u32,
    objectives_met: u32,
    objectives_met_rate: f64,
}

fn share(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        0.0
    } else {
        f64::from(part) / f64::from(whole)
    }
}

/// Summaries of every plan the caller may read within `requested`.
async fn summaries_in_scope(
    ctx: &Context<'_>,
    requested: PlanFilter,
) -> async_graphql::Result<Vec<(PlanSummary, Role)>> {
    let caller = caller(ctx)?;
    let Some(filter) = scope_filter(caller, requested) else {
        return Err(error(
            ErrorCode::Forbidden,
            "your role may not read clinical content",
        ));
    };
    let summaries = ctx
        .data_unchecked::<Arc<dyn ReadModelStore>>()
        .summaries(&caller.tenant, &filter)
        .await
        .map_err(|e| internal(&e))?;
    Ok(summaries
        .into_iter()
        .filter_map(|s| reading_role(caller, &s).map(|r| (s, r)))
        .collect())
}

/// The whole documents of the plans a summary query picked. Each is
/// checked again — access, the requested scope, and `still` — because the
/// plan may have changed since its summary was read.
async fn documents(
    ctx: &Context<'_>,
    requested: &PlanFilter,
    picked: Vec<(PlanSummary, Role)>,
    still: impl Fn(&PlanView) -> bool,
) -> async_graphql::Result<Vec<(PlanView, Role)>> {
    let caller = caller(ctx)?;
    let Some(scope) = scope_filter(caller, requested.clone()) else {
        return Ok(Vec::new());
    };
    let read_models = ctx.data_unchecked::<Arc<dyn ReadModelStore>>();
    let mut plans = Vec::with_capacity(picked.len());
    for (summary, _) in picked {
        let Some(plan) = read_models
            .plan(&caller.tenant, &summary.plan_id)
            .await
            .map_err(|e| internal(&e))?
        else {
            continue;
        };
        if let Some(role) = reading_role(caller, &plan)
            && scope.admits_plan(&plan)
            && still(&plan)
        {
            plans.push((plan, role));
        }
    }
    Ok(plans)
}

/// Records one aggregate read (no single plan's content is returned).
async fn record_aggregate(ctx: &Context<'_>, operation: &str) -> async_graphql::Result<()> {
    let role = caller(ctx)?.roles.first().map_or("unknown", |r| r.as_str());
    record_accesses(ctx, operation, &[(None, role)], &[]).await
}

/// The plan fields selected under `field` of the current selection: what
/// the access log records as read.
fn plan_fields(ctx: &Context<'_>, field: &str) -> Vec<String> {
    ctx.field()
        .selection_set()
        .filter(|f| f.name() == field)
        .flat_map(selected)
        .collect()
}

fn filter(clinic_id: Option<String>, clinician_id: Option<String>) -> PlanFilter {
    PlanFilter {
        client_id: None,
        clinician_id,
        clinic_ids: clinic_id.map(|c| vec![c]),
    }
}

#[derive(Debug, Default)]
pub struct ComplianceQuery;

#[Object]
impl ComplianceQuery {
    /// Open reviews due within `withinDays` (default 14) or overdue, by
    /// clinic and clinician, soonest first; the first `first` (default
    /// 100, at most 500).
    async fn reviews_due(
        &self,
        ctx: &Context<'_>,
        clinic_id: Option<String>,
        clinician_id: Option<String>,
        within_days: Option<u32>,
        first: Option<u32>,
    ) -> async_graphql::Result<Vec<ReviewDue>> {
        let first = list_length(first)?;
        let within_days = within_days.unwrap_or(14);
        if within_days > MAX_WITHIN_DAYS {
            return Err(error(
                ErrorCode::BadUserInput,
                &format!("withinDays must be at most {MAX_WITHIN_DAYS}"),
            ));
        }
        let horizon = today() + chrono::Days::new(u64::from(within_days));
        let requested = filter(clinic_id, clinician_id);
        let mut picked: Vec<(PlanSummary, Role)> = summaries_in_scope(ctx, requested.clone())
            .await?
            .into_iter()
            .filter(|(s, _)| {
                !s.status.is_closed() && s.next_review_due.is_some_and(|due| due <= horizon)
            })
            .collect();
        picked.sort_by_key(|(s, _)| s.next_review_due);
        picked.truncate(first);
        let mut due: Vec<(ReviewDue, Role)> =
            documents(ctx, &requested, picked, |p| !p.status.is_closed())
                .await?
                .into_iter()
                .filter_map(|(plan, role)| {
                    let review = compliance::next_review(&plan)?.clone();
                    (review.due_on <= horizon).then_some((ReviewDue { plan, review }, role))
                })
                .collect();
        due.sort_by_key(|(d, _)| d.review.due_on);
        let reads: Vec<(&PlanView, Role)> = due.iter().map(|(d, r)| (&d.plan, *r)).collect();
        record_reads(ctx, "graphql:reviewsDue", &reads, &plan_fields(ctx, "plan")).await?;
        Ok(due.into_iter().map(|(d, _)| d).collect())
    }

    /// Open plans whose current version lacks the clinician's or the
    /// client's signature, in plan-id order; the first `first` (default
    /// 100, at most 500).
    async fn unsigned_plans(
        &self,
        ctx: &Context<'_>,
        clinic_id: Option<String>,
        clinician_id: Option<String>,
        first: Option<u32>,
    ) -> async_graphql::Result<Vec<Plan>> {
        let first = list_length(first)?;
        let requested = filter(clinic_id, clinician_id);
        let picked = summaries_in_scope(ctx, requested.clone())
            .await?
            .into_iter()
            .filter(|(s, _)| !s.status.is_closed() && !s.pending_signatures.is_empty())
            .take(first)
            .collect();
        let plans = documents(ctx, &requested, picked, |p| {
            !p.status.is_closed() && !compliance::pending_signatures(p).is_empty()
        })
        .await?;
        let reads: Vec<(&PlanView, Role)> = plans.iter().map(|(p, r)| (p, *r)).collect();
        record_reads(ctx, "graphql:unsignedPlans", &reads, &selected(ctx.field())).await?;
        Ok(plans.into_iter().map(|(p, _)| Plan(p)).collect())
    }

    /// Safety flags no clinician has acknowledged yet, oldest first, from
    /// the first `first` plans that have any (default 100, at most 500).
    async fn open_safety_flags(
        &self,
        ctx: &Context<'_>,
        clinic_id: Option<String>,
        clinician_id: Option<String>,
        first: Option<u32>,
    ) -> async_graphql::Result<Vec<OpenSafetyFlag>> {
        let first = list_length(first)?;
        let requested = filter(clinic_id, clinician_id);
        let mut picked: Vec<(PlanSummary, Role)> = summaries_in_scope(ctx, requested.clone())
            .await?
            .into_iter()
            .filter(|(s, _)| s.open_safety_flags > 0)
            .collect();
        // The plans with the oldest flags first, so a cut keeps the most urgent.
        picked.sort_by_key(|(s, _)| s.oldest_open_flag);
        picked.truncate(first);
        let plans = documents(ctx, &requested, picked, |_| true).await?;
        let mut open: Vec<(OpenSafetyFlag, Role)> = Vec::new();
        for (plan, role) in plans {
            for flag in plan
                .safety_flags
                .iter()
                .filter(|f| f.acknowledged_on.is_none())
            {
                open.push((
                    OpenSafetyFlag {
                        plan: plan.clone(),
                        flag: flag.clone(),
                    },
                    role,
                ));
            }
        }
        open.sort_by_key(|(f, _)| f.flag.raised_on);
        let reads: Vec<(&PlanView, Role)> = open.iter().map(|(f, r)| (&f.plan, *r)).collect();
        let mut fields = plan_fields(ctx, "plan");
        fields.extend(
            plan_fields(ctx, "flag")
                .into_iter()
                .map(|f| format!("safetyFlags.{f}")),
        );
        record_reads(ctx, "graphql:openSafetyFlags", &reads, &fields).await?;
        Ok(open.into_iter().map(|(f, _)| f).collect())
    }

    /// Plans per clinician by status, with what needs attention.
    async fn caseload(
        &self,
        ctx: &Context<'_>,
        clinic_id: Option<String>,
    ) -> async_graphql::Result<Vec<Caseload>> {
        let plans = summaries_in_scope(ctx, filter(clinic_id, None)).await?;
        record_aggregate(ctx, "graphql:caseload").await?;
        let today = today();
        let mut by_clinician = std::collections::BTreeMap::<String, Caseload>::new();
        for (plan, _) in &plans {
            // A plan is in the caseload of everyone who treats under it.
            let team = std::iter::once(&plan.primary_clinician_id).chain(&plan.care_team);
            for clinician in team {
                let entry = by_clinician
                    .entry(clinician.clone())
                    .or_insert_with(|| Caseload {
                        clinician_id: clinician.clone(),
                        ..Caseload::default()
                    });
                entry.primary += u32::from(*clinician == plan.primary_clinician_id);
                match plan.status {
                    LifecycleView::Draft => entry.draft += 1,
                    LifecycleView::Active => entry.active += 1,
                    LifecycleView::OnHold => entry.on_hold += 1,
                    _ => entry.closed += 1,
                }
                if plan.status.is_closed() {
                    continue;
                }
                if plan.review_standing(today) == ReviewStanding::Overdue {
                    entry.reviews_overdue += 1;
                }
                if !plan.pending_signatures.is_empty() {
                    entry.unsigned += 1;
                }
                entry.open_safety_flags += plan.open_safety_flags;
            }
        }
        Ok(by_clinician.into_values().collect())
    }

    /// Response, remission and objectives-met rates over readable plans.
    async fn outcomes(
        &self,
        ctx: &Context<'_>,
        clinic_id: Option<String>,
    ) -> async_graphql::Result<Outcomes> {
        let plans = summaries_in_scope(ctx, filter(clinic_id, None)).await?;
        record_aggregate(ctx, "graphql:outcomes").await?;
        let o = compliance::outcomes(plans.iter().map(|(p, _)| p));
        Ok(Outcomes {
            clients_measured: o.clients_measured,
            response_rate: share(o.clients_with_response, o.clients_measured),
            remission_rate: share(o.clients_in_remission, o.clients_measured),
            objectives: o.objectives,
            objectives_met: o.objectives_met,
            objectives_met_rate: share(o.objectives_met, o.objectives),
        })
    }

    /// The tenant's review intervals by payer (not for clients).
    async fn review_rules(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ReviewRule>> {
        let reply = call_plans(
            ctx,
            "GetReviewRules",
            pb::GetReviewRulesRequest {},
            |mut c, r| async move { c.get_review_rules(r).await },
        )
        .await?;
        Ok(review_rules(reply))
    }
}
