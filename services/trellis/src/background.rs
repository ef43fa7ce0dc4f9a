//! A runtime for work no request waits for (the projector's saves:
//! encoding and sealing whole plan documents, then writing them). A save
//! of many large plans is one long stretch of CPU work that a runtime
//! worker cannot be preempted from; on the request runtime it held one of
//! the two workers for tens of milliseconds, and every request queued
//! behind it. On a worker of its own the operating system shares the CPU
//! between it and the request workers instead.
//!
//! Its threads keep the process's priority: the save's SQLite write holds
//! the read models' connection, which listings and the readiness check
//! also need, so a save starved of CPU would hold them up (and a thread
//! tokio starts for blocking work inherits its starter's priority, so a
//! lower one could not be kept to the encoding alone).

use std::sync::{Mutex, PoisonError};

use tokio::runtime::{Handle, Runtime};

/// Kept for the process: a runtime may not be dropped inside another.
static BACKGROUND: Mutex<Option<Runtime>> = Mutex::new(None);

/// The process's background runtime, started on first use.
pub(crate) fn runtime() -> std::io::Result<Handle> {
    let mut kept = BACKGROUND.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(runtime) = kept.as_ref() {
        return Ok(runtime.handle().clone());
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name("trellis-background")
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    *kept = Some(runtime);
    Ok(handle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_work_runs_on_threads_of_its_own_and_one_runtime() {
        let handle = runtime().expect("background runtime");
        let thread = || std::thread::current().name().map(str::to_owned);
        let worker = handle
            .block_on(handle.spawn(async move { thread() }))
            .expect("background task");
        assert_eq!(worker.as_deref(), Some("trellis-background"));
        let blocking = handle
            .block_on(handle.spawn_blocking(thread))
            .expect("blocking task");
        assert_eq!(blocking.as_deref(), Some("trellis-background"));
        // Asked again, the same runtime answers: its worker runs the task.
        let again = runtime().expect("again");
        let worker_again = again
            .block_on(again.spawn(async move { thread() }))
            .expect("background task");
        assert_eq!(worker_again.as_deref(), Some("trellis-background"));
    }
}
