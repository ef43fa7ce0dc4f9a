//! The shared event-store conformance suite, run on a fresh store file per test.

use std::sync::Arc;

use trellis_kernel::EventStore;
use trellis_store_sqlite::SqliteEventStore;

async fn fresh_store() -> Arc<dyn EventStore> {
    // The directory must outlive the store; leaking it keeps the file
    // around for the whole test process, which is short-lived.
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("events.db");
    std::mem::forget(dir);
    Arc::new(SqliteEventStore::open(path).expect("open store"))
}

trellis_store_conformance::conformance_tests!(fresh_store);
