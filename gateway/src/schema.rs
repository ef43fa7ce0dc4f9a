//! The GraphQL schema: queries over plan read models, and the auditor's
//! queries over the audit trail.

use std::sync::Arc;

use async_graphql::connection::{Connection, Edge, EmptyFields};
use async_graphql::{Context, ID, MergedObject, Object, Schema, SelectionField};
use chrono::Utc;
use tonic::transport::Channel;
use tracing::Instrument as _;
use trellis_access::reading_role;
use trellis_auth::{Caller, Role};
use trellis_kernel::{AccessLog, AccessRecord};
use trellis_plans_domain::Instrument;
use trellis_projector::{EnteredView, PlanFilter, PlanView, ReadModelError, ReadModelStore};
use trellis_proto::plans::v1::plan_service_client::PlanServiceClient;

use crate::access::scope_filter;
use crate::audit::{AuditBackend, AuditQuery};
use crate::compliance::{ComplianceQuery, InsuranceReadiness, today};
use crate::contract;
use crate::error::{ErrorCode, error};
use crate::mutation::MutationRoot;
use crate::subscription::SubscriptionRoot;
use crate::{
    clinical::{
        ClinicalContext, Diagnosis, Intervention, PresentingProblem, Referral, SafetyPlan,
        ServicePlan,
    },
    goals::Goal,
    lifecycle::{Consent, GqlPlanStatus, Signature, StatusChange, plan_status},
    measures::{Measure, SafetyFlag, ScheduledMeasure},
    reviews::{GqlReviewStanding, Review, standing},
};

pub type TrellisSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// Where a GraphQL request came from; the HTTP edge puts it in the request.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub address: String,
    pub request_id: String,
}

/// Largest page a client may ask for.
const MAX_PAGE: usize = 100;
const DEFAULT_PAGE: usize = 20;

/// The schema over `read_models`. Every read of clinical content is
/// written to `access_log` before it is answered; `audit` answers the
/// auditor's queries; mutations go to the plans gRPC service behind
/// `plans` (without one, mutations answer `UNAVAILABLE`); subscriptions
/// follow `changes`.
pub fn build_schema(
    read_models: Arc<dyn ReadModelStore>,
    access_log: Arc<dyn AccessLog>,
    audit: AuditBackend,
    plans: Option<PlanServiceClient<Channel>>,
    changes: Option<trellis_projector::LocalChanges>,
) -> TrellisSchema {
    let mut builder = Schema::build(
        QueryRoot::default(),
        MutationRoot::default(),
        SubscriptionRoot,
    )
    .data(read_models)
    .data(access_log)
    .data(audit);
    if let Some(plans) = plans {
        builder = builder.data(plans);
    }
    if let Some(changes) = changes {
        builder = builder.data(changes);
    }
    builder.limit_depth(12).limit_complexity(2_000).finish()
}

pub(crate) fn internal(e: &ReadModelError) -> async_graphql::Error {
    tracing::error!(error = %e, "read model failed");
    error(ErrorCode::Internal, "internal error")
}

pub(crate) fn caller<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Caller> {
    ctx.data::<Caller>()
        .map_err(|_| error(ErrorCode::Unauthenticated, "missing bearer token"))
}

pub(crate) fn request_meta(ctx: &Context<'_>) -> RequestMeta {
    ctx.data_opt::<RequestMeta>().cloned().unwrap_or_default()
}

/// Names of the fields selected under `field`, one level down.
pub(crate) fn selected(field: SelectionField<'_>) -> Vec<String> {
    field.selection_set().map(|f| f.name().to_owned()).collect()
}

/// Records that the caller read these plans; the data is returned only if
/// the records are durable.
pub(crate) async fn record_reads(
    ctx: &Context<'_>,
    operation: &str,
    reads: &[(&PlanView, Role)],
    fields: &[String],
) -> async_graphql::Result<()> {
    let reads: Vec<(Option<&str>, &str)> = reads
        .iter()
        .map(|(plan, role)| (Some(plan.plan_id.as_str()), role.as_str()))
        .collect();
    record_accesses(ctx, operation, &reads, fields).await
}

/// Writes one access record per (plan, role) — no plan for an aggregate
/// read — and refuses the read if they are not durable.
pub(crate) async fn record_accesses(
    ctx: &Context<'_>,
    operation: &str,
    reads: &[(Option<&str>, &str)],
    fields: &[String],
) -> async_graphql::Result<()> {
    if reads.is_empty() {
        return Ok(());
    }
    let caller = caller(ctx)?;
    let meta = request_meta(ctx);
    let at = Utc::now();
    let records = reads
        .iter()
        .map(|(plan_id, role)| AccessRecord {
            tenant: caller.tenant.clone(),
            subject: caller.subject.clone(),
            role: (*role).to_owned(),
            plan_id: plan_id.map(str::to_owned),
            operation: operation.to_owned(),
            fields: fields.to_vec(),
            api: "graphql".into(),
            address: meta.address.clone(),
            request_id: meta.request_id.clone(),
            at,
        })
        .collect();
    ctx.data_unchecked::<Arc<dyn AccessLog>>()
        .record(records)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "access log write failed; read refused");
            error(
                ErrorCode::Internal,
                "the read could not be recorded, so it was refused",
            )
        })
}

/// One plan for the caller, access-logged; `None` when missing or hidden.
pub(crate) async fn load_plan_for_caller(
    ctx: &Context<'_>,
    plan_id: &str,
    operation: &str,
) -> async_graphql::Result<Option<Plan>> {
    let caller = caller(ctx)?;
    let read_models = ctx.data_unchecked::<Arc<dyn ReadModelStore>>();
    let view = read_models
        .plan(&caller.tenant, plan_id)
        .instrument(tracing::info_span!(
            "graphql.query.plan",
            tenant = %caller.tenant,
            plan_id = %plan_id
        ))
        .await
        .map_err(|e| internal(&e))?;
    let Some((view, role)) = view.and_then(|v| reading_role(caller, &v).map(|r| (v, r))) else {
        return Ok(None);
    };
    record_reads(ctx, operation, &[(&view, role)], &selected(ctx.field())).await?;
    Ok(Some(Plan(view)))
}

/// Every query: plans (any role, scoped) and the audit trail (auditors).
#[derive(MergedObject, Default)]
pub struct QueryRoot(
    PlanQuery,
    ComplianceQuery,
    crate::templates::TemplateQuery,
    AuditQuery,
);

impl std::fmt::Debug for QueryRoot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("QueryRoot")
    }
}

#[derive(Debug, Default)]
pub struct PlanQuery;

#[Object]
impl PlanQuery {
    /// One plan with its goals, objectives, progress and reviews; null when
    /// it does not exist or the caller may not see it.
    async fn plan(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<Plan>> {
        load_plan_for_caller(ctx, id.as_str(), "graphql:plan").await
    }

    /// Plans the caller may see, in a stable order, Relay-style.
    async fn plans(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
        client_id: Option<String>,
        clinician_id: Option<String>,
    ) -> async_graphql::Result<Connection<String, Plan, EmptyFields, EmptyFields>> {
        let caller = caller(ctx)?;
        let first = match first {
            None => DEFAULT_PAGE,
            Some(n) if n >= 0 && (n as usize) <= MAX_PAGE => n as usize,
            Some(_) => {
                return Err(error(
                    ErrorCode::BadUserInput,
                    &format!("first must be between 0 and {MAX_PAGE}"),
                ));
            }
        };
        let requested = PlanFilter {
            client_id,
            clinician_id,
            clinic_ids: None,
        };
        let mut connection = Connection::new(after.is_some(), false);
        let Some(filter) = scope_filter(caller, requested) else {
            if caller.roles.iter().all(|r| *r == trellis_auth::Role::Admin) {
                return Err(error(
                    ErrorCode::Forbidden,
                    "your role may not read clinical content",
                ));
            }
            return Ok(connection);
        };
        let read_models = ctx.data_unchecked::<Arc<dyn ReadModelStore>>();
        let page = read_models
            .plans(&caller.tenant, &filter, after.as_deref(), first)
            .await
            .map_err(|e| internal(&e))?;
        connection.has_next_page = page.has_next_page;
        let readable: Vec<(PlanView, Role)> = page
            .plans
            .into_iter()
            .filter_map(|p| reading_role(caller, &p).map(|r| (p, r)))
            .collect();
        let fields: Vec<String> = ctx
            .field()
            .selection_set()
            .filter(|f| f.name() == "edges")
            .flat_map(|edges| {
                edges
                    .selection_set()
                    .filter(|f| f.name() == "node")
                    .collect::<Vec<_>>()
            })
            .flat_map(selected)
            .collect();
        let reads: Vec<(&PlanView, Role)> = readable.iter().map(|(p, r)| (p, *r)).collect();
        record_reads(ctx, "graphql:plans", &reads, &fields).await?;
        connection.edges.extend(
            readable
                .into_iter()
                .map(|(p, _)| Edge::new(p.plan_id.clone(), Plan(p))),
        );
        Ok(connection)
    }
}

/// Who entered an item on the plan, and when.
#[derive(Debug)]
pub struct Entered<'a>(pub(crate) &'a EnteredView);

#[Object]
impl Entered<'_> {
    /// The subject of the token that entered it.
    async fn by(&self) -> &str {
        &self.0.by
    }
    /// The role they acted in (clinician, supervisor, …).
    async fn role(&self) -> &str {
        &self.0.role
    }
    /// When the server recorded it (RFC 3339).
    async fn at(&self) -> String {
        self.0.at.to_rfc3339()
    }
}

/// A treatment plan (as of its latest version, or as of the version an
/// auditor asked for).
#[derive(Debug)]
pub struct Plan(pub(crate) PlanView);

#[Object]
impl Plan {
    async fn id(&self) -> ID {
        ID(self.0.plan_id.clone())
    }
    async fn client_id(&self) -> &str {
        &self.0.client_id
    }
    async fn primary_clinician_id(&self) -> &str {
        &self.0.primary_clinician_id
    }
    /// The care team besides the primary clinician.
    async fn care_team(&self) -> &[String] {
        &self.0.care_team
    }
    async fn clinic_id(&self) -> &str {
        &self.0.clinic_id
    }
    async fn title(&self) -> &str {
        &self.0.title
    }
    /// ISO date the plan was created.
    async fn created_on(&self) -> String {
        self.0.created_on.to_string()
    }
    /// The plan version: its stream revision.
    async fn version(&self) -> u64 {
        self.0.version
    }
    /// RFC 3339 time of the last change.
    async fn updated_at(&self) -> String {
        self.0.updated_at.to_rfc3339()
    }
    async fn goals(&self) -> Vec<Goal<'_>> {
        self.0.goals.iter().map(Goal).collect()
    }
    async fn reviews(&self) -> Vec<Review<'_>> {
        self.0.reviews.iter().map(Review).collect()
    }
    /// Standardized measures, oldest first, optionally of one instrument —
    /// a client's trend, with each score's band and change from baseline.
    async fn measures(&self, instrument: Option<contract::Instrument>) -> Vec<Measure<'_>> {
        let wanted: Option<Instrument> = instrument.map(Into::into);
        self.0
            .measures
            .iter()
            .filter(|m| wanted.is_none_or(|w| w == m.instrument))
            .map(|m| Measure {
                measure: m,
                baseline: self
                    .0
                    .measures
                    .iter()
                    .find(|b| b.instrument == m.instrument && b.entered_in_error.is_none())
                    .map_or(m.total, |b| b.total),
            })
            .collect()
    }
    /// ICD-10-CM diagnoses; one is primary.
    async fn diagnoses(&self) -> Vec<Diagnosis<'_>> {
        self.0.diagnoses.iter().map(Diagnosis).collect()
    }
    /// The presenting problem and its symptoms.
    async fn presenting_problem(&self) -> Option<PresentingProblem<'_>> {
        self.0.presenting_problem.as_ref().map(PresentingProblem)
    }
    async fn interventions(&self) -> Vec<Intervention<'_>> {
        self.0.interventions.iter().map(Intervention).collect()
    }
    /// The crisis and safety plan.
    async fn safety_plan(&self) -> Option<SafetyPlan<'_>> {
        self.0.safety_plan.as_ref().map(SafetyPlan)
    }
    /// Safety flags; `open: true` for those not yet acknowledged.
    async fn safety_flags(&self, open: Option<bool>) -> Vec<SafetyFlag<'_>> {
        self.0
            .safety_flags
            .iter()
            .filter(|f| open.is_none_or(|o| o == f.acknowledged_on.is_none()))
            .map(SafetyFlag)
            .collect()
    }
    /// Whose review rules apply; empty for the tenant default.
    async fn payer(&self) -> &str {
        &self.0.payer
    }
    /// The template the plan was made from, as `id@version`.
    async fn template(&self) -> Option<&str> {
        self.0.template.as_deref()
    }
    /// Draft, active, on hold, or how it closed.
    async fn status(&self) -> GqlPlanStatus {
        plan_status(self.0.status)
    }
    /// Every change of status, with its date, reason and who made it.
    async fn status_changes(&self) -> Vec<StatusChange> {
        self.0.status_changes.iter().map(Into::into).collect()
    }
    /// Strengths, barriers, family and social supports.
    async fn clinical_context(&self) -> Option<ClinicalContext> {
        self.0.clinical_context.as_ref().map(Into::into)
    }
    async fn referrals(&self) -> Vec<Referral> {
        self.0.referrals.iter().map(Into::into).collect()
    }
    /// Session type, minutes, frequency, expected sessions.
    async fn service_plan(&self) -> Option<ServicePlan> {
        self.0.service_plan.as_ref().map(Into::into)
    }
    /// Scheduled questionnaires with their due dates.
    async fn measure_schedule(&self) -> Vec<ScheduledMeasure> {
        trellis_projector::compliance::measures_due(&self.0, today())
            .into_iter()
            .map(Into::into)
            .collect()
    }
    /// The earliest review not yet held.
    async fn next_review(&self) -> Option<Review<'_>> {
        trellis_projector::compliance::next_review(&self.0).map(Review)
    }
    async fn review_standing(&self) -> GqlReviewStanding {
        standing(trellis_projector::compliance::review_standing(
            &self.0,
            today(),
        ))
    }
    async fn consents(&self) -> Vec<Consent> {
        self.0.consents.iter().map(Into::into).collect()
    }
    /// The content version signatures bind to; a material change after
    /// signing starts the next one.
    async fn plan_version(&self) -> u32 {
        self.0.plan_version
    }
    /// Signatures; `current: true` for the version in force only.
    async fn signatures(&self, current: Option<bool>) -> Vec<Signature> {
        self.0
            .signatures
            .iter()
            .filter(|s| !current.unwrap_or(false) || s.version == self.0.plan_version)
            .map(Into::into)
            .collect()
    }
    /// Clinician and client signatures the version in force still needs.
    async fn pending_signatures(&self) -> Vec<contract::SignerRole> {
        trellis_projector::compliance::pending_signatures(&self.0)
            .into_iter()
            .map(Into::into)
            .collect()
    }
    /// What a payer would find missing.
    async fn insurance_readiness(&self) -> InsuranceReadiness {
        InsuranceReadiness::of(&self.0)
    }
}
