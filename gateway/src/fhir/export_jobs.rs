//! The `$export` jobs of this gateway, in memory and bounded: two running
//! per caller, 200 in all, each kept an hour.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use super::outcome::{Issue, Refusal};

const RUNNING_PER_CALLER: usize = 2;
const MAX_JOBS: usize = 200;
const KEEP_FOR: Duration = Duration::from_secs(3600);

/// Whose a job is: tenant and subject.
pub(crate) type Owner = (String, String);

/// Where a job is.
pub(crate) enum JobState {
    Running { plans: usize },
    Done { files: BTreeMap<&'static str, File> },
    Failed { reason: String },
}

/// One NDJSON file of a finished job.
#[derive(Default)]
pub(crate) struct File {
    pub(crate) ndjson: Vec<u8>,
    pub(crate) count: usize,
}

pub(crate) struct Job {
    pub(crate) owner: Owner,
    made: Instant,
    pub(crate) transaction_time: String,
    pub(crate) request: String,
    pub(crate) state: JobState,
}

/// The export jobs of this gateway.
#[derive(Default)]
pub(crate) struct BulkJobs {
    jobs: Mutex<HashMap<String, Job>>,
}

impl std::fmt::Debug for BulkJobs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BulkJobs").finish_non_exhaustive()
    }
}

impl BulkJobs {
    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Job>> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a job for `owner`, or says why not (the bounds).
    pub(crate) fn start(&self, owner: Owner, request: String) -> Result<String, Refusal> {
        let mut jobs = self.lock();
        jobs.retain(|_, job| job.made.elapsed() < KEEP_FOR);
        let running = jobs
            .values()
            .filter(|j| j.owner == owner && matches!(j.state, JobState::Running { .. }))
            .count();
        if running >= RUNNING_PER_CALLER || jobs.len() >= MAX_JOBS {
            return Err(Refusal::new(
                StatusCode::TOO_MANY_REQUESTS,
                Issue::new(
                    "throttled",
                    format!(
                        "at most {RUNNING_PER_CALLER} exports run at once per caller; wait for one to finish or delete it"
                    ),
                ),
            ));
        }
        let id = uuid::Uuid::new_v4().simple().to_string();
        jobs.insert(
            id.clone(),
            Job {
                owner,
                made: Instant::now(),
                transaction_time: chrono::Utc::now()
                    .to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                request,
                state: JobState::Running { plans: 0 },
            },
        );
        Ok(id)
    }

    pub(crate) fn update(&self, id: &str, state: JobState) {
        if let Some(job) = self.lock().get_mut(id) {
            job.state = state;
        }
    }
}
