//! The `trellis.audit.v1.AuditService` edge.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tonic::{Request, Response, Status};
use trellis_auth::TokenVerifier;
use trellis_grpc_edge::{Authenticate, RequestMeta, caller, invalid_argument, observed};
use trellis_kernel::{AccessQuery, LoggedAccess};
use trellis_proto::audit::v1 as pb;

use crate::history::{HistoryEntry, HistoryFilter};
use crate::integrity::SignedDigest;
use crate::service::MAX_PAGE;
use crate::timetravel::AsOf;
use crate::{Audit, AuditError, PlanRenderer, ReadContext};

pub use pb::audit_service_server::AuditServiceServer;

const DEFAULT_PAGE: usize = 100;

/// Largest request the audit service accepts: requests are ids and
/// filters, capped like the plan commands.
pub const MAX_REQUEST_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone)]
pub struct AuditGrpc {
    audit: Audit,
    renderer: Arc<dyn PlanRenderer>,
}

impl AuditGrpc {
    /// `renderer` gives `GetPlanAsOf`'s `plan_json` its shape (the
    /// gateway's GraphQL `Plan`, in the binary).
    pub fn new(audit: Audit, renderer: Arc<dyn PlanRenderer>) -> Self {
        Self { audit, renderer }
    }

    pub fn into_server(
        self,
        verifier: Arc<TokenVerifier>,
    ) -> tonic::service::interceptor::InterceptedService<AuditServiceServer<Self>, Authenticate>
    {
        tonic::service::interceptor::InterceptedService::new(
            AuditServiceServer::new(self).max_decoding_message_size(MAX_REQUEST_BYTES),
            Authenticate::new(verifier),
        )
    }
}

fn context<T>(request: &Request<T>) -> Result<ReadContext, Status> {
    let meta = RequestMeta::of(request);
    Ok(ReadContext {
        caller: caller(request)?,
        api: "grpc",
        address: meta.address,
        request_id: meta.request_id,
    })
}

/// Maps audit errors once, here.
fn to_status(error: AuditError) -> Status {
    match error {
        AuditError::NotAuditor => Status::permission_denied(error.to_string()),
        AuditError::PlanNotFound => Status::not_found("plan not found"),
        AuditError::NoSuchVersion(_) => Status::out_of_range(error.to_string()),
        AuditError::Invalid { field, description } => {
            invalid_argument(&error.to_string(), [(field, description)])
        }
        AuditError::Store(e) => {
            tracing::error!(error = %e, "audit read failed");
            Status::unavailable("event store unavailable")
        }
    }
}

fn time(field: &'static str, raw: &str) -> Result<Option<DateTime<Utc>>, Status> {
    if raw.is_empty() {
        return Ok(None);
    }
    DateTime::parse_from_rfc3339(raw)
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| invalid_argument("invalid time", [(field, "must be an RFC 3339 time")]))
}

/// Server times with a fixed (microsecond) precision, so they line up.
fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The page size served: the default for 0, at most [`MAX_PAGE`]. The
/// cursor is judged against this, so a request for more than the maximum
/// gets a full page and a cursor, never a silently short answer.
fn page_size(requested: u32) -> usize {
    match requested {
        0 => DEFAULT_PAGE,
        n => (n as usize).min(MAX_PAGE),
    }
}

fn json(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).expect("audit values serialize")
}

fn entry(e: HistoryEntry) -> pb::HistoryEntry {
    pb::HistoryEntry {
        revision: e.revision,
        global_position: e.global_position,
        event_id: e.event_id,
        event_type: e.event_type,
        schema_version: e.schema_version,
        recorded_at: rfc3339(e.recorded_at),
        actor_subject: e.actor_subject,
        actor_role: e.actor_role,
        reason: e.reason.unwrap_or_default(),
        request_id: e.request_id,
        trace_id: e.trace_id,
        span_id: e.span_id,
        command_id: e.command_id,
        correlation_id: e.correlation_id,
        payload_json: e.payload.to_string(),
        hash: e.hash,
    }
}

fn access_entry(a: LoggedAccess) -> pb::AccessEntry {
    let r = a.record;
    pb::AccessEntry {
        id: a.id,
        subject: r.subject,
        role: r.role,
        plan_id: r.plan_id.unwrap_or_default(),
        operation: r.operation,
        fields: r.fields,
        api: r.api,
        address: r.address,
        request_id: r.request_id,
        at: rfc3339(r.at),
    }
}

fn digest(d: SignedDigest) -> pb::Digest {
    pb::Digest {
        digest_json: json(&d),
        tenant: d.tenant,
        created_at: rfc3339(d.created_at),
        streams: d.heads.len() as u64,
        root: d.root,
        public_key: d.public_key,
        signature: d.signature,
    }
}

#[tonic::async_trait]
impl pb::audit_service_server::AuditService for AuditGrpc {
    async fn get_plan_history(
        &self,
        request: Request<pb::PlanHistoryRequest>,
    ) -> Result<Response<pb::PlanHistoryResponse>, Status> {
        let ctx = context(&request)?;
        let tenant = ctx.caller.tenant.to_string();
        let result = async {
            let r = request.into_inner();
            let filter = HistoryFilter {
                actor: (!r.actor.is_empty()).then_some(r.actor),
                from: time("from_time", &r.from_time)?,
                to: time("to_time", &r.to_time)?,
                event_types: r.event_types,
            };
            let page = self
                .audit
                .history(
                    &ctx,
                    &r.plan_id,
                    &filter,
                    r.after_revision,
                    page_size(r.page_size),
                )
                .await
                .map_err(to_status)?;
            Ok(Response::new(pb::PlanHistoryResponse {
                entries: page.entries.into_iter().map(entry).collect(),
                next_after_revision: page.next_after_revision,
            }))
        }
        .await;
        observed(&tenant, "GetPlanHistory", result)
    }

    async fn get_plan_as_of(
        &self,
        request: Request<pb::PlanAsOfRequest>,
    ) -> Result<Response<pb::PlanDocument>, Status> {
        let ctx = context(&request)?;
        let tenant = ctx.caller.tenant.to_string();
        let result = async {
            let r = request.into_inner();
            let as_of = match r.as_of {
                Some(pb::plan_as_of_request::AsOf::Version(v)) => AsOf::Version(v),
                Some(pb::plan_as_of_request::AsOf::Time(t)) => {
                    AsOf::Time(time("time", &t)?.ok_or_else(|| {
                        invalid_argument("invalid time", [("time", "is required")])
                    })?)
                }
                None => {
                    return Err(invalid_argument(
                        "say as of when",
                        [("as_of", "give a time or a version")],
                    ));
                }
            };
            // Logged (durably) by `as_of` before anything is answered.
            let view = self
                .audit
                .as_of(&ctx, &r.plan_id, as_of)
                .await
                .map_err(to_status)?;
            let plan = self.renderer.render(&view).await.map_err(|e| {
                tracing::error!(error = %e, "plan as of could not be rendered");
                Status::internal("the plan could not be rendered")
            })?;
            Ok(Response::new(pb::PlanDocument {
                version: view.version,
                plan_json: plan.to_string(),
            }))
        }
        .await;
        observed(&tenant, "GetPlanAsOf", result)
    }

    async fn diff_plan_versions(
        &self,
        request: Request<pb::DiffPlanVersionsRequest>,
    ) -> Result<Response<pb::DiffPlanVersionsResponse>, Status> {
        let ctx = context(&request)?;
        let tenant = ctx.caller.tenant.to_string();
        let result = async {
            let r = request.into_inner();
            let changes = self
                .audit
                .diff(&ctx, &r.plan_id, r.from_version, r.to_version)
                .await
                .map_err(to_status)?;
            let json_or_empty =
                |v: Option<serde_json::Value>| v.map(|v| v.to_string()).unwrap_or_default();
            Ok(Response::new(pb::DiffPlanVersionsResponse {
                changes: changes
                    .into_iter()
                    .map(|c| pb::FieldChange {
                        path: c.path,
                        before_json: json_or_empty(c.before),
                        after_json: json_or_empty(c.after),
                    })
                    .collect(),
            }))
        }
        .await;
        observed(&tenant, "DiffPlanVersions", result)
    }

    async fn get_access_log(
        &self,
        request: Request<pb::AccessLogRequest>,
    ) -> Result<Response<pb::AccessLogResponse>, Status> {
        let ctx = context(&request)?;
        let tenant = ctx.caller.tenant.to_string();
        let result = async {
            let r = request.into_inner();
            let query = match r.about {
                Some(pb::access_log_request::About::PlanId(p)) => AccessQuery::Plan(p),
                Some(pb::access_log_request::About::Subject(s)) => AccessQuery::Subject(s),
                None => {
                    return Err(invalid_argument(
                        "say whose access log",
                        [("about", "give a plan_id or a subject")],
                    ));
                }
            };
            let limit = page_size(r.page_size);
            let entries = self
                .audit
                .access(&ctx, &query, r.after_id, limit)
                .await
                .map_err(to_status)?;
            let next_after_id = (entries.len() == limit)
                .then(|| entries.last().map(|e| e.id))
                .flatten();
            Ok(Response::new(pb::AccessLogResponse {
                entries: entries.into_iter().map(access_entry).collect(),
                next_after_id,
            }))
        }
        .await;
        observed(&tenant, "GetAccessLog", result)
    }

    async fn verify(
        &self,
        request: Request<pb::VerifyRequest>,
    ) -> Result<Response<pb::VerifyResponse>, Status> {
        let ctx = context(&request)?;
        let tenant = ctx.caller.tenant.to_string();
        let result = async {
            let report = self.audit.verify(&ctx).await.map_err(to_status)?;
            Ok(Response::new(pb::VerifyResponse {
                ok: report.ok,
                streams: report.streams,
                events: report.events,
                digests: report.digests,
                first_break: report.first_break.unwrap_or_default(),
                last_digest_at: report
                    .last_digest_at
                    .map(|t| t.to_rfc3339())
                    .unwrap_or_default(),
            }))
        }
        .await;
        observed(&tenant, "Verify", result)
    }

    async fn create_digest(
        &self,
        request: Request<pb::CreateDigestRequest>,
    ) -> Result<Response<pb::Digest>, Status> {
        let ctx = context(&request)?;
        let tenant = ctx.caller.tenant.to_string();
        let result = async {
            let signed = self.audit.create_digest(&ctx).await.map_err(to_status)?;
            Ok(Response::new(digest(signed)))
        }
        .await;
        observed(&tenant, "CreateDigest", result)
    }

    async fn list_digests(
        &self,
        request: Request<pb::ListDigestsRequest>,
    ) -> Result<Response<pb::ListDigestsResponse>, Status> {
        let ctx = context(&request)?;
        let tenant = ctx.caller.tenant.to_string();
        let result = async {
            let digests = self.audit.digests(&ctx).await.map_err(to_status)?;
            Ok(Response::new(pb::ListDigestsResponse {
                digests: digests.into_iter().map(digest).collect(),
            }))
        }
        .await;
        observed(&tenant, "ListDigests", result)
    }

    async fn export_plan(
        &self,
        request: Request<pb::ExportPlanRequest>,
    ) -> Result<Response<pb::ExportPlanResponse>, Status> {
        let ctx = context(&request)?;
        let tenant = ctx.caller.tenant.to_string();
        let result = async {
            let r = request.into_inner();
            let export = self
                .audit
                .export(&ctx, &r.plan_id)
                .await
                .map_err(to_status)?;
            Ok(Response::new(pb::ExportPlanResponse {
                jsonl: export.jsonl,
                html: export.html,
            }))
        }
        .await;
        observed(&tenant, "ExportPlan", result)
    }
}
