//! `trellis keys`: the operator's view of PHI at rest — which tenants have
//! data keys under which key-encryption key version, and rotating a
//! tenant's key-encryption key. Runs beside a serving install (the keyring
//! is changed under its lock, the directory row by row).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use trellis_kernel::{KeyDirectory, TenantId};
use trellis_phi::{KeyProvider, LocalKeyring, rotate_tenant_key};
use trellis_store_sqlite::SqliteKeyDirectory;

use crate::sealing::{KEY_DIRECTORY_FILE, KEYRING_FILE};

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Each tenant's data keys and the key-encryption key versions
    /// wrapping them.
    Status(KeysArgs),
    /// Rotates a tenant's key-encryption key: every data key is wrapped
    /// again under a new version and the old version is destroyed. No
    /// event is rewritten.
    Rotate {
        #[command(flatten)]
        keys: KeysArgs,
        /// The tenant whose key rotates.
        #[arg(long)]
        tenant: String,
    },
    /// Makes a tenant's keys in the keyring before its first plan (for a
    /// keyring the serving processes may only read, e.g. a mounted
    /// secret); the keyring is made if there is none.
    AddTenant {
        /// The keyring file.
        #[arg(long, env = "TRELLIS_KEYRING")]
        keyring: PathBuf,
        #[arg(long)]
        tenant: String,
    },
}

#[derive(Debug, Args)]
pub struct KeysArgs {
    /// The embedded install's data directory (its `keys.db`).
    #[arg(long, env = "TRELLIS_DATA_DIR", default_value = "./trellis-data")]
    data_dir: PathBuf,
    /// A distributed deployment's PostgreSQL store instead of a data
    /// directory (its `trellis_data_keys` table).
    #[arg(long, env = "TRELLIS_STORE_URL")]
    store_url: Option<String>,
    /// The keyring (default `<data-dir>/keyring.json`; required with
    /// `--store-url`).
    #[arg(long, env = "TRELLIS_KEYRING")]
    keyring: Option<PathBuf>,
}

impl KeysArgs {
    /// The embedded install's data directory, when that is what is named.
    pub(crate) fn embedded_data_dir(&self) -> Option<&std::path::Path> {
        self.store_url.is_none().then_some(self.data_dir.as_path())
    }

    /// The event store and access log of the install (for offboarding).
    pub(crate) async fn open_record(
        &self,
    ) -> anyhow::Result<(
        Arc<dyn trellis_kernel::EventStore>,
        Arc<dyn trellis_kernel::AccessLog>,
    )> {
        match &self.store_url {
            Some(url) => {
                let store = Arc::new(
                    trellis_store_postgres::PostgresEventStore::connect(url)
                        .await
                        .context("cannot reach the PostgreSQL store")?,
                );
                Ok((store.clone(), store))
            }
            None => {
                let path = self.data_dir.join("events.db");
                if !path.exists() {
                    bail!("{} has no events.db", self.data_dir.display());
                }
                let store = Arc::new(
                    trellis_store_sqlite::SqliteEventStore::open(&path)
                        .context("cannot open the event store")?,
                );
                Ok((store.clone(), store))
            }
        }
    }

    pub(crate) async fn open(&self) -> anyhow::Result<(LocalKeyring, Arc<dyn KeyDirectory>)> {
        let (directory, keyring): (Arc<dyn KeyDirectory>, PathBuf) = match &self.store_url {
            Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
                let keyring = self
                    .keyring
                    .clone()
                    .context("give --keyring (TRELLIS_KEYRING) with --store-url")?;
                let store = trellis_store_postgres::PostgresEventStore::connect(url)
                    .await
                    .context("cannot reach the PostgreSQL store")?;
                (Arc::new(store), keyring)
            }
            Some(_) => bail!("--store-url must be a postgres:// URL"),
            None => {
                let path = self.data_dir.join(KEY_DIRECTORY_FILE);
                if !path.exists() {
                    bail!(
                        "{} has no {KEY_DIRECTORY_FILE}: is it a Trellis data directory?",
                        self.data_dir.display()
                    );
                }
                let directory =
                    SqliteKeyDirectory::open(&path).context("cannot open the key directory")?;
                let keyring = self
                    .keyring
                    .clone()
                    .unwrap_or_else(|| self.data_dir.join(KEYRING_FILE));
                (Arc::new(directory), keyring)
            }
        };
        let keyring = LocalKeyring::open(&keyring).context("cannot open the keyring")?;
        Ok((keyring, directory))
    }
}

pub async fn run(command: KeysCommand) -> anyhow::Result<()> {
    match command {
        KeysCommand::Status(args) => {
            let (keyring, directory) = args.open().await?;
            let tenants = directory.tenants().await?;
            if tenants.is_empty() {
                say!("no data keys yet");
            }
            for tenant in tenants {
                let all = directory.keys(&tenant).await?;
                let erased = all.iter().filter(|k| k.erased_at.is_some()).count();
                let keys: Vec<_> = all.into_iter().filter(|k| k.erased_at.is_none()).collect();
                let mut versions: Vec<u32> = keys.iter().map(|k| k.wrapped.kek_version).collect();
                versions.sort_unstable();
                versions.dedup();
                let opens = match keys.last() {
                    Some(k) => keyring.unwrap(&tenant, k.key_id, &k.wrapped).await.is_ok(),
                    None => true,
                };
                say!(
                    "{tenant}: {} data key(s), wrapped by key version(s) {}; the keyring {}",
                    keys.len(),
                    versions
                        .iter()
                        .map(u32::to_string)
                        .collect::<Vec<_>>()
                        .join(", "),
                    if opens {
                        "opens them"
                    } else {
                        "does NOT open them"
                    }
                );
                if erased > 0 {
                    say!("{tenant}: {erased} data key(s) destroyed (clients erased)");
                }
            }
            Ok(())
        }
        KeysCommand::AddTenant { keyring, tenant } => {
            let tenant = TenantId::parse(&tenant).context("--tenant")?;
            let ring = if keyring.exists() {
                LocalKeyring::open(&keyring)
            } else {
                LocalKeyring::create(&keyring)
            }
            .context("cannot open the keyring")?;
            if ring.add_tenant(&tenant)? {
                say!("{tenant}: keys made in {}", keyring.display());
            } else {
                say!("{tenant}: the keyring holds its keys already");
            }
            Ok(())
        }
        KeysCommand::Rotate { keys, tenant } => {
            let tenant = TenantId::parse(&tenant).context("--tenant")?;
            let (keyring, directory) = keys.open().await?;
            if !keyring.knows(&tenant).await? {
                bail!("the keyring holds no key for tenant {tenant}: nothing to rotate");
            }
            // Long enough for a wrap begun before the rotation to land.
            let rotation = rotate_tenant_key(
                &keyring,
                directory.as_ref(),
                &tenant,
                Duration::from_secs(2),
            )
            .await?;
            say!(
                "{tenant}: key-encryption key version {} is current; {} data key(s) wrapped again; \
                 versions below {} destroyed (version {} is kept until the next rotation)",
                rotation.version,
                rotation.rewrapped,
                rotation.destroyed_below,
                rotation.destroyed_below
            );
            Ok(())
        }
    }
}
