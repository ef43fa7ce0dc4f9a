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

mod admin_cli;
mod args;
mod audit_cli;
mod background;
mod backup;
mod console;
mod console_args;
mod data_dir;
mod demo;
mod document_check;
mod edge_args;
mod health;
mod keys_cli;
mod listen;
mod offboard;
mod sealing;
mod serve;
mod split;
mod telemetry;

use anyhow::Context;
use clap::{Parser, Subcommand};
use trellis_auth::{Caller, Role, TokenIssuer};
use trellis_kernel::TenantId;

use crate::args::{DemoArgs, ServeArgs, TokenArgs};

/// Requests allocate many small values on many threads; glibc's malloc
/// spent a sixth of the server's time there under load (W2, W3 in
/// docs/benchmarks.md). Built without transparent huge pages (`no_thp`,
/// the workspace manifest): faulting them in stalled requests.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// A consistent online backup of the embedded store (events, read
    /// models), keys kept apart.
    Backup(backup::BackupArgs),
    /// Brings a backup back into an empty data directory.
    Restore(backup::RestoreArgs),
    /// Administration: erasing a client, offboarding a tenant.
    #[command(subcommand)]
    Admin(admin_cli::AdminCommand),
    /// PHI at rest: data keys per tenant, key-encryption key rotation.
    #[command(subcommand)]
    Keys(keys_cli::KeysCommand),
    /// Distributed: the plans and audit gRPC services on a shared store.
    PlansService(split::PlansServiceArgs),
    /// Distributed: the projection from the store into Redis read models.
    Projector(split::ProjectorArgs),
    /// Distributed: the GraphQL gateway over Redis read models.
    Gateway(split::GatewayArgs),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Before any file is made: only this user may read what it writes.
    data_dir::harden_process();
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
            let token = TokenIssuer::hs256(args.secret.secret()?)?
                .issue(&caller, chrono::Duration::hours(args.hours))?;
            say!("{token}");
            Ok(())
        }
        Command::Demo(args) => demo::run(args).await,
        Command::Audit(command) => audit_cli::run(command).await,
        Command::Backup(args) => backup::backup(&args),
        Command::Restore(args) => backup::restore(&args),
        Command::Keys(command) => keys_cli::run(command).await,
        Command::Admin(command) => admin_cli::run(command).await,
        Command::PlansService(args) => split::plans_service(args).await,
        Command::Projector(args) => split::projector(args).await,
        Command::Gateway(args) => split::gateway(args).await,
    }
}
