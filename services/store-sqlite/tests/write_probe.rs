//! The write probe readiness relies on: a real commit outside the event
//! streams, which fails while the database cannot be written and succeeds
//! again once it can, on the same store handle.

use std::time::{Duration, Instant};

use trellis_kernel::{EventStore, ExpectedRevision, StoreError};
use trellis_store_conformance::{fresh_tenant, plan_stream, sample_event};
use trellis_store_sqlite::SqliteEventStore;

#[tokio::test]
async fn the_probe_commits_one_row_and_no_event() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let store = SqliteEventStore::open(&path).unwrap();
    let stream = plan_stream(&fresh_tenant(), "p-1");
    store
        .append(&stream, ExpectedRevision::NoStream, vec![sample_event(0)])
        .await
        .unwrap();
    for _ in 0..3 {
        store.probe_write().await.unwrap();
    }
    assert_eq!(store.head_position(), 1);
    assert_eq!(store.last_position().await.unwrap(), Some(1));
    // Committed: another connection sees the one probe row, and the event
    // table holds exactly the one event.
    let other = rusqlite::Connection::open(&path).unwrap();
    let count = |sql: &str| other.query_row(sql, [], |r| r.get::<_, i64>(0)).unwrap();
    assert_eq!(count("SELECT COUNT(*) FROM write_probe"), 1);
    assert_eq!(count("SELECT COUNT(*) FROM events"), 1);
    assert_eq!(count("SELECT COUNT(*) FROM access_log"), 0);
    let next = store
        .append(&stream, ExpectedRevision::Exact(0), vec![sample_event(1)])
        .await
        .unwrap();
    assert_eq!((next.last_revision, next.last_position), (1, 2));
}

/// Another connection holding the write lock (a stray `sqlite3` shell in
/// a transaction, a backup tool) stops every write, for root as well as
/// anyone: the probe does not answer, then fails, and succeeds again once
/// the lock is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_probe_fails_while_the_database_cannot_be_written_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let store = SqliteEventStore::open(&path).unwrap();
    store.probe_write().await.unwrap();

    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = Instant::now();
    let pending = tokio::spawn({
        let store = store.clone();
        async move { store.probe_write().await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!pending.is_finished(), "no write can commit under the lock");
    // One probe waits at a time: the next is refused at once.
    let refused = store.probe_write().await;
    assert!(
        matches!(&refused, Err(StoreError::Unavailable(m)) if m.contains("previous write probe")),
        "{refused:?}"
    );
    // The writer gives up after its busy timeout; the probe fails with it.
    let failed = tokio::time::timeout(Duration::from_secs(20), pending)
        .await
        .expect("the probe fails within the writer's busy timeout")
        .unwrap();
    assert!(
        matches!(failed, Err(StoreError::Unavailable(_))),
        "{failed:?}"
    );
    assert!(started.elapsed() >= Duration::from_secs(1));

    blocker.execute_batch("ROLLBACK").unwrap();
    store
        .probe_write()
        .await
        .expect("the same handle writes again once it can");
    let stream = plan_stream(&fresh_tenant(), "p-1");
    store
        .append(&stream, ExpectedRevision::NoStream, vec![sample_event(0)])
        .await
        .expect("appends work again too");
}
