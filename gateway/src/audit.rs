//! The auditor's GraphQL queries. Auditor role only; each is written to the
//! access log by `trellis-audit` before it is answered — in this process
//! (embedded), or by the audit service the gateway calls over gRPC (split).

use async_graphql::{Context, ID, Object, SimpleObject};
use chrono::{DateTime, Utc};
use tonic::transport::Channel;

use trellis_audit::history::{HistoryEntry, HistoryFilter, read_whole_stream};
use trellis_audit::timetravel::{AsOf, plan_as_of};
use trellis_audit::{AuditError, ReadContext};

use crate::audit_backend::{AuditBackend, RemoteAudit};
use trellis_kernel::AccessQuery;
use trellis_proto::audit::v1 as pb;
use trellis_proto::audit::v1::audit_service_client::AuditServiceClient;

use crate::context::{Replay, api_of, caller, request_meta, spend_replay};
use crate::error::{ErrorCode, error};
use crate::plan::Plan;

const DEFAULT_PAGE: usize = 100;

fn backend<'a>(ctx: &'a Context<'_>) -> &'a AuditBackend {
    ctx.data_unchecked::<AuditBackend>()
}

/// Runs a call on the audit service with the caller's token and trace.
async fn remote<M, T, F, Fut>(
    ctx: &Context<'_>,
    client: &AuditServiceClient<Channel>,
    message: M,
    call: F,
) -> async_graphql::Result<T>
where
    F: FnOnce(AuditServiceClient<Channel>, tonic::Request<M>) -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let request = crate::plans_client::authorized(ctx, message)?;
    call(client.clone(), request)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|s| crate::error::from_status(&s))
}

fn blank_is_none(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

fn context(ctx: &Context<'_>) -> async_graphql::Result<ReadContext> {
    let meta = request_meta(ctx);
    Ok(ReadContext {
        caller: caller(ctx)?.clone(),
        api: api_of(ctx),
        address: meta.address,
        request_id: meta.request_id,
    })
}

fn to_error(e: AuditError) -> async_graphql::Error {
    match e {
        AuditError::NotAuditor => error(ErrorCode::Forbidden, &e.to_string()),
        AuditError::PlanNotFound => error(ErrorCode::NotFound, "plan not found"),
        AuditError::NoSuchVersion(_) | AuditError::Invalid { .. } => {
            error(ErrorCode::BadUserInput, &e.to_string())
        }
        // As the audit service answers it: retryable, the store is away.
        AuditError::Store(inner) => {
            tracing::error!(error = %inner, "audit read failed");
            error(
                ErrorCode::Unavailable,
                "the event store did not answer; retry shortly",
            )
        }
    }
}

fn time(field: &str, raw: Option<String>) -> async_graphql::Result<Option<DateTime<Utc>>> {
    raw.map(|t| {
        DateTime::parse_from_rfc3339(&t)
            .map(|t| t.with_timezone(&Utc))
            .map_err(|_| {
                error(
                    ErrorCode::BadUserInput,
                    &format!("{field} must be an RFC 3339 time"),
                )
            })
    })
    .transpose()
}

fn page(first: Option<i32>) -> async_graphql::Result<usize> {
    match first {
        None => Ok(DEFAULT_PAGE),
        Some(n) if (1..=1000).contains(&n) => Ok(n as usize),
        Some(_) => Err(error(
            ErrorCode::BadUserInput,
            "first must be between 1 and 1000",
        )),
    }
}

/// One event of a plan's history, with its provenance.
#[derive(Debug, SimpleObject)]
pub struct AuditEvent {
    revision: u64,
    global_position: u64,
    event_id: String,
    event_type: String,
    schema_version: u32,
    recorded_at: String,
    actor_subject: String,
    actor_role: String,
    reason: Option<String>,
    request_id: String,
    trace_id: String,
    /// The `handle_command` span (W3C span id, hex) the event was decided
    /// in, within `traceId`; empty for events recorded without tracing.
    span_id: String,
    command_id: String,
    correlation_id: String,
    /// The event's fields as JSON.
    payload_json: String,
    /// The event's link in its stream's hash chain.
    hash: String,
}

impl From<HistoryEntry> for AuditEvent {
    fn from(e: HistoryEntry) -> Self {
        Self {
            revision: e.revision,
            global_position: e.global_position,
            event_id: e.event_id,
            event_type: e.event_type,
            schema_version: e.schema_version,
            recorded_at: e.recorded_at.to_rfc3339(),
            actor_subject: e.actor_subject,
            actor_role: e.actor_role,
            reason: e.reason,
            request_id: e.request_id,
            trace_id: e.trace_id,
            span_id: e.span_id,
            command_id: e.command_id,
            correlation_id: e.correlation_id,
            payload_json: e.payload.to_string(),
            hash: e.hash,
        }
    }
}

impl From<pb::HistoryEntry> for AuditEvent {
    fn from(e: pb::HistoryEntry) -> Self {
        Self {
            revision: e.revision,
            global_position: e.global_position,
            event_id: e.event_id,
            event_type: e.event_type,
            schema_version: e.schema_version,
            recorded_at: e.recorded_at,
            actor_subject: e.actor_subject,
            actor_role: e.actor_role,
            reason: blank_is_none(e.reason),
            request_id: e.request_id,
            trace_id: e.trace_id,
            span_id: e.span_id,
            command_id: e.command_id,
            correlation_id: e.correlation_id,
            payload_json: e.payload_json,
            hash: e.hash,
        }
    }
}

#[derive(Debug, SimpleObject)]
pub struct PlanHistory {
    events: Vec<AuditEvent>,
    /// Pass as `after` for the next page; null on the last page.
    next_after_revision: Option<u64>,
}

#[derive(Debug, SimpleObject)]
pub struct FieldChange {
    path: String,
    before_json: Option<String>,
    after_json: Option<String>,
}

#[derive(Debug, SimpleObject)]
pub struct AccessEntry {
    id: u64,
    subject: String,
    role: String,
    plan_id: Option<String>,
    operation: String,
    fields: Vec<String>,
    /// How the read arrived: `graphql`, `console` (a page of the browser
    /// console), `fhir` (the FHIR R4 API), `grpc`, `cli` or `export`.
    api: String,
    address: String,
    request_id: String,
    at: String,
}

#[derive(Debug, SimpleObject)]
pub struct Verification {
    ok: bool,
    streams: u64,
    events: u64,
    digests: u64,
    first_break: Option<String>,
    /// When the newest signed digest was recorded (RFC 3339); null when
    /// the tenant has none.
    last_digest_at: Option<String>,
}

#[derive(Debug, Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// A plan's events, oldest first, filterable by actor, time range
    /// (RFC 3339) and event type.
    #[allow(clippy::too_many_arguments)]
    async fn plan_history(
        &self,
        ctx: &Context<'_>,
        id: ID,
        first: Option<i32>,
        after: Option<u64>,
        actor: Option<String>,
        from: Option<String>,
        to: Option<String>,
        event_types: Option<Vec<String>>,
    ) -> async_graphql::Result<PlanHistory> {
        let (from, to) = (time("from", from)?, time("to", to)?);
        let limit = page(first)?;
        let audit = match backend(ctx) {
            AuditBackend::Local(audit) => audit,
            AuditBackend::Remote(RemoteAudit {
                service: client, ..
            }) => {
                let message = pb::PlanHistoryRequest {
                    plan_id: id.to_string(),
                    after_revision: after,
                    page_size: u32::try_from(limit).unwrap_or(u32::MAX),
                    actor: actor.unwrap_or_default(),
                    from_time: from.map(|t| t.to_rfc3339()).unwrap_or_default(),
                    to_time: to.map(|t| t.to_rfc3339()).unwrap_or_default(),
                    event_types: event_types.unwrap_or_default(),
                };
                let reply = remote(ctx, client, message, |mut c, r| async move {
                    c.get_plan_history(r).await
                })
                .await?;
                return Ok(PlanHistory {
                    events: reply.entries.into_iter().map(AuditEvent::from).collect(),
                    next_after_revision: reply.next_after_revision,
                });
            }
        };
        let read = context(ctx)?;
        let filter = HistoryFilter {
            actor,
            from,
            to,
            event_types: event_types.unwrap_or_default(),
        };
        let page = audit
            .history(&read, id.as_str(), &filter, after, limit)
            .await
            .map_err(to_error)?;
        Ok(PlanHistory {
            events: page.entries.into_iter().map(AuditEvent::from).collect(),
            next_after_revision: page.next_after_revision,
        })
    }

    /// The plan as it stood at a time (RFC 3339) or a version. Replayed from
    /// the plan's history, so resolved at most once per request (a second is
    /// refused with BAD_USER_INPUT), and over HTTP only.
    async fn plan_as_of(
        &self,
        ctx: &Context<'_>,
        id: ID,
        at: Option<String>,
        version: Option<u64>,
    ) -> async_graphql::Result<Plan> {
        spend_replay(ctx, Replay::PlanAsOf)?;
        let as_of = match (time("at", at)?, version) {
            (Some(t), None) => AsOf::Time(t),
            (None, Some(v)) => AsOf::Version(v),
            _ => {
                return Err(error(
                    ErrorCode::BadUserInput,
                    "give exactly one of at or version",
                ));
            }
        };
        match backend(ctx) {
            AuditBackend::Local(audit) => audit
                .as_ref()
                .as_of(&context(ctx)?, id.as_str(), as_of)
                .await
                .map(Plan)
                .map_err(to_error),
            AuditBackend::Remote(RemoteAudit { service, history }) => {
                let wire_as_of = match as_of {
                    AsOf::Time(t) => pb::plan_as_of_request::AsOf::Time(t.to_rfc3339()),
                    AsOf::Version(v) => pb::plan_as_of_request::AsOf::Version(v),
                };
                let message = pb::PlanAsOfRequest {
                    plan_id: id.to_string(),
                    as_of: Some(wire_as_of),
                };
                // The service authorizes the auditor and logs the read.
                remote(ctx, service, message, |mut c, r| async move {
                    c.get_plan_as_of(r).await
                })
                .await?;
                let stream = trellis_audit::plan_stream(&caller(ctx)?.tenant, id.as_str())
                    .map_err(to_error)?;
                let events = read_whole_stream(history.as_ref(), &stream)
                    .await
                    .map_err(|_| error(ErrorCode::Unavailable, "the event store did not answer"))?;
                plan_as_of(&events, as_of)
                    .map(Plan)
                    .ok_or_else(|| error(ErrorCode::NotFound, "plan not found"))
            }
        }
    }

    /// Field-level changes from one version of a plan to another. Replayed
    /// from the plan's history, so resolved at most once per request (a second
    /// is refused with BAD_USER_INPUT), and over HTTP only.
    async fn plan_diff(
        &self,
        ctx: &Context<'_>,
        id: ID,
        from_version: u64,
        to_version: u64,
    ) -> async_graphql::Result<Vec<FieldChange>> {
        spend_replay(ctx, Replay::PlanDiff)?;
        let audit = match backend(ctx) {
            AuditBackend::Local(audit) => audit,
            AuditBackend::Remote(RemoteAudit {
                service: client, ..
            }) => {
                let message = pb::DiffPlanVersionsRequest {
                    plan_id: id.to_string(),
                    from_version,
                    to_version,
                };
                let reply = remote(ctx, client, message, |mut c, r| async move {
                    c.diff_plan_versions(r).await
                })
                .await?;
                return Ok(reply
                    .changes
                    .into_iter()
                    .map(|c| FieldChange {
                        path: c.path,
                        before_json: blank_is_none(c.before_json),
                        after_json: blank_is_none(c.after_json),
                    })
                    .collect());
            }
        };
        let changes = audit
            .diff(&context(ctx)?, id.as_str(), from_version, to_version)
            .await
            .map_err(to_error)?;
        Ok(changes
            .into_iter()
            .map(|c| FieldChange {
                path: c.path,
                before_json: c.before.map(|v| v.to_string()),
                after_json: c.after.map(|v| v.to_string()),
            })
            .collect())
    }

    /// Who read a plan (`planId`), or what a user read (`subject`).
    async fn access_log(
        &self,
        ctx: &Context<'_>,
        plan_id: Option<ID>,
        subject: Option<String>,
        first: Option<i32>,
        after: Option<u64>,
    ) -> async_graphql::Result<Vec<AccessEntry>> {
        let query = match (plan_id, subject) {
            (Some(p), None) => AccessQuery::Plan(p.to_string()),
            (None, Some(s)) => AccessQuery::Subject(s),
            _ => {
                return Err(error(
                    ErrorCode::BadUserInput,
                    "give exactly one of planId or subject",
                ));
            }
        };
        let limit = page(first)?;
        let audit = match backend(ctx) {
            AuditBackend::Local(audit) => audit,
            AuditBackend::Remote(RemoteAudit {
                service: client, ..
            }) => {
                let about = match query {
                    AccessQuery::Plan(p) => pb::access_log_request::About::PlanId(p),
                    AccessQuery::Subject(s) => pb::access_log_request::About::Subject(s),
                };
                let message = pb::AccessLogRequest {
                    about: Some(about),
                    after_id: after,
                    page_size: u32::try_from(limit).unwrap_or(u32::MAX),
                };
                let reply = remote(ctx, client, message, |mut c, r| async move {
                    c.get_access_log(r).await
                })
                .await?;
                return Ok(reply
                    .entries
                    .into_iter()
                    .map(|a| AccessEntry {
                        id: a.id,
                        subject: a.subject,
                        role: a.role,
                        plan_id: blank_is_none(a.plan_id),
                        operation: a.operation,
                        fields: a.fields,
                        api: a.api,
                        address: a.address,
                        request_id: a.request_id,
                        at: a.at,
                    })
                    .collect());
            }
        };
        let entries = audit
            .access(&context(ctx)?, &query, after, limit)
            .await
            .map_err(to_error)?;
        Ok(entries
            .into_iter()
            .map(|a| AccessEntry {
                id: a.id,
                subject: a.record.subject,
                role: a.record.role,
                plan_id: a.record.plan_id,
                operation: a.record.operation,
                fields: a.record.fields,
                api: a.record.api,
                address: a.record.address,
                request_id: a.record.request_id,
                at: a.record.at.to_rfc3339(),
            })
            .collect())
    }

    /// Recomputes the tenant's hash chains and signed digests. Reads every
    /// stream of the tenant, so resolved at most once per request (a second is
    /// refused with BAD_USER_INPUT), and over HTTP only.
    async fn audit_verification(&self, ctx: &Context<'_>) -> async_graphql::Result<Verification> {
        spend_replay(ctx, Replay::AuditVerification)?;
        let audit = match backend(ctx) {
            AuditBackend::Local(audit) => audit,
            AuditBackend::Remote(RemoteAudit {
                service: client, ..
            }) => {
                let reply = remote(ctx, client, pb::VerifyRequest {}, |mut c, r| async move {
                    c.verify(r).await
                })
                .await?;
                return Ok(Verification {
                    ok: reply.ok,
                    streams: reply.streams,
                    events: reply.events,
                    digests: reply.digests,
                    first_break: blank_is_none(reply.first_break),
                    last_digest_at: blank_is_none(reply.last_digest_at),
                });
            }
        };
        let report = audit.verify(&context(ctx)?).await.map_err(to_error)?;
        Ok(Verification {
            ok: report.ok,
            streams: report.streams,
            events: report.events,
            digests: report.digests,
            first_break: report.first_break,
            last_digest_at: report.last_digest_at.map(|t| t.to_rfc3339()),
        })
    }
}
