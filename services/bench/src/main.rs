//! `trellis-bench`: the shared store workloads (see `shared/bench/`), with
//! one JSON object per run on stdout and a median table on stderr.
//!
//! `trellis-bench w1` runs workload W1 (durable single-event appends with
//! 1, 8 and 64 writers, three runs each). Every run is a fresh process on a
//! fresh store file, as the workload demands: the parent re-executes
//! itself with `w1-run` for each run.
//!
//! `trellis-bench w2` runs workload W2 (plan commands end to end over gRPC
//! against a `trellis serve` child process; see `w2.rs`), and `w3`
//! workload W3 (GraphQL plan reads over HTTP; `w3.rs`).

use clap::{Parser, Subcommand};

mod compliance;
mod oracle;
mod raw_sqlite;
mod reads;
mod stats;
mod w1;
mod w2;
mod w3;

#[derive(Debug, Parser)]
#[command(name = "trellis-bench")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
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
        options: w1::W1Options,
    },
    /// Workload W2: `AddGoal` end to end over gRPC against a `trellis
    /// serve` child, by clients and plan length, beside a health-check
    /// baseline; medians of the runs.
    W2(w2::W2Options),
    /// Workload W3: GraphQL `plan(id)` over HTTP against a `trellis serve`
    /// child, access log on, beside a `/healthz` baseline.
    W3(w3::W3Options),
    /// Whether a command's answer time tells a plan hidden from the caller
    /// from a missing one (against a `trellis serve` child).
    Oracle(oracle::OracleOptions),
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
        options: w1::W1Options,
    },
}

fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::W1 {
            writers,
            runs,
            options,
        } => w1::w1_all(&writers, runs, &options),
        Cmd::W2(options) => w2::run(&options),
        Cmd::W3(options) => w3::run(&options),
        Cmd::Oracle(options) => oracle::run(&options),
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
            let report = runtime.block_on(w1::w1_run(writers, &options))?;
            println!("{}", serde_json::to_string(&report)?);
            Ok(())
        }
    }
}
