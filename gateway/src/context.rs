//! What every resolver needs of its request: the caller, the request's
//! metadata, the fields it selected, and the access log.

use std::sync::Arc;

use async_graphql::{Context, SelectionField};
use chrono::{NaiveDate, Utc};
use trellis_auth::{Caller, Role};
use trellis_kernel::{AccessLog, AccessRecord};
use trellis_projector::{PlanView, ReadModelError};

use crate::error::{ErrorCode, error};

/// Where a GraphQL request came from; the HTTP edge puts it in the request.
#[derive(Debug, Clone, Default)]
pub struct RequestMeta {
    pub address: String,
    pub request_id: String,
}

/// What a request may still replay from history: each of [`Replay`]'s
/// kinds once. Each edge puts a fresh one in every request, so a request's
/// replay cost is known before any replay runs, whatever the document
/// selects (aliases included).
#[derive(Debug, Default)]
pub struct Replays(std::sync::atomic::AtomicU8);

/// The fields that replay history: each costs a plan's stream (or, for
/// the verification, every stream of the tenant) however little it
/// selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Replay {
    SignedVersion,
    PlanAsOf,
    PlanDiff,
    AuditVerification,
}

impl Replay {
    fn bit(self) -> u8 {
        1 << self as u8
    }

    fn field(self) -> &'static str {
        match self {
            Self::SignedVersion => "signedVersion",
            Self::PlanAsOf => "planAsOf",
            Self::PlanDiff => "planDiff",
            Self::AuditVerification => "auditVerification",
        }
    }

    fn rule(self) -> String {
        match self {
            Self::SignedVersion => format!(
                "{} is replayed from a plan's history: select it for one plan per request",
                self.field()
            ),
            Self::AuditVerification => format!(
                "{} recomputes every hash chain of the tenant: select it once per request",
                self.field()
            ),
            Self::PlanAsOf | Self::PlanDiff => format!(
                "{} is replayed from a plan's history: select it once per request",
                self.field()
            ),
        }
    }
}

/// Takes the request's one replay of `kind`, or refuses with the rule.
pub(crate) fn spend_replay(ctx: &Context<'_>, kind: Replay) -> async_graphql::Result<()> {
    // Sockets carry no budget: a subscription would replay per event.
    let Some(replays) = ctx.data_opt::<Replays>() else {
        return Err(error(
            ErrorCode::BadUserInput,
            &format!(
                "{} is replayed from history: ask for it over HTTP, not over a socket",
                kind.field()
            ),
        ));
    };
    let spent = replays
        .0
        .fetch_or(kind.bit(), std::sync::atomic::Ordering::Relaxed)
        & kind.bit()
        != 0;
    if spent {
        return Err(error(ErrorCode::BadUserInput, &kind.rule()));
    }
    Ok(())
}

pub(crate) fn internal(e: &ReadModelError) -> async_graphql::Error {
    match e {
        // Retryable: the store is away or restarting, not broken.
        ReadModelError::Unavailable(_) => {
            tracing::warn!(error = %e, "read models unavailable");
            error(
                ErrorCode::Unavailable,
                "the read models are unavailable; retry shortly",
            )
        }
        ReadModelError::Corrupt(_) => {
            tracing::error!(error = %e, "read model failed");
            error(ErrorCode::Internal, "internal error")
        }
    }
}

/// A plan the read models do not show may still exist while they are
/// rebuilt (a Redis that lost its content): then the answer is
/// UNAVAILABLE, retryable, never "no such plan".
pub(crate) async fn unless_rebuilding(
    read_models: &dyn trellis_projector::ReadModelStore,
) -> async_graphql::Result<()> {
    if read_models.rebuilding().await.map_err(|e| internal(&e))? {
        return Err(error(
            ErrorCode::Unavailable,
            "the read models are being rebuilt; retry shortly",
        ));
    }
    Ok(())
}

pub(crate) fn caller<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Caller> {
    ctx.data::<Caller>()
        .map_err(|_| error(ErrorCode::Unauthenticated, "missing bearer token"))
}

/// Marks a request run in-process for another of the gateway's APIs, so
/// its access records name that API rather than `graphql`.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Via {
    /// A page or form of the browser console.
    Console,
    /// A FHIR R4 interaction under `/fhir/r4`.
    Fhir,
}

/// The access log's `api` for this request.
pub(crate) fn api_of(ctx: &Context<'_>) -> &'static str {
    match ctx.data_opt::<Via>() {
        Some(Via::Console) => "console",
        Some(Via::Fhir) => "fhir",
        None => "graphql",
    }
}

pub(crate) fn request_meta(ctx: &Context<'_>) -> RequestMeta {
    ctx.data_opt::<RequestMeta>().cloned().unwrap_or_default()
}

/// Names of the fields selected under `field`, one level down.
pub(crate) fn selected(field: SelectionField<'_>) -> Vec<String> {
    field.selection_set().map(|f| f.name().to_owned()).collect()
}

/// Records that the caller read these plans; the data is returned only if
/// the records are durable.
pub(crate) async fn record_reads(
    ctx: &Context<'_>,
    operation: &str,
    reads: &[(&PlanView, Role)],
    fields: &[String],
) -> async_graphql::Result<()> {
    let reads: Vec<(Option<&str>, &str)> = reads
        .iter()
        .map(|(plan, role)| (Some(plan.plan_id.as_str()), role.as_str()))
        .collect();
    record_accesses(ctx, operation, &reads, fields).await
}

/// Writes one access record per (plan, role) — no plan for an aggregate
/// read — and refuses the read if they are not durable.
pub(crate) async fn record_accesses(
    ctx: &Context<'_>,
    operation: &str,
    reads: &[(Option<&str>, &str)],
    fields: &[String],
) -> async_graphql::Result<()> {
    if reads.is_empty() {
        return Ok(());
    }
    let caller = caller(ctx)?;
    let meta = request_meta(ctx);
    let at = Utc::now();
    let records = reads
        .iter()
        .map(|(plan_id, role)| AccessRecord {
            tenant: caller.tenant.clone(),
            subject: caller.subject.clone(),
            role: (*role).to_owned(),
            plan_id: plan_id.map(str::to_owned),
            operation: operation.to_owned(),
            fields: fields.to_vec(),
            api: api_of(ctx).into(),
            address: meta.address.clone(),
            request_id: meta.request_id.clone(),
            at,
        })
        .collect();
    ctx.data_unchecked::<Arc<dyn AccessLog>>()
        .record(records)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "access log write failed; read refused");
            match e {
                // The store is away: retryable, like any outage.
                trellis_kernel::StoreError::Unavailable(_) => error(
                    ErrorCode::Unavailable,
                    "the read could not be recorded (the access log is unavailable), so it was refused; retry shortly",
                ),
                _ => error(
                    ErrorCode::Internal,
                    "the read could not be recorded, so it was refused",
                ),
            }
        })
}

pub(crate) fn today() -> NaiveDate {
    Utc::now().date_naive()
}
