//! Read models in a real Redis: resume without re-applying, and a full
//! rebuild equal to the incremental result. Needs Redis on 127.0.0.1:6379
//! (`./scripts/services-up` starts it) or `TRELLIS_TEST_REDIS_URL`.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::write_plan;
use trellis_kernel::{EventStore, TenantId};
use trellis_projector::compliance::PlanSummary;
use trellis_projector::{PlanFilter, Projector, ReadModelStore, RedisReadModels};
use trellis_store_sqlite::SqliteEventStore;
use uuid::Uuid;

fn redis_url() -> String {
    std::env::var("TRELLIS_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

async fn models(namespace: &str) -> RedisReadModels {
    RedisReadModels::connect(&redis_url(), namespace)
        .await
        .expect("Redis reachable (./scripts/services-up starts it)")
}

/// A fresh event store and a tenant of its own (the directory keeps it).
fn store_and_tenant() -> (tempfile::TempDir, SqliteEventStore, TenantId) {
    let dir = tempfile::tempdir().unwrap();
    let events = SqliteEventStore::open(dir.path().join("events.db")).unwrap();
    let tenant = TenantId::parse(&format!(
        "redis-{}",
        &Uuid::new_v4().simple().to_string()[..10]
    ))
    .unwrap();
    (dir, events, tenant)
}

async fn project_until(events: &SqliteEventStore, models: &RedisReadModels, position: u64) {
    let projector = Projector::new(Arc::new(events.clone()), Arc::new(models.clone()));
    let mut at = projector.position();
    let run = tokio::spawn(async move { projector.run().await });
    tokio::time::timeout(Duration::from_secs(10), at.wait_for(|p| *p >= position))
        .await
        .expect("projection caught up")
        .unwrap();
    run.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_models_resume_and_a_rebuild_matches_the_incremental_path() {
    let (_dir, events, tenant) = store_and_tenant();
    let run = Uuid::new_v4().simple().to_string();
    let incremental = models(&format!("inc{run}")).await;

    let a = write_plan(&events, &tenant, "clin-1", 3).await;
    project_until(&events, &incremental, 4).await;
    assert_eq!(incremental.checkpoint().await.unwrap(), Some(4));

    // More events while no projector runs; the next one resumes at 4.
    let b = write_plan(&events, &tenant, "clin-2", 2).await;
    let c = write_plan(&events, &tenant, "clin-1", 0).await;
    project_until(&events, &incremental, 8).await;
    let first = incremental
        .plan(&tenant, &a.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(first.goals.len(), 3, "nothing applied twice");
    assert_eq!(first.version, 3);

    // Saving an older version again changes nothing (idempotent writes).
    let mut stale = first.clone();
    stale.version = 1;
    stale.goals.clear();
    incremental.save(vec![stale], 8).await.unwrap();
    assert_eq!(
        incremental
            .plan(&tenant, &a.to_string())
            .await
            .unwrap()
            .unwrap(),
        first
    );

    // A rebuild from the store into a fresh namespace equals it.
    let rebuilt = models(&format!("rebuild{run}")).await;
    project_until(&events, &rebuilt, 8).await;
    for plan in [a, b, c] {
        assert_eq!(
            rebuilt.plan(&tenant, &plan.to_string()).await.unwrap(),
            incremental.plan(&tenant, &plan.to_string()).await.unwrap()
        );
    }
    let everything = PlanFilter::default();
    let listed = |m: RedisReadModels, filter: PlanFilter| {
        let tenant = tenant.clone();
        async move { m.plans(&tenant, &filter, None, 10).await.unwrap() }
    };
    assert_eq!(
        listed(rebuilt.clone(), everything.clone()).await,
        listed(incremental.clone(), everything).await
    );

    // Listings page in id order and filter by clinician.
    let by_clinician = PlanFilter {
        clinician_id: Some("clin-1".into()),
        ..PlanFilter::default()
    };
    let mine = listed(incremental.clone(), by_clinician).await;
    assert_eq!(mine.plans.len(), 2);
    let page = incremental
        .plans(&tenant, &PlanFilter::default(), None, 2)
        .await
        .unwrap();
    assert!(page.has_next_page);
    let rest = incremental
        .plans(
            &tenant,
            &PlanFilter::default(),
            Some(&page.plans[1].plan_id),
            2,
        )
        .await
        .unwrap();
    assert_eq!(rest.plans.len(), 1);
    assert!(!rest.has_next_page);
    assert!(page.plans[0].plan_id < page.plans[1].plan_id);

    // A clinician added to a care team finds the plan; removed, no longer
    // (the index keeps the id, the document check drops it).
    let by_member = PlanFilter {
        clinician_id: Some("clin-7".into()),
        ..PlanFilter::default()
    };
    let mut joined = page.plans[0].clone();
    joined.care_team = vec!["clin-7".into()];
    joined.version += 10;
    incremental.save(vec![joined.clone()], 9).await.unwrap();
    assert_eq!(
        listed(incremental.clone(), by_member.clone())
            .await
            .plans
            .len(),
        1
    );
    let mut left = joined;
    left.care_team.clear();
    left.version += 1;
    incremental.save(vec![left], 10).await.unwrap();
    assert!(
        listed(incremental.clone(), by_member)
            .await
            .plans
            .is_empty()
    );

    // Summaries answer the same filters as listings, from their own keys.
    let by_clinician = PlanFilter {
        clinician_id: Some("clin-1".into()),
        ..PlanFilter::default()
    };
    let summaries = incremental.summaries(&tenant, &by_clinician).await.unwrap();
    let views = listed(incremental.clone(), by_clinician).await;
    assert_eq!(
        summaries,
        views.plans.iter().map(PlanSummary::of).collect::<Vec<_>>()
    );
    assert_eq!(summaries.len(), 2);
}

/// A namespace without a generation marker (a first start, or a Redis that
/// came back empty before any projector noticed) is marked as rebuilding
/// by the projector that takes it, until it has caught up: gateways never
/// read a plan not yet rewritten as missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_projector_taking_an_unmarked_namespace_marks_a_rebuild_until_caught_up() {
    let (_dir, events, tenant) = store_and_tenant();
    let plan = write_plan(&events, &tenant, "clin-1", 2).await.to_string();
    let fresh = models(&format!("unmarked{}", Uuid::new_v4().simple())).await;
    assert!(
        fresh.rebuilding().await.unwrap(),
        "no marker: may be rebuilding"
    );
    assert!(matches!(
        fresh.plan_for_reader(&tenant, &plan).await,
        Err(trellis_projector::ReadModelError::Unavailable(_))
    ));

    fresh.prepare().await.unwrap();
    assert!(
        fresh.rebuilding().await.unwrap(),
        "the marker it made comes with a rebuild"
    );
    let projector = Projector::new(Arc::new(events.clone()), Arc::new(fresh.clone()));
    let run = tokio::spawn(async move { projector.run().await });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while fresh.rebuilding().await.unwrap() {
        assert!(std::time::Instant::now() < deadline, "never caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    run.abort();
    // Every plan was back before the mark went, and readers get it.
    assert_eq!(fresh.checkpoint().await.unwrap(), Some(3));
    let read = fresh
        .plan_for_reader(&tenant, &plan)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.goals.len(), 2);
}

/// Redis came back empty, and a projector that had not noticed saved one
/// more batch into it (its checkpoint among it) before it died. The next
/// projector must not resume from that checkpoint: every plan written
/// before it would stay missing once the rebuild mark went.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_left_in_an_unmarked_namespace_is_not_resumed_from() {
    let (_dir, events, tenant) = store_and_tenant();
    let early = write_plan(&events, &tenant, "clin-1", 2).await.to_string();
    let late = write_plan(&events, &tenant, "clin-1", 1).await.to_string();
    let emptied = models(&format!("emptied{}", Uuid::new_v4().simple())).await;
    // Only the late plan's batch and its checkpoint reached the new Redis.
    let late_events = events.read_all(None, 100).await.unwrap();
    let mut view = None;
    for event in late_events.iter().filter(|e| e.stream.id() == late) {
        trellis_projector::apply_event(&mut view, event).unwrap();
    }
    let last = late_events.last().unwrap().global_position;
    emptied.save(vec![view.unwrap()], last).await.unwrap();
    assert_eq!(emptied.checkpoint().await.unwrap(), Some(last));

    emptied.prepare().await.unwrap();
    assert_eq!(
        emptied.checkpoint().await.unwrap(),
        None,
        "the checkpoint of an unmarked namespace is forgotten"
    );
    let projector = Projector::new(Arc::new(events.clone()), Arc::new(emptied.clone()));
    let run = tokio::spawn(async move { projector.run().await });
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while emptied.rebuilding().await.unwrap() {
        assert!(std::time::Instant::now() < deadline, "never caught up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    run.abort();
    let read = emptied.plan_for_reader(&tenant, &early).await.unwrap();
    assert_eq!(
        read.map(|v| v.goals.len()),
        Some(2),
        "the early plan is back"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_erased_plan_leaves_the_index_named_by_its_client() {
    let (_dir, events, tenant) = store_and_tenant();
    let namespace = format!("erased{}", Uuid::new_v4().simple());
    let read_models = models(&namespace).await;
    let plan = write_plan(&events, &tenant, "clin-1", 1).await.to_string();
    let mut view = None;
    for event in events.read_all(None, 100).await.unwrap() {
        trellis_projector::apply_event(&mut view, &event).unwrap();
    }
    let view = view.unwrap();
    read_models.save(vec![view.clone()], 2).await.unwrap();
    let client_index = format!("{tenant}:{namespace}:plans:client:client-1");
    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let exists = |redis: &mut redis::aio::MultiplexedConnection| {
        let mut redis = redis.clone();
        let key = client_index.clone();
        async move {
            redis::AsyncCommands::exists::<_, bool>(&mut redis, key)
                .await
                .unwrap()
        }
    };
    assert!(
        exists(&mut redis).await,
        "the client's index holds the plan"
    );

    // The projector writes the erased plan: no client id, its shape only.
    let erased = trellis_projector::PlanView {
        client_id: String::new(),
        version: view.version + 1,
        erasure: Some(trellis_projector::ErasureView {
            erased_on: chrono::Utc::now().date_naive(),
            basis: "override".into(),
            reason: Some("court order".into()),
            goals: 1,
            objectives: 0,
            interventions: 0,
            diagnoses: 0,
            reviews: 0,
            measures: 0,
            signatures: 0,
            retention_years: None,
        }),
        ..view
    };
    read_models.save(vec![erased], 3).await.unwrap();
    assert!(
        !exists(&mut redis).await,
        "no key names the erased client any more"
    );
    let listed = read_models
        .plans(&tenant, &PlanFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(listed.plans.len(), 1);
    assert_eq!(listed.plans[0].plan_id, plan);
    assert!(listed.plans[0].erasure.is_some());
}
