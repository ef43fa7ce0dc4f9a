//! The supervisor's page: the clinic's plans by clinician, the co-sign
//! queue, reviews due, and the outcome rates (response, remission,
//! objectives met) with a chart and a table.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::chart::{rates_over_time_svg, rates_svg};
use super::filters;
use super::graphql::Visit;
use super::home::{DueReview, Nodes};
use super::pages::{Layout, failed, html};
use super::state::Console;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Caseload {
    clinician_id: String,
    primary: i64,
    draft: i64,
    active: i64,
    on_hold: i64,
    closed: i64,
    reviews_overdue: i64,
    unsigned: i64,
    open_safety_flags: i64,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Outcomes {
    clients_measured: i64,
    response_rate: f64,
    remission_rate: f64,
    objectives: i64,
    objectives_met: i64,
    objectives_met_rate: f64,
}

#[derive(Debug, Deserialize)]
struct Role {
    role: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SignedPlan {
    id: String,
    title: String,
    primary_clinician_id: String,
    status: String,
    plan_version: i64,
    pending_signatures: Vec<String>,
    signatures: Vec<Role>,
}

#[derive(Debug, Deserialize)]
struct OutcomePoint {
    on: String,
    outcomes: Outcomes,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Overview {
    caseload: Vec<Caseload>,
    outcome_history: Vec<OutcomePoint>,
    reviews_due: Vec<DueReview>,
    plans: Nodes<SignedPlan>,
}

const QUERY: &str = "query ConsoleSupervisor { \
    caseload { clinicianId primary draft active onHold closed reviewsOverdue unsigned openSafetyFlags } \
    outcomeHistory(months: 12) { on outcomes { clientsMeasured responseRate remissionRate \
      objectives objectivesMet objectivesMetRate } } \
    reviewsDue(withinDays: 14, first: 100) { plan { id title clientId } review { dueOn } overdue } \
    plans(first: 100) { nodes { id title primaryClinicianId status planVersion pendingSignatures \
      signatures(current: true) { role } } } }";

#[derive(Template)]
#[template(path = "console/supervisor.html")]
struct SupervisorPage {
    layout: Layout,
    caseload: Vec<Caseload>,
    outcomes: Outcomes,
    chart: String,
    trend: String,
    history: Vec<OutcomePoint>,
    reviews: Vec<DueReview>,
    cosign: Vec<SignedPlan>,
}

fn percent(rate: &f64) -> String {
    format!("{:.0}%", rate * 100.0)
}

/// Open plans the clinician and client have signed but no supervisor has
/// co-signed, in the version in force.
fn cosign_queue(plans: Vec<SignedPlan>) -> Vec<SignedPlan> {
    plans
        .into_iter()
        .filter(|p| matches!(p.status.as_str(), "DRAFT" | "ACTIVE" | "ON_HOLD"))
        .filter(|p| p.pending_signatures.is_empty())
        .filter(|p| !p.signatures.iter().any(|s| s.role == "SUPERVISOR"))
        .collect()
}

pub(crate) async fn page(State(console): State<Console>, visit: Visit) -> Response {
    match console
        .run::<Overview>(&visit, "supervisor", QUERY, json!({}))
        .await
    {
        Ok(overview) => {
            let history = overview.outcome_history;
            // Today's figures are the history's last point (one read of
            // the summaries, not two).
            let outcomes = history
                .last()
                .map(|p| p.outcomes.clone())
                .unwrap_or_default();
            let o = &outcomes;
            let chart = rates_svg(
                "Outcome rates",
                &[
                    ("Response", o.response_rate),
                    ("Remission", o.remission_rate),
                    ("Objectives met", o.objectives_met_rate),
                ],
            );
            let labels: Vec<String> = history.iter().map(|p| p.on.clone()).collect();
            let over =
                |rate: fn(&Outcomes) -> f64| history.iter().map(|p| rate(&p.outcomes)).collect();
            let trend = rates_over_time_svg(
                "Outcome rates at the end of each month",
                &labels,
                &[
                    ("Response", over(|o| o.response_rate)),
                    ("Remission", over(|o| o.remission_rate)),
                    ("Objectives met", over(|o| o.objectives_met_rate)),
                ],
            );
            html(
                StatusCode::OK,
                &SupervisorPage {
                    trend,
                    layout: Layout::signed_in("Supervision", &visit),
                    caseload: overview.caseload,
                    chart,
                    outcomes,
                    history,
                    reviews: overview.reviews_due,
                    cosign: cosign_queue(overview.plans.nodes),
                },
            )
        }
        Err(failure) => failed(&visit, &failure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(status: &str, pending: &[&str], signed: &[&str]) -> SignedPlan {
        SignedPlan {
            id: "p".into(),
            title: "t".into(),
            primary_clinician_id: "c".into(),
            status: status.into(),
            plan_version: 1,
            pending_signatures: pending.iter().map(|s| (*s).to_owned()).collect(),
            signatures: signed
                .iter()
                .map(|r| Role {
                    role: (*r).to_owned(),
                })
                .collect(),
        }
    }

    #[test]
    fn the_queue_holds_signed_open_plans_without_a_co_signature() {
        let queue = cosign_queue(vec![
            plan("ACTIVE", &[], &["CLINICIAN", "CLIENT"]),
            plan("ACTIVE", &[], &["CLINICIAN", "CLIENT", "SUPERVISOR"]),
            plan("ACTIVE", &["CLIENT"], &["CLINICIAN"]),
            plan("DISCHARGED", &[], &["CLINICIAN", "CLIENT"]),
        ]);
        assert_eq!(queue.len(), 1);
        assert_eq!(percent(&0.504), "50%");
    }
}
