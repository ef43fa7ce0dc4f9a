//! The embedded store keeps a long plan's lists in parts and writes only
//! the parts that changed: a plan reads back whole, a part left as it was
//! is not written again, a plan that shrinks loses its extra parts, and a
//! part missing, moved or older than the head says is an error, never a
//! shorter or a wrong plan.

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{TimeZone, Utc};
use rusqlite::{Connection, params};
use trellis_kernel::TenantId;
use trellis_plans_domain::GoalTerm;
use trellis_projector::{
    DocumentSeal, ErasureView, GoalView, PlanFilter, PlanView, ReadModelError, ReadModelStore,
    SealedPart, SqliteReadModels,
};

fn goal(n: usize) -> GoalView {
    GoalView {
        goal_id: format!("g-{n}"),
        description: format!("Goal {n}"),
        term: GoalTerm::ShortTerm,
        outcome: None,
        closed_on: None,
        objectives: Vec::new(),
        entered_in_error: None,
        revisions: Vec::new(),
        added: None,
    }
}

fn plan(tenant: &str, version: u64, goals: usize) -> PlanView {
    PlanView {
        tenant: tenant.into(),
        plan_id: "p-1".into(),
        client_id: "cl-1".into(),
        primary_clinician_id: "c-1".into(),
        clinic_id: "clinic-1".into(),
        title: "Plan".into(),
        version,
        updated_at: Utc.with_ymd_and_hms(2026, 3, 2, 9, 0, 0).unwrap(),
        goals: (0..goals).map(goal).collect(),
        ..PlanView::default()
    }
}

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

/// The stored parts of the plan, by name, in name order.
fn parts(path: &std::path::Path, tenant: &str) -> Vec<(String, String)> {
    let conn = Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare("SELECT part, body FROM plan_view_parts WHERE tenant = ?1 ORDER BY part")
        .unwrap();
    stmt.query_map([tenant], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

fn set_part(path: &std::path::Path, tenant: &str, part: &str, body: &str) {
    let conn = Connection::open(path).unwrap();
    let changed = conn
        .execute(
            "UPDATE plan_view_parts SET body = ?3 WHERE tenant = ?1 AND part = ?2",
            params![tenant, part, body],
        )
        .unwrap();
    assert_eq!(changed, 1, "{part} is stored");
}

#[tokio::test]
async fn a_long_plan_is_kept_in_parts_and_reads_back_whole() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rm.db");
    let store = SqliteReadModels::open(&path).unwrap();
    let view = plan("parts-whole", 1, 40);
    store.save(vec![view.clone()], 1).await.unwrap();

    let names: Vec<String> = parts(&path, "parts-whole")
        .into_iter()
        .map(|p| p.0)
        .collect();
    assert_eq!(names, ["goals/0", "goals/1", "goals/2"]);
    let t = tenant("parts-whole");
    assert_eq!(store.plan(&t, "p-1").await.unwrap(), Some(view.clone()));
    let page = store
        .plans(&t, &PlanFilter::default(), None, 10)
        .await
        .unwrap();
    assert_eq!(page.plans, vec![view.clone()]);
    let summaries = store.summaries(&t, &PlanFilter::default()).await.unwrap();
    assert_eq!(summaries.len(), 1);
    // A store opened again (another process) reads the same plan.
    let reopened = SqliteReadModels::open(&path).unwrap();
    assert_eq!(reopened.plan(&t, "p-1").await.unwrap(), Some(view));
}

#[tokio::test]
async fn a_save_writes_only_the_parts_that_changed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rm.db");
    let store = SqliteReadModels::open(&path).unwrap();
    store
        .save(vec![plan("parts-changed", 1, 40)], 1)
        .await
        .unwrap();
    // Marks the first part behind the store's back: a save that wrote it
    // again would put the goals back as they are.
    let (_, first) = parts(&path, "parts-changed").remove(0);
    set_part(
        &path,
        "parts-changed",
        "goals/0",
        &first.replace("Goal 0\"", "Marked\""),
    );

    let mut grown = plan("parts-changed", 2, 41);
    grown.goals[39].description = "Goal 39, revised".into();
    store.save(vec![grown.clone()], 2).await.unwrap();

    let t = tenant("parts-changed");
    let read = store.plan(&t, "p-1").await.unwrap().unwrap();
    assert_eq!(
        read.goals[0].description, "Marked",
        "goals/0 was not written"
    );
    assert_eq!(read.goals[1..], grown.goals[1..]);
    assert_eq!(read.version, 2);

    // Another process knows nothing of what is written: it writes all.
    let other = SqliteReadModels::open(&path).unwrap();
    let next = plan("parts-changed", 3, 41);
    other.save(vec![next.clone()], 3).await.unwrap();
    assert_eq!(other.plan(&t, "p-1").await.unwrap(), Some(next));
}

#[tokio::test]
async fn an_older_version_leaves_the_plan_and_its_parts_as_they_are() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteReadModels::open(dir.path().join("rm.db")).unwrap();
    let newer = plan("parts-older", 5, 50);
    store.save(vec![newer.clone()], 5).await.unwrap();
    store
        .save(vec![plan("parts-older", 4, 20)], 6)
        .await
        .unwrap();
    let t = tenant("parts-older");
    assert_eq!(store.plan(&t, "p-1").await.unwrap(), Some(newer));
}

#[tokio::test]
async fn a_plan_that_shrinks_loses_its_extra_parts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rm.db");
    let store = SqliteReadModels::open(&path).unwrap();
    store
        .save(vec![plan("parts-shrink", 1, 40)], 1)
        .await
        .unwrap();
    let mut erased = plan("parts-shrink", 2, 0);
    erased.erasure = Some(ErasureView {
        erased_on: chrono::NaiveDate::from_ymd_opt(2026, 4, 1).unwrap(),
        basis: "override".into(),
        reason: Some("court order".into()),
        goals: 40,
        objectives: 0,
        interventions: 0,
        diagnoses: 0,
        reviews: 0,
        measures: 0,
        signatures: 0,
        retention_years: None,
    });
    store.save(vec![erased.clone()], 2).await.unwrap();

    assert!(parts(&path, "parts-shrink").is_empty());
    let t = tenant("parts-shrink");
    assert_eq!(store.plan(&t, "p-1").await.unwrap(), Some(erased));
}

#[tokio::test]
async fn a_missing_part_is_an_error_not_a_shorter_plan() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rm.db");
    let store = SqliteReadModels::open(&path).unwrap();
    store
        .save(vec![plan("parts-missing", 1, 40)], 1)
        .await
        .unwrap();
    Connection::open(&path)
        .unwrap()
        .execute("DELETE FROM plan_view_parts WHERE part = 'goals/1'", [])
        .unwrap();
    let error = store
        .plan(&tenant("parts-missing"), "p-1")
        .await
        .unwrap_err();
    assert!(matches!(error, ReadModelError::Corrupt(_)), "{error}");
    assert!(!error.to_string().contains("Goal"), "no content: {error}");
}

/// Seals by prefixing the part it was sealed as; opens only as that part.
struct Labelled;

fn label(plan_id: &str, part: SealedPart) -> String {
    format!("sealed[{plan_id}:{part:?}]")
}

#[async_trait]
impl DocumentSeal for Labelled {
    async fn seal(
        &self,
        _: &TenantId,
        plan_id: &str,
        part: SealedPart,
        document: String,
    ) -> Result<String, ReadModelError> {
        Ok(format!("{}{document}", label(plan_id, part)))
    }

    async fn open(
        &self,
        _: &TenantId,
        plan_id: &str,
        part: SealedPart,
        document: String,
    ) -> Result<Option<String>, ReadModelError> {
        document
            .strip_prefix(&label(plan_id, part))
            .map(|text| Some(text.to_owned()))
            .ok_or_else(|| ReadModelError::Corrupt("does not open".into()))
    }
}

#[tokio::test]
async fn each_part_is_sealed_as_itself_and_does_not_open_moved() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rm.db");
    let store = SqliteReadModels::open(&path)
        .unwrap()
        .sealed_by(Arc::new(Labelled));
    let view = plan("parts-sealed", 1, 40);
    store.save(vec![view.clone()], 1).await.unwrap();
    let t = tenant("parts-sealed");
    assert_eq!(store.plan(&t, "p-1").await.unwrap(), Some(view));

    let stored = parts(&path, "parts-sealed");
    assert!(
        stored[1]
            .1
            .starts_with("sealed[p-1:List { list: \"goals\", index: 1, written_at: 1 }]"),
        "{}",
        &stored[1].1[..60]
    );
    // The second part put in the first one's place.
    set_part(&path, "parts-sealed", "goals/0", &stored[1].1);
    let error = store.plan(&t, "p-1").await.unwrap_err();
    assert!(matches!(error, ReadModelError::Corrupt(_)), "{error}");
}

#[tokio::test]
async fn a_summary_computed_again_reads_every_part() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rm.db");
    let store = SqliteReadModels::open(&path).unwrap();
    let mut view = plan("parts-summary", 1, 40);
    // One objective on the last goal: only the last part holds it.
    view.goals[39].objectives.push(
        serde_json::from_value(serde_json::json!({
            "objective_id": "o-1", "description": "Sleep 7 hours", "baseline": 4.0,
            "target": 7.0, "unit": "hours", "period": "night",
            "target_date": "2026-06-01", "met_on": null, "progress": [],
        }))
        .unwrap(),
    );
    store.save(vec![view], 1).await.unwrap();
    // A summary written by another version is computed from the document.
    Connection::open(&path)
        .unwrap()
        .execute("UPDATE plan_views SET summary = NULL", [])
        .unwrap();

    let summaries = store
        .summaries(&tenant("parts-summary"), &PlanFilter::default())
        .await
        .unwrap();
    assert_eq!(summaries.len(), 1);
    assert_eq!(summaries[0].objectives, 1);
}

#[tokio::test]
async fn a_part_another_process_rewrote_reads_as_corrupt_not_as_the_wrong_text() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rm.db");
    let first = SqliteReadModels::open(&path).unwrap();
    let second = SqliteReadModels::open(&path).unwrap();
    first.save(vec![plan("parts-two", 1, 40)], 1).await.unwrap();
    // Another process (which must not run beside this one) writes a
    // version whose first goal differs.
    let mut changed = plan("parts-two", 2, 40);
    changed.goals[0].description = "Changed elsewhere".into();
    second.save(vec![changed], 2).await.unwrap();
    // This one, knowing only what it wrote, finds goals/0 as it left it and
    // does not write it: the head says goals/0 is from version 1.
    first.save(vec![plan("parts-two", 3, 40)], 3).await.unwrap();

    let t = tenant("parts-two");
    let error = first.plan(&t, "p-1").await.unwrap_err();
    assert!(matches!(error, ReadModelError::Corrupt(_)), "{error}");
    // Having found it so, the store writes the plan whole at its next save.
    let next = plan("parts-two", 4, 40);
    first.save(vec![next.clone()], 4).await.unwrap();
    assert_eq!(first.plan(&t, "p-1").await.unwrap(), Some(next));
}

#[tokio::test]
async fn a_plan_found_corrupt_is_replaced_by_the_next_save_even_at_its_version() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rm.db");
    let store = SqliteReadModels::open(&path).unwrap();
    let view = plan("parts-same", 7, 40);
    store.save(vec![view.clone()], 7).await.unwrap();
    Connection::open(&path)
        .unwrap()
        .execute("DELETE FROM plan_view_parts WHERE part = 'goals/2'", [])
        .unwrap();
    let t = tenant("parts-same");
    assert!(store.plan(&t, "p-1").await.is_err());

    // Folded again from the record, the plan is at the version stored.
    store.save(vec![view.clone()], 8).await.unwrap();
    assert_eq!(store.plan(&t, "p-1").await.unwrap(), Some(view.clone()));
    // Once replaced, an older or equal version changes nothing again.
    store
        .save(vec![plan("parts-same", 7, 20)], 9)
        .await
        .unwrap();
    assert_eq!(store.plan(&t, "p-1").await.unwrap(), Some(view));
}

#[tokio::test]
async fn parts_from_before_their_version_was_kept_read_as_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rm.db");
    // The table as the first release with parts made it, with a part of a
    // plan whose head (a whole document then) records no parts.
    let conn = Connection::open(&path).unwrap();
    conn.execute_batch(
        "CREATE TABLE plan_view_parts (
             tenant TEXT NOT NULL, plan_id TEXT NOT NULL, part TEXT NOT NULL,
             body TEXT NOT NULL, PRIMARY KEY (tenant, plan_id, part)) STRICT;
         INSERT INTO plan_view_parts VALUES ('parts-old', 'p-1', 'goals/0', '[]');",
    )
    .unwrap();
    drop(conn);

    let store = SqliteReadModels::open(&path).unwrap();
    let head = serde_json::to_string(&plan("parts-old", 3, 0)).unwrap();
    Connection::open(&path)
        .unwrap()
        .execute(
            "INSERT INTO plan_views (tenant, plan_id, client_id, primary_clinician_id,
                 clinic_id, version, document)
             VALUES ('parts-old', 'p-1', 'cl-1', 'c-1', 'clinic-1', 3, ?1)",
            [head],
        )
        .unwrap();
    let error = store.plan(&tenant("parts-old"), "p-1").await.unwrap_err();
    assert!(matches!(error, ReadModelError::Corrupt(_)), "{error}");
}
