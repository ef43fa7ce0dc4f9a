//! Bulk export (FHIR Bulk Data Access, `$export`): every plan the caller
//! may read, as NDJSON files per resource type, made in the background.
//!
//! `GET /fhir/r4/$export` with `Prefer: respond-async` answers 202 with a
//! status URL; polling it answers 202 (with `X-Progress`) until the files
//! are ready, then the manifest; the files need the same token. Jobs live
//! in this gateway's memory, bounded: two running per caller, 64 MiB of
//! output per job, kept an hour (or until `DELETE` on the status URL).
//! Each plan read is in the access log like any other FHIR read.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::export_jobs::{File, Job, JobState, Owner};
use super::outcome::{Issue, Refusal, resource};
use super::plan_doc::{PLAN_FIELDS, PlanDoc, Plans};
use super::read::resources_of;
use super::request::{Fhir, Interaction, Params};

/// What `$export` can write.
pub(crate) const EXPORTABLE: [&str; 7] = [
    "CarePlan",
    "Condition",
    "Goal",
    "QuestionnaireResponse",
    "Observation",
    "Consent",
    "Provenance",
];
/// Plans read per GraphQL page.
const PAGE: usize = 50;
/// Output one job may hold in memory.
const MAX_OUTPUT_BYTES: usize = 64 * 1024 * 1024;

fn owner(interaction: &Interaction) -> Owner {
    let caller = &interaction.who.caller;
    (caller.tenant.to_string(), caller.subject.clone())
}

fn unknown_job() -> Refusal {
    Refusal::not_found("no export with this id is yours")
}

/// The caller's job `id`; another's answers like a missing one.
fn yours<'a>(
    jobs: &'a HashMap<String, Job>,
    id: &str,
    interaction: &Interaction,
) -> Result<&'a Job, Refusal> {
    // Past its hour a job is gone, whether or not a new export has
    // swept it out yet.
    jobs.get(id)
        .filter(|j| j.owner == owner(interaction) && j.is_kept())
        .ok_or_else(unknown_job)
}

#[derive(Deserialize)]
struct PageOfPlans {
    #[serde(flatten)]
    plans: Plans<PlanDoc>,
}

/// Reads every plan the caller may see, a page at a time, into NDJSON.
async fn run(fhir: Fhir, interaction: Interaction, id: String, types: Vec<&'static str>) {
    let jobs = Arc::clone(&fhir.bulk);
    let query = format!(
        "query FhirExport($first: Int!, $after: String) {{
           plans(first: $first, after: $after) {{ pageInfo {{ hasNextPage endCursor }} nodes {{ {PLAN_FIELDS} }} }} }}"
    );
    let mut files: BTreeMap<&'static str, File> = BTreeMap::new();
    let mut bytes = 0;
    let mut plans = 0;
    let mut after: Option<String> = None;
    loop {
        let page = match page(&fhir, &interaction, &query, after.as_deref()).await {
            Ok(page) => page.plans.plans,
            Err(reason) => {
                jobs.update(&id, JobState::Failed { reason });
                return;
            }
        };
        for plan in &page.nodes {
            bytes += add_resources(&mut files, plan, &types);
        }
        plans += page.nodes.len();
        if bytes > MAX_OUTPUT_BYTES {
            let reason =
                "the export is over 64 MiB, this gateway's bound: ask for fewer _type".into();
            jobs.update(&id, JobState::Failed { reason });
            return;
        }
        jobs.update(&id, JobState::Running { plans });
        match (page.page_info.has_next_page, page.page_info.end_cursor) {
            (true, Some(cursor)) => after = Some(cursor),
            _ => break,
        }
    }
    jobs.update(&id, JobState::Done { files });
}

/// Appends `plan`'s resources of `types` to their files; answers the bytes
/// added.
pub(super) fn add_resources(
    files: &mut BTreeMap<&'static str, File>,
    plan: &PlanDoc,
    types: &[&'static str],
) -> usize {
    let mut bytes = 0;
    for resource in resources_of(plan) {
        let Some(kind) = types
            .iter()
            .find(|t| resource["resourceType"] == **t)
            .copied()
        else {
            continue;
        };
        let file = files.entry(kind).or_default();
        let line = resource.to_string();
        bytes += line.len() + 1;
        file.ndjson.extend_from_slice(line.as_bytes());
        file.ndjson.push(b'\n');
        file.count += 1;
    }
    bytes
}

/// One page of plans; a spent request budget is waited out (briefly).
async fn page(
    fhir: &Fhir,
    interaction: &Interaction,
    query: &str,
    after: Option<&str>,
) -> Result<PageOfPlans, String> {
    for _ in 0..30 {
        match fhir
            .run::<PageOfPlans>(
                interaction,
                "bulk export",
                query,
                json!({ "first": PAGE, "after": after }),
            )
            .await
        {
            Ok(page) => return Ok(page),
            Err(refusal) if refusal.status == StatusCode::TOO_MANY_REQUESTS => {
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            Err(refusal) => {
                return Err(refusal
                    .issues
                    .first()
                    .map_or_else(|| "the export failed".into(), |i| i.diagnostics.clone()));
            }
        }
    }
    Err("the request budget stayed spent for a minute; start the export again later".into())
}

/// `GET /fhir/r4/$export` (with `Prefer: respond-async`).
pub(crate) async fn kick_off(
    State(fhir): State<Fhir>,
    interaction: Interaction,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, Refusal> {
    let params = Params::parse(query.as_deref(), &["_type", "_outputFormat"])?;
    let asynchronous = headers
        .get("prefer")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|p| p.trim() == "respond-async"));
    if !asynchronous {
        return Err(Refusal::invalid(
            "an export runs in the background: send Prefer: respond-async",
            "Prefer",
        ));
    }
    if params.get("_outputFormat").is_some_and(|f| {
        !matches!(
            f,
            "application/fhir+ndjson" | "application/ndjson" | "ndjson"
        )
    }) {
        return Err(Refusal::invalid(
            "_outputFormat: only application/fhir+ndjson is written",
            "_outputFormat",
        ));
    }
    let types: Vec<&'static str> = match params.get("_type") {
        None => EXPORTABLE.to_vec(),
        Some(list) => list
            .split(',')
            .map(|t| EXPORTABLE.iter().find(|e| **e == t.trim()).copied())
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                Refusal::invalid(format!("_type takes {}", EXPORTABLE.join(", ")), "_type")
            })?,
    };
    let request = format!(
        "{}/$export{}",
        interaction.base.0,
        query
            .as_deref()
            .map(|q| format!("?{q}"))
            .unwrap_or_default()
    );
    let id = fhir.bulk.start(owner(&interaction), request)?;
    let status_url = format!("{}/$export-status/{id}", interaction.base.0);
    let jobs = Arc::clone(&fhir.bulk);
    let task = tokio::spawn(run(fhir, interaction, id.clone(), types));
    jobs.run_as(&id, task.abort_handle());
    let mut response = StatusCode::ACCEPTED.into_response();
    if let Ok(location) = HeaderValue::from_str(&status_url) {
        response
            .headers_mut()
            .insert(header::CONTENT_LOCATION, location);
    }
    Ok(response)
}

/// `GET /fhir/r4/$export-status/{id}`: progress, then the manifest.
pub(crate) async fn status(
    State(fhir): State<Fhir>,
    interaction: Interaction,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    let jobs = fhir.bulk.lock();
    let job = yours(&jobs, &id, &interaction)?;
    match &job.state {
        JobState::Running { plans } => {
            let mut response = StatusCode::ACCEPTED.into_response();
            let headers = response.headers_mut();
            if let Ok(progress) = HeaderValue::from_str(&format!("{plans} plans read")) {
                headers.insert("x-progress", progress);
            }
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            Ok(response)
        }
        JobState::Failed { reason } => Err(Refusal::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            Issue::new("incomplete", reason.clone()),
        )),
        JobState::Done { files } => {
            let output: Vec<Value> = files
                .iter()
                .map(|(kind, file)| {
                    json!({
                        "type": kind,
                        "url": format!("{}/$export-file/{id}/{kind}", interaction.base.0),
                        "count": file.count,
                    })
                })
                .collect();
            Ok(resource(
                StatusCode::OK,
                &json!({
                    "transactionTime": job.transaction_time,
                    "request": job.request,
                    "requiresAccessToken": true,
                    "output": output,
                    "error": [],
                }),
            ))
        }
    }
}

/// `DELETE /fhir/r4/$export-status/{id}`: the job and its files go.
pub(crate) async fn delete(
    State(fhir): State<Fhir>,
    interaction: Interaction,
    Path(id): Path<String>,
) -> Result<Response, Refusal> {
    let mut jobs = fhir.bulk.lock();
    yours(&jobs, &id, &interaction)?;
    jobs.remove(&id);
    Ok(StatusCode::ACCEPTED.into_response())
}

/// `GET /fhir/r4/$export-file/{id}/{type}`: one NDJSON file.
pub(crate) async fn file(
    State(fhir): State<Fhir>,
    interaction: Interaction,
    Path((id, kind)): Path<(String, String)>,
) -> Result<Response, Refusal> {
    let jobs = fhir.bulk.lock();
    let job = yours(&jobs, &id, &interaction)?;
    let JobState::Done { files } = &job.state else {
        return Err(unknown_job());
    };
    let file = files
        .get(kind.as_str())
        .ok_or_else(|| Refusal::not_found("this export has no file of that type"))?;
    let mut response = (StatusCode::OK, file.ndjson.clone()).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/fhir+ndjson"),
    );
    Ok(response)
}
