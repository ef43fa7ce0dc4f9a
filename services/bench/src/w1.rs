//! Workload W1 (`shared/bench/W1.md`): durable single-event appends by 1,
//! 8 and 64 writers, every run a fresh process on a fresh store. With
//! `--baseline`, each run of the chosen store is followed by a run of the
//! plain rusqlite group-commit writer (`raw_sqlite.rs`) on the same
//! machine in the same minute, and the medians are compared.

use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Serialize;
use trellis_kernel::{
    Actor, EventMetadata, EventStore, ExpectedRevision, NewEvent, ReadDirection, StreamName,
    TenantId,
};
use trellis_phi::{LocalKeyring, SealedEvents, SubjectOfCare, Vault};
use trellis_store_sqlite::{SqliteEventStore, SqliteKeyDirectory, StoreOptions};
use uuid::Uuid;

use crate::raw_sqlite::RawLog;
use crate::stats::nearest_rank;

const DESCRIPTION_SOURCE: &str = "Ship the quarterly planning milestone: gather requirements from every team, reconcile conflicting priorities, write the acceptance criteria, estimate effort with the owners, schedule the review, record decisions and open questions, and publish the final plan so that all";

#[derive(Debug, Clone, clap::Args)]
pub(crate) struct W1Options {
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
    /// (`w1` only) Follow every run with one of the raw rusqlite
    /// group-commit baseline, and compare the medians.
    #[arg(long)]
    baseline: bool,
    /// (`w1` only, embedded store) Follow every run with one of the same
    /// store sealed as `trellis serve` runs it (a data key per client,
    /// XChaCha20-Poly1305, the local keyring), and compare the medians.
    #[arg(long)]
    sealed_pair: bool,
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
pub(crate) enum Backend {
    Sqlite,
    /// The embedded store behind the sealing `trellis serve` puts in front
    /// of it (`trellis-phi`).
    SqliteSealed,
    Postgres,
    /// Not a Trellis store: the plain rusqlite group-commit writer W1 is
    /// compared with (`raw_sqlite.rs`).
    RawSqlite,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::SqliteSealed => "sqlite-sealed",
            Backend::Postgres => "postgres",
            Backend::RawSqlite => "raw-sqlite",
        }
    }
}

#[derive(Debug, Serialize, serde::Deserialize, Clone)]
pub(crate) struct RunReport {
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

pub(crate) fn w1_all(writers: &[usize], runs: usize, options: &W1Options) -> anyhow::Result<()> {
    let mut peers = vec![options.store];
    let sealed = options.sealed_pair && options.store == Backend::Sqlite;
    if sealed {
        peers.push(Backend::SqliteSealed);
    }
    if options.baseline && options.store != Backend::RawSqlite {
        peers.push(Backend::RawSqlite);
    }
    // Per writer count, the median run of each peer, in `peers` order.
    let mut medians: Vec<Vec<RunReport>> = Vec::new();
    for &m in writers {
        let mut reports: Vec<Vec<RunReport>> = vec![Vec::new(); peers.len()];
        // Run by run, peer after peer: drift of the machine falls on all.
        for _ in 0..runs {
            for (peer, reports) in peers.iter().zip(&mut reports) {
                reports.push(one_run(m, *peer, options)?);
            }
        }
        medians.push(
            reports
                .into_iter()
                .map(|mut reports| {
                    reports.sort_by(|a, b| a.events_per_s.total_cmp(&b.events_per_s));
                    reports[reports.len() / 2].clone()
                })
                .collect(),
        );
    }
    eprintln!("\nW1 medians ({runs} runs each):");
    eprintln!("| peer | writers | events/s | p50 µs | p99 µs | capped | verify |");
    eprintln!("|---|---:|---:|---:|---:|---|---|");
    for r in medians.iter().flatten() {
        eprintln!(
            "| {} | {} | {:.0} | {} | {} | {} | {} |",
            r.peer, r.writers, r.events_per_s, r.lat_p50_us, r.lat_p99_us, r.capped, r.verify
        );
    }
    if sealed {
        compare(&medians, 1, 0, "Sealed against the same store in clear");
    }
    if peers.last() == Some(&Backend::RawSqlite) && peers.len() > 1 {
        compare(
            &medians,
            0,
            peers.len() - 1,
            "Against the raw group-commit baseline",
        );
    }
    Ok(())
}

/// Peer `this` against peer `that`, per writer count (same runs, medians).
fn compare(medians: &[Vec<RunReport>], this: usize, that: usize, title: &str) {
    eprintln!("\n{title} (same runs, medians):");
    eprintln!(
        "| writers | {} events/s, % of {} | p99 vs its p99 |",
        medians[0][this].peer, medians[0][that].peer
    );
    eprintln!("|---:|---:|---:|");
    for row in medians {
        let (a, b) = (&row[this], &row[that]);
        eprintln!(
            "| {} | {:.0} % | {:.2}× |",
            a.writers,
            100.0 * a.events_per_s / b.events_per_s.max(f64::MIN_POSITIVE),
            a.lat_p99_us as f64 / b.lat_p99_us.max(1) as f64
        );
    }
}

/// One run in a fresh process; its report (also printed as JSON).
fn one_run(writers: usize, peer: Backend, options: &W1Options) -> anyhow::Result<RunReport> {
    let exe = std::env::current_exe()?;
    let mut cmd = Command::new(&exe);
    cmd.args(["w1-run", "--writers", &writers.to_string()])
        .args(["--events", &options.events.to_string()])
        .args(["--cap-secs", &options.cap_secs.to_string()])
        .args(["--store", peer.name()])
        .args(["--postgres-url", &options.postgres_url]);
    if let Some(dir) = &options.dir {
        cmd.arg("--dir").arg(dir);
    }
    if options.no_group_commit {
        cmd.arg("--no-group-commit");
    }
    let output = cmd.output().context("run w1-run")?;
    if !output.status.success() {
        bail!("w1 run failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let line = String::from_utf8(output.stdout)?;
    print!("{line}");
    Ok(serde_json::from_str::<RunReport>(line.trim())?)
}

/// Where a run appends: a Trellis store, or the raw baseline.
enum Log {
    Store(Arc<dyn EventStore>),
    Raw(RawLog),
}

impl Log {
    /// The writer's `k`-th append (expecting `k` events before it).
    async fn append(&self, stream: &StreamName, writer: usize, k: u64) -> Result<(), ()> {
        // Serialization is inside the timed region, for both.
        let payload = payload(writer, k);
        match self {
            Log::Store(store) => {
                let event = NewEvent {
                    event_id: Uuid::new_v4(),
                    event_type: "GoalAdded".into(),
                    schema_version: 1,
                    payload,
                    metadata: minimal_metadata(),
                };
                store
                    .append(stream, ExpectedRevision::after(k), vec![event])
                    .await
                    .map(drop)
                    .map_err(drop)
            }
            Log::Raw(raw) => raw
                .append(&stream.to_string(), k, Uuid::new_v4(), payload)
                .await
                .map_err(drop),
        }
    }

    /// The stored revisions of `stream`, in order (untimed).
    async fn revisions(&self, stream: &StreamName) -> anyhow::Result<Vec<u64>> {
        match self {
            Log::Store(store) => Ok(store
                .read_stream(stream, ReadDirection::Forward, None, usize::MAX >> 1)
                .await?
                .iter()
                .map(|e| e.revision)
                .collect()),
            Log::Raw(raw) => raw.revisions(&stream.to_string()),
        }
    }
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

pub(crate) async fn w1_run(writers: usize, options: &W1Options) -> anyhow::Result<RunReport> {
    let base = options.dir.clone().unwrap_or_else(std::env::temp_dir);
    std::fs::create_dir_all(&base)?;
    let dir = tempfile::tempdir_in(&base)?;
    let database = format!("trellis_w1_{}", Uuid::new_v4().simple());
    let (log, peer) = match options.store {
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
            let store = SqliteEventStore::open_with(path, store_options)?;
            (Log::Store(Arc::new(store)), peer)
        }
        Backend::SqliteSealed => {
            let store: Arc<dyn EventStore> =
                Arc::new(SqliteEventStore::open(dir.path().join("events.db"))?);
            (
                Log::Store(sealed(store, dir.path())?),
                "trellis-sqlite-sealed",
            )
        }
        Backend::Postgres => {
            let url =
                trellis_store_postgres::ensure_database(&options.postgres_url, &database).await?;
            let store = trellis_store_postgres::PostgresEventStore::connect(&url).await?;
            (Log::Store(Arc::new(store)), "trellis-postgres")
        }
        Backend::RawSqlite => (
            Log::Raw(RawLog::open(&dir.path().join("events.db"))?),
            "rusqlite-group-commit",
        ),
    };
    let log = Arc::new(log);
    let tenant = TenantId::parse("bench")?;
    let tickets = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let cap = Duration::from_secs(options.cap_secs);
    let target = options.events;

    let t0 = Instant::now();
    let mut tasks = Vec::with_capacity(writers);
    for w in 0..writers {
        let log = Arc::clone(&log);
        let tickets = Arc::clone(&tickets);
        let errors = Arc::clone(&errors);
        let stream = StreamName::new(tenant.clone(), "plan", &w.to_string())?;
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut k = 0u64;
            while t0.elapsed() < cap && tickets.fetch_add(1, Ordering::Relaxed) < target {
                let started = Instant::now();
                match log.append(&stream, w, k).await {
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
        let events = log.revisions(stream).await?;
        stored += events.len() as u64;
        let gapless = events.iter().enumerate().all(|(i, &r)| r == i as u64);
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
    let rank = |p: f64| nearest_rank(&latencies, p);
    drop(log);
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

/// W1's streams are about one client each: the writer's plan.
struct OneClientPerWriter;

impl SubjectOfCare for OneClientPerWriter {
    fn is_about_a_client(&self, stream: &StreamName) -> bool {
        stream.category() == "plan"
    }

    fn client_named(&self, _: &str, _: u32, payload: &[u8]) -> Option<String> {
        let body: serde_json::Value = serde_json::from_slice(payload).ok()?;
        Some(body.get("plan_id")?.as_str()?.to_owned())
    }

    fn stays_in_clear(&self, _: &str) -> bool {
        false
    }
}

/// `store` behind the sealing, with a keyring and key directory of its own.
fn sealed(
    store: Arc<dyn EventStore>,
    dir: &std::path::Path,
) -> anyhow::Result<Arc<dyn EventStore>> {
    let vault = Vault::new(
        Arc::new(LocalKeyring::create(dir.join("keyring.json"))?),
        Arc::new(SqliteKeyDirectory::open(dir.join("keys.db"))?),
        Arc::new(OneClientPerWriter),
    );
    Ok(Arc::new(SealedEvents::new(store, Arc::new(vault))))
}
