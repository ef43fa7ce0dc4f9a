//! The projector folds ahead of its saves: a reader of the same process
//! sees a plan as folded while its save is still running, the position
//! (what listings and readiness go by) moves only once it is saved, and
//! the folded copy is let go after.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use support::write_plan;
use tokio::sync::Semaphore;
use trellis_kernel::{EventStore, ExpectedRevision, StreamName, TenantId};
use trellis_plans_domain::{PlanCreated, PlanEvent, PlanId};
use trellis_projector::{
    CachedReadModels, PlanFilter, PlanPage, PlanView, Projector, ReadModelError, ReadModelStore,
    SqliteReadModels, UnsavedViews,
};
use trellis_store_sqlite::SqliteEventStore;

/// Read models whose saves wait for a permit each, so a test decides when
/// a save completes, and which note the thread each save ran on.
struct HeldSaves {
    inner: SqliteReadModels,
    permits: Arc<Semaphore>,
    saved_on: Arc<Mutex<Vec<String>>>,
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
        let thread = std::thread::current()
            .name()
            .unwrap_or("unnamed")
            .to_owned();
        self.saved_on.lock().unwrap().push(thread);
        self.permits
            .acquire()
            .await
            .expect("semaphore open")
            .forget();
        self.inner.save(views, checkpoint).await
    }

    async fn checkpoint(&self) -> Result<Option<u64>, ReadModelError> {
        self.inner.checkpoint().await
    }

    async fn ping(&self) -> Result<(), ReadModelError> {
        self.inner.ping().await
    }
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_folded_plan_reads_before_its_save_and_the_position_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let events = SqliteEventStore::open(dir.path().join("events.db")).unwrap();
    let saved = SqliteReadModels::open(dir.path().join("rm.db")).unwrap();
    let permits = Arc::new(Semaphore::new(0));
    let unsaved = Arc::new(UnsavedViews::default());
    let readers: Arc<dyn ReadModelStore> = Arc::new(
        CachedReadModels::new(
            Arc::new(HeldSaves {
                inner: saved.clone(),
                permits: Arc::clone(&permits),
                saved_on: Arc::default(),
            }),
            16,
        )
        .showing_unsaved(Arc::clone(&unsaved)),
    );
    let projector = Projector::new(Arc::new(events.clone()), Arc::clone(&readers))
        .folding_into(Arc::clone(&unsaved));
    let mut position = projector.position();
    let run = tokio::spawn(async move { projector.run().await });

    let tenant = TenantId::parse("behind").unwrap();
    let plan = write_plan(&events, &tenant, "clin-1", 2).await.to_string();
    eventually("the folded plan reads before any save", || async {
        readers
            .plan(&tenant, &plan)
            .await
            .unwrap()
            .is_some_and(|p| p.version == 2 && p.goals.len() == 2)
    })
    .await;
    assert_eq!(saved.plan(&tenant, &plan).await.unwrap(), None, "not saved");
    assert_eq!(*position.borrow(), 0, "the position waits for the save");

    permits.add_permits(64);
    tokio::time::timeout(Duration::from_secs(10), position.wait_for(|p| *p >= 3))
        .await
        .expect("saved")
        .unwrap();
    let stored = saved.plan(&tenant, &plan).await.unwrap().expect("saved");
    assert_eq!(stored.version, 2);
    assert_eq!(
        unsaved.plan(tenant.as_str(), &plan),
        None,
        "a saved plan is no longer held"
    );
    assert_eq!(readers.plan(&tenant, &plan).await.unwrap(), Some(stored));
    run.abort();
}

/// Events of other streams (digests, settings) move the position too, so a
/// feed whose last events are no plan's is saved up to its end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_position_reaches_a_last_event_that_is_no_plan_s() {
    let dir = tempfile::tempdir().unwrap();
    let events = SqliteEventStore::open(dir.path().join("events.db")).unwrap();
    let saved = SqliteReadModels::open(dir.path().join("rm.db")).unwrap();
    let projector = Projector::new(Arc::new(events.clone()), Arc::new(saved.clone()));
    let mut position = projector.position();
    let run = tokio::spawn(async move { projector.run().await });

    let tenant = TenantId::parse("settings-last").unwrap();
    let plan = write_plan(&events, &tenant, "clin-1", 1).await.to_string();
    tokio::time::timeout(Duration::from_secs(10), position.wait_for(|p| *p >= 2))
        .await
        .expect("the plan saved")
        .unwrap();
    // Alone in its page: nothing of a plan changes.
    let other = StreamName::new(tenant.clone(), "digest", "tenant").unwrap();
    let appended = events
        .append(
            &other,
            ExpectedRevision::NoStream,
            vec![support::envelope(&PlanEvent::PlanCreated(PlanCreated {
                plan_id: PlanId(uuid::Uuid::new_v4()),
                client_id: "client-1".into(),
                primary_clinician_id: "clin-1".into(),
                clinic_id: "clinic-a".into(),
                title: "not a plan stream".into(),
                created_on: "2026-12-05".parse().unwrap(),
                template: None,
                payer: String::new(),
            }))],
        )
        .await
        .unwrap();
    let last = appended.last_position;
    tokio::time::timeout(Duration::from_secs(10), position.wait_for(|p| *p >= last))
        .await
        .expect("the position reaches the last event")
        .unwrap();
    assert_eq!(saved.checkpoint().await.unwrap(), Some(last));
    assert_eq!(
        saved.plan(&tenant, &plan).await.unwrap().unwrap().version,
        1
    );
    run.abort();
}

/// A process can give the saves a runtime of their own (the embedded
/// server's background runtime, whose threads yield to the requests'):
/// every save then runs there, none on the runtime that folds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saves_run_on_the_runtime_they_are_given() {
    let dir = tempfile::tempdir().unwrap();
    let events = SqliteEventStore::open(dir.path().join("events.db")).unwrap();
    let saved_on = Arc::new(Mutex::new(Vec::new()));
    let read_models: Arc<dyn ReadModelStore> = Arc::new(HeldSaves {
        inner: SqliteReadModels::open(dir.path().join("rm.db")).unwrap(),
        permits: Arc::new(Semaphore::new(1_000)),
        saved_on: Arc::clone(&saved_on),
    });
    let elsewhere = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("saves-elsewhere")
        .enable_all()
        .build()
        .unwrap();
    let projector = Projector::new(Arc::new(events.clone()), Arc::clone(&read_models))
        .saving_on(elsewhere.handle().clone());
    let mut position = projector.position();
    let run = tokio::spawn(async move { projector.run().await });

    let tenant = TenantId::parse("elsewhere").unwrap();
    let plan = write_plan(&events, &tenant, "clin-1", 3).await.to_string();
    tokio::time::timeout(Duration::from_secs(10), position.wait_for(|p| *p >= 4))
        .await
        .expect("saved")
        .unwrap();
    let stored = read_models
        .plan(&tenant, &plan)
        .await
        .unwrap()
        .expect("saved");
    assert_eq!(stored.goals.len(), 3);
    let threads = saved_on.lock().unwrap().clone();
    assert!(!threads.is_empty());
    assert!(
        threads.iter().all(|t| t == "saves-elsewhere"),
        "saves ran on {threads:?}"
    );
    run.abort();
    elsewhere.shutdown_background();
}
