//! An in-memory cache of plan documents in front of a read-model store.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use async_trait::async_trait;
use opentelemetry::KeyValue;
use opentelemetry::metrics::Counter;
use tracing::Instrument as _;
use trellis_kernel::TenantId;

use crate::{PlanFilter, PlanPage, PlanView, ReadModelError, ReadModelStore, UnsavedViews};

/// Caches `plan` lookups. Exact only when every write to the store goes
/// through this same wrapper (one process: the projector and the gateway
/// share it), because `save` refreshes the cached documents.
pub struct CachedReadModels {
    inner: Arc<dyn ReadModelStore>,
    plans: Mutex<HashMap<(String, String), PlanView>>,
    /// Saves finished and clears done, counted under the `plans` lock: a
    /// plan read from the store while one happened may be older than what
    /// was saved, or from before a rebuild, so it is not cached.
    saves: AtomicU64,
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
            saves: AtomicU64::new(0),
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

    /// A plan from what this process holds, else from the store (cached
    /// for the next read). A reader's read of the store is a span of its
    /// own; one answered from memory is not worth one.
    async fn look_up(
        &self,
        tenant: &TenantId,
        plan_id: &str,
        for_reader: bool,
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
        let saves = self.saves.load(Ordering::Acquire);
        let read = self.inner.plan(tenant, plan_id);
        let view = if for_reader {
            read.instrument(crate::store::plan_read_span(tenant, plan_id))
                .await?
        } else {
            read.await?
        };
        if let Some(v) = &view {
            self.remember(v.clone(), saves);
        }
        Ok(view)
    }

    fn cached(&self, key: &(String, String)) -> Option<PlanView> {
        self.plans.lock().expect("cache poisoned").get(key).cloned()
    }

    /// Empties the cache; a read under way is not cached either.
    fn forget_all(&self) {
        let mut plans = self.plans.lock().expect("cache poisoned");
        plans.clear();
        self.saves.fetch_add(1, Ordering::Release);
    }

    /// Caches `view`, read from the store when `saves` had finished:
    /// unless a save finished since (the view may be older than it) or a
    /// newer version is cached.
    fn remember(&self, view: PlanView, saves: u64) {
        let mut plans = self.plans.lock().expect("cache poisoned");
        if self.saves.load(Ordering::Acquire) != saves {
            return;
        }
        let key = (view.tenant.clone(), view.plan_id.clone());
        if plans
            .get(&key)
            .is_some_and(|cached| cached.version >= view.version)
        {
            return;
        }
        // Crude but bounded: start over when full.
        if plans.len() >= self.capacity {
            plans.clear();
        }
        plans.insert(key, view);
    }
}

#[async_trait]
impl ReadModelStore for CachedReadModels {
    async fn plan(
        &self,
        tenant: &TenantId,
        plan_id: &str,
    ) -> Result<Option<PlanView>, ReadModelError> {
        self.look_up(tenant, plan_id, false).await
    }

    async fn plan_for_reader(
        &self,
        tenant: &TenantId,
        plan_id: &str,
    ) -> Result<Option<PlanView>, ReadModelError> {
        self.look_up(tenant, plan_id, true).await
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
        self.forget_all();
        self.inner.prepare().await
    }

    async fn save(&self, views: Vec<PlanView>, checkpoint: u64) -> Result<(), ReadModelError> {
        let saved: Vec<((String, String), u64)> = views
            .iter()
            .map(|view| ((view.tenant.clone(), view.plan_id.clone()), view.version))
            .collect();
        // Only what is cached is refreshed (the rest loads on first read),
        // so only that is copied, outside the lock: a save's plans can be
        // large.
        let stale: Vec<bool> = {
            let plans = self.plans.lock().expect("cache poisoned");
            saved
                .iter()
                .map(|(key, version)| plans.get(key).is_some_and(|c| c.version < *version))
                .collect()
        };
        let refreshed: Vec<PlanView> = views
            .iter()
            .zip(stale)
            .filter(|(_, stale)| *stale)
            .map(|(view, _)| view.clone())
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
        // it is dropped, to load again on the next read; and a read still
        // under way is not cached (`remember`).
        for (key, version) in saved {
            if plans
                .get(&key)
                .is_some_and(|cached| cached.version < version)
            {
                plans.remove(&key);
            }
        }
        self.saves.fetch_add(1, Ordering::Release);
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
        self.forget_all();
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

    /// The plan `PLAN` of `northside` at `version`: created, then a goal per
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
        /// When set, a plan read tells `entered` and waits for a permit
        /// after reading.
        reads: Option<Arc<Semaphore>>,
    }

    impl HeldSaves {
        /// Over a fresh file in `dir` that holds the plan at version 1.
        async fn at_version_1(
            dir: &std::path::Path,
            permits: &Arc<Semaphore>,
            entered: &Arc<Notify>,
            reads: Option<&Arc<Semaphore>>,
        ) -> Self {
            let inner = SqliteReadModels::open(dir.join("rm.db")).unwrap();
            inner.save(vec![plan_at(1)], 2).await.unwrap();
            Self {
                inner,
                permits: Arc::clone(permits),
                entered: Arc::clone(entered),
                reads: reads.map(Arc::clone),
            }
        }
    }

    #[async_trait]
    impl ReadModelStore for HeldSaves {
        async fn plan(
            &self,
            tenant: &TenantId,
            plan_id: &str,
        ) -> Result<Option<PlanView>, ReadModelError> {
            let read = self.inner.plan(tenant, plan_id).await;
            if let Some(reads) = &self.reads {
                self.entered.notify_one();
                reads.acquire().await.expect("semaphore open").forget();
            }
            read
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

    /// Records the name of every span opened while it is the subscriber.
    struct SpanNames(Arc<Mutex<Vec<&'static str>>>);

    impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SpanNames {
        fn on_new_span(
            &self,
            attrs: &tracing::span::Attributes<'_>,
            _: &tracing::span::Id,
            _: tracing_subscriber::layer::Context<'_, S>,
        ) {
            self.0.lock().unwrap().push(attrs.metadata().name());
        }
    }

    #[tokio::test]
    async fn only_a_readers_read_of_the_store_is_a_span() {
        use tracing_subscriber::layer::SubscriberExt as _;
        let names = Arc::new(Mutex::new(Vec::new()));
        let _subscriber = tracing::subscriber::set_default(
            tracing_subscriber::registry().with(SpanNames(Arc::clone(&names))),
        );
        let reads = || {
            let names = names.lock().unwrap();
            names.iter().filter(|n| **n == "read_models.plan").count()
        };
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteReadModels::open(dir.path().join("rm.db")).unwrap();
        store.save(vec![plan_at(1)], 2).await.unwrap();
        let cache = CachedReadModels::new(Arc::new(store), 16);
        // The projector's own read of the store: not a reader's.
        assert!(cache.plan(&tenant(), PLAN).await.unwrap().is_some());
        assert_eq!(reads(), 0);
        cache.forget_all();
        let read = cache.plan_for_reader(&tenant(), PLAN).await.unwrap();
        assert_eq!(read.map(|v| v.version), Some(1));
        assert_eq!(reads(), 1, "a reader's miss reads the store in a span");
        assert!(
            cache
                .plan_for_reader(&tenant(), PLAN)
                .await
                .unwrap()
                .is_some()
        );
        assert_eq!(reads(), 1, "a hit is answered from memory, without one");
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
        let permits = Arc::new(Semaphore::new(0));
        let entered = Arc::new(Notify::new());
        let held = HeldSaves::at_version_1(dir.path(), &permits, &entered, None).await;
        let cache = Arc::new(CachedReadModels::new(Arc::new(held), 16));
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

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_read_that_straddles_a_save_is_not_cached() {
        let dir = tempfile::tempdir().unwrap();
        let reads = Arc::new(Semaphore::new(0));
        let held = Arc::new(Notify::new());
        let store = HeldSaves::at_version_1(
            dir.path(),
            &Arc::new(Semaphore::new(1)),
            &held,
            Some(&reads),
        )
        .await;
        let cache = Arc::new(CachedReadModels::new(Arc::new(store), 16));
        // The read finds version 1 and is held before it returns.
        let reading = tokio::spawn({
            let cache = Arc::clone(&cache);
            async move { cache.plan(&tenant(), PLAN).await }
        });
        held.notified().await;
        cache.save(vec![plan_at(2)], 3).await.unwrap();
        reads.add_permits(2);

        let read = reading.await.unwrap().unwrap().unwrap();
        assert_eq!(read.version, 1, "what the store held when read");
        assert_eq!(cache.cached(&key()), None, "not cached over the save");
        assert_eq!(
            cache.plan(&tenant(), PLAN).await.unwrap().unwrap().version,
            2
        );
    }
}
