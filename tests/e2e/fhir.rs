//! FHIR R4 in and out: the demo plans exported as resources that an
//! independent validator (fhir.resources' R4B models, tests/fhir) accepts
//! with the US Core must-support elements; searches paged; the access log
//! as AuditEvents; scores posted back into a fresh tenant's plan equal;
//! refusals that state the rule, name the element and write nothing.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};
use trellis_auth::Role;
use trellis_proto::plans::v1 as pb;

use crate::harness::{Server, command_id, fresh_tenant, run_demo, token, token_in};

fn validator() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fhir/.venv/bin/python")
}

/// Whether the validator is installed (`./scripts/fhir-deps`); the suite
/// requires it under `./scripts/test`.
fn validator_available() -> bool {
    let found = validator().exists();
    if !found {
        assert!(
            std::env::var("TRELLIS_REQUIRE_FHIR_VALIDATOR").as_deref() != Ok("1"),
            "the FHIR tests need tests/fhir/.venv: run ./scripts/fhir-deps"
        );
        eprintln!("FHIR validation skipped: run ./scripts/fhir-deps (./scripts/test does)");
    }
    found
}

/// Runs the independent validator over `documents`; its verdict.
fn validate(documents: &[(&str, &Value)]) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let mut paths = Vec::new();
    for (name, document) in documents {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(&path, serde_json::to_vec(document).unwrap()).unwrap();
        paths.push(path);
    }
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fhir/validate.py");
    let out = Command::new(validator())
        .arg(script)
        .args(&paths)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

struct Fhir<'a> {
    server: &'a Server,
    token: String,
}

impl Fhir<'_> {
    async fn get(&self, path: &str) -> (u16, Value) {
        let response = reqwest::Client::new()
            .get(format!("{}/fhir/r4/{path}", self.server.http))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        if status < 400 {
            assert_eq!(
                response.headers()["content-type"],
                "application/fhir+json; charset=utf-8"
            );
        }
        (status, response.json().await.unwrap())
    }

    async fn ok(&self, path: &str) -> Value {
        let (status, body) = self.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = reqwest::Client::new()
            .post(format!("{}/fhir/r4{path}", self.server.http))
            .bearer_auth(&self.token)
            .header("content-type", "application/fhir+json")
            .json(body)
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.json().await.unwrap())
    }
}

fn resources<'a>(bundle: &'a Value, kind: &str) -> Vec<&'a Value> {
    bundle["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["resource"])
        .filter(|r| r["resourceType"] == kind)
        .collect()
}

fn scores(bundle: &Value) -> Vec<(String, String, i64)> {
    let mut all: Vec<(String, String, i64)> = resources(bundle, "Observation")
        .into_iter()
        .map(|o| {
            (
                o["code"]["coding"][0]["code"].as_str().unwrap().to_owned(),
                o["effectiveDateTime"].as_str().unwrap().to_owned(),
                o["valueQuantity"]["value"].as_i64().unwrap(),
            )
        })
        .collect();
    all.sort();
    all
}

#[tokio::test]
async fn the_demo_plans_export_as_valid_us_core_resources() {
    if !validator_available() {
        return;
    }
    let server = Server::start().await;
    let demo = run_demo(&server, "demo");
    let clinician = Fhir {
        server: &server,
        token: token_in("demo", "dr-rivera", &[Role::Clinician], &["main-street"]),
    };
    let auditor = Fhir {
        server: &server,
        token: token("demo", "compliance-auditor", &[Role::Auditor]),
    };
    let emma = demo.plan("emma-lee");
    let doug = demo.plan("doug-mcgee");

    let metadata = clinician.ok("metadata").await;
    assert_eq!(metadata["fhirVersion"], "4.0.1");
    let everything_emma = clinician.ok(&format!("CarePlan/{emma}/$everything")).await;
    let everything_doug = clinician.ok(&format!("CarePlan/{doug}/$everything")).await;
    let care_plan = clinician.ok(&format!("CarePlan/{doug}")).await;
    let active = clinician
        .ok("CarePlan?subject=Patient/client-2087&status=active")
        .await;
    let phq9_series = clinician
        .ok("Observation?subject=Patient/client-2087&code=http://loinc.org|44261-6")
        .await;
    let as_signed = auditor.ok(&format!("CarePlan/{doug}/_history/3")).await;
    let reads = auditor
        .ok(&format!("AuditEvent?entity=CarePlan/{doug}"))
        .await;
    let code_system = clinician.ok("CodeSystem/instruments").await;

    let (valid, said) = validate(&[
        ("metadata", &metadata),
        ("everything-emma", &everything_emma),
        ("everything-doug", &everything_doug),
        ("careplan", &care_plan),
        ("search-careplan", &active),
        ("search-observation", &phq9_series),
        ("vread", &as_signed),
        ("auditevents", &reads),
        ("codesystem", &code_system),
    ]);
    assert!(valid, "{said}");
    assert!(said.starts_with("ok: "), "{said}");

    // What the bundle holds, in the codes the issue names.
    assert_eq!(care_plan["intent"], "plan");
    assert_eq!(care_plan["category"][0]["coding"][0]["code"], "assess-plan");
    assert_eq!(care_plan["subject"]["reference"], "Patient/client-2087");
    let conditions = resources(&everything_doug, "Condition");
    let codes: Vec<&str> = conditions
        .iter()
        .map(|c| c["code"]["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["F32.1", "F10.10"]);
    assert_eq!(
        conditions[0]["code"]["coding"][0]["system"],
        "http://hl7.org/fhir/sid/icd-10-cm"
    );
    let goals = resources(&everything_doug, "Goal");
    assert!(goals.iter().any(|g| {
        g["target"][0]["measure"]["coding"][0]["code"] == "44261-6"
            && g["target"][0]["detailRange"]["high"]["value"].is_number()
    }));
    assert!(goals.iter().any(|g| {
        g["extension"][0]["extension"][0]["valueCodeableConcept"]["coding"][0]["code"]
            == "milestone"
    }));
    let observations = resources(&everything_doug, "Observation");
    let observed: Vec<&str> = observations
        .iter()
        .map(|o| o["code"]["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(observed, ["44249-1", "44261-6", "44260-8"]);
    assert!(observations[1]["interpretation"][0]["coding"][0]["code"].is_string());
    let emma_codes: Vec<&str> = resources(&everything_emma, "Observation")
        .iter()
        .map(|o| o["code"]["coding"][0]["code"].as_str().unwrap())
        .collect();
    assert!(emma_codes.contains(&"70274-6") && emma_codes.contains(&"pswq-total"));
    let responses = resources(&everything_doug, "QuestionnaireResponse");
    assert_eq!(responses[0]["questionnaire"], "http://loinc.org/q/44249-1");
    // The author, then the clinician's, client's and supervisor's signatures.
    let provenance = resources(&everything_doug, "Provenance");
    assert_eq!(provenance.len(), 4);
    assert!(
        provenance[1]["target"][0]["reference"]
            .as_str()
            .unwrap()
            .contains("/_history/")
    );
    assert_eq!(resources(&everything_doug, "Consent").len(), 1);
    assert_eq!(active["type"], "searchset");
    assert_eq!(resources(&active, "CarePlan").len(), 1);
    assert_eq!(phq9_series["total"], 1);
    assert_eq!(as_signed["meta"]["versionId"], "3");
    // Every read above is in the access log, through the FHIR API.
    let fhir_reads = resources(&reads, "AuditEvent")
        .into_iter()
        .filter(|e| e["entity"][0]["detail"][1]["valueString"] == "fhir")
        .count();
    assert!(fhir_reads >= 3, "{reads}");
}

#[tokio::test]
async fn searches_page_with_next_links() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let clinician = token(&tenant, "clin-1", &[Role::Clinician]);
    let mut plans = server.plans(&clinician).await;
    let mut plan_ids = Vec::new();
    for _ in 0..3 {
        plan_ids.push(crate::harness::create_plan(&mut plans).await.plan_id);
    }
    let fhir = Fhir {
        server: &server,
        token: clinician,
    };
    let seen = every_page(
        &fhir,
        "CarePlan?subject=Patient/client-1&_count=2",
        "CarePlan",
    )
    .await;
    assert_eq!(seen.len(), 3, "every plan once across the pages: {seen:?}");

    // Five GAD-7 totals into the first plan (the client has three open
    // ones: basedOn names it), read back two a page, oldest first.
    for day in 1..=5 {
        let observation = json!({
            "resourceType": "Observation",
            "identifier": [{ "system": "urn:test", "value": format!("gad7-{day}") }],
            "status": "final",
            "code": { "coding": [{ "system": "http://loinc.org", "code": "70274-6" }] },
            "subject": { "reference": "Patient/client-1" },
            "basedOn": [{ "reference": format!("CarePlan/{}", plan_ids[0]) }],
            "effectiveDateTime": format!("2026-11-0{day}"),
            "valueInteger": 10 - day,
        });
        let (status, answer) = fhir.post("/Observation", &observation).await;
        assert_eq!(status, 201, "{answer}");
    }
    let seen = every_page(
        &fhir,
        "Observation?subject=Patient/client-1&code=70274-6&_count=2",
        "Observation",
    )
    .await;
    assert_eq!(seen.len(), 5, "every score once across the pages: {seen:?}");
}

/// Follows `next` links from `path`; the ids of `kind` seen, in order,
/// each once (a repeat fails the test).
async fn every_page(fhir: &Fhir<'_>, path: &str, kind: &str) -> Vec<String> {
    let mut seen: Vec<String> = Vec::new();
    let mut path = path.to_owned();
    for _ in 0..10 {
        let page = fhir.ok(&path).await;
        for resource in resources(&page, kind) {
            let id = resource["id"].as_str().unwrap().to_owned();
            assert!(!seen.contains(&id), "{id} on two pages");
            seen.push(id);
        }
        let next = page["link"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["relation"] == "next")
            .map(|l| l["url"].as_str().unwrap().to_owned());
        match next {
            Some(url) => path = url.split_once("/fhir/r4/").unwrap().1.to_owned(),
            None => return seen,
        }
    }
    panic!("more than 10 pages");
}

/// A new open plan of `client`, once listed (where a measure for the
/// subject looks for it).
async fn open_plan_for(server: &Server, token: &str, client: &str) -> String {
    let mut plans = server.plans(token).await;
    let plan_id = plans
        .create_plan(pb::CreatePlanRequest {
            command_id: command_id(),
            plan_id: String::new(),
            client_id: client.into(),
            primary_clinician_id: "clin-1".into(),
            clinic_id: "clinic-a".into(),
            title: "Imported scores".into(),
            payer: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .plan_id;
    server.listed_for_client(token, client, &plan_id).await;
    plan_id
}

/// A resource exported here, ready to send elsewhere: `basedOn` named a
/// plan of this server, which the receiver does not have.
fn portable(resource: &Value) -> Value {
    let mut resource = resource.clone();
    let object = resource.as_object_mut().unwrap();
    object.remove("basedOn");
    object.remove("id");
    resource
}

#[tokio::test]
async fn exported_scores_posted_into_a_fresh_tenant_are_equal() {
    let server = Server::start().await;
    let demo = run_demo(&server, "demo");
    let source = Fhir {
        server: &server,
        token: token_in("demo", "dr-rivera", &[Role::Clinician], &["main-street"]),
    };
    let tenant = fresh_tenant();
    let target = Fhir {
        server: &server,
        token: token(&tenant, "clin-1", &[Role::Clinician]),
    };
    for client in ["client-1042", "client-2087"] {
        open_plan_for(&server, &target.token, client).await;
    }

    // Doug's PHQ-9 arrives item by item: item 9 raises the safety flag.
    let doug = source
        .ok(&format!("CarePlan/{}/$everything", demo.plan("doug-mcgee")))
        .await;
    let response = portable(resources(&doug, "QuestionnaireResponse")[0]);
    let (status, created) = target.post("/QuestionnaireResponse", &response).await;
    assert_eq!(status, 201, "{created}");
    let (again, _) = target.post("/QuestionnaireResponse", &response).await;
    assert_eq!(again, 200, "the same identifier records nothing new");
    let flags = server
        .graphql(
            &target.token,
            "{ openSafetyFlags { flag { reason } } }",
            json!({}),
        )
        .await;
    assert_eq!(flags["openSafetyFlags"].as_array().unwrap().len(), 1);

    // Every total, both clients, in one transaction; Doug's PHQ-9 total is
    // the measure just recorded (same identifier) and is recognised.
    let mut exported = Vec::new();
    let mut expected = Vec::new();
    for client in ["client-1042", "client-2087"] {
        let series = source
            .ok(&format!("Observation?subject=Patient/{client}"))
            .await;
        expected.extend(scores(&series));
        exported.extend(resources(&series, "Observation").into_iter().map(portable));
    }
    let entries: Vec<Value> = exported
        .iter()
        .map(|o| json!({ "request": { "method": "POST", "url": "Observation" }, "resource": o }))
        .collect();
    let (status, answer) = target
        .post(
            "",
            &json!({ "resourceType": "Bundle", "type": "transaction", "entry": entries }),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], "transaction-response");
    let statuses: Vec<&str> = answer["entry"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["response"]["status"].as_str().unwrap())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == "200 OK").count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == "201 Created").count(),
        exported.len() - 1
    );

    let mut imported = Vec::new();
    for client in ["client-1042", "client-2087"] {
        let series = target
            .ok(&format!("Observation?subject=Patient/{client}"))
            .await;
        imported.extend(scores(&series));
    }
    expected.sort();
    imported.sort();
    assert_eq!(imported, expected);
}

async fn measures_of(server: &Server, token: &str, plan: &str) -> usize {
    let data = server
        .graphql(
            token,
            "query($id: ID!) { plan(id: $id) { measures { id } } }",
            json!({ "id": plan }),
        )
        .await;
    data["plan"]["measures"].as_array().unwrap().len()
}

#[tokio::test]
async fn refusals_state_the_rule_and_record_nothing() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let clinician = token(&tenant, "clin-1", &[Role::Clinician]);
    let plan = open_plan_for(&server, &clinician, "client-7").await;
    let fhir = Fhir {
        server: &server,
        token: clinician.clone(),
    };
    let total = |identifier: &str, value: i64| {
        json!({
            "resourceType": "Observation",
            "identifier": [{ "system": "urn:test", "value": identifier }],
            "status": "final",
            "code": { "coding": [{ "system": "https://trellis.health/fhir/CodeSystem/instruments", "code": "pswq-total" }] },
            "subject": { "reference": "Patient/client-7" },
            "effectiveDateTime": "2026-11-30",
            "valueInteger": value,
        })
    };

    // A questionnaire answered with a made-up item: the rule and where,
    // never the value sent.
    let secret = "patient-said-something-private";
    let response = json!({
        "resourceType": "QuestionnaireResponse",
        "questionnaire": "http://loinc.org/q/69737-5",
        "status": "completed",
        "subject": { "reference": "Patient/client-7" },
        "authored": "2026-11-30",
        "item": [{ "linkId": secret, "answer": [{ "valueInteger": 1 }] }],
    });
    let (status, outcome) = fhir.post("/QuestionnaireResponse", &response).await;
    assert_eq!(status, 400);
    assert_eq!(outcome["resourceType"], "OperationOutcome");
    let text = outcome.to_string();
    assert!(!text.contains(secret), "{text}");
    let expressions: Vec<&str> = outcome["issue"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["expression"][0].as_str())
        .collect();
    assert!(
        expressions.contains(&"QuestionnaireResponse.item[0].linkId"),
        "{text}"
    );
    assert!(
        expressions.contains(&"QuestionnaireResponse.identifier"),
        "{text}"
    );

    // The domain's rule, in the API's words: a PSWQ total runs 16-80.
    let (status, outcome) = fhir.post("/Observation", &total("o-1", 99)).await;
    assert_eq!(status, 400, "{outcome}");
    assert!(
        outcome.to_string().contains("must be between 16 and 80"),
        "{outcome}"
    );

    // A transaction with one refused entry records none of them.
    let bundle = json!({ "resourceType": "Bundle", "type": "transaction", "entry": [
        { "request": { "method": "POST", "url": "Observation" }, "resource": total("o-2", 40) },
        { "request": { "method": "POST", "url": "Observation" }, "resource": total("o-3", 99) },
    ]});
    let (status, outcome) = fhir.post("", &bundle).await;
    assert_eq!(status, 400, "{outcome}");
    assert_eq!(
        outcome["issue"][0]["expression"][0],
        "Bundle.entry[1].resource"
    );
    assert_eq!(measures_of(&server, &clinician, &plan).await, 0);

    // Without a token, with another tenant's, or for a plan outside the
    // caller's care: nothing is shown, and hidden reads like missing.
    let anonymous = reqwest::get(format!("{}/fhir/r4/CarePlan/{plan}", server.http))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 401);
    let outsider = Fhir {
        server: &server,
        token: token(&fresh_tenant(), "clin-1", &[Role::Clinician]),
    };
    let (hidden, _) = outsider.get(&format!("CarePlan/{plan}")).await;
    let (missing, _) = outsider
        .get("CarePlan/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!((hidden, missing), (404, 404));
    let (status, _) = outsider.post("/Observation", &total("o-4", 40)).await;
    assert_eq!(status, 422, "no open plan of this subject is visible");
    assert_eq!(measures_of(&server, &clinician, &plan).await, 0);

    // A misspelt search parameter is refused, not ignored.
    let (status, outcome) = fhir.get("CarePlan?subjekt=Patient/client-7").await;
    assert_eq!(status, 400, "{outcome}");

    // `_format` that rules out JSON is 406 on every route, writes and the
    // public terminology included, and nothing is recorded.
    let (status, _) = fhir.get("metadata?_format=xml").await;
    assert_eq!(status, 406);
    let (status, _) = fhir.get("CodeSystem/instruments?_format=xml").await;
    assert_eq!(status, 406);
    let (status, _) = fhir
        .post("/Observation?_format=xml", &total("o-x", 40))
        .await;
    assert_eq!(status, 406);
    assert_eq!(measures_of(&server, &clinician, &plan).await, 0);

    // Another method on a served path: an OperationOutcome, not a bare 405.
    let put = reqwest::Client::new()
        .put(format!("{}/fhir/r4/CarePlan/{plan}", server.http))
        .bearer_auth(&clinician)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 404);
    let outcome: Value = put.json().await.unwrap();
    assert_eq!(outcome["issue"][0]["code"], "not-supported");

    // An identifier used again with other values is another questionnaire
    // claiming a recorded one's name: refused, the first kept.
    let (status, _) = fhir.post("/Observation", &total("o-5", 40)).await;
    assert_eq!(status, 201);
    let (status, outcome) = fhir.post("/Observation", &total("o-5", 41)).await;
    assert_eq!(status, 409, "{outcome}");
    assert_eq!(
        outcome["issue"][0]["expression"][0],
        "Observation.identifier"
    );
    assert_eq!(measures_of(&server, &clinician, &plan).await, 1);

    // A batch answers each entry on its own: one recorded, one refused.
    let batch = json!({ "resourceType": "Bundle", "type": "batch", "entry": [
        { "request": { "method": "POST", "url": "Observation" }, "resource": total("o-6", 44) },
        { "request": { "method": "POST", "url": "Observation" }, "resource": total("o-7", 99) },
    ]});
    let (status, answer) = fhir.post("", &batch).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["type"], "batch-response");
    assert_eq!(answer["entry"][0]["response"]["status"], "201 Created");
    assert_eq!(answer["entry"][1]["response"]["status"], "400 Bad Request");
    assert_eq!(
        answer["entry"][1]["response"]["outcome"]["issue"][0]["expression"][0],
        "Bundle.entry[1].resource"
    );
    assert_eq!(measures_of(&server, &clinician, &plan).await, 2);
}

#[tokio::test]
async fn a_bulk_export_writes_every_readable_plan_as_ndjson() {
    if !validator_available() {
        return;
    }
    let server = Server::start().await;
    run_demo(&server, "demo");
    let clinician = token_in("demo", "dr-rivera", &[Role::Clinician], &["main-street"]);
    let http = reqwest::Client::new();
    let base = format!("{}/fhir/r4", server.http);

    // The kick-off must ask for the asynchronous answer.
    let refused = http
        .get(format!("{base}/$export"))
        .bearer_auth(&clinician)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);

    let kicked = http
        .get(format!("{base}/$export?_type=CarePlan,Observation"))
        .bearer_auth(&clinician)
        .header("prefer", "respond-async")
        .send()
        .await
        .unwrap();
    assert_eq!(kicked.status(), 202);
    let status_url = kicked.headers()["content-location"]
        .to_str()
        .unwrap()
        .to_owned();

    // Someone else cannot watch it.
    let other = token_in("demo", "dr-okafor", &[Role::Supervisor], &["main-street"]);
    let peek = http
        .get(&status_url)
        .bearer_auth(&other)
        .send()
        .await
        .unwrap();
    assert_eq!(peek.status(), 404);

    let mut manifest = Value::Null;
    for _ in 0..100 {
        let polled = http
            .get(&status_url)
            .bearer_auth(&clinician)
            .send()
            .await
            .unwrap();
        if polled.status() == 200 {
            manifest = polled.json().await.unwrap();
            break;
        }
        assert_eq!(polled.status(), 202);
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(manifest["requiresAccessToken"], true, "{manifest}");
    let outputs = manifest["output"].as_array().unwrap();
    let kinds: Vec<&str> = outputs
        .iter()
        .map(|o| o["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["CarePlan", "Observation"]);
    assert_eq!(outputs[0]["count"], 2, "both demo plans");

    let mut documents = Vec::new();
    for output in outputs {
        let url = output["url"].as_str().unwrap();
        let anonymous = http.get(url).send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "files need the token");
        // Asked for as what it is: NDJSON (JSON alone is not it).
        let only_json = http
            .get(url)
            .bearer_auth(&clinician)
            .header("accept", "application/fhir+json")
            .send()
            .await
            .unwrap();
        assert_eq!(only_json.status(), 406);
        let file = http
            .get(url)
            .bearer_auth(&clinician)
            .header("accept", "application/fhir+ndjson")
            .send()
            .await
            .unwrap();
        assert_eq!(file.status(), 200);
        assert_eq!(file.headers()["content-type"], "application/fhir+ndjson");
        let text = file.text().await.unwrap();
        let lines: Vec<Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len() as u64, output["count"].as_u64().unwrap());
        documents.extend(lines);
    }
    let named: Vec<(String, &Value)> = documents
        .iter()
        .enumerate()
        .map(|(n, d)| (format!("ndjson-{n}"), d))
        .collect();
    let refs: Vec<(&str, &Value)> = named.iter().map(|(n, d)| (n.as_str(), *d)).collect();
    let (valid, said) = validate(&refs);
    assert!(valid, "{said}");

    // Deleted, it is gone.
    let deleted = http
        .delete(&status_url)
        .bearer_auth(&clinician)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), 202);
    let gone = http
        .get(&status_url)
        .bearer_auth(&clinician)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
}
