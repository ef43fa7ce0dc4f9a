//! Liveness and readiness. `/healthz` says the process answers; `/readyz`
//! and the gRPC health service say whether it can do its work now, from
//! one verdict: the event store takes a write (or answers, where the
//! process only reads it), the read models answer, and the projection is
//! not too far behind. Every check is bounded by a timeout, a verdict is
//! reused for a second (so a flood of probes is not a flood of writes), and
//! each change of verdict is logged once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use futures::FutureExt;
use futures::future::{BoxFuture, join_all};
use tokio::sync::{Mutex, watch};
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;
use trellis_kernel::EventStore;
use trellis_projector::ReadModelStore;

/// How long a verdict is reused before the checks run again.
const VERDICT_TTL: Duration = Duration::from_secs(1);

/// How often the gRPC health status is brought up to date.
const GRPC_INTERVAL: Duration = Duration::from_secs(2);

/// When a process counts as ready.
#[derive(clap::Args, Debug, Clone)]
pub struct ReadinessArgs {
    /// Not ready while the read models are more than this many events
    /// behind the event store (in processes that project); 0 turns the
    /// bound off.
    #[arg(long, env = "TRELLIS_READY_MAX_LAG_EVENTS", default_value_t = 10_000)]
    pub ready_max_lag_events: u64,
    /// Milliseconds each readiness check may take before it counts as
    /// failed.
    #[arg(long, env = "TRELLIS_READY_TIMEOUT_MS", default_value_t = 1_000,
          value_parser = clap::value_parser!(u64).range(1..))]
    pub ready_timeout_ms: u64,
}

/// One question readiness asks; an error's text is for the log only.
type Probe<T> = Arc<dyn Fn() -> BoxFuture<'static, Result<T, String>> + Send + Sync>;

/// One thing a process needs in order to be ready.
pub(crate) struct Check {
    /// The reason given when it fails, e.g. "event store cannot write".
    failure: &'static str,
    kind: Kind,
}

enum Kind {
    /// The part must answer the probe without error.
    Answers(Probe<()>),
    /// The read models must be within the lag bound of the store's head.
    Lag {
        head: Probe<Option<u64>>,
        projected: watch::Receiver<u64>,
    },
}

impl Check {
    /// The event store takes a write now (a process that appends or logs
    /// access: the embedded server, the plans service, the gateway).
    pub(crate) fn store_writes(events: Arc<dyn EventStore>) -> Self {
        Self::answers("event store cannot write", move || {
            let events = Arc::clone(&events);
            async move { events.probe_write().await.map_err(|e| e.to_string()) }.boxed()
        })
    }

    /// The event store answers (a process that only reads it).
    pub(crate) fn store_answers(events: Arc<dyn EventStore>) -> Self {
        Self::answers("event store unreachable", move || {
            let events = Arc::clone(&events);
            async move { events.ping().await.map_err(|e| e.to_string()) }.boxed()
        })
    }

    /// The read models (SQLite file or Redis) answer.
    pub(crate) fn read_models(read_models: Arc<dyn ReadModelStore>) -> Self {
        Self::answers("read models unreachable", move || {
            let read_models = Arc::clone(&read_models);
            async move { read_models.ping().await.map_err(|e| e.to_string()) }.boxed()
        })
    }

    /// The projection that reports its position on `projected` (a fresh
    /// receiver) is within the lag bound of the store's last position.
    /// Stores whose positions do not count events (KurrentDB) give no head,
    /// and pass.
    pub(crate) fn projection_lag(
        events: Arc<dyn EventStore>,
        projected: watch::Receiver<u64>,
    ) -> Self {
        let head: Probe<Option<u64>> = Arc::new(move || {
            let events = Arc::clone(&events);
            async move { events.last_position().await.map_err(|e| e.to_string()) }.boxed()
        });
        Self {
            failure: "projection lag unknown",
            kind: Kind::Lag { head, projected },
        }
    }

    /// The projector holds the lease, so it is the one projecting; a
    /// projector on standby is alive but not ready.
    pub(crate) fn holds_lease(holding: watch::Receiver<bool>) -> Self {
        Self::answers("standby: another projector holds the lease", move || {
            let holds = *holding.borrow();
            async move {
                if holds {
                    Ok(())
                } else {
                    Err("standing by".to_owned())
                }
            }
            .boxed()
        })
    }

    fn answers<F>(failure: &'static str, probe: F) -> Self
    where
        F: Fn() -> BoxFuture<'static, Result<(), String>> + Send + Sync + 'static,
    {
        Self {
            failure,
            kind: Kind::Answers(Arc::new(probe)),
        }
    }

    /// Runs the check within `timeout`.
    async fn run(&self, timeout: Duration, max_lag: u64) -> Result<(), Failure> {
        let fail = |detail| Failure {
            key: self.failure,
            reason: self.failure.to_owned(),
            detail,
        };
        let outcome = match &self.kind {
            Kind::Answers(probe) => tokio::time::timeout(timeout, probe()).await,
            // Until the projection has read its checkpoint and reported it,
            // its position says nothing (a restart is not a lag).
            Kind::Lag { projected, .. } if !projected.has_changed().unwrap_or(true) => Ok(Ok(())),
            Kind::Lag { head, projected } => {
                let head = tokio::time::timeout(timeout, head()).await;
                if let Ok(Ok(Some(head))) = head {
                    let behind = head.saturating_sub(*projected.borrow());
                    if behind > max_lag {
                        return Err(Failure {
                            key: "projection lag",
                            reason: format!("read models {behind} events behind (bound {max_lag})"),
                            detail: None,
                        });
                    }
                }
                head.map(|answer| answer.map(|_| ()))
            }
        };
        match outcome {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(fail(Some(e))),
            Err(_) => Err(Failure {
                key: self.failure,
                reason: format!(
                    "{}: no answer within {} ms",
                    self.failure,
                    timeout.as_millis()
                ),
                detail: None,
            }),
        }
    }
}

/// A failed check: `reason` is what callers see (names the part, never an
/// internal detail); `detail` (the error) is for the log only.
struct Failure {
    key: &'static str,
    reason: String,
    detail: Option<String>,
}

/// Whether the process can do its work now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    Ready,
    /// Why not, naming every failing part.
    NotReady(String),
}

impl Verdict {
    pub(crate) fn is_ready(&self) -> bool {
        matches!(self, Self::Ready)
    }
}

/// The checks of one process and their last verdict; cheap to clone.
#[derive(Clone)]
pub(crate) struct Readiness {
    inner: Arc<Inner>,
}

struct Inner {
    checks: Vec<Check>,
    timeout: Duration,
    max_lag: u64,
    ttl: Duration,
    last: Mutex<Last>,
}

#[derive(Default)]
struct Last {
    verdict: Option<(Instant, Verdict)>,
    /// The failing checks of the last verdict, to log changes once.
    failing: Option<Vec<&'static str>>,
}

impl std::fmt::Debug for Readiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Readiness")
            .field("checks", &self.inner.checks.len())
            .field("timeout", &self.inner.timeout)
            .finish_non_exhaustive()
    }
}

impl Readiness {
    /// Readiness by `checks`; a lag check is left out when the bound is 0.
    pub(crate) fn new(args: &ReadinessArgs, checks: impl IntoIterator<Item = Check>) -> Self {
        let max_lag = args.ready_max_lag_events;
        let checks = checks
            .into_iter()
            .filter(|check| max_lag > 0 || !matches!(check.kind, Kind::Lag { .. }))
            .collect();
        Self {
            inner: Arc::new(Inner {
                checks,
                timeout: Duration::from_millis(args.ready_timeout_ms),
                max_lag,
                ttl: VERDICT_TTL,
                last: Mutex::new(Last::default()),
            }),
        }
    }

    /// The verdict: the last one while it is fresh, else the checks run
    /// (concurrently, each within the timeout). Callers arriving while
    /// they run wait for that verdict instead of running them again.
    pub(crate) async fn check(&self) -> Verdict {
        let mut last = self.inner.last.lock().await;
        if let Some((at, verdict)) = &last.verdict
            && at.elapsed() < self.inner.ttl
        {
            return verdict.clone();
        }
        let (timeout, max_lag) = (self.inner.timeout, self.inner.max_lag);
        let failures: Vec<Failure> = join_all(
            self.inner
                .checks
                .iter()
                .map(|check| check.run(timeout, max_lag)),
        )
        .await
        .into_iter()
        .filter_map(Result::err)
        .collect();
        let verdict = if failures.is_empty() {
            Verdict::Ready
        } else {
            let mut reasons: Vec<&str> = Vec::with_capacity(failures.len());
            for failure in &failures {
                if !reasons.contains(&failure.reason.as_str()) {
                    reasons.push(&failure.reason);
                }
            }
            Verdict::NotReady(reasons.join("; "))
        };
        log_change(&mut last, &verdict, &failures);
        last.verdict = Some((Instant::now(), verdict.clone()));
        verdict
    }
}

/// Logs a verdict that differs from the last one in which parts fail:
/// once per change, not once per probe.
fn log_change(last: &mut Last, verdict: &Verdict, failures: &[Failure]) {
    let mut failing: Vec<&'static str> = failures.iter().map(|f| f.key).collect();
    failing.sort_unstable();
    failing.dedup();
    if last.failing.as_ref() == Some(&failing) {
        return;
    }
    let recovered = last.failing.as_ref().is_some_and(|f| !f.is_empty());
    last.failing = Some(failing);
    match verdict {
        Verdict::Ready if recovered => tracing::info!("ready again"),
        Verdict::Ready => tracing::info!("ready"),
        Verdict::NotReady(reason) => {
            let errors: Vec<String> = failures
                .iter()
                .filter_map(|f| f.detail.as_ref().map(|d| format!("{}: {d}", f.key)))
                .collect();
            tracing::warn!(%reason, errors = %errors.join("; "), "not ready");
        }
    }
}

/// `/healthz` (the process answers) and `/readyz` (200 "ready", or 503
/// with the reason).
pub(crate) fn health_routes(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .with_state(readiness)
}

async fn ready(State(readiness): State<Readiness>) -> (StatusCode, String) {
    match readiness.check().await {
        Verdict::Ready => (StatusCode::OK, "ready".to_owned()),
        Verdict::NotReady(reason) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {reason}"),
        ),
    }
}

/// Sets the gRPC health status of `service` and of the server as a whole
/// ("") from the verdict now, then keeps both current in the background:
/// NOT_SERVING while not ready, SERVING again once ready.
pub(crate) async fn report_to_grpc(
    readiness: Readiness,
    reporter: HealthReporter,
    service: &'static str,
) {
    let mut serving = readiness.check().await.is_ready();
    set_grpc_status(&reporter, service, serving).await;
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(GRPC_INTERVAL).await;
            let now = readiness.check().await.is_ready();
            if now != serving {
                serving = now;
                set_grpc_status(&reporter, service, serving).await;
            }
        }
    });
}

async fn set_grpc_status(reporter: &HealthReporter, service: &'static str, serving: bool) {
    let status = if serving {
        ServingStatus::Serving
    } else {
        ServingStatus::NotServing
    };
    for name in ["", service] {
        reporter.set_service_status(name, status).await;
    }
}

#[cfg(test)]
mod tests;
