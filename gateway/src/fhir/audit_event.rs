//! The access log as AuditEvents, in the shape of IHE Basic Audit Log
//! Patterns' "read" and "query" events: who (with role and network
//! address), when, what was read (the plan, the fields) and through which
//! API.

use serde::Deserialize;
use serde_json::{Value, json};

use super::refs::reference;

pub(crate) const AUDIT_FIELDS: &str =
    "id subject role planId operation fields api address requestId at";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AccessEntry {
    pub(crate) id: u64,
    pub(crate) subject: String,
    pub(crate) role: String,
    pub(crate) plan_id: Option<String>,
    pub(crate) operation: String,
    pub(crate) fields: Vec<String>,
    pub(crate) api: String,
    pub(crate) address: String,
    pub(crate) request_id: String,
    pub(crate) at: String,
}

const DICOM: &str = "http://dicom.nema.org/resources/ontology/DCM";

pub(crate) fn audit_event(entry: &AccessEntry) -> Value {
    // A read of one plan, or a query over many (an aggregate read).
    let (subtype, what) = match &entry.plan_id {
        Some(plan) => ("read", reference("CarePlan", plan)),
        None => ("search-type", json!({ "display": entry.operation })),
    };
    let mut details = vec![
        json!({ "type": "operation", "valueString": entry.operation }),
        json!({ "type": "api", "valueString": entry.api }),
    ];
    if !entry.fields.is_empty() {
        details.push(json!({ "type": "fields", "valueString": entry.fields.join(" ") }));
    }
    let mut agent = json!({
        "type": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-ParticipationType",
            "code": "IRCP",
            "display": "information recipient",
        }]},
        "role": [{ "text": entry.role }],
        "who": { "identifier": { "value": entry.subject } },
        "requestor": true,
    });
    if !entry.address.is_empty() {
        agent["network"] = json!({ "address": entry.address, "type": "2" });
    }
    json!({
        "resourceType": "AuditEvent",
        "id": format!("access-{}", entry.id),
        "type": {
            "system": DICOM,
            "code": "110110",
            "display": "Patient Record",
        },
        "subtype": [{
            "system": "http://hl7.org/fhir/restful-interaction",
            "code": subtype,
        }],
        "action": "R",
        "recorded": entry.at,
        "outcome": "0",
        "agent": [agent],
        "source": {
            "observer": { "display": "Trellis gateway" },
            "type": [{
                "system": "http://terminology.hl7.org/CodeSystem/security-source-type",
                "code": "4",
                "display": "Application Server",
            }],
        },
        "entity": [
            {
                "what": what,
                "type": {
                    "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                    "code": "2",
                    "display": "System Object",
                },
                "role": {
                    "system": "http://terminology.hl7.org/CodeSystem/object-role",
                    "code": "3",
                    "display": "Report",
                },
                "detail": details,
            },
            {
                "what": { "identifier": { "value": entry.request_id } },
                "type": {
                    "system": "http://terminology.hl7.org/CodeSystem/audit-entity-type",
                    "code": "2",
                },
                "role": {
                    "system": "http://terminology.hl7.org/CodeSystem/object-role",
                    "code": "24",
                    "display": "Query",
                },
                "description": "the request's id (x-request-id)",
            },
        ],
    })
}
