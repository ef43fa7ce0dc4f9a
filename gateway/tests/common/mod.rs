//! A gateway over temporary read models, for the HTTP and WebSocket tests.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use axum::Router;
use trellis_audit::{Audit, DigestKey};
use trellis_auth::{Caller, DEV_SECRET, Role, TokenIssuer, TokenVerifier};
use trellis_gateway::GatewayConfig;
use trellis_gateway::mobile::MemoryMobile;
use trellis_kernel::{AccessLog, AccessQuery, AccessRecord, LoggedAccess, StoreError, TenantId};
use trellis_projector::{LocalChanges, PlanView, ReadModelStore, SqliteReadModels};
use trellis_store_sqlite::SqliteEventStore;

pub const TENANT: &str = "north";
pub const PLAN_ID: &str = "5f0c0000-0000-0000-0000-000000000001";

/// Keeps every access record it is given.
#[derive(Debug, Default)]
pub struct RecordingLog(pub Mutex<Vec<AccessRecord>>);

#[async_trait]
impl AccessLog for RecordingLog {
    async fn record(&self, records: Vec<AccessRecord>) -> Result<(), StoreError> {
        self.0.lock().unwrap().extend(records);
        Ok(())
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

pub fn plan() -> PlanView {
    PlanView {
        tenant: TENANT.into(),
        plan_id: PLAN_ID.into(),
        client_id: "client-1".into(),
        primary_clinician_id: "clin-1".into(),
        clinic_id: "clinic-a".into(),
        title: "Plan".into(),
        created_on: "2026-11-29".parse().unwrap(),
        version: 0,
        updated_at: chrono::Utc::now(),
        plan_version: 1,
        ..PlanView::default()
    }
}

/// A bearer token of `subject` in the test tenant.
pub fn token(subject: &str, roles: &[Role]) -> String {
    let caller = Caller {
        tenant: TenantId::parse(TENANT).unwrap(),
        subject: subject.into(),
        roles: roles.to_vec(),
        clinics: vec![],
    };
    TokenIssuer::hs256(DEV_SECRET.as_bytes())
        .unwrap()
        .issue(&caller, chrono::Duration::hours(1))
        .unwrap()
}

pub struct Gateway {
    pub router: Router,
    pub read_models: SqliteReadModels,
    pub log: Arc<RecordingLog>,
    pub changes: LocalChanges,
    _dir: tempfile::TempDir,
}

/// The gateway's router with one plan (clin-1's) in its read models;
/// `configure` adjusts the configuration.
pub async fn gateway(configure: impl FnOnce(&mut GatewayConfig)) -> Gateway {
    let dir = tempfile::tempdir().unwrap();
    let read_models = SqliteReadModels::open(dir.path().join("rm.db")).unwrap();
    read_models.save(vec![plan()], 1).await.unwrap();
    let kept = read_models.clone();
    let store = Arc::new(SqliteEventStore::open(dir.path().join("events.db")).unwrap());
    let key = DigestKey::development();
    let audit = Audit::new(store.clone(), store, key.clone(), key.public_key());
    let log = Arc::new(RecordingLog::default());
    let changes = LocalChanges::default();
    let schema = trellis_gateway::build_schema(
        Arc::new(read_models) as Arc<dyn ReadModelStore>,
        log.clone(),
        trellis_gateway::AuditBackend::Local(Box::new(audit)),
        None,
        Some(changes.clone()),
    );
    let mobile = Arc::new(MemoryMobile::new(0));
    let mut config = GatewayConfig {
        graphiql: false,
        queries: mobile.clone(),
        limiter: mobile,
        edge: Default::default(),
        console: Default::default(),
    };
    configure(&mut config);
    let verifier = Arc::new(TokenVerifier::hs256(DEV_SECRET.as_bytes()).unwrap());
    Gateway {
        router: trellis_gateway::router(schema, verifier, config),
        read_models: kept,
        log,
        changes,
        _dir: dir,
    }
}

/// Serves `router` on a free loopback port.
pub async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    address
}
