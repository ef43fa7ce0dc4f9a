//! The home page: the caseload, open safety flags first (kept live over
//! server-sent events), reviews due and overdue, plans awaiting
//! signatures, measures due.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::Duration;

use askama::Template;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use serde::Deserialize;
use trellis_auth::Role;

use super::filters;
use super::graphql::{Failure, Visit};
use super::pages::{Layout, failed, html};
use super::state::Console;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PlanRef {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) client_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Flag {
    pub(crate) reason: String,
    pub(crate) raised_on: String,
}

#[derive(Debug, Deserialize)]
pub(crate) struct OpenFlag {
    pub(crate) plan: PlanRef,
    pub(crate) flag: Flag,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DueReview {
    pub(crate) plan: PlanRef,
    pub(crate) review: DueOn,
    pub(crate) overdue: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DueOn {
    pub(crate) due_on: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Unsigned {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) client_id: String,
    pub(crate) pending_signatures: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ScheduledMeasure {
    pub(crate) instrument: String,
    pub(crate) due_on: String,
    pub(crate) overdue: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CaseloadPlan {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) client_id: String,
    pub(crate) status: String,
    pub(crate) primary_clinician_id: String,
    pub(crate) measure_schedule: Vec<ScheduledMeasure>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Nodes<T> {
    pub(crate) nodes: Vec<T>,
}

/// What the care team sees; other roles see the plans list only.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CareTeamHome {
    open_safety_flags: Vec<OpenFlag>,
    reviews_due: Vec<DueReview>,
    unsigned_plans: Vec<Unsigned>,
    plans: Nodes<CaseloadPlan>,
}

#[derive(Debug, Deserialize)]
struct PlansOnly {
    plans: Nodes<CaseloadPlan>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct FlagsOnly {
    open_safety_flags: Vec<OpenFlag>,
}

const PLANS: &str = "plans(first: 100) { nodes { id title clientId status primaryClinicianId \
     measureSchedule { instrument dueOn overdue } } }";
const FLAGS: &str =
    "openSafetyFlags(first: 50) { plan { id title clientId } flag { reason raisedOn } }";

fn care_team_query() -> String {
    format!(
        "query ConsoleHome {{ {FLAGS} \
         reviewsDue(withinDays: 14, first: 50) {{ plan {{ id title clientId }} review {{ dueOn }} overdue }} \
         unsignedPlans(first: 50) {{ id title clientId pendingSignatures }} {PLANS} }}"
    )
}

/// Whether the caller works in the care team (sees flags and queues).
fn in_care_team(visit: &Visit) -> bool {
    let caller = &visit.session.caller;
    caller.has_role(Role::Clinician) || caller.has_role(Role::Supervisor)
}

/// A measure that is due within a week or overdue, on a plan.
pub(crate) struct MeasureDue {
    pub(crate) plan_id: String,
    pub(crate) client_id: String,
    pub(crate) instrument: String,
    pub(crate) due_on: String,
    pub(crate) overdue: bool,
}

#[derive(Template)]
#[template(path = "console/home.html")]
struct HomePage {
    layout: Layout,
    care_team: bool,
    flags: Vec<OpenFlag>,
    reviews: Vec<DueReview>,
    unsigned: Vec<Unsigned>,
    measures_due: Vec<MeasureDue>,
    plans: Vec<CaseloadPlan>,
}

#[derive(Template)]
#[template(path = "console/flags.html")]
struct FlagsFragment {
    flags: Vec<OpenFlag>,
}

fn measures_due(plans: &[CaseloadPlan]) -> Vec<MeasureDue> {
    let soon = (chrono::Utc::now().date_naive() + chrono::Days::new(7)).to_string();
    let mut due: Vec<MeasureDue> = plans
        .iter()
        .filter(|p| p.status == "ACTIVE")
        .flat_map(|p| {
            p.measure_schedule
                .iter()
                .filter(|m| m.overdue || m.due_on <= soon)
                .map(|m| MeasureDue {
                    plan_id: p.id.clone(),
                    client_id: p.client_id.clone(),
                    instrument: m.instrument.clone(),
                    due_on: m.due_on.clone(),
                    overdue: m.overdue,
                })
        })
        .collect();
    due.sort_by(|a, b| a.due_on.cmp(&b.due_on));
    due
}

pub(crate) async fn page(State(console): State<Console>, visit: Visit) -> Response {
    let care_team = in_care_team(&visit);
    let loaded: Result<HomePage, Failure> = if care_team {
        console
            .run::<CareTeamHome>(&visit, "home", &care_team_query(), serde_json::json!({}))
            .await
            .map(|home| HomePage {
                layout: Layout::signed_in("Home", &visit),
                care_team,
                flags: home.open_safety_flags,
                reviews: home.reviews_due,
                unsigned: home.unsigned_plans,
                measures_due: measures_due(&home.plans.nodes),
                plans: home.plans.nodes,
            })
    } else {
        let query = format!("query ConsoleHome {{ {PLANS} }}");
        console
            .run::<PlansOnly>(&visit, "home", &query, serde_json::json!({}))
            .await
            .map(|home| HomePage {
                layout: Layout::signed_in("Home", &visit),
                care_team,
                flags: Vec::new(),
                reviews: Vec::new(),
                unsigned: Vec::new(),
                measures_due: Vec::new(),
                plans: home.plans.nodes,
            })
    };
    match loaded {
        Ok(page) => html(StatusCode::OK, &page),
        Err(failure) => failed(&visit, &failure),
    }
}

async fn flags_fragment(console: &Console, visit: &Visit) -> Result<String, Failure> {
    let query = format!("query ConsoleFlags {{ {FLAGS} }}");
    let open = console
        .run::<FlagsOnly>(visit, "flags", &query, serde_json::json!({}))
        .await?;
    FlagsFragment {
        flags: open.open_safety_flags,
    }
    .render()
    .map_err(|e| {
        tracing::error!(error = %e, "console: template failed");
        Failure::new("INTERNAL", "internal error")
    })
}

/// The open safety flags alone (what the live section swaps in).
pub(crate) async fn flags(State(console): State<Console>, visit: Visit) -> Response {
    match flags_fragment(&console, &visit).await {
        Ok(fragment) => super::pages::fragment(fragment),
        Err(failure) => failed(&visit, &failure),
    }
}

/// Server-sent events: each safety flag raised on a plan the caller
/// treats or supervises sends the open-flags section again. The event
/// names no plan and carries no content until the section is rendered
/// for this caller (and its read logged).
pub(crate) async fn live_flags(
    State(console): State<Console>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let visit = match console.visit(&headers, peer) {
        Ok(visit) => visit,
        Err(_) => return StatusCode::UNAUTHORIZED.into_response(),
    };
    if !in_care_team(&visit) {
        // 204 tells the browser's EventSource not to reconnect.
        return StatusCode::NO_CONTENT.into_response();
    }
    let request = async_graphql::Request::new("subscription { safetyFlagRaised { flagId } }")
        .data(visit.session.caller.clone())
        .data(visit.meta.clone())
        .data(console.edge.introspection);
    let alerts = console.schema.execute_stream(request);
    let stream = alerts
        // A subscription that cannot start (no live updates in this
        // deployment) ends at once; the page keeps what it showed.
        .take_while(|response| futures::future::ready(response.errors.is_empty()))
        .then(move |_| {
            let console = console.clone();
            let visit = visit.clone();
            async move {
                match flags_fragment(&console, &visit).await {
                    Ok(html) => Event::default().event("flags").data(html),
                    Err(failure) => Event::default().event("refused").data(failure.code),
                }
            }
        })
        .map(Ok::<_, Infallible>);
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}
