//! A runtime for work no request waits for (the projector's saves): its
//! threads run at a lower scheduling priority than the request threads,
//! so under load the requests get the CPU first and this work takes what
//! is left; idle, it runs as fast as any.

use std::sync::{Mutex, PoisonError};

use tokio::runtime::{Handle, Runtime};

/// How much lower than the request threads (a `nice` increment: each step
/// is about 1.25× less CPU share when both want it; 10 is about a tenth).
const NICENESS: i32 = 10;

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
        .on_thread_start(yield_to_requests)
        .enable_all()
        .build()?;
    let handle = runtime.handle().clone();
    *kept = Some(runtime);
    Ok(handle)
}

/// Lowers the calling thread's priority (Linux keeps one per thread). A
/// system that refuses leaves it as it was: slower requests under load,
/// nothing wrong.
fn yield_to_requests() {
    #[cfg(target_os = "linux")]
    {
        let thread = rustix::thread::gettid();
        let current = rustix::process::getpriority_process(Some(thread)).unwrap_or(0);
        if let Err(e) = rustix::process::setpriority_process(Some(thread), current + NICENESS) {
            tracing::debug!(error = %e, "background thread priority left as it was");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn background_threads_yield_to_the_request_threads() {
        let handle = runtime().expect("background runtime");
        let mine = rustix::process::getpriority_process(Some(rustix::thread::gettid()))
            .expect("own priority");
        let theirs = handle
            .block_on(handle.spawn(async {
                rustix::process::getpriority_process(Some(rustix::thread::gettid()))
                    .expect("background priority")
            }))
            .expect("background task");
        assert_eq!(theirs, (mine + NICENESS).min(19));
    }
}
