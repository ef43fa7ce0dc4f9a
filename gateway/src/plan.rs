//! A treatment plan as GraphQL shows it, every section.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, SimpleObject};
use trellis_access::reading_role;
use trellis_projector::{PlanView, ReadModelStore, compliance};

use crate::clinical::{
    ClinicalContext, Diagnosis, Intervention, PresentingProblem, Referral, SafetyPlan, ServicePlan,
};
use trellis_audit::history::read_whole_stream;
use trellis_audit::timetravel::last_fully_signed;

use crate::audit_backend::AuditBackend;
use crate::context::{
    Replay, api_of, caller, internal, record_reads, selected, spend_replay, today,
};
use crate::contract;
use crate::error::{ErrorCode, error};
use crate::goals::Goal;
use crate::lifecycle::{Consent, Erasure, GqlPlanStatus, Signature, StatusChange, plan_status};
use crate::measures::{Measure, SafetyFlag, ScheduledMeasure};
use crate::reviews::{GqlReviewStanding, Review, standing};

/// One plan for the caller, access-logged; `None` when missing or hidden.
pub(crate) async fn load_plan_for_caller(
    ctx: &Context<'_>,
    plan_id: &str,
    operation: &str,
) -> async_graphql::Result<Option<Plan>> {
    let caller = caller(ctx)?;
    let read_models = ctx.data_unchecked::<Arc<dyn ReadModelStore>>();
    // The read models' own span covers a read that leaves memory.
    let view = read_models
        .plan_for_reader(&caller.tenant, plan_id)
        .await
        .map_err(|e| internal(&e))?;
    let Some((view, role)) = view.and_then(|v| reading_role(caller, &v).map(|r| (v, r))) else {
        // Hidden and missing alike (one more read for both).
        crate::context::unless_rebuilding(read_models.as_ref()).await?;
        return Ok(None);
    };
    record_reads(ctx, operation, &[(&view, role)], &selected(ctx.field())).await?;
    Ok(Some(Plan(view)))
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
    /// When the server recorded the plan's creation (RFC 3339); null only
    /// for plans projected before it was kept (rebuild the read models to
    /// fill it).
    async fn created_at(&self) -> Option<String> {
        self.0.created_at.map(|at| at.to_rfc3339())
    }
    /// The plan version: its stream revision.
    async fn version(&self) -> u64 {
        self.0.version
    }
    /// The hash-chain link (hex) of the event at `version`: exactly which
    /// record this plan was read from (`trellis audit check-document`
    /// compares a payer document's with the history). Empty for views
    /// projected before it was kept; rebuilding the read models fills it.
    async fn record_hash(&self) -> &str {
        &self.0.record_hash
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
    /// Standardized measures in the order they were recorded (oldest
    /// first), optionally of one instrument — a client's trend, with each
    /// score's band and change from baseline: the instrument's first score
    /// recorded, as a score objective's baseline is. A questionnaire
    /// entered late for an earlier day comes where it was recorded; its
    /// `administeredOn` tells its day.
    async fn measures(&self, instrument: Option<contract::Instrument>) -> Vec<Measure<'_>> {
        let wanted: Option<trellis_plans_domain::Instrument> = instrument.map(Into::into);
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
    /// Set when the plan's client was erased (their data key destroyed):
    /// what is left is the plan's shape and who treated under it. Every
    /// content field is then empty, `title` is "erased" and `clientId` is
    /// empty; the plan takes no more changes. Null for every other plan.
    async fn erasure(&self) -> Option<Erasure> {
        self.0.erasure.as_ref().map(Into::into)
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
    /// The plan at the last revision, at or before this plan's `version`,
    /// at which its content version was signed by every required signer:
    /// this same state while `pendingSignatures` is empty; while a later
    /// change awaits signatures, the state just before that change
    /// (including what was recorded after the signing — scores, progress —
    /// up to it); null when no content version was fully signed by then.
    /// What a payer document is made from. Replayed from the plan's
    /// history, so it is resolved at most once per request: a second
    /// resolution (another alias or plan, a nested one) is refused with
    /// BAD_USER_INPUT, and it is not offered in subscriptions. Reading it
    /// writes its own access record, naming the version read.
    async fn signed_version(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Plan>> {
        spend_replay(ctx, Replay::SignedVersion)?;
        let signed = if compliance::pending_signatures(&self.0).is_empty() {
            Some(self.0.clone())
        } else {
            self.replay_signed(ctx).await?
        };
        let Some(signed) = signed else {
            return Ok(None);
        };
        // The plan's own record names only `signedVersion`: what this
        // state disclosed, and which version it was, is recorded here.
        let caller = caller(ctx)?;
        let role = reading_role(caller, &self.0)
            .ok_or_else(|| error(ErrorCode::NotFound, "plan not found"))?;
        let operation = format!("{}:signedVersion@{}", api_of(ctx), signed.version);
        record_reads(ctx, &operation, &[(&signed, role)], &selected(ctx.field())).await?;
        Ok(Some(Plan(signed)))
    }
    /// What a payer would find missing.
    async fn insurance_readiness(&self) -> InsuranceReadiness {
        InsuranceReadiness::of(&self.0)
    }
}

impl Plan {
    /// Replays the history up to this plan's version for its last fully
    /// signed state.
    async fn replay_signed(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<PlanView>> {
        let tenant = &caller(ctx)?.tenant;
        let stream = trellis_audit::plan_stream(tenant, &self.0.plan_id)
            .map_err(|_| error(ErrorCode::NotFound, "plan not found"))?;
        let store = ctx.data::<AuditBackend>()?.event_store();
        let events = read_whole_stream(store, &stream).await.map_err(|e| {
            tracing::warn!(error = %e, "plan history unreadable for its signed version");
            error(
                ErrorCode::Unavailable,
                "the event store did not answer; retry shortly",
            )
        })?;
        Ok(last_fully_signed(&events, self.0.version))
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
