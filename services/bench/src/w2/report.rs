//! One JSON object per run, and the medians as markdown tables.

use std::collections::BTreeMap;

use serde::Serialize;

/// W2's targets on the project's 2-core machine.
const TARGET_CMD_PER_S: f64 = 5_000.0;
const TARGET_P99_US: f64 = 10_000.0;
const TARGET_P50_RATIO: f64 = 1.2;

/// One run of one configuration (clients × plan length).
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunReport {
    pub workload: &'static str,
    /// This run's number (1-based) and how many runs each configuration gets.
    pub run: usize,
    pub runs: usize,
    /// Which try of this run it is (others kept the machine busy before).
    pub attempt: u32,
    pub clients: usize,
    pub plan_events: u64,
    /// What aged the plans before the run (`context` or `goals`).
    pub fill: &'static str,
    /// Mean plan length when the window closed (every command adds a goal).
    pub plan_events_at_end: u64,
    /// Length of each measuring window, after the warm-up.
    pub seconds: f64,
    /// Commands a second offered over all clients (open loop, `--rate`);
    /// `null`: closed loop, as many as the server takes.
    pub offered_per_s: Option<f64>,
    /// `AddGoal` acknowledged that were sent (closed loop) or due (open
    /// loop) in the window: the calls the percentiles are of.
    pub commands: u64,
    /// Closed loop: `commands` a second. Open loop: commands answered in
    /// the window a second, so a server that falls behind the offered
    /// rate shows it here.
    pub cmd_per_s: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    /// Failed commands in the window, and by gRPC code (window and warm-up).
    pub errors: u64,
    pub errors_by_code: BTreeMap<String, u64>,
    pub warmup_errors_by_code: BTreeMap<String, u64>,
    /// Answers with `duplicate: true` (every command id is fresh: expected 0).
    pub duplicates: u64,
    /// The health check on the same server and connections, same window.
    pub baseline_rps: f64,
    pub baseline_p50_us: u64,
    pub baseline_p99_us: u64,
    pub baseline_errors: u64,
    /// cmd_per_s as a percentage of baseline_rps.
    pub pct_of_baseline: f64,
    /// Cores used in the command window by the server and by this process
    /// (the clients), and the server's split by thread name.
    pub server_cpu: f64,
    pub bench_cpu: f64,
    /// Cores used by every other process meanwhile: a run with much here
    /// shared the machine (another build, say) and is not comparable.
    pub other_cpu: f64,
    pub server_threads: BTreeMap<String, f64>,
    /// The same during the baseline window.
    pub baseline_server_cpu: f64,
    pub baseline_bench_cpu: f64,
    pub baseline_other_cpu: f64,
    /// Slowest first command of a client: its plan loaded cold (untimed).
    pub cold_first_ms: u64,
    /// From the server's ready line until the filled plans were projected.
    pub startup_projection_s: f64,
    /// When the command window closed: acknowledged events not yet in the
    /// read models, over all plans.
    pub projection_backlog_events: u64,
    /// Then: until the read models showed every acknowledged command
    /// (`null`: not within 60 s).
    pub projection_catch_up_ms: Option<u64>,
    /// Projection lag seen by the probe during the window (see `lag.rs`):
    /// probes, nearest-rank p50 / p99 and the largest, µs, and probes
    /// never seen (or whose command failed).
    pub lag_probes: usize,
    pub lag_p50_us: u64,
    pub lag_p99_us: u64,
    pub lag_max_us: u64,
    pub lag_missed: u64,
    /// Warnings and errors the server logged (besides the --dev notice).
    pub server_log_lines: usize,
    /// Each plan's stream holds exactly the events filled + acknowledged.
    pub verify: String,
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// Medians of one configuration's runs, each figure on its own.
#[derive(Debug)]
struct Medians {
    clients: usize,
    plan_events: u64,
    cmd_per_s: f64,
    p50_us: f64,
    p99_us: f64,
    errors: u64,
    baseline_rps: f64,
    baseline_p50_us: f64,
    baseline_p99_us: f64,
    server_cpu: f64,
    bench_cpu: f64,
    other_cpu: f64,
    backlog: f64,
    lag_p50_us: f64,
    lag_p99_us: f64,
    unverified: usize,
}

fn medians(reports: &[RunReport]) -> Vec<Medians> {
    let mut keys: Vec<(usize, u64)> = Vec::new();
    for r in reports {
        if !keys.contains(&(r.clients, r.plan_events)) {
            keys.push((r.clients, r.plan_events));
        }
    }
    keys.sort_unstable();
    keys.into_iter()
        .map(|(clients, plan_events)| {
            let runs: Vec<&RunReport> = reports
                .iter()
                .filter(|r| r.clients == clients && r.plan_events == plan_events)
                .collect();
            let m = |f: fn(&RunReport) -> f64| median(runs.iter().map(|r| f(r)).collect());
            Medians {
                clients,
                plan_events,
                cmd_per_s: m(|r| r.cmd_per_s),
                p50_us: m(|r| r.p50_us as f64),
                p99_us: m(|r| r.p99_us as f64),
                errors: runs.iter().map(|r| r.errors).sum(),
                baseline_rps: m(|r| r.baseline_rps),
                baseline_p50_us: m(|r| r.baseline_p50_us as f64),
                baseline_p99_us: m(|r| r.baseline_p99_us as f64),
                server_cpu: m(|r| r.server_cpu),
                bench_cpu: m(|r| r.bench_cpu),
                other_cpu: m(|r| r.other_cpu.max(r.baseline_other_cpu)),
                backlog: m(|r| r.projection_backlog_events as f64),
                lag_p50_us: m(|r| r.lag_p50_us as f64),
                lag_p99_us: m(|r| r.lag_p99_us as f64),
                unverified: runs.iter().filter(|r| r.verify != "ok").count(),
            }
        })
        .collect()
}

/// `12345.6` as `12,346`.
fn thousands(x: f64) -> String {
    let digits = format!("{:.0}", x.max(0.0));
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The median tables and the targets, in markdown, for stderr.
pub(crate) fn tables(reports: &[RunReport], runs: usize) -> String {
    use std::fmt::Write;
    let rows = medians(reports);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\nW2 medians ({runs} run(s) each): AddGoal over gRPC, and the health check \
         (baseline) on the same server and connections\n"
    );
    let _ = match reports.first().and_then(|r| r.offered_per_s) {
        Some(rate) => writeln!(
            out,
            "Open loop: {} commands a second offered over all clients; latencies timed \
             from when each command was due.\n",
            thousands(rate)
        ),
        None => writeln!(out, "Closed loop: each client sends again when answered.\n"),
    };
    out.push_str(
        "| clients | plan events | cmd/s | p50 µs | p99 µs | errors | baseline rps | \
         baseline p50 / p99 µs | cmd/s of baseline | server / bench / other CPU | \
         read-model backlog | lag p50 / p99 ms | verify |\n",
    );
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for r in &rows {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} / {} | {:.0} % | {:.2} / {:.2} / {:.2} | {} | {:.1} / {:.1} | {} |",
            r.clients,
            thousands(r.plan_events as f64),
            thousands(r.cmd_per_s),
            thousands(r.p50_us),
            thousands(r.p99_us),
            r.errors,
            thousands(r.baseline_rps),
            thousands(r.baseline_p50_us),
            thousands(r.baseline_p99_us),
            100.0 * r.cmd_per_s / r.baseline_rps.max(f64::MIN_POSITIVE),
            r.server_cpu,
            r.bench_cpu,
            r.other_cpu,
            thousands(r.backlog),
            r.lag_p50_us / 1000.0,
            r.lag_p99_us / 1000.0,
            if r.unverified == 0 { "ok" } else { "FAILED" },
        );
    }
    let (Some(small), Some(large)) = (
        rows.iter().map(|r| r.plan_events).min(),
        rows.iter().map(|r| r.plan_events).max(),
    ) else {
        return out;
    };
    let _ = writeln!(
        out,
        "\np50 on plans of {} events vs {} events (target ≤ {TARGET_P50_RATIO}×):\n",
        thousands(large as f64),
        thousands(small as f64)
    );
    out.push_str("| clients | p50 µs, small | p50 µs, large | ratio |\n|---:|---:|---:|---:|\n");
    let mut clients: Vec<usize> = rows.iter().map(|r| r.clients).collect();
    clients.dedup();
    for &c in &clients {
        let at = |n: u64| rows.iter().find(|r| r.clients == c && r.plan_events == n);
        if let (Some(s), Some(l)) = (at(small), at(large)) {
            let _ = writeln!(
                out,
                "| {c} | {} | {} | {:.2}× |",
                thousands(s.p50_us),
                thousands(l.p50_us),
                l.p50_us / s.p50_us.max(1.0)
            );
        }
    }
    if let Some(&most) = clients.last() {
        let _ = writeln!(
            out,
            "\nTarget at {most} clients: ≥ {} cmd/s with p99 ≤ {} ms",
            thousands(TARGET_CMD_PER_S),
            TARGET_P99_US / 1000.0
        );
        for r in rows.iter().filter(|r| r.clients == most) {
            let met = r.cmd_per_s >= TARGET_CMD_PER_S && r.p99_us <= TARGET_P99_US;
            let _ = writeln!(
                out,
                "- {} events: {} cmd/s ({:+.0} %), p99 {:.1} ms: {}",
                thousands(r.plan_events as f64),
                thousands(r.cmd_per_s),
                100.0 * (r.cmd_per_s / TARGET_CMD_PER_S - 1.0),
                r.p99_us / 1000.0,
                if met { "met" } else { "missed" }
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_numbers_read_right() {
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0]), 2.5);
        assert_eq!(thousands(1234567.4), "1,234,567");
        assert_eq!(thousands(999.0), "999");
        assert_eq!(thousands(1000.0), "1,000");
    }
}
