//! What the compliance queries cost as a clinic grows: `caseload`,
//! `reviewsDue`, `unsignedPlans` and `outcomes` over N plans in the
//! embedded read models, asked by a supervisor who sees all of them, one
//! query at a time, with the real (fsynced) access log.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Serialize;
use trellis_audit::{Audit, DigestKey};
use trellis_auth::{Caller, Role};
use trellis_kernel::TenantId;
use trellis_plans_domain::{Instrument, ProgressSource, SignerRole};
use trellis_projector::{
    LifecycleView, MeasureScheduleView, MeasureView, PlanView, ReadModelStore, ReviewView,
    SignatureView, SqliteReadModels,
};
use trellis_store_sqlite::SqliteEventStore;

#[derive(Debug, Serialize)]
pub struct ComplianceReport {
    workload: &'static str,
    query: &'static str,
    plans: usize,
    queries: u64,
    lat_p50_us: u64,
    lat_p99_us: u64,
    errors: u64,
}

/// A realistic active plan: a review due in 0–60 days, weekly PHQ-9s,
/// every third plan awaiting the client's signature.
fn active_plan(n: usize) -> PlanView {
    let today = Utc::now().date_naive();
    let mut plan = crate::reads::plan(n);
    plan.primary_clinician_id = format!("clin-{}", n % 20);
    plan.status = LifecycleView::Active;
    plan.reviews = vec![ReviewView {
        review_id: format!("review-{n}"),
        due_on: today + chrono::Days::new((n % 60) as u64),
        held_on: None,
        participants: Vec::new(),
        summary: None,
        decision: None,
        entered_in_error: None,
        origin: trellis_plans_domain::ReviewOrigin::Rule,
    }];
    plan.measure_schedule = vec![MeasureScheduleView {
        instrument: Instrument::Phq9,
        interval_days: 7,
    }];
    plan.measures = (0..8u32)
        .map(|week| {
            let total = 20 - (week + n as u32 % 5).min(19);
            MeasureView {
                measure_id: format!("m-{n}-{week}"),
                instrument: Instrument::Phq9,
                answers: Vec::new(),
                total,
                band: Instrument::Phq9.band(total),
                administered_on: today - chrono::Days::new(u64::from(56 - week * 7)),
                source: ProgressSource::ClientSelfReport,
                recorded_by: "client".into(),
                entered_in_error: None,
            }
        })
        .collect();
    let signed = |role| SignatureView {
        version: 1,
        role,
        signer_id: "someone".into(),
        signed_on: today,
    };
    plan.signatures = if n.is_multiple_of(3) {
        vec![signed(SignerRole::Clinician)]
    } else {
        vec![signed(SignerRole::Clinician), signed(SignerRole::Client)]
    };
    plan
}

const QUERIES: [(&str, &str); 4] = [
    (
        "caseload",
        "{ caseload { clinicianId active reviewsOverdue unsigned } }",
    ),
    (
        "reviewsDue",
        "{ reviewsDue(withinDays: 14) { overdue review { dueOn } plan { id } } }",
    ),
    (
        "unsignedPlans",
        "{ unsignedPlans { id pendingSignatures } }",
    ),
    (
        "outcomes",
        "{ outcomes { clientsMeasured responseRate remissionRate } }",
    ),
];

pub async fn run(plans: usize, seconds: u64) -> anyhow::Result<Vec<ComplianceReport>> {
    let dir = tempfile::tempdir()?;
    let read_models = SqliteReadModels::open(dir.path().join("read-models.db"))?;
    read_models
        .save((0..plans).map(active_plan).collect(), 1)
        .await?;
    let store = Arc::new(SqliteEventStore::open(dir.path().join("events.db"))?);
    let key = DigestKey::development();
    let audit = Audit::new(store.clone(), store.clone(), key.clone(), key.public_key());
    let audit = trellis_gateway::AuditBackend::Local(Box::new(audit));
    let schema = trellis_gateway::build_schema(Arc::new(read_models), store, audit, None, None);
    let caller = Caller {
        tenant: TenantId::parse("bench")?,
        subject: "sup-1".into(),
        roles: vec![Role::Supervisor],
        clinics: vec!["clinic-a".into()],
    };
    let mut reports = Vec::new();
    for (name, query) in QUERIES {
        let mut latencies = Vec::new();
        let mut errors = 0;
        let deadline = Instant::now() + Duration::from_secs(seconds);
        while Instant::now() < deadline {
            let t = Instant::now();
            let response = schema
                .execute(async_graphql::Request::new(query).data(caller.clone()))
                .await;
            latencies.push(t.elapsed().as_micros() as u64);
            errors += u64::from(!response.errors.is_empty());
        }
        latencies.sort_unstable();
        let rank = |p: f64| {
            let i = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1;
            latencies[i]
        };
        reports.push(ComplianceReport {
            workload: "compliance-query",
            query: name,
            plans,
            queries: latencies.len() as u64,
            lat_p50_us: rank(0.5),
            lat_p99_us: rank(0.99),
            errors,
        });
    }
    Ok(reports)
}
