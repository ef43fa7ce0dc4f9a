//! The distributed topology: `trellis plans-service`, `trellis projector`
//! and `trellis gateway` as separate processes, configured by environment,
//! on a server-backed store (PostgreSQL) and Redis read models.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use trellis_gateway::GatewayConfig;
use trellis_kernel::{AccessLog, EventStore, KeyDirectory, SnapshotStore};
use trellis_projector::{LocalChanges, Projector, ReadModelStore, RedisChanges, RedisReadModels};
use trellis_store_postgres::PostgresEventStore;
use trellis_store_sqlite::{SqliteEventStore, SqliteKeyDirectory};

use crate::sealing::{KEY_DIRECTORY_FILE, KEYRING_FILE, SealedStores, seal};

use crate::args::{AuditArgs, SecretArgs};
use crate::health::{Check, Readiness, ReadinessArgs, health_routes};
use crate::listen::{ConnectionArgs, Listener};
use crate::serve::{
    audit_service, grpc_services, keep_projecting, periodic_digests, plans_client, serve_http,
    shutdown_signal,
};
use crate::telemetry::LogFormat;
use trellis_proto::audit::v1::audit_service_client::AuditServiceClient;

#[derive(Debug, clap::Args)]
pub struct Telemetry {
    #[arg(long, env = "TRELLIS_LOG_FORMAT", value_enum, default_value = "json")]
    log_format: LogFormat,
    /// Export traces and metrics over OTLP (OTEL_* variables).
    #[arg(long, env = "TRELLIS_OTEL", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    otel: bool,
}

#[derive(Debug, clap::Args)]
pub struct Store {
    /// The event store: `postgres://user@host/db`, `kurrentdb://host:2113,…`
    /// (with `--features kurrentdb`), or `sqlite:PATH` (one process only).
    #[arg(long, env = "TRELLIS_STORE_URL")]
    store_url: String,
    /// Where the access log goes when the event store cannot hold it
    /// (KurrentDB): a `postgres://` URL. Otherwise the event store keeps it.
    #[arg(long, env = "TRELLIS_ACCESS_LOG_URL")]
    access_log_url: Option<String>,
    /// How long a PostgreSQL operation waits for a connection before it
    /// answers UNAVAILABLE: the bound on a command or read while the
    /// database is unreachable (milliseconds).
    #[arg(long, env = "TRELLIS_STORE_TIMEOUT_MS", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(100..=60_000))]
    store_timeout_ms: u64,
    /// The keyring every process of the deployment shares (each tenant's
    /// key-encryption key), made on first start if absent. Required,
    /// except beside a `sqlite:` store (default `keyring.json` there).
    #[arg(long, env = "TRELLIS_KEYRING")]
    keyring: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PlansServiceArgs {
    #[command(flatten)]
    store: Store,
    #[arg(long, env = "TRELLIS_GRPC_ADDR", default_value = "0.0.0.0:50051")]
    grpc_addr: SocketAddr,
    /// Health endpoints (`/healthz`, `/readyz`).
    #[arg(long, env = "TRELLIS_HTTP_ADDR", default_value = "0.0.0.0:8081")]
    http_addr: SocketAddr,
    #[command(flatten)]
    secret: SecretArgs,
    #[command(flatten)]
    audit: AuditArgs,
    #[command(flatten)]
    telemetry: Telemetry,
    #[command(flatten)]
    connections: ConnectionArgs,
    #[command(flatten)]
    readiness: ReadinessArgs,
    #[command(flatten)]
    commands: crate::args::CommandArgs,
}

#[derive(Debug, clap::Args)]
pub struct ProjectorArgs {
    #[command(flatten)]
    store: Store,
    #[arg(
        long,
        env = "TRELLIS_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    redis_url: String,
    /// Read-model namespace; a rebuild can run beside the live one in another.
    #[arg(long, env = "TRELLIS_READ_MODEL_NAMESPACE", default_value = "trellis")]
    namespace: String,
    /// How long the projector's lease lasts unless renewed (renewed every
    /// second): a standby takes over within this time after the active
    /// projector dies (seconds).
    #[arg(long, env = "TRELLIS_PROJECTOR_LEASE_SECS", default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(2..=300))]
    lease_secs: u64,
    /// Health endpoints (`/healthz`, `/readyz`).
    #[arg(long, env = "TRELLIS_HTTP_ADDR", default_value = "0.0.0.0:8082")]
    http_addr: SocketAddr,
    #[command(flatten)]
    telemetry: Telemetry,
    #[command(flatten)]
    connections: ConnectionArgs,
    #[command(flatten)]
    readiness: ReadinessArgs,
}

#[derive(Debug, clap::Args)]
pub struct GatewayArgs {
    /// The event store, for the access log and the auditor's queries.
    #[command(flatten)]
    store: Store,
    #[arg(
        long,
        env = "TRELLIS_REDIS_URL",
        default_value = "redis://127.0.0.1:6379"
    )]
    redis_url: String,
    #[arg(long, env = "TRELLIS_READ_MODEL_NAMESPACE", default_value = "trellis")]
    namespace: String,
    /// The plans service's gRPC URL, where mutations go.
    #[arg(
        long,
        env = "TRELLIS_PLANS_URL",
        default_value = "http://127.0.0.1:50051"
    )]
    plans_url: String,
    /// The audit service's gRPC URL, for the auditor's queries (the plans
    /// service hosts it). Default: TRELLIS_PLANS_URL.
    #[arg(long, env = "TRELLIS_AUDIT_URL")]
    audit_url: Option<String>,
    #[arg(long, env = "TRELLIS_HTTP_ADDR", default_value = "0.0.0.0:8080")]
    http_addr: SocketAddr,
    /// Serve GraphiQL on GET /graphql. Default: on in development mode,
    /// off otherwise (as for `serve`).
    #[arg(long, env = "TRELLIS_GRAPHIQL", action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    graphiql: Option<bool>,
    /// GraphQL requests per tenant per minute, counted in Redis across
    /// gateway instances; 0 means no limit.
    #[arg(long, env = "TRELLIS_RATE_LIMIT_PER_MINUTE", default_value_t = 12_000)]
    rate_limit_per_minute: u64,
    /// GraphQL requests per caller (token subject) per minute; 0: no limit.
    #[arg(long, env = "TRELLIS_RATE_LIMIT_PER_SUBJECT", default_value_t = 1_200)]
    rate_limit_per_subject: u64,
    #[command(flatten)]
    edge: crate::edge_args::EdgeArgs,
    #[command(flatten)]
    console: crate::console_args::ConsoleArgs,
    #[command(flatten)]
    secret: SecretArgs,
    #[command(flatten)]
    telemetry: Telemetry,
    #[command(flatten)]
    connections: ConnectionArgs,
    #[command(flatten)]
    readiness: ReadinessArgs,
}

async fn postgres(url: &str, answer_within: Duration) -> anyhow::Result<Arc<PostgresEventStore>> {
    Ok(Arc::new(
        PostgresEventStore::connect_within(url, answer_within)
            .await
            .context("cannot reach the PostgreSQL store")?,
    ))
}

/// A store as the configuration names it: events, the access log, and
/// plan snapshots where the backend keeps them.
struct Opened {
    events: Arc<dyn EventStore>,
    access_log: Arc<dyn AccessLog>,
    snapshots: Option<Arc<dyn SnapshotStore>>,
    directory: Arc<dyn KeyDirectory>,
}

/// The store the configuration names, sealed: plan content opened for the
/// process, sealed in the store.
async fn open_sealed(store: &Store) -> anyhow::Result<(SealedStores, Arc<dyn AccessLog>)> {
    let opened = open_store(store).await?;
    let keyring = match (&store.keyring, store.store_url.strip_prefix("sqlite:")) {
        (Some(path), _) => path.clone(),
        (None, Some(events)) => Path::new(events).with_file_name(KEYRING_FILE),
        (None, None) => bail!(
            "set TRELLIS_KEYRING: the keyring file every process of this deployment shares \
             (made on first start if absent; keep its backups apart from the data's)"
        ),
    };
    let sealed = seal(opened.events, opened.snapshots, opened.directory, &keyring).await?;
    Ok((sealed, opened.access_log))
}

/// Opens the event store (and its access log) the configuration names.
async fn open_store(store: &Store) -> anyhow::Result<Opened> {
    let url = store.store_url.as_str();
    if url.starts_with("kurrentdb://")
        || url.starts_with("esdb://")
        || url.starts_with("kurrentdb+discover://")
    {
        let events = open_kurrentdb(url)?;
        let access_url = store.access_log_url.as_deref().context(
            "a KurrentDB store keeps events only: set TRELLIS_ACCESS_LOG_URL (postgres://) for the access log",
        )?;
        let access_log =
            postgres(access_url, Duration::from_millis(store.store_timeout_ms)).await?;
        // KurrentDB keeps no snapshot table: plans fold from their events.
        // The data keys live beside the access log.
        return Ok(Opened {
            events,
            access_log: access_log.clone(),
            snapshots: None,
            directory: access_log,
        });
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        let store = postgres(url, Duration::from_millis(store.store_timeout_ms)).await?;
        return Ok(Opened {
            events: store.clone(),
            access_log: store.clone(),
            snapshots: Some(store.clone()),
            directory: store,
        });
    }
    if let Some(path) = url.strip_prefix("sqlite:") {
        let store = Arc::new(SqliteEventStore::open(path).context("cannot open the event store")?);
        let directory =
            SqliteKeyDirectory::open(Path::new(path).with_file_name(KEY_DIRECTORY_FILE))
                .context("cannot open the key directory")?;
        return Ok(Opened {
            events: store.clone(),
            access_log: store.clone(),
            snapshots: Some(store),
            directory: Arc::new(directory),
        });
    }
    bail!("TRELLIS_STORE_URL must start with postgres://, kurrentdb:// or sqlite:")
}

#[cfg(feature = "kurrentdb")]
fn open_kurrentdb(url: &str) -> anyhow::Result<Arc<dyn EventStore>> {
    Ok(Arc::new(
        trellis_store_kurrentdb::KurrentEventStore::connect(url).context("KurrentDB store")?,
    ))
}

#[cfg(not(feature = "kurrentdb"))]
fn open_kurrentdb(_url: &str) -> anyhow::Result<Arc<dyn EventStore>> {
    bail!(
        "this trellis was built without KurrentDB support: cargo build --release -p trellis --features kurrentdb"
    )
}

async fn bind(
    addr: SocketAddr,
    what: &'static str,
    connections: &ConnectionArgs,
) -> anyhow::Result<Listener> {
    Listener::http(addr, what, connections.limits()).await
}

async fn with_telemetry<F>(
    telemetry: &Telemetry,
    service: &'static str,
    run: F,
) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<()>>,
{
    let installed = crate::telemetry::init(telemetry.log_format, telemetry.otel, service)?;
    let result = run.await;
    installed.shutdown();
    result
}

pub async fn plans_service(args: PlansServiceArgs) -> anyhow::Result<()> {
    with_telemetry(&args.telemetry, "trellis-plans-service", async {
        let limits = args.connections.limits();
        crate::listen::raise_file_limit(&limits, 2);
        let (sealed, access_log) = open_sealed(&args.store).await?;
        let events = Arc::clone(&sealed.events);
        let key = split_key(&args.audit, args.secret.dev)?;
        let audit = audit_service(
            &args.audit,
            key,
            Arc::clone(&events),
            Arc::clone(&sealed.record),
            Arc::clone(&access_log),
        )?;
        let verifier = Arc::new(args.secret.verifier()?);
        let grpc_listener = Listener::grpc(args.grpc_addr, limits).await?;
        let http_listener = bind(args.http_addr, "health", &args.connections).await?;
        let (grpc_addr, http_addr) = (grpc_listener.local_addr()?, http_listener.local_addr()?);
        let digests = tokio::spawn(periodic_digests(
            audit.clone(),
            Arc::clone(&sealed.record),
            args.audit.digest_interval_secs,
        ));
        let readiness = Readiness::new(&args.readiness, [Check::store_writes(Arc::clone(&events))]);
        let commands = args.commands.plan_commands(&sealed, access_log);
        let grpc = grpc_services(commands, audit, verifier, &limits, &readiness)
            .await?
            .serve_with_incoming_shutdown(grpc_listener.incoming(), shutdown_signal());
        let health = serve_http(http_listener, health_routes(readiness));
        tracing::info!(%grpc_addr, %http_addr, "plans service serving");
        println!("trellis ready grpc={grpc_addr} http={http_addr}");
        let (grpc, health) = tokio::join!(grpc, health);
        digests.abort();
        grpc.context("gRPC server failed")?;
        health.context("health server failed")?;
        Ok(())
    })
    .await
}

pub async fn projector(args: ProjectorArgs) -> anyhow::Result<()> {
    with_telemetry(&args.telemetry, "trellis-projector", async {
        crate::listen::raise_file_limit(&args.connections.limits(), 1);
        let sealed = open_sealed(&args.store).await?.0;
        let events = sealed.events;
        let read_models: Arc<dyn ReadModelStore> = Arc::new(
            RedisReadModels::connect(&args.redis_url, &args.namespace)
                .await
                .context("cannot reach Redis")?
                .sealed_by(sealed.documents),
        );
        let http_listener = bind(args.http_addr, "health", &args.connections).await?;
        let http_addr = http_listener.local_addr()?;
        let announcements = RedisChanges::connect(&args.redis_url)
            .await
            .context("cannot reach Redis")?;
        let projector = Projector::new(Arc::clone(&events), Arc::clone(&read_models))
            .leasing_for(Duration::from_secs(args.lease_secs))
            .announcing_to(Arc::new(announcements));
        let readiness = Readiness::new(
            &args.readiness,
            [
                Check::store_answers(Arc::clone(&events)),
                Check::read_models(read_models),
                Check::projection_lag(events, projector.position()),
                Check::holds_lease(projector.holding()),
            ],
        );
        let projection = tokio::spawn(keep_projecting(projector));
        let health = serve_http(http_listener, health_routes(readiness));
        tracing::info!(%http_addr, namespace = %args.namespace, "projector running");
        println!("trellis ready http={http_addr}");
        let stopped = health.await;
        projection.abort();
        stopped.context("health server failed")?;
        Ok(())
    })
    .await
}

pub async fn gateway(args: GatewayArgs) -> anyhow::Result<()> {
    with_telemetry(&args.telemetry, "trellis-gateway", async {
        crate::listen::raise_file_limit(&args.connections.limits(), 1);
        let (sealed, access_log) = open_sealed(&args.store).await?;
        let events = sealed.events;
        // The auditor's queries go to the audit service over gRPC, which
        // logs them as it answers.
        let audit_url = args.audit_url.as_deref().unwrap_or(&args.plans_url);
        let audit = trellis_gateway::AuditBackend::Remote(trellis_gateway::RemoteAudit {
            service: AuditServiceClient::new(
                tonic::transport::Endpoint::from_shared(audit_url.to_owned())
                    .context("audit service URL")?
                    .connect_lazy(),
            ),
            history: Arc::clone(&events),
        });
        let read_models: Arc<dyn ReadModelStore> = Arc::new(
            RedisReadModels::connect(&args.redis_url, &args.namespace)
                .await
                .context("cannot reach Redis")?
                .sealed_by(sealed.documents),
        );
        let verifier = Arc::new(args.secret.verifier()?);
        let mobile = Arc::new(
            trellis_gateway::mobile::RedisMobile::connect(
                &args.redis_url,
                args.rate_limit_per_minute,
            )
            .await
            .context("cannot reach Redis")?
            .per_subject(args.rate_limit_per_subject),
        );
        // Every gateway hears every change through Redis pub/sub.
        let changes = LocalChanges::default();
        let _relay = RedisChanges::connect(&args.redis_url)
            .await
            .context("cannot reach Redis")?
            .relay_into(changes.clone());
        let schema = trellis_gateway::build_schema(
            Arc::clone(&read_models),
            access_log,
            audit,
            Some(plans_client(&args.plans_url)?),
            Some(changes),
        );
        let app = trellis_gateway::router(
            schema,
            verifier,
            GatewayConfig {
                graphiql: args.graphiql.unwrap_or(args.secret.dev),
                queries: mobile.clone(),
                limiter: mobile,
                edge: args.edge.config(),
                console: crate::console::config(
                    &args.console,
                    &args.secret,
                    Arc::clone(&read_models),
                )?,
            },
        )
        .merge(health_routes(Readiness::new(
            &args.readiness,
            [Check::store_writes(events), Check::read_models(read_models)],
        )));
        let http_listener = bind(args.http_addr, "HTTP", &args.connections).await?;
        let http_addr = http_listener.local_addr()?;
        tracing::info!(%http_addr, plans = %args.plans_url, "gateway serving");
        println!("trellis ready http={http_addr}");
        serve_http(http_listener, app)
            .await
            .context("HTTP server failed")
    })
    .await
}

/// The plans service's digest key: it has no data directory of its own to
/// keep one in, so the key is configuration — required, except in
/// development mode, which signs with the public development key.
fn split_key(args: &AuditArgs, dev: bool) -> anyhow::Result<trellis_audit::DigestKey> {
    match (&args.signing_key, dev) {
        (Some(seed), _) => {
            trellis_audit::DigestKey::from_seed_hex(seed).context("TRELLIS_AUDIT_SIGNING_KEY")
        }
        (None, true) => {
            tracing::warn!(
                "development mode: signing audit digests with the public development key"
            );
            Ok(trellis_audit::DigestKey::development())
        }
        (None, false) => anyhow::bail!(
            "no audit signing key: set TRELLIS_AUDIT_SIGNING_KEY (`trellis audit keygen` \
             makes one), or start in development mode (TRELLIS_DEV=1)"
        ),
    }
}
