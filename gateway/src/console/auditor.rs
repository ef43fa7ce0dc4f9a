//! The auditor's pages: chain verification, a plan's timeline (who, when,
//! why, command and correlation ids; filters), the plan as of any version
//! or time, the changes between two versions, the access log by plan and
//! by user, and the timeline's export. Every read goes through the
//! auditor's GraphQL queries, so each is role-checked and access-logged.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::filters;
use super::graphql::Visit;
use super::home::{Nodes, PlanRef};
use super::pages::{Layout, failed, html};
use super::plan::{Which, render};
use super::state::Console;

/// Events per timeline page, and at most in one export.
const PAGE: i64 = 100;
const EXPORT_MAX: usize = 10_000;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Verification {
    ok: bool,
    streams: i64,
    events: i64,
    digests: i64,
    first_break: Option<String>,
    last_digest_at: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Verified {
    audit_verification: Verification,
}

#[derive(Debug, Deserialize)]
struct PlansOnly {
    plans: Nodes<PlanRef>,
}

#[derive(Template)]
#[template(path = "console/audit_home.html")]
struct AuditHomePage {
    layout: Layout,
    verification: Verification,
    plans: Vec<PlanRef>,
}

pub(crate) async fn home(State(console): State<Console>, visit: Visit) -> Response {
    // The verification first: it is the auditor's alone, so nobody else
    // reads (and is logged reading) the plans list for a page refused.
    let verification = "query ConsoleAudit { auditVerification { ok streams events digests firstBreak lastDigestAt } }";
    let plans = "query ConsoleAuditPlans { plans(first: 100) { nodes { id title clientId } } }";
    let loaded = match console
        .run::<Verified>(&visit, "audit", verification, json!({}))
        .await
    {
        Ok(verified) => console
            .run::<PlansOnly>(&visit, "audit", plans, json!({}))
            .await
            .map(|p| (verified.audit_verification, p.plans.nodes)),
        Err(failure) => Err(failure),
    };
    match loaded {
        Ok((verification, plans)) => html(
            StatusCode::OK,
            &AuditHomePage {
                layout: Layout::signed_in("Audit", &visit),
                verification,
                plans,
            },
        ),
        Err(failure) => failed(&visit, &failure),
    }
}

/// One event of a plan's history, as the timeline shows it.
#[derive(Debug, Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Event {
    revision: i64,
    event_type: String,
    recorded_at: String,
    actor_subject: String,
    actor_role: String,
    reason: Option<String>,
    request_id: String,
    command_id: String,
    correlation_id: String,
    payload_json: String,
    hash: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct History {
    events: Vec<Event>,
    next_after_revision: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct HistoryAnswer {
    plan_history: History,
}

/// The timeline's filters, as the form sends them.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct Filters {
    #[serde(default)]
    actor: String,
    /// `datetime-local` values, read as UTC.
    #[serde(default)]
    from: String,
    #[serde(default)]
    to: String,
    #[serde(default, rename = "type")]
    event_type: String,
    #[serde(default)]
    after: Option<i64>,
}

/// A `datetime-local` (or date, or RFC 3339) value as RFC 3339 UTC.
fn rfc3339(value: &str) -> Option<String> {
    let value = value.trim();
    match value.len() {
        0 => None,
        10 => Some(format!("{value}T00:00:00Z")),
        16 => Some(format!("{value}:00Z")),
        19 => Some(format!("{value}Z")),
        _ => Some(value.to_owned()),
    }
}

fn blank_none(value: &str) -> Option<&str> {
    let value = value.trim();
    (!value.is_empty()).then_some(value)
}

async fn history(
    console: &Console,
    visit: &Visit,
    label: &'static str,
    plan_id: &str,
    filters: &Filters,
    after: Option<i64>,
) -> Result<History, super::graphql::Failure> {
    let query = "query ConsoleTimeline($id: ID!, $first: Int, $after: Int, $actor: String, \
                 $from: String, $to: String, $types: [String!]) { \
                 planHistory(id: $id, first: $first, after: $after, actor: $actor, from: $from, \
                 to: $to, eventTypes: $types) { nextAfterRevision events { revision eventType \
                 recordedAt actorSubject actorRole reason requestId commandId correlationId \
                 payloadJson hash } } }";
    let types = blank_none(&filters.event_type).map(|t| vec![t]);
    let variables = json!({
        "id": plan_id,
        "first": PAGE,
        "after": after,
        "actor": blank_none(&filters.actor),
        "from": rfc3339(&filters.from),
        "to": rfc3339(&filters.to),
        "types": types,
    });
    console
        .run::<HistoryAnswer>(visit, label, query, variables)
        .await
        .map(|a| a.plan_history)
}

#[derive(Template)]
#[template(path = "console/audit_timeline.html")]
struct TimelinePage {
    layout: Layout,
    plan_id: String,
    events: Vec<Event>,
    filters: Filters,
    next: Option<String>,
}

impl TimelinePage {
    /// The query string of the next page: the same filters, further on.
    fn next_link(filters: &Filters, after: i64) -> String {
        let mut query = form_urlencoded(&[
            ("actor", &filters.actor),
            ("from", &filters.from),
            ("to", &filters.to),
            ("type", &filters.event_type),
        ]);
        query.push_str(&format!("&after={after}"));
        query
    }
}

fn form_urlencoded(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| {
            let value: String = v
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b':' => {
                        char::from(b).to_string()
                    }
                    _ => format!("%{b:02X}"),
                })
                .collect();
            format!("{k}={value}")
        })
        .collect::<Vec<_>>()
        .join("&")
}

pub(crate) async fn timeline(
    State(console): State<Console>,
    visit: Visit,
    Path(plan_id): Path<String>,
    Query(filters): Query<Filters>,
) -> Response {
    match history(
        &console,
        &visit,
        "timeline",
        &plan_id,
        &filters,
        filters.after,
    )
    .await
    {
        Ok(history) => {
            let next = history
                .next_after_revision
                .map(|after| TimelinePage::next_link(&filters, after));
            html(
                StatusCode::OK,
                &TimelinePage {
                    layout: Layout::signed_in("Timeline", &visit),
                    plan_id,
                    events: history.events,
                    filters,
                    next,
                },
            )
        }
        Err(failure) => failed(&visit, &failure),
    }
}

/// The timeline (with its filters) as JSON Lines, one event a line.
pub(crate) async fn export(
    State(console): State<Console>,
    visit: Visit,
    Path(plan_id): Path<String>,
    Query(filters): Query<Filters>,
) -> Response {
    let mut lines = String::new();
    let mut after = None;
    let mut count = 0usize;
    loop {
        let page = match history(
            &console,
            &visit,
            "timeline-export",
            &plan_id,
            &filters,
            after,
        )
        .await
        {
            Ok(page) => page,
            Err(failure) => return failed(&visit, &failure),
        };
        for event in &page.events {
            lines.push_str(&serde_json::to_string(event).unwrap_or_default());
            lines.push('\n');
        }
        count += page.events.len();
        match page.next_after_revision {
            Some(next) if count < EXPORT_MAX => after = Some(next),
            _ => break,
        }
    }
    let disposition = format!(
        "attachment; filename=\"plan-{}-history.jsonl\"",
        short(&plan_id)
    );
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/x-ndjson"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
        ],
        lines,
    )
        .into_response()
}

/// A file-name-safe prefix of a plan id.
fn short(plan_id: &str) -> String {
    plan_id
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .take(36)
        .collect()
}

#[derive(Debug, Deserialize)]
pub(crate) struct AsOf {
    #[serde(default)]
    version: Option<i64>,
    #[serde(default)]
    at: String,
}

pub(crate) async fn as_of(
    State(console): State<Console>,
    visit: Visit,
    Path(plan_id): Path<String>,
    Query(asked): Query<AsOf>,
) -> Response {
    let which = Which::AsOf {
        version: asked.version,
        at: rfc3339(&asked.at),
    };
    render(&console, &visit, &plan_id, which, None, "").await
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Change {
    path: String,
    before_json: Option<String>,
    after_json: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DiffAnswer {
    plan_diff: Vec<Change>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Versions {
    from: i64,
    to: i64,
}

#[derive(Template)]
#[template(path = "console/audit_diff.html")]
struct DiffPage {
    layout: Layout,
    plan_id: String,
    from: i64,
    to: i64,
    changes: Vec<Change>,
}

pub(crate) async fn diff(
    State(console): State<Console>,
    visit: Visit,
    Path(plan_id): Path<String>,
    Query(versions): Query<Versions>,
) -> Response {
    let query = "query ConsoleDiff($id: ID!, $from: Int!, $to: Int!) { \
                 planDiff(id: $id, fromVersion: $from, toVersion: $to) { path beforeJson afterJson } }";
    let variables = json!({ "id": plan_id, "from": versions.from, "to": versions.to });
    match console
        .run::<DiffAnswer>(&visit, "diff", query, variables)
        .await
    {
        Ok(answer) => html(
            StatusCode::OK,
            &DiffPage {
                layout: Layout::signed_in("Changes", &visit),
                plan_id,
                from: versions.from,
                to: versions.to,
                changes: answer.plan_diff,
            },
        ),
        Err(failure) => failed(&visit, &failure),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessEntry {
    id: i64,
    subject: String,
    role: String,
    plan_id: Option<String>,
    operation: String,
    fields: Vec<String>,
    api: String,
    address: String,
    request_id: String,
    at: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccessAnswer {
    access_log: Vec<AccessEntry>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AccessFilter {
    #[serde(default)]
    plan: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    after: Option<i64>,
}

#[derive(Template)]
#[template(path = "console/audit_access.html")]
struct AccessPage {
    layout: Layout,
    filter: AccessFilter,
    entries: Vec<AccessEntry>,
    next: Option<String>,
}

pub(crate) async fn access(
    State(console): State<Console>,
    visit: Visit,
    Query(filter): Query<AccessFilter>,
) -> Response {
    let query = "query ConsoleAccess($plan: ID, $subject: String, $first: Int, $after: Int) { \
                 accessLog(planId: $plan, subject: $subject, first: $first, after: $after) { \
                 id subject role planId operation fields api address requestId at } }";
    let variables = json!({
        "plan": blank_none(&filter.plan),
        "subject": blank_none(&filter.subject),
        "first": PAGE,
        "after": filter.after,
    });
    match console
        .run::<AccessAnswer>(&visit, "access-log", query, variables)
        .await
    {
        Ok(answer) => {
            let next = (answer.access_log.len() as i64 == PAGE)
                .then(|| answer.access_log.last().map(|e| e.id))
                .flatten()
                .map(|after| {
                    let mut q =
                        form_urlencoded(&[("plan", &filter.plan), ("subject", &filter.subject)]);
                    q.push_str(&format!("&after={after}"));
                    q
                });
            html(
                StatusCode::OK,
                &AccessPage {
                    layout: Layout::signed_in("Access log", &visit),
                    filter,
                    entries: answer.access_log,
                    next,
                },
            )
        }
        Err(failure) => failed(&visit, &failure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browser_times_become_rfc3339_utc() {
        assert_eq!(rfc3339(""), None);
        assert_eq!(rfc3339("2026-12-04").unwrap(), "2026-12-04T00:00:00Z");
        assert_eq!(rfc3339("2026-12-04T15:30").unwrap(), "2026-12-04T15:30:00Z");
        assert_eq!(
            rfc3339("2026-12-04T15:30:00+01:00").unwrap(),
            "2026-12-04T15:30:00+01:00"
        );
    }

    #[test]
    fn the_next_page_keeps_the_filters() {
        let filters = Filters {
            actor: "dr a".into(),
            event_type: "GoalAdded".into(),
            ..Filters::default()
        };
        let link = TimelinePage::next_link(&filters, 40);
        assert_eq!(link, "actor=dr%20a&from=&to=&type=GoalAdded&after=40");
    }
}
