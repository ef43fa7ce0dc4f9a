//! Several questionnaire results in one Bundle. A `transaction` is all or
//! nothing per plan: every entry is read and every subject's plan found
//! before anything is recorded, and each plan's measures are one command;
//! a `batch` records each entry on its own and answers each.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::create::{Parser, Recorded, body_json, invalid, location, plan_for, record_group};
use super::import::{IncomingMeasure, observation, questionnaire_response};
use super::outcome::{Issue, Refusal, operation_outcome, resource};
use super::request::{Fhir, Interaction};

/// Entries one Bundle may hold: its cost is bounded before it runs.
const MAX_ENTRIES: usize = 50;
/// Issues one refusal lists at most: a huge bad Bundle gets a short answer.
const MAX_ISSUES: usize = 20;

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Transaction,
    Batch,
}

/// Moves an issue found in a resource to where it sits in the Bundle.
fn in_entry(mut issue: Issue, entry: usize) -> Issue {
    let rest = issue
        .expression
        .as_deref()
        .and_then(|e| e.split_once('.'))
        .map(|(_, rest)| format!(".{rest}"))
        .unwrap_or_default();
    issue.expression = Some(format!("Bundle.entry[{entry}].resource{rest}"));
    issue
}

/// The Bundle's entries, each parsed, or every issue found (at most
/// `MAX_ISSUES`): nothing is recorded unless all parse.
fn entries(bundle: &Value) -> Result<(Kind, Vec<IncomingMeasure>), Refusal> {
    let kind = match (
        bundle.get("resourceType").and_then(Value::as_str),
        bundle.get("type").and_then(Value::as_str),
    ) {
        (Some("Bundle"), Some("transaction")) => Kind::Transaction,
        (Some("Bundle"), Some("batch")) => Kind::Batch,
        _ => {
            return Err(Refusal::invalid(
                "POST to the base takes a Bundle of type transaction or batch",
                "Bundle.type",
            ));
        }
    };
    let list = bundle
        .get("entry")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    if list.is_empty() || list.len() > MAX_ENTRIES {
        return Err(Refusal::invalid(
            format!("a Bundle holds 1 to {MAX_ENTRIES} entries"),
            "Bundle.entry",
        ));
    }
    let mut issues = Vec::new();
    let mut measures = Vec::new();
    for (n, entry) in list.iter().enumerate() {
        let method = entry.pointer("/request/method").and_then(Value::as_str);
        let url = entry.pointer("/request/url").and_then(Value::as_str);
        let parse: Parser = match (method, url) {
            (Some("POST"), Some("QuestionnaireResponse")) => questionnaire_response,
            (Some("POST"), Some("Observation")) => observation,
            _ => {
                issues.push(
                    Issue::new(
                        "not-supported",
                        "each entry is a POST of a QuestionnaireResponse or an Observation",
                    )
                    .at(format!("Bundle.entry[{n}].request")),
                );
                continue;
            }
        };
        let resource = entry.get("resource").unwrap_or(&Value::Null);
        if resource.get("resourceType").and_then(Value::as_str) != url {
            issues.push(in_entry(
                Issue::new(
                    "invalid",
                    "the entry's resource is not of the type its request.url names",
                ),
                n,
            ));
            continue;
        }
        match parse(resource) {
            Ok(measure) => measures.push(measure),
            Err(found) => issues.extend(found.into_iter().map(|i| in_entry(i, n))),
        }
    }
    if issues.is_empty() {
        Ok((kind, measures))
    } else {
        issues.truncate(MAX_ISSUES);
        Err(invalid(issues))
    }
}

/// Points a plan's refusal at the Bundle entries it concerns: the domain
/// names a questionnaire by its place among the plan's ("questionnaire 2").
fn located(mut refusal: Refusal, members: &[usize]) -> Refusal {
    const PLACE: &str = "questionnaire ";
    for issue in &mut refusal.issues {
        let place = issue.diagnostics.find(PLACE).and_then(|at| {
            let rest = issue.diagnostics.get(at + PLACE.len()..)?;
            rest.split(':').next()?.parse::<usize>().ok()
        });
        if let Some(entry) = place.and_then(|n| members.get(n.checked_sub(1)?)) {
            issue.expression = Some(format!("Bundle.entry[{entry}].resource"));
        } else if members.len() == 1 {
            *issue = in_entry(issue.clone(), members[0]);
        }
    }
    refusal
}

/// Each entry's plan, found once per subject and `basedOn`.
async fn plans_of(
    fhir: &Fhir,
    interaction: &Interaction,
    measures: &[IncomingMeasure],
) -> Vec<Result<String, Refusal>> {
    let mut found: BTreeMap<(&str, Option<&str>), Result<String, Refusal>> = BTreeMap::new();
    let mut plans = Vec::with_capacity(measures.len());
    for (n, measure) in measures.iter().enumerate() {
        let key = (measure.client_id.as_str(), measure.plan_id.as_deref());
        let plan = match found.get(&key) {
            Some(plan) => plan.clone(),
            None => plan_for(fhir, interaction, measure).await,
        };
        found.insert(key, plan.clone());
        plans.push(plan.map_err(|r| located(r, &[n])));
    }
    plans
}

fn entry_of(outcome: Result<Recorded, Refusal>, interaction: &Interaction) -> Value {
    match outcome {
        Ok(recorded) => {
            let status = if recorded.created {
                "201 Created"
            } else {
                "200 OK"
            };
            let mut response = json!({ "status": status });
            if let Some(body) = &recorded.shown {
                response["location"] = json!(location(interaction, body));
            }
            let mut entry = json!({ "response": response });
            if let Some(body) = recorded.shown {
                entry["resource"] = body;
            }
            entry
        }
        Err(refusal) => json!({ "response": {
            "status": refusal.status.to_string(),
            "outcome": operation_outcome(&refusal.issues),
        }}),
    }
}

/// `POST /fhir/r4` with a `transaction` or `batch` Bundle.
pub(crate) async fn bundle(
    State(fhir): State<Fhir>,
    interaction: Interaction,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    let bundle = body_json(&headers, &body)?;
    let (kind, measures) = entries(&bundle)?;
    let plans = plans_of(&fhir, &interaction, &measures).await;
    let mut outcomes: Vec<Option<Result<Recorded, Refusal>>> =
        (0..measures.len()).map(|_| None).collect();
    // A transaction: one group per plan, and no plan missing. A batch:
    // each entry alone.
    let mut groups: BTreeMap<(String, usize), Vec<usize>> = BTreeMap::new();
    for (n, plan) in plans.into_iter().enumerate() {
        match plan {
            Ok(plan) => {
                let key = match kind {
                    Kind::Transaction => (plan, 0),
                    Kind::Batch => (plan, n),
                };
                groups.entry(key).or_default().push(n);
            }
            Err(refusal) if kind == Kind::Transaction => return Err(refusal),
            Err(refusal) => outcomes[n] = Some(Err(refusal)),
        }
    }
    let mut recorded_entries = Vec::new();
    let mut first_refusal = None;
    for ((plan_id, _), members) in &groups {
        let group: Vec<&IncomingMeasure> = members.iter().map(|n| &measures[*n]).collect();
        match record_group(&fhir, &interaction, plan_id, &group).await {
            Ok(recorded) => {
                for (n, one) in members.iter().zip(recorded) {
                    outcomes[*n] = Some(Ok(one));
                    recorded_entries.push(*n);
                }
            }
            Err(refusal) => {
                let refusal = located(refusal, members);
                for n in members {
                    outcomes[*n] = Some(Err(refusal.clone()));
                }
                first_refusal.get_or_insert(refusal);
            }
        }
    }
    if let (Kind::Transaction, Some(mut refusal)) = (kind, first_refusal) {
        // Another plan's measures in this Bundle may stand: say which.
        if !recorded_entries.is_empty() {
            recorded_entries.sort_unstable();
            let list: Vec<String> = recorded_entries.iter().map(usize::to_string).collect();
            refusal.issues.push(Issue::new(
                "incomplete",
                format!(
                    "all or nothing holds per plan: entries {} (other plans) were recorded",
                    list.join(", ")
                ),
            ));
        }
        return Err(refusal);
    }
    let response_type = match kind {
        Kind::Transaction => "transaction-response",
        Kind::Batch => "batch-response",
    };
    let entries: Vec<Value> = outcomes
        .into_iter()
        .map(|o| {
            let outcome =
                o.unwrap_or_else(|| Err(Refusal::of(&crate::inprocess::Failure::internal())));
            entry_of(outcome, &interaction)
        })
        .collect();
    Ok(resource(
        StatusCode::OK,
        &json!({ "resourceType": "Bundle", "type": response_type, "entry": entries }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plans_refusal_points_at_its_entries() {
        let refusal =
            Refusal::invalid("total: questionnaire 2: must be between 16 and 80", "total");
        let located = located(refusal, &[3, 7]);
        assert_eq!(
            located.issues[0].expression.as_deref(),
            Some("Bundle.entry[7].resource")
        );
        let alone = located_one();
        assert_eq!(
            alone.issues[0].expression.as_deref(),
            Some("Bundle.entry[4].resource.basedOn")
        );
    }

    fn located_one() -> Refusal {
        let refusal = Refusal::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Issue::new("business-rule", "no open plan").at("Observation.basedOn"),
        );
        located(refusal, &[4])
    }

    #[test]
    fn a_huge_bad_bundle_gets_a_short_answer() {
        let entry = json!({ "request": { "method": "PUT", "url": "Patient/1" } });
        let bundle = json!({ "resourceType": "Bundle", "type": "batch", "entry": vec![entry; 50] });
        let refusal = entries(&bundle).unwrap_err();
        assert_eq!(refusal.issues.len(), MAX_ISSUES);
        let too_many = json!({ "resourceType": "Bundle", "type": "transaction",
            "entry": vec![json!({}); MAX_ENTRIES + 1] });
        assert_eq!(
            entries(&too_many).unwrap_err().issues[0]
                .expression
                .as_deref(),
            Some("Bundle.entry")
        );
    }
}
