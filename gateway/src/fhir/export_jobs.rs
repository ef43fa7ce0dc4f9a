//! The `$export` jobs of this gateway, in memory and bounded: two running
//! and ten kept per caller, fifty per tenant, 200 in all, each kept an
//! hour. A job that goes (deleted, expired, or evicted to make room for
//! its owner's next) stops its export if that still runs.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::StatusCode;

use super::outcome::{Issue, Refusal};

const RUNNING_PER_CALLER: usize = 2;
/// Jobs one caller keeps, finished ones included: a new one evicts the
/// caller's oldest finished job, so one caller cannot fill the gateway.
const KEPT_PER_CALLER: usize = 10;
const KEPT_PER_TENANT: usize = 50;
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
    /// The export's task while it may run; aborted when the job goes.
    task: Option<tokio::task::AbortHandle>,
}

impl Job {
    /// Whether it is still kept (an hour from its start).
    pub(crate) fn is_kept(&self) -> bool {
        self.made.elapsed() < KEEP_FOR
    }

    fn is_running(&self) -> bool {
        matches!(self.state, JobState::Running { .. })
    }
}

impl Drop for Job {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
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
        jobs.retain(|_, job| job.is_kept());
        // The caller's jobs: when made, id, whether running.
        let mine: Vec<(Instant, String, bool)> = jobs
            .iter()
            .filter(|(_, j)| j.owner == owner)
            .map(|(id, j)| (j.made, id.clone(), j.is_running()))
            .collect();
        if mine.iter().filter(|(_, _, running)| *running).count() >= RUNNING_PER_CALLER {
            return Err(throttled(format!(
                "at most {RUNNING_PER_CALLER} exports run at once per caller; wait for one to finish or delete it"
            )));
        }
        // Room for the next: the caller's oldest finished jobs go first.
        let mut finished: Vec<(Instant, String)> = mine
            .iter()
            .filter(|(_, _, running)| !running)
            .map(|(made, id, _)| (*made, id.clone()))
            .collect();
        finished.sort();
        let surplus = (mine.len() + 1).saturating_sub(KEPT_PER_CALLER);
        for (_, id) in finished.into_iter().take(surplus) {
            jobs.remove(&id);
        }
        let tenant_jobs = jobs.values().filter(|j| j.owner.0 == owner.0).count();
        if tenant_jobs >= KEPT_PER_TENANT || jobs.len() >= MAX_JOBS {
            return Err(throttled(format!(
                "this gateway holds its most exports ({KEPT_PER_TENANT} per clinic network, \
                 {MAX_JOBS} in all, each an hour); delete finished ones or try again later"
            )));
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
                task: None,
            },
        );
        Ok(id)
    }

    /// Ties the export's task to its job: stopped when the job goes, at
    /// once when it went before the task was started.
    pub(crate) fn run_as(&self, id: &str, task: tokio::task::AbortHandle) {
        match self.lock().get_mut(id) {
            Some(job) => job.task = Some(task),
            None => task.abort(),
        }
    }

    pub(crate) fn update(&self, id: &str, state: JobState) {
        if let Some(job) = self.lock().get_mut(id) {
            if !matches!(state, JobState::Running { .. }) {
                // Finished: nothing left to stop.
                job.task = None;
            }
            job.state = state;
        }
    }
}

fn throttled(rule: String) -> Refusal {
    Refusal::new(StatusCode::TOO_MANY_REQUESTS, Issue::new("throttled", rule))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn owner(tenant: &str, subject: &str) -> Owner {
        (tenant.to_owned(), subject.to_owned())
    }

    fn done() -> JobState {
        JobState::Done {
            files: BTreeMap::new(),
        }
    }

    #[tokio::test]
    async fn a_job_that_goes_stops_its_export() {
        let jobs = BulkJobs::default();
        let id = jobs.start(owner("north", "clin-1"), String::new()).unwrap();
        let export = tokio::spawn(std::future::pending::<()>());
        jobs.run_as(&id, export.abort_handle());
        jobs.lock().remove(&id);
        let ended = tokio::time::timeout(Duration::from_secs(5), export)
            .await
            .expect("the export stopped");
        assert!(ended.unwrap_err().is_cancelled());

        // Deleted before its task started: the task is stopped at once.
        let id = jobs.start(owner("north", "clin-1"), String::new()).unwrap();
        jobs.lock().remove(&id);
        let late = tokio::spawn(std::future::pending::<()>());
        jobs.run_as(&id, late.abort_handle());
        assert!(late.await.unwrap_err().is_cancelled());
    }

    #[test]
    fn a_third_running_export_of_one_caller_is_refused() {
        let jobs = BulkJobs::default();
        let me = owner("north", "clin-1");
        for _ in 0..RUNNING_PER_CALLER {
            jobs.start(me.clone(), String::new()).unwrap();
        }
        let refused = jobs.start(me, String::new()).unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    }

    #[test]
    fn one_caller_keeps_a_bounded_number_and_cannot_fill_the_gateway() {
        let jobs = BulkJobs::default();
        let me = owner("north", "clin-1");
        for _ in 0..(MAX_JOBS + 20) {
            let id = jobs.start(me.clone(), String::new()).unwrap();
            jobs.update(&id, done());
        }
        let mine = jobs.lock().values().filter(|j| j.owner == me).count();
        assert_eq!(mine, KEPT_PER_CALLER);
        // Someone else, in another clinic network, still gets theirs.
        assert!(jobs.start(owner("south", "clin-9"), String::new()).is_ok());
        // A clinic network's callers together hold at most their share.
        for n in 0..KEPT_PER_TENANT {
            let _ = jobs.start(owner("east", &format!("clin-{n}")), String::new());
        }
        let refused = jobs
            .start(owner("east", "one-more"), String::new())
            .unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(jobs.start(owner("west", "clin-1"), String::new()).is_ok());
    }
}
