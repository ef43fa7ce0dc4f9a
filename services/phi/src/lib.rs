//! PHI at rest. Every payload of a stream about one client (a plan's
//! events and snapshots) is sealed with XChaCha20-Poly1305 under that
//! client's data key before it reaches a store; the data key is kept only
//! wrapped by its tenant's key-encryption key, which a [`KeyProvider`]
//! holds (the local keyring file, or a KMS). Event type, stream, revision,
//! times and actor stay in clear for the store, the projector's routing
//! and the auditor's filters; the hash chain covers the sealed bytes.

mod cache;
mod erasure;
mod keyring;
mod provider;
mod rotation;
mod seal;
mod store;
mod vault;

pub use erasure::shred_tenant;
pub use keyring::LocalKeyring;
pub use provider::{KeyError, KeyProvider};
pub use rotation::{Rotation, rotate_tenant_key};
pub use seal::{SecretKey, key_id_of};
pub use store::{SealedEvents, SealedSnapshots};
pub use vault::{SubjectOfCare, Vault, WHOLE_DOCUMENT};
