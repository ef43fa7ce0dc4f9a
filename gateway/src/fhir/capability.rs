//! What this server offers, exactly (`metadata`), and Trellis's own code
//! systems.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::codes::{INSTRUMENTS, PSWQ, SEVERITY_BANDS};
use super::outcome::{Refusal, resource};
use super::request::{Fhir, Served, accepts_json, formats};

const US_CORE: &str = "http://hl7.org/fhir/us/core/StructureDefinition";

fn param(name: &str, kind: &str, documentation: &str) -> Value {
    json!({ "name": name, "type": kind, "documentation": documentation })
}

fn only_in_everything(kind: &str, profile: Option<&str>) -> Value {
    let mut entry = json!({
        "type": kind,
        "documentation": "Returned within CarePlan/{id}/$everything only; not read or searched on its own.",
    });
    if let Some(profile) = profile {
        entry["supportedProfile"] = json!([format!("{US_CORE}/{profile}")]);
    }
    entry
}

fn capability_statement(base: &str) -> Value {
    let read = |code: &str| json!({ "code": code });
    json!({
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": "2026-12-04",
        "publisher": "Trellis",
        "kind": "instance",
        "software": { "name": "Trellis", "version": env!("CARGO_PKG_VERSION") },
        "implementation": { "description": "Trellis treatment plans", "url": base },
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "description": "Mental-health treatment plans from Trellis's event-sourced record. Trellis holds no demographics: Patient, Practitioner and Organization are referenced by the clinic's own ids and cannot be read here. Every read is written to the access log (api: fhir).",
        "rest": [{
            "mode": "server",
            "security": {
                "service": [{ "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                    "code": "OAuth",
                }]}],
                "description": "Authorization: Bearer with the same tokens, tenants and roles as the GraphQL and gRPC APIs.",
            },
            "resource": [
                {
                    "type": "CarePlan",
                    "supportedProfile": [format!("{US_CORE}/us-core-careplan")],
                    "interaction": [read("read"), read("vread"), read("search-type")],
                    "versioning": "versioned",
                    "readHistory": false,
                    "searchParam": [
                        param("subject", "reference", "Patient/{client id}"),
                        param("patient", "reference", "the same as subject"),
                        param("status", "token", "draft, active, on-hold, completed or revoked; comma-separated for several"),
                        param("_count", "number", "plans a page, 1 to 50 (20)"),
                        param("_cursor", "string", "where the page starts, from a next link"),
                    ],
                    "operation": [{
                        "name": "everything",
                        "definition": "https://trellis.health/fhir/OperationDefinition/CarePlan-everything",
                        "documentation": "The plan with its Conditions, Goals, QuestionnaireResponses, Observations, Consents and Provenance, as a collection Bundle.",
                    }],
                    "documentation": "vread (_history/{version}) replays the plan from the audit trail; like GraphQL's planAsOf it is for auditors.",
                },
                {
                    "type": "Observation",
                    "supportedProfile": [format!("{US_CORE}/us-core-observation-screening-assessment")],
                    "interaction": [read("search-type"), read("create")],
                    "searchParam": [
                        param("subject", "reference", "Patient/{client id}; required"),
                        param("patient", "reference", "the same as subject"),
                        param("code", "token", "a questionnaire total: 44261-6, 70274-6 or pswq-total"),
                        param("category", "token", "survey"),
                        param("_count", "number", "totals a page, 1 to 50 (20)"),
                        param("_cursor", "string", "where the page starts, from a next link"),
                    ],
                    "documentation": "create records a questionnaire's total exactly as RecordMeasure does; identifier is required and makes a retry record it once.",
                },
                {
                    "type": "QuestionnaireResponse",
                    "interaction": [read("create")],
                    "documentation": "create records a PHQ-9, GAD-7 or PSWQ item by item exactly as RecordMeasure does (PHQ-9 item 9 above 0 raises a safety flag); identifier is required.",
                },
                {
                    "type": "AuditEvent",
                    "interaction": [read("search-type")],
                    "searchParam": [
                        param("entity", "reference", "CarePlan/{id}: who read this plan"),
                        param("agent", "reference", "a user: Practitioner/{subject} (or Patient/…, or the bare subject): what they read"),
                        param("_count", "number", "entries a page, 1 to 50 (20)"),
                        param("_cursor", "string", "where the page starts, from a next link"),
                    ],
                    "documentation": "The access log, for auditors.",
                },
                {
                    "type": "CodeSystem",
                    "interaction": [read("read")],
                    "documentation": "Trellis's own code systems: instruments (the PSWQ) and severity-bands.",
                },
                only_in_everything("Condition", Some("us-core-condition-problems-health-concerns")),
                only_in_everything("Goal", Some("us-core-goal")),
                only_in_everything("Consent", None),
                only_in_everything("Provenance", None),
            ],
            "operation": [{
                "name": "export",
                "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                "documentation": "Bulk export of every plan the caller may read as NDJSON per resource type (_type: CarePlan, Condition, Goal, QuestionnaireResponse, Observation, Consent, Provenance); Prefer: respond-async; files need the same token.",
            }],
            "interaction": [
                {
                    "code": "transaction",
                    "documentation": "A Bundle of QuestionnaireResponse and Observation creates: every entry read and every subject's plan found before anything is recorded; each plan's measures recorded all or nothing.",
                },
                {
                    "code": "batch",
                    "documentation": "The same entries, each recorded on its own and answered on its own.",
                },
            ],
        }],
    })
}

/// `GET /fhir/r4/metadata`: open to anyone, as FHIR clients expect.
pub(crate) async fn metadata(
    State(fhir): State<Fhir>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = accepts_json(&headers).and_then(|()| formats(uri.query(), Served::Json)) {
        return refusal.into_response();
    }
    let base = fhir.base(&headers);
    resource(StatusCode::OK, &capability_statement(&base.0))
}

fn instruments() -> Value {
    let mut concepts = vec![
        json!({ "code": PSWQ.panel, "display": "Penn State Worry Questionnaire (PSWQ)" }),
        json!({ "code": PSWQ.total, "display": "PSWQ total score (16-80)" }),
    ];
    concepts.extend(
        PSWQ.items
            .iter()
            .enumerate()
            .map(|(n, code)| json!({ "code": code, "display": format!("PSWQ item {}", n + 1) })),
    );
    json!({
        "resourceType": "CodeSystem",
        "id": "instruments",
        "url": INSTRUMENTS,
        "name": "TrellisInstruments",
        "title": "Questionnaires Trellis scores that LOINC does not code",
        "status": "active",
        "content": "complete",
        "caseSensitive": true,
        "concept": concepts,
    })
}

fn severity_bands() -> Value {
    let bands = [
        ("minimal", "Minimal"),
        ("mild", "Mild"),
        ("moderate", "Moderate"),
        ("moderately-severe", "Moderately severe"),
        ("severe", "Severe"),
        ("low", "Low"),
        ("high", "High"),
    ];
    json!({
        "resourceType": "CodeSystem",
        "id": "severity-bands",
        "url": SEVERITY_BANDS,
        "name": "TrellisSeverityBands",
        "title": "Severity bands of questionnaire totals (PHQ-9, GAD-7, PSWQ)",
        "status": "active",
        "content": "complete",
        "caseSensitive": true,
        "concept": bands.iter().map(|(code, display)| json!({ "code": code, "display": display })).collect::<Vec<_>>(),
    })
}

/// `GET /fhir/r4/CodeSystem/{id}`: public terminology, no token needed.
pub(crate) async fn code_system(
    Path(id): Path<String>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = accepts_json(&headers).and_then(|()| formats(uri.query(), Served::Json)) {
        return refusal.into_response();
    }
    match id.as_str() {
        "instruments" => resource(StatusCode::OK, &instruments()),
        "severity-bands" => resource(StatusCode::OK, &severity_bands()),
        _ => Refusal::not_found("Trellis defines the CodeSystems instruments and severity-bands")
            .into_response(),
    }
}
