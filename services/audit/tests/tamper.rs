//! Tampering with the stored history is caught, and named.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use trellis_audit::integrity::{self, DigestKey};
use trellis_kernel::{Actor, EventStore, TenantId};
use trellis_plans::{CommandContext, PlanCommands};
use trellis_plans_domain::{AddGoal, CreatePlan, GoalId, GoalTerm, PlanCommand, PlanId};
use trellis_store_sqlite::SqliteEventStore;
use uuid::Uuid;

const TENANT: &str = "tamper";

fn ctx() -> CommandContext {
    CommandContext {
        caller: trellis_auth::Caller {
            tenant: TenantId::parse(TENANT).unwrap(),
            subject: "clin-1".into(),
            roles: vec![trellis_auth::Role::Clinician],
            clinics: vec!["clinic-a".into()],
        },
        command_id: Uuid::new_v4(),
        correlation_id: Uuid::new_v4(),
        request_id: "r".into(),
        trace_id: String::new(),
        span_id: String::new(),
    }
}

/// A store holding one plan with four goals (revisions 0..=4) and a
/// signed digest over it.
async fn store_with_history(path: &Path, key: &DigestKey) -> PlanId {
    let store: Arc<dyn EventStore> = Arc::new(SqliteEventStore::open(path).unwrap());
    let commands = PlanCommands::new(Arc::clone(&store));
    let plan = PlanId(Uuid::new_v4());
    let create = PlanCommand::CreatePlan(CreatePlan {
        plan_id: plan,
        client_id: "client-1".into(),
        primary_clinician_id: "clin-1".into(),
        clinic_id: "clinic-a".into(),
        title: "Plan".into(),
        payer: String::new(),
    });
    commands.handle(&ctx(), plan, &create).await.unwrap();
    for n in 0..4 {
        let goal = PlanCommand::AddGoal(AddGoal {
            goal_id: GoalId(Uuid::new_v4()),
            description: format!("Goal {n}"),
            term: GoalTerm::ShortTerm,
        });
        commands.handle(&ctx(), plan, &goal).await.unwrap();
    }
    let system = Actor {
        subject: "trellis".into(),
        role: "system".into(),
    };
    integrity::create_digest(
        store.as_ref(),
        &TenantId::parse(TENANT).unwrap(),
        key,
        system,
    )
    .await
    .unwrap();
    plan
}

/// A fresh store with history, trusted under the development key.
async fn history() -> (tempfile::TempDir, PathBuf, DigestKey) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let key = DigestKey::development();
    store_with_history(&path, &key).await;
    (dir, path, key)
}

async fn verify(path: &Path, key: &DigestKey) -> integrity::VerifyReport {
    let store = SqliteEventStore::open(path).unwrap();
    integrity::verify(&store, None, &key.public_key())
        .await
        .unwrap()
}

fn tamper(path: &Path, sql: &str) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let changed = conn.execute(sql, []).unwrap();
    assert!(
        changed > 0,
        "the tampering statement changed nothing: {sql}"
    );
}

const PLAN_ROWS: &str = "stream LIKE 'tamper:plan-%'";

#[tokio::test]
async fn an_untouched_store_verifies() {
    let (_dir, path, key) = history().await;
    let report = verify(&path, &key).await;
    assert!(report.ok, "{report:?}");
    assert_eq!(report.events, 6);
    assert_eq!(report.digests, 1);
}

#[tokio::test]
async fn one_changed_payload_byte_is_detected() {
    let (_dir, path, key) = history().await;
    // "Goal 2" becomes "Goal 3" in the stored bytes, nothing else changes.
    tamper(
        &path,
        &format!(
            "UPDATE events SET payload = CAST(replace(CAST(payload AS TEXT), 'Goal 2', 'Goal 3') AS BLOB)
             WHERE {PLAN_ROWS} AND revision = 3"
        ),
    );
    let report = verify(&path, &key).await;
    assert!(!report.ok);
    let problem = report.first_break.unwrap();
    assert!(problem.contains("revision 3"), "{problem}");
    assert!(problem.contains("does not match its hash"), "{problem}");
}

#[tokio::test]
async fn a_changed_actor_is_detected() {
    let (_dir, path, key) = history().await;
    tamper(
        &path,
        &format!(
            "UPDATE events SET actor_subject = 'someone-else' WHERE {PLAN_ROWS} AND revision = 1"
        ),
    );
    let problem = verify(&path, &key).await.first_break.unwrap();
    assert!(problem.contains("revision 1"), "{problem}");
}

#[tokio::test]
async fn a_deleted_event_is_detected() {
    let (_dir, path, key) = history().await;
    tamper(
        &path,
        &format!("DELETE FROM events WHERE {PLAN_ROWS} AND revision = 2"),
    );
    let problem = verify(&path, &key).await.first_break.unwrap();
    assert!(
        problem.contains("revision 3 found where 2 was expected"),
        "{problem}"
    );
}

#[tokio::test]
async fn a_deleted_last_event_is_caught_by_the_signed_digest() {
    let (_dir, path, key) = history().await;
    // The chain itself stays consistent; only the digest remembers revision 4.
    tamper(
        &path,
        &format!("DELETE FROM events WHERE {PLAN_ROWS} AND revision = 4"),
    );
    let problem = verify(&path, &key).await.first_break.unwrap();
    assert!(problem.contains("revision 4 no longer exists"), "{problem}");
}

#[tokio::test]
async fn two_swapped_events_are_detected() {
    let (_dir, path, key) = history().await;
    // Swap the contents of revisions 1 and 2, keeping each row's place.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(&format!(
        "CREATE TEMP TABLE swap AS SELECT revision, payload, event_id, hash FROM events
             WHERE {PLAN_ROWS} AND revision IN (1, 2);
         UPDATE events SET event_id = randomblob(16) WHERE {PLAN_ROWS} AND revision IN (1, 2);
         UPDATE events SET
             payload = (SELECT payload FROM swap WHERE swap.revision = 3 - events.revision),
             event_id = (SELECT event_id FROM swap WHERE swap.revision = 3 - events.revision),
             hash = (SELECT hash FROM swap WHERE swap.revision = 3 - events.revision)
         WHERE {PLAN_ROWS} AND revision IN (1, 2);"
    ))
    .unwrap();
    drop(conn);
    let problem = verify(&path, &key).await.first_break.unwrap();
    assert!(problem.contains("revision 1"), "{problem}");
}

#[tokio::test]
async fn a_digest_signed_with_another_key_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let forger = DigestKey::generate();
    store_with_history(&path, &forger).await;
    let report = verify(&path, &DigestKey::development()).await;
    let problem = report.first_break.unwrap();
    assert!(
        problem.contains("signature does not verify with the trusted key"),
        "{problem}"
    );
}

#[tokio::test]
async fn one_byte_edited_in_the_database_file_is_detected() {
    let (_dir, path, key) = history().await;
    // Move everything from the WAL into the database file, then edit the
    // file itself as an attacker with disk access would.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    drop(conn);
    let mut bytes = std::fs::read(&path).unwrap();
    let at = bytes
        .windows(6)
        .position(|w| w == b"Goal 1")
        .expect("the goal text is in the file");
    bytes[at + 5] = b'7';
    std::fs::write(&path, bytes).unwrap();

    let problem = verify(&path, &key).await.first_break.unwrap();
    assert!(problem.contains("revision 2"), "{problem}");
    assert!(problem.contains("does not match its hash"), "{problem}");
}
