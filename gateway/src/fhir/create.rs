//! Questionnaire results arriving as FHIR: one QuestionnaireResponse or
//! Observation (`create`) recorded as `RecordMeasure` records it, in the
//! subject's open plan; and the recording that transactions share.

use std::collections::BTreeMap;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use trellis_auth::Role;
use uuid::Uuid;

use super::import::{IncomingMeasure, observation, questionnaire_response};
use super::measures::recorded_as;
use super::outcome::{Issue, Refusal, resource};
use super::plan_doc::{MEASURE_FIELDS, Measure, MeasuredPlan, Plans};
use super::request::{Fhir, Interaction};
use crate::inprocess::until_projected;

pub(super) type Parser = fn(&Value) -> Result<IncomingMeasure, Vec<Issue>>;

pub(super) fn body_json(headers: &HeaderMap, body: &Bytes) -> Result<Value, Refusal> {
    let json = crate::media_type::of(headers)
        .is_some_and(|v| v == "application/fhir+json" || v == "application/json");
    if !json {
        return Err(Refusal::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Issue::new(
                "not-supported",
                "send the resource as application/fhir+json",
            ),
        ));
    }
    // serde's message would quote the body: say the rule instead.
    serde_json::from_slice(body)
        .map_err(|_| Refusal::invalid("the body is not a JSON resource", "resource"))
}

pub(super) fn invalid(issues: Vec<Issue>) -> Refusal {
    Refusal {
        status: StatusCode::BAD_REQUEST,
        issues,
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlanRow {
    id: String,
    client_id: String,
    status: String,
}

fn is_open(plan: &PlanRow) -> bool {
    matches!(plan.status.as_str(), "DRAFT" | "ACTIVE" | "ON_HOLD")
}

#[derive(Deserialize)]
struct NamedPlan {
    plan: Option<PlanRow>,
}

/// Plans of one client a subject's measure may go to, looked at: a bound
/// on the lookup's cost.
const PLANS_LOOKED_AT: usize = 100;

fn unprocessable(rule: &str, at: &str) -> Refusal {
    Refusal::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        Issue::new("business-rule", rule).at(at),
    )
}

/// The plan a measure goes to: the one `basedOn` names (an open plan of
/// the subject), else the subject's only open plan.
pub(super) async fn plan_for(
    fhir: &Fhir,
    interaction: &Interaction,
    measure: &IncomingMeasure,
) -> Result<String, Refusal> {
    if let Some(named) = &measure.plan_id {
        let query = "query FhirNamedPlan($id: ID!) { plan(id: $id) { id clientId status } }";
        let answer: NamedPlan = fhir
            .run(
                interaction,
                "resolve basedOn",
                query,
                json!({ "id": named }),
            )
            .await?;
        return answer
            .plan
            .filter(|p| p.client_id == measure.client_id && is_open(p))
            .map(|p| p.id)
            .ok_or_else(|| {
                unprocessable(
                    "basedOn names no open plan of this subject that is visible to you",
                    "basedOn",
                )
            });
    }
    let query = "query FhirClientPlans($first: Int!, $client: String) {
        plans(first: $first, clientId: $client) { pageInfo { hasNextPage endCursor } nodes { id clientId status } } }";
    let page: Plans<PlanRow> = fhir
        .run(
            interaction,
            "resolve subject",
            query,
            json!({ "first": PLANS_LOOKED_AT, "client": measure.client_id }),
        )
        .await?;
    let open: Vec<&PlanRow> = page.plans.nodes.iter().filter(|p| is_open(p)).collect();
    match open.as_slice() {
        [only] if !page.plans.page_info.has_next_page => Ok(only.id.clone()),
        [] if !page.plans.page_info.has_next_page => Err(unprocessable(
            "the subject has no open plan visible to you",
            "subject",
        )),
        _ => Err(unprocessable(
            "the subject has more than one plan: name the open one in basedOn (CarePlan/{id})",
            "basedOn",
        )),
    }
}

fn source(interaction: &Interaction, measure: &IncomingMeasure) -> &'static str {
    let client = interaction.who.caller.roles.contains(&Role::Client);
    if client || measure.self_reported {
        "CLIENT_SELF_REPORT"
    } else {
        "CLINICIAN"
    }
}

fn measure_input(interaction: &Interaction, measure: &IncomingMeasure) -> Value {
    json!({
        "measureId": measure.measure_id.to_string(),
        "instrument": measure.instrument.name,
        "answers": measure.answers,
        "total": measure.total,
        "administeredOn": measure.administered_on,
        "source": source(interaction, measure),
    })
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommandResult {
    revision: u64,
}

#[derive(Deserialize)]
struct OnePlan {
    plan: Option<MeasuredPlan>,
}

/// The plan's measures as recorded now.
async fn recorded(fhir: &Fhir, interaction: &Interaction, plan_id: &str) -> Option<MeasuredPlan> {
    let query = format!("query FhirRecorded($id: ID!) {{ plan(id: $id) {{ {MEASURE_FIELDS} }} }}");
    fhir.run::<OnePlan>(
        interaction,
        "read recorded",
        &query,
        json!({ "id": plan_id }),
    )
    .await
    .ok()
    .and_then(|p| p.plan)
}

/// Whether a recorded measure is what `incoming` says: a retry, not
/// another questionnaire under an identifier already used.
fn same(incoming: &IncomingMeasure, recorded: &Measure) -> bool {
    incoming.instrument.name == recorded.instrument
        && incoming.administered_on == recorded.administered_on
        && incoming.total.is_none_or(|t| t == recorded.total)
        && (incoming.answers.is_empty() || incoming.answers == recorded.answers)
}

/// Whether two resources under one identifier in one request say the same
/// administration: instrument and day, and the answers and totals both
/// give (a QuestionnaireResponse's answers and its Observation's total).
fn agree(a: &IncomingMeasure, b: &IncomingMeasure) -> bool {
    a.instrument.name == b.instrument.name
        && a.administered_on == b.administered_on
        && (a.total.is_none() || b.total.is_none() || a.total == b.total)
        && (a.answers.is_empty() || b.answers.is_empty() || a.answers == b.answers)
}

/// What became of one measure: whether it is new, and the resource as
/// the export shows it (`None` while the read models lag).
pub(super) struct Recorded {
    pub(super) created: bool,
    pub(super) shown: Option<Value>,
}

/// Records the measures of one plan in one command, all or none. A
/// measure whose identifier was recorded before with the same values is
/// a retry and left as it is; with other values it is refused (409).
pub(super) async fn record_group(
    fhir: &Fhir,
    interaction: &Interaction,
    plan_id: &str,
    measures: &[&IncomingMeasure],
) -> Result<Vec<Recorded>, Refusal> {
    let before = recorded(fhir, interaction, plan_id).await;
    let known = |m: &IncomingMeasure| {
        let id = m.measure_id.to_string();
        before
            .as_ref()
            .and_then(|p| p.measures.iter().find(|r| r.id == id))
            .cloned()
    };
    let mut new: Vec<&IncomingMeasure> = Vec::new();
    for measure in measures {
        match known(measure) {
            Some(existing) if !same(measure, &existing) => return Err(reused(measure)),
            Some(_) => {}
            // The same administration twice in one request (its
            // QuestionnaireResponse and its Observation) is recorded once;
            // under one identifier, two that disagree are refused.
            None => match new.iter().find(|n| n.measure_id == measure.measure_id) {
                Some(first) if !agree(first, measure) => return Err(reused(measure)),
                Some(_) => {}
                None => new.push(measure),
            },
        }
    }
    if !new.is_empty() {
        send(fhir, interaction, plan_id, &new).await?;
    }
    let after = recorded(fhir, interaction, plan_id).await;
    let mut first_seen = std::collections::BTreeSet::new();
    Ok(measures
        .iter()
        .map(|m| {
            let id = m.measure_id.to_string();
            let created =
                new.iter().any(|n| n.measure_id == m.measure_id) && first_seen.insert(id.clone());
            let shown = after.as_ref().and_then(|plan| {
                let measure = plan.measures.iter().find(|r| r.id == id)?;
                recorded_as(plan.owner(), measure, m.resource_type)
            });
            Recorded { created, shown }
        })
        .collect())
}

fn reused(measure: &IncomingMeasure) -> Refusal {
    Refusal::new(
        StatusCode::CONFLICT,
        Issue::new(
            "duplicate",
            "this identifier was recorded before with other values; a new questionnaire needs a new identifier",
        )
        .at(format!("{}.identifier", measure.resource_type)),
    )
}

/// Sends the new measures: one is exactly a RecordMeasure, several one
/// RecordMeasures. The command id is derived from the plan and the
/// measures, so the same request sent again is the same command.
async fn send(
    fhir: &Fhir,
    interaction: &Interaction,
    plan_id: &str,
    new: &[&IncomingMeasure],
) -> Result<(), Refusal> {
    let mut ids: Vec<String> = new.iter().map(|m| m.measure_id.to_string()).collect();
    ids.sort();
    let command_id = Uuid::new_v5(
        &Uuid::NAMESPACE_OID,
        format!("{plan_id}\n{}", ids.join(",")).as_bytes(),
    );
    let (field, query, input) = match new {
        [one] => {
            let mut input = measure_input(interaction, one);
            input["commandId"] = json!(command_id);
            input["planId"] = json!(plan_id);
            let query = "mutation FhirRecordMeasure($input: RecordMeasureInput!) {
                recordMeasure(input: $input) { revision } }";
            ("recordMeasure", query, input)
        }
        several => {
            let inputs: Vec<Value> = several
                .iter()
                .map(|m| measure_input(interaction, m))
                .collect();
            let query = "mutation FhirRecordMeasures($input: RecordMeasuresInput!) {
                recordMeasures(input: $input) { revision } }";
            let input = json!({ "commandId": command_id, "planId": plan_id, "measures": inputs });
            ("recordMeasures", query, input)
        }
    };
    let mut answer: BTreeMap<String, CommandResult> = fhir
        .run(
            interaction,
            "record measures",
            query,
            json!({ "input": input }),
        )
        .await?;
    let result = answer
        .remove(field)
        .ok_or_else(|| Refusal::of(&crate::inprocess::Failure::internal()))?;
    until_projected(
        fhir.read_models.as_deref(),
        &interaction.who.caller.tenant,
        plan_id,
        result.revision,
    )
    .await;
    Ok(())
}

pub(super) fn location(interaction: &Interaction, created: &Value) -> String {
    interaction.base.url(created)
}

async fn create(
    fhir: &Fhir,
    interaction: &Interaction,
    headers: &HeaderMap,
    body: &Bytes,
    parse: Parser,
) -> Result<Response, Refusal> {
    let resource_json = body_json(headers, body)?;
    let measure = parse(&resource_json).map_err(invalid)?;
    let plan_id = plan_for(fhir, interaction, &measure).await?;
    let recorded = record_group(fhir, interaction, &plan_id, &[&measure])
        .await?
        .pop()
        .ok_or_else(|| Refusal::of(&crate::inprocess::Failure::internal()))?;
    let status = if recorded.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = match &recorded.shown {
        Some(body) => resource(status, body),
        // Recorded, but not yet in the read models: say so.
        None => resource(
            status,
            &json!({ "resourceType": "OperationOutcome", "issue": [{
                "severity": "information",
                "code": "informational",
                "diagnostics": "recorded; the plan's read models do not show it yet",
            }]}),
        ),
    };
    if let Some(location) = recorded
        .shown
        .as_ref()
        .map(|b| location(interaction, b))
        .and_then(|l| HeaderValue::from_str(&l).ok())
    {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

/// `POST /fhir/r4/QuestionnaireResponse`.
pub(crate) async fn questionnaire_response_create(
    State(fhir): State<Fhir>,
    interaction: Interaction,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    create(&fhir, &interaction, &headers, &body, questionnaire_response).await
}

/// `POST /fhir/r4/Observation`.
pub(crate) async fn observation_create(
    State(fhir): State<Fhir>,
    interaction: Interaction,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, Refusal> {
    create(&fhir, &interaction, &headers, &body, observation).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fhir::codes::INSTRUMENTS_CODED;

    fn measure(
        instrument: usize,
        answers: Vec<i64>,
        total: Option<i64>,
        on: &str,
    ) -> IncomingMeasure {
        IncomingMeasure {
            instrument: INSTRUMENTS_CODED[instrument],
            answers,
            total,
            administered_on: on.into(),
            client_id: "client-17".into(),
            plan_id: None,
            self_reported: false,
            measure_id: Uuid::nil(),
            resource_type: "Observation",
        }
    }

    #[test]
    fn resources_under_one_identifier_must_tell_the_same_administration() {
        let answers = measure(0, vec![1, 1, 1, 1, 1, 1, 1, 1, 0], None, "2026-12-01");
        let total = measure(0, vec![], Some(8), "2026-12-01");
        assert!(agree(&answers, &total), "a response and its total");
        assert!(!agree(&total, &measure(0, vec![], Some(9), "2026-12-01")));
        assert!(!agree(&total, &measure(0, vec![], Some(8), "2026-12-02")));
        assert!(!agree(&total, &measure(1, vec![], Some(8), "2026-12-01")));
    }
}
