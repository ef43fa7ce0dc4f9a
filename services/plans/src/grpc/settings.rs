//! The tenant's review rules.

use tonic::{Request, Response, Status};
use trellis_auth::Caller;
use trellis_grpc_edge::{RequestMeta, caller, observed};
use trellis_proto::plans::v1 as pb;
use uuid::Uuid;

use crate::{CommandContext, PlanCommands};

use super::fields::Fields;
use super::status::to_status;

pub(super) async fn set_review_rule(
    commands: &PlanCommands,
    request: Request<pb::SetReviewRuleRequest>,
) -> Result<Response<pb::ReviewRules>, Status> {
    let (ctx, body, tenant) = settings_command(request, |b| &b.command_id, |_, _| {})?;
    let set = commands
        .set_review_rule(&ctx, &body.payer, body.interval_days)
        .await
        .map_err(to_status);
    observed(&tenant, "SetReviewRule", set).map(review_rules_reply)
}

pub(super) async fn get_review_rules(
    commands: &PlanCommands,
    request: Request<pb::GetReviewRulesRequest>,
) -> Result<Response<pb::ReviewRules>, Status> {
    let caller = caller(&request)?;
    let tenant = caller.tenant.to_string();
    let rules = commands.read_review_rules(&caller).await.map_err(to_status);
    observed(&tenant, "GetReviewRules", rules).map(review_rules_reply)
}

/// An admin request on tenant settings: its caller, its request facts and
/// its body. Its command id is parsed with the rest of the body, so a bad
/// one is reported together with every other bad field.
pub(super) fn settings_request<T>(request: Request<T>) -> Result<(Caller, RequestMeta, T), Status> {
    let caller = caller(&request)?;
    let meta = RequestMeta::of(&request);
    Ok((caller, meta, request.into_inner()))
}

/// An admin command's context and body, and its tenant. The command id is
/// read with the body's other fields (`check`), so every bad field is
/// reported at once, and the refusal is counted as an invalid request.
pub(super) fn settings_command<T>(
    request: Request<T>,
    command_id: impl FnOnce(&T) -> &str,
    check: impl FnOnce(&T, &mut Fields),
) -> Result<(CommandContext, T, String), Status> {
    let (caller, meta, body) = settings_request(request)?;
    let tenant = caller.tenant.to_string();
    let mut fields = Fields::default();
    let id = settings_command_id(&mut fields, command_id(&body));
    check(&body, &mut fields);
    match (id, fields.into_status()) {
        (Some(id), None) => Ok((settings_context(caller, meta, id), body, tenant)),
        (_, status) => {
            let status = status.unwrap_or_else(|| Status::invalid_argument("invalid command"));
            Err(observed::<()>(&tenant, "invalid", Err(status))
                .err()
                .unwrap_or_else(|| Status::invalid_argument("invalid command")))
        }
    }
}

/// A settings command's id as the client sent it; a fresh one when it
/// sent none (such a command cannot be recognised when resent).
fn settings_command_id(f: &mut Fields, raw: &str) -> Option<Uuid> {
    if raw.trim().is_empty() {
        return Some(Uuid::new_v4());
    }
    f.command_id(raw)
}

pub(super) fn settings_context(
    caller: Caller,
    meta: RequestMeta,
    command_id: Uuid,
) -> CommandContext {
    CommandContext {
        correlation_id: meta.correlation_id.unwrap_or(command_id),
        command_id,
        caller,
        request_id: meta.request_id,
        trace_id: meta.trace_id,
        span_id: meta.span_id,
    }
}

pub(super) fn review_rules_reply(rules: Vec<(String, u32)>) -> Response<pb::ReviewRules> {
    Response::new(pb::ReviewRules {
        rules: rules
            .into_iter()
            .map(|(payer, interval_days)| pb::ReviewRule {
                payer,
                interval_days,
            })
            .collect(),
    })
}
