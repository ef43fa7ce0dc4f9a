//! The gRPC edge: authentication, wire ↔ command mapping, error mapping.

use std::sync::Arc;

use tonic::{Request, Response, Status};
use trellis_auth::{Caller, TokenVerifier};
use trellis_grpc_edge::tracing_context::current_ids;
use trellis_grpc_edge::{Authenticate, RequestMeta, caller, observed};
use trellis_proto::plans::v1 as pb;

use crate::{CommandContext, PlanCommands};

pub use pb::plan_service_server::PlanServiceServer;

mod clinical;
mod corrections;
mod erasure;
mod fields;
mod goals;
mod lifecycle;
mod measures;
mod reviews;
mod rpc;
mod settings;
mod staff;
mod status;
mod templates;
mod wire;

use fields::{Fields, Mapped};
use status::to_status;

/// Largest request a client may send; commands are small.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

/// The `PlanService` implementation.
#[derive(Debug, Clone)]
pub struct PlanGrpc {
    commands: PlanCommands,
}

impl PlanGrpc {
    pub fn new(commands: PlanCommands) -> Self {
        Self { commands }
    }

    /// The service wrapped with authentication and the request size limit.
    pub fn into_server(
        self,
        verifier: Arc<TokenVerifier>,
    ) -> tonic::service::interceptor::InterceptedService<PlanServiceServer<Self>, Authenticate>
    {
        let server = PlanServiceServer::new(self).max_decoding_message_size(MAX_REQUEST_BYTES);
        tonic::service::interceptor::InterceptedService::new(server, Authenticate::new(verifier))
    }

    async fn run<T>(
        &self,
        request: Request<T>,
        map: impl FnOnce(&Caller, &T, &mut Fields) -> Option<Mapped>,
    ) -> Result<Response<pb::CommandResponse>, Status> {
        let caller = caller(&request)?;
        let tenant = caller.tenant.to_string();
        let mut meta = RequestMeta::of(&request);
        // The server span continues the caller's trace; its ids are what the
        // events record (the header's, when tracing is off).
        if let Some((trace_id, span_id)) = current_ids() {
            meta.trace_id = trace_id;
            meta.span_id = span_id;
        }
        let body = request.into_inner();
        let mut fields = Fields::default();
        let mapped = map(&caller, &body, &mut fields);
        let mapped = match (mapped, fields.into_status()) {
            (Some(mapped), None) => mapped,
            (_, Some(status)) => return observed(&tenant, "invalid", Err(status)),
            (None, None) => {
                let status = Status::invalid_argument("invalid command");
                return observed(&tenant, "invalid", Err(status));
            }
        };
        let operation = mapped.command.name();
        let ctx = CommandContext {
            correlation_id: meta.correlation_id.unwrap_or(mapped.command_id),
            command_id: mapped.command_id,
            caller,
            request_id: meta.request_id,
            trace_id: meta.trace_id,
            span_id: meta.span_id,
        };
        let handled = self
            .commands
            .handle(&ctx, mapped.plan_id, &mapped.command)
            .await
            .map_err(to_status);
        let outcome = observed(&tenant, operation, handled)?;
        Ok(Response::new(pb::CommandResponse {
            plan_id: outcome.plan_id.to_string(),
            entity_id: mapped.entity_id.to_string(),
            revision: outcome.revision,
            duplicate: outcome.duplicate,
        }))
    }
}

type Reply = Result<Response<pb::CommandResponse>, Status>;

// One method per rpc, each calling the handler of the same name in `rpc`
// (generated from the proto by build.rs).
include!(concat!(env!("OUT_DIR"), "/plan_service.rs"));
