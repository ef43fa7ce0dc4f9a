//! Goals and objectives as US Core Goals: each objective its own Goal,
//! linked from its goal as a milestone (`goal-relationship`), with a
//! measurable target; a score-based objective targets the instrument's
//! LOINC total.

use serde_json::{Value, json};

use super::codes::{InstrumentCodes, UCUM};
use super::plan_doc::{Goal, Objective, PlanDoc};
use super::refs::{patient, practitioner, reference};
use crate::wording::words;

const US_CORE_GOAL: &str = "http://hl7.org/fhir/us/core/StructureDefinition/us-core-goal";
const ACHIEVEMENT: &str = "http://terminology.hl7.org/CodeSystem/goal-achievement";
const RELATIONSHIP: &str = "http://hl7.org/fhir/StructureDefinition/goal-relationship";

/// Every goal of the plan, then every objective.
pub(crate) fn goals(plan: &PlanDoc) -> Vec<Value> {
    plan.goals
        .iter()
        .flat_map(|g| {
            std::iter::once(goal(plan, g)).chain(g.objectives.iter().map(|o| objective(plan, o)))
        })
        .collect()
}

/// A lifecycle for what is still open, from where the plan is.
fn open_lifecycle(plan: &PlanDoc) -> &'static str {
    match plan.status.as_str() {
        "DRAFT" => "proposed",
        "ON_HOLD" => "on-hold",
        "COMPLETED" => "completed",
        "DISCHARGED" | "TRANSFERRED" => "cancelled",
        _ => "active",
    }
}

fn achievement(code: &str) -> Value {
    json!({ "coding": [{ "system": ACHIEVEMENT, "code": code }] })
}

fn date_of(at: &str) -> &str {
    at.get(..10).unwrap_or(at)
}

fn base(
    plan: &PlanDoc,
    id: &str,
    description: &str,
    added: Option<&super::plan_doc::Entered>,
) -> Value {
    let mut resource = json!({
        "resourceType": "Goal",
        "id": id,
        "meta": { "profile": [US_CORE_GOAL] },
        "category": [{ "coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/goal-category",
            "code": "behavioral",
            "display": "Behavioral",
        }]}],
        "description": { "text": description },
        "subject": patient(&plan.client_id),
    });
    if let Some(added) = added {
        resource["startDate"] = json!(date_of(&added.at));
        resource["expressedBy"] = practitioner(&added.by);
    } else {
        resource["startDate"] = json!(plan.created_on);
    }
    resource
}

fn goal(plan: &PlanDoc, goal: &Goal) -> Value {
    let mut resource = base(plan, &goal.id, &goal.description, goal.added.as_ref());
    let (lifecycle, achieved) = match (goal.entered_in_error.is_some(), goal.outcome.as_deref()) {
        (true, _) => ("entered-in-error", None),
        (false, Some("ACHIEVED")) => ("completed", Some("achieved")),
        (false, Some(_)) => ("cancelled", Some("not-achieved")),
        (false, None) => (open_lifecycle(plan), None),
    };
    resource["lifecycleStatus"] = json!(lifecycle);
    if let Some(code) = achieved {
        resource["achievementStatus"] = achievement(code);
    }
    if let Some(closed) = &goal.closed_on {
        resource["statusDate"] = json!(closed);
    }
    resource["note"] = json!([{ "text": format!("{} goal", words(&goal.term)) }]);
    let milestones: Vec<Value> = goal
        .objectives
        .iter()
        .map(|o| {
            json!({
                "url": RELATIONSHIP,
                "extension": [
                    { "url": "type", "valueCodeableConcept": { "coding": [{
                        "system": "http://terminology.hl7.org/CodeSystem/goal-relationship-type",
                        "code": "milestone",
                    }]}},
                    { "url": "target", "valueReference": reference("Goal", &o.id) },
                ],
            })
        })
        .collect();
    if !milestones.is_empty() {
        resource["extension"] = Value::Array(milestones);
    }
    resource
}

fn objective(plan: &PlanDoc, objective: &Objective) -> Value {
    let mut resource = base(
        plan,
        &objective.id,
        &objective.description,
        objective.added.as_ref(),
    );
    let (lifecycle, achieved) = if objective.entered_in_error.is_some() {
        ("entered-in-error", None)
    } else if objective.met {
        ("completed", Some("achieved"))
    } else if objective.not_met_on.is_some() {
        ("cancelled", Some("not-achieved"))
    } else if objective.placeholder {
        ("proposed", None)
    } else {
        let progress = objective.latest_value.map(|_| "in-progress");
        (open_lifecycle(plan), progress)
    };
    resource["lifecycleStatus"] = json!(lifecycle);
    if let Some(code) = achieved {
        resource["achievementStatus"] = achievement(code);
    }
    if let Some(on) = objective.met_on.as_ref().or(objective.not_met_on.as_ref()) {
        resource["statusDate"] = json!(on);
    }
    if let Some(reason) = &objective.not_met_reason {
        resource["statusReason"] = json!(reason);
    }
    if let Some(target) = target(objective) {
        resource["target"] = json!([target]);
    }
    resource
}

/// What the objective measures and the value it aims for: a score below
/// a bound for an instrument, else its own unit moved from baseline.
fn target(objective: &Objective) -> Option<Value> {
    let mut target = serde_json::Map::new();
    if let Some(date) = &objective.target_date {
        target.insert("dueDate".into(), json!(date));
    }
    let value = objective.target;
    match objective
        .measure
        .as_ref()
        .and_then(|m| InstrumentCodes::named(&m.instrument).map(|i| (m, i)))
    {
        Some((goal, instrument)) => {
            target.insert(
                "measure".into(),
                json!({
                    "coding": [{
                        "system": instrument.system,
                        "code": instrument.total,
                        "display": format!("{} total score", instrument.title),
                    }],
                    "text": format!(
                        "{} total at least {}% below baseline",
                        instrument.title, goal.reduction_percent
                    ),
                }),
            );
            if let Some(value) = value {
                let score = json!({
                    "value": value, "unit": "{score}", "system": UCUM, "code": "{score}",
                });
                target.insert("detailRange".into(), json!({ "high": score }));
            }
        }
        None => {
            let unit = if objective.period.is_empty() {
                objective.unit.clone()
            } else {
                format!("{} per {}", objective.unit, objective.period)
            };
            if let Some(value) = value {
                target.insert("measure".into(), json!({ "text": unit }));
                let quantity = json!({ "value": value, "unit": unit });
                let detail = match objective.baseline {
                    Some(baseline) if baseline > value => {
                        ("detailRange", json!({ "high": quantity }))
                    }
                    Some(baseline) if baseline < value => {
                        ("detailRange", json!({ "low": quantity }))
                    }
                    _ => ("detailQuantity", quantity),
                };
                target.insert(detail.0.into(), detail.1);
            }
        }
    }
    (!target.is_empty()).then_some(Value::Object(target))
}
