//! Who made and who signed the plan (Provenance, each signature bound to
//! the plan version that holds it) and the consents the client gave.

use serde_json::{Value, json};

use super::plan_doc::PlanDoc;
use super::refs::{patient, practitioner, reference, start_of};

const PARTICIPANT: &str = "http://terminology.hl7.org/CodeSystem/provenance-participant-type";
/// ASTM E1762 signature types.
const SIGNATURE_TYPE: &str = "urn:iso-astm:E1762-95:2013";

/// The plan's author, then one Provenance per signature.
pub(crate) fn provenances(plan: &PlanDoc) -> Vec<Value> {
    let mut all = vec![authored(plan)];
    all.extend(plan.signatures.iter().enumerate().map(|(n, s)| {
        let (agent_type, signature_code, signature_display, who) = match s.role.as_str() {
            "CLIENT" => (
                "legal",
                "1.2.840.10065.1.12.1.7",
                "Consent Signature",
                patient(&plan.client_id),
            ),
            "SUPERVISOR" => (
                "verifier",
                "1.2.840.10065.1.12.1.5",
                "Verification Signature",
                practitioner(&s.signer_id),
            ),
            _ => (
                "author",
                "1.2.840.10065.1.12.1.1",
                "Author's Signature",
                practitioner(&s.signer_id),
            ),
        };
        let recorded = s
            .recorded_at
            .clone()
            .unwrap_or_else(|| start_of(&s.signed_on));
        // The version whose event holds the signature; for views kept
        // before it was known, the plan (unversioned).
        let target = match s.revision {
            Some(revision) => json!({ "reference": format!("CarePlan/{}/_history/{revision}", plan.id) }),
            None => reference("CarePlan", &plan.id),
        };
        let mut agent = json!({
            "type": { "coding": [{ "system": PARTICIPANT, "code": agent_type }] },
            "role": [{ "text": format!("signed as {}", s.role.to_ascii_lowercase()) }],
            "who": who,
        });
        if s.role != "CLIENT" {
            agent["onBehalfOf"] = reference("Organization", &plan.clinic_id);
        }
        json!({
            "resourceType": "Provenance",
            "id": format!("{}-signature-{n}", plan.id),
            "target": [target],
            "occurredDateTime": s.signed_on,
            "recorded": recorded,
            "activity": { "text": format!("signed plan content version {}", s.version) },
            "agent": [agent],
            "signature": [{
                "type": [{ "system": SIGNATURE_TYPE, "code": signature_code, "display": signature_display }],
                "when": recorded,
                "who": who,
            }],
        })
    }));
    all
}

fn authored(plan: &PlanDoc) -> Value {
    let recorded = plan
        .created_at
        .clone()
        .unwrap_or_else(|| start_of(&plan.created_on));
    json!({
        "resourceType": "Provenance",
        "id": format!("{}-author", plan.id),
        "target": [{ "reference": format!("CarePlan/{}/_history/1", plan.id) }],
        "occurredDateTime": plan.created_on,
        "recorded": recorded,
        "activity": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation",
            "code": "CREATE",
        }]},
        "agent": [{
            "type": { "coding": [{ "system": PARTICIPANT, "code": "author" }] },
            "who": practitioner(&plan.primary_clinician_id),
            "onBehalfOf": reference("Organization", &plan.clinic_id),
        }],
    })
}

/// Each consent recorded, as an active Consent.
pub(crate) fn consents(plan: &PlanDoc) -> Vec<Value> {
    plan.consents
        .iter()
        .enumerate()
        .map(|(n, c)| {
            let (scope, display) = match c.kind.as_str() {
                "INFORMATION_RELEASE" => ("patient-privacy", "Consent to release information"),
                "TELEHEALTH" => ("treatment", "Consent to telehealth"),
                _ => ("treatment", "Consent to treatment"),
            };
            json!({
                "resourceType": "Consent",
                "id": format!("{}-consent-{n}", plan.id),
                "status": "active",
                "scope": { "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": scope,
                }]},
                "category": [{
                    "coding": [{ "system": "http://loinc.org", "code": "59284-0", "display": "Patient Consent" }],
                    "text": display,
                }],
                "patient": patient(&plan.client_id),
                "dateTime": c.given_on,
                "performer": [patient(&plan.client_id)],
                "organization": [reference("Organization", &plan.clinic_id)],
                "policyRule": { "coding": [{
                    "system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                    "code": "OPTIN",
                }]},
            })
        })
        .collect()
}
