//! The embedded store's `snapshots` table: created on open for databases
//! made before it existed, and a cache that may be emptied at any time.

use trellis_kernel::{EventStore, ExpectedRevision, ReadDirection, SnapshotStore};
use trellis_store_conformance::{fresh_tenant, plan_stream, sample_event, sample_snapshot};
use trellis_store_sqlite::SqliteEventStore;

fn count(path: &std::path::Path, sql: &str) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.query_row(sql, [], |row| row.get(0)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_made_before_snapshots_gets_the_table_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let stream = plan_stream(&fresh_tenant(), "p-1");
    {
        let store = SqliteEventStore::open(&path).unwrap();
        store
            .append(&stream, ExpectedRevision::NoStream, vec![sample_event(0)])
            .await
            .unwrap();
    }
    // What a database of an older version looks like: no snapshot table.
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE snapshots")
        .unwrap();
    let tables = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'snapshots'";
    assert_eq!(count(&path, tables), 0);

    let store = SqliteEventStore::open(&path).unwrap();
    assert_eq!(count(&path, tables), 1);
    assert_eq!(store.load_snapshot(&stream).await.unwrap(), None);
    store
        .save_snapshot(&stream, sample_snapshot(0, 1, "after upgrade"))
        .await
        .unwrap();
    assert_eq!(
        store.load_snapshot(&stream).await.unwrap(),
        Some(sample_snapshot(0, 1, "after upgrade"))
    );
    let history = store
        .read_stream(&stream, ReadDirection::Forward, None, 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 1, "the record is as it was");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshots_may_be_deleted_at_any_time() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let store = SqliteEventStore::open(&path).unwrap();
    let stream = plan_stream(&fresh_tenant(), "p-1");
    store
        .append(&stream, ExpectedRevision::NoStream, vec![sample_event(0)])
        .await
        .unwrap();
    store
        .save_snapshot(&stream, sample_snapshot(0, 1, "cached"))
        .await
        .unwrap();
    assert_eq!(count(&path, "SELECT COUNT(*) FROM snapshots"), 1);

    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("DELETE FROM snapshots")
        .unwrap();
    assert_eq!(store.load_snapshot(&stream).await.unwrap(), None);
    let next = store
        .append(&stream, ExpectedRevision::Exact(0), vec![sample_event(1)])
        .await
        .unwrap();
    assert_eq!((next.last_revision, next.last_position), (1, 2));
    store
        .save_snapshot(&stream, sample_snapshot(1, 1, "again"))
        .await
        .unwrap();
    assert_eq!(
        store.load_snapshot(&stream).await.unwrap(),
        Some(sample_snapshot(1, 1, "again"))
    );
    assert_eq!(count(&path, "SELECT COUNT(*) FROM events"), 2);
}
