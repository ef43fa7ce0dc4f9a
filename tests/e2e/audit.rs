//! What an auditor does: who changed and who viewed a plan, the plan before
//! its last review, a diff, verification, export, and a byte edited on disk.

use serde_json::json;
use tonic::Code;
use trellis_auth::Role;
use trellis_proto::audit::v1 as audit;
use trellis_proto::audit::v1::audit_service_client::AuditServiceClient;

use crate::harness::*;

type AuditClient = AuditServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>,
>;

async fn audit_client(server: &Server, token: &str) -> AuditClient {
    let channel = tonic::transport::Channel::from_shared(server.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    AuditServiceClient::with_interceptor(channel, Bearer::new(token))
}

/// A plan with a goal and a held review; returns (plan id, version before
/// the review was held, last version).
async fn reviewed_plan(server: &Server, token: &str) -> (String, u64, u64) {
    let mut plans = server.plans(token).await;
    let plan_id = create_plan(&mut plans).await.plan_id;
    plans
        .add_goal(add_goal_request(&plan_id, "Sleep through the night"))
        .await
        .unwrap();
    let (review, held) = hold_review_today(&mut plans, &plan_id, "Sleeping better; continue").await;
    (plan_id, review.revision, held.revision)
}

#[tokio::test]
async fn an_auditor_sees_who_changed_and_who_viewed_a_plan() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let clinician = clinician_token(&tenant);
    let (plan_id, before_review, last) = reviewed_plan(&server, &clinician).await;
    // The clinician reads the plan over GraphQL: that read is logged.
    server.plan_at_version(&clinician, &plan_id, last).await;

    let auditor = token(&tenant, "aud-1", &[Role::Auditor]);
    let mut client = audit_client(&server, &auditor).await;

    let history = client
        .get_plan_history(audit::PlanHistoryRequest {
            plan_id: plan_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let types: Vec<&str> = history
        .entries
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(
        types,
        [
            "PlanCreated",
            "GoalAdded",
            "ReviewScheduled",
            "ReviewHeld",
            "ReviewScheduled"
        ]
    );
    assert!(
        history
            .entries
            .iter()
            .all(|e| e.actor_subject == CLINICIAN && e.actor_role == "clinician")
    );
    assert!(
        history
            .entries
            .iter()
            .all(|e| !e.command_id.is_empty() && !e.request_id.is_empty() && e.hash.len() == 64)
    );

    let only_reviews = client
        .get_plan_history(audit::PlanHistoryRequest {
            plan_id: plan_id.clone(),
            event_types: vec!["ReviewHeld".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(only_reviews.entries.len(), 1);
    let nobody = client
        .get_plan_history(audit::PlanHistoryRequest {
            plan_id: plan_id.clone(),
            actor: "someone-else".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert!(nobody.entries.is_empty());

    // The plan as it stood before its last review was held.
    let before = client
        .get_plan_as_of(audit::PlanAsOfRequest {
            plan_id: plan_id.clone(),
            as_of: Some(audit::plan_as_of_request::AsOf::Version(before_review)),
        })
        .await
        .unwrap()
        .into_inner();
    let doc: serde_json::Value = serde_json::from_str(&before.plan_json).unwrap();
    assert_eq!(
        doc["reviews"][0].get("heldOn"),
        Some(&serde_json::Value::Null)
    );

    let diff = client
        .diff_plan_versions(audit::DiffPlanVersionsRequest {
            plan_id: plan_id.clone(),
            from_version: before_review,
            to_version: last,
        })
        .await
        .unwrap()
        .into_inner();
    let paths: Vec<&str> = diff.changes.iter().map(|c| c.path.as_str()).collect();
    assert!(paths.iter().any(|p| p.ends_with(".decision")), "{paths:?}");
    assert!(paths.iter().any(|p| p.ends_with(".summary")), "{paths:?}");

    let access = client
        .get_access_log(audit::AccessLogRequest {
            about: Some(audit::access_log_request::About::PlanId(plan_id.clone())),
            after_id: None,
            page_size: 100,
        })
        .await
        .unwrap()
        .into_inner();
    let clinician_read = access
        .entries
        .iter()
        .find(|a| a.subject == CLINICIAN)
        .expect("the clinician's GraphQL read is logged");
    assert_eq!(clinician_read.api, "graphql");
    assert_eq!(clinician_read.operation, "graphql:plan");
    assert!(clinician_read.address.starts_with("127.0.0.1:"));
    assert!(clinician_read.fields.contains(&"goals".to_owned()));
    assert!(
        access
            .entries
            .iter()
            .any(|a| a.subject == "aud-1" && a.operation == "audit:history"),
        "the auditor's own reads are logged too"
    );
    let by_user = client
        .get_access_log(audit::AccessLogRequest {
            about: Some(audit::access_log_request::About::Subject(CLINICIAN.into())),
            after_id: None,
            page_size: 100,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(by_user.entries.iter().all(|a| a.subject == CLINICIAN));
    assert!(!by_user.entries.is_empty());

    let mut signed_at = Vec::new();
    for _ in 0..2 {
        client
            .create_digest(audit::CreateDigestRequest {})
            .await
            .unwrap();
        let verified = client
            .verify(audit::VerifyRequest {})
            .await
            .unwrap()
            .into_inner();
        assert!(verified.ok, "{}", verified.first_break);
        signed_at.push(
            chrono::DateTime::parse_from_rfc3339(&verified.last_digest_at)
                .expect("the newest digest's time"),
        );
    }
    // The second digest's time, not the first's.
    assert!(signed_at[1] > signed_at[0], "{signed_at:?}");
    assert!(
        (chrono::Utc::now() - signed_at[1].to_utc())
            .num_seconds()
            .abs()
            < 120
    );
    let verified = client
        .verify(audit::VerifyRequest {})
        .await
        .unwrap()
        .into_inner();
    assert_eq!(verified.digests, 2);
    client
        .list_digests(audit::ListDigestsRequest {})
        .await
        .unwrap();
    // Every audit call is itself logged: digests made and listed too.
    let auditor_calls = client
        .get_access_log(audit::AccessLogRequest {
            about: Some(audit::access_log_request::About::Subject("aud-1".into())),
            after_id: None,
            page_size: 1000,
        })
        .await
        .unwrap()
        .into_inner();
    let operations: Vec<&str> = auditor_calls
        .entries
        .iter()
        .map(|a| a.operation.as_str())
        .collect();
    let count = |op: &str| operations.iter().filter(|o| **o == op).count();
    assert_eq!(count("audit:create-digest"), 2, "{operations:?}");
    assert_eq!(count("audit:digests"), 1, "{operations:?}");

    // The same through GraphQL.
    let data = server
        .graphql(
            &auditor,
            "query($id: ID!) {
                planHistory(id: $id) { events { revision eventType actorSubject } }
                planAsOf(id: $id, version: 0) { version goals { id } }
                planDiff(id: $id, fromVersion: 0, toVersion: 1) { path }
                accessLog(planId: $id) { subject operation api }
                auditVerification { ok events lastDigestAt }
            }",
            json!({ "id": plan_id }),
        )
        .await;
    assert_eq!(data["planHistory"]["events"].as_array().unwrap().len(), 5);
    assert_eq!(data["planAsOf"]["goals"], json!([]));
    assert!(
        data["planDiff"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["path"].as_str().unwrap().starts_with("goals["))
    );
    assert_eq!(data["auditVerification"]["ok"], true);
    assert_eq!(
        data["auditVerification"]["lastDigestAt"].as_str(),
        Some(verified.last_digest_at.as_str())
    );

    // Replays of history are bounded per request: a second, under an
    // alias, is refused with the rule.
    for (first, second, field) in [
        (
            "auditVerification { ok }",
            "again: auditVerification { ok }",
            "auditVerification",
        ),
        (
            "planAsOf(id: $id, version: 0) { version }",
            "again: planAsOf(id: $id, version: 1) { version }",
            "planAsOf",
        ),
        (
            "planDiff(id: $id, fromVersion: 0, toVersion: 1) { path }",
            "again: planDiff(id: $id, fromVersion: 1, toVersion: 2) { path }",
            "planDiff",
        ),
    ] {
        let (status, body) = server
            .graphql_raw(
                Some(&auditor),
                &if first.contains("$id") {
                    format!("query($id: ID!) {{ {first} {second} }}")
                } else {
                    format!("{{ {first} {second} }}")
                },
                if first.contains("$id") {
                    json!({ "id": plan_id })
                } else {
                    json!({})
                },
            )
            .await;
        assert_eq!(status, 200, "{body}");
        let errors = body["errors"].as_array().expect("one refused");
        assert_eq!(errors.len(), 1, "{body}");
        assert_eq!(errors[0]["extensions"]["code"], "BAD_USER_INPUT", "{body}");
        let message = errors[0]["message"].as_str().unwrap();
        assert!(
            message.starts_with(field) && message.ends_with("once per request"),
            "{message}"
        );
        assert_eq!(errors[0]["path"], json!(["again"]), "{body}");
    }
}

#[tokio::test]
async fn only_auditors_read_the_audit_trail() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let clinician = clinician_token(&tenant);
    let (plan_id, _, _) = reviewed_plan(&server, &clinician).await;

    let mut client = audit_client(&server, &clinician).await;
    let err = client
        .get_plan_history(audit::PlanHistoryRequest {
            plan_id: plan_id.clone(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
    let (_, body) = server
        .graphql_raw(
            Some(&clinician),
            "query($id: ID!) { planHistory(id: $id) { events { revision } } }",
            json!({ "id": plan_id }),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");

    // An auditor of another tenant finds no such plan.
    let stranger = token(&fresh_tenant(), "aud-9", &[Role::Auditor]);
    let err = audit_client(&server, &stranger)
        .await
        .get_plan_history(audit::PlanHistoryRequest {
            plan_id,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn the_cli_exports_a_plan_and_catches_a_byte_edited_on_disk() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let clinician = clinician_token(&tenant);
    let (plan_id, _, _) = reviewed_plan(&server, &clinician).await;
    let auditor = token(&tenant, "aud-1", &[Role::Auditor]);
    let grpc_addr = server.grpc.trim_start_matches("http://").to_owned();
    let out = tempfile::tempdir().unwrap();

    let export = trellis_cli(&["audit", "export", "--plan", &plan_id, "--out"])
        .arg(out.path())
        .args(["--grpc-addr", &grpc_addr, "--token", &auditor])
        .output()
        .unwrap();
    assert!(
        export.status.success(),
        "{}",
        String::from_utf8_lossy(&export.stderr)
    );
    let jsonl = std::fs::read_to_string(out.path().join(format!("plan-{plan_id}.jsonl"))).unwrap();
    let kinds: Vec<String> = jsonl
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    // Created, goal, review scheduled, held, and the next one scheduled.
    assert_eq!(kinds.iter().filter(|k| *k == "event").count(), 5);
    assert_eq!(kinds.last().map(String::as_str), Some("verification"));
    let html = std::fs::read_to_string(out.path().join(format!("plan-{plan_id}.html"))).unwrap();
    assert!(html.contains("ReviewHeld") && html.contains("Verified"));

    let data_dir = server.data_dir.clone();
    let dir = server.stop().await;
    let clean = trellis_cli(&["audit", "verify", "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert!(
        clean.status.success(),
        "{}",
        String::from_utf8_lossy(&clean.stdout)
    );
    assert!(String::from_utf8_lossy(&clean.stdout).starts_with("OK"));

    // An edit made with disk access: one byte of the held review's stored
    // (sealed) payload. First move everything from the WAL into the
    // database file, as SQLite does whenever the last connection closes
    // cleanly.
    let db = data_dir.join("events.db");
    let stored: Vec<u8> = {
        let conn = rusqlite::Connection::open(&db).unwrap();
        conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .unwrap();
        conn.query_row(
            "SELECT payload FROM events WHERE event_type = 'ReviewHeld' AND stream LIKE ?1",
            [format!("%{plan_id}")],
            |row| row.get(0),
        )
        .unwrap()
    };
    let mut bytes = std::fs::read(&db).unwrap();
    let at = bytes
        .windows(stored.len())
        .position(|w| w == stored.as_slice())
        .expect("the payload in the database file");
    bytes[at + stored.len() / 2] ^= 0x01;
    std::fs::write(&db, bytes).unwrap();
    let broken = trellis_cli(&["audit", "verify", "--data-dir"])
        .arg(&data_dir)
        .output()
        .unwrap();
    assert_eq!(broken.status.code(), Some(1));
    let said = String::from_utf8_lossy(&broken.stdout);
    assert!(said.starts_with("BROKEN"), "{said}");
    assert!(said.contains("revision 3"), "{said}");
    drop(dir);
}

#[tokio::test]
async fn a_correction_says_why_and_an_auditor_sees_it() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let clinician = clinician_token(&tenant);
    let mut plans = server.plans(&clinician).await;
    let plan_id = create_plan(&mut plans).await.plan_id;
    let goal = plans
        .add_goal(add_goal_request(&plan_id, "Goal meant for another client"))
        .await
        .unwrap()
        .into_inner();
    let mutation =
        "mutation($input: EnterInErrorInput!) { enterInError(input: $input) { revision } }";
    let input = |reason: &str| {
        json!({ "input": { "commandId": command_id(), "planId": plan_id, "kind": "GOAL",
                           "entryId": goal.entity_id, "reason": reason }})
    };

    // No reason, no correction; nothing written.
    let (_, refused) = server
        .graphql_raw(Some(&clinician), mutation, input(" "))
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(
        refused["errors"][0]["extensions"]["fieldViolations"][0]["field"],
        "reason"
    );

    let done = server
        .graphql(
            &clinician,
            mutation,
            input("Entered on the wrong client's plan"),
        )
        .await;
    let revision = done["enterInError"]["revision"].as_u64().unwrap();
    assert_eq!(revision, goal.revision + 1);
    let plan = server.plan_at_version(&clinician, &plan_id, revision).await;
    assert_eq!(
        plan["goals"][0]["description"], "Goal meant for another client",
        "nothing is edited"
    );
    let marked = server
        .graphql(
            &clinician,
            "query($id: ID!) { plan(id: $id) { goals { enteredInError } } }",
            json!({ "id": plan_id }),
        )
        .await;
    assert_eq!(
        marked["plan"]["goals"][0]["enteredInError"],
        "Entered on the wrong client's plan"
    );

    let auditor = token(&tenant, "aud-1", &[Role::Auditor]);
    let history = audit_client(&server, &auditor)
        .await
        .get_plan_history(audit::PlanHistoryRequest {
            plan_id,
            event_types: vec!["EnteredInError".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(history.entries.len(), 1);
    assert_eq!(
        history.entries[0].reason,
        "Entered on the wrong client's plan"
    );
    assert_eq!(history.entries[0].actor_subject, CLINICIAN);
}

/// Every key of a JSON value, at any depth.
fn keys_of(value: &serde_json::Value, into: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, inner) in map {
                into.push(key.clone());
                keys_of(inner, into);
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| keys_of(v, into)),
        _ => {}
    }
}

#[tokio::test]
async fn get_plan_as_of_answers_the_plan_as_graphql_shows_it() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let clinician = clinician_token(&tenant);
    let mut plans = server.plans(&clinician).await;
    let plan_id = create_plan(&mut plans).await.plan_id;
    let long = plans
        .add_goal(trellis_proto::plans::v1::AddGoalRequest {
            term: trellis_proto::plans::v1::GoalTerm::LongTerm as i32,
            ..add_goal_request(&plan_id, "Sleep through the night")
        })
        .await
        .unwrap()
        .into_inner();
    plans
        .add_goal(add_goal_request(&plan_id, "Walk every day"))
        .await
        .unwrap();
    plans
        .add_objective(add_objective_request(&plan_id, &long.entity_id))
        .await
        .unwrap();
    let (_, held) = hold_review_today(&mut plans, &plan_id, "Sleeping better; continue").await;
    let version = held.revision;

    let auditor = token(&tenant, "aud-1", &[Role::Auditor]);
    let mut client = audit_client(&server, &auditor).await;
    let document = client
        .get_plan_as_of(audit::PlanAsOfRequest {
            plan_id: plan_id.clone(),
            as_of: Some(audit::plan_as_of_request::AsOf::Version(version)),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(document.version, version);
    let plan: serde_json::Value = serde_json::from_str(&document.plan_json).unwrap();
    assert_eq!(plan["id"], plan_id.as_str());
    assert_eq!(plan["version"], version);
    assert_eq!(plan["goals"][0]["term"], "LONG_TERM");
    assert_eq!(plan["goals"][1]["term"], "SHORT_TERM");
    assert_eq!(plan["reviews"][0]["decision"], "CONTINUE");
    assert!(plan["goals"][0]["objectives"][0]["targetDate"].is_string());
    let top = plan.as_object().expect("a JSON object");
    assert!(!top.contains_key("tenant") && !top.contains_key("plan_id"));
    let mut keys = Vec::new();
    keys_of(&plan, &mut keys);
    assert!(
        keys.iter().all(|k| !k.contains('_')),
        "GraphQL names only: {keys:?}"
    );

    // The same version through GraphQL, every field selected, is the same
    // JSON; and its top level is every field `Plan` has of itself.
    let selection = trellis_gateway::plan_json::GraphqlPlanRenderer::new()
        .unwrap()
        .selection()
        .to_owned();
    let data = server
        .graphql(
            &auditor,
            &format!(
                "query($id: ID!, $version: Int!) {{
                    planAsOf(id: $id, version: $version) {selection}
                    __type(name: \"Plan\") {{ fields {{ name }} }}
                }}"
            ),
            json!({ "id": plan_id, "version": version }),
        )
        .await;
    assert_eq!(data["planAsOf"], plan);
    let mut fields: Vec<&str> = data["__type"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    // All but `signedVersion`: another state of the plan, not a part.
    fields.retain(|f| *f != "signedVersion");
    fields.sort_unstable();
    let mut top_keys: Vec<&str> = top.keys().map(String::as_str).collect();
    top_keys.sort_unstable();
    assert_eq!(top_keys, fields);

    // The gRPC read was logged like any other.
    let access = client
        .get_access_log(audit::AccessLogRequest {
            about: Some(audit::access_log_request::About::PlanId(plan_id)),
            after_id: None,
            page_size: 100,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(
        access
            .entries
            .iter()
            .any(|a| a.subject == "aud-1" && a.operation == "audit:as-of" && a.api == "grpc"),
        "the gRPC as-of read is in the access log"
    );
}

/// In the split topology the gateway asks the plans service's
/// `AuditService` for `planAsOf`, and the two must agree on `plan_json`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_split_gateway_answers_plan_as_of_through_the_audit_service() {
    let database = format!("trellis_asof_{}", uuid::Uuid::new_v4().simple());
    let admin = "postgres://postgres@127.0.0.1:5432/postgres";
    let store_url = trellis_store_postgres::ensure_database(admin, &database)
        .await
        .expect("PostgreSQL reachable (./scripts/services-up starts it)");
    let namespace = format!("asof-{}", uuid::Uuid::new_v4().simple());
    let base = [
        ("TRELLIS_STORE_URL", store_url.as_str()),
        ("TRELLIS_REDIS_URL", "redis://127.0.0.1:6379"),
        ("TRELLIS_READ_MODEL_NAMESPACE", namespace.as_str()),
        ("TRELLIS_LOG_FORMAT", "text"),
    ];
    let plans = Service::start("plans-service", &base).await;
    let plans_url = plans.url("grpc");
    let mut gateway_env = base.to_vec();
    gateway_env.push(("TRELLIS_PLANS_URL", plans_url.as_str()));
    let gateway = Service::start("gateway", &gateway_env).await;

    let tenant = fresh_tenant();
    let channel = tonic::transport::Channel::from_shared(plans_url.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut client =
        trellis_proto::plans::v1::plan_service_client::PlanServiceClient::with_interceptor(
            channel,
            Bearer::new(&clinician_token(&tenant)),
        );
    let plan_id = create_plan(&mut client).await.plan_id;
    let goal = client
        .add_goal(add_goal_request(&plan_id, "Walk every day"))
        .await
        .unwrap()
        .into_inner();

    let auditor = token(&tenant, "aud-1", &[Role::Auditor]);
    let body: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/graphql", gateway.url("http")))
        .bearer_auth(&auditor)
        .json(&json!({
            "query": "query($id: ID!, $v: Int!) { planAsOf(id: $id, version: $v) {
                id version goals { id term } } }",
            "variables": { "id": plan_id, "v": goal.revision },
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body.get("errors").is_none(), "{body}");
    assert_eq!(body["data"]["planAsOf"]["id"], plan_id.as_str());
    assert_eq!(body["data"]["planAsOf"]["goals"][0]["term"], "SHORT_TERM");

    drop((gateway, plans));
    trellis_store_postgres::drop_database(admin, &database)
        .await
        .unwrap();
}

#[tokio::test]
async fn the_audit_service_refuses_oversized_requests_like_the_plans_service() {
    let server = Server::start().await;
    let token = token(&fresh_tenant(), "aud-1", &[Role::Auditor]);
    let mut client = audit_client(&server, &token).await;
    let err = client
        .get_plan_history(audit::PlanHistoryRequest {
            plan_id: "x".repeat(100_000),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    // The refusal does not quote the request back.
    assert!(err.message().len() < 200, "{}", err.message());
}

/// However a listing is written — `edges { node }`, `nodes`, a fragment,
/// an alias — the access log names the plan fields that were read.
#[tokio::test]
async fn every_way_of_listing_plans_logs_the_fields_read() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let clinician = clinician_token(&tenant);
    let mut plans = server.plans(&clinician).await;
    let created = create_plan(&mut plans).await;
    let plan_id = created.plan_id;
    server
        .plan_at_version(&clinician, &plan_id, created.revision)
        .await;
    let reads = [
        "{ plans { nodes { title } } }",
        "{ plans { nodes { ...Plan } } } fragment Plan on Plan { goals { description } }",
        "{ plans { edges { node { shown: title } } } }",
    ];
    for query in reads {
        server.graphql(&clinician, query, json!({})).await;
    }
    let auditor = token(&tenant, "aud-1", &[Role::Auditor]);
    let log = server
        .graphql(
            &auditor,
            "query($id: ID!) { accessLog(planId: $id) { subject operation fields } }",
            json!({ "id": plan_id }),
        )
        .await;
    let listed: Vec<Vec<String>> = log["accessLog"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["operation"] == "graphql:plans")
        .map(|e| serde_json::from_value(e["fields"].clone()).unwrap())
        .collect();
    assert_eq!(
        listed,
        [
            vec!["title".to_owned()],
            vec!["goals".to_owned()],
            vec!["title".to_owned()]
        ]
    );
}
