//! The shared conformance suite against a real KurrentDB. No server runs
//! on the project's machines, so the checks are ignored unless asked for:
//!
//! ```sh
//! docker run -d -p 2113:2113 docker.kurrent.io/kurrent-latest/kurrentdb:latest --insecure
//! KURRENTDB_URL='kurrentdb://127.0.0.1:2113?tls=false' \
//!     cargo test -p trellis-store-kurrentdb -- --include-ignored
//! ```

use std::sync::Arc;

use trellis_kernel::EventStore;
use trellis_store_kurrentdb::KurrentEventStore;

async fn fresh_store() -> Arc<dyn EventStore> {
    let url = std::env::var("KURRENTDB_URL")
        .expect("set KURRENTDB_URL to run the KurrentDB conformance suite");
    Arc::new(KurrentEventStore::connect(&url).expect("a KurrentDB client"))
}

// KurrentDB recognises event ids within a stream, not across streams.
trellis_store_conformance::conformance_tests!(
    fresh_store,
    ignore = "needs a KurrentDB server: set KURRENTDB_URL and pass --include-ignored",
    event_ids = per_stream
);
