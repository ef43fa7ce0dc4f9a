//! Crypto-shredding: a client's data key destroyed, so nothing sealed
//! under it opens again — in any copy of the store, backups included,
//! once the backups' own key directories are gone. The events stay (their
//! envelopes and hashes), so the history still verifies.

use async_trait::async_trait;
use chrono::Utc;
use rand::RngCore as _;
use trellis_kernel::{ClientErasure, StoreError, StreamName, TenantId};

use crate::cache::Held;
use crate::vault::{Vault, provider_failure};

impl Vault {
    /// The client's live data key, by its keyed tag.
    async fn client_key(
        &self,
        tenant: &TenantId,
        client: &str,
    ) -> Result<Option<trellis_kernel::DataKeyRecord>, StoreError> {
        let tag = self
            .provider()
            .subject_tag(tenant, client)
            .await
            .map_err(provider_failure)?;
        self.directory().subject_key(tenant, &tag).await
    }

    fn forget(&self, tenant: &TenantId, key_id: uuid::Uuid) {
        self.key_cache().put(tenant, key_id, Held::Erased);
    }
}

#[async_trait]
impl ClientErasure for Vault {
    async fn client_streams(
        &self,
        tenant: &TenantId,
        client: &str,
    ) -> Result<Vec<StreamName>, StoreError> {
        let Some(key) = self.client_key(tenant, client).await? else {
            return Ok(Vec::new());
        };
        self.directory()
            .streams(tenant, key.key_id)
            .await?
            .iter()
            .map(|name| {
                StreamName::parse(name)
                    .map_err(|_| StoreError::Corrupt("a bound stream name is malformed".into()))
            })
            .collect()
    }

    async fn destroy_client_key(
        &self,
        tenant: &TenantId,
        client: &str,
    ) -> Result<bool, StoreError> {
        let Some(key) = self.client_key(tenant, client).await? else {
            return Ok(false);
        };
        // A random tag: the tombstone names no client, and the client, if
        // it comes back, gets a key of its own.
        let mut tombstone = [0u8; 32];
        rand::rng().fill_bytes(&mut tombstone);
        let destroyed = self
            .directory()
            .erase(tenant, key.key_id, tombstone, Utc::now())
            .await?;
        self.forget(tenant, key.key_id);
        Ok(destroyed)
    }
}
