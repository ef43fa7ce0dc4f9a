//! The gateway as a client of the plans service: every mutation is sent
//! on with the caller's token and the current trace context, so a mobile
//! or clinic app needs only GraphQL.

use std::future::Future;

use async_graphql::{Context, ID, SimpleObject};
use tonic::Status;
use tonic::transport::Channel;
use tracing::Instrument;
use trellis_grpc_edge::tracing_context::inject_current;
use trellis_proto::plans::v1 as pb;
use trellis_proto::plans::v1::plan_service_client::PlanServiceClient;

use crate::context::caller;
use crate::error::{ErrorCode, error};

/// The caller's bearer token, forwarded as-is to the gRPC service.
#[derive(Debug, Clone)]
pub struct BearerToken(pub String);

/// What an accepted command returns.
#[derive(Debug, SimpleObject)]
pub struct CommandResult {
    plan_id: ID,
    /// The goal, objective or review the command created or touched.
    entity_id: ID,
    /// The plan version after the command.
    revision: u64,
    /// True when this command id was applied before and nothing new was written.
    duplicate: bool,
}

/// A gRPC request carrying the caller's token and the current trace.
pub(crate) fn authorized<M>(
    ctx: &Context<'_>,
    message: M,
) -> async_graphql::Result<tonic::Request<M>> {
    let token = ctx
        .data::<BearerToken>()
        .map_err(|_| error(ErrorCode::Unauthenticated, "missing bearer token"))?;
    let authorization = format!("Bearer {}", token.0)
        .parse()
        .map_err(|_| error(ErrorCode::Unauthenticated, "malformed bearer token"))?;
    let mut request = tonic::Request::new(message);
    let metadata = request.metadata_mut();
    metadata.insert("authorization", authorization);
    // Counted once, as the GraphQL request (see `trellis_grpc_edge::hop`).
    metadata.insert(
        trellis_grpc_edge::hop::HEADER,
        tonic::metadata::MetadataValue::from_static("graphql"),
    );
    inject_current(request.metadata_mut());
    Ok(request)
}

/// Sends one command: a client span, the caller's token, `traceparent`.
pub(crate) async fn send<M, F, Fut>(
    ctx: &Context<'_>,
    method: &'static str,
    message: M,
    call: F,
) -> async_graphql::Result<CommandResult>
where
    F: FnOnce(PlanServiceClient<Channel>, tonic::Request<M>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<pb::CommandResponse>, Status>>,
{
    let reply = call_plans(ctx, method, message, call).await?;
    Ok(CommandResult {
        plan_id: ID(reply.plan_id),
        entity_id: ID(reply.entity_id),
        revision: reply.revision,
        duplicate: reply.duplicate,
    })
}

/// Calls one plans-service method: a client span, the caller's token,
/// `traceparent`; gRPC errors become GraphQL errors.
pub(crate) async fn call_plans<M, R, F, Fut>(
    ctx: &Context<'_>,
    method: &'static str,
    message: M,
    call: F,
) -> async_graphql::Result<R>
where
    F: FnOnce(PlanServiceClient<Channel>, tonic::Request<M>) -> Fut,
    Fut: Future<Output = Result<tonic::Response<R>, Status>>,
{
    let tenant = caller(ctx)?.tenant.to_string();
    let client = ctx
        .data::<PlanServiceClient<Channel>>()
        .map_err(|_| error(ErrorCode::Unavailable, "commands are not available here"))?
        .clone();
    let span = tracing::info_span!(
        "grpc.client",
        otel.name = %format!("trellis.plans.v1.PlanService/{method}"),
        otel.kind = "client",
        rpc.system = "grpc",
        rpc.service = "trellis.plans.v1.PlanService",
        rpc.method = %method,
        tenant = %tenant,
    );
    async move {
        let request = authorized(ctx, message)?;
        Ok(call(client, request)
            .await
            .map_err(|s| crate::error::from_status(&s))?
            .into_inner())
    }
    .instrument(span)
    .await
}
