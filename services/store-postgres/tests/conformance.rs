//! The shared event-store conformance suite against a real PostgreSQL.
//! Every check uses its own tenant, so the tests share one database.

mod support;

use std::sync::Arc;

use support::fresh_store;
use trellis_kernel::{EventStore, SnapshotStore};

async fn fresh_stores() -> (Arc<dyn EventStore>, Arc<dyn SnapshotStore>) {
    let store = support::connect().await;
    (Arc::new(store.clone()), Arc::new(store))
}

trellis_store_conformance::conformance_tests!(fresh_store);
trellis_store_conformance::snapshot_conformance_tests!(fresh_stores);

/// Reopening is connecting again: a new pool and writer on the same
/// database.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_saved_snapshot_survives_reopen() {
    trellis_store_conformance::checks::a_saved_snapshot_survives_reopen(fresh_stores).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_data_key_table_keeps_what_the_directory_contract_asks() {
    trellis_store_conformance::key_directory::checks(&support::connect().await).await;
}
