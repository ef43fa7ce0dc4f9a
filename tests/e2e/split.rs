//! The distributed topology as separate processes on this machine: the
//! plans service on PostgreSQL, the projector into Redis, two gateways
//! reading Redis. Redis is killed and restarted mid-stream; the projector
//! resumes with nothing applied twice and nothing missed.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use trellis_proto::plans::v1::plan_service_client::PlanServiceClient;

use crate::harness::*;

async fn graphql(gateway: &str, token: &str, query: &str, variables: Value) -> Value {
    let body: Value = reqwest::Client::new()
        .post(format!("{gateway}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    body["data"].clone()
}

async fn plan_at(gateway: &str, token: &str, plan_id: &str, version: u64) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let data = graphql(gateway, token, PLAN_QUERY, json!({ "id": plan_id })).await;
        if data["plan"]["version"]
            .as_u64()
            .is_some_and(|v| v >= version)
        {
            return data["plan"].clone();
        }
        assert!(
            Instant::now() < deadline,
            "plan never reached version {version}: {data}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The distributed topology on a database and a Redis of its own: the
/// plans service, the projector and `gateways` gateways.
struct Topology {
    admin: &'static str,
    database: String,
    redis: PrivateRedis,
    plans_url: String,
    gateways: Vec<Service>,
    projectors: Vec<Service>,
    /// The store and Redis settings every process of it shares.
    env: Vec<(String, String)>,
    _plans: Service,
}

impl Topology {
    async fn start(gateways: usize) -> Self {
        let database = format!("trellis_split_{}", uuid::Uuid::new_v4().simple());
        let admin = "postgres://postgres@127.0.0.1:5432/postgres";
        let store_url = trellis_store_postgres::ensure_database(admin, &database)
            .await
            .expect("PostgreSQL reachable (./scripts/services-up starts it)");
        let redis = PrivateRedis::start().await;
        let redis_url = redis.url();
        let base = [
            ("TRELLIS_STORE_URL", store_url.as_str()),
            ("TRELLIS_REDIS_URL", redis_url.as_str()),
            ("TRELLIS_LOG_FORMAT", "text"),
        ];
        let plans = Service::start("plans-service", &base).await;
        let projector = Service::start("projector", &base).await;
        let plans_url = plans.url("grpc");
        let mut gateway_env = base.to_vec();
        gateway_env.push(("TRELLIS_PLANS_URL", plans_url.as_str()));
        let mut started = Vec::new();
        for _ in 0..gateways {
            started.push(Service::start("gateway", &gateway_env).await);
        }
        let env = base
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Self {
            admin,
            database,
            redis,
            plans_url,
            gateways: started,
            projectors: vec![projector],
            env,
            _plans: plans,
        }
    }

    /// Another projector on the same store and Redis.
    async fn start_projector(&mut self) {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        self.projectors
            .push(Service::start("projector", &env).await);
    }

    async fn client(
        &self,
        token: &str,
    ) -> PlanServiceClient<
        tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>,
    > {
        let channel = tonic::transport::Channel::from_shared(self.plans_url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        PlanServiceClient::with_interceptor(channel, Bearer::new(token))
    }

    async fn stop(self) {
        let Self {
            admin,
            database,
            gateways,
            projectors,
            _plans,
            ..
        } = self;
        drop((gateways, projectors, _plans));
        trellis_store_postgres::drop_database(admin, &database)
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_split_topology_survives_a_redis_restart_mid_stream() {
    let mut topology = Topology::start(2).await;
    let (one, two) = (
        topology.gateways[0].url("http"),
        topology.gateways[1].url("http"),
    );
    let tenant = fresh_tenant();
    let token = clinician_token(&tenant);
    let mut client = topology.client(&token).await;
    let plan_id = create_plan(&mut client).await.plan_id;

    // Goals stream in; Redis dies and comes back halfway.
    let mut goals = Vec::new();
    for n in 0..40 {
        if n == 20 {
            topology.redis.kill_and_restart().await;
        }
        let reply = client
            .add_goal(add_goal_request(&plan_id, &format!("Goal {n}")))
            .await
            .expect("commands do not depend on Redis")
            .into_inner();
        goals.push(reply.entity_id);
    }

    // Every goal exactly once, in order, through both gateways.
    for gateway in [&one, &two] {
        let plan = plan_at(gateway, &token, &plan_id, 40).await;
        let ids: Vec<&str> = plan["goals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, goals.iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(plan["version"], 40);
    }

    // A mutation through one gateway is read through the other.
    let added = graphql(
        &two,
        &token,
        "mutation($input: AddGoalInput!) { addGoal(input: $input) { revision } }",
        json!({ "input": { "commandId": command_id(), "planId": plan_id,
                           "description": "Join a community group", "term": "LONG_TERM" }}),
    )
    .await;
    assert_eq!(added["addGoal"]["revision"], 41);
    let plan = plan_at(&one, &token, &plan_id, 41).await;
    assert_eq!(plan["goals"].as_array().unwrap().len(), 41);

    // Live updates: a subscriber on each gateway hears the next change,
    // fanned out through Redis pub/sub; another tenant may not subscribe.
    let mut on_one = subscribe_plan_changes(&one, &token, &plan_id).await;
    let mut on_two = subscribe_plan_changes(&two, &token, &plan_id).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    client
        .add_goal(add_goal_request(&plan_id, "Visit the kids"))
        .await
        .unwrap();
    for socket in [&mut on_one, &mut on_two] {
        let change = next_plan_change(socket).await;
        assert_eq!(change["planId"], plan_id);
        assert_eq!(change["version"], 42);
        assert_eq!(change["plan"]["goals"].as_array().unwrap().len(), 42);
    }
    let stranger = clinician_token(&fresh_tenant());
    let mut refused = subscribe_plan_changes(&one, &stranger, &plan_id).await;
    let outcome = tokio::time::timeout(
        Duration::from_secs(5),
        futures::StreamExt::next(&mut refused),
    )
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    assert!(
        outcome.to_text().unwrap().contains("plan not found"),
        "{outcome:?}"
    );

    // Compliance views read the summaries the projector keeps in Redis.
    let views = graphql(
        &one,
        &token,
        "{ caseload { clinicianId draft unsigned } unsignedPlans { id } }",
        json!({}),
    )
    .await;
    assert_eq!(
        views["caseload"],
        json!([{ "clinicianId": CLINICIAN, "draft": 1, "unsigned": 1 }])
    );
    assert_eq!(views["unsignedPlans"][0]["id"], plan_id);

    // The auditor's GraphQL queries reach the audit service over gRPC.
    let auditor = crate::harness::token(&tenant, "aud-1", &[trellis_auth::Role::Auditor]);
    let audited = graphql(
        &two,
        &auditor,
        "query($id: ID!) { planHistory(id: $id, first: 5) { events { eventType actorSubject }
            nextAfterRevision } auditVerification { ok } accessLog(planId: $id) { api } }",
        json!({ "id": plan_id }),
    )
    .await;
    assert_eq!(
        audited["planHistory"]["events"][0]["eventType"],
        "PlanCreated"
    );
    assert_eq!(audited["planHistory"]["nextAfterRevision"], 4);
    assert_eq!(audited["auditVerification"]["ok"], true);
    assert!(
        audited["accessLog"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["api"] == "graphql"),
        "the gateways' plan reads are in the shared access log"
    );

    topology.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_restarted_empty_is_rebuilt_and_no_plan_reads_as_missing() {
    let mut topology = Topology::start(1).await;
    let http = topology.gateways[0].url("http");
    let tenant = fresh_tenant();
    let token = clinician_token(&tenant);
    let mut client = topology.client(&token).await;
    let plan_id = create_plan(&mut client).await.plan_id;
    for n in 0..3 {
        client
            .add_goal(add_goal_request(&plan_id, &format!("Goal {n}")))
            .await
            .unwrap();
    }
    plan_at(&http, &token, &plan_id, 3).await;

    // Redis comes back empty, and no command follows to rewrite the plan.
    topology.redis.restart_empty().await;

    // Every answer is the plan or a retryable UNAVAILABLE — never "no
    // such plan" — until the projector has rebuilt it on its own.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut unavailable = 0;
    loop {
        let (_, body) = timed_read(&http, &token, &plan_id).await;
        if let Some(errors) = body.get("errors") {
            assert_eq!(errors[0]["extensions"]["code"], "UNAVAILABLE", "{body}");
            unavailable += 1;
        } else {
            assert!(
                !body["data"]["plan"].is_null(),
                "the plan read as missing: {body}"
            );
            if body["data"]["plan"]["version"] == 3 {
                break;
            }
        }
        assert!(Instant::now() < deadline, "never rebuilt: {body}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let listed = graphql(
        &http,
        &token,
        "{ plans(first: 5) { nodes { id } } }",
        json!({}),
    )
    .await;
    assert_eq!(listed["plans"]["nodes"][0]["id"], plan_id);
    eprintln!("{unavailable} reads answered UNAVAILABLE during the rebuild");

    topology.stop().await;
}

/// One GraphQL read of `plan_id`: how long it took and the answer.
async fn timed_read(http: &str, token: &str, plan_id: &str) -> (Duration, Value) {
    let started = Instant::now();
    let body: Value = reqwest::Client::new()
        .post(format!("{http}/graphql"))
        .bearer_auth(token)
        .json(&json!({ "query": PLAN_QUERY, "variables": { "id": plan_id } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    (started.elapsed(), body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_fail_fast_while_redis_is_away_and_recover_alone() {
    let mut topology = Topology::start(1).await;
    let http = topology.gateways[0].url("http");
    let token = clinician_token(&fresh_tenant());
    let mut client = topology.client(&token).await;
    let plan_id = create_plan(&mut client).await.plan_id;
    plan_at(&http, &token, &plan_id, 0).await;

    topology.redis.kill().await;
    for _ in 0..3 {
        let (took, body) = timed_read(&http, &token, &plan_id).await;
        assert_eq!(
            body["errors"][0]["extensions"]["code"], "UNAVAILABLE",
            "{body}"
        );
        assert!(
            !body.to_string().contains("127.0.0.1"),
            "no address in the answer: {body}"
        );
        assert!(
            took < Duration::from_millis(1500),
            "held {took:?} while Redis is away"
        );
    }

    // Back, and every process carries on without a restart.
    topology.redis.start_again().await;
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = timed_read(&http, &token, &plan_id).await;
        if body.get("errors").is_none() {
            assert_eq!(body["data"]["plan"]["id"], plan_id);
            break;
        }
        assert!(Instant::now() < deadline, "never recovered: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    client
        .add_goal(add_goal_request(&plan_id, "After the outage"))
        .await
        .unwrap();
    plan_at(&http, &token, &plan_id, 1).await;
    topology.stop().await;
}

/// `/readyz` of a projector: its status and what it says.
async fn readiness(projector: &Service) -> (u16, String) {
    let response = reqwest::get(format!("{}/readyz", projector.url("http")))
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_projectors_take_turns_and_only_one_projects() {
    let mut topology = Topology::start(1).await;
    topology.start_projector().await;
    let http = topology.gateways[0].url("http");
    let token = clinician_token(&fresh_tenant());
    let mut client = topology.client(&token).await;
    let plan_id = create_plan(&mut client).await.plan_id;
    plan_at(&http, &token, &plan_id, 0).await;

    // Exactly one is ready (projecting); the other stands by.
    let deadline = Instant::now() + Duration::from_secs(10);
    let active = loop {
        let first = readiness(&topology.projectors[0]).await;
        let second = readiness(&topology.projectors[1]).await;
        match (first.0, second.0) {
            (200, 503) if second.1.contains("standby") => break 0,
            (503, 200) if first.1.contains("standby") => break 1,
            _ => {}
        }
        assert!(Instant::now() < deadline, "{first:?} {second:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    // The active one dies; the other takes the lease and projects.
    drop(topology.projectors.remove(active));
    client
        .add_goal(add_goal_request(&plan_id, "After the hand-over"))
        .await
        .unwrap();
    plan_at(&http, &token, &plan_id, 1).await;
    let (status, said) = readiness(&topology.projectors[0]).await;
    assert_eq!(status, 200, "{said}");
    topology.stop().await;
}
