//! PHI at rest, end to end: after the demo, no file of the data directory
//! (WAL files included) holds any of the seed's words; audit verify passes
//! over them with no key; a server without its keyring, or
//! with another install's, refuses to start and says why.

use std::path::Path;
use std::time::Duration;

use serde_json::json;
use trellis_auth::Role;

use crate::harness::{Server, command_id, run_demo, serve_command, token_in, trellis_cli};

/// Words of the seed plans: the clients' names and what they told us.
const SEED_PHRASES: [&str; 6] = [
    "Doug McGee",
    "Emma Lee",
    "machinist",
    "woodworking",
    "beers",
    "McGee",
];

fn files_named(dir: &Path, prefixes: &[&str]) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            prefixes.iter().any(|prefix| name.starts_with(prefix))
        })
        .collect()
}

/// Exactly as the seed writes it: a case-blind match of a five-letter
/// word turns up by chance in a few hundred kilobytes of base64 (sealed
/// read-model documents), about once in a hundred runs.
fn holds(bytes: &[u8], phrase: &str) -> bool {
    bytes.windows(phrase.len()).any(|w| w == phrase.as_bytes())
}

/// The title of a plan of `tenant`, as the demo's clinician reads it.
async fn title(server: &Server, tenant: &str, plan_id: &str) -> String {
    let clinician = token_in(tenant, "dr-rivera", &[Role::Clinician], &["main-street"]);
    let plan = server
        .graphql(
            &clinician,
            "query($id: ID!) { plan(id: $id) { title } }",
            json!({ "id": plan_id }),
        )
        .await;
    plan["plan"]["title"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn after_the_demo_the_event_store_holds_no_seed_phrase_and_still_verifies() {
    let server = Server::start().await;
    let demo = run_demo(&server, "sealed-demo");
    // The plan reads as written: sealing is invisible to a reader.
    let doug = title(&server, "sealed-demo", &demo.plan("doug-mcgee")).await;
    assert!(doug.contains("Doug McGee"), "{doug}");
    let history = server
        .graphql(
            &token_in("sealed-demo", "auditor-1", &[Role::Auditor], &[]),
            "query($id: ID!) { planHistory(id: $id) { events { eventType payloadJson } } }",
            json!({ "id": demo.plan("doug-mcgee") }),
        )
        .await;
    assert!(history.to_string().contains("machinist"), "{history}");

    // Every byte of the data directory — the event store and the read
    // models with their WAL files, the key directory, the keyring: none of
    // the seed's words.
    let files = files_named(&server.data_dir, &[""]);
    for expected in [
        "events.db-wal",
        "read-models.db-wal",
        "read-models.db",
        "keys.db",
    ] {
        assert!(
            files
                .iter()
                .any(|f| f.to_string_lossy().ends_with(expected)),
            "{expected} in {files:?}"
        );
    }
    for file in &files {
        let bytes = std::fs::read(file).unwrap();
        for phrase in SEED_PHRASES {
            assert!(
                !holds(&bytes, phrase),
                "{phrase:?} is in {} in clear",
                file.display()
            );
        }
    }

    // The summaries listings read keep ids, dates and counts in clear; the
    // standardized scores in them are sealed, and still count in outcomes
    // (Doug's second PHQ-9 makes him measured: a baseline and a later one).
    let clinician = token_in(
        "sealed-demo",
        "dr-rivera",
        &[Role::Clinician],
        &["main-street"],
    );
    let doug_id = demo.plan("doug-mcgee");
    let later = server
        .graphql(
            &clinician,
            "mutation($input: RecordMeasureInput!) { recordMeasure(input: $input) { revision } }",
            json!({ "input": {
                "commandId": command_id(), "planId": doug_id, "instrument": "PHQ9",
                "answers": [1, 1, 0, 1, 0, 0, 1, 0, 0],
                "administeredOn": chrono::Utc::now().date_naive().to_string(),
                "source": "CLINICIAN"
            }}),
        )
        .await;
    let revision = later["recordMeasure"]["revision"].as_u64().unwrap();
    server.plan_at_version(&clinician, &doug_id, revision).await;
    let read_models = rusqlite::Connection::open(server.data_dir.join("read-models.db")).unwrap();
    let summaries: Vec<serde_json::Value> = read_models
        .prepare("SELECT summary FROM plan_views WHERE tenant = 'sealed-demo'")
        .unwrap()
        .query_map([], |row| row.get::<_, String>(0))
        .unwrap()
        .map(|text| serde_json::from_str(&text.unwrap()).unwrap())
        .collect();
    assert_eq!(summaries.len(), 2);
    // No row keeps a score in clear; both plans have scores, sealed.
    for summary in &summaries {
        assert_eq!(summary["scores"], json!([]), "{summary}");
        assert_eq!(summary["score_changes"], json!([]), "{summary}");
        assert!(
            summary["sealed_scores"]
                .as_str()
                .is_some_and(|s| s.starts_with("sealed:")),
            "{summary}"
        );
    }
    let outcomes = server
        .graphql(
            &token_in(
                "sealed-demo",
                "sup-1",
                &[Role::Supervisor],
                &["main-street"],
            ),
            "{ outcomes { clientsMeasured } }",
            json!({}),
        )
        .await;
    assert_eq!(
        outcomes["outcomes"]["clientsMeasured"], 1,
        "{outcomes} {summaries:?}"
    );

    // The hash chain is over the sealed bytes: it verifies with no key.
    let data = server.data_dir.to_str().unwrap().to_owned();
    let verified = trellis_cli(&["audit", "verify", "--data-dir", &data])
        .output()
        .unwrap();
    assert!(verified.status.success(), "{verified:?}");
    let status = trellis_cli(&["keys", "status", "--data-dir", &data])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    // One data key per client: Emma and Doug.
    assert!(
        status.contains(
            "sealed-demo: 2 data key(s), wrapped by key version(s) 1; the keyring opens them"
        ),
        "{status}"
    );
    server.stop().await;
}

/// `trellis serve` on `data_dir` that must fail to start: its message.
async fn refused_start(data_dir: &Path, extra: &[&str]) -> String {
    let mut command = tokio::process::Command::from(serve_command(data_dir));
    command
        .args(extra)
        .env("TRELLIS_DEV", "1")
        .kill_on_drop(true);
    let output = tokio::time::timeout(Duration::from_secs(30), command.output())
        .await
        .expect("a server that cannot open its keys stops at once")
        .unwrap();
    assert!(!output.status.success(), "it started: {output:?}");
    let said = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!said.contains("ready"), "{said}");
    said
}

#[tokio::test]
async fn a_missing_or_foreign_keyring_refuses_to_start_and_the_right_one_serves() {
    let server = Server::start().await;
    let demo = run_demo(&server, "sealed-keys");
    let dir = server
        .stop()
        .await
        .expect("the server's own data directory");
    let data_dir = dir.path().to_path_buf();

    // Missing: the server says where it looked and what to do.
    let keyring = data_dir.join("keyring.json");
    let aside = data_dir.join("keyring.aside");
    std::fs::rename(&keyring, &aside).unwrap();
    let said = refused_start(&data_dir, &[]).await;
    assert!(said.contains("there is no keyring at"), "{said}");
    assert!(said.contains("TRELLIS_KEYRING"), "{said}");
    assert!(!keyring.exists(), "no new keyring was made beside the data");

    // Another install's keyring: refused, not served as content.
    let other = Server::start().await;
    run_demo(&other, "sealed-keys");
    let foreign = other.data_dir.join("keyring.json");
    let said = refused_start(&data_dir, &["--keyring", foreign.to_str().unwrap()]).await;
    assert!(
        said.contains("does not open this install's data keys"),
        "{said}"
    );
    other.stop().await;

    // A damaged keyring: refused by name.
    std::fs::write(&keyring, b"{}").unwrap();
    let said = refused_start(&data_dir, &[]).await;
    assert!(said.contains("is not a Trellis keyring"), "{said}");

    // Its own keyring back: the plans read as before, and new events seal.
    std::fs::rename(&aside, &keyring).unwrap();
    let server = Server::start_in(&data_dir).await;
    let emma = title(&server, "sealed-keys", &demo.plan("emma-lee")).await;
    assert!(emma.contains("Emma Lee"), "{emma}");
    server.stop().await;
    drop(dir);
}

#[tokio::test]
async fn rotating_a_tenant_key_while_serving_keeps_every_plan_readable() {
    let server = Server::start().await;
    let demo = run_demo(&server, "sealed-rotate");
    let data = server.data_dir.to_str().unwrap().to_owned();

    let rotated = trellis_cli(&[
        "keys",
        "rotate",
        "--tenant",
        "sealed-rotate",
        "--data-dir",
        &data,
    ])
    .output()
    .unwrap();
    let said = String::from_utf8_lossy(&rotated.stdout).into_owned();
    assert!(rotated.status.success(), "{rotated:?}");
    assert!(
        said.contains("version 2 is current; 2 data key(s) wrapped again"),
        "{said}"
    );
    let versions = || {
        let keyring: serde_json::Value =
            serde_json::from_slice(&std::fs::read(server.data_dir.join("keyring.json")).unwrap())
                .unwrap();
        keyring["tenants"]["sealed-rotate"]["keys"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect::<Vec<_>>()
    };
    // The version replaced is kept until the next rotation destroys it.
    assert_eq!(versions(), ["1", "2"]);
    let again = trellis_cli(&[
        "keys",
        "rotate",
        "--tenant",
        "sealed-rotate",
        "--data-dir",
        &data,
    ])
    .output()
    .unwrap();
    assert!(again.status.success(), "{again:?}");
    assert_eq!(versions(), ["2", "3"], "version 1 destroyed");

    // Serving on: a new client's plan is sealed under the new version, and
    // after a restart (keys unwrapped afresh) every plan reads.
    let mut plans = server
        .plans(&crate::harness::clinician_token("sealed-rotate"))
        .await;
    crate::harness::create_plan(&mut plans).await;
    let dir = server
        .stop()
        .await
        .expect("the server's own data directory");
    let restarted = Server::start_in(dir.path()).await;
    for key in ["emma-lee", "doug-mcgee"] {
        let plan = restarted
            .graphql(
                &token_in("sealed-rotate", "auditor-1", &[Role::Auditor], &[]),
                "query($id: ID!) { planHistory(id: $id) { events { eventType } } }",
                json!({ "id": demo.plan(key) }),
            )
            .await;
        assert!(plan.to_string().contains("PlanCreated"), "{plan}");
    }
    let status = trellis_cli(&["keys", "status", "--data-dir", &data])
        .output()
        .unwrap();
    let status = String::from_utf8_lossy(&status.stdout).into_owned();
    assert!(
        status.contains("wrapped by key version(s) 3; the keyring opens them"),
        "{status}"
    );
    restarted.stop().await;
    // Rotation rewrote no event: the chain still verifies.
    let verified = trellis_cli(&["audit", "verify", "--data-dir", &data])
        .output()
        .unwrap();
    assert!(verified.status.success(), "{verified:?}");
    drop(dir);
}

#[tokio::test]
async fn an_offboarded_tenant_is_exported_then_unreadable_and_others_are_untouched() {
    let server = Server::start().await;
    let leaving = run_demo(&server, "sealed-leaving");
    let staying = run_demo(&server, "sealed-staying");
    let dir = server
        .stop()
        .await
        .expect("the server's own data directory");
    let data = dir.path().to_str().unwrap().to_owned();
    let export = tempfile::tempdir().unwrap();
    let export_to = export.path().join("sealed-leaving");

    // The confirmation must repeat the tenant: nothing happens otherwise.
    let refused = trellis_cli(&[
        "admin",
        "offboard-tenant",
        "--data-dir",
        &data,
        "--tenant",
        "sealed-leaving",
        "--export-to",
        export_to.to_str().unwrap(),
        "--confirm",
        "sealed-staying",
    ])
    .output()
    .unwrap();
    assert!(!refused.status.success());
    assert!(!export_to.exists());

    let done = trellis_cli(&[
        "admin",
        "offboard-tenant",
        "--data-dir",
        &data,
        "--tenant",
        "sealed-leaving",
        "--export-to",
        export_to.to_str().unwrap(),
        "--confirm",
        "sealed-leaving",
    ])
    .output()
    .unwrap();
    let said = String::from_utf8_lossy(&done.stdout).into_owned();
    assert!(done.status.success(), "{done:?}");
    assert!(
        said.contains("2 data key(s) and the tenant's key-encryption key destroyed"),
        "{said}"
    );

    // The export holds the tenant's records in clear (its files 0600), and
    // only this tenant's; the manifest names the record's heads and sums.
    let events = std::fs::read_to_string(export_to.join("events.jsonl")).unwrap();
    assert!(events.contains("machinist") && events.contains("PlanCreated"));
    assert!(!events.contains("sealed-staying"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(export_to.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["tenant"], "sealed-leaving");
    assert_eq!(
        manifest["events"].as_u64().unwrap(),
        events.lines().count() as u64
    );
    assert!(manifest["heads"].as_array().unwrap().len() >= 2);
    // The plans as FHIR R4 too, as `$export` writes them: both care plans,
    // their goals and conditions, in the manifest with their sums; and the
    // export's own reads are in the exported access log.
    let care_plans = std::fs::read_to_string(export_to.join("fhir/CarePlan.ndjson")).unwrap();
    assert_eq!(care_plans.lines().count(), 2, "{care_plans}");
    assert!(
        care_plans.contains("Doug McGee") && care_plans.contains("\"resourceType\":\"CarePlan\"")
    );
    let goals = std::fs::read_to_string(export_to.join("fhir/Goal.ndjson")).unwrap();
    assert!(goals.lines().count() >= 7, "{goals}");
    let listed: Vec<&str> = manifest["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    for expected in [
        "fhir/CarePlan.ndjson",
        "fhir/Goal.ndjson",
        "fhir/Condition.ndjson",
    ] {
        assert!(listed.contains(&expected), "{listed:?}");
    }
    let fhir_counts = manifest["fhir_resources"].as_array().unwrap();
    assert!(
        fhir_counts
            .iter()
            .any(|f| f["file"] == "fhir/CarePlan.ndjson" && f["count"] == 2)
    );
    let access = std::fs::read_to_string(export_to.join("access-log.jsonl")).unwrap();
    assert!(access.contains("offboard-export"), "{access}");
    for file in [
        "events.jsonl",
        "access-log.jsonl",
        "manifest.json",
        "fhir/CarePlan.ndjson",
    ] {
        let mode = std::fs::metadata(export_to.join(file))
            .unwrap()
            .permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
    }

    // Afterwards: the keyring knows the tenant no more, its plans read as
    // nothing, the other tenant reads as before, and the chain verifies.
    let keyring = std::fs::read_to_string(dir.path().join("keyring.json")).unwrap();
    assert!(!keyring.contains("sealed-leaving"));
    let server = Server::start_in(dir.path()).await;
    assert_eq!(
        title(&server, "sealed-leaving", &leaving.plan("doug-mcgee")).await,
        ""
    );
    // The read models were dropped with the tenant's index rows; the
    // other tenant's plans come back as they are rebuilt.
    let mut staying_title = String::new();
    for _ in 0..200 {
        staying_title = title(&server, "sealed-staying", &staying.plan("doug-mcgee")).await;
        if !staying_title.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(staying_title.contains("Doug McGee"), "{staying_title}");
    // Rebuilt past the leaving tenant's events (the staying tenant's came
    // after them): no row of it was written again.
    for file in files_named(dir.path(), &["read-models.db"]) {
        let bytes = std::fs::read(&file).unwrap();
        assert!(!holds(&bytes, "sealed-leaving"), "{}", file.display());
    }
    server.stop().await;
    let verified = trellis_cli(&["audit", "verify", "--data-dir", &data])
        .output()
        .unwrap();
    assert!(verified.status.success(), "{verified:?}");
    drop(dir);
}
