//! `--trace-dir`: every measured command and the server's threads over the
//! window, so a tail can be tied to what the server was doing when it
//! happened (docs/benchmarks.md shows how: slow commands came in clusters
//! while the save thread took a core). Sampling costs the bench a little
//! CPU, so compare traced runs with traced runs.

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::load::{TracedCall, Window};

/// How often the server's threads are read.
const EVERY: Duration = Duration::from_millis(5);

/// One thread of the server at one moment: its CPU time and its time
/// waiting for a CPU so far (`/proc/<pid>/task/<tid>/schedstat`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ThreadSample {
    /// Since the window opened (the sampler starts then).
    pub at_us: u64,
    pub tid: u32,
    pub thread: String,
    pub run_ns: u64,
    pub wait_ns: u64,
}

/// Reads every thread of `pid` every [`EVERY`] through `window`, on a
/// thread of its own (not on the runtime that drives the clients).
pub(crate) fn sample_threads(
    pid: u32,
    window: Window,
) -> std::thread::JoinHandle<Vec<ThreadSample>> {
    std::thread::spawn(move || {
        let mut samples = Vec::new();
        std::thread::sleep(window.from.saturating_duration_since(Instant::now()));
        while Instant::now() < window.until {
            read_threads(pid, window.from, &mut samples);
            std::thread::sleep(EVERY);
        }
        samples
    })
}

fn read_threads(pid: u32, from: Instant, samples: &mut Vec<ThreadSample>) {
    let at_us = Instant::now().saturating_duration_since(from).as_micros() as u64;
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let read = |file: &str| std::fs::read_to_string(task.path().join(file)).ok();
        let (Some(comm), Some(Some((run_ns, wait_ns)))) =
            (read("comm"), read("schedstat").map(|s| parse_schedstat(&s)))
        else {
            continue;
        };
        samples.push(ThreadSample {
            at_us,
            tid,
            // A name is the program's to choose; kept to one CSV field.
            thread: comm.trim().replace(',', " "),
            run_ns,
            wait_ns,
        });
    }
}

/// (time on a CPU, time waiting on a run queue), ns: the first two
/// fields of a `schedstat` line.
fn parse_schedstat(line: &str) -> Option<(u64, u64)> {
    let mut fields = line.split_whitespace().map(str::parse::<u64>);
    Some((fields.next()?.ok()?, fields.next()?.ok()?))
}

/// Writes `<name>-commands.csv` (client, when it was due after the window
/// opened, latency) and `<name>-threads.csv` into `dir`.
pub(crate) fn write(
    dir: &Path,
    name: &str,
    calls: &[TracedCall],
    threads: &[ThreadSample],
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut text = String::from("client,due_us,latency_us\n");
    for call in calls {
        let _ = writeln!(text, "{},{},{}", call.client, call.due_us, call.latency_us);
    }
    let path = dir.join(format!("{name}-commands.csv"));
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    let mut text = String::from("at_us,tid,thread,run_ns,wait_ns\n");
    for s in threads {
        let _ = writeln!(
            text,
            "{},{},{},{},{}",
            s.at_us, s.tid, s.thread, s.run_ns, s.wait_ns
        );
    }
    let path = dir.join(format!("{name}-threads.csv"));
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedstat_gives_cpu_and_wait_time() {
        assert_eq!(
            parse_schedstat("4181625 20311 55\n"),
            Some((4_181_625, 20_311))
        );
        assert_eq!(parse_schedstat("4181625\n"), None);
        assert_eq!(parse_schedstat("x 1 2\n"), None);
    }

    #[test]
    fn the_threads_of_a_process_are_sampled_through_the_window() {
        let window = Window::after(Duration::ZERO, Duration::from_millis(200));
        let samples = sample_threads(std::process::id(), window).join().unwrap();
        let mine: Vec<&ThreadSample> = samples
            .iter()
            .filter(|s| s.tid == std::process::id())
            .collect();
        assert!(mine.len() >= 2, "sampled {} times", mine.len());
        assert!(mine.windows(2).all(|w| w[0].at_us < w[1].at_us));
        assert!(mine.windows(2).all(|w| w[0].run_ns <= w[1].run_ns));
    }

    #[test]
    fn calls_and_threads_are_written_as_csv() {
        let dir = tempfile::tempdir().unwrap();
        let calls = [TracedCall {
            client: 3,
            due_us: 12_800,
            latency_us: 2_301,
        }];
        let threads = [ThreadSample {
            at_us: 40,
            tid: 77,
            thread: "tokio-rt-worker".into(),
            run_ns: 5,
            wait_ns: 6,
        }];
        write(dir.path(), "w2-run1", &calls, &threads).unwrap();
        let commands = std::fs::read_to_string(dir.path().join("w2-run1-commands.csv")).unwrap();
        assert_eq!(commands, "client,due_us,latency_us\n3,12800,2301\n");
        let threads = std::fs::read_to_string(dir.path().join("w2-run1-threads.csv")).unwrap();
        assert_eq!(
            threads,
            "at_us,tid,thread,run_ns,wait_ns\n40,77,tokio-rt-worker,5,6\n"
        );
    }
}
