//! Workload W3: GraphQL `plan(id)` over HTTP against a `trellis serve`
//! child, with the access log on (every read is an fsynced access record,
//! as in production). Closed-loop clients, each on its own HTTP/1.1
//! keep-alive connection, each reading the plans in turn; beside it, on
//! the same server and connections, `GET /healthz` as the baseline.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde::Serialize;
use serde_json::json;
use trellis_plans_domain::PlanId;

use crate::w2::load::{Pacing, Rpc};
use crate::w2::prefill::{self, Filler};
use crate::w2::server::{ChildRun, Server};
use crate::w2::{measure, token};

/// What a clinician's plan screen reads: the plan with its goals and
/// objectives, its next review and what it still needs.
const PLAN_QUERY: &str = "query($id: ID!) { plan(id: $id) { id title status version \
     clientId primaryClinicianId updatedAt goals { id description term objectives { id \
     description } } nextReview { dueOn } reviewStanding pendingSignatures \
     clinicalContext { strengths barriers } } }";

/// Events in each plan: `PlanCreated` and six goals.
const PLAN_EVENTS: u64 = 7;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct W3Options {
    #[command(flatten)]
    child: ChildRun,
    /// Concurrent connections, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "1,16")]
    connections: Vec<usize>,
    /// Plans in the store, read in turn by every client.
    #[arg(long, default_value_t = 100)]
    plans: usize,
}

/// One run of one configuration.
#[derive(Debug, Clone, Serialize)]
struct RunReport {
    workload: &'static str,
    run: usize,
    connections: usize,
    plans: usize,
    seconds: f64,
    queries: u64,
    queries_per_s: f64,
    p50_us: u64,
    p99_us: u64,
    errors_by_class: std::collections::BTreeMap<String, u64>,
    baseline_rps: f64,
    baseline_p50_us: u64,
    baseline_p99_us: u64,
    server_cpu: f64,
    bench_cpu: f64,
    other_cpu: f64,
    server_threads: std::collections::BTreeMap<String, f64>,
}

/// `plan(id)` for each of the plans in turn, as their clinician.
#[derive(Debug)]
struct PlanReader {
    client: reqwest::Client,
    url: String,
    authorization: String,
    plans: Vec<String>,
    next: usize,
}

impl Rpc for PlanReader {
    async fn call(&mut self) -> Result<(), String> {
        let id = &self.plans[self.next % self.plans.len()];
        self.next += 1;
        let answer = self
            .client
            .post(&self.url)
            .header("authorization", &self.authorization)
            .json(&json!({ "query": PLAN_QUERY, "variables": { "id": id } }))
            .send()
            .await
            .map_err(|_| "transport".to_owned())?;
        let status = answer.status();
        let body: serde_json::Value = answer.json().await.map_err(|_| "body".to_owned())?;
        if !status.is_success() {
            return Err(format!("HTTP {}", status.as_u16()));
        }
        if body.get("errors").is_some() || body["data"]["plan"]["id"] != json!(id) {
            return Err("graphql".into());
        }
        Ok(())
    }
}

/// `GET /healthz` on the same kind of connection.
#[derive(Debug)]
struct Liveness {
    client: reqwest::Client,
    url: String,
}

impl Rpc for Liveness {
    async fn call(&mut self) -> Result<(), String> {
        let answer = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|_| "transport".to_owned())?;
        let status = answer.status();
        answer.bytes().await.map_err(|_| "body".to_owned())?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {}", status.as_u16()))
        }
    }
}

/// A client of its own: its own pool, so its own connection.
fn connection() -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(30))
        .build()?)
}

pub(crate) fn run(options: &W3Options) -> anyhow::Result<()> {
    let trellis = options.child.binary()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut reports = Vec::new();
    for run in 1..=options.child.runs {
        for &connections in &options.connections {
            let report = runtime.block_on(configuration(&trellis, options, run, connections))?;
            println!("{}", serde_json::to_string(&report)?);
            reports.push(report);
        }
    }
    eprintln!(
        "\nW3 medians ({} run(s) each): GraphQL plan(id) over HTTP, access log on\n",
        options.child.runs
    );
    eprintln!(
        "| connections | queries/s | p50 µs | p99 µs | errors | /healthz rps | /healthz p50 / p99 µs | server / bench CPU |"
    );
    eprintln!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for &connections in &options.connections {
        let runs: Vec<&RunReport> = reports
            .iter()
            .filter(|r| r.connections == connections)
            .collect();
        let median = |f: fn(&RunReport) -> f64| {
            let mut values: Vec<f64> = runs.iter().map(|r| f(r)).collect();
            values.sort_by(f64::total_cmp);
            values[values.len() / 2]
        };
        eprintln!(
            "| {connections} | {:.0} | {:.0} | {:.0} | {} | {:.0} | {:.0} / {:.0} | {:.2} / {:.2} |",
            median(|r| r.queries_per_s),
            median(|r| r.p50_us as f64),
            median(|r| r.p99_us as f64),
            runs.iter()
                .map(|r| r.errors_by_class.values().sum::<u64>())
                .sum::<u64>(),
            median(|r| r.baseline_rps),
            median(|r| r.baseline_p50_us as f64),
            median(|r| r.baseline_p99_us as f64),
            median(|r| r.server_cpu),
            median(|r| r.bench_cpu),
        );
    }
    Ok(())
}

async fn configuration(
    trellis: &std::path::Path,
    options: &W3Options,
    run: usize,
    connections: usize,
) -> anyhow::Result<RunReport> {
    let dir = options.child.data_dir("trellis-w3-")?;
    let fixture = prefill::fill(
        &dir.path().join("events.db"),
        options.plans.max(1),
        PLAN_EVENTS,
        Filler::Goals,
    )
    .await?;
    let server = Server::start(trellis, dir.path()).await?;
    let token = token(&fixture.tenant)?;
    server
        .wait_projected(
            &token,
            fixture.last_plan,
            fixture.version,
            Instant::now() + Duration::from_secs(120),
        )
        .await?
        .context("filled plans not projected within 2 minutes")?;
    let window = || options.child.window();
    let health: Vec<Liveness> = (0..connections)
        .map(|_| {
            Ok(Liveness {
                client: connection()?,
                url: server.graphql.url().replace("/graphql", "/healthz"),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let (_, baseline, baseline_cpu) = measure(&server, health, window(), Pacing::Closed).await?;
    let plans: Vec<String> = fixture.plans.iter().map(PlanId::to_string).collect();
    let readers: Vec<PlanReader> = (0..connections)
        .map(|n| {
            Ok(PlanReader {
                client: connection()?,
                url: server.graphql.url().to_owned(),
                authorization: format!("Bearer {token}"),
                plans: plans.clone(),
                // Clients start on different plans.
                next: n * plans.len() / connections.max(1),
            })
        })
        .collect::<anyhow::Result<_>>()?;
    let (_, queries, cpu) = measure(&server, readers, window(), Pacing::Closed).await?;
    server.stop().await?;
    Ok(RunReport {
        workload: "W3",
        run,
        connections,
        plans: options.plans,
        seconds: cpu.window.seconds(),
        queries: queries.latencies_us.len() as u64,
        queries_per_s: queries.rate(&cpu.window, Pacing::Closed),
        p50_us: queries.percentile(0.50),
        p99_us: queries.percentile(0.99),
        errors_by_class: queries.errors.clone(),
        baseline_rps: baseline.rate(&baseline_cpu.window, Pacing::Closed),
        baseline_p50_us: baseline.percentile(0.50),
        baseline_p99_us: baseline.percentile(0.99),
        server_cpu: (cpu.server * 100.0).round() / 100.0,
        bench_cpu: (cpu.bench * 100.0).round() / 100.0,
        other_cpu: (cpu.other * 100.0).round() / 100.0,
        server_threads: cpu.server_threads,
    })
}
