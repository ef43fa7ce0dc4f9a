//! What the compliance queries cost as a clinic grows: `caseload`,
//! `reviewsDue`, `unsignedPlans` and `outcomes` over N plans in the
//! embedded read models (behind the server's plan cache), asked by a
//! supervisor who sees all of them, one query at a time, with the real
//! (fsynced) access log. The two lists run twice in the same process: from
//! the store's indexes (`path: index`, what the gateway does) and from a
//! scan of every summary in scope (`path: scan`, what it did before, kept
//! as the trait's default). The process's memory is reported after the
//! plans are loaded, after the queries, and with the plan cache full.

use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use chrono::{Days, NaiveDate, Utc};
use serde::Serialize;
use trellis_audit::{Audit, DigestKey};
use trellis_auth::{Caller, Role};
use trellis_kernel::TenantId;
use trellis_plans_domain::{Instrument, ProgressSource, ReviewOrigin, SignerRole};
use trellis_projector::compliance::PlanSummary;
use trellis_projector::{
    CachedReadModels, LifecycleView, MeasureScheduleView, MeasureView, PlanFilter, PlanPage,
    PlanView, ReadModelError, ReadModelStore, ReviewView, SignatureView, SqliteReadModels,
};
use trellis_store_sqlite::SqliteEventStore;

/// As many plan documents as the embedded server caches.
const PLAN_CACHE: usize = 10_000;
/// Plans per projector batch while loading.
const LOAD_BATCH: usize = 1_000;

#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ComplianceReport {
    Query {
        workload: &'static str,
        query: &'static str,
        /// `index` (the store's), `scan` (every summary in scope) or
        /// `summaries` (the aggregates, which read them all by nature).
        path: &'static str,
        plans: usize,
        queries: u64,
        lat_p50_us: u64,
        lat_p99_us: u64,
        errors: u64,
    },
    Memory {
        workload: &'static str,
        stage: &'static str,
        plans: usize,
        load_s: f64,
        rss_mib: Option<u64>,
        peak_rss_mib: Option<u64>,
    },
}

fn review(id: String, due_on: NaiveDate, held_on: Option<NaiveDate>) -> ReviewView {
    ReviewView {
        review_id: id,
        due_on,
        held_on,
        participants: Vec::new(),
        summary: None,
        decision: None,
        entered_in_error: None,
        origin: ReviewOrigin::Rule,
    }
}

fn scores(n: usize, instrument: Instrument, today: NaiveDate) -> impl Iterator<Item = MeasureView> {
    (0..8u32).map(move |week| {
        let total = 20 - (week + n as u32 % 5).min(19);
        MeasureView {
            measure_id: format!("m-{n}-{instrument:?}-{week}"),
            instrument,
            answers: Vec::new(),
            total,
            band: instrument.band(total),
            administered_on: today - Days::new(u64::from(56 - week * 7)),
            source: ProgressSource::ClientSelfReport,
            recorded_by: "client".into(),
            entered_in_error: None,
        }
    })
}

/// A realistic plan of a 40-clinician clinic: 6 goals with objectives;
/// mostly active, some in draft, on hold or closed; a review held 90 days
/// ago and the next one due from 30 days overdue to 90 days ahead (none on
/// every 25th); 8 weekly PHQ-9 scores (and GAD-7 on every other plan);
/// every third plan awaiting the client's signature, every tenth revised
/// since it was signed, the rest signed.
fn realistic_plan(n: usize, today: NaiveDate) -> PlanView {
    let mut plan = crate::reads::plan(n);
    plan.client_id = format!("client-{n}");
    plan.primary_clinician_id = format!("clin-{}", n % 40);
    if n.is_multiple_of(4) {
        plan.care_team = vec![format!("clin-{}", (n + 7) % 40)];
    }
    plan.status = match n % 20 {
        0 => LifecycleView::Draft,
        1 => LifecycleView::OnHold,
        2 => LifecycleView::Completed,
        3 => LifecycleView::Discharged,
        _ => LifecycleView::Active,
    };
    plan.reviews = vec![review(
        format!("review-{n}-1"),
        today - Days::new(95),
        Some(today - Days::new(90)),
    )];
    if !n.is_multiple_of(25) {
        let due = today - Days::new(30) + Days::new((n * 7 % 120) as u64);
        plan.reviews
            .push(review(format!("review-{n}-2"), due, None));
    }
    plan.measure_schedule = vec![MeasureScheduleView {
        instrument: Instrument::Phq9,
        interval_days: 7,
    }];
    plan.measures = scores(n, Instrument::Phq9, today).collect();
    if n.is_multiple_of(2) {
        plan.measures.extend(scores(n, Instrument::Gad7, today));
    }
    let signed = |role| SignatureView {
        version: 1,
        role,
        signer_id: "someone".into(),
        signed_on: today - Days::new(100),
        recorded_at: None,
        revision: None,
    };
    plan.signatures = vec![signed(SignerRole::Clinician), signed(SignerRole::Client)];
    if n.is_multiple_of(3) {
        plan.signatures.pop();
    } else if n % 10 == 1 {
        plan.plan_version = 2;
    }
    plan
}

/// The read models as the gateway used them before the lists had
/// indexes: `reviews_due` and `unsigned_plans` are the trait's defaults,
/// which scan every summary in scope.
struct Scanning(Arc<dyn ReadModelStore>);

#[async_trait]
impl ReadModelStore for Scanning {
    async fn plan(&self, t: &TenantId, id: &str) -> Result<Option<PlanView>, ReadModelError> {
        self.0.plan(t, id).await
    }
    async fn plans(
        &self,
        t: &TenantId,
        filter: &PlanFilter,
        after: Option<&str>,
        first: usize,
    ) -> Result<PlanPage, ReadModelError> {
        self.0.plans(t, filter, after, first).await
    }
    async fn summaries(
        &self,
        t: &TenantId,
        filter: &PlanFilter,
    ) -> Result<Vec<PlanSummary>, ReadModelError> {
        self.0.summaries(t, filter).await
    }
    async fn save(&self, views: Vec<PlanView>, checkpoint: u64) -> Result<(), ReadModelError> {
        self.0.save(views, checkpoint).await
    }
    async fn checkpoint(&self) -> Result<Option<u64>, ReadModelError> {
        self.0.checkpoint().await
    }
    async fn ping(&self) -> Result<(), ReadModelError> {
        self.0.ping().await
    }
}

/// Resident and peak resident memory of this process, in MiB (Linux).
fn memory() -> (Option<u64>, Option<u64>) {
    let Ok(status) = std::fs::read_to_string("/proc/self/status") else {
        return (None, None);
    };
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb / 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn memory_report(stage: &'static str, plans: usize, load_s: f64) -> ComplianceReport {
    let (rss_mib, peak_rss_mib) = memory();
    ComplianceReport::Memory {
        workload: "compliance-memory",
        stage,
        plans,
        load_s,
        rss_mib,
        peak_rss_mib,
    }
}

/// (name, path, query, whether the scanning store answers it).
const QUERIES: [(&str, &str, &str, bool); 6] = [
    (
        "caseload",
        "summaries",
        "{ caseload { clinicianId active reviewsOverdue unsigned } }",
        false,
    ),
    (
        "reviewsDue",
        "scan",
        "{ reviewsDue(withinDays: 14) { overdue review { dueOn } plan { id } } }",
        true,
    ),
    (
        "reviewsDue",
        "index",
        "{ reviewsDue(withinDays: 14) { overdue review { dueOn } plan { id } } }",
        false,
    ),
    (
        "unsignedPlans",
        "scan",
        "{ unsignedPlans { id pendingSignatures } }",
        true,
    ),
    (
        "unsignedPlans",
        "index",
        "{ unsignedPlans { id pendingSignatures } }",
        false,
    ),
    (
        "outcomes",
        "summaries",
        "{ outcomes { clientsMeasured responseRate remissionRate } }",
        false,
    ),
];

pub async fn run(plans: usize, seconds: u64) -> anyhow::Result<Vec<ComplianceReport>> {
    let dir = tempfile::tempdir()?;
    let today = Utc::now().date_naive();
    let sqlite = SqliteReadModels::open(dir.path().join("read-models.db"))?;
    let started = Instant::now();
    for (batch, from) in (0..plans).step_by(LOAD_BATCH).enumerate() {
        let views = (from..(from + LOAD_BATCH).min(plans))
            .map(|n| realistic_plan(n, today))
            .collect();
        sqlite.save(views, batch as u64 + 1).await?;
    }
    let load_s = started.elapsed().as_secs_f64();
    let mut reports = vec![memory_report("loaded", plans, load_s)];
    let read_models: Arc<dyn ReadModelStore> =
        Arc::new(CachedReadModels::new(Arc::new(sqlite), PLAN_CACHE));
    let store = Arc::new(SqliteEventStore::open(dir.path().join("events.db"))?);
    let key = DigestKey::development();
    let schema = |read_models: Arc<dyn ReadModelStore>| {
        let audit = Audit::new(store.clone(), store.clone(), key.clone(), key.public_key());
        let audit = trellis_gateway::AuditBackend::Local(Box::new(audit));
        trellis_gateway::build_schema(read_models, store.clone(), audit, None, None)
    };
    let indexed = schema(Arc::clone(&read_models));
    let scanning = schema(Arc::new(Scanning(Arc::clone(&read_models))));
    let tenant = TenantId::parse("bench")?;
    let caller = Caller {
        tenant: tenant.clone(),
        subject: "sup-1".into(),
        roles: vec![Role::Supervisor],
        clinics: vec!["clinic-a".into()],
    };
    // Both paths must answer alike before either is timed.
    for (_, _, query, _) in QUERIES.iter().filter(|q| q.3) {
        let request = || async_graphql::Request::new(*query).data(caller.clone());
        let from_index = indexed.execute(request()).await;
        let from_scan = scanning.execute(request()).await;
        anyhow::ensure!(
            from_index.errors.is_empty() && from_index.data == from_scan.data,
            "the index and the scan answer {query} differently"
        );
    }
    for (name, path, query, scan) in QUERIES {
        let schema = if scan { &scanning } else { &indexed };
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
        let rank = |p: f64| crate::stats::nearest_rank(&latencies, p);
        reports.push(ComplianceReport::Query {
            workload: "compliance-query",
            query: name,
            path,
            plans,
            queries: latencies.len() as u64,
            lat_p50_us: rank(0.5),
            lat_p99_us: rank(0.99),
            errors,
        });
    }
    reports.push(memory_report("queried", plans, load_s));
    // A day of plan reads leaves the cache full.
    for n in 0..plans.min(PLAN_CACHE) {
        read_models
            .plan(&tenant, &crate::reads::plan(n).plan_id)
            .await?;
    }
    reports.push(memory_report("plan cache full", plans, load_s));
    Ok(reports)
}
