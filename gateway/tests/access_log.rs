//! A read whose access record cannot be written returns no data.

use std::sync::Arc;

use async_trait::async_trait;
use trellis_audit::{Audit, DigestKey};
use trellis_auth::{Caller, Role};
use trellis_kernel::{AccessLog, AccessQuery, AccessRecord, LoggedAccess, StoreError, TenantId};
use trellis_projector::{ReadModelStore, SqliteReadModels};
use trellis_store_sqlite::SqliteEventStore;

mod common;

/// An access log whose writes fail: the store is away, or it is broken.
struct BrokenAccessLog {
    away: bool,
}

#[async_trait]
impl AccessLog for BrokenAccessLog {
    async fn record(&self, _: Vec<AccessRecord>) -> Result<(), StoreError> {
        if self.away {
            Err(StoreError::Unavailable(
                "connection refused by db.internal".into(),
            ))
        } else {
            Err(StoreError::Corrupt("disk full".into()))
        }
    }
    async fn query(
        &self,
        _: &TenantId,
        _: &AccessQuery,
        _: Option<u64>,
        _: usize,
    ) -> Result<Vec<LoggedAccess>, StoreError> {
        Ok(Vec::new())
    }
}

async fn query_plan(access_log: Arc<dyn AccessLog>) -> async_graphql::Response {
    let dir = tempfile::tempdir().unwrap();
    let read_models = SqliteReadModels::open(dir.path().join("rm.db")).unwrap();
    read_models.save(vec![common::plan()], 1).await.unwrap();
    let store = Arc::new(SqliteEventStore::open(dir.path().join("events.db")).unwrap());
    let key = DigestKey::development();
    let audit = Audit::new(store.clone(), store, key.clone(), key.public_key());
    let schema = trellis_gateway::build_schema(
        Arc::new(read_models),
        access_log,
        trellis_gateway::AuditBackend::Local(Box::new(audit)),
        None,
        None,
    );
    let caller = Caller {
        tenant: TenantId::parse("north").unwrap(),
        subject: "clin-1".into(),
        roles: vec![Role::Clinician],
        clinics: vec![],
    };
    let request = async_graphql::Request::new(format!(
        "{{ plan(id: \"{}\") {{ title }} }}",
        common::plan().plan_id
    ))
    .data(caller);
    schema.execute(request).await
}

#[tokio::test]
async fn a_read_that_cannot_be_recorded_fails_and_returns_nothing() {
    // Away is retryable (UNAVAILABLE); broken is INTERNAL. Neither leaks
    // the store's words.
    for (away, expected, internals) in [
        (true, "UNAVAILABLE", "db.internal"),
        (false, "INTERNAL", "disk full"),
    ] {
        let response = query_plan(Arc::new(BrokenAccessLog { away })).await;
        let data = response.data.into_json().unwrap();
        assert_eq!(data, serde_json::Value::Null, "no plan data leaves");
        assert_eq!(response.errors.len(), 1);
        let code = response.errors[0]
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .cloned();
        assert_eq!(code, Some(async_graphql::Value::from(expected)));
        assert!(
            !response.errors[0].message.contains(internals),
            "no internals leak"
        );
    }
}

#[tokio::test]
async fn a_recorded_read_returns_the_plan() {
    let dir = tempfile::tempdir().unwrap();
    let log = Arc::new(SqliteEventStore::open(dir.path().join("log.db")).unwrap());
    let response = query_plan(log.clone()).await;
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let logged = log
        .query(
            &TenantId::parse("north").unwrap(),
            &AccessQuery::Plan(common::plan().plan_id),
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(logged.len(), 1);
    assert_eq!(logged[0].record.fields, ["title"]);
}
