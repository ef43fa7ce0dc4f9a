//! Starting servers, minting tokens, sending commands, asking GraphQL.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tonic::metadata::{Ascii, MetadataValue};
use tonic::service::Interceptor;
use tonic::transport::Channel;
use trellis_auth::{Caller, DEV_SECRET, Role, TokenIssuer};
use trellis_kernel::TenantId;
use trellis_proto::plans::v1 as pb;
use trellis_proto::plans::v1::plan_service_client::PlanServiceClient;
use uuid::Uuid;

pub const CLINICIAN: &str = "clin-1";
pub const CLINIC: &str = "clinic-a";

/// A running `trellis serve` on ephemeral ports.
pub struct Server {
    child: Child,
    pub grpc: String,
    pub http: String,
    pub data_dir: PathBuf,
    _dir: Option<tempfile::TempDir>,
}

impl Server {
    /// The server process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// Starts a server on a fresh data directory.
    pub async fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut server = Self::start_in(dir.path()).await;
        server._dir = Some(dir);
        server
    }

    /// Starts a server on an existing data directory.
    pub async fn start_in(data_dir: &Path) -> Self {
        Self::start_with(data_dir, &[], Stdio::inherit()).await
    }

    /// Starts a server with extra environment and its log going to `stderr`.
    pub async fn start_with(data_dir: &Path, env: &[(&str, &str)], stderr: Stdio) -> Self {
        let mut command = Command::from(serve_command(data_dir));
        command
            // The suite's tokens are minted with the development secret.
            .env("TRELLIS_DEV", "1")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        let (child, ready) = spawn_until_ready(command).await;
        let field = |name: &str| ready_field(&ready, name);
        Self {
            grpc: format!("http://{}", field("grpc")),
            http: format!("http://{}", field("http")),
            child,
            data_dir: data_dir.to_path_buf(),
            _dir: None,
        }
    }

    /// SIGTERM, then wait for a clean exit.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        let pid = self.child.id().expect("running").to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .expect("kill -TERM");
        assert!(status.success());
        let exit = tokio::time::timeout(Duration::from_secs(20), self.child.wait())
            .await
            .expect("graceful shutdown within 20 s")
            .expect("wait");
        assert!(exit.success(), "trellis exited with {exit:?}");
        self._dir.take()
    }

    /// SIGKILL: no chance to flush or finish anything.
    pub async fn kill9(mut self) -> Option<tempfile::TempDir> {
        self.child.kill().await.expect("kill -9");
        self._dir.take()
    }

    pub async fn plans(&self, token: &str) -> PlanClient {
        let channel = Channel::from_shared(self.grpc.clone())
            .expect("uri")
            .connect()
            .await
            .expect("connect gRPC");
        PlanServiceClient::with_interceptor(channel, Bearer::new(token))
    }

    /// POSTs a GraphQL query; returns (HTTP status, body).
    pub async fn graphql_raw(
        &self,
        token: Option<&str>,
        query: &str,
        variables: Value,
    ) -> (u16, Value) {
        let mut request = reqwest::Client::new()
            .post(format!("{}/graphql", self.http))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.expect("GraphQL request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("response body");
        // Errors raised before GraphQL (e.g. 413) may not be JSON.
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// A GraphQL query that must succeed without errors; returns `data`.
    pub async fn graphql(&self, token: &str, query: &str, variables: Value) -> Value {
        let (status, body) = self.graphql_raw(Some(token), query, variables).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.get("errors").is_none(), "GraphQL errors: {body}");
        body["data"].clone()
    }

    /// Polls `plan(id)` until its version reaches `version` (the read
    /// side is eventually consistent with the commands). Generous: the
    /// whole suite's servers share two cores.
    pub async fn plan_at_version(&self, token: &str, plan_id: &str, version: u64) -> Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let data = self
                .graphql(token, PLAN_QUERY, json!({ "id": plan_id }))
                .await;
            let plan = &data["plan"];
            if plan["version"].as_u64().is_some_and(|v| v >= version) {
                return plan.clone();
            }
            assert!(
                Instant::now() < deadline,
                "plan never reached version {version}: {plan}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Polls the client's plans listing until it holds `plan_id`:
    /// listings follow a command once the projector has saved it, after
    /// `plan(id)` already shows it (README).
    pub async fn listed_for_client(&self, token: &str, client: &str, plan_id: &str) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let data = self
                .graphql(
                    token,
                    "query($client: String) { plans(first: 100, clientId: $client) { nodes { id } } }",
                    json!({ "client": client }),
                )
                .await;
            let nodes = data["plans"]["nodes"]
                .as_array()
                .cloned()
                .unwrap_or_default();
            if nodes.iter().any(|n| n["id"] == plan_id) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "plan {plan_id} never listed for its client"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub const PLAN_QUERY: &str = "query($id: ID!) { plan(id: $id) {
    id clientId primaryClinicianId clinicId title version
    goals { id description term outcome objectives {
        id description baseline target unit period targetDate met metOn latestValue
        progress { value observedOn source note recordedBy } } }
    reviews { id dueOn held heldOn participants summary decision } } }";

#[derive(Clone)]
pub struct Bearer(Option<MetadataValue<Ascii>>);

impl Bearer {
    pub fn new(token: &str) -> Self {
        Self(Some(
            format!("Bearer {token}").parse().expect("ascii token"),
        ))
    }

    pub fn none() -> Self {
        Self(None)
    }
}

impl Interceptor for Bearer {
    fn call(
        &mut self,
        mut request: tonic::Request<()>,
    ) -> Result<tonic::Request<()>, tonic::Status> {
        if let Some(value) = &self.0 {
            request
                .metadata_mut()
                .insert("authorization", value.clone());
        }
        Ok(request)
    }
}

pub type PlanClient =
    PlanServiceClient<tonic::service::interceptor::InterceptedService<Channel, Bearer>>;

/// Spawns a trellis process and waits for its `trellis ready …` line.
pub async fn spawn_until_ready(mut command: Command) -> (Child, String) {
    let mut child = command.spawn().expect("start trellis");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.expect("read stdout") {
            if line.starts_with("trellis ready") {
                return line;
            }
        }
        panic!("trellis exited before it was ready");
    })
    .await
    .expect("trellis ready within 30 s");
    (child, ready)
}

/// `NAME=value` from a ready line.
pub fn ready_field(ready: &str, name: &str) -> String {
    ready
        .split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .expect("address in ready line")
        .to_owned()
}

/// One process of the distributed topology (`plans-service`, `projector`,
/// `gateway`), with its environment; killed when dropped.
pub struct Service {
    child: Child,
    pub ready: String,
}

impl Service {
    pub async fn start(subcommand: &str, env: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env!("CARGO_BIN_EXE_trellis"));
        command
            .arg(subcommand)
            .env("RUST_LOG", "error")
            .env("TRELLIS_DEV", "1")
            .env("TRELLIS_GRPC_ADDR", "127.0.0.1:0")
            .env("TRELLIS_HTTP_ADDR", "127.0.0.1:0")
            .env_remove("TRELLIS_JWT_SECRET")
            .env_remove("TRELLIS_OTEL")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        for (key, value) in env {
            command.env(key, value);
        }
        // The processes of one deployment share one keyring: one per store.
        let store = env.iter().find(|(k, _)| *k == "TRELLIS_STORE_URL");
        if let (Some((_, url)), false) = (store, env.iter().any(|(k, _)| *k == "TRELLIS_KEYRING")) {
            command.env("TRELLIS_KEYRING", shared_keyring(url));
        }
        let (child, ready) = spawn_until_ready(command).await;
        Self { child, ready }
    }

    /// SIGKILL, and wait until the process is gone.
    pub async fn kill9(mut self) {
        self.child.kill().await.expect("kill -9");
    }

    pub fn url(&self, name: &str) -> String {
        format!("http://{}", ready_field(&self.ready, name))
    }
}

/// `trellis serve` on `data_dir` and ephemeral ports, logging errors only,
/// with no token secret, keyring or telemetry from the caller's
/// environment.
pub fn serve_command(data_dir: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_trellis"));
    command
        .args([
            "serve",
            "--grpc-addr",
            "127.0.0.1:0",
            "--http-addr",
            "127.0.0.1:0",
        ])
        .arg("--data-dir")
        .arg(data_dir)
        .env("RUST_LOG", "error")
        .env_remove("TRELLIS_JWT_SECRET")
        .env_remove("TRELLIS_KEYRING")
        .env_remove("TRELLIS_OTEL");
    command
}

/// The keyring every process on the store at `store_url` is given.
pub fn shared_keyring(store_url: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("keyrings");
    std::fs::create_dir_all(&dir).expect("keyring directory");
    let name: String = store_url
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    dir.join(format!("{name}.json"))
}

/// The trellis binary as a command, for CLI tests.
pub fn trellis_cli(args: &[&str]) -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_trellis"));
    command
        .args(args)
        .env("TRELLIS_DEV", "1")
        .env_remove("TRELLIS_JWT_SECRET");
    command
}

/// What `trellis demo` printed.
pub struct Demo {
    pub stdout: String,
}

impl Demo {
    /// The id of the seed plan `key` (`emma-lee`, `doug-mcgee`).
    pub fn plan(&self, key: &str) -> String {
        self.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{key}: plan ")))
            .unwrap_or_else(|| panic!("the demo printed no plan {key}"))
            .to_owned()
    }

    /// The lines naming the plans.
    pub fn plan_lines(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| l.contains(": plan "))
            .collect()
    }
}

/// Runs `trellis demo` against `server` in `tenant`; fails the test with
/// the demo's error output if it fails.
pub fn run_demo(server: &Server, tenant: &str) -> Demo {
    let grpc_addr = server.grpc.trim_start_matches("http://");
    let demo = trellis_cli(&["demo", "--grpc-addr", grpc_addr, "--tenant", tenant])
        .output()
        .unwrap();
    assert!(
        demo.status.success(),
        "{}",
        String::from_utf8_lossy(&demo.stderr)
    );
    Demo {
        stdout: String::from_utf8(demo.stdout).unwrap(),
    }
}

/// A tenant no other test uses.
pub fn fresh_tenant() -> String {
    format!("t-{}", &Uuid::new_v4().simple().to_string()[..12])
}

pub fn token(tenant: &str, subject: &str, roles: &[Role]) -> String {
    token_in(tenant, subject, roles, &[CLINIC])
}

/// A token whose holder works at `clinics`.
pub fn token_in(tenant: &str, subject: &str, roles: &[Role], clinics: &[&str]) -> String {
    TokenIssuer::hs256(DEV_SECRET.as_bytes())
        .expect("key")
        .issue(
            &Caller {
                tenant: TenantId::parse(tenant).expect("tenant"),
                subject: subject.into(),
                roles: roles.to_vec(),
                clinics: clinics.iter().map(|c| (*c).to_owned()).collect(),
            },
            chrono::Duration::hours(1),
        )
        .expect("token")
}

pub fn clinician_token(tenant: &str) -> String {
    token(tenant, CLINICIAN, &[Role::Clinician])
}

pub fn command_id() -> String {
    Uuid::new_v4().to_string()
}

pub fn today() -> chrono::NaiveDate {
    chrono::Utc::now().date_naive()
}

pub async fn create_plan(client: &mut PlanClient) -> pb::CommandResponse {
    client
        .create_plan(pb::CreatePlanRequest {
            command_id: command_id(),
            plan_id: String::new(),
            client_id: "client-1".into(),
            primary_clinician_id: CLINICIAN.into(),
            clinic_id: CLINIC.into(),
            title: "Test plan".into(),
            payer: String::new(),
        })
        .await
        .expect("CreatePlan")
        .into_inner()
}

pub fn add_goal_request(plan_id: &str, description: &str) -> pb::AddGoalRequest {
    pb::AddGoalRequest {
        command_id: command_id(),
        plan_id: plan_id.into(),
        goal_id: String::new(),
        description: description.into(),
        term: pb::GoalTerm::ShortTerm as i32,
    }
}

pub fn add_objective_request(plan_id: &str, goal_id: &str) -> pb::AddObjectiveRequest {
    pb::AddObjectiveRequest {
        command_id: command_id(),
        plan_id: plan_id.into(),
        objective_id: String::new(),
        goal_id: goal_id.into(),
        description: "Panic attacks per week".into(),
        quantity: Some(pb::Quantity {
            baseline: Some(4.0),
            target: Some(1.0),
            unit: "panic attacks".into(),
            period: "week".into(),
        }),
        target_date: (today() + chrono::Duration::days(150)).to_string(),
        measure: None,
    }
}

/// Schedules a review due today and holds it; returns both answers.
pub async fn hold_review_today(
    plans: &mut PlanClient,
    plan_id: &str,
    summary: &str,
) -> (pb::CommandResponse, pb::CommandResponse) {
    let scheduled = plans
        .schedule_review(pb::ScheduleReviewRequest {
            command_id: command_id(),
            plan_id: plan_id.into(),
            review_id: String::new(),
            due_on: today().to_string(),
        })
        .await
        .expect("ScheduleReview")
        .into_inner();
    let held = plans
        .hold_review(pb::HoldReviewRequest {
            command_id: command_id(),
            plan_id: plan_id.into(),
            review_id: scheduled.entity_id.clone(),
            held_on: today().to_string(),
            participants: vec![CLINICIAN.into(), "client-1".into()],
            summary: summary.into(),
            decision: pb::ReviewDecision::Continue as i32,
        })
        .await
        .expect("HoldReview")
        .into_inner();
    (scheduled, held)
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a graphql-transport-ws subscription to `planChanged(id)` on the
/// gateway at `http` (e.g. `http://127.0.0.1:8080`).
pub async fn subscribe_plan_changes(http: &str, token: &str, plan_id: &str) -> Socket {
    subscribe_to(
        http,
        token,
        "subscription($id: ID!) { planChanged(id: $id) { planId version plan { version goals { id } } } }",
        json!({ "id": plan_id }),
    )
    .await
}

/// Opens a graphql-transport-ws subscription on the gateway at `http`.
pub async fn subscribe_to(http: &str, token: &str, query: &str, variables: Value) -> Socket {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let url = format!("{}/graphql/ws", http.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("WebSocket");
    let init = json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } });
    socket.send(Message::text(init.to_string())).await.unwrap();
    let ack = socket.next().await.unwrap().unwrap();
    assert!(ack.to_text().unwrap().contains("connection_ack"), "{ack:?}");
    let subscribe = json!({
        "id": "1", "type": "subscribe",
        "payload": { "query": query, "variables": variables }
    });
    socket
        .send(Message::text(subscribe.to_string()))
        .await
        .unwrap();
    socket
}

/// The next `planChanged` payload on a subscription (10 s at most).
pub async fn next_plan_change(socket: &mut Socket) -> Value {
    next_payload(socket).await["planChanged"].clone()
}

/// The next subscription payload's `data` (10 s at most).
pub async fn next_payload(socket: &mut Socket) -> Value {
    use futures::StreamExt;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), socket.next())
            .await
            .expect("a change within 10 s")
            .expect("socket open")
            .expect("socket healthy");
        let Ok(text) = message.to_text() else {
            continue;
        };
        let value: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        match value["type"].as_str() {
            Some("next") => return value["payload"]["data"].clone(),
            Some("error") => panic!("subscription refused: {value}"),
            _ => {}
        }
    }
}

/// A local port nothing listens on now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A Redis of a test's own (append-only file, fsync always), so it can be
/// killed, stopped and restarted without disturbing anything else.
pub struct PrivateRedis {
    pub child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl PrivateRedis {
    pub async fn start() -> Self {
        let port = free_port();
        let dir = tempfile::tempdir().unwrap();
        let child = Self::spawn(port, dir.path()).await;
        Self { child, port, dir }
    }

    async fn spawn(port: u16, dir: &std::path::Path) -> Child {
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args([
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ])
            .arg("--dir")
            .arg(dir)
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("redis-server on PATH");
        let deadline = Instant::now() + Duration::from_secs(10);
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            assert!(Instant::now() < deadline, "redis-server did not start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        child
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub async fn kill_and_restart(&mut self) {
        self.child.kill().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.child = Self::spawn(self.port, self.dir.path()).await;
    }

    /// Kills it; [`PrivateRedis::start_again`] brings it back with its data.
    pub async fn kill(&mut self) {
        self.child.kill().await.unwrap();
    }

    pub async fn start_again(&mut self) {
        self.child = Self::spawn(self.port, self.dir.path()).await;
    }

    /// Kills it and starts a blank one on the same port: a Redis without
    /// persistence restarted, or a failover to an empty replica.
    pub async fn restart_empty(&mut self) {
        self.child.kill().await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                std::fs::remove_dir_all(path).unwrap();
            } else {
                std::fs::remove_file(path).unwrap();
            }
        }
        self.child = Self::spawn(self.port, self.dir.path()).await;
    }
}
