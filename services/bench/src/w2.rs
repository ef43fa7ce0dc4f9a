//! Workload W2: plan commands end to end. `AddGoal` over a real gRPC
//! socket to a `trellis serve` child process, from 1, 16 and 64 concurrent
//! clients (each its own connection and its own plan, closed loop, or open
//! loop at a fixed rate with `--rate`), on plans already 10, 1,000 and
//! 10,000 events long.
//!
//! Every configuration gets a fresh data directory, filled directly
//! through the store (`prefill.rs`), and a fresh server, which projects the
//! filled plans before anything is measured. On the same server and
//! connections the gRPC health check is measured first, for as long: the
//! transport's ceiling for a minimal call, so the command figures come
//! with a baseline from the same minute on the same machine. Then each
//! client sends one untimed command (its plan is loaded cold), then the
//! warm-up, then the measured window. Afterwards (untimed) every plan's
//! stream is checked to hold exactly the filled and acknowledged events.

mod lag;
pub(crate) mod load;
mod machine;
pub(crate) mod prefill;
mod report;
pub(crate) mod server;
mod trace;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use trellis_auth::{Caller, DEV_SECRET, Role, TokenIssuer};
use trellis_kernel::TenantId;

use load::{AddGoal, HealthCheck, Pacing, Phase, Rpc, Window};
use machine::{Cpu, busy_cores, busy_ticks};
use report::RunReport;
use server::{ChildRun, Server};

/// Longest the server may take to project the filled plans at start.
const PROJECTION_TIMEOUT: Duration = Duration::from_secs(900);

/// Longest the read side is given to catch up after the commands.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct W2Options {
    #[command(flatten)]
    child: ChildRun,
    /// Concurrent clients, comma separated; each has its own connection
    /// and its own plan.
    #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
    clients: Vec<usize>,
    /// Events in each plan before the run (its `PlanCreated` included),
    /// comma separated.
    #[arg(long, value_delimiter = ',', default_value = "10,1000,10000")]
    plan_events: Vec<u64>,
    /// Cores other processes may use during a run: before each run the
    /// benchmark waits (up to 10 min) until they use less, and a run during
    /// which they used more is repeated.
    #[arg(long, default_value_t = 0.25)]
    max_other_cpu: f64,
    /// Tries per run when other processes keep the machine busy; the last
    /// is kept whatever it saw.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    attempts: u32,
    /// What ages the plans before the run: `context` (clinical-context
    /// updates, each replacing the last, so the stream grows and the read
    /// model's document stays the size of a real plan) or `goals` (every
    /// event a goal, so the document grows with the stream too).
    #[arg(long, value_enum, default_value_t = prefill::Filler::Context)]
    fill: prefill::Filler,
    /// Offer this many commands a second over all clients (open loop),
    /// instead of as many as the server takes (closed loop). Latencies are
    /// then timed from when each command was due, so a client held up by a
    /// slow answer counts the wait of the commands it sent late. The
    /// health-check baseline stays closed loop.
    #[arg(long, value_parser = positive_rate)]
    rate: Option<f64>,
    /// Write every measured command (client, when it was due, latency) and
    /// the server's threads' CPU and run-queue wait every 5 ms of the
    /// window to CSV files in this directory, one pair per run.
    #[arg(long)]
    trace_dir: Option<PathBuf>,
}

fn positive_rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(rate),
        _ => Err("the rate is a number of commands a second, above 0".into()),
    }
}

/// Every run of every configuration, runs outermost (so drift of the
/// machine spreads over all configurations alike).
pub(crate) fn run(options: &W2Options) -> anyhow::Result<()> {
    let trellis = options.child.binary()?;
    if cfg!(debug_assertions) {
        eprintln!("warning: trellis-bench is a debug build; its clients will be slow");
    }
    if options.clients.is_empty() || options.plan_events.is_empty() || options.child.runs == 0 {
        bail!("nothing to run");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut reports = Vec::new();
    let mut logged = std::collections::BTreeSet::new();
    for run in 1..=options.child.runs {
        for &plan_events in &options.plan_events {
            for &clients in &options.clients {
                let config = Config {
                    run,
                    clients,
                    plan_events: plan_events.max(1),
                };
                let report = runtime
                    .block_on(quiet_run(&trellis, options, config, &mut logged))
                    .with_context(|| format!("W2 {config:?}"))?;
                println!("{}", serde_json::to_string(&report)?);
                reports.push(report);
            }
        }
    }
    eprint!("{}", report::tables(&reports, options.child.runs));
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct Config {
    run: usize,
    clients: usize,
    plan_events: u64,
}

/// One run of a configuration on a quiet machine: waited for, and repeated
/// (up to `--attempts` tries) when other processes took CPU meanwhile.
async fn quiet_run(
    trellis: &Path,
    options: &W2Options,
    config: Config,
    logged: &mut std::collections::BTreeSet<String>,
) -> anyhow::Result<RunReport> {
    let mut attempt = 1;
    loop {
        machine::wait_quiet(options.max_other_cpu).await;
        let mut report = configuration(trellis, options, config, logged).await?;
        report.attempt = attempt;
        let others = report.other_cpu.max(report.baseline_other_cpu);
        if others <= options.max_other_cpu || attempt >= options.attempts {
            return Ok(report);
        }
        eprintln!("w2: other processes used {others:.2} cores during the run; once more");
        attempt += 1;
    }
}

async fn configuration(
    trellis: &Path,
    options: &W2Options,
    config: Config,
    logged: &mut std::collections::BTreeSet<String>,
) -> anyhow::Result<RunReport> {
    let Config {
        run,
        clients,
        plan_events,
    } = config;
    let dir = options.child.data_dir("trellis-w2-")?;
    let db = dir.path().join("events.db");
    let filling = Instant::now();
    let fixture = prefill::fill(&db, clients + 1, plan_events, options.fill).await?;
    let filled = filling.elapsed();

    let server = Server::start(trellis, dir.path()).await?;
    let token = token(&fixture.tenant)?;
    let projecting = Instant::now();
    server
        .wait_projected(
            &token,
            fixture.last_plan,
            fixture.version,
            projecting + PROJECTION_TIMEOUT,
        )
        .await?
        .with_context(|| format!("filled plans not projected within {PROJECTION_TIMEOUT:?}"))?;
    let startup = projecting.elapsed();
    eprintln!(
        "w2 run {run}: {clients} clients × {plan_events} events: filled in {:.1} s, \
         projected at start in {:.1} s",
        filled.as_secs_f64(),
        startup.as_secs_f64()
    );

    let mut channels = Vec::with_capacity(clients);
    for _ in 0..clients {
        channels.push(load::connect(&server.grpc).await?);
    }
    let health: Vec<HealthCheck> = channels.iter().cloned().map(HealthCheck::new).collect();
    let (_, baseline, baseline_cpu) =
        measure(&server, health, options.child.window(), Pacing::Closed).await?;

    let mut writers = Vec::with_capacity(clients + 1);
    for (channel, plan) in channels.into_iter().zip(&fixture.plans) {
        writers.push(AddGoal::new(channel, &token, *plan)?);
    }
    // The last filled plan is the lag probe's, on a connection of its own.
    let probe_plan = fixture.plans[clients];
    let probe_channel = load::connect(&server.grpc).await?;
    writers.push(AddGoal::new(probe_channel, &token, probe_plan)?);
    let (mut writers, cold_first) = prime(writers).await?;
    let prober = writers.pop().context("the probe's writer")?;
    let window = options.child.window();
    let probing = tokio::spawn(lag::probe(
        prober,
        server.graphql.clone(),
        token.clone(),
        probe_plan,
        window,
    ));
    let pacing = options
        .rate
        .map_or(Pacing::Closed, |per_second| Pacing::Open { per_second });
    let sampling = options
        .trace_dir
        .is_some()
        .then(|| trace::sample_threads(server.pid(), window));
    let (writers, commands, cpu) = measure(&server, writers, window, pacing).await?;
    if let (Some(dir), Some(sampling)) = (&options.trace_dir, sampling) {
        let threads = sampling
            .join()
            .map_err(|_| anyhow::anyhow!("the thread sampler panicked"))?;
        let name = format!("w2-c{clients}-e{plan_events}-run{run}");
        trace::write(dir, &name, &commands.calls, &threads)?;
    }
    let (prober, lags) = probing.await??;

    let (backlog, catch_up) = read_side(&server, &token, &fixture, &writers).await?;
    let log = server.stop().await?;
    for line in &log {
        // Each message once per invocation, without its timestamp.
        let message = line.split_once(' ').map_or(line.as_str(), |(_, m)| m);
        if logged.len() < 50 && logged.insert(message.to_owned()) {
            eprintln!("  server: {line}");
        }
    }
    let expected: Vec<u64> = writers
        .iter()
        .chain([&prober])
        .map(|w| plan_events + w.acknowledged)
        .collect();
    let verify = prefill::verify(&db, &fixture, &expected).await?;

    let window = cpu.window.seconds();
    let cmd_per_s = commands.rate(&cpu.window, pacing);
    let baseline_rps = baseline.rate(&baseline_cpu.window, Pacing::Closed);
    Ok(RunReport {
        workload: "W2",
        run,
        attempt: 1,
        runs: options.child.runs,
        clients,
        plan_events,
        fill: match options.fill {
            prefill::Filler::Context => "context",
            prefill::Filler::Goals => "goals",
        },
        plan_events_at_end: plan_events
            + writers.iter().map(|w| w.acknowledged).sum::<u64>() / clients as u64,
        seconds: window,
        offered_per_s: options.rate,
        commands: commands.latencies_us.len() as u64,
        cmd_per_s,
        p50_us: commands.percentile(0.50),
        p99_us: commands.percentile(0.99),
        errors: commands.error_count(),
        errors_by_code: commands.errors.clone(),
        warmup_errors_by_code: commands.warmup_errors.clone(),
        duplicates: writers.iter().map(|w| w.duplicates).sum(),
        baseline_rps,
        baseline_p50_us: baseline.percentile(0.50),
        baseline_p99_us: baseline.percentile(0.99),
        baseline_errors: baseline.error_count() + baseline.warmup_errors.values().sum::<u64>(),
        pct_of_baseline: 100.0 * cmd_per_s / baseline_rps.max(f64::MIN_POSITIVE),
        server_cpu: round2(cpu.server),
        bench_cpu: round2(cpu.bench),
        other_cpu: round2(cpu.other),
        server_threads: cpu.server_threads,
        baseline_server_cpu: round2(baseline_cpu.server),
        baseline_bench_cpu: round2(baseline_cpu.bench),
        baseline_other_cpu: round2(baseline_cpu.other),
        cold_first_ms: cold_first.as_millis() as u64,
        startup_projection_s: round2(startup.as_secs_f64()),
        projection_backlog_events: backlog,
        projection_catch_up_ms: catch_up.map(|d| d.as_millis() as u64),
        lag_probes: lags.lags_us.len(),
        lag_p50_us: lags.percentile(0.50),
        lag_p99_us: lags.percentile(0.99),
        lag_max_us: lags.lags_us.last().copied().unwrap_or(0),
        lag_missed: lags.missed,
        server_log_lines: log.len(),
        verify,
    })
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// How far the read models were behind the commands when the window
/// closed (events, over all plans), and how long they then took to show
/// every acknowledged command (`None`: longer than [`CATCH_UP_TIMEOUT`]).
async fn read_side(
    server: &Server,
    token: &str,
    fixture: &prefill::Fixture,
    writers: &[AddGoal],
) -> anyhow::Result<(u64, Option<Duration>)> {
    let started = Instant::now();
    let mut backlog = 0;
    for (plan, writer) in fixture.plans.iter().zip(writers) {
        let projected = server.projected_version(token, *plan).await?;
        // A plan not in the read model at all is behind by all it holds.
        backlog += projected.map_or(writer.revision + 1, |v| writer.revision.saturating_sub(v));
    }
    for (plan, writer) in fixture.plans.iter().zip(writers) {
        let deadline = started + CATCH_UP_TIMEOUT;
        if server
            .wait_projected(token, *plan, writer.revision, deadline)
            .await?
            .is_none()
        {
            return Ok((backlog, None));
        }
    }
    Ok((backlog, Some(started.elapsed())))
}

/// A clinician token for the filled plans (their primary clinician, in
/// their clinic), signed with the development secret `--dev` accepts.
pub(crate) fn token(tenant: &TenantId) -> anyhow::Result<String> {
    token_for(tenant, prefill::CLINICIAN)
}

/// A clinician token for `subject` in the filled plans' clinic.
pub(crate) fn token_for(tenant: &TenantId, subject: &str) -> anyhow::Result<String> {
    let caller = Caller {
        tenant: tenant.clone(),
        subject: subject.into(),
        roles: vec![Role::Clinician],
        clinics: vec![prefill::CLINIC.into()],
    };
    Ok(TokenIssuer::hs256(DEV_SECRET.as_bytes())?.issue(&caller, chrono::Duration::hours(12))?)
}

/// CPU use over a measured window, in cores.
#[derive(Debug)]
pub(crate) struct CpuUse {
    pub window: Window,
    pub server: f64,
    pub bench: f64,
    /// Everything else on the machine (another build, say).
    pub other: f64,
    pub server_threads: std::collections::BTreeMap<String, f64>,
}

/// Warm-up, then the measured window, with CPU samples at its edges.
pub(crate) async fn measure<R: Rpc>(
    server: &Server,
    clients: Vec<R>,
    window: Window,
    pacing: Pacing,
) -> anyhow::Result<(Vec<R>, Phase, CpuUse)> {
    let driving = tokio::spawn(load::drive(clients, window, pacing));
    tokio::time::sleep_until(window.from.into()).await;
    let sample = || {
        (
            server.cpu(),
            Cpu::of("/proc/self"),
            busy_ticks(),
            Instant::now(),
        )
    };
    let (server_0, bench_0, busy_0, at_0) = sample();
    tokio::time::sleep_until(window.until.into()).await;
    let (server_1, bench_1, busy_1, at_1) = sample();
    let (clients, phase) = driving.await??;
    let seconds = (at_1 - at_0).as_secs_f64();
    let (server_cores, bench_cores) = (
        server_1.cores_since(&server_0, seconds),
        bench_1.cores_since(&bench_0, seconds),
    );
    let cpu = CpuUse {
        window,
        server: server_cores,
        bench: bench_cores,
        other: (busy_cores(busy_0, busy_1, seconds) - server_cores - bench_cores).max(0.0),
        server_threads: server_1.threads_since(&server_0, seconds),
    };
    Ok((clients, phase, cpu))
}

/// Each client's first command, all at once and untimed: it loads the
/// client's plan cold (every filled event folded). Returns the slowest.
async fn prime(writers: Vec<AddGoal>) -> anyhow::Result<(Vec<AddGoal>, Duration)> {
    let tasks: Vec<_> = writers
        .into_iter()
        .map(|mut writer| {
            tokio::spawn(async move {
                let started = Instant::now();
                let result = writer.call().await;
                (writer, started.elapsed(), result)
            })
        })
        .collect();
    let mut writers = Vec::with_capacity(tasks.len());
    let mut slowest = Duration::ZERO;
    for task in tasks {
        let (writer, took, result) = task.await?;
        result.map_err(|class| anyhow::anyhow!("the first command of a client failed: {class}"))?;
        slowest = slowest.max(took);
        writers.push(writer);
    }
    Ok((writers, slowest))
}
