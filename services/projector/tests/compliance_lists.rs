//! `reviews_due` and `unsigned_plans` answered from each store's indexes
//! equal the reference (every plan's summary, filtered and ordered in
//! memory) for every filter shape, limit and horizon, and follow plans as
//! they change: a review that moves, a plan that is signed or closes, a
//! care team that changes. Read models an earlier release wrote (no index
//! columns in SQLite, no index keys in Redis) are indexed on open or by
//! `prepare`. The Redis half needs Redis on 127.0.0.1:6379
//! (`./scripts/services-up` starts it) or `TRELLIS_TEST_REDIS_URL`.

use chrono::{Days, NaiveDate};
use redis::AsyncCommands;
use serde_json::json;
use trellis_kernel::TenantId;
use trellis_plans_domain::{ReviewOrigin, SignerRole};
use trellis_projector::compliance::{IndexedList, PlanSummary};
use trellis_projector::{
    LifecycleView, PlanFilter, PlanView, ReadModelStore, RedisReadModels, ReviewView,
    SignatureView, SqliteReadModels,
};
use uuid::Uuid;

fn today() -> NaiveDate {
    "2026-12-01".parse().unwrap()
}

fn review(id: &str, due_on: NaiveDate, held: bool) -> ReviewView {
    ReviewView {
        review_id: id.into(),
        due_on,
        held_on: held.then_some(due_on),
        participants: vec![],
        summary: None,
        decision: None,
        entered_in_error: None,
        origin: ReviewOrigin::Rule,
    }
}

fn signed(role: SignerRole) -> SignatureView {
    SignatureView {
        version: 1,
        role,
        signer_id: "someone".into(),
        signed_on: today(),
        recorded_at: None,
        revision: None,
    }
}

/// Plan `n` of 40: two clinics, three clinicians (clin-9 on every fifth
/// care team), reviews from 20 days overdue to 19 days ahead (none on
/// every seventh, a held one besides on every sixth), some closed or in
/// draft, signed by nobody, the clinician, or both.
fn plan(tenant: &TenantId, n: u64) -> PlanView {
    let mut plan: PlanView = serde_json::from_value(json!({
        "tenant": tenant.as_str(), "plan_id": format!("plan-{n:03}"),
        "client_id": format!("client-{}", n % 17), "primary_clinician_id": format!("clin-{}", n % 3),
        "clinic_id": if n.is_multiple_of(2) { "clinic-a" } else { "clinic-b" },
        "title": "t", "created_on": "2026-10-01", "version": 1,
        "updated_at": "2026-10-01T00:00:00Z", "goals": [], "reviews": []
    }))
    .unwrap();
    if n.is_multiple_of(5) {
        plan.care_team = vec!["clin-9".into()];
    }
    plan.status = match n {
        _ if n % 9 == 4 => LifecycleView::Completed,
        _ if n % 10 == 3 => LifecycleView::Draft,
        _ => LifecycleView::Active,
    };
    // Several plans share each due date: ties go in plan-id order.
    let due = today() - Days::new(20) + Days::new(n / 2 * 2 % 40);
    if !n.is_multiple_of(7) {
        plan.reviews.push(review("open", due, false));
    }
    if n.is_multiple_of(6) {
        plan.reviews
            .push(review("held", today() - Days::new(60), true));
    }
    plan.signatures = match n % 3 {
        0 => vec![],
        1 => vec![signed(SignerRole::Clinician)],
        _ => vec![signed(SignerRole::Clinician), signed(SignerRole::Client)],
    };
    plan
}

fn filters() -> Vec<PlanFilter> {
    let clinics = |c: &[&str]| PlanFilter {
        clinic_ids: Some(c.iter().map(|&c| c.to_owned()).collect()),
        ..PlanFilter::default()
    };
    let clinician = |c: &str| PlanFilter {
        clinician_id: Some(c.into()),
        ..PlanFilter::default()
    };
    vec![
        PlanFilter::default(),
        clinics(&["clinic-a"]),
        clinics(&["clinic-b"]),
        clinics(&["clinic-b", "clinic-a", "clinic-b"]),
        clinics(&[]),
        clinics(&["elsewhere"]),
        clinician("clin-1"),
        clinician("clin-9"),
        PlanFilter {
            client_id: Some("client-4".into()),
            ..PlanFilter::default()
        },
        PlanFilter {
            clinician_id: Some("clin-2".into()),
            ..clinics(&["clinic-a"])
        },
    ]
}

/// Every list answer equals the reference over `plans`.
async fn lists_match(store: &dyn ReadModelStore, tenant: &TenantId, plans: &[PlanView]) {
    for filter in filters() {
        let in_scope = || {
            plans
                .iter()
                .filter(|p| filter.admits_plan(p))
                .map(PlanSummary::of)
        };
        for limit in [0, 1, 3, 100] {
            for due_by in [
                today() - Days::new(30),
                today() - Days::new(10),
                today(),
                today() + Days::new(14),
            ] {
                let list = IndexedList::ReviewsDue(due_by);
                assert_eq!(
                    store
                        .reviews_due(tenant, &filter, due_by, limit)
                        .await
                        .unwrap(),
                    list.pick(in_scope(), limit),
                    "reviews due by {due_by}, {filter:?}, first {limit}"
                );
            }
            assert_eq!(
                store.unsigned_plans(tenant, &filter, limit).await.unwrap(),
                IndexedList::Unsigned.pick(in_scope(), limit),
                "unsigned, {filter:?}, first {limit}"
            );
        }
    }
}

fn ids(plans: &[PlanSummary]) -> Vec<&str> {
    plans.iter().map(|p| p.plan_id.as_str()).collect()
}

/// The scenario both stores must pass.
async fn lists_follow_their_plans(store: &dyn ReadModelStore, tenant: &TenantId) {
    let mut plans: Vec<PlanView> = (0..40).map(|n| plan(tenant, n)).collect();
    // Another tenant's plans never show.
    let other = TenantId::parse(&format!("{}x", tenant.as_str())).unwrap();
    store
        .save((0..5).map(|n| plan(&other, n)).collect(), 1)
        .await
        .unwrap();
    store.save(plans.clone(), 2).await.unwrap();
    lists_match(store, tenant, &plans).await;
    let everything = PlanFilter::default();
    let due = |by: NaiveDate, limit| store.reviews_due(tenant, &everything, by, limit);
    let overdue = due(today(), 100).await.unwrap();
    assert_eq!(
        ids(&overdue)[..4],
        ["plan-001", "plan-002", "plan-003", "plan-005"]
    );

    // A review moves out: the plan leaves the soonest; it comes last.
    let mut moved = plans[1].clone();
    moved.reviews[0].due_on = today() + Days::new(300);
    moved.version = 2;
    // A plan is signed: it leaves the unsigned list. Another closes: it
    // leaves both. A care team changes hands.
    let mut signed_now = plans[3].clone();
    signed_now.signatures = vec![signed(SignerRole::Clinician), signed(SignerRole::Client)];
    signed_now.version = 2;
    let mut closed = plans[2].clone();
    closed.status = LifecycleView::Discharged;
    closed.version = 2;
    let mut handed_over = plans[10].clone();
    handed_over.care_team = vec!["clin-7".into()];
    handed_over.version = 2;
    for changed in [&moved, &signed_now, &closed, &handed_over] {
        let n: usize = changed.plan_id[5..].parse().unwrap();
        plans[n] = changed.clone();
    }
    store
        .save(vec![moved, signed_now.clone(), closed, handed_over], 3)
        .await
        .unwrap();
    lists_match(store, tenant, &plans).await;
    let soonest = due(today(), 100).await.unwrap();
    assert_eq!(ids(&soonest)[..3], ["plan-003", "plan-005", "plan-006"]);
    let far = due(today() + Days::new(366), 100).await.unwrap();
    assert_eq!(far.last().unwrap().plan_id, "plan-001");
    let unsigned = store
        .unsigned_plans(tenant, &everything, 100)
        .await
        .unwrap();
    assert!(!ids(&unsigned).contains(&"plan-003"));
    assert!(!ids(&unsigned).contains(&"plan-002"));
    assert!(ids(&unsigned).contains(&"plan-000"));

    // An older version saved again changes nothing.
    let mut stale = signed_now;
    stale.signatures.pop();
    stale.version = 1;
    store.save(vec![stale], 4).await.unwrap();
    lists_match(store, tenant, &plans).await;
}

#[tokio::test]
async fn sqlite_lists_answer_from_their_indexes_and_follow_their_plans() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteReadModels::open(dir.path().join("rm.db")).unwrap();
    lists_follow_their_plans(&store, &TenantId::parse("lists").unwrap()).await;
}

#[tokio::test]
async fn sqlite_read_models_of_an_earlier_release_are_indexed_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rm.db");
    let tenant = TenantId::parse("older").unwrap();
    let plans: Vec<PlanView> = (0..40).map(|n| plan(&tenant, n)).collect();
    let store = SqliteReadModels::open(&path).unwrap();
    store.save(plans.clone(), 1).await.unwrap();
    drop(store);
    // The table as the release before the indexes left it: a summary
    // column (missing on some rows), no index columns, no index table.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE old AS SELECT tenant, plan_id, client_id, primary_clinician_id,
             clinic_id, version, document, summary FROM plan_views;
         DROP TABLE plan_views;
         ALTER TABLE old RENAME TO plan_views;
         UPDATE plan_views SET summary = NULL WHERE plan_id > 'plan-030';
         DROP TABLE plan_clinicians;
         PRAGMA user_version = 0;",
    )
    .unwrap();
    drop(conn);
    let migrated = SqliteReadModels::open(&path).unwrap();
    lists_match(&migrated, &tenant, &plans).await;
    drop(migrated);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let unindexed: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM plan_views WHERE summary IS NULL",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        unindexed, 0,
        "summaries are written back as they are computed"
    );
    // Index values from another version of the code are recomputed.
    conn.execute_batch(
        "UPDATE plan_views SET review_due = NULL, unsigned = 0; PRAGMA user_version = 7;",
    )
    .unwrap();
    drop(conn);
    let reopened = SqliteReadModels::open(&path).unwrap();
    lists_match(&reopened, &tenant, &plans).await;
}

fn redis_url() -> String {
    std::env::var("TRELLIS_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

async fn redis_models(namespace: &str) -> RedisReadModels {
    RedisReadModels::connect(&redis_url(), namespace)
        .await
        .expect("Redis reachable (./scripts/services-up starts it)")
}

fn fresh() -> (TenantId, String) {
    let run = &Uuid::new_v4().simple().to_string()[..10];
    (
        TenantId::parse(&format!("lists-{run}")).unwrap(),
        format!("lists{run}"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_lists_answer_from_their_indexes_and_follow_their_plans() {
    let (tenant, namespace) = fresh();
    let store = redis_models(&namespace).await;
    // A namespace nothing was saved in is indexed at once.
    store.prepare().await.unwrap();
    lists_follow_their_plans(&store, &tenant).await;
    // The indexes hold what the lists say, in their order.
    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let key = format!("{tenant}:{namespace}:unsigned:clinic:clinic-b");
    let unsigned: Vec<String> = redis.zrange(&key, 0, -1).await.unwrap();
    let filter = PlanFilter {
        clinic_ids: Some(vec!["clinic-b".into()]),
        ..PlanFilter::default()
    };
    let listed = store.unsigned_plans(&tenant, &filter, 500).await.unwrap();
    assert_eq!(unsigned, ids(&listed));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_read_models_of_an_earlier_release_are_indexed_by_prepare() {
    let (tenant, namespace) = fresh();
    let plans: Vec<PlanView> = (0..40).map(|n| plan(&tenant, n)).collect();
    redis_models(&namespace)
        .await
        .save(plans.clone(), 1)
        .await
        .unwrap();
    // As the release before the indexes left it: no index keys, no marker.
    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut stale: Vec<String> = Vec::new();
    for pattern in ["reviews-due*", "unsigned*"] {
        let keys: Vec<String> = redis
            .keys(format!("{tenant}:{namespace}:{pattern}"))
            .await
            .unwrap();
        stale.extend(keys);
    }
    assert!(stale.len() >= 4, "{stale:?}");
    stale.push(format!("trellis:indexes:{namespace}"));
    let _: () = redis.del(&stale).await.unwrap();
    // Until indexed, the lists still answer (from summaries).
    let store = redis_models(&namespace).await;
    lists_match(&store, &tenant, &plans).await;
    store.prepare().await.unwrap();
    let due: Vec<String> = redis
        .zrange(format!("{tenant}:{namespace}:reviews-due"), 0, -1)
        .await
        .unwrap();
    let everything = PlanFilter::default();
    let far = today() + Days::new(366);
    let listed = store
        .reviews_due(&tenant, &everything, far, 500)
        .await
        .unwrap();
    assert_eq!(due, ids(&listed));
    lists_match(&store, &tenant, &plans).await;
    // A second projector start finds them complete.
    redis_models(&namespace).await.prepare().await.unwrap();
}
