//! Load clients, each on its own HTTP/2 connection, the next call only
//! after the answer to the last.
//!
//! - **Closed loop** (the default): each client calls again as soon as it
//!   is answered, so the load is as much as the server takes; a call is
//!   timed from just before it is sent to just after its answer.
//! - **Open loop** (`Pacing::Open`): the clients together offer a fixed
//!   rate, each on a schedule of its own. A call is timed from when it was
//!   *due*, not from when it was sent, so a client held up by a slow answer
//!   counts the wait of every call it could not send on time (the
//!   coordinated-omission correction). Tokio's timer wakes a call up to
//!   1 ms after it is due, and that millisecond counts too.

use std::collections::BTreeMap;
use std::future::Future;
use std::time::{Duration, Instant};

use anyhow::Context;
use tonic::metadata::{Ascii, MetadataValue};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use trellis_plans_domain::PlanId;
use trellis_proto::plans::v1 as pb;
use trellis_proto::plans::v1::plan_service_client::PlanServiceClient;
use uuid::Uuid;

use super::prefill::GOAL;

/// The server's own deadline; a call that takes longer is an error.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// One client's kind of call. A failure is named by its class (a gRPC
/// code, an HTTP status), never by its message.
pub(crate) trait Rpc: Send + 'static {
    fn call(&mut self) -> impl Future<Output = Result<(), String>> + Send;
}

/// A gRPC failure's class.
fn code(status: tonic::Status) -> String {
    format!("{:?}", status.code())
}

/// A connection of its own: one HTTP/2 connection per client.
pub(crate) async fn connect(url: &str) -> anyhow::Result<Channel> {
    Endpoint::from_shared(url.to_owned())?
        .timeout(CALL_TIMEOUT)
        .connect()
        .await
        .with_context(|| format!("connect to {url}"))
}

/// `AddGoal` on the client's own plan, a fresh command id each time and the
/// goal id left to the server (derived from the command id).
#[derive(Debug)]
pub(crate) struct AddGoal {
    client: PlanServiceClient<Channel>,
    authorization: MetadataValue<Ascii>,
    plan_id: String,
    /// Commands acknowledged, and the plan revision the last one reached.
    pub acknowledged: u64,
    pub revision: u64,
    /// Answers that said the command id had been applied before (never
    /// expected: every command id is fresh).
    pub duplicates: u64,
}

impl AddGoal {
    pub fn new(channel: Channel, token: &str, plan: PlanId) -> anyhow::Result<Self> {
        Ok(Self {
            client: PlanServiceClient::new(channel),
            authorization: format!("Bearer {token}").parse()?,
            plan_id: plan.to_string(),
            acknowledged: 0,
            revision: 0,
            duplicates: 0,
        })
    }
}

impl Rpc for AddGoal {
    async fn call(&mut self) -> Result<(), String> {
        let mut request = tonic::Request::new(pb::AddGoalRequest {
            command_id: Uuid::new_v4().to_string(),
            plan_id: self.plan_id.clone(),
            goal_id: String::new(),
            description: GOAL.into(),
            term: pb::GoalTerm::ShortTerm as i32,
        });
        request
            .metadata_mut()
            .insert("authorization", self.authorization.clone());
        let answer = self
            .client
            .add_goal(request)
            .await
            .map_err(code)?
            .into_inner();
        self.acknowledged += 1;
        self.revision = answer.revision;
        self.duplicates += u64::from(answer.duplicate);
        Ok(())
    }
}

/// `grpc.health.v1.Health/Check` for the whole server: the least a call
/// can cost over the same connection.
#[derive(Debug)]
pub(crate) struct HealthCheck(HealthClient<Channel>);

impl HealthCheck {
    pub fn new(channel: Channel) -> Self {
        Self(HealthClient::new(channel))
    }
}

impl Rpc for HealthCheck {
    async fn call(&mut self) -> Result<(), String> {
        self.0
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .map(drop)
            .map_err(code)
    }
}

/// When a phase measures: calls started in `[from, until)` count.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Window {
    pub from: Instant,
    pub until: Instant,
}

impl Window {
    /// A window of `measure` after `warmup` from now.
    pub fn after(warmup: Duration, measure: Duration) -> Self {
        let from = Instant::now() + warmup;
        Self {
            from,
            until: from + measure,
        }
    }

    pub fn seconds(&self) -> f64 {
        (self.until - self.from).as_secs_f64()
    }
}

/// What the clients of one phase saw.
#[derive(Debug, Default)]
pub(crate) struct Phase {
    /// Latencies of the successful calls in the window, µs, sorted.
    pub latencies_us: Vec<u64>,
    /// Successful calls answered inside the window, whenever they were
    /// due: an open loop's throughput (its calls due in the window are
    /// all answered in the end, late or not).
    pub answered_in_window: u64,
    /// Failed calls in the window by class (gRPC code, HTTP status).
    pub errors: BTreeMap<String, u64>,
    /// Failed calls during the warm-up, by class.
    pub warmup_errors: BTreeMap<String, u64>,
    /// The successful calls in the window, in no particular order.
    pub calls: Vec<TracedCall>,
}

/// One successful call in the window: which client, when it was due after
/// the window opened, and how long it took from then, µs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TracedCall {
    pub client: usize,
    pub due_us: u64,
    pub latency_us: u64,
}

impl Phase {
    /// Calls a second: for a closed loop the successful calls started in
    /// the window, for an open loop those answered in it.
    pub fn rate(&self, window: &Window, pacing: Pacing) -> f64 {
        let calls = match pacing {
            Pacing::Closed => self.latencies_us.len() as u64,
            Pacing::Open { .. } => self.answered_in_window,
        };
        calls as f64 / window.seconds()
    }

    /// Nearest-rank percentile (`p` in 0..=1).
    pub fn percentile(&self, p: f64) -> u64 {
        crate::stats::nearest_rank(&self.latencies_us, p)
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// How the clients send.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Pacing {
    /// Each client calls again as soon as it is answered.
    Closed,
    /// The clients together offer this many calls a second, evenly spread.
    Open { per_second: f64 },
}

/// When one client's calls are due: `None` for a closed loop.
#[derive(Debug)]
struct Schedule {
    next: Instant,
    every: Duration,
}

impl Schedule {
    /// Client `index` of `clients`: every client calls once per
    /// `clients / per_second`, the clients staggered evenly inside it.
    fn new(pacing: Pacing, index: usize, clients: usize, start: Instant) -> Option<Self> {
        let Pacing::Open { per_second } = pacing else {
            return None;
        };
        let every = Duration::from_secs_f64(clients as f64 / per_second);
        Some(Self {
            next: start + every.mul_f64(index as f64 / clients as f64),
            every,
        })
    }

    /// When the next call is due (a client running late gets the due
    /// times it missed back to back).
    fn next_due(&mut self) -> Instant {
        let due = self.next;
        self.next += self.every;
        due
    }

    /// Waits until the next call is due and returns when that was.
    async fn due(&mut self) -> Instant {
        let due = self.next_due();
        tokio::time::sleep_until(due.into()).await;
        due
    }
}

/// Runs every client until the window ends; returns the clients (with what
/// they counted) and what was measured.
pub(crate) async fn drive<R: Rpc>(
    clients: Vec<R>,
    window: Window,
    pacing: Pacing,
) -> anyhow::Result<(Vec<R>, Phase)> {
    let start = Instant::now();
    let count = clients.len();
    let tasks: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(index, mut client)| {
            let mut schedule = Schedule::new(pacing, index, count, start);
            tokio::spawn(async move {
                let mut phase = Phase::default();
                loop {
                    let started = match schedule.as_mut() {
                        Some(schedule) => schedule.due().await,
                        None => Instant::now(),
                    };
                    if started >= window.until {
                        break;
                    }
                    let result = client.call().await;
                    let answered = Instant::now();
                    let took = answered - started;
                    let measured = started >= window.from;
                    if result.is_ok() && (window.from..window.until).contains(&answered) {
                        phase.answered_in_window += 1;
                    }
                    match result {
                        Ok(()) if measured => {
                            let latency_us = took.as_micros() as u64;
                            phase.latencies_us.push(latency_us);
                            phase.calls.push(TracedCall {
                                client: index,
                                due_us: (started - window.from).as_micros() as u64,
                                latency_us,
                            });
                        }
                        Ok(()) => {}
                        Err(class) => {
                            let errors = if measured {
                                &mut phase.errors
                            } else {
                                &mut phase.warmup_errors
                            };
                            *errors.entry(class).or_default() += 1;
                        }
                    }
                }
                (client, phase)
            })
        })
        .collect();
    let mut clients = Vec::with_capacity(tasks.len());
    let mut all = Phase::default();
    for task in tasks {
        let (client, phase) = task.await?;
        clients.push(client);
        all.latencies_us.extend(phase.latencies_us);
        all.calls.extend(phase.calls);
        all.answered_in_window += phase.answered_in_window;
        for (code, n) in phase.errors {
            *all.errors.entry(code).or_default() += n;
        }
        for (code, n) in phase.warmup_errors {
            *all.warmup_errors.entry(code).or_default() += n;
        }
    }
    all.latencies_us.sort_unstable();
    Ok((clients, all))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_clients_share_the_rate_evenly() {
        let start = Instant::now();
        // 4 clients at 400 calls/s: each every 10 ms, 2.5 ms apart.
        let pacing = Pacing::Open { per_second: 400.0 };
        let mut first = Schedule::new(pacing, 0, 4, start).expect("open");
        let mut second = Schedule::new(pacing, 1, 4, start).expect("open");
        let since = |at: Instant| (at - start).as_micros();
        assert_eq!(since(first.next_due()), 0);
        assert_eq!(since(second.next_due()), 2_500);
        assert_eq!(since(first.next_due()), 10_000);
        assert_eq!(since(second.next_due()), 12_500);
        assert!(Schedule::new(Pacing::Closed, 0, 4, start).is_none());
    }

    #[tokio::test]
    async fn a_late_call_is_timed_from_when_it_was_due() {
        let start = Instant::now() - Duration::from_millis(2_500);
        let pacing = Pacing::Open { per_second: 1.0 };
        let mut only = Schedule::new(pacing, 0, 1, start).expect("open");
        // Three calls were due already (one a second): they come back to
        // back, without a second's wait between them, each with its own
        // due time, not the time it is sent.
        let waited = Instant::now();
        let due = [only.due().await, only.due().await, only.due().await];
        assert!(waited.elapsed() < Duration::from_millis(900));
        assert_eq!(due.map(|at| (at - start).as_millis()), [0, 1_000, 2_000]);
    }

    /// Answers after `delay`; fails every call when `fails`.
    struct Slow {
        delay: Duration,
        fails: bool,
    }

    impl Rpc for Slow {
        async fn call(&mut self) -> Result<(), String> {
            tokio::time::sleep(self.delay).await;
            if self.fails {
                Err("UNAVAILABLE".into())
            } else {
                Ok(())
            }
        }
    }

    #[tokio::test]
    async fn each_successful_call_in_the_window_is_traced_by_client_and_due_time() {
        let clients = vec![
            Slow {
                delay: Duration::from_millis(2),
                fails: false,
            },
            Slow {
                delay: Duration::from_millis(2),
                fails: true,
            },
        ];
        let window = Window::after(Duration::from_millis(20), Duration::from_millis(100));
        let (_, phase) = drive(clients, window, Pacing::Open { per_second: 100.0 })
            .await
            .unwrap();
        assert_eq!(phase.calls.len(), phase.latencies_us.len());
        assert!(!phase.calls.is_empty());
        // Only the client that succeeded, each call once, due inside the
        // window and timed from then.
        assert!(phase.calls.iter().all(|c| c.client == 0));
        assert!(
            phase
                .calls
                .iter()
                .all(|c| c.due_us < 100_000 && c.latency_us >= 2_000)
        );
        let mut due: Vec<u64> = phase.calls.iter().map(|c| c.due_us).collect();
        due.dedup();
        assert_eq!(due.len(), phase.calls.len());
        assert!(phase.errors.get("UNAVAILABLE").copied().unwrap_or(0) > 0);
    }
}
