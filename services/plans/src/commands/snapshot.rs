//! Snapshots of cached plans: a cache, never the record. Written in the
//! background every [`SNAPSHOT_EVERY`] events, or once a quarter of the
//! plan's events came since the last one if that is more ([`due`]); read
//! when a plan is cold, thrown away when written by code of another
//! version.
//!
//! Layout of a payload (little endian): the plan state's length (u32), the
//! state ([`Plan::encode_state`]), the payload bytes folded so far (u64),
//! then one record per applied command id: 16 bytes of id, 8 of revision.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::Semaphore;
use trellis_kernel::{Snapshot, SnapshotStore};
use trellis_plans_domain::{PLAN_STATE_VERSION, Plan};
use uuid::Uuid;

use super::cache::CachedPlan;

/// Events folded between two snapshots of a plan, unless configured.
pub const SNAPSHOT_EVERY: u64 = 100;

/// A snapshot waits for at least this share of the plan's events (1 in
/// 4). A snapshot costs in proportion to the plan (its state, and every
/// command id it applied), so spacing them in proportion keeps their cost
/// per event the same however old the plan, and a cold load still folds
/// no more than a quarter of the stream after it.
const SPACING_SHARE: u64 = 4;

/// The layout above; bump it when the layout changes.
const LAYOUT_VERSION: u32 = 1;

/// Snapshots in flight at once; more wait for the plan's next turn.
const WRITERS: usize = 4;

const COMMAND_RECORD: usize = 24;

/// Where snapshots go and how often.
#[derive(Clone)]
pub(crate) struct Snapshots {
    pub store: Arc<dyn SnapshotStore>,
    pub every: u64,
    pub writers: Arc<Semaphore>,
}

impl std::fmt::Debug for Snapshots {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshots")
            .field("every", &self.every)
            .finish_non_exhaustive()
    }
}

impl Snapshots {
    pub fn new(store: Arc<dyn SnapshotStore>, every: u64) -> Self {
        Self {
            store,
            every: every.max(1),
            writers: Arc::new(Semaphore::new(WRITERS)),
        }
    }
}

/// Whether the plan has come far enough since its last snapshot for the
/// next: `every` events, or a quarter of all its events if that is more.
pub(crate) fn due(cached: &CachedPlan, every: u64) -> bool {
    cached.len > 0 && cached.since_snapshot >= every.max(cached.len / SPACING_SHARE)
}

/// The version a snapshot written by this code carries: the plan state's
/// and the layout's together, so a change of either discards old ones.
pub(crate) fn version() -> u32 {
    PLAN_STATE_VERSION * 256 + LAYOUT_VERSION
}

pub(crate) fn encode(cached: &CachedPlan) -> Snapshot {
    let state = cached.plan.encode_state();
    let mut payload =
        Vec::with_capacity(4 + state.len() + 8 + cached.commands.len() * COMMAND_RECORD);
    payload.extend_from_slice(
        &u32::try_from(state.len())
            .expect("state < 4 GiB")
            .to_le_bytes(),
    );
    payload.extend_from_slice(&state);
    payload.extend_from_slice(&(cached.payload_bytes as u64).to_le_bytes());
    for (id, revision) in &cached.commands {
        payload.extend_from_slice(id.as_bytes());
        payload.extend_from_slice(&revision.to_le_bytes());
    }
    Snapshot {
        revision: cached.len - 1,
        schema_version: version(),
        payload,
    }
}

/// The cached plan a snapshot holds; `None` for another version or a
/// payload that does not read back exactly.
pub(crate) fn decode(snapshot: &Snapshot) -> Option<CachedPlan> {
    if snapshot.schema_version != version() {
        return None;
    }
    let bytes = snapshot.payload.as_slice();
    let state_len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let state = bytes.get(4..4 + state_len)?;
    let plan = Plan::decode_state(PLAN_STATE_VERSION, state).ok()?;
    let rest = bytes.get(4 + state_len..)?;
    let payload_bytes = u64::from_le_bytes(rest.get(..8)?.try_into().ok()?);
    let records = rest.get(8..)?;
    if records.len() % COMMAND_RECORD != 0 {
        return None;
    }
    let mut commands = HashMap::with_capacity(records.len() / COMMAND_RECORD);
    for record in records.chunks_exact(COMMAND_RECORD) {
        let id = Uuid::from_bytes(record[..16].try_into().ok()?);
        let revision = u64::from_le_bytes(record[16..].try_into().ok()?);
        commands.insert(id, revision);
    }
    Some(CachedPlan {
        plan,
        len: snapshot.revision + 1,
        commands,
        since_snapshot: 0,
        payload_bytes: usize::try_from(payload_bytes).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> CachedPlan {
        let mut cached = CachedPlan::empty();
        cached.len = 42;
        cached.payload_bytes = 12_345;
        for n in 0..40u128 {
            cached.commands.insert(Uuid::from_u128(n + 1), n as u64);
        }
        cached
    }

    #[test]
    fn a_snapshot_reads_back_exactly() {
        let cached = sample();
        let snapshot = encode(&cached);
        assert_eq!(snapshot.revision, 41);
        let back = decode(&snapshot).expect("readable");
        assert_eq!(back.plan, cached.plan);
        assert_eq!(back.len, cached.len);
        assert_eq!(back.commands, cached.commands);
        assert_eq!(back.payload_bytes, cached.payload_bytes);
    }

    #[test]
    fn snapshots_are_spaced_by_a_quarter_of_an_old_plan() {
        let at = |len, since_snapshot| CachedPlan {
            len,
            since_snapshot,
            ..CachedPlan::empty()
        };
        // A young plan: every 100 events.
        assert!(!due(&at(150, 99), 100));
        assert!(due(&at(150, 100), 100));
        // A plan of 10,000 events: not before 2,500 since the last.
        assert!(!due(&at(10_000, 2_499), 100));
        assert!(due(&at(10_000, 2_500), 100));
        // Nothing folded, nothing to keep.
        assert!(!due(&at(0, 0), 1));
    }

    #[test]
    fn other_versions_and_damaged_payloads_are_ignored() {
        let mut snapshot = encode(&sample());
        snapshot.schema_version += 1;
        assert!(decode(&snapshot).is_none());
        let mut snapshot = encode(&sample());
        snapshot.payload.truncate(snapshot.payload.len() - 3);
        assert!(decode(&snapshot).is_none());
        let mut snapshot = encode(&sample());
        snapshot.payload[5] = b'!';
        assert!(decode(&snapshot).is_none());
    }
}
