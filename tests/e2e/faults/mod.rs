//! The fault suite: the distributed topology on a PostgreSQL cluster and a
//! Redis of its own, faults injected while clients write and read, and
//! every acknowledged command checked afterwards in the history and the
//! read models. Clients behave as the README asks of them: a command that
//! failed is sent again with the same command id until it is answered.

mod postgres;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::sync::Mutex;
use tonic::Code;
use trellis_auth::Role;
use trellis_proto::plans::v1 as pb;
use trellis_proto::plans::v1::plan_service_client::PlanServiceClient;

use crate::harness::{
    Bearer, PrivateRedis, Service, add_goal_request, clinician_token, command_id, fresh_tenant,
    ready_field, token,
};
use postgres::PrivatePostgres;

type PlanClient = PlanServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>,
>;

/// A process of the topology that can be killed and started again on the
/// same addresses, so clients and the gateway find it where it was.
struct Restartable {
    subcommand: &'static str,
    env: Vec<(String, String)>,
    service: Option<Service>,
}

fn pairs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

impl Restartable {
    async fn start(subcommand: &'static str, env: &[(String, String)]) -> Self {
        let service = Service::start(subcommand, &pairs(env)).await;
        let mut env = env.to_vec();
        for (field, variable) in [("grpc", "TRELLIS_GRPC_ADDR"), ("http", "TRELLIS_HTTP_ADDR")] {
            if service.ready.contains(&format!("{field}=")) {
                env.push((variable.into(), ready_field(&service.ready, field)));
            }
        }
        Self {
            subcommand,
            env,
            service: Some(service),
        }
    }

    fn url(&self, name: &str) -> String {
        self.service.as_ref().expect("running").url(name)
    }

    /// kill -9, then the same process again.
    async fn kill9_and_restart(&mut self) {
        if let Some(service) = self.service.take() {
            service.kill9().await;
        }
        self.service = Some(Service::start(self.subcommand, &pairs(&self.env)).await);
    }
}

/// Plans service, projectors and a gateway on their own PostgreSQL and
/// Redis.
struct Faulty {
    postgres: PrivatePostgres,
    redis: PrivateRedis,
    plans: Restartable,
    projectors: Vec<Restartable>,
    gateway: Restartable,
}

impl Faulty {
    async fn start(projectors: usize) -> Self {
        let postgres = PrivatePostgres::start().await;
        let store_url = trellis_store_postgres::ensure_database(&postgres.admin_url(), "trellis")
            .await
            .expect("the private cluster answers");
        let redis = PrivateRedis::start().await;
        let env: Vec<(String, String)> = [
            ("TRELLIS_STORE_URL", store_url.as_str()),
            ("TRELLIS_REDIS_URL", redis.url().as_str()),
            ("TRELLIS_LOG_FORMAT", "text"),
            // A dead projector's lease passes on in 2 s, not 5.
            ("TRELLIS_PROJECTOR_LEASE_SECS", "2"),
            ("TRELLIS_RATE_LIMIT_PER_MINUTE", "0"),
            ("TRELLIS_RATE_LIMIT_PER_SUBJECT", "0"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let plans = Restartable::start("plans-service", &env).await;
        let mut started = Vec::new();
        for _ in 0..projectors {
            started.push(Restartable::start("projector", &env).await);
        }
        let mut gateway_env = env.clone();
        gateway_env.push(("TRELLIS_PLANS_URL".into(), plans.url("grpc")));
        let gateway = Restartable::start("gateway", &gateway_env).await;
        Self {
            postgres,
            redis,
            plans,
            projectors: started,
            gateway,
        }
    }

    fn client(&self, token: &str) -> PlanClient {
        let channel = tonic::transport::Channel::from_shared(self.plans.url("grpc"))
            .unwrap()
            .connect_lazy();
        PlanServiceClient::with_interceptor(channel, Bearer::new(token))
    }
}

/// Failures a client retries: the service or a store is away.
fn retryable(code: Code) -> bool {
    matches!(
        code,
        Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded
    )
}

/// Sends `call` until it is answered, as a client that must not lose its
/// command does; any refusal but "away, try again" fails the test.
async fn until_answered<T, F, Fut>(mut call: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<tonic::Response<T>, tonic::Status>>,
{
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        match call().await {
            Ok(reply) => return reply.into_inner(),
            Err(status) if retryable(status.code()) && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => panic!("a command was refused: {status:?}"),
        }
    }
}

async fn create_plan_retrying(client: &PlanClient) -> String {
    let request = pb::CreatePlanRequest {
        command_id: command_id(),
        plan_id: String::new(),
        client_id: "client-1".into(),
        primary_clinician_id: crate::harness::CLINICIAN.into(),
        clinic_id: crate::harness::CLINIC.into(),
        title: "Plan under faults".into(),
        payer: String::new(),
    };
    until_answered(|| {
        let (mut client, request) = (client.clone(), request.clone());
        async move { client.create_plan(request).await }
    })
    .await
    .plan_id
}

type Acknowledged = Arc<Mutex<Vec<(String, String)>>>;

/// How a client adds a goal to a plan, retrying until answered; the goal
/// id acknowledged.
enum Via {
    Grpc,
    Graphql { gateway: String, token: String },
}

impl Via {
    async fn add_goal(&self, client: &PlanClient, plan_id: &str, n: usize) -> String {
        match self {
            Self::Grpc => {
                let request = add_goal_request(plan_id, &format!("Goal {n}"));
                until_answered(|| {
                    let (mut client, request) = (client.clone(), request.clone());
                    async move { client.add_goal(request).await }
                })
                .await
                .entity_id
            }
            Self::Graphql { gateway, token } => {
                let input = json!({ "input": { "commandId": command_id(), "planId": plan_id,
                                               "description": format!("Goal {n}"), "term": "SHORT_TERM" } });
                let data = graphql_retrying(
                    gateway,
                    token,
                    "mutation($input: AddGoalInput!) { addGoal(input: $input) { entityId } }",
                    input,
                )
                .await;
                data["addGoal"]["entityId"].as_str().unwrap().to_owned()
            }
        }
    }
}

/// Adds goals `via` gRPC or GraphQL, a new plan every 25, until `stop`.
async fn writer(via: Via, client: PlanClient, stop: Arc<AtomicBool>, acknowledged: Acknowledged) {
    let mut plan_id = String::new();
    for n in 0usize.. {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        if n % 25 == 0 {
            plan_id = create_plan_retrying(&client).await;
        }
        let goal = via.add_goal(&client, &plan_id, n).await;
        acknowledged.lock().await.push((plan_id.clone(), goal));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// One GraphQL request; `None` when the gateway is away or answers a
/// retryable error.
async fn graphql_once(gateway: &str, token: &str, query: &str, variables: &Value) -> Option<Value> {
    let response = reqwest::Client::new()
        .post(format!("{gateway}/graphql"))
        .bearer_auth(token)
        .timeout(Duration::from_secs(10))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .ok()?;
    let body: Value = response.json().await.ok()?;
    match body["errors"][0]["extensions"]["code"].as_str() {
        None => Some(body["data"].clone()),
        Some("UNAVAILABLE") => {
            // A rule for the client, never the transport's own words.
            let message = body["errors"][0]["message"].as_str().unwrap_or_default();
            for internal in ["os error", "tcp", "127.0.0.1", "transport"] {
                assert!(!message.contains(internal), "{message}");
            }
            None
        }
        Some(_) => panic!("a GraphQL request was refused: {body}"),
    }
}

async fn graphql_retrying(gateway: &str, token: &str, query: &str, variables: Value) -> Value {
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        if let Some(data) = graphql_once(gateway, token, query, &variables).await {
            return data;
        }
        assert!(Instant::now() < deadline, "the gateway never answered");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Reads the plans being written, through the gateway, until `stop`. A
/// plan once read is never read as missing again, nor at a lower version:
/// every answer is the plan, at least as new as before, or UNAVAILABLE
/// (or no answer, while the gateway is down). Returns how many reads
/// showed a plan.
async fn reader(
    gateway: String,
    token: String,
    stop: Arc<AtomicBool>,
    acknowledged: Acknowledged,
) -> usize {
    let mut seen: std::collections::HashMap<String, u64> = std::collections::HashMap::new();
    let mut shown = 0;
    while !stop.load(Ordering::Relaxed) {
        let latest = acknowledged.lock().await.last().map(|(p, _)| p.clone());
        let mut plans: Vec<String> = seen.keys().take(3).cloned().collect();
        plans.extend(latest);
        for plan_id in plans {
            let Some(data) = graphql_once(
                &gateway,
                &token,
                "query($id: ID!) { plan(id: $id) { version } }",
                &json!({ "id": plan_id }),
            )
            .await
            else {
                continue;
            };
            match (data["plan"]["version"].as_u64(), seen.get(&plan_id)) {
                (Some(version), before) => {
                    assert!(
                        before.is_none_or(|b| *b <= version),
                        "plan {plan_id} went back from version {before:?} to {version}"
                    );
                    seen.insert(plan_id, version);
                    shown += 1;
                }
                (None, Some(before)) => {
                    panic!("plan {plan_id}, read at version {before}, read as missing")
                }
                // Not projected yet: a plan is eventually visible.
                (None, None) => {}
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    shown
}

/// A pause of 100–400 ms: faults land at varied moments of the writes.
async fn a_moment() {
    tokio::time::sleep(Duration::from_millis(rand::random_range(100..400))).await;
}

/// Every acknowledged goal is in its plan's history once and in the read
/// model once, in the order acknowledged; the record verifies.
async fn check_every_acknowledged_command(
    gateway: &str,
    tenant: &str,
    clinician: &str,
    acknowledged: &[(String, String)],
) {
    let auditor = token(tenant, "auditor-1", &[Role::Auditor]);
    let mut plan_ids: Vec<&str> = acknowledged.iter().map(|(p, _)| p.as_str()).collect();
    plan_ids.sort_unstable();
    plan_ids.dedup();
    for plan_id in plan_ids {
        let ours: Vec<&str> = acknowledged
            .iter()
            .filter(|(p, _)| p == plan_id)
            .map(|(_, goal)| goal.as_str())
            .collect();
        // The read model: every goal once, nothing else (version = goals,
        // the plan's creation being revision 0).
        let deadline = Instant::now() + Duration::from_secs(60);
        let plan = loop {
            let data = graphql_retrying(
                gateway,
                clinician,
                "query($id: ID!) { plan(id: $id) { version goals { id } } }",
                json!({ "id": plan_id }),
            )
            .await;
            if data["plan"]["version"].as_u64() >= Some(ours.len() as u64) {
                break data["plan"].clone();
            }
            assert!(
                Instant::now() < deadline,
                "plan {plan_id} never caught up: {data}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let shown: Vec<&str> = plan["goals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap())
            .collect();
        assert_eq!(shown, ours, "plan {plan_id}: goals in the read model");
        assert_eq!(plan["version"], ours.len() as u64, "nothing applied twice");

        // The history: one GoalAdded per acknowledged command.
        let history = graphql_retrying(
            gateway,
            &auditor,
            "query($id: ID!) { planHistory(id: $id, first: 1000) { events { eventType } } }",
            json!({ "id": plan_id }),
        )
        .await;
        let added = history["planHistory"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["eventType"] == "GoalAdded")
            .count();
        assert_eq!(
            added,
            ours.len(),
            "plan {plan_id}: GoalAdded in the history"
        );
    }
    let verified = graphql_retrying(
        gateway,
        &auditor,
        "{ auditVerification { ok firstBreak } }",
        json!({}),
    )
    .await;
    assert_eq!(verified["auditVerification"]["ok"], true, "{verified}");
}

/// kill -9 of each process ten times, PostgreSQL restarted mid-write twice
/// (`pg_ctl restart -m fast`), Redis restarted empty, with two projectors
/// taking turns, while four clients write and one reads: nothing
/// acknowledged is lost, nothing is applied twice, no plan read once is
/// read as missing or older later.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_acknowledged_is_lost_and_nothing_applied_twice_under_faults() {
    let mut topology = Faulty::start(2).await;
    let tenant = fresh_tenant();
    let clinician = clinician_token(&tenant);
    let gateway = topology.gateway.url("http");
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged: Acknowledged = Arc::default();
    let mut writers = Vec::new();
    let graphql = Via::Graphql {
        gateway: gateway.clone(),
        token: clinician.clone(),
    };
    for via in [Via::Grpc, Via::Grpc, Via::Grpc, graphql] {
        writers.push(tokio::spawn(writer(
            via,
            topology.client(&clinician),
            Arc::clone(&stop),
            Arc::clone(&acknowledged),
        )));
    }
    let reads = tokio::spawn(reader(
        gateway.clone(),
        clinician.clone(),
        Arc::clone(&stop),
        Arc::clone(&acknowledged),
    ));

    let mut faults = 0;
    for round in 0..10 {
        a_moment().await;
        topology.plans.kill9_and_restart().await;
        a_moment().await;
        topology.gateway.kill9_and_restart().await;
        a_moment().await;
        // Alternate which projector dies: the standby takes over.
        topology.projectors[round % 2].kill9_and_restart().await;
        faults += 3;
        if round == 3 || round == 7 {
            a_moment().await;
            topology.postgres.restart_fast().await;
            faults += 1;
        }
        if round == 5 {
            a_moment().await;
            topology.redis.restart_empty().await;
            faults += 1;
        }
    }
    a_moment().await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("a writer failed");
    }
    let shown = reads.await.expect("a read broke a rule");
    assert!(shown >= 50, "only {shown} reads showed a plan");
    let acknowledged = acknowledged.lock().await.clone();
    assert_eq!(faults, 33);
    assert!(
        acknowledged.len() >= 100,
        "only {} commands were acknowledged",
        acknowledged.len()
    );
    check_every_acknowledged_command(&gateway, &tenant, &clinician, &acknowledged).await;
    // The figures docs/benchmarks.md quotes.
    eprintln!(
        "fault suite: {} commands acknowledged and checked, {shown} reads showed a plan, {faults} faults",
        acknowledged.len()
    );
}

/// How long a gRPC `AddGoal` takes to be answered, and the answer.
async fn timed_add_goal(
    client: &PlanClient,
    plan_id: &str,
) -> (Duration, Result<(), tonic::Status>) {
    let started = Instant::now();
    let result = client
        .clone()
        .add_goal(add_goal_request(plan_id, "Goal while away"))
        .await
        .map(|_| ());
    (started.elapsed(), result)
}

/// PostgreSQL stopped: commands and reads fail within the store's bound
/// (1 s by default) with UNAVAILABLE and a message without the database's
/// address; readiness says 503; everything works again when it returns,
/// with no process restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_away_fails_fast_and_every_process_recovers_alone() {
    let mut topology = Faulty::start(1).await;
    let tenant = fresh_tenant();
    let clinician = clinician_token(&tenant);
    let gateway = topology.gateway.url("http");
    let client = topology.client(&clinician);
    let plan_id = create_plan_retrying(&client).await;
    let (_, before) = timed_add_goal(&client, &plan_id).await;
    before.expect("a command while PostgreSQL is up");

    topology.postgres.stop_now().await;
    let (took, away) = timed_add_goal(&client, &plan_id).await;
    let status = away.expect_err("no command while PostgreSQL is away");
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(took < Duration::from_secs(3), "answered after {took:?}");
    // The figure docs/benchmarks.md quotes.
    eprintln!("PostgreSQL away: a command answered UNAVAILABLE after {took:?}");
    assert!(
        !status.message().contains("127.0.0.1") && !status.message().contains("postgres://"),
        "{status:?}"
    );
    // A read writes its access record first: UNAVAILABLE too, as fast.
    let started = Instant::now();
    let read = reqwest::Client::new()
        .post(format!("{gateway}/graphql"))
        .bearer_auth(&clinician)
        .json(
            &json!({ "query": "query($id: ID!) { plan(id: $id) { version } }",
                       "variables": { "id": plan_id } }),
        )
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    let took = started.elapsed();
    assert_eq!(
        read["errors"][0]["extensions"]["code"], "UNAVAILABLE",
        "{read}"
    );
    assert!(
        took < Duration::from_secs(3),
        "read answered after {took:?}"
    );
    for (name, process) in [
        ("plans service", &topology.plans),
        ("gateway", &topology.gateway),
        ("projector", &topology.projectors[0]),
    ] {
        let started = Instant::now();
        let ready = reqwest::get(format!("{}/readyz", process.url("http")))
            .await
            .unwrap();
        assert_eq!(ready.status(), 503, "{name} readiness");
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{name} readiness"
        );
    }

    topology.postgres.start_again().await;
    let request = add_goal_request(&plan_id, "Goal after the outage");
    let reply = until_answered(|| {
        let (mut client, request) = (client.clone(), request.clone());
        async move { client.add_goal(request).await }
    })
    .await;
    let data = graphql_retrying(
        &gateway,
        &clinician,
        "query($id: ID!) { plan(id: $id) { version } }",
        json!({ "id": plan_id }),
    )
    .await;
    assert!(data["plan"]["version"].as_u64().is_some());
    assert_eq!(
        reply.revision, 2,
        "the command refused while away wrote nothing"
    );
}
