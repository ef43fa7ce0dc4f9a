//! Rotating a tenant's key-encryption key: a new version becomes current,
//! every data key of the tenant is wrapped again under it, and then the
//! versions before the one it replaced are destroyed. The replaced one is
//! kept until the next rotation: a data key a process wrapped under it
//! while this ran (and a backup whose keyring was copied meanwhile) still
//! opens, and the next rotation wraps it again. No event, snapshot or
//! hash changes: the data keys themselves stay the same.

use std::time::Duration;

use trellis_kernel::{KeyDirectory, TenantId};

use crate::provider::{KeyError, KeyProvider};

/// What a rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rotation {
    /// The tenant's key-encryption key version now current.
    pub version: u32,
    /// Data keys wrapped again.
    pub rewrapped: usize,
    /// Versions below this one are destroyed (the one before `version` is
    /// kept until the next rotation).
    pub destroyed_below: u32,
}

/// Rotates `tenant`'s key-encryption key. A data key another process
/// issued meanwhile under the old version is wrapped again too: the
/// directory is read again after `settle`.
pub async fn rotate_tenant_key(
    provider: &dyn KeyProvider,
    directory: &dyn KeyDirectory,
    tenant: &TenantId,
    settle: Duration,
) -> Result<Rotation, KeyError> {
    let version = provider.rotate(tenant).await?;
    let mut rewrapped = 0;
    loop {
        let stale: Vec<_> = directory
            .keys(tenant)
            .await
            .map_err(directory_failure)?
            .into_iter()
            .filter(|k| k.erased_at.is_none() && k.wrapped.kek_version < version)
            .collect();
        if stale.is_empty() {
            // Once more after a pause: a wrap in flight when the new
            // version was made may land just now.
            tokio::time::sleep(settle).await;
            let late = directory
                .keys(tenant)
                .await
                .map_err(directory_failure)?
                .iter()
                .any(|k| k.erased_at.is_none() && k.wrapped.kek_version < version);
            if !late {
                break;
            }
            continue;
        }
        for key in stale {
            let data_key = provider.unwrap(tenant, key.key_id, &key.wrapped).await?;
            let wrapped = provider.wrap(tenant, key.key_id, &data_key).await?;
            if directory
                .rewrap(tenant, key.key_id, key.wrapped.kek_version, wrapped)
                .await
                .map_err(directory_failure)?
            {
                rewrapped += 1;
            }
        }
    }
    let destroyed_below = version.saturating_sub(1).max(1);
    provider.retire_before(tenant, destroyed_below).await?;
    Ok(Rotation {
        version,
        rewrapped,
        destroyed_below,
    })
}

fn directory_failure(e: trellis_kernel::StoreError) -> KeyError {
    KeyError::Unavailable(format!("key directory: {e}"))
}
