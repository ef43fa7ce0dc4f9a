//! `trellis serve`: everything in one process on the embedded store.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tracing_subscriber::EnvFilter;
use trellis_auth::{DEV_SECRET, TokenVerifier};
use trellis_gateway::GatewayConfig;
use trellis_kernel::EventStore;
use trellis_plans::PlanCommands;
use trellis_plans::grpc::PlanGrpc;
use trellis_projector::{Projector, ReadModelStore, SqliteReadModels};
use trellis_store_sqlite::SqliteEventStore;

use crate::ServeArgs;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    init_logging(args.log_format);
    if args.secret.jwt_secret == DEV_SECRET {
        tracing::warn!("using the development token secret; set TRELLIS_JWT_SECRET in production");
    }
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("cannot create data directory {}", args.data_dir.display()))?;
    let store = SqliteEventStore::open(args.data_dir.join("events.db"))
        .context("cannot open the event store")?;
    let events: Arc<dyn EventStore> = Arc::new(store);
    let read_models: Arc<dyn ReadModelStore> = Arc::new(
        SqliteReadModels::open(args.data_dir.join("read-models.db"))
            .context("cannot open the read models")?,
    );
    let verifier = Arc::new(TokenVerifier::hs256(args.secret.jwt_secret.as_bytes())?);

    let projector = Projector::new(Arc::clone(&events), Arc::clone(&read_models));
    let projection = tokio::spawn(async move {
        loop {
            match projector.run().await {
                Ok(()) => return,
                Err(e) => {
                    tracing::error!(error = %e, "projection stopped; restarting in 1 s");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
    });

    let grpc_listener = TcpListener::bind(args.grpc_addr)
        .await
        .with_context(|| format!("cannot listen for gRPC on {}", args.grpc_addr))?;
    let http_listener = TcpListener::bind(args.http_addr)
        .await
        .with_context(|| format!("cannot listen for HTTP on {}", args.http_addr))?;
    let grpc_addr = grpc_listener.local_addr()?;
    let http_addr = http_listener.local_addr()?;

    let plans =
        PlanGrpc::new(PlanCommands::new(Arc::clone(&events))).into_server(Arc::clone(&verifier));
    let (health, health_service) = tonic_health::server::health_reporter();
    health
        .set_serving::<trellis_plans::grpc::PlanServiceServer<PlanGrpc>>()
        .await;
    let reflection = tonic_reflection::server::Builder::configure()
        .register_encoded_file_descriptor_set(trellis_proto::FILE_DESCRIPTOR_SET)
        .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
        .build_v1()
        .context("gRPC reflection")?;
    let grpc = tonic::transport::Server::builder()
        .timeout(Duration::from_secs(30))
        .add_service(health_service)
        .add_service(reflection)
        .add_service(plans)
        .serve_with_incoming_shutdown(TcpListenerStream::new(grpc_listener), shutdown_signal());

    let schema = trellis_gateway::build_schema(Arc::clone(&read_models));
    let app = trellis_gateway::router(
        schema,
        verifier,
        GatewayConfig {
            graphiql: args.graphiql,
        },
    )
    .merge(health_routes(Probes {
        events,
        read_models,
    }));
    let http = axum::serve(http_listener, app).with_graceful_shutdown(shutdown_signal());

    tracing::info!(%grpc_addr, %http_addr, data_dir = %args.data_dir.display(), "trellis serving");
    // One line on stdout that scripts and tests wait for.
    println!("trellis ready grpc={grpc_addr} http={http_addr}");

    let (grpc_result, http_result) = tokio::join!(grpc, async { http.await });
    projection.abort();
    grpc_result.context("gRPC server failed")?;
    http_result.context("HTTP server failed")?;
    tracing::info!("trellis stopped");
    Ok(())
}

async fn shutdown_signal() {
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

#[derive(Clone)]
struct Probes {
    events: Arc<dyn EventStore>,
    read_models: Arc<dyn ReadModelStore>,
}

fn health_routes(probes: Probes) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(probes)
}

async fn ready(State(probes): State<Probes>) -> (StatusCode, &'static str) {
    if let Err(e) = probes.events.ping().await {
        tracing::warn!(error = %e, "not ready: event store");
        return (StatusCode::SERVICE_UNAVAILABLE, "event store unavailable");
    }
    if let Err(e) = probes.read_models.ping().await {
        tracing::warn!(error = %e, "not ready: read models");
        return (StatusCode::SERVICE_UNAVAILABLE, "read models unavailable");
    }
    (StatusCode::OK, "ready")
}
