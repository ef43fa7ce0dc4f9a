//! An in-memory cache of plan documents in front of a read-model store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;
use trellis_kernel::TenantId;

use crate::{PlanFilter, PlanPage, PlanView, ReadModelError, ReadModelStore, UnsavedViews};

/// Caches `plan` lookups. Exact only when every write to the store goes
/// through this same wrapper (one process: the projector and the gateway
/// share it), because `save` refreshes the cached documents.
pub struct CachedReadModels {
    inner: Arc<dyn ReadModelStore>,
    plans: Mutex<HashMap<(String, String), PlanView>>,
    capacity: usize,
    /// What the projector of this process folded but has not saved yet.
    unsaved: Option<Arc<UnsavedViews>>,
}

impl std::fmt::Debug for CachedReadModels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CachedReadModels")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

fn lookups() -> &'static Counter<u64> {
    static LOOKUPS: OnceLock<Counter<u64>> = OnceLock::new();
    LOOKUPS.get_or_init(|| {
        opentelemetry::global::meter("trellis")
            .u64_counter("trellis.readmodel.cache.lookups")
            .with_description("Plan read-model lookups by result (unsaved, hit or miss)")
            .build()
    })
}

impl CachedReadModels {
    pub fn new(inner: Arc<dyn ReadModelStore>, capacity: usize) -> Self {
        Self {
            inner,
            plans: Mutex::new(HashMap::new()),
            capacity: capacity.max(1),
            unsaved: None,
        }
    }

    /// Answers `plan` first from what the projector sharing `unsaved`
    /// ([`crate::Projector::folding_into`]) folded and is still saving: a
    /// command shows as soon as it is folded. Listings still answer from
    /// the store, as of the last save.
    #[must_use]
    pub fn showing_unsaved(mut self, unsaved: Arc<UnsavedViews>) -> Self {
        self.unsaved = Some(unsaved);
        self
    }

    fn cached(&self, key: &(String, String)) -> Option<PlanView> {
        self.plans.lock().expect("cache poisoned").get(key).cloned()
    }

    fn remember(&self, view: PlanView) {
        let mut plans = self.plans.lock().expect("cache poisoned");
        // Crude but bounded: start over when full.
        if plans.len() >= self.capacity {
            plans.clear();
        }
        plans.insert((view.tenant.clone(), view.plan_id.clone()), view);
    }
}

#[async_trait]
impl ReadModelStore for CachedReadModels {
    async fn plan(
        &self,
        tenant: &TenantId,
        plan_id: &str,
    ) -> Result<Option<PlanView>, ReadModelError> {
        if let Some(view) = self
            .unsaved
            .as_ref()
            .and_then(|unsaved| unsaved.plan(tenant.as_str(), plan_id))
        {
            lookups().add(1, &[KeyValue::new("result", "unsaved")]);
            return Ok(Some(view));
        }
        let key = (tenant.to_string(), plan_id.to_owned());
        if let Some(view) = self.cached(&key) {
            lookups().add(1, &[KeyValue::new("result", "hit")]);
            return Ok(Some(view));
        }
        lookups().add(1, &[KeyValue::new("result", "miss")]);
        let view = self.inner.plan(tenant, plan_id).await?;
        if let Some(v) = &view {
            self.remember(v.clone());
        }
        Ok(view)
    }

    async fn plans(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
        after: Option<&str>,
        first: usize,
    ) -> Result<PlanPage, ReadModelError> {
        self.inner.plans(tenant, filter, after, first).await
    }

    async fn summaries(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
    ) -> Result<Vec<crate::compliance::PlanSummary>, ReadModelError> {
        self.inner.summaries(tenant, filter).await
    }

    async fn reviews_due(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
        due_by: chrono::NaiveDate,
        limit: usize,
    ) -> Result<Vec<crate::compliance::PlanSummary>, ReadModelError> {
        self.inner.reviews_due(tenant, filter, due_by, limit).await
    }

    async fn unsigned_plans(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
        limit: usize,
    ) -> Result<Vec<crate::compliance::PlanSummary>, ReadModelError> {
        self.inner.unsigned_plans(tenant, filter, limit).await
    }

    async fn prepare(&self) -> Result<(), ReadModelError> {
        // A projector (re)starting reads through here from its checkpoint;
        // nothing cached from before may stand in for what the store holds.
        self.plans.lock().expect("cache poisoned").clear();
        self.inner.prepare().await
    }

    async fn save(&self, views: Vec<PlanView>, checkpoint: u64) -> Result<(), ReadModelError> {
        self.inner.save(views.clone(), checkpoint).await?;
        let mut plans = self.plans.lock().expect("cache poisoned");
        for view in views {
            let key = (view.tenant.clone(), view.plan_id.clone());
            // Only refresh what is cached; the rest loads on first read.
            if let Some(cached) = plans.get_mut(&key)
                && cached.version < view.version
            {
                *cached = view;
            }
        }
        Ok(())
    }

    async fn checkpoint(&self) -> Result<Option<u64>, ReadModelError> {
        self.inner.checkpoint().await
    }

    async fn intact(&self) -> Result<bool, ReadModelError> {
        self.inner.intact().await
    }

    async fn start_rebuild(&self) -> Result<(), ReadModelError> {
        self.inner.start_rebuild().await?;
        // The projector folds events onto what it reads: a view cached
        // from before the loss would have them applied twice.
        self.plans.lock().expect("cache poisoned").clear();
        Ok(())
    }

    async fn rebuilt(&self) -> Result<(), ReadModelError> {
        self.inner.rebuilt().await
    }

    async fn rebuilding(&self) -> Result<bool, ReadModelError> {
        self.inner.rebuilding().await
    }

    async fn hold_lease(
        &self,
        holder: &str,
        ttl: std::time::Duration,
    ) -> Result<bool, ReadModelError> {
        self.inner.hold_lease(holder, ttl).await
    }

    async fn ping(&self) -> Result<(), ReadModelError> {
        self.inner.ping().await
    }
}
