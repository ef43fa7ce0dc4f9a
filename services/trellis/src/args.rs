//! The command-line arguments of `trellis serve`, `token` and `demo`, and
//! the groups of them (`SecretArgs`, `AuditArgs`) other commands share.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use trellis_auth::DEV_SECRET;

use crate::telemetry::LogFormat;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Where the event store and read models live.
    #[arg(long, env = "TRELLIS_DATA_DIR", default_value = "./trellis-data")]
    pub data_dir: PathBuf,
    /// The keyring holding each tenant's key-encryption key: made on
    /// first start (default `<data-dir>/keyring.json`); keep its backups
    /// apart from the data's.
    #[arg(long, env = "TRELLIS_KEYRING")]
    pub keyring: Option<PathBuf>,
    /// gRPC listen address (port 0 picks a free port).
    #[arg(long, env = "TRELLIS_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: SocketAddr,
    /// HTTP (GraphQL, health) listen address (port 0 picks a free port).
    #[arg(long, env = "TRELLIS_HTTP_ADDR", default_value = "127.0.0.1:8080")]
    pub http_addr: SocketAddr,
    #[command(flatten)]
    pub secret: SecretArgs,
    /// Serve GraphiQL on GET /graphql (its files are embedded). Default: on
    /// in development mode, off otherwise.
    #[arg(long, env = "TRELLIS_GRAPHIQL", action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub graphiql: Option<bool>,
    /// Log format on stderr.
    #[arg(long, env = "TRELLIS_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Export traces and metrics over OTLP/gRPC, configured by the standard
    /// OTEL_* variables (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME,
    /// OTEL_TRACES_SAMPLER, …).
    #[arg(long, env = "TRELLIS_OTEL", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true")]
    pub otel: bool,
    #[command(flatten)]
    pub audit: AuditArgs,
    /// GraphQL requests per tenant per minute; 0 means no limit.
    #[arg(long, env = "TRELLIS_RATE_LIMIT_PER_MINUTE", default_value_t = 12_000)]
    pub rate_limit_per_minute: u64,
    /// GraphQL requests per caller (token subject) per minute; 0: no limit.
    #[arg(long, env = "TRELLIS_RATE_LIMIT_PER_SUBJECT", default_value_t = 1_200)]
    pub rate_limit_per_subject: u64,
    #[command(flatten)]
    pub connections: crate::listen::ConnectionArgs,
    #[command(flatten)]
    pub readiness: crate::health::ReadinessArgs,
    #[command(flatten)]
    pub edge: crate::edge_args::EdgeArgs,
    #[command(flatten)]
    pub console: crate::console_args::ConsoleArgs,
    #[command(flatten)]
    pub commands: CommandArgs,
}

/// How plan commands keep plans in memory and in snapshots, and how long
/// a closed plan is kept before its client may be erased.
#[derive(Debug, Clone, clap::Args)]
pub struct CommandArgs {
    /// Bytes of plan state held in memory (about); cold plans are evicted.
    #[arg(long, env = "TRELLIS_PLAN_CACHE_BYTES", default_value_t = trellis_plans::DEFAULT_CACHE_BYTES)]
    pub plan_cache_bytes: usize,
    /// Events at least between two snapshots of a plan (an old one waits
    /// for a quarter of its events); 0 turns snapshots off.
    #[arg(long, env = "TRELLIS_SNAPSHOT_EVERY", default_value_t = trellis_plans::SNAPSHOT_EVERY)]
    pub snapshot_every: u64,
    /// Years a closed plan is kept before its client may be erased without
    /// an override (HIPAA: six).
    #[arg(long, env = "TRELLIS_RETENTION_YEARS", default_value_t = trellis_plans::DEFAULT_RETENTION_YEARS,
          value_parser = clap::value_parser!(u32).range(1..=100))]
    pub retention_years: u32,
}

impl CommandArgs {
    /// The command handler over the sealed stores: snapshots where the
    /// store keeps them, and erasure of clients (logged in `access_log`).
    pub fn plan_commands(
        &self,
        sealed: &crate::sealing::SealedStores,
        access_log: std::sync::Arc<dyn trellis_kernel::AccessLog>,
    ) -> trellis_plans::PlanCommands {
        let commands = trellis_plans::PlanCommands::new(std::sync::Arc::clone(&sealed.events))
            .with_cache_bytes(self.plan_cache_bytes)
            .with_erasure(
                std::sync::Arc::clone(&sealed.erasure),
                access_log,
                self.retention_years,
            );
        match &sealed.snapshots {
            Some(store) if self.snapshot_every > 0 => {
                commands.with_snapshots(std::sync::Arc::clone(store), self.snapshot_every)
            }
            _ => commands,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct AuditArgs {
    /// Hex seed of the Ed25519 key that signs audit digests
    /// (`trellis audit keygen` makes one). Default: `serve` makes a key of
    /// its own install on first start (the development key in development
    /// mode); the split processes need one.
    #[arg(
        long = "audit-signing-key",
        env = "TRELLIS_AUDIT_SIGNING_KEY",
        hide_env_values = true
    )]
    pub signing_key: Option<String>,
    /// Hex public key digests are verified against. Default: the signing
    /// key's own public key.
    #[arg(long = "audit-trusted-key", env = "TRELLIS_AUDIT_TRUSTED_KEY")]
    pub trusted_key: Option<String>,
    /// Seconds between signed digests of changed tenants; 0 turns them off.
    #[arg(long, env = "TRELLIS_DIGEST_INTERVAL_SECS", default_value_t = 3600)]
    pub digest_interval_secs: u64,
}

#[derive(Debug, clap::Args)]
pub struct SecretArgs {
    /// HS256 secret for bearer tokens. Without it (or a JWKS) only
    /// development mode starts, with a secret everyone knows.
    #[arg(long, env = "TRELLIS_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Development mode: accept tokens signed with the public development
    /// secret when no secret or JWKS is configured. Never in production.
    #[arg(long, env = "TRELLIS_DEV", default_value_t = false, action = clap::ArgAction::Set, num_args = 0..=1, default_missing_value = "true", value_parser = clap::builder::BoolishValueParser::new())]
    pub dev: bool,
    /// Verify tokens with the public keys of this JWKS file (RS256, ES256,
    /// EdDSA) instead of the shared secret: production.
    #[arg(long, env = "TRELLIS_JWKS_FILE")]
    pub jwks_file: Option<PathBuf>,
    /// The `iss` tokens verified with the JWKS must carry.
    #[arg(long, env = "TRELLIS_JWT_ISSUER", default_value = trellis_auth::ISSUER)]
    pub jwt_issuer: String,
}

impl SecretArgs {
    /// How bearer tokens are checked: the JWKS if given, else the secret,
    /// else — in development mode only — the public development secret.
    pub fn verifier(&self) -> anyhow::Result<trellis_auth::TokenVerifier> {
        match &self.jwks_file {
            Some(path) => {
                let document = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read JWKS {}", path.display()))?;
                trellis_auth::TokenVerifier::jwks(&document, &self.jwt_issuer)
                    .with_context(|| format!("unusable JWKS {}", path.display()))
            }
            None => Ok(trellis_auth::TokenVerifier::hs256(self.secret()?)?),
        }
    }

    /// The HS256 secret: the configured one, or the development secret in
    /// development mode. Refuses to guess otherwise: a server that accepts
    /// tokens anyone can mint is not a default.
    pub fn secret(&self) -> anyhow::Result<&[u8]> {
        match (&self.jwt_secret, self.dev) {
            (Some(secret), _) if !secret.is_empty() => Ok(secret.as_bytes()),
            (_, true) => {
                tracing::warn!(
                    "development mode: accepting tokens signed with the public development secret"
                );
                Ok(DEV_SECRET.as_bytes())
            }
            _ => anyhow::bail!(
                "no way to verify tokens is configured: set TRELLIS_JWT_SECRET or \
                 TRELLIS_JWKS_FILE, or start in development mode (--dev / TRELLIS_DEV=1)"
            ),
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct TokenArgs {
    #[arg(long)]
    pub tenant: String,
    #[arg(long)]
    pub subject: String,
    /// admin, clinician, supervisor, auditor or client; repeat for several.
    #[arg(long = "role", required = true)]
    pub roles: Vec<String>,
    /// A clinic the caller works in; repeat for several.
    #[arg(long = "clinic")]
    pub clinics: Vec<String>,
    /// Hours until the token expires.
    #[arg(long, default_value_t = 12)]
    pub hours: i64,
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    /// Address of a running `trellis serve` gRPC endpoint.
    #[arg(long, env = "TRELLIS_GRPC_ADDR", default_value = "127.0.0.1:50051")]
    pub grpc_addr: String,
    /// Tenant to create the demo plans in.
    #[arg(long, default_value = "demo")]
    pub tenant: String,
    #[command(flatten)]
    pub secret: SecretArgs,
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(flatten)]
        serve: ServeArgs,
    }

    fn graphiql(args: &[&str]) -> Option<bool> {
        let argv = std::iter::once("trellis").chain(args.iter().copied());
        Cli::try_parse_from(argv).unwrap().serve.graphiql
    }

    #[test]
    fn graphiql_is_a_flag_with_an_optional_value() {
        assert_eq!(graphiql(&[]), None, "unset: development mode decides");
        assert_eq!(graphiql(&["--graphiql"]), Some(true));
        assert_eq!(graphiql(&["--graphiql", "false"]), Some(false));
        assert_eq!(graphiql(&["--graphiql=1"]), Some(true));
    }
}
