//! The WAL is copied into the database file by the store's checkpoint
//! thread, not inside the writer's commits: after some hundreds of events,
//! far below the writer's own automatic threshold (16,384 pages), the
//! database file has grown by their pages while the store kept writing.

use std::time::{Duration, Instant};

use trellis_kernel::{EventStore, ExpectedRevision};
use trellis_store_conformance::{fresh_tenant, plan_stream, sample_event};
use trellis_store_sqlite::SqliteEventStore;

#[tokio::test]
async fn the_wal_is_checkpointed_beside_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("events.db");
    let store = SqliteEventStore::open(&path).unwrap();
    let size = || std::fs::metadata(&path).unwrap().len();
    let empty = size();
    let tenant = fresh_tenant();
    for plan in 0..60 {
        let stream = plan_stream(&tenant, &format!("p-{plan}"));
        let events = (0..20).map(sample_event).collect();
        store
            .append(&stream, ExpectedRevision::NoStream, events)
            .await
            .unwrap();
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    while size() <= empty && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        size() > empty,
        "1,200 events committed and the database file never grew: no checkpoint ran"
    );
    // Everything committed is there, whatever was copied where.
    assert_eq!(store.head_position(), 1_200);
    let other = rusqlite::Connection::open(&path).unwrap();
    let events: i64 = other
        .query_row("SELECT COUNT(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(events, 1_200);
}
