//! Plan-query throughput with and without the access log, in process: the
//! GraphQL schema over embedded read models, concurrent `plan(id)` queries,
//! every read's access record durable (fsynced) before it is answered.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::Serialize;
use trellis_audit::{Audit, DigestKey};
use trellis_auth::{Caller, Role};
use trellis_kernel::{AccessLog, AccessQuery, AccessRecord, LoggedAccess, StoreError, TenantId};
use trellis_projector::{GoalView, ObjectiveView, PlanView, ReadModelStore, SqliteReadModels};
use trellis_store_sqlite::SqliteEventStore;

/// The baseline: reads that leave no record. Exists only here, to price
/// the access log; the server has no way to turn it off.
struct NotRecorded;

#[async_trait]
impl AccessLog for NotRecorded {
    async fn record(&self, _: Vec<AccessRecord>) -> Result<(), StoreError> {
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

#[derive(Debug, Serialize)]
pub struct ReadReport {
    workload: &'static str,
    access_log: bool,
    concurrency: usize,
    seconds: f64,
    queries: u64,
    queries_per_s: f64,
    lat_p50_us: u64,
    lat_p99_us: u64,
    errors: u64,
}

pub(crate) fn plan(n: usize) -> PlanView {
    let objective = |i: usize| {
        ObjectiveView {
        objective_id: format!("00000000-0000-0000-0001-{i:012}"),
        description: "Client will increase sleeping through the night from 0 times per week to 2 times per week.".into(),
        baseline: 0.0,
        target: 2.0,
        unit: "nights".into(),
        period: "week".into(),
        target_date: "2027-05-01".parse().expect("date"),
        ..ObjectiveView::default()
    }
    };
    PlanView {
        tenant: "bench".into(),
        plan_id: format!("00000000-0000-0000-0000-{n:012}"),
        client_id: "client-1".into(),
        primary_clinician_id: "clin-1".into(),
        clinic_id: "clinic-a".into(),
        title: "Generalized Anxiety Disorder".into(),
        created_on: "2026-11-29".parse().expect("date"),
        version: 12,
        updated_at: chrono::Utc::now(),
        goals: (0..6)
            .map(|g| GoalView {
                goal_id: format!("00000000-0000-0000-0002-{g:012}"),
                description: "Achieve and maintain 60-70% reduction in anxiety symptoms as measured by GAD-7.".into(),
                term: trellis_plans_domain::GoalTerm::ShortTerm,
                outcome: None,
                closed_on: None,
                objectives: vec![objective(g)],
                entered_in_error: None,
                revisions: Vec::new(),
                added: None,
            })
            .collect(),
        plan_version: 1,
        ..PlanView::default()
    }
}

pub async fn run(access_log: bool, concurrency: usize, seconds: u64) -> anyhow::Result<ReadReport> {
    const PLANS: usize = 100;
    let dir = tempfile::tempdir()?;
    let read_models = SqliteReadModels::open(dir.path().join("read-models.db"))?;
    read_models.save((0..PLANS).map(plan).collect(), 1).await?;
    let store = Arc::new(SqliteEventStore::open(dir.path().join("events.db"))?);
    let log: Arc<dyn AccessLog> = if access_log {
        store.clone()
    } else {
        Arc::new(NotRecorded)
    };
    let key = DigestKey::development();
    let audit = Audit::new(store.clone(), store, key.clone(), key.public_key());
    let audit = trellis_gateway::AuditBackend::Local(Box::new(audit));
    let schema = trellis_gateway::build_schema(Arc::new(read_models), log, audit, None, None);
    let caller = Caller {
        tenant: TenantId::parse("bench")?,
        subject: "clin-1".into(),
        roles: vec![Role::Clinician],
        clinics: vec![],
    };

    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (schema, caller, errors) = (schema.clone(), caller.clone(), Arc::clone(&errors));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut n = worker;
            while Instant::now() < deadline {
                let query = format!(
                    "{{ plan(id: \"{}\") {{ title version goals {{ description objectives {{ description baseline target unit targetDate }} }} }} }}",
                    plan(n % PLANS).plan_id
                );
                let t = Instant::now();
                let response = schema.execute(async_graphql::Request::new(query).data(caller.clone())).await;
                latencies.push(t.elapsed().as_micros() as u64);
                if !response.errors.is_empty() {
                    errors.fetch_add(1, Ordering::Relaxed);
                }
                n += concurrency;
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await?);
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let rank = |p: f64| crate::stats::nearest_rank(&latencies, p);
    Ok(ReadReport {
        workload: "plan-query",
        access_log,
        concurrency,
        seconds: elapsed,
        queries: latencies.len() as u64,
        queries_per_s: latencies.len() as f64 / elapsed,
        lat_p50_us: rank(0.5),
        lat_p99_us: rank(0.99),
        errors: errors.load(Ordering::Relaxed),
    })
}
