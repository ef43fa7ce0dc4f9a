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
        // A tenant the provider holds no keys for has no client keys; do
        // not make it keys by asking.
        if !self
            .provider()
            .knows(tenant)
            .await
            .map_err(provider_failure)?
        {
            return Ok(None);
        }
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
        parse_streams(&self.directory().streams(tenant, key.key_id).await?)
    }

    async fn destroy_client_key(
        &self,
        tenant: &TenantId,
        client: &str,
    ) -> Result<Option<Vec<StreamName>>, StoreError> {
        let Some(key) = self.client_key(tenant, client).await? else {
            return Ok(None);
        };
        // A random tag: the tombstone names no client, and the client, if
        // it comes back, gets a key of its own.
        let mut tombstone = [0u8; 32];
        rand::rng().fill_bytes(&mut tombstone);
        self.directory()
            .erase(tenant, key.key_id, tombstone, Utc::now())
            .await?;
        self.forget(tenant, key.key_id);
        // Read after the key is gone: a plan bound to it meanwhile is here.
        let streams = self.directory().streams(tenant, key.key_id).await?;
        Ok(Some(parse_streams(&streams)?))
    }
}

fn parse_streams(names: &[String]) -> Result<Vec<StreamName>, StoreError> {
    names
        .iter()
        .map(|name| {
            StreamName::parse(name)
                .map_err(|_| StoreError::Corrupt("a bound stream name is malformed".into()))
        })
        .collect()
}

/// Offboarding: destroys every data key of `tenant` and then the tenant's
/// own keys in the provider. Answers how many data keys were destroyed.
pub async fn shred_tenant(
    provider: &dyn crate::KeyProvider,
    directory: &dyn trellis_kernel::KeyDirectory,
    tenant: &TenantId,
) -> Result<usize, StoreError> {
    let mut destroyed = 0;
    for key in directory.keys(tenant).await? {
        if key.erased_at.is_some() {
            continue;
        }
        let mut tombstone = [0u8; 32];
        rand::rng().fill_bytes(&mut tombstone);
        if directory
            .erase(tenant, key.key_id, tombstone, Utc::now())
            .await?
        {
            destroyed += 1;
        }
    }
    provider
        .destroy_tenant(tenant)
        .await
        .map_err(provider_failure)?;
    Ok(destroyed)
}
