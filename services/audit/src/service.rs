//! The auditor-facing service: role check, access logging, the queries.

use std::sync::Arc;

use chrono::Utc;
use ed25519_dalek::VerifyingKey;
use trellis_auth::{Caller, Role};
use trellis_kernel::{
    AccessLog, AccessQuery, AccessRecord, Actor, EventStore, LoggedAccess, RecordedEvent,
    StoreError, StreamName, TenantId,
};
use trellis_plans_domain::PLAN_CATEGORY;
use trellis_projector::PlanView;
use uuid::Uuid;

use crate::export::{self, Export};
use crate::history::{self, HistoryFilter, HistoryPage};
use crate::integrity::{self, DigestKey, SignedDigest, VerifyReport};
use crate::timetravel::{self, AsOf, FieldChange};

/// Largest page of history or access log one call returns.
pub const MAX_PAGE: usize = 1000;

/// Who is asking, and through which door: what the access log records.
#[derive(Debug, Clone)]
pub struct ReadContext {
    pub caller: Caller,
    /// `grpc`, `graphql`, `cli` or `export`.
    pub api: &'static str,
    pub address: String,
    pub request_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("only auditors may read the audit trail")]
    NotAuditor,
    #[error("plan not found")]
    PlanNotFound,
    #[error("the plan has no such version: a version counts its events from 0")]
    NoSuchVersion(u64),
    #[error("{field}: {description}")]
    Invalid {
        field: &'static str,
        description: &'static str,
    },
    #[error("event store: {0}")]
    Store(#[from] StoreError),
}

/// The audit trail of every tenant in one store. Each call answers for the
/// caller's tenant only.
#[derive(Clone)]
pub struct Audit {
    /// Events as readers see them (plan content opened).
    store: Arc<dyn EventStore>,
    /// Events as stored (plan content sealed): what the hash chain covers,
    /// so what verification and digests read.
    record: Arc<dyn EventStore>,
    access: Arc<dyn AccessLog>,
    key: DigestKey,
    trusted: VerifyingKey,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Audit {
    /// `key` signs new digests; digests are verified against `trusted`
    /// (normally `key`'s public key; an older key after a rotation).
    pub fn new(
        store: Arc<dyn EventStore>,
        access: Arc<dyn AccessLog>,
        key: DigestKey,
        trusted: VerifyingKey,
    ) -> Self {
        Self {
            record: Arc::clone(&store),
            store,
            access,
            key,
            trusted,
        }
    }

    /// Verification and digests read `record`, the store beneath the one
    /// history is read from, when that one opens sealed content.
    pub fn with_record(mut self, record: Arc<dyn EventStore>) -> Self {
        self.record = record;
        self
    }

    /// The event store the trail is read from, for readers that have
    /// authorized their caller already (a plan's signed version).
    pub fn event_store(&self) -> &Arc<dyn EventStore> {
        &self.store
    }

    pub fn access_log(&self) -> &Arc<dyn AccessLog> {
        &self.access
    }

    fn require_auditor(ctx: &ReadContext) -> Result<(), AuditError> {
        if ctx.caller.has_role(Role::Auditor) {
            Ok(())
        } else {
            Err(AuditError::NotAuditor)
        }
    }

    /// Writes the access record; the caller gets nothing unless it is durable.
    async fn log(
        &self,
        ctx: &ReadContext,
        plan_id: Option<&str>,
        operation: &str,
        fields: &[&str],
    ) -> Result<(), AuditError> {
        self.access
            .record(vec![AccessRecord {
                tenant: ctx.caller.tenant.clone(),
                subject: ctx.caller.subject.clone(),
                role: Role::Auditor.as_str().to_owned(),
                plan_id: plan_id.map(str::to_owned),
                operation: operation.to_owned(),
                fields: fields.iter().map(|f| (*f).to_owned()).collect(),
                api: ctx.api.to_owned(),
                address: ctx.address.clone(),
                request_id: ctx.request_id.clone(),
                at: Utc::now(),
            }])
            .await?;
        Ok(())
    }

    fn plan_stream(tenant: &TenantId, plan_id: &str) -> Result<StreamName, AuditError> {
        plan_stream(tenant, plan_id)
    }

    async fn plan_events(
        &self,
        ctx: &ReadContext,
        plan_id: &str,
    ) -> Result<Vec<RecordedEvent>, AuditError> {
        let stream = Self::plan_stream(&ctx.caller.tenant, plan_id)?;
        let events = history::read_whole_stream(self.store.as_ref(), &stream).await?;
        if events.is_empty() {
            return Err(AuditError::PlanNotFound);
        }
        Ok(events)
    }

    pub async fn history(
        &self,
        ctx: &ReadContext,
        plan_id: &str,
        filter: &HistoryFilter,
        after_revision: Option<u64>,
        limit: usize,
    ) -> Result<HistoryPage, AuditError> {
        Self::require_auditor(ctx)?;
        let events = self.plan_events(ctx, plan_id).await?;
        self.log(ctx, Some(plan_id), "audit:history", &["history"])
            .await?;
        Ok(history::page(
            &events,
            filter,
            after_revision,
            limit.clamp(1, MAX_PAGE),
        ))
    }

    pub async fn as_of(
        &self,
        ctx: &ReadContext,
        plan_id: &str,
        as_of: AsOf,
    ) -> Result<PlanView, AuditError> {
        Self::require_auditor(ctx)?;
        let events = self.plan_events(ctx, plan_id).await?;
        if let AsOf::Version(v) = as_of
            && v >= events.len() as u64
        {
            return Err(AuditError::NoSuchVersion(v));
        }
        let view = timetravel::plan_as_of(&events, as_of).ok_or(AuditError::PlanNotFound)?;
        self.log(ctx, Some(plan_id), "audit:as-of", &["plan"])
            .await?;
        Ok(view)
    }

    pub async fn diff(
        &self,
        ctx: &ReadContext,
        plan_id: &str,
        from_version: u64,
        to_version: u64,
    ) -> Result<Vec<FieldChange>, AuditError> {
        Self::require_auditor(ctx)?;
        let events = self.plan_events(ctx, plan_id).await?;
        let at = |v: u64| {
            if v >= events.len() as u64 {
                return Err(AuditError::NoSuchVersion(v));
            }
            timetravel::plan_as_of(&events, AsOf::Version(v)).ok_or(AuditError::PlanNotFound)
        };
        let (before, after) = (at(from_version)?, at(to_version)?);
        self.log(ctx, Some(plan_id), "audit:diff", &["plan"])
            .await?;
        Ok(timetravel::diff(&before, &after))
    }

    pub async fn access(
        &self,
        ctx: &ReadContext,
        query: &AccessQuery,
        after_id: Option<u64>,
        limit: usize,
    ) -> Result<Vec<LoggedAccess>, AuditError> {
        Self::require_auditor(ctx)?;
        let plan = match query {
            AccessQuery::Plan(p) => Some(p.as_str()),
            AccessQuery::Subject(_) => None,
        };
        self.log(ctx, plan, "audit:access-log", &["access_log"])
            .await?;
        Ok(self
            .access
            .query(
                &ctx.caller.tenant,
                query,
                after_id,
                limit.clamp(1, MAX_PAGE),
            )
            .await?)
    }

    pub async fn verify(&self, ctx: &ReadContext) -> Result<VerifyReport, AuditError> {
        Self::require_auditor(ctx)?;
        self.log(ctx, None, "audit:verify", &[]).await?;
        Ok(integrity::verify(
            self.record.as_ref(),
            Some(&ctx.caller.tenant),
            &self.trusted,
        )
        .await?)
    }

    pub async fn create_digest(&self, ctx: &ReadContext) -> Result<SignedDigest, AuditError> {
        Self::require_auditor(ctx)?;
        self.log(ctx, None, "audit:create-digest", &["digests"])
            .await?;
        let actor = Actor {
            subject: ctx.caller.subject.clone(),
            role: Role::Auditor.as_str().to_owned(),
        };
        Ok(
            integrity::create_digest(self.record.as_ref(), &ctx.caller.tenant, &self.key, actor)
                .await?,
        )
    }

    /// The periodic digest `trellis serve` signs for each changed tenant.
    pub async fn create_system_digest(
        &self,
        tenant: &TenantId,
    ) -> Result<SignedDigest, AuditError> {
        let actor = Actor {
            subject: "trellis".into(),
            role: "system".into(),
        };
        Ok(integrity::create_digest(self.record.as_ref(), tenant, &self.key, actor).await?)
    }

    pub async fn digests(&self, ctx: &ReadContext) -> Result<Vec<SignedDigest>, AuditError> {
        Self::require_auditor(ctx)?;
        self.log(ctx, None, "audit:digests", &["digests"]).await?;
        Ok(integrity::list_digests(self.record.as_ref(), &ctx.caller.tenant).await?)
    }

    pub async fn export(&self, ctx: &ReadContext, plan_id: &str) -> Result<Export, AuditError> {
        Self::require_auditor(ctx)?;
        let events = self.plan_events(ctx, plan_id).await?;
        let verification = integrity::verify(
            self.record.as_ref(),
            Some(&ctx.caller.tenant),
            &self.trusted,
        )
        .await?;
        let export_ctx = ReadContext {
            api: "export",
            ..ctx.clone()
        };
        self.log(
            &export_ctx,
            Some(plan_id),
            "audit:export",
            &["history", "access_log", "plan"],
        )
        .await?;
        let mut access = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .access
                .query(
                    &ctx.caller.tenant,
                    &AccessQuery::Plan(plan_id.to_owned()),
                    after,
                    MAX_PAGE,
                )
                .await?;
            let full = page.len() == MAX_PAGE;
            after = page.last().map(|a| a.id);
            access.extend(page);
            if !full {
                break;
            }
        }
        Ok(export::render(plan_id, &events, &access, &verification))
    }
}

/// The stream of `plan_id` in `tenant`; refuses an id that is not a UUID.
pub fn plan_stream(tenant: &TenantId, plan_id: &str) -> Result<StreamName, AuditError> {
    let id = Uuid::parse_str(plan_id).map_err(|_| AuditError::Invalid {
        field: "plan_id",
        description: "must be a UUID",
    })?;
    Ok(
        StreamName::new(tenant.clone(), PLAN_CATEGORY, &id.to_string())
            .expect("a uuid is a valid stream id"),
    )
}
