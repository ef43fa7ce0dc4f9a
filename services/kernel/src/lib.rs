//! The kernel every Trellis crate shares: who a tenant is, how streams are
//! named, what an event looks like once stored, and the contract every event
//! store backend honours.
//!
//! It knows nothing of plans, transport or storage engines: the domain
//! depends on it, and each store backend implements [`EventStore`].

mod access;
mod chain;
mod data_keys;
mod envelope;
pub mod group_commit;
mod ids;
mod snapshot;
mod store;
mod subscription;

pub use access::{AccessLog, AccessQuery, AccessRecord, LoggedAccess};
pub use chain::{ChainInput, EventHash, chain_hash, from_hex, metadata_bytes, sha256, to_hex};
pub use data_keys::{
    ClientErasure, DataKeyRecord, ERASED_PAYLOAD, KeyDirectory, MemoryKeyDirectory, WrappedKey,
};
pub use envelope::{Actor, EventMetadata, NewEvent, RecordedEvent};
pub use ids::{IdError, StreamName, TenantId};
pub use snapshot::{MemorySnapshots, Snapshot, SnapshotStore};
pub use store::{
    AppendOutcome, EventStore, ExpectedRevision, ReadDirection, StoreError, StoredAt, StreamHead,
    SubscriptionMessage, SubscriptionStream, recognise_retry,
};
pub use subscription::{AppendSignal, PageFuture, catch_up};
