//! A plan as a US Core CarePlan, its diagnoses as Conditions, and the
//! narrative a reader sees first.

use serde_json::{Value, json};

use super::codes::ICD10CM;
use super::plan_doc::{Diagnosis, PlanDoc};
use super::refs::{patient, practitioner, reference};
use crate::wording::{modality_label, words};

const US_CORE_CAREPLAN: &str = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-careplan";
const US_CORE_CONDITION: &str =
    "http://hl7.org/fhir/us/core/StructureDefinition/us-core-condition-problems-health-concerns";

/// The plan's status in FHIR's request-status words: a discharge or a
/// transfer ends the plan before its goals were all met (`revoked`).
pub(crate) fn status_of(plan: &PlanDoc) -> &'static str {
    match plan.status.as_str() {
        "DRAFT" => "draft",
        "ACTIVE" => "active",
        "ON_HOLD" => "on-hold",
        "COMPLETED" => "completed",
        "DISCHARGED" | "TRANSFERRED" => "revoked",
        _ => "unknown",
    }
}

/// The status of the plan's activities, from the plan's.
fn activity_status(plan: &PlanDoc, entered_in_error: bool) -> &'static str {
    if entered_in_error {
        return "entered-in-error";
    }
    match plan.status.as_str() {
        "DRAFT" => "not-started",
        "ACTIVE" => "in-progress",
        "ON_HOLD" => "on-hold",
        "COMPLETED" => "completed",
        _ => "stopped",
    }
}

/// The Condition id of the plan's `n`th diagnosis.
pub(crate) fn condition_id(plan_id: &str, n: usize) -> String {
    format!("{plan_id}-dx-{n}")
}

pub(crate) fn care_plan(plan: &PlanDoc) -> Value {
    let subject = patient(&plan.client_id);
    let mut contributors = vec![practitioner(&plan.primary_clinician_id)];
    contributors.extend(plan.care_team.iter().map(|m| practitioner(m)));
    let addresses: Vec<Value> = plan
        .diagnoses
        .iter()
        .enumerate()
        .filter(|(_, d)| d.entered_in_error.is_none())
        .map(|(n, _)| reference("Condition", &condition_id(&plan.id, n)))
        .collect();
    let goals: Vec<Value> = plan
        .goals
        .iter()
        .map(|g| reference("Goal", &g.id))
        .collect();
    let mut activity: Vec<Value> = plan
        .interventions
        .iter()
        .map(|i| {
            let modality = i
                .other_modality
                .clone()
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| modality_label(&i.modality));
            let mut detail = json!({
                "kind": "ServiceRequest",
                "code": { "text": modality },
                "status": activity_status(plan, i.entered_in_error.is_some()),
                "description": i.technique,
                "scheduledString": i.frequency,
                "goal": i.goal_ids.iter().map(|g| reference("Goal", g)).collect::<Vec<_>>(),
            });
            if !i.comorbidity.is_empty() {
                detail["reasonCode"] = json!([{ "text": i.comorbidity }]);
            }
            json!({ "detail": detail })
        })
        .collect();
    if let Some(service) = &plan.service_plan {
        activity.push(json!({ "detail": {
            "kind": "Appointment",
            "code": { "text": service.session_type },
            "status": activity_status(plan, false),
            "description": service.focus,
            "scheduledTiming": {
                "repeat": {
                    "count": service.sessions_min,
                    "countMax": service.sessions_max,
                    "duration": service.minutes,
                    "durationUnit": "min",
                },
                "code": { "text": service.frequency },
            },
        }}));
    }
    let mut period = json!({ "start": plan.created_on });
    if let Some(end) = plan.closed_on() {
        period["end"] = json!(end);
    }
    let mut resource = json!({
        "resourceType": "CarePlan",
        "id": plan.id,
        "meta": {
            "versionId": plan.version.to_string(),
            "lastUpdated": plan.updated_at,
            "profile": [US_CORE_CAREPLAN],
        },
        "text": { "status": "generated", "div": narrative(plan) },
        "status": status_of(plan),
        "intent": "plan",
        "category": [{
            "coding": [{
                "system": "http://hl7.org/fhir/us/core/CodeSystem/careplan-category",
                "code": "assess-plan",
            }],
        }],
        "title": plan.title,
        "subject": subject,
        "period": period,
        "created": plan.created_at.as_deref().unwrap_or(&plan.created_on),
        "author": practitioner(&plan.primary_clinician_id),
        "contributor": contributors,
    });
    if let Some(problem) = plan
        .presenting_problem
        .as_ref()
        .filter(|p| !p.narrative.is_empty())
    {
        resource["description"] = json!(problem.narrative);
    }
    for (key, list) in [
        ("addresses", addresses),
        ("goal", goals),
        ("activity", activity),
    ] {
        if !list.is_empty() {
            resource[key] = Value::Array(list);
        }
    }
    resource
}

/// The plan's diagnoses, each a problem-list Condition.
pub(crate) fn conditions(plan: &PlanDoc) -> Vec<Value> {
    plan.diagnoses
        .iter()
        .enumerate()
        .map(|(n, d)| condition(plan, n, d))
        .collect()
}

fn condition(plan: &PlanDoc, n: usize, diagnosis: &Diagnosis) -> Value {
    let verification = if diagnosis.entered_in_error.is_some() {
        "entered-in-error"
    } else {
        "confirmed"
    };
    let mut resource = json!({
        "resourceType": "Condition",
        "id": condition_id(&plan.id, n),
        "meta": { "profile": [US_CORE_CONDITION] },
        "verificationStatus": { "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-ver-status",
            "code": verification,
        }]},
        "category": [{ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-category",
            "code": "problem-list-item",
            "display": "Problem List Item",
        }]}],
        "code": {
            "coding": [{
                "system": ICD10CM,
                "code": diagnosis.code,
                "display": diagnosis.description,
            }],
            "text": diagnosis.description,
        },
        "subject": patient(&plan.client_id),
    });
    // A condition entered in error has no clinical status (con-5).
    if diagnosis.entered_in_error.is_none() {
        let clinical = if plan.closed() { "inactive" } else { "active" };
        resource["clinicalStatus"] = json!({ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
            "code": clinical,
        }]});
    }
    if diagnosis.primary {
        resource["note"] = json!([{ "text": "Primary diagnosis of the treatment plan" }]);
    }
    if let Some(added) = &diagnosis.added {
        resource["recordedDate"] = json!(added.at);
        resource["recorder"] = practitioner(&added.by);
    }
    resource
}

/// What a reader sees first: the plan in a few lines of XHTML.
fn narrative(plan: &PlanDoc) -> String {
    let mut html = format!(
        "<div xmlns=\"http://www.w3.org/1999/xhtml\"><h1>{}</h1><p>Status: {}. Client: {}. Primary clinician: {}. Created {}.</p>",
        escape(&plan.title),
        escape(&words(&plan.status)),
        escape(&plan.client_id),
        escape(&plan.primary_clinician_id),
        escape(&plan.created_on),
    );
    let diagnoses: Vec<String> = plan
        .diagnoses
        .iter()
        .filter(|d| d.entered_in_error.is_none())
        .map(|d| format!("{} {}", escape(&d.code), escape(&d.description)))
        .collect();
    if !diagnoses.is_empty() {
        html.push_str(&format!("<p>Diagnoses: {}.</p>", diagnoses.join("; ")));
    }
    let goals: Vec<&_> = plan
        .goals
        .iter()
        .filter(|g| g.entered_in_error.is_none())
        .collect();
    if !goals.is_empty() {
        html.push_str("<h2>Goals</h2><ul>");
        for goal in goals {
            html.push_str(&format!("<li>{}", escape(&goal.description)));
            let objectives: Vec<String> = goal
                .objectives
                .iter()
                .filter(|o| o.entered_in_error.is_none())
                .map(|o| format!("<li>{}</li>", escape(&o.description)))
                .collect();
            if !objectives.is_empty() {
                html.push_str(&format!("<ul>{}</ul>", objectives.concat()));
            }
            html.push_str("</li>");
        }
        html.push_str("</ul>");
    }
    let interventions: Vec<String> = plan
        .interventions
        .iter()
        .filter(|i| i.entered_in_error.is_none())
        .map(|i| {
            format!(
                "<li>{}: {} ({})</li>",
                escape(&modality_label(&i.modality)),
                escape(&i.technique),
                escape(&i.frequency)
            )
        })
        .collect();
    if !interventions.is_empty() {
        html.push_str(&format!(
            "<h2>Interventions</h2><ul>{}</ul>",
            interventions.concat()
        ));
    }
    html.push_str("</div>");
    html
}

/// Text as XHTML character data.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrative_text_cannot_become_markup() {
        assert_eq!(
            escape("<script>a & \"b\"</script>"),
            "&lt;script&gt;a &amp; &quot;b&quot;&lt;/script&gt;"
        );
    }
}
