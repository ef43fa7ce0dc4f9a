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
        // Only what is cached is refreshed (the rest loads on first read),
        // so only that is copied: a save's plans can be large.
        let refreshed: Vec<PlanView> = {
            let plans = self.plans.lock().expect("cache poisoned");
            views
                .iter()
                .filter(|view| {
                    let key = (view.tenant.clone(), view.plan_id.clone());
                    plans
                        .get(&key)
                        .is_some_and(|cached| cached.version < view.version)
                })
                .cloned()
                .collect()
        };
        let saved: Vec<((String, String), u64)> = views
            .iter()
            .map(|view| ((view.tenant.clone(), view.plan_id.clone()), view.version))
            .collect();
        self.inner.save(views, checkpoint).await?;
        let mut plans = self.plans.lock().expect("cache poisoned");
        for view in refreshed {
            let key = (view.tenant.clone(), view.plan_id.clone());
            if let Some(cached) = plans.get_mut(&key)
                && cached.version < view.version
            {
                *cached = view;
            }
        }
        // A plan first read while the save ran may hold an older version:
        // it is dropped, to load again on the next read.
        for (key, version) in saved {
            if plans
                .get(&key)
                .is_some_and(|cached| cached.version < version)
            {
                plans.remove(&key);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SqliteReadModels;
    use crate::view::tests::{created, goal, recorded};
    use tokio::sync::{Notify, Semaphore};

    /// The plan the test events build (`view::tests::created`).
    const PLAN: &str = "00000000-0000-0000-0000-000000000001";

    fn key() -> (String, String) {
        ("northside".into(), PLAN.into())
    }

    /// The plan `northside`/`p1` at `version`: created, then a goal per
    /// version after the first.
    fn plan_at(version: u64) -> PlanView {
        let unsaved = UnsavedViews::default();
        unsaved.adopt(key(), None);
        unsaved.fold(&key(), &recorded(0, &created())).unwrap();
        for revision in 1..=version {
            unsaved.fold(&key(), &recorded(revision, &goal())).unwrap();
        }
        let view = unsaved.plan("northside", PLAN).expect("folded");
        assert_eq!(key(), (view.tenant.clone(), view.plan_id.clone()));
        view
    }

    fn tenant() -> TenantId {
        TenantId::parse("northside").unwrap()
    }

    /// Saves wait for a permit each, so a test decides when one lands;
    /// `entered` tells that one is waiting.
    struct HeldSaves {
        inner: SqliteReadModels,
        permits: Arc<Semaphore>,
        entered: Arc<Notify>,
    }

    #[async_trait]
    impl ReadModelStore for HeldSaves {
        async fn plan(
            &self,
            tenant: &TenantId,
            plan_id: &str,
        ) -> Result<Option<PlanView>, ReadModelError> {
            self.inner.plan(tenant, plan_id).await
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

        async fn save(&self, views: Vec<PlanView>, checkpoint: u64) -> Result<(), ReadModelError> {
            self.entered.notify_one();
            let permit = self.permits.acquire().await.expect("semaphore open");
            permit.forget();
            self.inner.save(views, checkpoint).await
        }

        async fn checkpoint(&self) -> Result<Option<u64>, ReadModelError> {
            self.inner.checkpoint().await
        }

        async fn ping(&self) -> Result<(), ReadModelError> {
            self.inner.ping().await
        }
    }

    #[tokio::test]
    async fn a_save_refreshes_a_cached_plan() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteReadModels::open(dir.path().join("rm.db")).unwrap();
        let cache = CachedReadModels::new(Arc::new(store), 16);
        cache.save(vec![plan_at(1)], 2).await.unwrap();
        assert_eq!(cache.cached(&key()), None, "a save caches nothing new");
        let read = cache.plan(&tenant(), PLAN).await.unwrap().unwrap();
        assert_eq!(cache.cached(&key()).map(|p| p.version), Some(read.version));

        cache.save(vec![plan_at(2)], 3).await.unwrap();

        let cached = cache.cached(&key()).expect("still cached");
        assert_eq!((cached.version, cached.goals.len()), (2, 2));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_plan_first_read_while_its_save_runs_is_not_left_behind() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteReadModels::open(dir.path().join("rm.db")).unwrap();
        store.save(vec![plan_at(1)], 2).await.unwrap();
        let permits = Arc::new(Semaphore::new(0));
        let entered = Arc::new(Notify::new());
        let cache = Arc::new(CachedReadModels::new(
            Arc::new(HeldSaves {
                inner: store,
                permits: Arc::clone(&permits),
                entered: Arc::clone(&entered),
            }),
            16,
        ));
        let saving = tokio::spawn({
            let cache = Arc::clone(&cache);
            async move { cache.save(vec![plan_at(2)], 3).await }
        });
        // Read while the save is held: the store still has version 1.
        entered.notified().await;
        let before = cache.plan(&tenant(), PLAN).await.unwrap().unwrap();
        assert_eq!(before.version, 1);

        permits.add_permits(1);
        saving.await.unwrap().unwrap();

        assert!(
            cache.cached(&key()).is_none_or(|p| p.version == 2),
            "no older version stays cached"
        );
        let after = cache.plan(&tenant(), PLAN).await.unwrap().unwrap();
        assert_eq!(after.version, 2);
    }
}
