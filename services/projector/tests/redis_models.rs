//! Read models in a real Redis: resume without re-applying, and a full
//! rebuild equal to the incremental result. Needs Redis on 127.0.0.1:6379
//! (`./scripts/services-up` starts it) or `TRELLIS_TEST_REDIS_URL`.

use std::sync::Arc;
use std::time::Duration;

use trellis_kernel::{
    Actor, EventMetadata, EventStore, ExpectedRevision, NewEvent, StreamName, TenantId,
};
use trellis_plans_domain::{GoalAdded, GoalId, GoalTerm, PlanCreated, PlanEvent, PlanId};
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

fn envelope(event: &PlanEvent) -> NewEvent {
    NewEvent {
        event_id: Uuid::new_v4(),
        event_type: event.event_type().into(),
        schema_version: PlanEvent::SCHEMA_VERSION,
        payload: event.encode(),
        metadata: EventMetadata {
            actor: Actor {
                subject: "clin-1".into(),
                role: "clinician".into(),
            },
            correlation_id: Uuid::new_v4(),
            causation_id: Uuid::new_v4(),
            request_id: "r".into(),
            trace_id: String::new(),
            span_id: String::new(),
            reason: None,
        },
    }
}

async fn write_plan(
    store: &SqliteEventStore,
    tenant: &TenantId,
    clinician: &str,
    goals: u64,
) -> PlanId {
    let plan_id = PlanId(Uuid::new_v4());
    let stream = StreamName::new(tenant.clone(), "plan", &plan_id.to_string()).unwrap();
    let created = PlanEvent::PlanCreated(PlanCreated {
        plan_id,
        client_id: "client-1".into(),
        primary_clinician_id: clinician.into(),
        clinic_id: "clinic-a".into(),
        title: "t".into(),
        created_on: "2026-11-29".parse().unwrap(),
    });
    store
        .append(
            &stream,
            ExpectedRevision::NoStream,
            vec![envelope(&created)],
        )
        .await
        .unwrap();
    for n in 0..goals {
        let goal = PlanEvent::GoalAdded(GoalAdded {
            goal_id: GoalId(Uuid::new_v4()),
            description: format!("Goal {n}"),
            term: GoalTerm::ShortTerm,
        });
        store
            .append(&stream, ExpectedRevision::Exact(n), vec![envelope(&goal)])
            .await
            .unwrap();
    }
    plan_id
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
    let dir = tempfile::tempdir().unwrap();
    let events = SqliteEventStore::open(dir.path().join("events.db")).unwrap();
    let tenant = TenantId::parse(&format!(
        "redis-{}",
        &Uuid::new_v4().simple().to_string()[..10]
    ))
    .unwrap();
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
        primary_clinician_id: Some("clin-1".into()),
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
}
