//! Erasing a client (crypto-shredding), end to end: Doug McGee is erased;
//! his plan's content is gone from every API (GraphQL, history, FHIR),
//! the plan keeps its shape, the access log and the history show the
//! erasure, audit verify passes, Emma Lee is intact — and all of it holds
//! after a restart and after the read models are rebuilt from the events.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use trellis_auth::Role;

use crate::harness::{Server, add_goal_request, run_demo, token, token_in, trellis_cli};

const TENANT: &str = "erase-demo";
/// Words of Doug's plan that must be nowhere once he is erased.
const DOUG_WORDS: [&str; 4] = ["machinist", "woodworking", "Doug McGee", "beers"];

fn clinician() -> String {
    token_in(TENANT, "dr-rivera", &[Role::Clinician], &["main-street"])
}

fn auditor() -> String {
    token(TENANT, "auditor-1", &[Role::Auditor])
}

fn admin() -> String {
    token(TENANT, "admin-1", &[Role::Admin])
}

fn erase(server: &Server, client: &str, override_reason: Option<&str>) -> (bool, String) {
    let mut args = vec![
        "admin",
        "erase-client",
        "--grpc-addr",
        &server.grpc,
        "--client",
        client,
    ];
    if let Some(reason) = override_reason {
        args.extend(["--override-reason", reason]);
    }
    let output = trellis_cli(&args)
        .env("TRELLIS_TOKEN", admin())
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), said)
}

const PLAN: &str = "query($id: ID!) { plan(id: $id) { title clientId status goals { description }
    diagnoses { code } erasure { erasedOn basis reason retentionYears goals objectives diagnoses measures } } }";

/// The plan as the clinician reads it, once the projection shows `done`.
async fn plan_when(server: &Server, id: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let data = server
            .graphql(&clinician(), PLAN, json!({ "id": id }))
            .await;
        if done(&data["plan"]) || tokio::time::Instant::now() > deadline {
            return data["plan"].clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn erased(plan: &Value) -> bool {
    plan["erasure"].is_object()
}

/// Everything the APIs answer about Doug's plan, as one text.
async fn everything_about(server: &Server, doug: &str) -> String {
    let plan = server
        .graphql(&clinician(), PLAN, json!({ "id": doug }))
        .await;
    let history = server
        .graphql(
            &auditor(),
            "query($id: ID!) { planHistory(id: $id) { events { eventType payloadJson reason actorSubject } } }",
            json!({ "id": doug }),
        )
        .await;
    let mut fhir = String::new();
    for path in [
        format!("CarePlan/{doug}"),
        format!("CarePlan/{doug}/$everything"),
    ] {
        let response = reqwest::Client::new()
            .get(format!("{}/fhir/r4/{path}", server.http))
            .bearer_auth(clinician())
            .send()
            .await
            .unwrap();
        fhir.push_str(&response.text().await.unwrap());
    }
    format!("{plan}\n{history}\n{fhir}")
}

async fn check_erased(server: &Server, doug: &str, emma: &str) {
    let plan = plan_when(server, doug, erased).await;
    assert_eq!(plan["title"], "erased", "{plan}");
    assert_eq!(plan["clientId"], "", "{plan}");
    assert_eq!(plan["goals"], json!([]), "{plan}");
    assert_eq!(plan["erasure"]["basis"], "override", "{plan}");
    // An override names no retention period: none was checked.
    assert!(plan["erasure"]["retentionYears"].is_null(), "{plan}");
    assert_eq!(plan["erasure"]["reason"], "court order 2026-114", "{plan}");
    // The plan keeps its shape: Doug's plan had goals and a diagnosis.
    assert!(plan["erasure"]["goals"].as_u64().unwrap() >= 2, "{plan}");
    assert_eq!(plan["erasure"]["diagnoses"], 2, "{plan}");
    let everything = everything_about(server, doug).await;
    for word in DOUG_WORDS {
        assert!(
            !everything.contains(word),
            "{word:?} still answered: {everything}"
        );
    }
    let emma_plan = server
        .graphql(&clinician(), PLAN, json!({ "id": emma }))
        .await;
    assert!(
        emma_plan["plan"]["title"]
            .as_str()
            .unwrap()
            .contains("Emma Lee"),
        "{emma_plan}"
    );
    assert!(emma_plan["plan"]["erasure"].is_null());
    let verification = server
        .graphql(&auditor(), "{ auditVerification { ok } }", json!({}))
        .await;
    assert_eq!(
        verification["auditVerification"]["ok"], true,
        "{verification}"
    );
}

fn remove_read_models(data_dir: &Path) {
    for entry in std::fs::read_dir(data_dir).unwrap() {
        let path = entry.unwrap().path();
        if path
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("read-models.db")
        {
            std::fs::remove_file(path).unwrap();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasing_doug_removes_his_content_everywhere_and_leaves_emma_and_the_proof() {
    let server = Server::start().await;
    let demo = run_demo(&server, TENANT);
    let (doug, emma) = (demo.plan("doug-mcgee"), demo.plan("emma-lee"));
    let before = plan_when(&server, &doug, |p| p["title"].is_string()).await;
    assert!(before["title"].as_str().unwrap().contains("Doug McGee"));

    // The tenant's own retention period, set and read over GraphQL.
    let period = "{ retentionPeriod { years tenantRule } }";
    let default = server.graphql(&clinician(), period, json!({})).await;
    assert_eq!(
        default["retentionPeriod"],
        json!({ "years": 6, "tenantRule": false })
    );
    let set = server
        .graphql(
            &admin(),
            "mutation { setRetentionPeriod(input: { years: 8 }) { years tenantRule } }",
            json!({}),
        )
        .await;
    assert_eq!(
        set["setRetentionPeriod"],
        json!({ "years": 8, "tenantRule": true })
    );
    let read = server.graphql(&clinician(), period, json!({})).await;
    assert_eq!(read["retentionPeriod"], set["setRetentionPeriod"]);

    // Doug's plan is active: without an override nothing is erased, and
    // the refusal says why (no value echoed).
    let (ok, said) = erase(&server, "client-2087", None);
    assert!(!ok, "{said}");
    assert!(
        said.contains("FailedPrecondition") && said.contains("override reason"),
        "{said}"
    );
    let unchanged = server
        .graphql(&clinician(), PLAN, json!({ "id": doug }))
        .await;
    assert!(unchanged["plan"]["erasure"].is_null(), "{unchanged}");
    // Only an admin may erase.
    let denied = trellis_cli(&[
        "admin",
        "erase-client",
        "--grpc-addr",
        &server.grpc,
        "--client",
        "client-2087",
        "--override-reason",
        "x",
    ])
    .env("TRELLIS_TOKEN", clinician())
    .output()
    .unwrap();
    assert!(!denied.status.success());
    assert!(String::from_utf8_lossy(&denied.stderr).contains("PermissionDenied"));

    let (ok, said) = erase(&server, "client-2087", Some("court order 2026-114"));
    assert!(ok, "{said}");
    assert!(
        said.contains("1 plan(s) erased; their data key is destroyed"),
        "{said}"
    );
    assert!(said.contains(&doug), "{said}");
    check_erased(&server, &doug, &emma).await;

    // The history keeps every event's envelope; the erasure is in it, by
    // the admin, with the stated basis; the access log shows it too.
    let history = server
        .graphql(
            &auditor(),
            "query($id: ID!) { planHistory(id: $id) { events { eventType payloadJson actorSubject reason } } }",
            json!({ "id": doug }),
        )
        .await;
    let events = history["planHistory"]["events"].as_array().unwrap();
    let last = events.last().unwrap();
    assert_eq!(last["eventType"], "ClientErased");
    assert_eq!(last["actorSubject"], "admin-1");
    assert_eq!(last["reason"], "court order 2026-114");
    assert!(events.len() > 10);
    assert!(
        events[..events.len() - 1]
            .iter()
            .all(|e| e["payloadJson"] == r#"{"erased":true}"#),
        "{history}"
    );
    let access = server
        .graphql(
            &auditor(),
            "query($id: ID!) { accessLog(planId: $id) { subject operation } }",
            json!({ "id": doug }),
        )
        .await;
    assert!(
        access["accessLog"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["subject"] == "admin-1" && a["operation"] == "grpc:PlanService/EraseClient"),
        "{access}"
    );

    // The erased plan takes nothing more.
    let mut plans = server.plans(&clinician()).await;
    let refused = plans
        .add_goal(add_goal_request(&doug, "Return to woodworking"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    assert!(
        refused.message().contains("erased"),
        "{}",
        refused.message()
    );
    // Sent again, the erasure finds no key left.
    let (ok, said) = erase(&server, "client-2087", Some("court order 2026-114"));
    assert!(
        ok && said.contains("0 plan(s) erased; no data key was left"),
        "{said}"
    );

    // After a restart, and after the read models are rebuilt from the
    // events (the erasure alone says what is left): the same.
    let dir = server.stop().await.expect("its own data directory");
    let server = Server::start_in(dir.path()).await;
    check_erased(&server, &doug, &emma).await;
    let dir_path = dir.path().to_path_buf();
    server.stop().await;
    remove_read_models(&dir_path);
    let server = Server::start_in(&dir_path).await;
    check_erased(&server, &doug, &emma).await;
    server.stop().await;
    let verified = trellis_cli(&["audit", "verify", "--data-dir", dir_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(verified.status.success(), "{verified:?}");
    drop(dir);
}
