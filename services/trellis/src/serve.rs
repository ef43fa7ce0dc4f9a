//! `trellis serve`: everything in one process on the embedded store.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::http::StatusCode;
use trellis_audit::grpc::AuditGrpc;
use trellis_audit::integrity::DIGEST_CATEGORY;
use trellis_audit::{Audit, DigestKey};
use trellis_auth::TokenVerifier;
use trellis_gateway::GatewayConfig;
use trellis_kernel::{AccessLog, EventStore, TenantId};
use trellis_plans::PlanCommands;
use trellis_plans::grpc::PlanGrpc;
use trellis_projector::{
    CachedReadModels, LocalChanges, Projector, ReadModelStore, SqliteReadModels, UnsavedViews,
};
use trellis_store_sqlite::{SqliteEventStore, SqliteKeyDirectory};

use trellis_proto::plans::v1::plan_service_client::PlanServiceClient;

use crate::args::{AuditArgs, ServeArgs};
use crate::health::{Check, Readiness, health_routes};
use crate::listen::{Limits, Listener};

/// Longest a request may take, on gRPC and HTTP alike.
const REQUEST_DEADLINE: Duration = Duration::from_secs(30);

/// Plan documents kept in memory in front of the read-model file.
const READ_MODEL_CACHE: usize = 10_000;

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    let telemetry = crate::telemetry::init(args.log_format, args.otel, "trellis")?;
    let result = serve(args).await;
    // Flush buffered spans and metrics whatever happened.
    telemetry.shutdown();
    result
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Configuration first: a server that could not check tokens opens
    // nothing and writes nothing.
    let verifier = Arc::new(args.secret.verifier()?);
    let limits = args.connections.limits();
    crate::listen::raise_file_limit(&limits, 2);
    crate::data_dir::prepare(&args.data_dir)?;
    let store = Arc::new(
        SqliteEventStore::open(args.data_dir.join("events.db"))
            .context("cannot open the event store")?,
    );
    let access_log: Arc<dyn AccessLog> = store.clone();
    let keyring = args
        .keyring
        .clone()
        .unwrap_or_else(|| args.data_dir.join(crate::sealing::KEYRING_FILE));
    let directory =
        SqliteKeyDirectory::open(args.data_dir.join(crate::sealing::KEY_DIRECTORY_FILE))
            .context("cannot open the key directory")?;
    let sealed = crate::sealing::seal(
        store.clone(),
        Some(store.clone()),
        Arc::new(directory),
        &keyring,
    )
    .await?;
    let events = Arc::clone(&sealed.events);
    let key = install_key(&args.audit, &args.data_dir)?;
    let audit = audit_service(
        &args.audit,
        key,
        Arc::clone(&events),
        Arc::clone(&sealed.record),
        Arc::clone(&access_log),
    )?;
    // The gateway reads a plan as the projector folded it, while the
    // projector still writes it to the file behind.
    let unsaved = Arc::new(UnsavedViews::default());
    let read_models: Arc<dyn ReadModelStore> = Arc::new(
        CachedReadModels::new(
            Arc::new(
                SqliteReadModels::open(args.data_dir.join("read-models.db"))
                    .context("cannot open the read models")?
                    .sealed_by(Arc::clone(&sealed.documents)),
            ),
            READ_MODEL_CACHE,
        )
        .showing_unsaved(Arc::clone(&unsaved)),
    );

    let changes = LocalChanges::default();
    let projector = Projector::new(Arc::clone(&events), Arc::clone(&read_models))
        .folding_into(unsaved)
        .saving_on(crate::background::runtime().context("cannot start the background runtime")?)
        .announcing_to(Arc::new(changes.clone()));
    let projected = projector.position();
    // Registered once; the meter keeps the callback for the process.
    let _lag_events = opentelemetry::global::meter("trellis")
        .u64_observable_gauge("trellis.projection.lag.events")
        .with_description("Events stored but not yet in the read models")
        .with_callback(move |observer| {
            let lag = store.head_position().saturating_sub(*projected.borrow());
            observer.observe(lag, &[]);
        })
        .build();
    let readiness = Readiness::new(
        &args.readiness,
        [
            Check::store_writes(Arc::clone(&events)),
            Check::read_models(Arc::clone(&read_models)),
            Check::projection_lag(Arc::clone(&events), projector.position()),
        ],
    );
    let projection = tokio::spawn(keep_projecting(projector));

    let grpc_listener = Listener::grpc(args.grpc_addr, limits).await?;
    let http_listener = Listener::http(args.http_addr, "HTTP", limits).await?;
    let grpc_addr = grpc_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;

    let commands = args
        .commands
        .plan_commands(&sealed, Arc::clone(&access_log));
    let grpc = grpc_services(
        commands,
        audit.clone(),
        Arc::clone(&verifier),
        &limits,
        &readiness,
    )
    .await?
    .serve_with_incoming_shutdown(grpc_listener.incoming(), shutdown_signal());

    let digests = tokio::spawn(periodic_digests(
        audit.clone(),
        Arc::clone(&sealed.record),
        args.audit.digest_interval_secs,
    ));
    let mobile = Arc::new(
        trellis_gateway::mobile::MemoryMobile::new(args.rate_limit_per_minute)
            .per_subject(args.rate_limit_per_subject)
            .query_cache_bytes(args.edge.persisted_query_cache_bytes),
    );
    // GraphQL mutations go through the gRPC API like any other client's.
    let plans_client = plans_client(&format!("http://{grpc_addr}"))?;
    let schema = trellis_gateway::build_schema(
        Arc::clone(&read_models),
        access_log,
        trellis_gateway::AuditBackend::Local(Box::new(audit)),
        Some(plans_client),
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
            console: crate::console::config(&args.console, &args.secret, Arc::clone(&read_models))?,
        },
    )
    .merge(health_routes(readiness));
    let http = serve_http(http_listener, app);

    tracing::info!(%grpc_addr, %http_addr, data_dir = %args.data_dir.display(), "trellis serving");
    // One line on stdout that scripts and tests wait for.
    println!("trellis ready grpc={grpc_addr} http={http_addr}");

    let (grpc_result, http_result) = tokio::join!(grpc, http);
    projection.abort();
    digests.abort();
    grpc_result.context("gRPC server failed")?;
    http_result.context("HTTP server failed")?;
    tracing::info!("trellis stopped");
    Ok(())
}

/// The gRPC services every plans-service process hosts: plans, audit,
/// health and reflection, with deadlines, trace continuation and the
/// connection limits.
pub(crate) async fn grpc_services(
    commands: PlanCommands,
    audit: Audit,
    verifier: Arc<TokenVerifier>,
    limits: &Limits,
    readiness: &Readiness,
) -> anyhow::Result<crate::listen::GrpcRouter> {
    let plans = PlanGrpc::new(commands).into_server(Arc::clone(&verifier));
    let (health, health_service) = tonic_health::server::health_reporter();
    // NOT_SERVING whenever /readyz would answer 503, SERVING again after.
    crate::health::report_to_grpc(
        readiness.clone(),
        health,
        <trellis_plans::grpc::PlanServiceServer<PlanGrpc> as tonic::server::NamedService>::NAME,
    )
    .await;
    // Both reflection versions: grpcurl asks v1, older grpcurl and Python's
    // grpcio-reflection still ask v1alpha.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(trellis_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    // Health and reflection requests are tiny; the same 64 KiB bound as
    // every other service keeps a hostile body from being buffered.
    let bound = trellis_plans::grpc::MAX_REQUEST_BYTES;
    let health_service = health_service.max_decoding_message_size(bound);
    let reflection_v1 = reflection()
        .build_v1()
        .context("gRPC reflection")?
        .max_decoding_message_size(bound);
    let reflection_v1alpha = reflection()
        .build_v1alpha()
        .context("gRPC reflection (v1alpha)")?
        .max_decoding_message_size(bound);
    // Plans leave the audit service in the gateway's GraphQL shape.
    let renderer =
        trellis_gateway::plan_json::GraphqlPlanRenderer::new().context("plan renderer")?;
    let audit_grpc = AuditGrpc::new(audit, Arc::new(renderer)).into_server(verifier);
    Ok(crate::listen::grpc_server(limits)
        .timeout(REQUEST_DEADLINE)
        .trace_fn(trellis_grpc_edge::tracing_context::server_span)
        .add_service(health_service)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(plans)
        .add_service(audit_grpc))
}

/// A client of the plans service at `url` that connects on first use.
pub(crate) fn plans_client(
    url: &str,
) -> anyhow::Result<PlanServiceClient<tonic::transport::Channel>> {
    Ok(PlanServiceClient::new(
        tonic::transport::Endpoint::from_shared(url.to_owned())
            .context("plans service URL")?
            .timeout(REQUEST_DEADLINE)
            .connect_lazy(),
    ))
}

/// Serves `app` with peer addresses (for the access log), a deadline, the
/// listener's connection limits, and graceful shutdown.
pub(crate) fn serve_http(
    listener: Listener,
    app: Router,
) -> impl std::future::Future<Output = std::io::Result<()>> {
    // Every route, health and assets included, refuses bodies over the
    // gateway's bound, and every answer (these refusals too) carries the
    // security headers.
    let app = app
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            trellis_gateway::MAX_REQUEST_BYTES,
        ))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            REQUEST_DEADLINE,
        ))
        .layer(axum::middleware::map_response(
            trellis_gateway::security_headers,
        ));
    crate::listen::serve_http(listener, app, shutdown_signal())
}

/// Runs the projection, restarting it a second after any failure (the
/// store or read models away), from its checkpoint.
pub(crate) async fn keep_projecting(projector: Projector) {
    loop {
        match projector.run().await {
            Ok(()) => return,
            Err(e) => {
                tracing::error!(error = %e, "projection stopped; restarting in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
    }
}

/// The file in an embedded install's data directory holding the key that
/// signs its audit digests, made on first start when none is supplied.
pub(crate) const INSTALL_KEY_FILE: &str = "audit-signing.key";

/// The signing key of an embedded install: the supplied one, else the
/// install's own (created on first start, readable by its owner only).
/// Never a key compiled into the program.
fn install_key(args: &AuditArgs, data_dir: &std::path::Path) -> anyhow::Result<DigestKey> {
    if let Some(seed) = &args.signing_key {
        return DigestKey::from_seed_hex(seed).context("TRELLIS_AUDIT_SIGNING_KEY");
    }
    let path = data_dir.join(INSTALL_KEY_FILE);
    let key = match std::fs::read_to_string(&path) {
        Ok(seed) => DigestKey::from_seed_hex(seed.trim())
            .with_context(|| format!("unusable audit key {}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = DigestKey::generate();
            use std::io::Write as _;
            use std::os::unix::fs::OpenOptionsExt as _;
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&path)
                .with_context(|| format!("cannot create {}", path.display()))?;
            writeln!(file, "{}", key.seed_hex())?;
            file.sync_all()?;
            key
        }
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    // Verifiers need the public key; it is no secret.
    tracing::info!(
        public_key = %key.public_key_hex(),
        "audit digests are signed with this install's key; keep its public key with your backups"
    );
    Ok(key)
}

pub(crate) fn audit_service(
    args: &AuditArgs,
    key: DigestKey,
    events: Arc<dyn EventStore>,
    record: Arc<dyn EventStore>,
    access_log: Arc<dyn AccessLog>,
) -> anyhow::Result<Audit> {
    let trusted = match &args.trusted_key {
        Some(hex) => trellis_audit::integrity::public_key_from_hex(hex)
            .context("TRELLIS_AUDIT_TRUSTED_KEY")?,
        None => key.public_key(),
    };
    Ok(Audit::new(events, access_log, key, trusted).with_record(record))
}

/// Every `interval_secs`, signs a digest for each tenant whose streams
/// changed since the last round (0 turns this off).
pub(crate) async fn periodic_digests(
    audit: Audit,
    events: Arc<dyn EventStore>,
    interval_secs: u64,
) {
    if interval_secs == 0 {
        return;
    }
    let mut position = None;
    let mut ticker = tokio::time::interval(Duration::from_secs(interval_secs));
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let mut changed: Vec<TenantId> = Vec::new();
        loop {
            let page = match events.read_all(position, 1000).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, "digest round skipped");
                    break;
                }
            };
            let Some(last) = page.last() else { break };
            position = Some(last.global_position);
            for event in page
                .iter()
                .filter(|e| e.stream.category() != DIGEST_CATEGORY)
            {
                if !changed.contains(event.tenant()) {
                    changed.push(event.tenant().clone());
                }
            }
        }
        for tenant in changed {
            match audit.create_system_digest(&tenant).await {
                Ok(digest) => {
                    tracing::info!(%tenant, streams = digest.heads.len(), "signed audit digest");
                }
                Err(e) => tracing::error!(%tenant, error = %e, "audit digest failed"),
            }
        }
    }
}

pub(crate) async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
