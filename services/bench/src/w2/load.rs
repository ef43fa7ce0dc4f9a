//! Closed-loop clients: each on its own HTTP/2 connection, the next call
//! only after the answer to the last, timed from just before the call to
//! just after the answer.

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
    /// Failed calls in the window by class (gRPC code, HTTP status).
    pub errors: BTreeMap<String, u64>,
    /// Failed calls during the warm-up, by class.
    pub warmup_errors: BTreeMap<String, u64>,
}

impl Phase {
    pub fn rate(&self, window: &Window) -> f64 {
        self.latencies_us.len() as f64 / window.seconds()
    }

    /// Nearest-rank percentile (`p` in 0..=1).
    pub fn percentile(&self, p: f64) -> u64 {
        crate::stats::nearest_rank(&self.latencies_us, p)
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}

/// Runs every client in a closed loop until the window ends; returns the
/// clients (with what they counted) and what was measured.
pub(crate) async fn drive<R: Rpc>(
    clients: Vec<R>,
    window: Window,
) -> anyhow::Result<(Vec<R>, Phase)> {
    let tasks: Vec<_> = clients
        .into_iter()
        .map(|mut client| {
            tokio::spawn(async move {
                let mut phase = Phase::default();
                loop {
                    let started = Instant::now();
                    if started >= window.until {
                        break;
                    }
                    let result = client.call().await;
                    let took = started.elapsed();
                    let measured = started >= window.from;
                    match result {
                        Ok(()) if measured => phase.latencies_us.push(took.as_micros() as u64),
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
