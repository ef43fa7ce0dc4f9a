//! The vault: which data key seals which stream, issued on a client's
//! first plan, unwrapped once and kept in memory for the process.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD as BASE64;
use chrono::Utc;
use trellis_kernel::{
    DataKeyRecord, ERASED_PAYLOAD, EventStore, KeyDirectory, NewEvent, ReadDirection,
    RecordedEvent, Snapshot, StoreError, StreamName, TenantId,
};
use uuid::Uuid;

use crate::cache::{Held, KeyCache};
use crate::provider::{KeyError, KeyProvider};
use crate::seal::{SecretKey, key_id_of};

/// What the vault must know of the domain: which streams are about one
/// client, and which event names that client.
/// How sealed text (a read-model document, a reason) starts; no JSON
/// document does.
const SEALED_TEXT: &str = "sealed:";
/// Appended to an event's binding for its sealed reason.
const REASON_BINDING: &[u8] = b"\0reason";

pub trait SubjectOfCare: Send + Sync + 'static {
    /// Whether the stream's events are about one client, and so sealed
    /// under that client's key.
    fn is_about_a_client(&self, stream: &StreamName) -> bool;

    /// The client an event names as its stream's subject (the event that
    /// opens the stream), if it is such an event.
    fn client_named(&self, event_type: &str, schema_version: u32, payload: &[u8])
    -> Option<String>;

    /// Whether events of this type are stored in clear even in a stream
    /// about a client: the record of the client's erasure, written as its
    /// key is destroyed, holds no PHI and must stay readable.
    fn stays_in_clear(&self, event_type: &str) -> bool;
}

pub struct Vault {
    provider: Arc<dyn KeyProvider>,
    directory: Arc<dyn KeyDirectory>,
    subjects: Arc<dyn SubjectOfCare>,
    keys: KeyCache,
    stream_keys: Mutex<HashMap<StreamName, Uuid>>,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Vault").finish_non_exhaustive()
    }
}

impl Vault {
    pub fn new(
        provider: Arc<dyn KeyProvider>,
        directory: Arc<dyn KeyDirectory>,
        subjects: Arc<dyn SubjectOfCare>,
    ) -> Self {
        Self {
            provider,
            directory,
            subjects,
            keys: KeyCache::default(),
            stream_keys: Mutex::default(),
        }
    }

    pub fn provider(&self) -> &Arc<dyn KeyProvider> {
        &self.provider
    }

    pub fn directory(&self) -> &Arc<dyn KeyDirectory> {
        &self.directory
    }

    pub(crate) fn key_cache(&self) -> &KeyCache {
        &self.keys
    }

    pub(crate) fn seals(&self, stream: &StreamName) -> bool {
        self.subjects.is_about_a_client(stream)
    }

    pub(crate) fn keeps_in_clear(&self, event: &NewEvent) -> bool {
        self.subjects.stays_in_clear(&event.event_type)
    }

    /// Refuses to start on a provider that cannot open this install's data
    /// keys: every tenant with keys must have one of them unwrap. Answers
    /// how many tenants were checked.
    pub async fn check_opens_directory(&self) -> Result<usize, KeyError> {
        let tenants = self
            .directory
            .tenants()
            .await
            .map_err(|e| KeyError::Unavailable(format!("key directory: {e}")))?;
        for tenant in &tenants {
            let keys = self
                .directory
                .keys(tenant)
                .await
                .map_err(|e| KeyError::Unavailable(format!("key directory: {e}")))?;
            let live = keys.iter().filter(|k| k.erased_at.is_none());
            if let Some(newest) = live.max_by_key(|k| k.created_at) {
                self.provider
                    .unwrap(tenant, newest.key_id, &newest.wrapped)
                    .await?;
            }
        }
        Ok(tenants.len())
    }

    /// The data key with this id, unwrapped; `None` when it was destroyed.
    pub(crate) async fn key(
        &self,
        tenant: &TenantId,
        key_id: Uuid,
    ) -> Result<Option<SecretKey>, StoreError> {
        match self.keys.get(tenant, key_id) {
            Some(Held::Key(key)) => return Ok(Some(key)),
            Some(Held::Erased) => return Ok(None),
            None => {}
        }
        let record = self.directory.key(tenant, key_id).await?.ok_or_else(|| {
            StoreError::Corrupt(format!("data key {key_id} is not in the key directory"))
        })?;
        if record.erased_at.is_some() {
            self.keys.put(tenant, key_id, Held::Erased);
            return Ok(None);
        }
        let key = self
            .provider
            .unwrap(tenant, key_id, &record.wrapped)
            .await
            .map_err(provider_failure)?;
        self.keys.put(tenant, key_id, Held::Key(key.clone()));
        Ok(Some(key))
    }

    /// The data key with this id for sealing: a destroyed one refuses.
    async fn live_key(&self, tenant: &TenantId, key_id: Uuid) -> Result<SecretKey, StoreError> {
        self.key(tenant, key_id).await?.ok_or_else(|| {
            StoreError::Corrupt(format!(
                "data key {key_id} was destroyed: its client was erased, nothing more is sealed under it"
            ))
        })
    }

    /// The client's data key, issued (and wrapped) on first use.
    async fn issue_for(&self, tenant: &TenantId, client: &str) -> Result<Uuid, StoreError> {
        let tag = self
            .provider
            .subject_tag(tenant, client)
            .await
            .map_err(provider_failure)?;
        if let Some(held) = self.directory.subject_key(tenant, &tag).await? {
            return Ok(held.key_id);
        }
        let key = SecretKey::generate();
        let key_id = Uuid::new_v4();
        let wrapped = self
            .provider
            .wrap(tenant, key_id, &key)
            .await
            .map_err(provider_failure)?;
        let held = self
            .directory
            .issue(DataKeyRecord {
                tenant: tenant.clone(),
                key_id,
                subject_tag: tag,
                wrapped,
                created_at: Utc::now(),
                erased_at: None,
            })
            .await?;
        if held.key_id == key_id {
            self.keys.put(tenant, key_id, Held::Key(key));
        }
        Ok(held.key_id)
    }

    /// The key that seals `stream`: the one its first event names, or for
    /// a new stream (or one begun before sealing) its client's.
    pub(crate) async fn stream_key(
        &self,
        inner: &dyn EventStore,
        stream: &StreamName,
        batch: &[NewEvent],
    ) -> Result<(Uuid, SecretKey), StoreError> {
        let cached = self.lock_streams().get(stream).copied();
        let key_id = match cached {
            Some(id) => id,
            None => {
                let first = inner
                    .read_stream(stream, ReadDirection::Forward, None, 1)
                    .await?;
                // Sealed already: bound to its key when it was made.
                let sealed_with = first.first().and_then(|e| key_id_of(&e.payload));
                let id = match (sealed_with, first.first()) {
                    (Some(id), _) => id,
                    // A new stream, or one begun before sealing: its
                    // client's key, bound to it so an erasure finds it.
                    (None, opened) => {
                        let client = match opened {
                            Some(event) => self.client_of(
                                &event.event_type,
                                event.schema_version,
                                &event.payload,
                            )?,
                            None => self.client_of_batch(stream, batch)?,
                        };
                        let id = self.issue_for(stream.tenant(), &client).await?;
                        self.directory
                            .bind_stream(stream.tenant(), id, &stream.to_string())
                            .await?;
                        id
                    }
                };
                self.lock_streams().insert(stream.clone(), id);
                id
            }
        };
        Ok((key_id, self.live_key(stream.tenant(), key_id).await?))
    }

    /// The client the first append to a new stream names.
    fn client_of_batch(
        &self,
        stream: &StreamName,
        batch: &[NewEvent],
    ) -> Result<String, StoreError> {
        batch
            .iter()
            .find_map(|e| {
                self.subjects
                    .client_named(&e.event_type, e.schema_version, &e.payload)
            })
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "the first append to {stream} names no client to seal it for"
                ))
            })
    }

    fn client_of(
        &self,
        event_type: &str,
        schema_version: u32,
        payload: &[u8],
    ) -> Result<String, StoreError> {
        self.subjects
            .client_named(event_type, schema_version, payload)
            .ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "a stream opened by a {event_type} event names no client to seal it for"
                ))
            })
    }

    pub(crate) fn seal_event(
        &self,
        stream: &StreamName,
        key_id: Uuid,
        key: &SecretKey,
        mut event: NewEvent,
    ) -> NewEvent {
        let mut aad = event_binding(
            stream,
            event.event_id,
            &event.event_type,
            event.schema_version,
        );
        event.payload = key.seal(key_id, &aad, &event.payload);
        // The reason a clinician gives (a correction's, a revision's) is
        // free text: sealed too, bound to the same event.
        if let Some(reason) = event.metadata.reason.take() {
            aad.extend_from_slice(REASON_BINDING);
            let sealed = key.seal(key_id, &aad, reason.as_bytes());
            event.metadata.reason = Some(format!("{SEALED_TEXT}{}", BASE64.encode(sealed)));
        }
        event
    }

    /// The event with its payload opened; events in clear pass as they are.
    pub async fn open_event(&self, mut event: RecordedEvent) -> Result<RecordedEvent, StoreError> {
        let Some(key_id) = key_id_of(&event.payload) else {
            return Ok(event);
        };
        let Some(key) = self.key(event.stream.tenant(), key_id).await? else {
            // Its client was erased: the envelope stands, the content is gone.
            event.payload = ERASED_PAYLOAD.to_vec();
            if event
                .metadata
                .reason
                .as_deref()
                .is_some_and(|r| r.starts_with(SEALED_TEXT))
            {
                event.metadata.reason = None;
            }
            return Ok(event);
        };
        self.lock_streams()
            .entry(event.stream.clone())
            .or_insert(key_id);
        let mut aad = event_binding(
            &event.stream,
            event.event_id,
            &event.event_type,
            event.schema_version,
        );
        let unreadable = |event: &RecordedEvent| {
            StoreError::Corrupt(format!(
                "event {} of {} does not open with its data key",
                event.revision, event.stream
            ))
        };
        let payload = key
            .open(&event.payload, &aad)
            .ok_or_else(|| unreadable(&event))?;
        let sealed_reason = event
            .metadata
            .reason
            .as_deref()
            .and_then(|r| r.strip_prefix(SEALED_TEXT))
            .map(str::to_owned);
        if let Some(sealed) = sealed_reason {
            aad.extend_from_slice(REASON_BINDING);
            let opened = BASE64
                .decode(sealed)
                .ok()
                .and_then(|bytes| key.open(&bytes, &aad))
                .and_then(|bytes| String::from_utf8(bytes).ok())
                .ok_or_else(|| unreadable(&event))?;
            event.metadata.reason = Some(opened);
        }
        event.payload = payload;
        Ok(event)
    }

    pub(crate) async fn seal_snapshot(
        &self,
        inner: &dyn EventStore,
        stream: &StreamName,
        mut snapshot: Snapshot,
    ) -> Result<Snapshot, StoreError> {
        let (key_id, key) = self.stream_key(inner, stream, &[]).await?;
        let aad = snapshot_binding(stream, &snapshot);
        snapshot.payload = key.seal(key_id, &aad, &snapshot.payload);
        Ok(snapshot)
    }

    /// The snapshot opened, or `None` when it cannot be (a snapshot is a
    /// cache: the stream is folded from its events instead).
    pub(crate) async fn open_snapshot(
        &self,
        stream: &StreamName,
        mut snapshot: Snapshot,
    ) -> Option<Snapshot> {
        let Some(key_id) = key_id_of(&snapshot.payload) else {
            // Written before sealing: dropped rather than trusted.
            return None;
        };
        let key = self.key(stream.tenant(), key_id).await.ok()??;
        snapshot.payload = key.open(&snapshot.payload, &snapshot_binding(stream, &snapshot))?;
        Some(snapshot)
    }

    /// One part of a plan's read model (`part`: [`WHOLE_DOCUMENT`] or the
    /// name of another part) sealed under its stream's key, as text
    /// (`sealed:` and the sealed bytes in base64) for stores of text. The
    /// seal is bound to the stream and the part.
    pub async fn seal_document(
        &self,
        inner: &dyn EventStore,
        stream: &StreamName,
        part: &str,
        document: &str,
    ) -> Result<String, StoreError> {
        let (key_id, key) = self.stream_key(inner, stream, &[]).await?;
        let sealed = key.seal(key_id, &document_binding(stream, part), document.as_bytes());
        Ok(format!("{SEALED_TEXT}{}", BASE64.encode(sealed)))
    }

    /// Opens what [`Vault::seal_document`] made for the same stream and
    /// part; a document in clear (written before sealing) passes as it is.
    /// `None`: it was sealed under a destroyed key (its client was erased).
    pub async fn open_document(
        &self,
        stream: &StreamName,
        part: &str,
        document: String,
    ) -> Result<Option<String>, StoreError> {
        let Some(text) = document.strip_prefix(SEALED_TEXT) else {
            return Ok(Some(document));
        };
        let unreadable =
            || StoreError::Corrupt(format!("the read model of {stream} does not open"));
        let sealed = BASE64.decode(text).map_err(|_| unreadable())?;
        let key_id = key_id_of(&sealed).ok_or_else(unreadable)?;
        let Some(key) = self.key(stream.tenant(), key_id).await? else {
            return Ok(None);
        };
        let opened = key
            .open(&sealed, &document_binding(stream, part))
            .ok_or_else(unreadable)?;
        String::from_utf8(opened)
            .map(Some)
            .map_err(|_| unreadable())
    }

    fn lock_streams(&self) -> std::sync::MutexGuard<'_, HashMap<StreamName, Uuid>> {
        self.stream_keys.lock().unwrap_or_else(|p| p.into_inner())
    }
}

pub(crate) fn provider_failure(e: KeyError) -> StoreError {
    match e {
        KeyError::Unavailable(reason) => StoreError::Unavailable(format!("key provider: {reason}")),
        other => StoreError::Corrupt(other.to_string()),
    }
}

/// What an event's sealed payload is bound to: its place and its type, so
/// sealed bytes moved to another event do not open.
fn event_binding(
    stream: &StreamName,
    event_id: Uuid,
    event_type: &str,
    schema_version: u32,
) -> Vec<u8> {
    let mut aad = b"trellis-event-v1\0".to_vec();
    aad.extend_from_slice(stream.to_string().as_bytes());
    aad.push(0);
    aad.extend_from_slice(event_id.as_bytes());
    aad.extend_from_slice(event_type.as_bytes());
    aad.push(0);
    aad.extend_from_slice(&schema_version.to_be_bytes());
    aad
}

/// The part name of a plan's whole read-model document.
pub const WHOLE_DOCUMENT: &str = "document";

fn document_binding(stream: &StreamName, part: &str) -> Vec<u8> {
    let mut aad = b"trellis-read-model-v1\0".to_vec();
    aad.extend_from_slice(stream.to_string().as_bytes());
    // The whole document keeps the binding it had before parts existed.
    if part != WHOLE_DOCUMENT {
        aad.push(0);
        aad.extend_from_slice(part.as_bytes());
    }
    aad
}

fn snapshot_binding(stream: &StreamName, snapshot: &Snapshot) -> Vec<u8> {
    let mut aad = b"trellis-snapshot-v1\0".to_vec();
    aad.extend_from_slice(stream.to_string().as_bytes());
    aad.push(0);
    aad.extend_from_slice(&snapshot.revision.to_be_bytes());
    aad.extend_from_slice(&snapshot.schema_version.to_be_bytes());
    aad
}
