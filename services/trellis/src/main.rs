//! `trellis`: one binary for the embedded default.
//!
//! - `trellis serve` runs gRPC + GraphQL + the projection on the embedded store;
//! - `trellis token` mints a development bearer token;
//! - `trellis demo` loads the two seed plans through the gRPC API.

/// `println!` for command output that ends quietly when the reader goes
/// away (`trellis audit history | head`) instead of panicking.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        match writeln!(out, $($arg)*) {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
            other => other,
        }?
    }};
}

mod audit_cli;
mod demo;
mod serve;
mod split;
mod telemetry;

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Parser, Subcommand};
use trellis_auth::{Caller, DEV_SECRET, Role, TokenIssuer};
use trellis_kernel::TenantId;

#[derive(Debug, Parser)]
#[command(
    name = "trellis",
    version,
    about = "Event-sourced mental-health treatment plans"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Start gRPC, GraphQL and the projection on the embedded store.
    Serve(ServeArgs),
    /// Print a development bearer token.
    Token(TokenArgs),
    /// Create the demo tenant's two seed plans through the gRPC API.
    Demo(DemoArgs),
    /// The audit trail: history, as-of, diff, access log, verify, export.
    #[command(subcommand)]
    Audit(audit_cli::AuditCommand),
    /// Distributed: the plans and audit gRPC services on a shared store.
    PlansService(split::PlansServiceArgs),
    /// Distributed: the projection from the store into Redis read models.
    Projector(split::ProjectorArgs),
    /// Distributed: the GraphQL gateway over Redis read models.
    Gateway(split::GatewayArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Where the event store and read models live.
    #[arg(long, env = "TRELLIS_DATA_DIR", default_value = "./trellis-data")]
    data_dir: PathBuf,
    /// gRPC listen address (port 0 picks a free port).
    #[arg(long, env = "TRELLIS_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    grpc_addr: SocketAddr,
    /// HTTP (GraphQL, health) listen address (port 0 picks a free port).
    #[arg(long, env = "TRELLIS_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    http_addr: SocketAddr,
    #[command(flatten)]
    secret: SecretArgs,
    /// Serve GraphiQL on GET /graphql.
    #[arg(long, env = "TRELLIS_GRAPHIQL", default_value_t = true, action = clap::ArgAction::Set)]
    graphiql: bool,
    /// Log format on stderr.
    #[arg(long, env = "TRELLIS_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: telemetry::LogFormat,
    /// Export traces and metrics over OTLP/gRPC, configured by the standard
    /// OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME,
    /// OTEL_TRACES_SAMPLER, …).
    #[arg(long, env = "TRELLIS_OTEL", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    otel: bool,
    #[command(flatten)]
    audit: AuditArgs,
    /// GraphQL requests per tenant per minute; 0 means no limit.
    #[arg(long, env = "TRELLIS_RATE_LIMIT_PER_MINUTE", default_value_t = 0)]
    rate_limit_per_minute: u64,
}

#[derive(Debug, clap::Args)]
struct AuditArgs {
    /// Hex seed of the Ed25519 key that signs audit digests
    /// (`trellis audit keygen` makes one). Default: the development key.
    #[arg(
        long = "audit-signing-key",
        env = "TRELLIS_AUDIT_SIGNING_KEY",
        hide_env_values = true
    )]
    signing_key: Option<String>,
    /// Hex public key digests are verified against. Default: the signing
    /// key's own public key.
    #[arg(long = "audit-trusted-key", env = "TRELLIS_AUDIT_TRUSTED_KEY")]
    trusted_key: Option<String>,
    /// Seconds between signed digests of changed tenants; 0 turns them off.
    #[arg(long, env = "TRELLIS_DIGEST_INTERVAL_SECS", default_value_t = 3600)]
    digest_interval_secs: u64,
}

#[derive(Debug, clap::Args)]
struct SecretArgs {
    /// HS256 secret for bearer tokens. The default is for development only.
    #[arg(long, env = "TRELLIS_JWT_SECRET", default_value = DEV_SECRET, hide_default_value = true)]
    jwt_secret: String,
    /// Verify tokens with the public keys of this JWKS file (RS256, ES256,
    /// EdDSA) instead of the shared secret: production.
    #[arg(long, env = "TRELLIS_JWKS_FILE")]
    jwks_file: Option<PathBuf>,
    /// The `iss` tokens verified with the JWKS must carry.
    #[arg(long, env = "TRELLIS_JWT_ISSUER", default_value = trellis_auth::ISSUER)]
    jwt_issuer: String,
}

impl SecretArgs {
    /// How bearer tokens are checked: the JWKS if given, else the secret.
    fn verifier(&self) -> anyhow::Result<trellis_auth::TokenVerifier> {
        match &self.jwks_file {
            Some(path) => {
                let document = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read JWKS {}", path.display()))?;
                trellis_auth::TokenVerifier::jwks(&document, &self.jwt_issuer)
                    .with_context(|| format!("unusable JWKS {}", path.display()))
            }
            None => Ok(trellis_auth::TokenVerifier::hs256(
                self.jwt_secret.as_bytes(),
            )?),
        }
    }
}

#[derive(Debug, clap::Args)]
struct TokenArgs {
    #[arg(long)]
    tenant: String,
    #[arg(long)]
    subject: String,
    /// admin, clinician, supervisor, auditor or client; repeat for several.
    #[arg(long = "role", required = true)]
    roles: Vec<String>,
    /// A clinic the caller works in; repeat for several.
    #[arg(long = "clinic")]
    clinics: Vec<String>,
    /// Hours until the token expires.
    #[arg(long, default_value_t = 12)]
    hours: i64,
    #[command(flatten)]
    secret: SecretArgs,
}

#[derive(Debug, clap::Args)]
struct DemoArgs {
    /// Address of a running `trellis serve` gRPC endpoint.
    #[arg(long, env = "TRELLIS_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    grpc_addr: String,
    /// Tenant to create the demo plans in.
    #[arg(long, default_value = "demo")]
    tenant: String,
    #[command(flatten)]
    secret: SecretArgs,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(args).await,
        Command::Token(args) => {
            let roles = args
                .roles
                .iter()
                .map(|r| r.parse::<Role>())
                .collect::<Result<Vec<_>, _>>()
                .context("--role must be admin, clinician, supervisor, auditor or client")?;
            let caller = Caller {
                tenant: TenantId::parse(&args.tenant).context("--tenant")?,
                subject: args.subject,
                roles,
                clinics: args.clinics,
            };
            let token = TokenIssuer::hs256(args.secret.jwt_secret.as_bytes())?
                .issue(&caller, chrono::Duration::hours(args.hours))?;
            say!("{token}");
            Ok(())
        }
        Command::Demo(args) => demo::run(args).await,
        Command::Audit(command) => audit_cli::run(command).await,
        Command::PlansService(args) => split::plans_service(args).await,
        Command::Projector(args) => split::projector(args).await,
        Command::Gateway(args) => split::gateway(args).await,
    }
}
