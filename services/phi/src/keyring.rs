//! The local keyring: a JSON file, readable by its owner only, holding
//! each tenant's key-encryption keys (by version) and the secret its
//! client tags are keyed with. Made on first start in the data directory
//! unless one is supplied; keep its copies apart from the data's.
//!
//! Processes sharing the file (the plans service, projectors and gateways
//! of one host) change it only under an exclusive lock on a lock file
//! beside it (`keyring.lock` for `keyring.json`),
//! write a whole new file and rename it into place, and read it again
//! before wrapping and whenever it lacks a version they meet, so a key
//! made or rotated by one is found by the others.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use async_trait::async_trait;
use hmac::{Hmac, KeyInit as _, Mac as _};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use trellis_kernel::{TenantId, WrappedKey, from_hex, to_hex};
use uuid::Uuid;

use crate::provider::{KeyError, KeyProvider};
use crate::seal::SecretKey;

const FORMAT: &str = "trellis-keyring-v1";

#[derive(Serialize, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
struct KeyringFile {
    format: String,
    tenants: BTreeMap<String, TenantKeys>,
}

#[derive(Serialize, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct TenantKeys {
    /// Keys the client tags (hex).
    index: String,
    current: u32,
    /// Key-encryption keys by version (hex).
    keys: BTreeMap<u32, String>,
}

/// The keyring file at a path, as this process last read it.
pub struct LocalKeyring {
    path: PathBuf,
    state: Mutex<KeyringFile>,
}

impl std::fmt::Debug for LocalKeyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalKeyring")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl LocalKeyring {
    /// Opens the keyring at `path`, which must exist.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, KeyError> {
        let path = path.into();
        let state = read(&path)?;
        Ok(Self {
            path,
            state: Mutex::new(state),
        })
    }

    /// Makes an empty keyring at `path` (0600), which must not exist yet.
    pub fn create(path: impl Into<PathBuf>) -> Result<Self, KeyError> {
        let path = path.into();
        let empty = KeyringFile {
            format: FORMAT.into(),
            tenants: BTreeMap::new(),
        };
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(|e| io(&path, "cannot create", &e))?;
        file.write_all(&encode(&empty))
            .and_then(|()| file.sync_all())
            .map_err(|e| io(&path, "cannot write", &e))?;
        sync_parent(&path);
        Ok(Self {
            path,
            state: Mutex::new(empty),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn reload(&self) -> Result<(), KeyError> {
        let fresh = read(&self.path)?;
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = fresh;
        Ok(())
    }

    fn tenant_keys(&self, tenant: &TenantId) -> Option<TenantKeys> {
        self.state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .tenants
            .get(tenant.as_str())
            .cloned()
    }

    /// The tenant's keys as the file holds them now, reading it again when
    /// this process has not seen them.
    fn fresh_tenant_keys(&self, tenant: &TenantId) -> Result<Option<TenantKeys>, KeyError> {
        if let Some(keys) = self.tenant_keys(tenant) {
            return Ok(Some(keys));
        }
        self.reload()?;
        Ok(self.tenant_keys(tenant))
    }

    /// Changes the file under its lock, from what it holds now.
    fn change<T>(&self, f: impl FnOnce(&mut KeyringFile) -> T) -> Result<T, KeyError> {
        let lock_path = self.path.with_extension("lock");
        let lock = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| {
                KeyError::Keyring(format!(
                    "cannot change the keyring {} ({e}); where processes may only read it, \
                     add each tenant with `trellis keys add-tenant` before its first plan",
                    self.path.display()
                ))
            })?;
        lock.lock().map_err(|e| io(&lock_path, "cannot lock", &e))?;
        let mut file = read(&self.path)?;
        let answer = f(&mut file);
        let staged = self.path.with_extension("new");
        let written = (|| {
            let mut out = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&staged)?;
            out.write_all(&encode(&file))?;
            out.sync_all()?;
            std::fs::rename(&staged, &self.path)
        })();
        written.map_err(|e| io(&self.path, "cannot write", &e))?;
        sync_parent(&self.path);
        *self.state.lock().unwrap_or_else(|p| p.into_inner()) = file;
        drop(lock);
        Ok(answer)
    }

    /// Makes the tenant's keys unless the keyring holds them already;
    /// answers whether it made them. For a keyring that processes read
    /// but cannot write (a mounted secret), tenants are added this way
    /// before their first plan.
    pub fn add_tenant(&self, tenant: &TenantId) -> Result<bool, KeyError> {
        if self.fresh_tenant_keys(tenant)?.is_some() {
            return Ok(false);
        }
        self.tenant_keys_or_new(tenant)?;
        Ok(true)
    }

    /// The tenant's keys, made (index secret and version 1) on first use.
    fn tenant_keys_or_new(&self, tenant: &TenantId) -> Result<TenantKeys, KeyError> {
        if let Some(keys) = self.fresh_tenant_keys(tenant)? {
            return Ok(keys);
        }
        self.change(|file| {
            file.tenants
                .entry(tenant.as_str().to_owned())
                .or_insert_with(|| TenantKeys {
                    index: to_hex(SecretKey::generate().expose()),
                    current: 1,
                    keys: BTreeMap::from([(1, to_hex(SecretKey::generate().expose()))]),
                })
                .clone()
        })
    }

    fn kek(&self, tenant: &TenantId, version: u32) -> Result<SecretKey, KeyError> {
        let lookup = |keys: Option<TenantKeys>| keys.and_then(|k| k.keys.get(&version).cloned());
        let hex = match lookup(self.tenant_keys(tenant)) {
            Some(hex) => hex,
            None => {
                self.reload()?;
                lookup(self.tenant_keys(tenant)).ok_or_else(|| {
                    if self.tenant_keys(tenant).is_none() {
                        KeyError::NoTenantKey(tenant.clone())
                    } else {
                        KeyError::MissingVersion {
                            tenant: tenant.clone(),
                            version,
                        }
                    }
                })?
            }
        };
        secret(&hex)
    }
}

#[async_trait]
impl KeyProvider for LocalKeyring {
    async fn wrap(
        &self,
        tenant: &TenantId,
        key_id: Uuid,
        key: &SecretKey,
    ) -> Result<WrappedKey, KeyError> {
        // Read again: another process may have rotated the tenant's key.
        self.reload()?;
        let keys = self.tenant_keys_or_new(tenant)?;
        let kek = self.kek(tenant, keys.current)?;
        Ok(WrappedKey {
            kek_version: keys.current,
            bytes: kek.seal(key_id, &wrapping_binding(tenant, key_id), key.expose()),
        })
    }

    async fn unwrap(
        &self,
        tenant: &TenantId,
        key_id: Uuid,
        wrapped: &WrappedKey,
    ) -> Result<SecretKey, KeyError> {
        let kek = self.kek(tenant, wrapped.kek_version)?;
        kek.open(&wrapped.bytes, &wrapping_binding(tenant, key_id))
            .as_deref()
            .and_then(SecretKey::from_bytes)
            .ok_or_else(|| KeyError::WrongKey(tenant.clone()))
    }

    async fn subject_tag(&self, tenant: &TenantId, subject: &str) -> Result<[u8; 32], KeyError> {
        let keys = self.tenant_keys_or_new(tenant)?;
        let index = secret(&keys.index)?;
        let mut mac = Hmac::<Sha256>::new_from_slice(index.expose()).expect("any key length");
        mac.update(b"trellis-subject-v1\0");
        mac.update(subject.as_bytes());
        Ok(mac.finalize().into_bytes().into())
    }

    async fn rotate(&self, tenant: &TenantId) -> Result<u32, KeyError> {
        self.tenant_keys_or_new(tenant)?;
        self.change(|file| {
            let keys = file
                .tenants
                .get_mut(tenant.as_str())
                .expect("made just before, and never removed by rotation");
            let next = keys.keys.keys().max().copied().unwrap_or(0) + 1;
            keys.keys
                .insert(next, to_hex(SecretKey::generate().expose()));
            keys.current = next;
            next
        })
    }

    async fn retire_before(&self, tenant: &TenantId, version: u32) -> Result<(), KeyError> {
        self.change(|file| {
            if let Some(keys) = file.tenants.get_mut(tenant.as_str()) {
                keys.keys.retain(|v, _| *v >= version);
            }
        })
    }

    async fn knows(&self, tenant: &TenantId) -> Result<bool, KeyError> {
        Ok(self.fresh_tenant_keys(tenant)?.is_some())
    }

    async fn destroy_tenant(&self, tenant: &TenantId) -> Result<bool, KeyError> {
        self.change(|file| file.tenants.remove(tenant.as_str()).is_some())
    }
}

/// What a wrapped data key is bound to: its tenant and its id.
fn wrapping_binding(tenant: &TenantId, key_id: Uuid) -> Vec<u8> {
    let mut aad = b"trellis-data-key-v1\0".to_vec();
    aad.extend_from_slice(tenant.as_str().as_bytes());
    aad.push(0);
    aad.extend_from_slice(key_id.as_bytes());
    aad
}

fn secret(hex: &str) -> Result<SecretKey, KeyError> {
    from_hex(hex)
        .as_deref()
        .and_then(SecretKey::from_bytes)
        .ok_or_else(|| KeyError::Keyring("a key is not 64 hexadecimal digits".into()))
}

fn read(path: &Path) -> Result<KeyringFile, KeyError> {
    let bytes = std::fs::read(path).map_err(|e| io(path, "cannot read", &e))?;
    let file: KeyringFile = serde_json::from_slice(&bytes)
        .map_err(|_| KeyError::Keyring(format!("{} is not a Trellis keyring", path.display())))?;
    if file.format != FORMAT {
        return Err(KeyError::Keyring(format!(
            "{} is not a {FORMAT} keyring",
            path.display()
        )));
    }
    Ok(file)
}

fn encode(file: &KeyringFile) -> Vec<u8> {
    let mut bytes = serde_json::to_vec_pretty(file).expect("a keyring serializes");
    bytes.push(b'\n');
    bytes
}

fn io(path: &Path, what: &str, e: &std::io::Error) -> KeyError {
    KeyError::Keyring(format!("{what} {}: {e}", path.display()))
}

fn sync_parent(path: &Path) {
    // The rename is durable once the directory is; best effort.
    if let Some(dir) = path.parent().and_then(|d| std::fs::File::open(d).ok()) {
        let _ = dir.sync_all();
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn tenant(name: &str) -> TenantId {
        TenantId::parse(name).unwrap()
    }

    #[tokio::test]
    async fn a_wrapped_key_unwraps_for_its_tenant_and_id_only() {
        let dir = tempfile::tempdir().unwrap();
        let ring = LocalKeyring::create(dir.path().join("keyring.json")).unwrap();
        let (acme, other) = (tenant("acme"), tenant("other"));
        let key = SecretKey::generate();
        let id = Uuid::new_v4();
        let wrapped = ring.wrap(&acme, id, &key).await.unwrap();

        let back = ring.unwrap(&acme, id, &wrapped).await.unwrap();
        assert_eq!(back.expose(), key.expose());
        assert!(matches!(
            ring.unwrap(&acme, Uuid::new_v4(), &wrapped).await,
            Err(KeyError::WrongKey(_))
        ));
        assert!(matches!(
            ring.unwrap(&other, id, &wrapped).await,
            Err(KeyError::NoTenantKey(_))
        ));
        let mode = std::fs::metadata(ring.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[tokio::test]
    async fn another_keyring_refuses_and_a_second_process_sees_new_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        let ring = LocalKeyring::create(&path).unwrap();
        let acme = tenant("acme");
        let key = SecretKey::generate();
        let id = Uuid::new_v4();
        let wrapped = ring.wrap(&acme, id, &key).await.unwrap();

        // A second process opened the file before the tenant's key existed.
        let second = LocalKeyring::open(&path).unwrap();
        assert!(second.unwrap(&acme, id, &wrapped).await.is_ok());

        let foreign = LocalKeyring::create(dir.path().join("other.json")).unwrap();
        foreign.wrap(&acme, Uuid::new_v4(), &key).await.unwrap();
        assert!(matches!(
            foreign.unwrap(&acme, id, &wrapped).await,
            Err(KeyError::WrongKey(_))
        ));
    }

    #[tokio::test]
    async fn rotation_adds_a_version_and_retiring_removes_older_ones() {
        let dir = tempfile::tempdir().unwrap();
        let ring = LocalKeyring::create(dir.path().join("keyring.json")).unwrap();
        let acme = tenant("acme");
        let key = SecretKey::generate();
        let id = Uuid::new_v4();
        let old = ring.wrap(&acme, id, &key).await.unwrap();
        let tag = ring.subject_tag(&acme, "client-1").await.unwrap();

        assert_eq!(ring.rotate(&acme).await.unwrap(), 2);
        let new = ring.wrap(&acme, id, &key).await.unwrap();
        assert_eq!((old.kek_version, new.kek_version), (1, 2));
        assert!(ring.unwrap(&acme, id, &old).await.is_ok());
        // Tags do not change with the key-encryption key.
        assert_eq!(ring.subject_tag(&acme, "client-1").await.unwrap(), tag);
        assert_ne!(ring.subject_tag(&acme, "client-2").await.unwrap(), tag);

        ring.retire_before(&acme, 2).await.unwrap();
        assert!(ring.knows(&acme).await.unwrap());
        assert!(matches!(
            ring.unwrap(&acme, id, &old).await,
            Err(KeyError::MissingVersion { version: 1, .. })
        ));
        assert!(ring.unwrap(&acme, id, &new).await.is_ok());

        // Offboarding: the tenant's keys leave the file; nothing unwraps.
        assert!(ring.destroy_tenant(&acme).await.unwrap());
        assert!(!ring.destroy_tenant(&acme).await.unwrap());
        let file = std::fs::read_to_string(ring.path()).unwrap();
        assert!(!file.contains("acme"), "{file}");
        assert!(ring.unwrap(&acme, id, &new).await.is_err());
    }

    #[tokio::test]
    async fn a_tenant_added_ahead_is_used_and_an_unchangeable_keyring_says_what_to_do() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        let ring = LocalKeyring::create(&path).unwrap();
        let acme = tenant("acme");
        assert!(ring.add_tenant(&acme).unwrap());
        assert!(!ring.add_tenant(&acme).unwrap());

        // A keyring this process cannot change (its lock cannot be made;
        // a directory in the way refuses even root, as a read-only mount
        // refuses everyone): known tenants wrap, a new one is told how.
        std::fs::remove_file(path.with_extension("lock")).unwrap();
        std::fs::create_dir(path.with_extension("lock")).unwrap();
        let reader = LocalKeyring::open(&path).unwrap();
        assert!(
            reader
                .wrap(&acme, Uuid::new_v4(), &SecretKey::generate())
                .await
                .is_ok()
        );
        let refused = reader
            .wrap(&tenant("other"), Uuid::new_v4(), &SecretKey::generate())
            .await
            .unwrap_err();
        assert!(
            refused.to_string().contains("trellis keys add-tenant"),
            "{refused}"
        );
    }

    #[test]
    fn a_file_that_is_no_keyring_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("keyring.json");
        std::fs::write(&path, b"{\"not\":\"a keyring\"}").unwrap();
        let err = LocalKeyring::open(&path).unwrap_err().to_string();
        assert!(err.contains("is not a Trellis keyring"), "{err}");
        assert!(LocalKeyring::open(dir.path().join("absent.json")).is_err());
    }
}
