//! A store on the test database, shared by the test binaries.

use std::sync::Arc;

use trellis_kernel::EventStore;
use trellis_store_postgres::PostgresEventStore;

/// `TRELLIS_TEST_POSTGRES_URL` names the database (default: the local
/// server's `trellis_test`, created if missing).
pub async fn connect() -> PostgresEventStore {
    let url = match std::env::var("TRELLIS_TEST_POSTGRES_URL") {
        Ok(url) => url,
        Err(_) => trellis_store_postgres::ensure_database(
            "postgres://postgres@127.0.0.1:5432/postgres",
            "trellis_test",
        )
        .await
        .expect("PostgreSQL reachable (./scripts/services-up starts it)"),
    };
    PostgresEventStore::connect(&url)
        .await
        .expect("PostgreSQL reachable (./scripts/services-up starts it)")
}

pub async fn fresh_store() -> Arc<dyn EventStore> {
    Arc::new(connect().await)
}
