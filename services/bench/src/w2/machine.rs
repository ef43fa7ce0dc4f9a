//! The machine around the benchmark: how busy other processes keep it.
//! This project's machines are shared, and a build running beside a run
//! takes a core of two; such runs are waited out or repeated.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// `/proc` counts CPU time in USER_HZ ticks, 100 a second on Linux.
const TICKS_PER_SECOND: f64 = 100.0;

/// Longest a run waits for other processes to quieten down.
const QUIET_WAIT: Duration = Duration::from_secs(600);

/// CPU ticks every process together has spent so far (user, nice and
/// system time of `/proc/stat`'s `cpu` line; interrupts and steal are
/// left out, as no process's own time holds them).
pub(crate) fn busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return 0;
    };
    line.split_whitespace()
        .skip(1)
        .take(3)
        .filter_map(|v| v.parse::<u64>().ok())
        .sum()
}

/// Cores busy between two [`busy_ticks`] readings `seconds` apart.
pub(crate) fn busy_cores(earlier: u64, later: u64, seconds: f64) -> f64 {
    later.saturating_sub(earlier) as f64 / TICKS_PER_SECOND / seconds
}

/// Waits until the processes other than this one use at most `max` cores
/// over a second, or [`QUIET_WAIT`] has passed; returns what they used last.
pub(crate) async fn wait_quiet(max: f64) -> f64 {
    let started = Instant::now();
    let mut said = false;
    loop {
        let (busy_0, own_0) = (busy_ticks(), Cpu::of("/proc/self"));
        let at = Instant::now();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let seconds = at.elapsed().as_secs_f64();
        let own = Cpu::of("/proc/self").cores_since(&own_0, seconds);
        let others = (busy_cores(busy_0, busy_ticks(), seconds) - own).max(0.0);
        if others <= max || started.elapsed() > QUIET_WAIT {
            return others;
        }
        if !said {
            eprintln!(
                "w2: other processes use {others:.2} cores; waiting for them (up to {QUIET_WAIT:?})"
            );
            said = true;
        }
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
}

/// A process's CPU time in ticks: in all, and by thread name for the
/// threads alive now.
#[derive(Debug, Clone, Default)]
pub(crate) struct Cpu {
    total: u64,
    threads: BTreeMap<String, u64>,
}

impl Cpu {
    /// `proc`: `/proc/<pid>` or `/proc/self`. Unreadable counts as zero.
    pub fn of(proc: &str) -> Self {
        let total = std::fs::read_to_string(format!("{proc}/stat"))
            .ok()
            .and_then(|s| parse_stat(&s))
            .map_or(0, |(_, ticks)| ticks);
        let mut threads = BTreeMap::new();
        if let Ok(tasks) = std::fs::read_dir(format!("{proc}/task")) {
            for task in tasks.flatten() {
                let stat = std::fs::read_to_string(task.path().join("stat")).ok();
                if let Some((name, ticks)) = stat.as_deref().and_then(parse_stat) {
                    *threads.entry(name).or_default() += ticks;
                }
            }
        }
        Self { total, threads }
    }

    /// Cores used between `earlier` and this sample, `seconds` apart.
    pub fn cores_since(&self, earlier: &Self, seconds: f64) -> f64 {
        self.total.saturating_sub(earlier.total) as f64 / TICKS_PER_SECOND / seconds
    }

    /// The same by thread name; threads that ended meanwhile are missing.
    pub fn threads_since(&self, earlier: &Self, seconds: f64) -> BTreeMap<String, f64> {
        self.threads
            .iter()
            .map(|(name, &ticks)| {
                let before = earlier.threads.get(name).copied().unwrap_or(0);
                let cores = ticks.saturating_sub(before) as f64 / TICKS_PER_SECOND / seconds;
                (name.clone(), (cores * 100.0).round() / 100.0)
            })
            .filter(|(_, cores)| *cores > 0.0)
            .collect()
    }
}

/// (name, utime + stime) from a `stat` line: `pid (name) state … utime
/// stime …`, fields 14 and 15. The name may hold spaces and parentheses.
fn parse_stat(stat: &str) -> Option<(String, u64)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let name = stat.get(open + 1..close)?.to_owned();
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let utime: u64 = rest.get(11)?.parse().ok()?;
    let stime: u64 = rest.get(12)?.parse().ok()?;
    Some((name, utime + stime))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_lines_give_name_and_ticks() {
        let line = "4242 (tokio-runtime-w) S 1 2 3 4 5 6 7 8 9 10 120 30 0 0 20 0 9 0 1 2 3";
        assert_eq!(parse_stat(line), Some(("tokio-runtime-w".into(), 150)));
        let odd = "7 (a (b) c) R 1 2 3 4 5 6 7 8 9 10 1 2 0 0";
        assert_eq!(parse_stat(odd), Some(("a (b) c".into(), 3)));
    }
}
