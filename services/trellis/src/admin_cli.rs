//! `trellis admin`: erasing a client, over the same gRPC API (and under
//! the same rules) as any client; offboarding a tenant, on the install's
//! store and keyring.

use clap::Subcommand;
use trellis_proto::plans::v1 as pb;
use trellis_proto::plans::v1::plan_service_client::PlanServiceClient;

use crate::audit_cli::{authenticated_channel, explain};

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Erases a client (crypto-shredding): every plan of theirs is marked
    /// erased and their data key destroyed, so their content never reads
    /// again while the history still verifies. Without an override only
    /// plans closed longer than the retention period are erased.
    EraseClient {
        /// Address of the plans service (or `trellis serve`) gRPC endpoint.
        #[arg(long, env = "TRELLIS_GRPC_ADDR", default_value = "127.0.0.1:50051")]
        grpc_addr: String,
        /// An admin's bearer token (`trellis token --role admin …`).
        #[arg(long, env = "TRELLIS_TOKEN", hide_env_values = true)]
        token: String,
        /// The client's id, as their plans name them.
        #[arg(long)]
        client: String,
        /// Erase before the retention period is over (or plans still
        /// open): the legal basis, kept in clear in the record (no PHI).
        #[arg(long)]
        override_reason: Option<String>,
        /// A UUID to make the request safe to send again.
        #[arg(long)]
        command_id: Option<String>,
    },
    /// A tenant leaves: its records are exported (JSON Lines, with a
    /// manifest), then every key of the tenant is destroyed. Works on the
    /// data directory (or the PostgreSQL store) and the keyring directly.
    OffboardTenant(crate::offboard::OffboardArgs),
}

pub async fn run(command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::OffboardTenant(args) => crate::offboard::run(args).await,
        AdminCommand::EraseClient {
            grpc_addr,
            token,
            client,
            override_reason,
            command_id,
        } => {
            let (channel, bearer) = authenticated_channel(&grpc_addr, &token).await?;
            let erased = PlanServiceClient::with_interceptor(channel, bearer)
                .erase_client(pb::EraseClientRequest {
                    client_id: client.clone(),
                    override_reason: override_reason.unwrap_or_default(),
                    command_id: command_id.unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
                })
                .await
                .map_err(explain)?
                .into_inner();
            say!(
                "{client}: {} plan(s) erased{}",
                erased.plan_ids.len(),
                if erased.key_destroyed {
                    "; their data key is destroyed"
                } else {
                    "; no data key was left to destroy"
                }
            );
            for plan in erased.plan_ids {
                say!("  {plan}");
            }
            Ok(())
        }
    }
}
