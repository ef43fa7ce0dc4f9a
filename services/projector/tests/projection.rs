//! The projector against a real store: resume from a checkpoint, and a
//! rebuild from scratch equals the incremental result.

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::write_plan;
use trellis_kernel::TenantId;
use trellis_projector::compliance::PlanSummary;
use trellis_projector::{PlanFilter, Projector, ReadModelStore, SqliteReadModels};
use trellis_store_sqlite::SqliteEventStore;

/// Runs a projector until its read models include `position`.
async fn project_until(events: &SqliteEventStore, read_models: &SqliteReadModels, position: u64) {
    let projector = Projector::new(Arc::new(events.clone()), Arc::new(read_models.clone()));
    let mut at = projector.position();
    let run = tokio::spawn(async move { projector.run().await });
    tokio::time::timeout(Duration::from_secs(10), at.wait_for(|p| *p >= position))
        .await
        .expect("projection caught up")
        .unwrap();
    run.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_projector_resumes_and_a_rebuild_matches() {
    let dir = tempfile::tempdir().unwrap();
    let events = SqliteEventStore::open(dir.path().join("events.db")).unwrap();
    let tenant = TenantId::parse("proj").unwrap();
    let incremental = SqliteReadModels::open(dir.path().join("incremental.db")).unwrap();

    let first = write_plan(&events, &tenant, "clin-1", 3).await;
    project_until(&events, &incremental, 4).await;
    assert_eq!(incremental.checkpoint().await.unwrap(), Some(4));

    // More events while no projector runs; the next one resumes at 4.
    let second = write_plan(&events, &tenant, "clin-1", 2).await;
    project_until(&events, &incremental, 7).await;
    assert_eq!(incremental.checkpoint().await.unwrap(), Some(7));
    let view = incremental
        .plan(&tenant, &first.to_string())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(view.goals.len(), 3, "nothing applied twice");
    assert_eq!(view.version, 3);

    // A rebuild from an empty read-model store gives the same documents.
    let rebuilt = SqliteReadModels::open(dir.path().join("rebuilt.db")).unwrap();
    project_until(&events, &rebuilt, 7).await;
    for plan in [first, second] {
        assert_eq!(
            rebuilt.plan(&tenant, &plan.to_string()).await.unwrap(),
            incremental.plan(&tenant, &plan.to_string()).await.unwrap()
        );
    }
    let listed = rebuilt
        .plans(&tenant, &PlanFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(listed.plans.len(), 2);
    assert!(!listed.has_next_page);
}

#[tokio::test]
async fn listings_page_and_filter_within_a_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let events = SqliteEventStore::open(dir.path().join("events.db")).unwrap();
    let read_models = SqliteReadModels::open(dir.path().join("rm.db")).unwrap();
    let tenant = TenantId::parse("pages").unwrap();
    let other = TenantId::parse("elsewhere").unwrap();
    for _ in 0..5 {
        write_plan(&events, &tenant, "clin-1", 0).await;
    }
    write_plan(&events, &other, "clin-1", 0).await;
    project_until(&events, &read_models, 6).await;

    let first = read_models
        .plans(&tenant, &PlanFilter::default(), None, 2)
        .await
        .unwrap();
    assert_eq!(first.plans.len(), 2);
    assert!(first.has_next_page);
    let rest = read_models
        .plans(
            &tenant,
            &PlanFilter::default(),
            Some(&first.plans[1].plan_id),
            10,
        )
        .await
        .unwrap();
    assert_eq!(rest.plans.len(), 3);
    assert!(!rest.has_next_page);
    assert!(rest.plans.iter().all(|p| p.tenant == "pages"));

    let by_other_clinician = PlanFilter {
        clinician_id: Some("clin-9".into()),
        ..PlanFilter::default()
    };
    let none = read_models
        .plans(&tenant, &by_other_clinician, None, 10)
        .await
        .unwrap();
    assert!(none.plans.is_empty());
    let by_clinic = PlanFilter {
        clinic_ids: Some(vec!["clinic-a".into()]),
        ..PlanFilter::default()
    };
    let all = read_models
        .plans(&tenant, &by_clinic, None, 10)
        .await
        .unwrap();
    assert_eq!(all.plans.len(), 5);

    // A clinician added to a care team finds the plan; removed, no longer.
    let mut joined = first.plans[0].clone();
    joined.care_team = vec!["clin-9".into()];
    joined.version += 1;
    read_models.save(vec![joined.clone()], 100).await.unwrap();
    let theirs = read_models
        .plans(&tenant, &by_other_clinician, None, 10)
        .await
        .unwrap();
    assert_eq!(theirs.plans.len(), 1);
    let mut left = joined;
    left.care_team.clear();
    left.version += 1;
    read_models.save(vec![left], 101).await.unwrap();
    let none = read_models
        .plans(&tenant, &by_other_clinician, None, 10)
        .await
        .unwrap();
    assert!(none.plans.is_empty());
}

#[tokio::test]
async fn summaries_answer_the_listing_filters_even_for_rows_written_before_them() {
    let dir = tempfile::tempdir().unwrap();
    let events = SqliteEventStore::open(dir.path().join("events.db")).unwrap();
    let tenant = TenantId::parse("sums").unwrap();
    for clinician in ["clin-1", "clin-2", "clin-1"] {
        write_plan(&events, &tenant, clinician, 2).await;
    }
    let path = dir.path().join("rm.db");
    let read_models = SqliteReadModels::open(&path).unwrap();
    project_until(&events, &read_models, 9).await;
    let mine = PlanFilter {
        clinician_id: Some("clin-1".into()),
        ..PlanFilter::default()
    };
    let summaries = read_models.summaries(&tenant, &mine).await.unwrap();
    let views = read_models.plans(&tenant, &mine, None, 10).await.unwrap();
    assert_eq!(
        summaries,
        views.plans.iter().map(PlanSummary::of).collect::<Vec<_>>()
    );
    assert_eq!(summaries.len(), 2);
    assert!(
        summaries
            .iter()
            .all(|s| s.objectives == 0 && s.pending_signatures.len() == 2)
    );

    // Rows from before summaries existed answer from their documents.
    drop(read_models);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute("UPDATE plan_views SET summary = NULL", [])
        .unwrap();
    drop(conn);
    let reopened = SqliteReadModels::open(&path).unwrap();
    assert_eq!(reopened.summaries(&tenant, &mine).await.unwrap(), summaries);
    drop(reopened);

    // A summary written by another version of the code is not believed.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE plan_views SET summary = json_object('schema', 0, 'objectives', 99)",
        [],
    )
    .unwrap();
    drop(conn);
    let reopened = SqliteReadModels::open(&path).unwrap();
    assert_eq!(reopened.summaries(&tenant, &mine).await.unwrap(), summaries);
}

#[tokio::test]
async fn read_models_from_before_summaries_are_migrated_and_still_answer() {
    let dir = tempfile::tempdir().unwrap();
    let events = SqliteEventStore::open(dir.path().join("events.db")).unwrap();
    let tenant = TenantId::parse("old").unwrap();
    write_plan(&events, &tenant, "clin-1", 1).await;
    let path = dir.path().join("rm.db");
    let current = SqliteReadModels::open(&path).unwrap();
    project_until(&events, &current, 2).await;
    let expected = current
        .summaries(&tenant, &PlanFilter::default())
        .await
        .unwrap();
    drop(current);
    // The table as an earlier release left it: no summary column.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE old AS SELECT tenant, plan_id, client_id, primary_clinician_id,
             clinic_id, version, document FROM plan_views;
         DROP TABLE plan_views;
         ALTER TABLE old RENAME TO plan_views;",
    )
    .unwrap();
    drop(conn);
    let migrated = SqliteReadModels::open(&path).unwrap();
    assert_eq!(
        migrated
            .summaries(&tenant, &PlanFilter::default())
            .await
            .unwrap(),
        expected
    );
    assert_eq!(expected.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stored_plan_that_does_not_read_is_folded_again_from_its_stream() {
    use trellis_kernel::{EventStore, ExpectedRevision, StreamName};
    use trellis_plans_domain::{GoalAdded, GoalId, GoalTerm, PlanEvent};

    let dir = tempfile::tempdir().unwrap();
    let events = SqliteEventStore::open(dir.path().join("events.db")).unwrap();
    let read_models = SqliteReadModels::open(dir.path().join("rm.db")).unwrap();
    let tenant = TenantId::parse("refold").unwrap();
    // Long enough for its goals to be kept in parts.
    let plan = write_plan(&events, &tenant, "clin-1", 40).await;
    project_until(&events, &read_models, 41).await;

    // A part lost behind the store's back: the plan no longer reads.
    rusqlite::Connection::open(dir.path().join("rm.db"))
        .unwrap()
        .execute("DELETE FROM plan_view_parts WHERE part = 'goals/1'", [])
        .unwrap();
    let id = plan.to_string();
    assert!(read_models.plan(&tenant, &id).await.is_err());

    // The plan's next event finds it unreadable and folds it from the record.
    let stream = StreamName::new(tenant.clone(), "plan", &id).unwrap();
    let goal = PlanEvent::GoalAdded(GoalAdded {
        goal_id: GoalId(uuid::Uuid::new_v4()),
        description: "Goal 40".into(),
        term: GoalTerm::ShortTerm,
    });
    events
        .append(
            &stream,
            ExpectedRevision::Exact(40),
            vec![support::envelope(&goal)],
        )
        .await
        .unwrap();
    project_until(&events, &read_models, 42).await;

    let view = read_models.plan(&tenant, &id).await.unwrap().unwrap();
    assert_eq!(view.version, 41);
    let goals: Vec<&str> = view.goals.iter().map(|g| g.description.as_str()).collect();
    let expected: Vec<String> = (0..41).map(|n| format!("Goal {n}")).collect();
    assert_eq!(goals, expected);
}
