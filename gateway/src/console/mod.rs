//! The console: clinicians, supervisors and auditors in a browser, under
//! `/console`, served by the gateway.
//!
//! Pages are rendered on the server (askama templates in
//! `gateway/templates/console/`) from the same GraphQL schema API clients
//! use, executed in-process with the signed-in user's token: the same role
//! rules, the same access-log entries (a page view logs the sections it
//! shows, as the fields read), the same validation messages. Forms post
//! plain HTML (they work without script); htmx (vendored, embedded) only
//! brings live updates. Every asset comes from this origin and the CSP
//! allows nothing else.

mod auditor;
mod chart;
mod filters;
mod forms;
mod graphql;
mod home;
mod oidc;
mod pages;
mod payer;
mod pdf;
mod plan;
mod plan_forms;
mod plan_view;
mod session;
mod sign_in;
mod staff;
mod state;
mod supervisor;

use axum::Router;
use axum::extract::Path;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::{get, post};

pub use oidc::{OidcClient, OidcSettings};
pub(crate) use pages::CONSOLE_ASSETS;
pub(crate) use state::Console;
pub use state::{ConsoleConfig, DevPerson, DevSignIn};

/// The console's routes, all under `/console`.
pub(crate) fn router(console: Console) -> Router {
    Router::new()
        .route("/console", get(home::page))
        .route("/console/", get(home::page))
        .route("/console/flags", get(home::flags))
        .route("/console/flags/live", get(home::live_flags))
        .route("/console/sign-in", get(sign_in::page).post(sign_in::submit))
        .route("/console/sign-in/oidc", get(sign_in::start_oidc))
        .route("/console/sign-in/callback", get(sign_in::callback))
        .route("/console/sign-out", post(sign_in::sign_out))
        .route("/console/supervision", get(supervisor::page))
        .route("/console/audit", get(auditor::home))
        .route("/console/audit/access", get(auditor::access))
        .route("/console/audit/plans/{id}", get(auditor::timeline))
        .route("/console/audit/plans/{id}/as-of", get(auditor::as_of))
        .route("/console/audit/plans/{id}/diff", get(auditor::diff))
        .route(
            "/console/audit/plans/{id}/history.jsonl",
            get(auditor::export),
        )
        .route("/console/plans/{id}", get(plan::page))
        .route("/console/plans/{id}/document.pdf", get(payer::document))
        .route(
            "/console/plans/{id}/measures",
            post(plan_forms::send::<plan_forms::MeasureAnswers>),
        )
        .route(
            "/console/plans/{id}/progress",
            post(plan_forms::send::<plan_forms::ProgressEntry>),
        )
        .route(
            "/console/plans/{id}/signatures",
            post(plan_forms::send::<plan_forms::Signing>),
        )
        .route(
            "/console/plans/{id}/reviews",
            post(plan_forms::send::<plan_forms::ReviewHeld>),
        )
        .route(
            "/console/plans/{id}/flags",
            post(plan_forms::send::<plan_forms::FlagAcknowledgement>),
        )
        .route(&format!("{CONSOLE_ASSETS}/{{hash}}/{{name}}"), get(asset))
        .with_state(console)
}

async fn asset(Path((hash, name)): Path<(String, String)>, headers: HeaderMap) -> Response {
    pages::ASSETS.bundle.serve(&hash, &name, &headers)
}
