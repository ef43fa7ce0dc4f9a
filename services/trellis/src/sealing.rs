//! PHI at rest, as a process assembles it: the keyring, the key directory
//! beside the store, and the sealed stores every other part reads and
//! writes through. A process that cannot open the data keys this install
//! holds does not start: it never serves sealed bytes as content, and
//! never starts "empty" beside data it cannot read.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, bail};
use trellis_kernel::{
    ClientErasure, EventStore, KeyDirectory, SnapshotStore, StoreError, StreamName, TenantId,
};
use trellis_phi::{
    KeyProvider, LocalKeyring, SealedEvents, SealedSnapshots, SubjectOfCare, Vault, WHOLE_DOCUMENT,
};
use trellis_plans_domain::PlanEvent;
use trellis_projector::{DocumentSeal, ReadModelError, SealedPart};

/// The file the embedded install keeps its keyring in, unless one is
/// supplied elsewhere.
pub(crate) const KEYRING_FILE: &str = "keyring.json";
/// The embedded install's key directory (wrapped data keys).
pub(crate) const KEY_DIRECTORY_FILE: &str = "keys.db";

/// Plans are about one client: the one their `PlanCreated` names.
struct PlanSubjects;

impl SubjectOfCare for PlanSubjects {
    fn is_about_a_client(&self, stream: &StreamName) -> bool {
        stream.category() == "plan"
    }

    fn stays_in_clear(&self, event_type: &str) -> bool {
        event_type == "ClientErased"
    }

    fn client_named(
        &self,
        event_type: &str,
        schema_version: u32,
        payload: &[u8],
    ) -> Option<String> {
        if event_type != "PlanCreated" {
            return None;
        }
        match PlanEvent::decode(event_type, schema_version, payload).ok()? {
            PlanEvent::PlanCreated(created) => Some(created.client_id),
            _ => None,
        }
    }
}

/// Which streams the vault seals and for whom: plans, for their client.
pub(crate) fn plan_subjects() -> Arc<dyn SubjectOfCare> {
    Arc::new(PlanSubjects)
}

/// The stores as everything above them sees them, and the record beneath.
pub(crate) struct SealedStores {
    /// Plan payloads opened on reading, sealed on appending.
    pub events: Arc<dyn EventStore>,
    /// The stored (sealed) bytes: what verification and digests read.
    pub record: Arc<dyn EventStore>,
    pub snapshots: Option<Arc<dyn SnapshotStore>>,
    /// Seals and opens the plans' read-model documents.
    pub documents: Arc<dyn DocumentSeal>,
    /// Finds a client's plans and destroys their key.
    pub erasure: Arc<dyn ClientErasure>,
}

/// Read-model documents sealed under their plan's key, as the vault does.
struct VaultDocuments {
    vault: Arc<Vault>,
    record: Arc<dyn EventStore>,
}

fn plan_stream(tenant: &TenantId, plan_id: &str) -> Result<StreamName, ReadModelError> {
    StreamName::new(tenant.clone(), "plan", plan_id)
        .map_err(|_| ReadModelError::Corrupt("a plan id is malformed".into()))
}

/// The part's name in its binding: a list's part is bound to its list,
/// its place and the version it was written at, so a part does not open
/// moved within its plan or in place of a newer one.
fn part_name(part: SealedPart) -> Cow<'static, str> {
    match part {
        SealedPart::Document => Cow::Borrowed(WHOLE_DOCUMENT),
        SealedPart::Scores => Cow::Borrowed("scores"),
        SealedPart::List {
            list,
            index,
            written_at,
        } => Cow::Owned(format!("{WHOLE_DOCUMENT}/{list}/{index}@{written_at}")),
    }
}

fn read_model_error(e: StoreError) -> ReadModelError {
    match e {
        StoreError::Unavailable(reason) => ReadModelError::Unavailable(reason),
        other => ReadModelError::Corrupt(other.to_string()),
    }
}

#[async_trait::async_trait]
impl DocumentSeal for VaultDocuments {
    async fn seal(
        &self,
        tenant: &TenantId,
        plan_id: &str,
        part: SealedPart,
        document: String,
    ) -> Result<String, ReadModelError> {
        let stream = plan_stream(tenant, plan_id)?;
        self.vault
            .seal_document(self.record.as_ref(), &stream, &part_name(part), &document)
            .await
            .map_err(read_model_error)
    }

    async fn open(
        &self,
        tenant: &TenantId,
        plan_id: &str,
        part: SealedPart,
        document: String,
    ) -> Result<Option<String>, ReadModelError> {
        let stream = plan_stream(tenant, plan_id)?;
        self.vault
            .open_document(&stream, &part_name(part), document)
            .await
            .map_err(read_model_error)
    }
}

/// Wraps a store in sealing, with the keyring at `keyring` (made there on
/// first start, when nothing is sealed yet).
pub(crate) async fn seal(
    record: Arc<dyn EventStore>,
    snapshots: Option<Arc<dyn SnapshotStore>>,
    directory: Arc<dyn KeyDirectory>,
    keyring: &Path,
) -> anyhow::Result<SealedStores> {
    let provider = keyring_for(keyring, directory.as_ref(), record.as_ref()).await?;
    let vault = Arc::new(Vault::new(provider, directory, plan_subjects()));
    let tenants = vault.check_opens_directory().await.with_context(|| {
        format!(
            "the keyring at {} does not open this install's data keys; start with the keyring \
             this data was written with (--keyring / TRELLIS_KEYRING)",
            keyring.display()
        )
    })?;
    tracing::info!(tenants, keyring = %keyring.display(), "plan content is sealed at rest");
    Ok(SealedStores {
        events: Arc::new(SealedEvents::new(Arc::clone(&record), Arc::clone(&vault))),
        snapshots: snapshots.map(|inner| -> Arc<dyn SnapshotStore> {
            Arc::new(SealedSnapshots::new(
                inner,
                Arc::clone(&record),
                Arc::clone(&vault),
            ))
        }),
        documents: Arc::new(VaultDocuments {
            vault: Arc::clone(&vault),
            record: Arc::clone(&record),
        }),
        erasure: vault,
        record,
    })
}

async fn keyring_for(
    path: &Path,
    directory: &dyn KeyDirectory,
    record: &dyn EventStore,
) -> anyhow::Result<Arc<dyn KeyProvider>> {
    if path.exists() {
        return Ok(Arc::new(
            LocalKeyring::open(path).context("cannot open the keyring")?,
        ));
    }
    let tenants = directory
        .tenants()
        .await
        .context("cannot read the key directory")?;
    if !tenants.is_empty() {
        bail!(
            "there is no keyring at {}, but the key directory holds the data keys of {} \
             tenant(s): start with the keyring this data was written with (--keyring / \
             TRELLIS_KEYRING); a new one would open none of it",
            path.display(),
            tenants.len()
        );
    }
    if holds_sealed_events(record).await? {
        bail!(
            "the event store holds sealed plans but the key directory is empty: restore the \
             key directory (keys.db, or the trellis_data_keys table) and the keyring together"
        );
    }
    match LocalKeyring::create(path) {
        Ok(keyring) => {
            tracing::warn!(
                keyring = %path.display(),
                "made a new keyring: back it up apart from the data; without it no plan can be read"
            );
            Ok(Arc::new(keyring))
        }
        // Another process of the deployment made it first.
        Err(_) if path.exists() => Ok(Arc::new(
            LocalKeyring::open(path).context("cannot open the keyring")?,
        )),
        Err(e) => Err(e).context("cannot make a keyring"),
    }
}

/// Whether any of the last events stored is sealed (a store whose key
/// directory was lost or not restored).
async fn holds_sealed_events(record: &dyn EventStore) -> anyhow::Result<bool> {
    let Some(last) = record
        .last_position()
        .await
        .context("cannot read the event store")?
    else {
        return Ok(false);
    };
    let recent = record
        .read_all(Some(last.saturating_sub(512)), 512)
        .await
        .context("cannot read the event store")?;
    Ok(recent
        .iter()
        .any(|e| trellis_phi::key_id_of(&e.payload).is_some()))
}
