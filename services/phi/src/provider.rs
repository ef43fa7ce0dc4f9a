//! Where tenants' key-encryption keys live. Data keys are wrapped and
//! unwrapped by a provider and never leave the process in clear; the
//! provider's keys never leave the provider (a KMS) or its file (the
//! local keyring).

use async_trait::async_trait;
use trellis_kernel::{TenantId, WrappedKey};
use uuid::Uuid;

use crate::seal::SecretKey;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("the keyring holds no key-encryption key for tenant {0}")]
    NoTenantKey(TenantId),
    #[error("tenant {tenant}'s key-encryption key version {version} is not in the keyring")]
    MissingVersion { tenant: TenantId, version: u32 },
    /// The bytes do not open with the key the provider holds: another
    /// install's keyring, or a damaged one.
    #[error("a data key of tenant {0} does not open with the keyring's key (a wrong keyring?)")]
    WrongKey(TenantId),
    #[error("keyring: {0}")]
    Keyring(String),
    #[error("key provider unavailable: {0}")]
    Unavailable(String),
}

/// A holder of per-tenant key-encryption keys: the local keyring file, or
/// an external KMS (Vault Transit, a cloud KMS) behind the same calls —
/// see docs/phi-at-rest.md for how one maps onto them.
#[async_trait]
pub trait KeyProvider: Send + Sync + 'static {
    /// Wraps a new data key under the tenant's current key-encryption key,
    /// making the tenant's key on first use. The wrapping is bound to the
    /// tenant and the data key's id.
    async fn wrap(
        &self,
        tenant: &TenantId,
        key_id: Uuid,
        key: &SecretKey,
    ) -> Result<WrappedKey, KeyError>;

    /// Opens what [`KeyProvider::wrap`] made for this tenant and key id.
    async fn unwrap(
        &self,
        tenant: &TenantId,
        key_id: Uuid,
        wrapped: &WrappedKey,
    ) -> Result<SecretKey, KeyError>;

    /// A keyed tag of a client id: the same for every call in one tenant,
    /// and nothing a reader of the directory can compute or invert.
    async fn subject_tag(&self, tenant: &TenantId, subject: &str) -> Result<[u8; 32], KeyError>;

    /// Makes a new current key-encryption key for the tenant and answers
    /// its version; older versions still unwrap until retired.
    async fn rotate(&self, tenant: &TenantId) -> Result<u32, KeyError>;

    /// Forgets every key-encryption key version of the tenant older than
    /// `version` (after every data key was wrapped again).
    async fn retire_before(&self, tenant: &TenantId, version: u32) -> Result<(), KeyError>;

    /// Whether the provider holds keys for the tenant at all.
    async fn knows(&self, tenant: &TenantId) -> Result<bool, KeyError>;

    /// Destroys every key of the tenant (offboarding): nothing it wrapped
    /// unwraps again. Answers whether there was any.
    async fn destroy_tenant(&self, tenant: &TenantId) -> Result<bool, KeyError>;
}
