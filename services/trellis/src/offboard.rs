//! `trellis admin offboard-tenant`: a clinic network leaves. Run with the
//! services stopped (or no longer serving the tenant). Its records are
//! exported first — every event of every stream, opened, and the access
//! log of its plans, as JSON Lines with a manifest of SHA-256 sums — and
//! checked against the record's heads; then every data key of the tenant
//! and its key-encryption key are destroyed, and (embedded) the read
//! models are dropped to be rebuilt without it. The events stay, sealed:
//! the chains still verify; nothing of its content opens again.

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, bail};
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use trellis_kernel::{AccessLog, AccessQuery, EventStore, ReadDirection, RecordedEvent, TenantId};
use trellis_phi::{SealedEvents, Vault, shred_tenant};

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
    let opened = SealedEvents::new(Arc::clone(&record), Arc::clone(&vault));

    std::fs::create_dir_all(&args.export_to)?;
    crate::data_dir::prepare(&args.export_to)?;
    let heads = record.stream_heads(&tenant).await?;
    let (events, streams, plans) = export_events(&opened, &tenant, &args.export_to).await?;
    let accesses = export_access(access_log.as_ref(), &tenant, &plans, &args.export_to).await?;
    if record.stream_heads(&tenant).await? != heads {
        bail!(
            "the tenant's record changed while it was exported: stop the services serving it \
             and run again (nothing was destroyed)"
        );
    }
    let files = ["events.jsonl", "access-log.jsonl"]
        .iter()
        .map(|name| {
            let bytes = std::fs::read(args.export_to.join(name))?;
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
    say!(
        "{tenant}: {events} event(s) of {streams} stream(s) and {accesses} access record(s) exported to {}; {destroyed} data key(s) and the tenant's key-encryption key destroyed",
        args.export_to.display()
    );
    Ok(())
}

/// Every event of the tenant, opened, one JSON object per line.
async fn export_events(
    opened: &SealedEvents,
    tenant: &TenantId,
    dir: &Path,
) -> anyhow::Result<(u64, usize, Vec<String>)> {
    let heads = opened.stream_heads(tenant).await?;
    let mut out = Vec::new();
    let mut count = 0u64;
    let mut plans = Vec::new();
    for head in &heads {
        if head.stream.category() == "plan" {
            plans.push(head.stream.id().to_owned());
        }
        let mut from = None;
        loop {
            let page = opened
                .read_stream(&head.stream, ReadDirection::Forward, from, PAGE)
                .await?;
            for event in &page {
                serde_json::to_writer(&mut out, &event_line(event))?;
                out.push(b'\n');
                count += 1;
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
