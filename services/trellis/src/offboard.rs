//! `trellis admin offboard-tenant`: a clinic network leaves. Run with the
//! services stopped (or no longer serving the tenant). Its records are
//! exported first — every event of every stream, opened, the plans as FHIR
//! R4 resources, and the access log of its plans, as JSON Lines with a
//! manifest of SHA-256 sums — and
//! checked against the record's heads; then every data key of the tenant
//! and its key-encryption key are destroyed, and (embedded) the read
//! models are dropped to be rebuilt without it. The events stay, sealed:
//! the chains still verify; nothing of its content opens again.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use trellis_audit::Audit;
use trellis_audit::integrity::DigestKey;
use trellis_auth::{Caller, Role};
use trellis_kernel::{AccessLog, AccessQuery, EventStore, ReadDirection, RecordedEvent, TenantId};
use trellis_phi::{SealedEvents, Vault, shred_tenant};
use trellis_plans_domain::PLAN_CATEGORY;
use trellis_projector::{PlanView, ReadModelStore, SqliteReadModels, apply_event};

use crate::keys_cli::KeysArgs;

#[derive(Debug, clap::Args)]
pub struct OffboardArgs {
    #[command(flatten)]
    keys: KeysArgs,
    /// The tenant that leaves.
    #[arg(long)]
    tenant: String,
    /// Where its records are exported: a new or empty directory (made 0700;
    /// the files hold PHI).
    #[arg(long)]
    export_to: PathBuf,
    /// The tenant's id once more: its keys are destroyed for good.
    #[arg(long)]
    confirm: String,
}

const PAGE: usize = 1000;

pub async fn run(args: OffboardArgs) -> anyhow::Result<()> {
    let tenant = TenantId::parse(&args.tenant).context("--tenant")?;
    if args.confirm != args.tenant {
        bail!("--confirm must repeat the tenant id: its keys are destroyed for good");
    }
    if args.export_to.exists() && std::fs::read_dir(&args.export_to)?.next().is_some() {
        bail!("{} is not empty", args.export_to.display());
    }
    let (keyring, directory) = args.keys.open().await?;
    let (record, access_log) = args.keys.open_record().await?;
    let vault = Arc::new(Vault::new(
        Arc::new(keyring),
        Arc::clone(&directory),
        crate::sealing::plan_subjects(),
    ));
    vault
        .check_opens_directory()
        .await
        .context("the keyring does not open this install's data keys")?;
    let opened = Arc::new(SealedEvents::new(Arc::clone(&record), Arc::clone(&vault)));

    std::fs::create_dir_all(&args.export_to)?;
    crate::data_dir::prepare(&args.export_to)?;
    let heads = record.stream_heads(&tenant).await?;
    let (events, streams, views) = export_events(&opened, &tenant, &args.export_to).await?;
    let plans: Vec<String> = views.keys().cloned().collect();
    // Before the access log: the export's own reads are in it.
    let fhir = export_fhir(
        views.into_values().flatten().collect(),
        Arc::clone(&opened) as Arc<dyn EventStore>,
        Arc::clone(&access_log),
        &tenant,
        &args.export_to,
    )
    .await?;
    let accesses = export_access(access_log.as_ref(), &tenant, &plans, &args.export_to).await?;
    if record.stream_heads(&tenant).await? != heads {
        bail!(
            "the tenant's record changed while it was exported: stop the services serving it \
             and run again (nothing was destroyed)"
        );
    }
    let files = ["events.jsonl".to_owned(), "access-log.jsonl".to_owned()]
        .into_iter()
        .chain(fhir.iter().map(|(name, _)| name.clone()))
        .map(|name| {
            let bytes = std::fs::read(args.export_to.join(&name))?;
            let digest: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            Ok(json!({ "name": name, "bytes": bytes.len(), "sha256": digest }))
        })
        .collect::<std::io::Result<Vec<_>>>()?;
    let manifest = json!({
        "format": "trellis-tenant-export-v1",
        "tenant": tenant.as_str(),
        "taken_at": chrono::Utc::now().to_rfc3339(),
        "events": events,
        "streams": streams,
        "access_records": accesses,
        // FHIR R4 resources by type, as the bulk export (`$export`) writes them.
        "fhir_resources": fhir.iter().map(|(name, count)| json!({ "file": name, "count": count })).collect::<Vec<_>>(),
        // What the export must agree with: the record's stream heads.
        "heads": heads.iter().map(|h| json!({
            "stream": h.stream.to_string(),
            "revision": h.revision,
            "hash": h.hash.to_hex(),
        })).collect::<Vec<_>>(),
        "files": files,
    });
    write_file(
        &args.export_to.join("manifest.json"),
        &serde_json::to_vec_pretty(&manifest)?,
    )?;
    std::fs::File::open(&args.export_to)?.sync_all()?;
    // Only once the export is written and synced are the keys destroyed.
    let destroyed = shred_tenant(vault.provider().as_ref(), directory.as_ref(), &tenant).await?;
    if directory
        .keys(&tenant)
        .await?
        .iter()
        .any(|k| k.erased_at.is_none())
    {
        bail!(
            "a data key of {tenant} was issued while it was offboarded (a service still serves \
             it): stop the services and run again"
        );
    }
    // Embedded: the read models still index the tenant's plans (ids,
    // dates, scores); they are rebuilt at the next start, without it.
    if let Some(data_dir) = args.keys.embedded_data_dir() {
        for entry in std::fs::read_dir(data_dir)? {
            let path = entry?.path();
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
            if name.is_some_and(|n| n.starts_with("read-models.db")) {
                std::fs::remove_file(&path)?;
            }
        }
    }
    let resources: usize = fhir.iter().map(|(_, count)| count).sum();
    say!(
        "{tenant}: {events} event(s) of {streams} stream(s), {resources} FHIR resource(s) and {accesses} access record(s) exported to {}; {destroyed} data key(s) and the tenant's key-encryption key destroyed",
        args.export_to.display()
    );
    Ok(())
}

/// Every event of the tenant, opened, one JSON object per line; and each
/// plan as its events make it (by plan id).
async fn export_events(
    opened: &SealedEvents,
    tenant: &TenantId,
    dir: &Path,
) -> anyhow::Result<(u64, usize, BTreeMap<String, Option<PlanView>>)> {
    let heads = opened.stream_heads(tenant).await?;
    let mut out = Vec::new();
    let mut count = 0u64;
    let mut plans = BTreeMap::new();
    for head in &heads {
        let mut view = (head.stream.category() == PLAN_CATEGORY)
            .then(|| plans.entry(head.stream.id().to_owned()).or_insert(None));
        let mut from = None;
        loop {
            let page = opened
                .read_stream(&head.stream, ReadDirection::Forward, from, PAGE)
                .await?;
            for event in &page {
                serde_json::to_writer(&mut out, &event_line(event))?;
                out.push(b'\n');
                count += 1;
                if let Some(view) = view.as_deref_mut() {
                    // An event that does not project is in events.jsonl
                    // all the same; the FHIR files show the plan without it.
                    let _ = apply_event(view, event);
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE => from = Some(last.revision + 1),
                _ => break,
            }
        }
    }
    write_file(&dir.join("events.jsonl"), &out)?;
    Ok((count, heads.len(), plans))
}

/// The plans as FHIR R4 resources, one NDJSON file per type under
/// `fhir/`, made by the gateway's own bulk export run in-process on read
/// models held in memory (no file holds them), as an auditor of the
/// tenant; `opened` is the record with content opened, for any field read
/// from the history. Answers each file's name (relative to `dir`) and
/// count.
async fn export_fhir(
    views: Vec<PlanView>,
    opened: Arc<dyn EventStore>,
    access_log: Arc<dyn AccessLog>,
    tenant: &TenantId,
    dir: &Path,
) -> anyhow::Result<Vec<(String, usize)>> {
    let read_models = SqliteReadModels::open(":memory:").context("in-memory read models")?;
    read_models.save(views, 0).await?;
    let key = DigestKey::generate();
    let audit = Audit::new(
        opened,
        Arc::clone(&access_log),
        key.clone(),
        key.public_key(),
    );
    let schema = trellis_gateway::build_schema(
        Arc::new(read_models),
        access_log,
        trellis_gateway::AuditBackend::Local(Box::new(audit)),
        None,
        None,
    );
    let auditor = Caller {
        tenant: tenant.clone(),
        subject: "offboard-export".into(),
        roles: vec![Role::Auditor],
        clinics: Vec::new(),
    };
    let files = trellis_gateway::fhir::export_plans(schema, auditor)
        .await
        .map_err(|reason| anyhow::anyhow!("the FHIR export failed: {reason}"))?;
    let fhir_dir = dir.join("fhir");
    std::fs::create_dir(&fhir_dir)?;
    crate::data_dir::prepare(&fhir_dir)?;
    let mut written = Vec::with_capacity(files.len());
    for file in files {
        let name = format!("fhir/{}.ndjson", file.resource_type);
        write_file(&dir.join(&name), &file.ndjson)?;
        written.push((name, file.count));
    }
    std::fs::File::open(&fhir_dir)?.sync_all()?;
    Ok(written)
}

fn event_line(event: &RecordedEvent) -> Value {
    let payload = serde_json::from_slice::<Value>(&event.payload)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&event.payload).into_owned()));
    json!({
        "stream": event.stream.to_string(),
        "revision": event.revision,
        "global_position": event.global_position,
        "event_id": event.event_id,
        "event_type": event.event_type,
        "schema_version": event.schema_version,
        "recorded_at": event.recorded_at.to_rfc3339(),
        "actor": event.metadata.actor,
        "causation_id": event.metadata.causation_id,
        "correlation_id": event.metadata.correlation_id,
        "reason": event.metadata.reason,
        "hash": event.hash.to_hex(),
        "payload": payload,
    })
}

/// The access log of each of the tenant's plans.
async fn export_access(
    access_log: &dyn AccessLog,
    tenant: &TenantId,
    plans: &[String],
    dir: &Path,
) -> anyhow::Result<u64> {
    let mut out = Vec::new();
    let mut count = 0u64;
    for plan in plans {
        let mut after = None;
        loop {
            let page = access_log
                .query(tenant, &AccessQuery::Plan(plan.clone()), after, PAGE)
                .await?;
            for logged in &page {
                serde_json::to_writer(&mut out, &logged.record)?;
                out.push(b'\n');
                count += 1;
            }
            match page.last() {
                Some(last) if page.len() == PAGE => after = Some(last.id),
                _ => break,
            }
        }
    }
    write_file(&dir.join("access-log.jsonl"), &out)?;
    Ok(count)
}

fn write_file(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
