//! Does a command's answer time tell a hidden plan from a missing one?
//! Against a `trellis serve` child: plans of a clinician, each thousands of
//! events long, and a second clinician of the same clinic who is on none
//! of their care teams. That clinician sends `AddGoal` to those plans
//! (hidden: NOT_FOUND) and to plan ids that do not exist (missing:
//! NOT_FOUND), interleaved; the first command on each hidden plan finds it
//! cold (not in the server's cache), later ones warm. The two answers must
//! be alike; their times should be too.

use std::time::Instant;

use anyhow::{Context, bail};
use serde::Serialize;
use trellis_plans_domain::PlanId;
use uuid::Uuid;

use crate::w2::load::{self, AddGoal, Rpc};
use crate::w2::prefill::{self, Filler};
use crate::w2::server::{ChildRun, Server};
use crate::w2::token_for;

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct OracleOptions {
    #[command(flatten)]
    child: ChildRun,
    /// Hidden plans (each asked about cold once, then warm).
    #[arg(long, default_value_t = 50)]
    plans: usize,
    /// Events in each hidden plan.
    #[arg(long, default_value_t = 3000)]
    plan_events: u64,
    /// Warm rounds over every hidden plan (and as many missing ids).
    #[arg(long, default_value_t = 10)]
    rounds: usize,
}

/// Answer times of one kind of request, µs.
#[derive(Debug, Serialize)]
struct Times {
    requests: usize,
    p50_us: u64,
    p90_us: u64,
    p99_us: u64,
    answers: std::collections::BTreeMap<String, usize>,
}

fn times(mut samples: Vec<(u64, String)>) -> Times {
    samples.sort_unstable();
    let sorted: Vec<u64> = samples.iter().map(|(t, _)| *t).collect();
    let rank = |p: f64| crate::stats::nearest_rank(&sorted, p);
    let mut answers = std::collections::BTreeMap::new();
    for (_, answer) in &samples {
        *answers.entry(answer.clone()).or_default() += 1;
    }
    Times {
        requests: samples.len(),
        p50_us: rank(0.50),
        p90_us: rank(0.90),
        p99_us: rank(0.99),
        answers,
    }
}

#[derive(Debug, Serialize)]
struct Report {
    workload: &'static str,
    plan_events: u64,
    hidden_cold: Times,
    missing_beside_cold: Times,
    hidden_warm: Times,
    missing_beside_warm: Times,
    /// After a restart: each hidden plan cold again, now loaded from the
    /// snapshot its first load left (and the events after it).
    hidden_cold_from_snapshot: Times,
    missing_beside_cold_from_snapshot: Times,
}

pub(crate) fn run(options: &OracleOptions) -> anyhow::Result<()> {
    let trellis = options.child.binary()?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(measure(&trellis, options))?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// One timed `AddGoal`: its time and its answer's class.
async fn ask(writer: &mut AddGoal) -> (u64, String) {
    let started = Instant::now();
    let answer = writer.call().await;
    let took = started.elapsed().as_micros() as u64;
    (took, answer.err().unwrap_or_else(|| "Ok".into()))
}

async fn measure(trellis: &std::path::Path, options: &OracleOptions) -> anyhow::Result<Report> {
    if options.plans == 0 {
        bail!("nothing to run");
    }
    let dir = options.child.data_dir("trellis-oracle-")?;
    let fixture = prefill::fill(
        &dir.path().join("events.db"),
        options.plans,
        options.plan_events,
        Filler::Context,
    )
    .await?;
    let server = Server::start(trellis, dir.path()).await?;
    let owner = token_for(&fixture.tenant, prefill::CLINICIAN)?;
    server
        .wait_projected(
            &owner,
            fixture.last_plan,
            fixture.version,
            Instant::now() + std::time::Duration::from_secs(300),
        )
        .await?
        .context("filled plans not projected within 5 minutes")?;
    let outsider = token_for(&fixture.tenant, "clin-outside-the-team")?;
    let (hidden_cold, missing_cold) = rounds(&server, &outsider, &fixture.plans, 1).await?;
    let (hidden_warm, missing_warm) =
        rounds(&server, &outsider, &fixture.plans, options.rounds).await?;
    server.stop().await?;
    // The first loads wrote snapshots in the background; a new process
    // finds every plan cold again, with a snapshot to start from.
    let server = Server::start(trellis, dir.path()).await?;
    let (hidden_snapshot, missing_snapshot) = rounds(&server, &outsider, &fixture.plans, 1).await?;
    server.stop().await?;
    Ok(Report {
        workload: "hidden-vs-missing",
        plan_events: options.plan_events,
        hidden_cold: times(hidden_cold),
        missing_beside_cold: times(missing_cold),
        hidden_warm: times(hidden_warm),
        missing_beside_warm: times(missing_warm),
        hidden_cold_from_snapshot: times(hidden_snapshot),
        missing_beside_cold_from_snapshot: times(missing_snapshot),
    })
}

/// `count` rounds over the hidden plans, each beside a missing plan id:
/// the answer times of both kinds.
async fn rounds(
    server: &Server,
    token: &str,
    plans: &[PlanId],
    count: usize,
) -> anyhow::Result<(Vec<(u64, String)>, Vec<(u64, String)>)> {
    let channel = load::connect(&server.grpc).await?;
    let (mut hidden, mut missing) = (Vec::new(), Vec::new());
    for _ in 0..count {
        for plan in plans {
            hidden.push(ask(&mut AddGoal::new(channel.clone(), token, *plan)?).await);
            let absent = PlanId(Uuid::new_v4());
            missing.push(ask(&mut AddGoal::new(channel.clone(), token, absent)?).await);
        }
    }
    Ok((hidden, missing))
}
