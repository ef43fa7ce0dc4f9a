//! GraphQL types for the rest of a plan (clinical context, referrals,
//! service plan, measure schedule, lifecycle, consent, signatures) and the
//! compliance queries over a caller's plans: reviews due, unsigned plans,
//! open safety flags, caseload, outcomes, review rules.

use std::sync::Arc;

use async_graphql::{Context, Object, SimpleObject};
use trellis_access::reading_role;
use trellis_auth::Role;
use trellis_projector::compliance::{self, IndexedList, PlanSummary, ReviewStanding};
use trellis_projector::{LifecycleView, PlanFilter, PlanView, ReadModelStore};
use trellis_proto::plans::v1 as pb;

use crate::access::scope_filter;
use crate::context::{caller, internal, record_accesses, record_reads, selected, today};
use crate::error::{ErrorCode, error};
use crate::plan::Plan;
use crate::plans_client::call_plans;
use crate::settings::{ReviewRule, review_rules};
use crate::{measures::SafetyFlag, reviews::Review};

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

/// The caller's scope within `requested`: what the store pre-filters by.
fn scope(ctx: &Context<'_>, requested: PlanFilter) -> async_graphql::Result<PlanFilter> {
    scope_filter(caller(ctx)?, requested).ok_or_else(|| {
        error(
            ErrorCode::Forbidden,
            "your role may not read clinical content",
        )
    })
}

/// Summaries of every plan the caller may read within `requested`.
pub(crate) async fn summaries_in_scope(
    ctx: &Context<'_>,
    requested: PlanFilter,
) -> async_graphql::Result<Vec<(PlanSummary, Role)>> {
    let caller = caller(ctx)?;
    let filter = scope(ctx, requested)?;
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

/// The first `first` plans of a list the store keeps an index for, that
/// the caller may read and that are still on the list (`still`), in the
/// store's order. The store answers within the caller's scope; each plan
/// is checked again like every summary (`reading_role`) and its document
/// like every pick ([`documents`]). A plan those checks drop is replaced
/// by asking the store for more, so the caller never gets fewer plans than
/// the list has; documents are read only for as many plans as are wanted.
async fn first_listed(
    ctx: &Context<'_>,
    requested: &PlanFilter,
    list: IndexedList,
    first: usize,
    still: impl Fn(&PlanView) -> bool,
) -> async_graphql::Result<Vec<(PlanView, Role)>> {
    let caller = caller(ctx)?;
    let filter = scope(ctx, requested.clone())?;
    let read_models = ctx.data_unchecked::<Arc<dyn ReadModelStore>>();
    let mut accepted = Vec::with_capacity(first);
    let mut seen = std::collections::HashSet::new();
    // A little more than asked, so a dropped plan rarely costs a request.
    let mut limit = first + first / 4 + 8;
    while accepted.len() < first {
        let listed = match list {
            IndexedList::ReviewsDue(due_by) => {
                read_models
                    .reviews_due(&caller.tenant, &filter, due_by, limit)
                    .await
            }
            IndexedList::Unsigned => {
                read_models
                    .unsigned_plans(&caller.tenant, &filter, limit)
                    .await
            }
        }
        .map_err(|e| internal(&e))?;
        let exhausted = listed.len() < limit;
        let mut fresh = listed
            .into_iter()
            .filter(|s| seen.insert(s.plan_id.clone()))
            .filter_map(|s| reading_role(caller, &s).map(|r| (s, r)));
        while accepted.len() < first {
            let picked: Vec<_> = fresh.by_ref().take(first - accepted.len()).collect();
            if picked.is_empty() {
                break;
            }
            accepted.extend(documents(ctx, requested, picked, &still).await?);
        }
        if exhausted {
            break;
        }
        limit = limit.saturating_mul(2);
    }
    Ok(accepted)
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
pub(crate) async fn record_aggregate(
    ctx: &Context<'_>,
    operation: &str,
) -> async_graphql::Result<()> {
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

pub(crate) fn filter(clinic_id: Option<String>, clinician_id: Option<String>) -> PlanFilter {
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
        let due_by_horizon =
            |plan: &PlanView| compliance::next_review(plan).is_some_and(|r| r.due_on <= horizon);
        let plans = first_listed(
            ctx,
            &filter(clinic_id, clinician_id),
            IndexedList::ReviewsDue(horizon),
            first,
            |p| !p.status.is_closed() && due_by_horizon(p),
        )
        .await?;
        let mut due: Vec<(ReviewDue, Role)> = plans
            .into_iter()
            .filter_map(|(plan, role)| {
                let review = compliance::next_review(&plan)?.clone();
                Some((ReviewDue { plan, review }, role))
            })
            .collect();
        // Soonest first, ties in plan-id order: the index's order, kept
        // even if a plan's review moved since the index was read.
        due.sort_by(|(a, _), (b, _)| {
            (a.review.due_on, &a.plan.plan_id).cmp(&(b.review.due_on, &b.plan.plan_id))
        });
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
        let mut plans = first_listed(
            ctx,
            &filter(clinic_id, clinician_id),
            IndexedList::Unsigned,
            first,
            |p| !p.status.is_closed() && !compliance::pending_signatures(p).is_empty(),
        )
        .await?;
        plans.sort_by(|(a, _), (b, _)| a.plan_id.cmp(&b.plan_id));
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

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use async_trait::async_trait;
    use chrono::{Days, NaiveDate};
    use serde_json::json;
    use trellis_audit::{Audit, DigestKey};
    use trellis_auth::Caller;
    use trellis_kernel::TenantId;
    use trellis_projector::{PlanPage, ReadModelError, SqliteReadModels};
    use trellis_store_sqlite::SqliteEventStore;

    use super::*;

    /// Read models whose lists still name plans that have closed since:
    /// their documents say so.
    struct ClosedSinceListed {
        inner: SqliteReadModels,
        closed: HashSet<String>,
    }

    #[async_trait]
    impl ReadModelStore for ClosedSinceListed {
        async fn plan(&self, t: &TenantId, id: &str) -> Result<Option<PlanView>, ReadModelError> {
            let mut plan = self.inner.plan(t, id).await?;
            if let Some(p) = plan.as_mut().filter(|p| self.closed.contains(&p.plan_id)) {
                p.status = LifecycleView::Discharged;
            }
            Ok(plan)
        }
        async fn plans(
            &self,
            t: &TenantId,
            f: &PlanFilter,
            after: Option<&str>,
            first: usize,
        ) -> Result<PlanPage, ReadModelError> {
            self.inner.plans(t, f, after, first).await
        }
        async fn reviews_due(
            &self,
            t: &TenantId,
            f: &PlanFilter,
            due_by: NaiveDate,
            limit: usize,
        ) -> Result<Vec<PlanSummary>, ReadModelError> {
            self.inner.reviews_due(t, f, due_by, limit).await
        }
        async fn unsigned_plans(
            &self,
            t: &TenantId,
            f: &PlanFilter,
            limit: usize,
        ) -> Result<Vec<PlanSummary>, ReadModelError> {
            self.inner.unsigned_plans(t, f, limit).await
        }
        async fn save(&self, views: Vec<PlanView>, at: u64) -> Result<(), ReadModelError> {
            self.inner.save(views, at).await
        }
        async fn checkpoint(&self) -> Result<Option<u64>, ReadModelError> {
            self.inner.checkpoint().await
        }
        async fn ping(&self) -> Result<(), ReadModelError> {
            self.inner.ping().await
        }
    }

    /// Twenty open, unsigned plans with reviews due in plan-id order.
    fn plan(n: u64) -> PlanView {
        serde_json::from_value(json!({
            "tenant": "north", "plan_id": format!("plan-{n:03}"), "client_id": "client-1",
            "primary_clinician_id": "clin-1", "clinic_id": "clinic-a", "title": "t",
            "created_on": "2026-10-01", "version": 1, "status": "active",
            "updated_at": "2026-10-01T00:00:00Z", "goals": [],
            "reviews": [{ "review_id": "r", "due_on": today() + Days::new(n), "held_on": null,
                "participants": [], "summary": null, "decision": null,
                "entered_in_error": null, "origin": "rule" }]
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn a_list_asks_for_more_when_plans_it_was_given_no_longer_qualify() {
        let dir = tempfile::tempdir().unwrap();
        let inner = SqliteReadModels::open(dir.path().join("rm.db")).unwrap();
        inner.save((0..20).map(plan).collect(), 1).await.unwrap();
        // More plans closed than the first request's slack covers.
        let closed = (0..12).map(|n| format!("plan-{n:03}")).collect();
        let store = Arc::new(SqliteEventStore::open(dir.path().join("events.db")).unwrap());
        let key = DigestKey::development();
        let audit = Audit::new(store.clone(), store.clone(), key.clone(), key.public_key());
        let schema = crate::build_schema(
            Arc::new(ClosedSinceListed { inner, closed }),
            store,
            crate::AuditBackend::Local(Box::new(audit)),
            None,
            None,
        );
        let supervisor = Caller {
            tenant: TenantId::parse("north").unwrap(),
            subject: "sup-1".into(),
            roles: vec![Role::Supervisor],
            clinics: vec!["clinic-a".into()],
        };
        let response = schema
            .execute(
                async_graphql::Request::new(
                    "{ unsignedPlans(first: 3) { id }
                       reviewsDue(withinDays: 366, first: 2) { plan { id } } }",
                )
                .data(supervisor),
            )
            .await;
        assert!(response.errors.is_empty(), "{:?}", response.errors);
        assert_eq!(
            response.data.into_json().unwrap(),
            json!({
                "unsignedPlans": [{ "id": "plan-012" }, { "id": "plan-013" }, { "id": "plan-014" }],
                "reviewsDue": [{ "plan": { "id": "plan-012" } }, { "plan": { "id": "plan-013" } }],
            })
        );
    }
}
