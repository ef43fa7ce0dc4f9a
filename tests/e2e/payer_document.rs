//! The payer document: a fully signed plan as a PDF whose text (read by
//! poppler's `pdftotext`) holds the plan's goals, objectives and
//! signatures, and whose seal `trellis audit check-document` finds in the
//! record — and a tampered seal it does not.

use std::process::Command;

use trellis_auth::Role;

use crate::harness::{Server, run_demo, token, trellis_cli};

/// Whether `pdftotext` is here; the suite requires it under
/// `./scripts/test`, which installs it.
fn pdftotext_available() -> bool {
    let found = Command::new("pdftotext").arg("-v").output().is_ok();
    if !found {
        assert!(
            std::env::var("TRELLIS_REQUIRE_BROWSER").as_deref() != Ok("1"),
            "the payer document test needs pdftotext: run ./scripts/browser-deps"
        );
        eprintln!("payer document test skipped: no pdftotext (./scripts/browser-deps installs it)");
    }
    found
}

/// A console session of the demo's clinician, by the development sign-in.
async fn console_session(http: &str) -> String {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client
        .get(format!("{http}/console/sign-in"))
        .send()
        .await
        .unwrap();
    let nonce_cookie = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("trellis_console_sign_in="))
        .unwrap();
    let nonce = nonce_cookie.split_once('=').unwrap().1.to_owned();
    let signed_in = client
        .post(format!("{http}/console/sign-in"))
        .header("cookie", &nonce_cookie)
        .form(&[("nonce", nonce.as_str()), ("person", "0")])
        .send()
        .await
        .unwrap();
    signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("trellis_console="))
        .expect("a session")
}

/// `trellis audit check-document` on `pdf`, as an auditor.
fn check_document(grpc: &str, auditor: &str, pdf: &std::path::Path) -> std::process::Output {
    let pdf = pdf.to_str().unwrap();
    trellis_cli(&[
        "audit",
        "check-document",
        "--grpc-addr",
        grpc,
        "--token",
        auditor,
        pdf,
    ])
    .output()
    .unwrap()
}

/// The payer document of `plan`, asked for with the console `session`.
async fn payer_document(http: &str, session: &str, plan: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{http}/console/plans/{plan}/document.pdf"))
        .header("cookie", session)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_payer_document_holds_the_plan_and_its_seal_is_in_the_record() {
    if !pdftotext_available() {
        return;
    }
    let server = Server::start().await;
    let demo = run_demo(&server, "demo");
    let session = console_session(&server.http).await;
    let dir = tempfile::tempdir().unwrap();
    let auditor = token("demo", "auditor-1", &[Role::Auditor]);
    let grpc = server.grpc.trim_start_matches("http://").to_owned();
    for (key, expected) in [
        (
            "doug-mcgee",
            &[
                "F32.1 Major depressive disorder",
                "Decrease thoughts related to suicidal ideation",
                "from 2-3 times per day to 0 times per day",
                "53 minutes per session",
                "PHQ-9 total over time",
                "supervisor Chidi Okafor (dr-okafor) PhD, LCSW",
            ][..],
        ),
        (
            "emma-lee",
            &[
                "F41.1 Generalized anxiety disorder",
                "Reduce frequency and intensity of excessive worry",
                "Penn State Worry Questionnaire",
                "PSWQ total over time",
                "client-1042",
            ][..],
        ),
    ] {
        let plan = demo.plan(key);
        let response = payer_document(&server.http, &session, &plan).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/pdf");
        let pdf = dir.path().join(format!("{key}.pdf"));
        std::fs::write(&pdf, response.bytes().await.unwrap()).unwrap();
        let text = pdf_text(&pdf);
        for phrase in expected.iter().chain(&[
            "Signatures",
            "clinician Ana Rivera (dr-rivera) PsyD, LP",
            "Primary clinician: Ana Rivera (dr-rivera), PsyD, LP",
        ]) {
            assert!(
                text.contains(phrase),
                "{key}: {phrase:?} missing from:\n{text}"
            );
        }
        assert!(
            text.contains(&format!("Trellis treatment plan {plan}")),
            "the footer"
        );

        let check = check_document(&grpc, &auditor, &pdf);
        let said = String::from_utf8_lossy(&check.stdout);
        assert!(
            check.status.success(),
            "{said}{}",
            String::from_utf8_lossy(&check.stderr)
        );
        assert!(said.starts_with("OK: made from plan"), "{said}");

        // The same document claiming another record state is caught.
        let bytes = std::fs::read(&pdf).unwrap();
        let seal = b"trellis-record=";
        let at = bytes.windows(seal.len()).position(|w| w == seal).unwrap() + seal.len();
        let mut forged = bytes.clone();
        forged[at] = if forged[at] == b'0' { b'1' } else { b'0' };
        let forged_path = dir.path().join(format!("{key}-forged.pdf"));
        std::fs::write(&forged_path, forged).unwrap();
        let check = check_document(&grpc, &auditor, &forged_path);
        assert!(!check.status.success());
        assert!(String::from_utf8_lossy(&check.stderr).contains("does NOT match the record"));
    }
}

/// `pdf`'s text (`-layout` keeps a table's row on one line) with runs of
/// spaces collapsed (lines wrap where the page ends).
fn pdf_text(pdf: &std::path::Path) -> String {
    let text = Command::new("pdftotext")
        .arg("-layout")
        .arg(pdf)
        .arg("-")
        .output()
        .unwrap();
    assert!(text.status.success());
    String::from_utf8_lossy(&text.stdout)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn while_a_change_awaits_signatures_the_document_shows_the_last_signed_version() {
    if !pdftotext_available() {
        return;
    }
    let server = Server::start().await;
    let plan = run_demo(&server, "demo").plan("emma-lee");
    let clinician =
        crate::harness::token_in("demo", "dr-rivera", &[Role::Clinician], &["main-street"]);
    let before = server
        .graphql(
            &clinician,
            "query($id: ID!) { plan(id: $id) { version planVersion } }",
            serde_json::json!({ "id": plan }),
        )
        .await;
    let signed_revision = before["plan"]["version"].as_u64().unwrap();
    let signed_content = before["plan"]["planVersion"].as_u64().unwrap();
    let mut plans = server.plans(&clinician).await;
    let added = plans
        .add_goal(crate::harness::add_goal_request(&plan, "Walk daily"))
        .await
        .unwrap()
        .into_inner();
    server
        .plan_at_version(&clinician, &plan, added.revision)
        .await;

    // GraphQL: the signed state is the one before the change.
    let data = server
        .graphql(
            &clinician,
            "query($id: ID!) { plan(id: $id) { planVersion pendingSignatures signedVersion { version planVersion goals { description } } } }",
            serde_json::json!({ "id": plan }),
        )
        .await;
    let signed = &data["plan"]["signedVersion"];
    assert_eq!(data["plan"]["planVersion"], signed_content + 1);
    assert_eq!(signed["version"], signed_revision);
    assert_eq!(signed["planVersion"], signed_content);
    assert!(!signed["goals"].to_string().contains("Walk daily"));
    assert!(
        data["plan"]["pendingSignatures"]
            .to_string()
            .contains("CLINICIAN")
    );

    // Replays are bounded: one plan per request.
    let (_, listed) = server
        .graphql_raw(
            Some(&clinician),
            "{ plans(first: 10) { nodes { signedVersion { version } } } }",
            serde_json::json!({}),
        )
        .await;
    let errors = listed["errors"].to_string();
    assert!(
        errors.contains(
            "signedVersion is replayed from a plan's history: select it for one plan per request"
        ) && errors.contains("BAD_USER_INPUT"),
        "{listed}"
    );
    // Aliases do not multiply it either: the second is refused.
    let (_, aliased) = server
        .graphql_raw(
            Some(&clinician),
            "query($id: ID!) { a: plan(id: $id) { signedVersion { version } } b: plan(id: $id) { signedVersion { version } } }",
            serde_json::json!({ "id": plan }),
        )
        .await;
    assert_eq!(
        aliased["errors"].as_array().map(Vec::len),
        Some(1),
        "{aliased}"
    );
    assert_eq!(aliased["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");

    // The document is made from that state and says why.
    let session = console_session(&server.http).await;
    let response = payer_document(&server.http, &session, &plan).await;
    assert_eq!(response.status(), 200);
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("emma.pdf");
    std::fs::write(&pdf, response.bytes().await.unwrap()).unwrap();
    let text = pdf_text(&pdf);
    assert!(!text.contains("Walk daily"), "{text}");
    for phrase in [
        format!(
            "Content version {} (a later change, which may correct this one) still needs the clinician and client signature; this document shows content version {signed_content}, the last fully signed. The plan is now active.",
            signed_content + 1
        ),
        format!("Trellis treatment plan {plan} · version {signed_revision} "),
        "Reduce frequency and intensity of excessive worry".to_owned(),
    ] {
        assert!(text.contains(&phrase), "{phrase:?} missing from:\n{text}");
    }
    let auditor = token("demo", "auditor-1", &[Role::Auditor]);
    let grpc = server.grpc.trim_start_matches("http://").to_owned();
    let check = check_document(&grpc, &auditor, &pdf);
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );

    // The access log says which version the document disclosed, and what.
    let log = server
        .graphql(
            &auditor,
            "query($id: ID!) { accessLog(planId: $id) { operation fields api } }",
            serde_json::json!({ "id": plan }),
        )
        .await;
    let disclosed = log["accessLog"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["operation"] == format!("console:signedVersion@{signed_revision}"))
        .unwrap_or_else(|| panic!("no record of the signed version read: {log}"));
    let fields = disclosed["fields"].to_string();
    for section in ["diagnoses", "goals", "signatures", "measures"] {
        assert!(fields.contains(section), "{section} not recorded: {fields}");
    }
}

#[tokio::test]
async fn a_plan_never_fully_signed_gets_no_payer_document() {
    let server = Server::start().await;
    run_demo(&server, "demo");
    let clinician =
        crate::harness::token_in("demo", "dr-rivera", &[Role::Clinician], &["main-street"]);
    let mut plans = server.plans(&clinician).await;
    let created = plans
        .create_plan(trellis_proto::plans::v1::CreatePlanRequest {
            command_id: crate::harness::command_id(),
            plan_id: String::new(),
            client_id: "client-1042".into(),
            primary_clinician_id: "dr-rivera".into(),
            clinic_id: "main-street".into(),
            title: "Unsigned plan".into(),
            payer: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    server
        .plan_at_version(&clinician, &created.plan_id, created.revision)
        .await;
    let session = console_session(&server.http).await;
    let response = payer_document(&server.http, &session, &created.plan_id).await;
    assert_eq!(response.status(), 409);
    let page = response.text().await.unwrap();
    assert!(
        page.contains("no content version of this plan is fully signed yet (content version 1 still needs the clinician and client signature)"),
        "{page}"
    );
}
