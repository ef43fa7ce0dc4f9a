//! The tenant's staff directory.

use tonic::{Request, Response, Status};
use trellis_grpc_edge::{caller, observed};
use trellis_plans_domain::staff::StaffMember;
use trellis_proto::plans::v1 as pb;

use crate::PlanCommands;

use super::settings::settings_command;
use super::status::to_status;

pub(super) async fn set_staff_member(
    commands: &PlanCommands,
    request: Request<pb::SetStaffMemberRequest>,
) -> Result<Response<pb::StaffDirectory>, Status> {
    let (ctx, body, tenant) = settings_command(request, |b| &b.command_id, |_, _| {})?;
    let set = commands
        .set_staff_member(&ctx, &body.subject, &body.name, &body.credentials)
        .await
        .map_err(to_status);
    observed(&tenant, "SetStaffMember", set).map(directory_reply)
}

pub(super) async fn get_staff_directory(
    commands: &PlanCommands,
    request: Request<pb::GetStaffDirectoryRequest>,
) -> Result<Response<pb::StaffDirectory>, Status> {
    let caller = caller(&request)?;
    let tenant = caller.tenant.to_string();
    let read = commands
        .read_staff_directory(&caller)
        .await
        .map_err(to_status);
    observed(&tenant, "GetStaffDirectory", read).map(directory_reply)
}

fn directory_reply(members: Vec<StaffMember>) -> Response<pb::StaffDirectory> {
    Response::new(pb::StaffDirectory {
        members: members
            .into_iter()
            .map(|m| pb::StaffMember {
                subject: m.subject,
                name: m.name,
                credentials: m.credentials,
            })
            .collect(),
    })
}
