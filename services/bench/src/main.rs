//! `trellis-bench`: the shared store workloads (see `shared/bench/`), with
//! one JSON object per run on stdout and a median table on stderr.
//!
//! `trellis-bench w1` runs workload W1 (durable single-event appends with
//! 1, 8 and 64 writers, three runs each). Every run is a fresh process on a
//! fresh store file, as the workload demands: the parent re-executes
//! itself with `w1-run` for each run.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use serde::Serialize;
use trellis_kernel::{
    Actor, EventMetadata, EventStore, ExpectedRevision, NewEvent, ReadDirection, StreamName,
    TenantId,
};
use trellis_store_sqlite::{SqliteEventStore, StoreOptions};
use uuid::Uuid;

mod compliance;
mod reads;

const DESCRIPTION_SOURCE: &str = "Ship the quarterly planning milestone: gather requirements from every team, reconcile conflicting priorities, write the acceptance criteria, estimate effort with the owners, schedule the review, record decisions and open questions, and publish the final plan so that all";

#[derive(Debug, Parser)]
#[command(name = "trellis-bench")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Debug, Clone, clap::Args)]
struct W1Options {
    /// Events per run (N).
    #[arg(long, default_value_t = 100_000)]
    events: u64,
    /// Seconds after which a run stops and is marked capped.
    #[arg(long, default_value_t = 25)]
    cap_secs: u64,
    /// Directory on local disk for the fresh store files.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Commit every append alone (one fsync each): the baseline that group
    /// commit is measured against (embedded store only).
    #[arg(long)]
    no_group_commit: bool,
    /// Which store backend to measure.
    #[arg(long, value_enum, default_value = "sqlite")]
    store: Backend,
    /// PostgreSQL server (an admin database URL); each run creates and
    /// drops a fresh database on it.
    #[arg(
        long,
        env = "TRELLIS_BENCH_POSTGRES_URL",
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    postgres_url: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
}

#[derive(Debug, Subcommand)]
enum Cmd {
    /// Workload W1: three fresh-process runs per writer count, then medians.
    W1 {
        /// Writer counts (M), comma separated.
        #[arg(long, value_delimiter = ',', default_value = "1,8,64")]
        writers: Vec<usize>,
        #[arg(long, default_value_t = 3)]
        runs: usize,
        #[command(flatten)]
        options: W1Options,
    },
    /// Plan-query throughput with and without the access log (in process).
    Reads {
        /// Concurrent readers, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "1,16,64")]
        concurrency: Vec<usize>,
        /// Seconds per configuration.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
    },
    /// Compliance-query latency (caseload, reviews due, unsigned plans,
    /// outcomes) over growing numbers of plans (in process).
    Compliance {
        /// Plan counts, comma separated.
        #[arg(long, value_delimiter = ',', default_value = "100,1000,5000")]
        plans: Vec<usize>,
        /// Seconds per query and plan count.
        #[arg(long, default_value_t = 3)]
        seconds: u64,
    },
    /// One W1 run in this process (used by `w1`).
    #[command(hide = true)]
    W1Run {
        #[arg(long)]
        writers: usize,
        #[command(flatten)]
        options: W1Options,
    },
}

#[derive(Debug, Serialize, serde::Deserialize, Clone)]
struct RunReport {
    peer: String,
    workload: String,
    writers: usize,
    target_events: u64,
    events: u64,
    capped: bool,
    elapsed_s: f64,
    events_per_s: f64,
    lat_p50_us: u64,
    lat_p99_us: u64,
    errors: u64,
    verify: String,
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::W1 {
            writers,
            runs,
            options,
        } => w1_all(&writers, runs, &options),
        Cmd::Reads {
            concurrency,
            seconds,
        } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            for &c in &concurrency {
                for access_log in [false, true] {
                    let report = runtime.block_on(reads::run(access_log, c, seconds))?;
                    println!("{}", serde_json::to_string(&report)?);
                }
            }
            Ok(())
        }
        Cmd::Compliance { plans, seconds } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            for &n in &plans {
                for report in runtime.block_on(compliance::run(n, seconds))? {
                    println!("{}", serde_json::to_string(&report)?);
                }
            }
            Ok(())
        }
        Cmd::W1Run { writers, options } => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            let report = runtime.block_on(w1_run(writers, &options))?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
    }
}

fn w1_all(writers: &[usize], runs: usize, options: &W1Options) -> anyhow::Result<()> {
    let exe = std::env::current_exe()?;
    let mut medians = Vec::new();
    for &m in writers {
        let mut reports = Vec::new();
        for _ in 0..runs {
            let mut cmd = Command::new(&exe);
            cmd.args(["w1-run", "--writers", &m.to_string()])
                .args(["--events", &options.events.to_string()])
                .args(["--cap-secs", &options.cap_secs.to_string()]);
            if let Some(dir) = &options.dir {
                cmd.arg("--dir").arg(dir);
            }
            if options.no_group_commit {
                cmd.arg("--no-group-commit");
            }
            if options.store == Backend::Postgres {
                cmd.args([
                    "--store",
                    "postgres",
                    "--postgres-url",
                    &options.postgres_url,
                ]);
            }
            let output = cmd.output().context("run w1-run")?;
            if !output.status.success() {
                bail!("w1 run failed: {}", String::from_utf8_lossy(&output.stderr));
            }
            let line = String::from_utf8(output.stdout)?;
            print!("{line}");
            reports.push(serde_json::from_str::<RunReport>(line.trim())?);
        }
        reports.sort_by(|a, b| a.events_per_s.total_cmp(&b.events_per_s));
        medians.push(reports[reports.len() / 2].clone());
    }
    eprintln!("\nW1 medians ({runs} runs each):");
    eprintln!("| peer | writers | events/s | p50 µs | p99 µs | capped | verify |");
    eprintln!("|---|---:|---:|---:|---:|---|---|");
    for r in medians {
        eprintln!(
            "| {} | {} | {:.0} | {} | {} | {} | {} |",
            r.peer, r.writers, r.events_per_s, r.lat_p50_us, r.lat_p99_us, r.capped, r.verify
        );
    }
    Ok(())
}

fn payload(writer: usize, k: u64) -> Vec<u8> {
    let seq = k + 1;
    let body = serde_json::json!({
        "goal_id": format!("plan-{writer}-goal-{seq:06}"),
        "plan_id": format!("plan-{writer}"),
        "seq": seq,
        "description": &DESCRIPTION_SOURCE[..270],
        "priority": seq % 5,
        "created_at": "2026-01-01T00:00:00.000Z",
    });
    serde_json::to_vec(&body).expect("json")
}

/// The store requires an actor and ids; W1 asks for nothing more.
fn minimal_metadata() -> EventMetadata {
    EventMetadata {
        actor: Actor {
            subject: "bench".into(),
            role: "clinician".into(),
        },
        correlation_id: Uuid::nil(),
        causation_id: Uuid::nil(),
        request_id: String::new(),
        trace_id: String::new(),
        span_id: String::new(),
        reason: None,
    }
}

async fn w1_run(writers: usize, options: &W1Options) -> anyhow::Result<RunReport> {
    let base = options.dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base)?;
    let dir = tempfile::tempdir_in(&base)?;
    let database = format!("trellis_w1_{}", Uuid::new_v4().simple());
    let (store, peer): (Arc<dyn EventStore>, &str) = match options.store {
        Backend::Sqlite => {
            let store_options = StoreOptions {
                max_group_commit: if options.no_group_commit { 1 } else { 1024 },
            };
            let peer = if options.no_group_commit {
                "trellis-sqlite-no-group-commit"
            } else {
                "trellis-sqlite"
            };
            let path = dir.path().join("events.db");
            (
                Arc::new(SqliteEventStore::open_with(path, store_options)?),
                peer,
            )
        }
        Backend::Postgres => {
            let url =
                trellis_store_postgres::ensure_database(&options.postgres_url, &database).await?;
            (
                Arc::new(trellis_store_postgres::PostgresEventStore::connect(&url).await?),
                "trellis-postgres",
            )
        }
    };
    let tenant = TenantId::parse("bench")?;
    let tickets = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let cap = Duration::from_secs(options.cap_secs);
    let target = options.events;

    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(writers);
    for w in 0..writers {
        let store = Arc::clone(&store);
        let tickets = Arc::clone(&tickets);
        let errors = Arc::clone(&errors);
        let stream = StreamName::new(tenant.clone(), "plan", &w.to_string())?;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut k = 0u64;
            while t0.elapsed() < cap && tickets.fetch_add(1, Ordering::Relaxed) < target {
                let started = Instant::now();
                let event = NewEvent {
                    event_id: Uuid::new_v4(),
                    event_type: "GoalAdded".into(),
                    schema_version: 1,
                    payload: payload(w, k),
                    metadata: minimal_metadata(),
                };
                match store
                    .append(&stream, ExpectedRevision::after(k), vec![event])
                    .await
                {
                    Ok(_) => {
                        latencies.push(started.elapsed().as_micros() as u64);
                        k += 1;
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            (stream, k, latencies)
        }));
    }
    let mut streams = Vec::new();
    let mut latencies = Vec::new();
    for task in tasks {
        let (stream, count, mut lat) = task.await?;
        streams.push((stream, count));
        latencies.append(&mut lat);
    }
    let elapsed = t0.elapsed();
    let acknowledged = latencies.len() as u64;
    let capped = elapsed >= cap && acknowledged < target;

    // Untimed verification: exactly the acknowledged events, no gaps.
    let mut verify = "ok".to_owned();
    let mut stored = 0u64;
    for (stream, count) in &streams {
        let events = store
            .read_stream(stream, ReadDirection::Forward, None, usize::MAX >> 1)
            .await?;
        stored += events.len() as u64;
        let gapless = events
            .iter()
            .enumerate()
            .all(|(i, e)| e.revision == i as u64);
        if events.len() as u64 != *count || !gapless {
            verify = format!(
                "stream {stream}: {} stored, {count} acknowledged",
                events.len()
            );
        }
    }
    if stored != acknowledged && verify == "ok" {
        verify = format!("{stored} stored, {acknowledged} acknowledged");
    }

    latencies.sort_unstable();
    let rank = |p: f64| -> u64 {
        if latencies.is_empty() {
            return 0;
        }
        let idx = ((p * latencies.len() as f64).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[idx]
    };
    drop(store);
    if options.store == Backend::Postgres {
        trellis_store_postgres::drop_database(&options.postgres_url, &database).await?;
    }
    Ok(RunReport {
        peer: peer.into(),
        workload: "W1".into(),
        writers,
        target_events: target,
        events: acknowledged,
        capped,
        elapsed_s: elapsed.as_secs_f64(),
        events_per_s: acknowledged as f64 / elapsed.as_secs_f64(),
        lat_p50_us: rank(0.50),
        lat_p99_us: rank(0.99),
        errors: errors.load(Ordering::Relaxed),
        verify,
    })
}
