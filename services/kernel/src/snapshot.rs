//! Snapshots: a stream's folded state at a revision, kept so a cold stream
//! loads from its snapshot plus the events after it instead of folding its
//! whole history.
//!
//! A snapshot is a cache, never the record. It is versioned by the
//! encoding of the code that wrote it, takes no global position and no
//! revision, is not hash-chained, and is never seen by `read_all`,
//! `read_stream`, `stream_heads`, audit, verification or export. Deleting
//! every snapshot at any time loses nothing but the time to fold again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::{StoreError, StreamName};

/// A stream's state folded up to `revision` (inclusive), in the encoding
/// `schema_version` of the code that wrote it. A cache: never the record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snapshot {
    pub revision: u64,
    pub schema_version: u32,
    pub payload: Vec<u8>,
}

#[async_trait]
pub trait SnapshotStore: Send + Sync + 'static {
    /// The stream's latest snapshot, if any.
    async fn load_snapshot(&self, stream: &StreamName) -> Result<Option<Snapshot>, StoreError>;
    /// Keeps `snapshot` unless the stored one is at the same or a later revision.
    async fn save_snapshot(
        &self,
        stream: &StreamName,
        snapshot: Snapshot,
    ) -> Result<(), StoreError>;
}

/// Snapshots in memory (tests, and stores without a snapshot table).
/// Clones share one map.
#[derive(Debug, Default, Clone)]
pub struct MemorySnapshots {
    latest: Arc<Mutex<HashMap<StreamName, Snapshot>>>,
}

impl MemorySnapshots {
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl SnapshotStore for MemorySnapshots {
    async fn load_snapshot(&self, stream: &StreamName) -> Result<Option<Snapshot>, StoreError> {
        let latest = self.latest.lock().expect("snapshot map poisoned");
        Ok(latest.get(stream).cloned())
    }

    async fn save_snapshot(
        &self,
        stream: &StreamName,
        snapshot: Snapshot,
    ) -> Result<(), StoreError> {
        let mut latest = self.latest.lock().expect("snapshot map poisoned");
        match latest.get(stream) {
            Some(stored) if stored.revision >= snapshot.revision => {}
            _ => {
                latest.insert(stream.clone(), snapshot);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::TenantId;

    fn stream(tenant: &str, id: &str) -> StreamName {
        StreamName::new(TenantId::parse(tenant).expect("tenant"), "plan", id).expect("stream")
    }

    fn snapshot(revision: u64, payload: &[u8]) -> Snapshot {
        Snapshot {
            revision,
            schema_version: 1,
            payload: payload.to_vec(),
        }
    }

    #[test]
    fn the_latest_revision_is_kept() {
        let snapshots = MemorySnapshots::new();
        let plan = stream("t-1", "p-1");
        assert_eq!(block_on(snapshots.load_snapshot(&plan)).unwrap(), None);
        block_on(snapshots.save_snapshot(&plan, snapshot(4, b"four"))).unwrap();
        assert_eq!(
            block_on(snapshots.load_snapshot(&plan)).unwrap(),
            Some(snapshot(4, b"four"))
        );
        block_on(snapshots.save_snapshot(&plan, snapshot(2, b"two"))).unwrap();
        block_on(snapshots.save_snapshot(&plan, snapshot(4, b"again"))).unwrap();
        assert_eq!(
            block_on(snapshots.load_snapshot(&plan)).unwrap(),
            Some(snapshot(4, b"four")),
            "an older or equal revision replaces nothing"
        );
        block_on(snapshots.save_snapshot(&plan, snapshot(9, b"nine"))).unwrap();
        assert_eq!(
            block_on(snapshots.load_snapshot(&plan)).unwrap(),
            Some(snapshot(9, b"nine"))
        );
    }

    #[test]
    fn streams_and_tenants_are_kept_apart_and_clones_share() {
        let snapshots = MemorySnapshots::new();
        let shared = snapshots.clone();
        block_on(snapshots.save_snapshot(&stream("t-1", "p-1"), snapshot(1, b"a"))).unwrap();
        assert_eq!(
            block_on(shared.load_snapshot(&stream("t-1", "p-1"))).unwrap(),
            Some(snapshot(1, b"a"))
        );
        assert_eq!(
            block_on(shared.load_snapshot(&stream("t-2", "p-1"))).unwrap(),
            None
        );
        assert_eq!(
            block_on(shared.load_snapshot(&stream("t-1", "p-2"))).unwrap(),
            None
        );
    }
}
