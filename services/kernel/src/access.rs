//! The access log: who read which plan's clinical content, when, how.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{StoreError, TenantId};

/// One read of clinical content. Written durably before the data leaves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessRecord {
    pub tenant: TenantId,
    pub subject: String,
    pub role: String,
    /// The plan read; `None` for reads not about one plan (e.g. a user's
    /// access log).
    pub plan_id: Option<String>,
    /// What was asked, e.g. `graphql:plan` or `grpc:AuditService/GetPlanHistory`.
    pub operation: String,
    /// Which parts of the plan were returned.
    pub fields: Vec<String>,
    /// `graphql`, `console`, `grpc`, `cli` or `export`.
    pub api: String,
    /// The caller's network address as the server saw it.
    pub address: String,
    pub request_id: String,
    pub at: DateTime<Utc>,
}

/// A stored access record and its position in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoggedAccess {
    pub id: u64,
    pub record: AccessRecord,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccessQuery {
    Plan(String),
    Subject(String),
}

#[async_trait]
pub trait AccessLog: Send + Sync + 'static {
    /// Returns once every record is durable. Records of concurrent callers
    /// share one fsync.
    async fn record(&self, records: Vec<AccessRecord>) -> Result<(), StoreError>;

    /// A tenant's records for one plan or one subject, oldest first, after
    /// the record id `after`.
    async fn query(
        &self,
        tenant: &TenantId,
        query: &AccessQuery,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<LoggedAccess>, StoreError>;
}
