//! Where read models live: the [`ReadModelStore`] contract every store
//! implements, with the filter, page and error it speaks in.

use async_trait::async_trait;
use chrono::NaiveDate;
use trellis_kernel::TenantId;

use crate::compliance::{IndexedList, PlanSummary};
use crate::view::PlanView;

/// Which plans a listing returns; every set field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanFilter {
    pub client_id: Option<String>,
    /// Plans whose care team (primary clinician included) has this clinician.
    pub clinician_id: Option<String>,
    /// Plans of any of these clinics; `None` means any clinic.
    pub clinic_ids: Option<Vec<String>>,
}

impl PlanFilter {
    /// Whether a plan of this client and clinic, treated by the clinicians
    /// `treated_by` says yes to, is one the filter asks for.
    pub fn admits(
        &self,
        client_id: &str,
        clinic_id: &str,
        treated_by: impl Fn(&str) -> bool,
    ) -> bool {
        self.client_id.as_deref().is_none_or(|c| client_id == c)
            && self.clinician_id.as_deref().is_none_or(treated_by)
            && self
                .clinic_ids
                .as_ref()
                .is_none_or(|clinics| clinics.iter().any(|c| c == clinic_id))
    }

    pub fn admits_plan(&self, plan: &PlanView) -> bool {
        self.admits(&plan.client_id, &plan.clinic_id, |c| plan.treated_by(c))
    }
}

/// One page of plans in plan-id order.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanPage {
    pub plans: Vec<PlanView>,
    pub has_next_page: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum ReadModelError {
    #[error("read model store unavailable: {0}")]
    Unavailable(String),
    #[error("stored read model is unreadable: {0}")]
    Corrupt(String),
}

/// Where read models live. Keys always include the tenant.
#[async_trait]
pub trait ReadModelStore: Send + Sync + 'static {
    async fn plan(
        &self,
        tenant: &TenantId,
        plan_id: &str,
    ) -> Result<Option<PlanView>, ReadModelError>;

    /// A plan for a reader (not the projector): `Unavailable` while the
    /// store is being rebuilt, when a plan found may still be an older
    /// version than one already read. Stores that are never rebuilt while
    /// read answer as [`Self::plan`].
    async fn plan_for_reader(
        &self,
        tenant: &TenantId,
        plan_id: &str,
    ) -> Result<Option<PlanView>, ReadModelError> {
        self.plan(tenant, plan_id).await
    }

    /// Plans after `after` (a plan id; exclusive) in plan-id order.
    async fn plans(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
        after: Option<&str>,
        first: usize,
    ) -> Result<PlanPage, ReadModelError>;

    /// Compact summaries of every plan matching `filter`, in plan-id order,
    /// for the compliance queries. The default reads whole documents;
    /// stores that keep summaries beside them answer from those.
    async fn summaries(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
    ) -> Result<Vec<PlanSummary>, ReadModelError> {
        let mut summaries = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.plans(tenant, filter, after.as_deref(), 500).await?;
            after = page.plans.last().map(|p| p.plan_id.clone());
            summaries.extend(page.plans.iter().map(PlanSummary::of));
            if !page.has_next_page || after.is_none() {
                return Ok(summaries);
            }
        }
    }

    /// The plans `reviewsDue` lists among those matching `filter`: open,
    /// next review due by `due_by`, soonest first (ties in plan-id order),
    /// at most `limit` ([`crate::compliance::pick_reviews_due`]). The
    /// default scans every summary in scope; stores with an index on the
    /// due date answer from it, reading only the plans they return.
    async fn reviews_due(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
        due_by: NaiveDate,
        limit: usize,
    ) -> Result<Vec<PlanSummary>, ReadModelError> {
        let plans = self.summaries(tenant, filter).await?;
        Ok(IndexedList::ReviewsDue(due_by).pick(plans, limit))
    }

    /// The plans `unsignedPlans` lists among those matching `filter`: open,
    /// current version lacking a required signature, in plan-id order, at
    /// most `limit` ([`crate::compliance::pick_unsigned`]). The default
    /// scans like [`ReadModelStore::reviews_due`]'s.
    async fn unsigned_plans(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
        limit: usize,
    ) -> Result<Vec<PlanSummary>, ReadModelError> {
        let plans = self.summaries(tenant, filter).await?;
        Ok(IndexedList::Unsigned.pick(plans, limit))
    }

    /// Brings what the store keeps beside the documents (summaries,
    /// indexes) up to date for read models an earlier release wrote. The
    /// projector calls it before it follows the feed; stores that do this
    /// on open need nothing here.
    async fn prepare(&self) -> Result<(), ReadModelError> {
        Ok(())
    }

    /// Whether the store still holds what the projector wrote: a Redis
    /// restarted empty, or swapped for another, does not. Stores that
    /// cannot lose part of their content answer true.
    async fn intact(&self) -> Result<bool, ReadModelError> {
        Ok(true)
    }

    /// Starts over after a loss: forgets the checkpoint and marks the
    /// store as being rebuilt until [`ReadModelStore::rebuilt`].
    async fn start_rebuild(&self) -> Result<(), ReadModelError> {
        Ok(())
    }

    /// The projection has caught up with the feed.
    async fn rebuilt(&self) -> Result<(), ReadModelError> {
        Ok(())
    }

    /// Whether a plan missing here may yet exist (a rebuild runs, or the
    /// store lost its content): readers answer "unavailable", not
    /// "missing".
    async fn rebuilding(&self) -> Result<bool, ReadModelError> {
        Ok(false)
    }

    /// Takes, or renews, the right to project into this store for `ttl`,
    /// as `holder`: false while another projector holds it. Stores only
    /// one process writes (the embedded one) always grant it.
    async fn hold_lease(
        &self,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, ReadModelError> {
        let _ = (holder, ttl);
        Ok(true)
    }

    /// Writes the views and the feed position they include, atomically.
    async fn save(&self, views: Vec<PlanView>, checkpoint: u64) -> Result<(), ReadModelError>;

    /// The feed position of the last saved batch.
    async fn checkpoint(&self) -> Result<Option<u64>, ReadModelError>;

    async fn ping(&self) -> Result<(), ReadModelError>;
}

/// The span of a reader's plan read that leaves the process's memory (the
/// store behind the cache, or Redis). Names and ids only, never content.
pub(crate) fn plan_read_span(tenant: &TenantId, plan_id: &str) -> tracing::Span {
    tracing::info_span!("read_models.plan", tenant = %tenant, plan_id = %plan_id)
}
