//! `trellis backup` and `trellis restore`: a consistent online copy of the
//! embedded store, taken while the server runs, and bringing it back.
//!
//! Each database is copied with SQLite's `VACUUM INTO` from a read-only
//! connection: one read transaction, so the copy is exactly the database
//! at one instant, whatever the writer does meanwhile. The read models are
//! copied first, so they are never ahead of the events they were made from
//! (the projector catches up from its checkpoint after a restore), and the
//! key directory last, so it holds every data key a copied event names.
//! Keys are kept apart from the data: the keyring (which opens the plans)
//! and the audit signing key go to `--keys-to` (or `<backup>/keys`, with a
//! warning: whoever holds both directories reads every plan). `backup.json` lists
//! every file with its size and SHA-256; `restore` checks them first.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use rusqlite::{Connection, OpenFlags};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::sealing::{KEY_DIRECTORY_FILE, KEYRING_FILE};
use crate::serve::INSTALL_KEY_FILE;

/// The databases of the embedded store, in the order they are copied.
const DATABASES: [&str; 3] = ["read-models.db", "events.db", KEY_DIRECTORY_FILE];
const MANIFEST: &str = "backup.json";

#[derive(clap::Args, Debug)]
pub struct BackupArgs {
    /// The running (or stopped) server's data directory.
    #[arg(long, env = "TRELLIS_DATA_DIR", default_value = "./trellis-data")]
    pub data_dir: PathBuf,
    /// Where the backup goes: a new or empty directory.
    #[arg(long)]
    pub to: PathBuf,
    /// Where the keys go; keep it apart from the data (another disk,
    /// another vault). Default: `<to>/keys`, with a warning.
    #[arg(long)]
    pub keys_to: Option<PathBuf>,
    /// The install's keyring, when it is not `<data-dir>/keyring.json`.
    #[arg(long, env = "TRELLIS_KEYRING")]
    pub keyring: Option<PathBuf>,
}

#[derive(clap::Args, Debug)]
pub struct RestoreArgs {
    /// A directory `trellis backup` wrote.
    #[arg(long)]
    pub from: PathBuf,
    /// The data directory to restore into: new or empty (move the old one
    /// aside first), with no server running on it.
    #[arg(long, env = "TRELLIS_DATA_DIR", default_value = "./trellis-data")]
    pub data_dir: PathBuf,
    /// Where the backup's keys are, if not in `<from>/keys`.
    #[arg(long)]
    pub keys_from: Option<PathBuf>,
    /// Where the keyring goes, when not `<data-dir>/keyring.json` (the
    /// restored server must be started with the same `--keyring`).
    #[arg(long, env = "TRELLIS_KEYRING")]
    pub keyring: Option<PathBuf>,
}

fn sha256_hex(path: &Path) -> anyhow::Result<(u64, String)> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let digest = Sha256::digest(&bytes);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok((bytes.len() as u64, hex))
}

fn empty_or_new(dir: &Path, what: &str) -> anyhow::Result<()> {
    if dir.exists() && std::fs::read_dir(dir)?.next().is_some() {
        bail!("{what} {} is not empty", dir.display());
    }
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// Copies the embedded store into `args.to`.
pub fn backup(args: &BackupArgs) -> anyhow::Result<()> {
    empty_or_new(&args.to, "the backup directory")?;
    let mut files = Vec::new();
    for name in DATABASES {
        let source = args.data_dir.join(name);
        if !source.exists() {
            bail!(
                "{} has no {name}: is it a Trellis data directory?",
                args.data_dir.display()
            );
        }
        let target = args.to.join(name);
        let conn = Connection::open_with_flags(&source, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .with_context(|| format!("cannot open {}", source.display()))?;
        // Concurrent writes hold the lock only briefly.
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // Nothing of the copy in files under /tmp.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.execute("VACUUM INTO ?1", [target.to_string_lossy()])
            .with_context(|| format!("cannot copy {name}"))?;
        let (bytes, sha256) = sha256_hex(&target)?;
        files.push(json!({ "name": name, "bytes": bytes, "sha256": sha256 }));
    }
    let keys = args.keys_to.clone().unwrap_or_else(|| args.to.join("keys"));
    let keyring = args
        .keyring
        .clone()
        .unwrap_or_else(|| args.data_dir.join(KEYRING_FILE));
    if !keyring.exists() {
        bail!(
            "there is no keyring at {}: without it the backup's plans cannot be read (give \
             --keyring)",
            keyring.display()
        );
    }
    empty_or_new(&keys, "the keys directory")?;
    crate::data_dir::prepare(&keys)?;
    std::fs::copy(&keyring, keys.join(KEYRING_FILE))
        .with_context(|| format!("cannot copy {}", keyring.display()))?;
    let key = args.data_dir.join(INSTALL_KEY_FILE);
    if key.exists() {
        std::fs::copy(&key, keys.join(INSTALL_KEY_FILE))
            .with_context(|| format!("cannot copy {}", key.display()))?;
    }
    if args.keys_to.is_none() {
        eprintln!(
            "warning: the keyring and the audit signing key are in {} beside the data; move \
             that directory apart (whoever holds both reads every plan, and can sign a digest \
             over altered files)",
            keys.display()
        );
    }
    let manifest = json!({
        "format": 1,
        "taken_at": chrono::Utc::now().to_rfc3339(),
        "files": files,
    });
    std::fs::write(
        args.to.join(MANIFEST),
        serde_json::to_vec_pretty(&manifest)?,
    )?;
    say!(
        "backed up {} to {}",
        args.data_dir.display(),
        args.to.display()
    );
    Ok(())
}

/// Brings a backup back into an empty data directory, after checking
/// every file against the manifest.
pub fn restore(args: &RestoreArgs) -> anyhow::Result<()> {
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(args.from.join(MANIFEST))
            .with_context(|| format!("{} has no {MANIFEST}", args.from.display()))?,
    )
    .context("the backup's manifest is not JSON")?;
    let listed = manifest["files"]
        .as_array()
        .context("the manifest lists no files")?;
    for name in DATABASES {
        let entry = listed
            .iter()
            .find(|f| f["name"] == name)
            .with_context(|| format!("the backup has no {name}"))?;
        let (bytes, sha256) = sha256_hex(&args.from.join(name))?;
        if entry["bytes"] != bytes || entry["sha256"] != sha256.as_str() {
            bail!("{name} in the backup does not match its manifest: refusing to restore it");
        }
    }
    let keys = args
        .keys_from
        .clone()
        .unwrap_or_else(|| args.from.join("keys"));
    let keyring = keys.join(KEYRING_FILE);
    if !keyring.exists() {
        bail!(
            "no keyring in {}: the backup's plans cannot be read without it (give --keys-from)",
            keys.display()
        );
    }
    empty_or_new(&args.data_dir, "the data directory")?;
    crate::data_dir::prepare(&args.data_dir)?;
    for name in DATABASES {
        std::fs::copy(args.from.join(name), args.data_dir.join(name))
            .with_context(|| format!("cannot restore {name}"))?;
    }
    let keyring_target = args
        .keyring
        .clone()
        .unwrap_or_else(|| args.data_dir.join(KEYRING_FILE));
    std::fs::copy(&keyring, &keyring_target)
        .with_context(|| format!("cannot restore the keyring to {}", keyring_target.display()))?;
    let key = keys.join(INSTALL_KEY_FILE);
    if key.exists() {
        std::fs::copy(&key, args.data_dir.join(INSTALL_KEY_FILE))?;
    } else {
        eprintln!(
            "warning: no audit signing key in {}; the server will make a new one, and \
             digests signed by the old one verify only with its public key",
            keys.display()
        );
    }
    say!(
        "restored {} into {}; check it with `trellis audit verify --data-dir {}`",
        args.from.display(),
        args.data_dir.display(),
        args.data_dir.display()
    );
    Ok(())
}
