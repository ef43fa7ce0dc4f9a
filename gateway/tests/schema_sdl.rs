//! The GraphQL contract clinic and mobile apps build against is
//! `docs/schema.graphql`; this test keeps it equal to the served schema.
//! After a schema change, regenerate it with
//! `TRELLIS_WRITE_SDL=1 cargo test -p trellis-gateway --test schema_sdl`.

use std::path::PathBuf;
use std::sync::Arc;

use trellis_audit::{Audit, DigestKey};
use trellis_projector::SqliteReadModels;
use trellis_store_sqlite::SqliteEventStore;

#[test]
fn the_published_schema_is_the_served_one() {
    let dir = tempfile::tempdir().unwrap();
    let read_models = SqliteReadModels::open(dir.path().join("rm.db")).unwrap();
    let store = Arc::new(SqliteEventStore::open(dir.path().join("events.db")).unwrap());
    let key = DigestKey::development();
    let audit = Audit::new(store.clone(), store.clone(), key.clone(), key.public_key());
    let schema = trellis_gateway::build_schema(
        Arc::new(read_models),
        store,
        trellis_gateway::AuditBackend::Local(Box::new(audit)),
        None,
        None,
    );
    let served = schema.sdl();
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/schema.graphql");
    if std::env::var_os("TRELLIS_WRITE_SDL").is_some() {
        std::fs::write(&path, &served).unwrap();
    }
    let published = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        published == served,
        "docs/schema.graphql is out of date; regenerate it with \
         TRELLIS_WRITE_SDL=1 cargo test -p trellis-gateway --test schema_sdl"
    );
}
