//! The open-file limit, raised at start so the connection caps are
//! reachable.

use super::args::Limits;

/// Files a process needs besides its connections (stores, logs, sockets).
const FILES_BESIDES_CONNECTIONS: u64 = 1024;

/// Raises the soft open-file limit to the hard one, so the connection caps
/// are reachable, and says what it is. Never fails: a limit that cannot be
/// raised is warned about and kept.
pub fn raise_file_limit(limits: &Limits, listeners: u64) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
    // `None` is unlimited.
    let below_hard = match (current, maximum) {
        (Some(soft), Some(hard)) => soft < hard,
        (Some(_), None) => true,
        (None, _) => false,
    };
    let mut open_files = current;
    if below_hard {
        match setrlimit(
            Resource::Nofile,
            Rlimit {
                current: maximum,
                maximum,
            },
        ) {
            Ok(()) => open_files = maximum,
            Err(e) => {
                tracing::warn!(error = %e, soft = ?current, "cannot raise the open-file limit; keeping it");
            }
        }
    }
    let needed = listeners * limits.max_connections as u64 + FILES_BESIDES_CONNECTIONS;
    match open_files {
        Some(limit) if limit < needed => tracing::warn!(
            open_files = limit,
            needed,
            "the open-file limit is below what the connection caps allow; raise the hard \
             limit (ulimit -Hn, LimitNOFILE=) or lower TRELLIS_MAX_CONNECTIONS"
        ),
        _ => tracing::info!(
            open_files = open_files.map_or_else(|| "unlimited".to_owned(), |n| n.to_string()),
            max_connections = limits.max_connections,
            header_read_timeout_secs = limits.header_read.as_secs_f64(),
            idle_timeout_secs = limits.idle.as_secs_f64(),
            "connection limits"
        ),
    }
}
