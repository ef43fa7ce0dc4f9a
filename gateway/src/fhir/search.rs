//! Searches: CarePlans by subject and status, a client's questionnaire
//! totals as Observations, and the access log as AuditEvents — each a
//! `searchset` Bundle a page at a time, with a `next` link.

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::audit_event::{AUDIT_FIELDS, AccessEntry, audit_event};
use super::bundle::searchset;
use super::care_plan::{care_plan, status_of};
use super::codes::{INSTRUMENTS_CODED, InstrumentCodes};
use super::measures::totals;
use super::outcome::{Refusal, resource};
use super::plan_doc::{MEASURE_FIELDS, MeasuredPlan, PLAN_FIELDS, PageInfo, PlanDoc, Plans};
use super::refs::{id_in, is_fhir_id};
use super::request::{Fhir, Interaction, Params};

/// The plans a client-side filter scans for one client's measures: a
/// bound on the search's cost (a client rarely has more than a few).
const PLANS_PER_CLIENT: usize = 100;

/// `Patient/{id}` or a bare id: the client's id.
fn subject(params: &Params, required: bool) -> Result<Option<String>, Refusal> {
    let raw = params.get("subject").or_else(|| params.get("patient"));
    match raw {
        None if required => Err(Refusal::invalid(
            "subject is required: Patient/{the clinic's client id}",
            "subject",
        )),
        None => Ok(None),
        Some(raw) => {
            let id = if raw.contains('/') {
                id_in(raw, "Patient")
            } else {
                is_fhir_id(raw).then_some(raw)
            };
            id.map(|id| Some(id.to_owned())).ok_or_else(|| {
                Refusal::invalid("subject must be Patient/{id} with a FHIR id", "subject")
            })
        }
    }
}

fn cursor(params: &Params) -> Result<Option<String>, Refusal> {
    match params.get("_cursor") {
        Some(c) if c.len() > 200 || c.is_empty() => Err(Refusal::invalid(
            "_cursor must be the value from a next link",
            "_cursor",
        )),
        other => Ok(other.map(str::to_owned)),
    }
}

/// `GET /fhir/r4/CarePlan?subject=Patient/…&status=active`.
pub(crate) async fn care_plans(
    State(fhir): State<Fhir>,
    interaction: Interaction,
    RawQuery(query): RawQuery,
) -> Result<Response, Refusal> {
    let params = Params::parse(
        query.as_deref(),
        &["subject", "patient", "status", "_count", "_cursor"],
    )?;
    let client = subject(&params, false)?;
    let statuses: Option<Vec<&str>> = params.get("status").map(|s| s.split(',').collect());
    const STATUSES: [&str; 5] = ["draft", "active", "on-hold", "completed", "revoked"];
    if statuses
        .as_ref()
        .is_some_and(|s| s.iter().any(|s| !STATUSES.contains(s)))
    {
        return Err(Refusal::invalid(
            format!("status takes {}", STATUSES.join(", ")),
            "status",
        ));
    }
    let count = params.count()?;
    let after = cursor(&params)?;
    let query = format!(
        "query FhirCarePlans($first: Int!, $after: String, $client: String) {{
               plans(first: $first, after: $after, clientId: $client) {{
                 pageInfo {{ hasNextPage endCursor }} nodes {{ {PLAN_FIELDS} }} }} }}"
    );
    let page: Plans<PlanDoc> = fhir
        .run(
            &interaction,
            "search CarePlan",
            &query,
            json!({ "first": count, "after": after, "client": client }),
        )
        .await?;
    let matches: Vec<Value> = page
        .plans
        .nodes
        .iter()
        .filter(|p| statuses.as_ref().is_none_or(|s| s.contains(&status_of(p))))
        .map(care_plan)
        .collect();
    let this = query_of(&params, &[]);
    let next = next_page(&page.plans.page_info).map(|c| query_of(&params, &[("_cursor", &c)]));
    Ok(resource(
        StatusCode::OK,
        &searchset(
            &interaction.base,
            "CarePlan",
            &this,
            next,
            matches,
            Vec::new(),
        ),
    ))
}

fn next_page(info: &PageInfo) -> Option<String> {
    info.has_next_page
        .then(|| info.end_cursor.clone())
        .flatten()
}

/// The request's parameters again, with `changes` set: a page's link.
fn query_of(params: &Params, changes: &[(&str, &str)]) -> String {
    let mut pairs: Vec<(String, String)> = params
        .pairs()
        .iter()
        .filter(|(n, _)| !changes.iter().any(|(c, _)| c == n))
        .cloned()
        .collect();
    pairs.extend(
        changes
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned())),
    );
    pairs
        .iter()
        .map(|(n, v)| format!("{}={}", encode(n), encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The instrument a `code` search parameter names (`44261-6` or
/// `http://loinc.org|44261-6`).
fn instrument_of_code(raw: &str) -> Option<&'static InstrumentCodes> {
    match raw.split_once('|') {
        Some((system, code)) => InstrumentCodes::of_total(system, code),
        None => INSTRUMENTS_CODED.into_iter().find(|i| i.total == raw),
    }
}

/// `GET /fhir/r4/Observation?subject=Patient/…&code=44261-6`: one
/// client's questionnaire totals, oldest first.
pub(crate) async fn observations(
    State(fhir): State<Fhir>,
    interaction: Interaction,
    RawQuery(query): RawQuery,
) -> Result<Response, Refusal> {
    let params = Params::parse(
        query.as_deref(),
        &[
            "subject", "patient", "code", "category", "_count", "_cursor",
        ],
    )?;
    let client = subject(&params, true)?;
    let only = match params.get("code") {
        None => None,
        Some(raw) => Some(instrument_of_code(raw).ok_or_else(|| {
            Refusal::invalid(
                "code takes a questionnaire total: 44261-6 (PHQ-9), 70274-6 (GAD-7) or pswq-total",
                "code",
            )
        })?),
    };
    if params
        .get("category")
        .is_some_and(|c| c != "survey" && !c.ends_with("|survey"))
    {
        return Err(Refusal::invalid(
            "category: only survey Observations are kept",
            "category",
        ));
    }
    let count = params.count()?;
    // Where the last page ended: `{date}.{measure id}`, so a score
    // recorded meanwhile neither repeats nor hides one.
    let after = cursor(&params)?;
    let query = format!(
        "query FhirObservations($first: Int!, $client: String) {{
               plans(first: $first, clientId: $client) {{
                 pageInfo {{ hasNextPage endCursor }} nodes {{ {MEASURE_FIELDS} }} }} }}"
    );
    let page: Plans<MeasuredPlan> = fhir
        .run(
            &interaction,
            "search Observation",
            &query,
            json!({ "first": PLANS_PER_CLIENT, "client": client }),
        )
        .await?;
    let mut series: Vec<(String, Value)> = page
        .plans
        .nodes
        .iter()
        .flat_map(|p| totals(p.owner(), only))
        .map(|(on, o)| (format!("{on}.{}", o["id"].as_str().unwrap_or_default()), o))
        .collect();
    series.sort_by(|a, b| a.0.cmp(&b.0));
    let total = series.len();
    let mut rest = series
        .into_iter()
        .filter(|(key, _)| after.as_ref().is_none_or(|a| key > a))
        .peekable();
    let mut matches = Vec::new();
    let mut last = None;
    while matches.len() < count {
        let Some((key, observation)) = rest.next() else {
            break;
        };
        matches.push(observation);
        last = Some(key);
    }
    let this = query_of(&params, &[]);
    let next = rest
        .peek()
        .and(last)
        .map(|key| query_of(&params, &[("_cursor", &key)]));
    let mut bundle = searchset(
        &interaction.base,
        "Observation",
        &this,
        next,
        matches,
        Vec::new(),
    );
    bundle["total"] = json!(total);
    if page.plans.page_info.has_next_page {
        // Said, never silently cut: the search reads a bounded number
        // of the client's plans.
        let warning = json!({ "search": { "mode": "outcome" }, "resource": {
            "resourceType": "OperationOutcome",
            "issue": [{
                "severity": "warning",
                "code": "too-costly",
                "diagnostics": format!("the client has more than {PLANS_PER_CLIENT} plans; the scores of the first {PLANS_PER_CLIENT} are shown"),
            }],
        }});
        if let Some(entries) = bundle["entry"].as_array_mut() {
            entries.push(warning);
        }
    }
    Ok(resource(StatusCode::OK, &bundle))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessLog {
    access_log: Vec<AccessEntry>,
}

/// `GET /fhir/r4/AuditEvent?entity=CarePlan/…` (who read a plan) or
/// `?agent=…` (what a user read): the access log, for auditors.
pub(crate) async fn audit_events(
    State(fhir): State<Fhir>,
    interaction: Interaction,
    RawQuery(query): RawQuery,
) -> Result<Response, Refusal> {
    let params = Params::parse(query.as_deref(), &["entity", "agent", "_count", "_cursor"])?;
    let (plan_id, agent) = match (params.get("entity"), params.get("agent")) {
        (Some(entity), None) => {
            let id = id_in(entity, "CarePlan")
                .ok_or_else(|| Refusal::invalid("entity must be CarePlan/{id}", "entity"))?;
            (Some(id.to_owned()), None)
        }
        // A reference (Practitioner/dr-rivera) or the bare subject.
        (None, Some(agent)) => (
            None,
            Some(agent.rsplit('/').next().unwrap_or(agent).to_owned()),
        ),
        _ => {
            return Err(Refusal::invalid(
                "give exactly one of entity (CarePlan/{id}) or agent (a user's subject)",
                "entity",
            ));
        }
    };
    let count = params.count()?;
    let after = match cursor(&params)?.map(|c| c.parse::<u64>()) {
        None => None,
        Some(Ok(n)) => Some(n),
        Some(Err(_)) => {
            return Err(Refusal::invalid(
                "_cursor must be the value from a next link",
                "_cursor",
            ));
        }
    };
    let query = format!(
            "query FhirAuditEvents($plan: ID, $subject: String, $first: Int!, $after: Int) {{
               accessLog(planId: $plan, subject: $subject, first: $first, after: $after) {{ {AUDIT_FIELDS} }} }}"
        );
    let answer: AccessLog = fhir
        .run(
            &interaction,
            "search AuditEvent",
            &query,
            json!({ "plan": plan_id, "subject": agent, "first": count, "after": after }),
        )
        .await?;
    let next = (answer.access_log.len() == count)
        .then(|| answer.access_log.last().map(|e| e.id.to_string()))
        .flatten()
        .map(|c| query_of(&params, &[("_cursor", &c)]));
    let events: Vec<Value> = answer.access_log.iter().map(audit_event).collect();
    let this = query_of(&params, &[]);
    Ok(resource(
        StatusCode::OK,
        &searchset(
            &interaction.base,
            "AuditEvent",
            &this,
            next,
            events,
            Vec::new(),
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_keep_the_search_and_move_the_page() {
        let params = Params::parse(
            Some("subject=Patient/a&_count=5&_cursor=old"),
            &["subject", "_count", "_cursor"],
        )
        .unwrap();
        // The page moves; the search stays.
        assert_eq!(
            query_of(&params, &[("_cursor", "2026-11-30.m-1")]),
            "subject=Patient/a&_count=5&_cursor=2026-11-30.m-1"
        );
        assert_eq!(encode("a b&c"), "a%20b%26c");
    }

    #[test]
    fn codes_name_totals_only() {
        assert_eq!(instrument_of_code("44261-6").map(|i| i.name), Some("PHQ9"));
        assert_eq!(
            instrument_of_code("http://loinc.org|70274-6").map(|i| i.name),
            Some("GAD7")
        );
        assert!(instrument_of_code("44249-1").is_none());
    }
}
