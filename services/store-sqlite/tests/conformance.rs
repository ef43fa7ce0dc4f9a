//! The shared event-store conformance suite, run on a fresh store file per test.

use std::path::Path;
use std::sync::Arc;

use trellis_kernel::{EventStore, SnapshotStore};
use trellis_store_sqlite::SqliteEventStore;

/// A path in a temp directory that outlives the test's stores; leaking it
/// keeps the file around for the whole test process, which is short-lived.
fn fresh_path() -> std::path::PathBuf {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("events.db");
    std::mem::forget(dir);
    path
}

fn open(path: &Path) -> SqliteEventStore {
    SqliteEventStore::open(path).expect("open store")
}

async fn fresh_store() -> Arc<dyn EventStore> {
    Arc::new(open(&fresh_path()))
}

async fn fresh_stores() -> (Arc<dyn EventStore>, Arc<dyn SnapshotStore>) {
    let store = open(&fresh_path());
    (Arc::new(store.clone()), Arc::new(store))
}

trellis_store_conformance::conformance_tests!(fresh_store);
trellis_store_conformance::snapshot_conformance_tests!(fresh_stores);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_snapshot_survives_reopen() {
    let path = fresh_path();
    trellis_store_conformance::checks::a_saved_snapshot_survives_reopen(|| {
        let store = open(&path);
        async move {
            let stores: (Arc<dyn EventStore>, Arc<dyn SnapshotStore>) =
                (Arc::new(store.clone()), Arc::new(store));
            stores
        }
    })
    .await;
}
