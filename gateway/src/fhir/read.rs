//! Reading one plan: the CarePlan, the plan with everything it holds, and
//! the CarePlan as it was at any version (the event store makes this
//! exact).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::bundle::collection;
use super::care_plan::{care_plan as care_plan_resource, conditions};
use super::goals::goals;
use super::measures::measure_resources;
use super::outcome::{Refusal, resource};
use super::plan_doc::{PLAN_FIELDS, PlanDoc};
use super::provenance::{consents, provenances};
use super::refs::is_fhir_id;
use super::request::{Fhir, Interaction, Params};

#[derive(Deserialize)]
struct OnePlan {
    plan: Option<PlanDoc>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PlanAsOf {
    plan_as_of: PlanDoc,
}

/// The plan, or NOT_FOUND alike for a plan that does not exist and one the
/// caller may not see.
pub(super) async fn load(
    fhir: &Fhir,
    interaction: &Interaction,
    label: &'static str,
    id: &str,
) -> Result<PlanDoc, Refusal> {
    let missing = || Refusal::not_found("no CarePlan with this id is visible to you");
    if !is_fhir_id(id) {
        return Err(missing());
    }
    let query = format!("query FhirPlan($id: ID!) {{ plan(id: $id) {{ {PLAN_FIELDS} }} }}");
    let answer: OnePlan = fhir
        .run(interaction, label, &query, json!({ "id": id }))
        .await?;
    answer.plan.ok_or_else(missing)
}

/// Every resource the plan holds, the CarePlan first.
pub(super) fn resources_of(plan: &PlanDoc) -> Vec<Value> {
    let mut all = vec![care_plan_resource(plan)];
    all.extend(conditions(plan));
    all.extend(goals(plan));
    all.extend(measure_resources(plan.owner()));
    all.extend(consents(plan));
    all.extend(provenances(plan));
    all
}

fn versioned(body: &Value, version: u64, updated_at: &str) -> Response {
    let mut response = resource(StatusCode::OK, body);
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&format!("W/\"{version}\"")) {
        headers.insert(header::ETAG, etag);
    }
    if let Some(modified) = chrono::DateTime::parse_from_rfc3339(updated_at)
        .ok()
        .and_then(|t| HeaderValue::from_str(&t.to_rfc2822()).ok())
    {
        headers.insert(header::LAST_MODIFIED, modified);
    }
    response
}

/// `GET /fhir/r4/CarePlan/{id}`.
pub(crate) async fn care_plan(
    State(fhir): State<Fhir>,
    interaction: Interaction,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Refusal> {
    Params::parse(query.as_deref(), &[])?;
    let plan = load(&fhir, &interaction, "read CarePlan", &id).await?;
    Ok(versioned(
        &care_plan_resource(&plan),
        plan.version,
        &plan.updated_at,
    ))
}

/// `GET /fhir/r4/CarePlan/{id}/$everything`: the plan with its
/// Conditions, Goals, questionnaire results, Consents and Provenance.
pub(crate) async fn everything(
    State(fhir): State<Fhir>,
    interaction: Interaction,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> Result<Response, Refusal> {
    Params::parse(query.as_deref(), &[])?;
    let plan = load(&fhir, &interaction, "CarePlan $everything", &id).await?;
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let body = collection(&interaction.base, resources_of(&plan), &now);
    Ok(versioned(&body, plan.version, &plan.updated_at))
}

/// `GET /fhir/r4/CarePlan/{id}/_history/{version}`: the CarePlan exactly
/// as it stood at that version, replayed from the audit trail (the same
/// rule as GraphQL's `planAsOf`: auditors).
pub(crate) async fn care_plan_at(
    State(fhir): State<Fhir>,
    interaction: Interaction,
    Path((id, version)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, Refusal> {
    Params::parse(query.as_deref(), &[])?;
    let Ok(version) = version.parse::<u64>() else {
        return Err(Refusal::invalid(
            "the version is a plan version: a whole number from 1",
            "CarePlan.meta.versionId",
        ));
    };
    if !is_fhir_id(&id) {
        return Err(Refusal::not_found(
            "no CarePlan with this id is visible to you",
        ));
    }
    let query = format!(
        "query FhirPlanAsOf($id: ID!, $version: Int!) {{ planAsOf(id: $id, version: $version) {{ {PLAN_FIELDS} }} }}"
    );
    let answer: PlanAsOf = fhir
        .run(
            &interaction,
            "vread CarePlan",
            &query,
            json!({ "id": id, "version": version }),
        )
        .await?;
    let plan = answer.plan_as_of;
    Ok(versioned(
        &care_plan_resource(&plan),
        plan.version,
        &plan.updated_at,
    ))
}
