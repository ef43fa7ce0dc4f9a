//! Erasing a client: the admin's request, checked, handed to the command
//! side, answered with the plans erased; and the tenant's retention
//! period erasures are checked against.

use tonic::{Request, Response, Status};
use trellis_grpc_edge::{caller, observed};
use trellis_proto::plans::v1 as pb;

use crate::{PlanCommands, RetentionPeriod};

use super::settings::settings_command;
use super::status::to_status;

/// At most this long, as every id the plans name.
const MAX_CLIENT_ID: usize = 128;

pub(super) async fn erase_client(
    commands: &PlanCommands,
    request: Request<pb::EraseClientRequest>,
) -> Result<Response<pb::EraseClientResponse>, Status> {
    let (ctx, body, tenant) = settings_command(
        request,
        |b| &b.command_id,
        |b, fields| {
            let client = b.client_id.trim();
            if client.is_empty() {
                fields.violation("client_id", "is required");
            } else if client.chars().count() > MAX_CLIENT_ID {
                fields.violation("client_id", "must be at most 128 characters");
            }
        },
    )?;
    let reason = Some(body.override_reason.as_str()).filter(|r| !r.trim().is_empty());
    let erased = commands
        .erase_client(&ctx, &body.client_id, reason)
        .await
        .map_err(to_status);
    observed(&tenant, "EraseClient", erased).map(|outcome| {
        Response::new(pb::EraseClientResponse {
            plan_ids: outcome.plans.iter().map(ToString::to_string).collect(),
            key_destroyed: outcome.key_destroyed,
        })
    })
}

pub(super) async fn set_retention_period(
    commands: &PlanCommands,
    request: Request<pb::SetRetentionPeriodRequest>,
) -> Result<Response<pb::RetentionPeriod>, Status> {
    let (ctx, body, tenant) = settings_command(request, |b| &b.command_id, |_, _| {})?;
    let set = commands
        .set_retention_period(&ctx, body.years)
        .await
        .map_err(to_status);
    observed(&tenant, "SetRetentionPeriod", set).map(retention_reply)
}

pub(super) async fn get_retention_period(
    commands: &PlanCommands,
    request: Request<pb::GetRetentionPeriodRequest>,
) -> Result<Response<pb::RetentionPeriod>, Status> {
    let caller = caller(&request)?;
    let tenant = caller.tenant.to_string();
    let period = commands
        .read_retention_period(&caller)
        .await
        .map_err(to_status);
    observed(&tenant, "GetRetentionPeriod", period).map(retention_reply)
}

fn retention_reply(period: RetentionPeriod) -> Response<pb::RetentionPeriod> {
    Response::new(pb::RetentionPeriod {
        years: period.years,
        tenant_rule: period.tenant_rule,
    })
}
