//! The directory of data keys: one key per client (subject of care) and
//! tenant, stored only wrapped by the tenant's key-encryption key, which
//! lives elsewhere (a keyring file or a KMS). The directory never sees a
//! key in clear, and a subject is named in it only by a keyed tag, so a
//! copy of it reads no client.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::{StoreError, TenantId};

/// A data key as the key provider wrapped it: the version of the tenant's
/// key-encryption key that did, and the sealed bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub kek_version: u32,
    pub bytes: Vec<u8>,
}

/// One client's data key in one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataKeyRecord {
    pub tenant: TenantId,
    /// Named, in clear, in every payload sealed under the key.
    pub key_id: Uuid,
    /// The key provider's keyed tag of the client id.
    pub subject_tag: [u8; 32],
    pub wrapped: WrappedKey,
    pub created_at: DateTime<Utc>,
    /// When the key was destroyed (crypto-shredding): its wrapped bytes
    /// are gone and its tag no longer names the client; what it sealed
    /// reads as erased.
    pub erased_at: Option<DateTime<Utc>>,
}

/// What a reader gets in place of a payload sealed under a destroyed data
/// key: the event's envelope (type, stream, revision, times, actor, hash)
/// stands, its content is gone.
pub const ERASED_PAYLOAD: &[u8] = br#"{"erased":true}"#;

#[async_trait]
pub trait KeyDirectory: Send + Sync + 'static {
    /// The data key issued for the subject with this tag, if any.
    async fn subject_key(
        &self,
        tenant: &TenantId,
        subject_tag: &[u8; 32],
    ) -> Result<Option<DataKeyRecord>, StoreError>;

    /// The data key with this id, if the directory holds it.
    async fn key(
        &self,
        tenant: &TenantId,
        key_id: Uuid,
    ) -> Result<Option<DataKeyRecord>, StoreError>;

    /// Keeps `record` unless its subject has a key already; answers the key
    /// that holds for the subject afterwards (two processes issuing at once
    /// both end up with the first one stored).
    async fn issue(&self, record: DataKeyRecord) -> Result<DataKeyRecord, StoreError>;

    /// Every data key of `tenant`.
    async fn keys(&self, tenant: &TenantId) -> Result<Vec<DataKeyRecord>, StoreError>;

    /// Every tenant with at least one data key.
    async fn tenants(&self) -> Result<Vec<TenantId>, StoreError>;

    /// Replaces a key's wrapping if it is still wrapped by `from_version`
    /// (rotation); answers whether it was.
    async fn rewrap(
        &self,
        tenant: &TenantId,
        key_id: Uuid,
        from_version: u32,
        wrapped: WrappedKey,
    ) -> Result<bool, StoreError>;

    /// Notes that `stream` is sealed under `key_id` (when its first events
    /// are), so a client's plans can be found by its key.
    async fn bind_stream(
        &self,
        tenant: &TenantId,
        key_id: Uuid,
        stream: &str,
    ) -> Result<(), StoreError>;

    /// The streams sealed under `key_id`, in name order.
    async fn streams(&self, tenant: &TenantId, key_id: Uuid) -> Result<Vec<String>, StoreError>;

    /// Destroys a data key: its wrapped bytes are overwritten, its tag
    /// replaced by `tombstone_tag` (so the client may get a new key), and
    /// `erased_at` set; the row stays, so what it sealed reads as erased,
    /// not as missing. Answers whether it was there to destroy.
    async fn erase(
        &self,
        tenant: &TenantId,
        key_id: Uuid,
        tombstone_tag: [u8; 32],
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// A directory in memory (tests, and the check that two directories agree).
/// Clones share one map.
#[derive(Debug, Default, Clone)]
pub struct MemoryKeyDirectory {
    records: std::sync::Arc<std::sync::Mutex<Vec<DataKeyRecord>>>,
    bindings: std::sync::Arc<std::sync::Mutex<Vec<(TenantId, Uuid, String)>>>,
}

impl MemoryKeyDirectory {
    pub fn new() -> Self {
        Self::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Vec<DataKeyRecord>) -> T) -> T {
        f(&mut self.records.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

#[async_trait]
impl KeyDirectory for MemoryKeyDirectory {
    async fn subject_key(
        &self,
        tenant: &TenantId,
        subject_tag: &[u8; 32],
    ) -> Result<Option<DataKeyRecord>, StoreError> {
        Ok(self.with(|all| {
            all.iter()
                .find(|r| &r.tenant == tenant && &r.subject_tag == subject_tag)
                .cloned()
        }))
    }

    async fn key(
        &self,
        tenant: &TenantId,
        key_id: Uuid,
    ) -> Result<Option<DataKeyRecord>, StoreError> {
        Ok(self.with(|all| {
            all.iter()
                .find(|r| &r.tenant == tenant && r.key_id == key_id)
                .cloned()
        }))
    }

    async fn issue(&self, record: DataKeyRecord) -> Result<DataKeyRecord, StoreError> {
        Ok(self.with(|all| {
            if let Some(held) = all
                .iter()
                .find(|r| r.tenant == record.tenant && r.subject_tag == record.subject_tag)
            {
                return held.clone();
            }
            all.push(record.clone());
            record
        }))
    }

    async fn keys(&self, tenant: &TenantId) -> Result<Vec<DataKeyRecord>, StoreError> {
        Ok(self.with(|all| {
            all.iter()
                .filter(|r| &r.tenant == tenant)
                .cloned()
                .collect()
        }))
    }

    async fn tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        Ok(self.with(|all| {
            let mut tenants: Vec<TenantId> = all.iter().map(|r| r.tenant.clone()).collect();
            tenants.sort_by(|a, b| a.as_str().cmp(b.as_str()));
            tenants.dedup();
            tenants
        }))
    }

    async fn rewrap(
        &self,
        tenant: &TenantId,
        key_id: Uuid,
        from_version: u32,
        wrapped: WrappedKey,
    ) -> Result<bool, StoreError> {
        Ok(self.with(|all| {
            match all.iter_mut().find(|r| {
                &r.tenant == tenant
                    && r.key_id == key_id
                    && r.wrapped.kek_version == from_version
                    && r.erased_at.is_none()
            }) {
                Some(record) => {
                    record.wrapped = wrapped;
                    true
                }
                None => false,
            }
        }))
    }

    async fn bind_stream(
        &self,
        tenant: &TenantId,
        key_id: Uuid,
        stream: &str,
    ) -> Result<(), StoreError> {
        let mut bindings = self.bindings.lock().unwrap_or_else(|p| p.into_inner());
        let binding = (tenant.clone(), key_id, stream.to_owned());
        if !bindings.contains(&binding) {
            bindings.push(binding);
        }
        Ok(())
    }

    async fn streams(&self, tenant: &TenantId, key_id: Uuid) -> Result<Vec<String>, StoreError> {
        let bindings = self.bindings.lock().unwrap_or_else(|p| p.into_inner());
        let mut streams: Vec<String> = bindings
            .iter()
            .filter(|(t, k, _)| t == tenant && *k == key_id)
            .map(|(_, _, s)| s.clone())
            .collect();
        streams.sort();
        Ok(streams)
    }

    async fn erase(
        &self,
        tenant: &TenantId,
        key_id: Uuid,
        tombstone_tag: [u8; 32],
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        Ok(self.with(|all| {
            match all
                .iter_mut()
                .find(|r| &r.tenant == tenant && r.key_id == key_id && r.erased_at.is_none())
            {
                Some(record) => {
                    record.wrapped.bytes.clear();
                    record.subject_tag = tombstone_tag;
                    record.erased_at = Some(at);
                    true
                }
                None => false,
            }
        }))
    }
}

/// Crypto-shredding, as a service erasing a client asks for it: which
/// streams the client's key seals, and destroying that key.
#[async_trait]
pub trait ClientErasure: Send + Sync + 'static {
    /// The streams sealed under the client's data key, in name order;
    /// none when the client has no key (never had, or already erased).
    async fn client_streams(
        &self,
        tenant: &TenantId,
        client: &str,
    ) -> Result<Vec<crate::StreamName>, StoreError>;

    /// Destroys the client's data key; answers the streams it sealed as
    /// they stand once it is destroyed (a plan created meanwhile among
    /// them), or `None` when the client had no key.
    async fn destroy_client_key(
        &self,
        tenant: &TenantId,
        client: &str,
    ) -> Result<Option<Vec<crate::StreamName>>, StoreError>;
}
