//! The hostile-client suite: what an attacker with a valid token, or
//! none, tries against a running server. One test per rule of SECURITY.md;
//! idle-connection floods are in `connections.rs`, readiness under a
//! failing store in `readiness.rs`, refusing to start without a secret in
//! `defaults.rs`.

mod fuzz;
mod markers;
mod wire;

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tonic::transport::Channel;
use trellis_auth::Role;
use trellis_proto::audit::v1 as audit_pb;
use trellis_proto::audit::v1::audit_service_client::AuditServiceClient;
use trellis_proto::plans::v1 as pb;

use crate::harness::{self, Bearer, CLINIC, CLINICIAN, Server};

/// Looks like PHI, is found by grep: never in an answer or a log line.
pub const MARKER: &str = "PHIMARKQZX";

/// A server whose whole log (debug level) is kept for inspection.
pub struct LoggedServer {
    pub server: Server,
    log: tempfile::NamedTempFile,
    _dir: tempfile::TempDir,
}

impl LoggedServer {
    pub async fn start(env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let log = tempfile::NamedTempFile::new().expect("log file");
        let mut env = env.to_vec();
        env.push(("RUST_LOG", "debug"));
        let stderr = Stdio::from(log.reopen().expect("log handle"));
        let server = Server::start_with(dir.path(), &env, stderr).await;
        Self {
            server,
            log,
            _dir: dir,
        }
    }

    pub async fn channel(&self) -> Channel {
        Channel::from_shared(self.server.grpc.clone())
            .expect("uri")
            .connect()
            .await
            .expect("connect gRPC")
    }

    /// No line the server logged holds `marker`.
    pub async fn assert_log_free_of(&self, marker: &str) {
        // Let buffered log lines reach the file.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let log = std::fs::read_to_string(self.log.path()).expect("read log");
        assert!(log.contains("INFO"), "the server's log was not captured");
        let leaked: Vec<&str> = log.lines().filter(|l| l.contains(marker)).take(3).collect();
        assert!(leaked.is_empty(), "client values in the log: {leaked:#?}");
    }
}

/// Every role but the client's: reaches every rule of every rpc.
pub fn staff_token(tenant: &str) -> String {
    harness::token(
        tenant,
        CLINICIAN,
        &[
            Role::Clinician,
            Role::Supervisor,
            Role::Auditor,
            Role::Admin,
        ],
    )
}

const SECRET: &str = "the hostile suite's own secret, not the development one";

/// A token with hand-picked claims, signed with `secret`.
fn forged(secret: &str, tenant: &str, claims: Value) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut body = json!({
        "iss": trellis_auth::ISSUER, "sub": CLINICIAN, "tenant": tenant,
        "roles": ["clinician"], "clinics": [CLINIC], "iat": now, "exp": now + 3600,
    });
    for (key, value) in claims.as_object().expect("claims object") {
        body[key] = value.clone();
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &body,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()).expect("key"),
    )
    .expect("sign")
}

/// Point 1: outside development mode only the configured secret counts,
/// and only for tokens valid now.
#[tokio::test]
async fn only_tokens_signed_with_the_configured_secret_and_valid_now_pass() {
    let server = LoggedServer::start(&[("TRELLIS_DEV", "0"), ("TRELLIS_JWT_SECRET", SECRET)]).await;
    let tenant = harness::fresh_tenant();
    let day = 24 * 3600;
    let now = chrono::Utc::now().timestamp();
    let good = forged(SECRET, &tenant, json!({}));
    let refused = [
        (
            "development secret",
            forged(trellis_auth::DEV_SECRET, &tenant, json!({})),
        ),
        (
            "not valid before next month",
            forged(SECRET, &tenant, json!({ "nbf": now + 30 * day })),
        ),
        (
            "issued tomorrow",
            forged(SECRET, &tenant, json!({ "iat": now + day })),
        ),
        (
            "expired",
            forged(SECRET, &tenant, json!({ "exp": now - 3600 })),
        ),
        (
            "another issuer",
            forged(SECRET, &tenant, json!({ "iss": "elsewhere" })),
        ),
        ("unsigned", unsigned(&tenant)),
    ];
    let query = "{ plans(first: 1) { nodes { id } } }";
    for (what, token) in &refused {
        let (status, body) = server
            .server
            .graphql_raw(Some(token), query, json!({}))
            .await;
        assert_eq!(status, 401, "{what}: {body}");
        let mut client = server.server.plans(token).await;
        let error = client
            .create_plan(plan_request())
            .await
            .expect_err("refused");
        assert_eq!(error.code(), tonic::Code::Unauthenticated, "{what}");
        assert!(
            !error.message().contains(token.as_str()),
            "{what}: token echoed"
        );
    }
    // Within the leeway, a clock slightly ahead is forgiven.
    let skewed = forged(SECRET, &tenant, json!({ "nbf": now + 10, "iat": now + 10 }));
    for token in [&good, &skewed] {
        let (status, body) = server
            .server
            .graphql_raw(Some(token), query, json!({}))
            .await;
        assert_eq!(status, 200, "{body}");
    }
    // GraphiQL is a development tool: off here.
    let page = reqwest::get(format!("{}/graphql", server.server.http))
        .await
        .expect("GET /graphql");
    assert_eq!(page.status(), 405);
}

/// `alg: none`: a token anyone can write.
fn unsigned(tenant: &str) -> String {
    use base64_free::encode;
    let now = chrono::Utc::now().timestamp();
    let header = encode(br#"{"alg":"none","typ":"JWT"}"#);
    let claims = json!({
        "iss": trellis_auth::ISSUER, "sub": CLINICIAN, "tenant": tenant,
        "roles": ["admin"], "clinics": [CLINIC], "iat": now, "exp": now + 3600,
    });
    format!("{header}.{}.", encode(claims.to_string().as_bytes()))
}

/// Base64url without padding, small enough not to need a crate.
mod base64_free {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

    pub fn encode(bytes: &[u8]) -> String {
        let mut out = String::new();
        for chunk in bytes.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }
}

fn plan_request() -> pb::CreatePlanRequest {
    pb::CreatePlanRequest {
        command_id: harness::command_id(),
        plan_id: String::new(),
        client_id: "client-1".into(),
        primary_clinician_id: CLINICIAN.into(),
        clinic_id: CLINIC.into(),
        title: "Test plan".into(),
        payer: String::new(),
    }
}

/// Point 2: a request's cost is bounded before it runs.
#[tokio::test]
async fn expensive_documents_are_refused_before_they_run() {
    let server = Server::start().await;
    let tenant = harness::fresh_tenant();
    // Even the least privileged role is a valid attacker.
    let client = harness::token(&tenant, "client-1", &[Role::Client]);
    let mut bomb = String::from("fragment F0 on QueryRoot { __typename }\n");
    for i in 1..25 {
        bomb.push_str(&format!(
            "fragment F{i} on QueryRoot {{ ...F{} ...F{} }}\n",
            i - 1,
            i - 1
        ));
    }
    bomb.push_str("{ ...F24 }");
    let aliases = format!(
        "{{ {} }}",
        (0..150)
            .map(|i| format!("a{i}: __typename"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    let directives = format!("{{ __typename {} }}", "@include(if: true) ".repeat(60));
    for (what, query) in [
        ("fragment chain", bomb),
        ("aliases", aliases),
        ("directives", directives),
    ] {
        let started = Instant::now();
        let (status, body) = server.graphql_raw(Some(&client), &query, json!({})).await;
        let took = started.elapsed();
        let error = &body["errors"][0];
        assert_eq!(
            error["extensions"]["code"], "BAD_USER_INPUT",
            "{what}: {status} {body}"
        );
        assert!(body["data"].is_null(), "{what} ran: {body}");
        // A liveness bound, not a benchmark: the chain alone took ~10 s
        // of CPU when it ran.
        assert!(took < Duration::from_secs(3), "{what} took {took:?}");
    }
    // And the server still answers everyone else.
    let staff = staff_token(&tenant);
    let data = server
        .graphql(&staff, "{ plans(first: 1) { nodes { id } } }", json!({}))
        .await;
    assert_eq!(data["plans"]["nodes"], json!([]));
}

/// Point 4: a caller who may not act on a plan learns nothing from a
/// replayed command id; an id reused on another plan is a definite error.
#[tokio::test]
async fn replayed_command_ids_tell_outsiders_nothing() {
    let server = Server::start().await;
    let tenant = harness::fresh_tenant();
    let mut owner = server.plans(&harness::clinician_token(&tenant)).await;
    let plan = harness::create_plan(&mut owner).await.plan_id;
    let known = harness::add_goal_request(&plan, "Return to work part time");
    owner.add_goal(known.clone()).await.expect("AddGoal");

    let outsider = harness::token_in(&tenant, "clin-9", &[Role::Clinician], &["clinic-b"]);
    let mut outsider = server.plans(&outsider).await;
    let replayed = outsider
        .add_goal(known.clone())
        .await
        .expect_err("hidden plan");
    let fresh = outsider
        .add_goal(harness::add_goal_request(&plan, "Return to work part time"))
        .await
        .expect_err("hidden plan");
    let missing = outsider
        .add_goal(harness::add_goal_request(
            &harness::command_id(),
            "Return to work part time",
        ))
        .await
        .expect_err("missing plan");
    for status in [&replayed, &fresh] {
        assert_eq!(status.code(), missing.code(), "{status:?} vs {missing:?}");
        assert_eq!(status.message(), missing.message());
    }
    assert_eq!(missing.code(), tonic::Code::NotFound);

    // The same id on the owner's other plan: refused for good, naming the
    // field, never "try again".
    let other = harness::create_plan(&mut owner).await.plan_id;
    let mut reused = known;
    reused.plan_id = other;
    let status = owner.add_goal(reused).await.expect_err("reused id");
    assert_eq!(status.code(), tonic::Code::AlreadyExists, "{status:?}");
    use tonic_types::StatusExt as _;
    let fields: Vec<String> = status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default();
    assert_eq!(fields, ["command_id"]);
}

/// Point 6: every read is in the access log with the fields it read, on
/// every selection path; pages never drop entries; request ids are the
/// client's only when well formed.
#[tokio::test]
async fn the_access_log_misses_no_read() {
    let server = Server::start().await;
    let tenant = harness::fresh_tenant();
    let token = harness::clinician_token(&tenant);
    let mut client = server.plans(&token).await;
    let plan = harness::create_plan(&mut client).await.plan_id;
    server.plan_at_version(&token, &plan, 0).await;

    let http = reqwest::Client::new();
    let read = |query: &'static str, request_id: String| {
        http.post(format!("{}/graphql", server.http))
            .bearer_auth(&token)
            .header("x-request-id", request_id)
            .json(&json!({ "query": query }))
            .send()
    };
    let long_id = "r".repeat(300);
    let ok = read(
        "{ plans(first: 5) { nodes { title clientId } } }",
        long_id.clone(),
    )
    .await
    .expect("nodes read");
    assert_eq!(ok.status(), 200);
    read(
        "query Q { plans(first: 5) { ...P } } fragment P on PlanConnection { edges { node { t: title } } }",
        "client-req-42".into(),
    )
    .await
    .expect("fragment read");
    // Over a thousand reads of one plan: more than one page.
    let plan_query = format!(r#"{{ plan(id: "{plan}") {{ title }} }}"#);
    for _ in 0..1005 {
        let response = http
            .post(format!("{}/graphql", server.http))
            .bearer_auth(&token)
            .json(&json!({ "query": plan_query }))
            .send()
            .await
            .expect("plan read");
        assert_eq!(response.status(), 200);
    }

    let auditor = harness::token(&tenant, "auditor-1", &[Role::Auditor]);
    let channel = Channel::from_shared(server.grpc.clone())
        .expect("uri")
        .connect()
        .await
        .expect("connect");
    let mut audit = AuditServiceClient::with_interceptor(channel, Bearer::new(&auditor));
    let page = |after_id: Option<u64>, about: audit_pb::access_log_request::About| {
        audit_pb::AccessLogRequest {
            about: Some(about),
            after_id,
            page_size: 5000,
        }
    };
    let by_clinician = audit
        .get_access_log(page(
            None,
            audit_pb::access_log_request::About::Subject(CLINICIAN.into()),
        ))
        .await
        .expect("access log")
        .into_inner();
    let listing = |request_id: &str| {
        by_clinician
            .entries
            .iter()
            .find(|e| e.request_id == request_id)
            .cloned()
    };
    let fragment = listing("client-req-42").expect("a well-formed request id is kept");
    assert!(
        fragment.fields.iter().any(|f| f.contains("title")),
        "{fragment:?}"
    );
    let nodes = by_clinician
        .entries
        .iter()
        .find(|e| e.fields.iter().any(|f| f.contains("clientId")))
        .expect("the nodes read is logged with its fields");
    assert_ne!(
        nodes.request_id, long_id,
        "an overlong request id was stored"
    );
    assert!(nodes.request_id.len() <= 128 && !nodes.request_id.is_empty());

    // Paging over the plan's entries: a full page says where to go on.
    let about = || audit_pb::access_log_request::About::PlanId(plan.clone());
    let first = audit
        .get_access_log(page(None, about()))
        .await
        .expect("first page")
        .into_inner();
    assert_eq!(first.entries.len(), 1000);
    let next = first.next_after_id.expect("a full page names the next");
    let second = audit
        .get_access_log(page(Some(next), about()))
        .await
        .expect("second page")
        .into_inner();
    let ids: Vec<u64> = first
        .entries
        .iter()
        .chain(&second.entries)
        .map(|e| e.id)
        .collect();
    assert!(ids.len() >= 1005, "{} entries", ids.len());
    assert!(
        ids.windows(2).all(|w| w[0] < w[1]),
        "pages overlap or go back"
    );
}

/// Point 8: the schema only for staff; browsers cannot post forms; every
/// answer carries the security headers.
#[tokio::test]
async fn browsers_and_clients_get_only_what_they_should() {
    let server = Server::start().await;
    let tenant = harness::fresh_tenant();
    let introspect = "{ __schema { queryType { name } } }";
    let client = harness::token(&tenant, "client-1", &[Role::Client]);
    let (status, body) = server
        .graphql_raw(Some(&client), introspect, json!({}))
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    let (status, _) = server.graphql_raw(None, introspect, json!({})).await;
    assert_eq!(status, 401);
    let data = server
        .graphql(&harness::clinician_token(&tenant), introspect, json!({}))
        .await;
    assert_eq!(data["__schema"]["queryType"]["name"], "QueryRoot");

    let http = reqwest::Client::new();
    let url = format!("{}/graphql", server.http);
    let answers = [
        (
            "form post",
            http.post(&url)
                .header("content-type", "text/plain")
                .body(r#"{"query":"{__typename}"}"#),
            415,
        ),
        (
            "oversized",
            http.post(&url)
                .header("content-type", "application/json")
                .body(vec![b' '; 70 * 1024]),
            413,
        ),
        (
            "anonymous",
            http.post(&url).json(&json!({ "query": "{ __typename }" })),
            401,
        ),
        (
            "allowed",
            http.post(&url)
                .bearer_auth(&client)
                .json(&json!({ "query": "{ __typename }" })),
            200,
        ),
    ];
    for (what, request, expected) in answers {
        let response = request.send().await.expect(what);
        assert_eq!(response.status().as_u16(), expected, "{what}");
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{what}");
        let csp = headers["content-security-policy"].to_str().expect("ascii");
        assert!(csp.contains("frame-ancestors 'none'"), "{what}: {csp}");
    }
}

/// Point 5: no service and no route buffers more than 64 KiB of a body.
#[tokio::test]
async fn every_service_and_route_refuses_bodies_over_64_kib() {
    let server = LoggedServer::start(&[]).await;
    let token = staff_token(&harness::fresh_tenant());
    let channel = server.channel().await;
    // A valid encoding of a 100 KiB string field 1: what a decoder would
    // have to hold.
    let mut big = vec![0x0a, 0x80, 0x80, 0x06];
    big.resize(4 + 100 * 1024, b'x');
    let big = bytes::Bytes::from(big);
    for path in [
        "/trellis.plans.v1.PlanService/AddGoal",
        "/trellis.audit.v1.AuditService/GetAccessLog",
        "/grpc.health.v1.Health/Check",
    ] {
        let status = wire::call(&channel, path, &token, big.clone()).await;
        assert_eq!(status.code(), tonic::Code::OutOfRange, "{path}: {status:?}");
    }
    for path in [
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
    ] {
        // The reflection service ends its stream quietly when a request
        // cannot be decoded: what counts is that it never read one.
        let (answers, status) = wire::call_streaming(&channel, path, big.clone()).await;
        assert_eq!(answers, 0, "{path} decoded a 100 KiB request");
        assert!(
            matches!(status.code(), tonic::Code::Ok | tonic::Code::OutOfRange),
            "{path}: {status:?}"
        );
        // A small request on the same service is answered.
        let list = bytes::Bytes::from_static(&[0x3a, 0x01, b'*']);
        let (answers, _) = wire::call_streaming(&channel, path, list).await;
        assert_eq!(answers, 1, "{path} answers a small request");
    }
    let http = reqwest::Client::new();
    for route in ["/graphql", "/readyz", "/healthz", "/graphql/ws"] {
        let response = http
            .post(format!("{}{route}", server.server.http))
            .header("content-type", "application/json")
            .body(vec![b' '; 100 * 1024])
            .send()
            .await
            .expect(route);
        assert_eq!(response.status(), 413, "{route}");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    }
}
