//! FHIR R4 under `/fhir/r4`: every plan as standard resources (CarePlan,
//! Condition, Goal, QuestionnaireResponse, Observation, Consent,
//! Provenance), searches with paging, the access log as AuditEvents, and
//! questionnaire results arriving as QuestionnaireResponse or Observation.
//!
//! Every interaction runs a fixed GraphQL operation in-process as the
//! caller (`crate::inprocess`): the same tokens, role and tenant rules,
//! access-log entries (`api: "fhir"`), rate limits and validation as the
//! GraphQL API. JSON only (`application/fhir+json`).

mod audit_event;
mod bulk;
mod bundle;
mod capability;
mod care_plan;
mod codes;
mod create;
mod export_jobs;
mod goals;
mod import;
mod measures;
mod offline;
mod outcome;
mod plan_doc;
mod provenance;
mod read;
mod refs;
mod request;
mod search;
mod transaction;

use axum::Router;
use axum::routing::{get, post};

pub use offline::{ExportFile, export_plans};
use request::FHIR_BASE_PATH;
pub(crate) use request::Fhir;

/// The FHIR API's routes, all under `/fhir/r4`.
pub(crate) fn router(fhir: Fhir) -> Router {
    let at = |path: &str| format!("{FHIR_BASE_PATH}{path}");
    Router::new()
        .route(&at("/metadata"), get(capability::metadata))
        .route(&at("/CodeSystem/{id}"), get(capability::code_system))
        .route(&at("/CarePlan"), get(search::care_plans))
        .route(&at("/CarePlan/{id}"), get(read::care_plan))
        .route(&at("/CarePlan/{id}/$everything"), get(read::everything))
        .route(
            &at("/CarePlan/{id}/_history/{version}"),
            get(read::care_plan_at),
        )
        .route(
            &at("/Observation"),
            get(search::observations).post(create::observation_create),
        )
        .route(
            &at("/QuestionnaireResponse"),
            post(create::questionnaire_response_create),
        )
        .route(&at("/AuditEvent"), get(search::audit_events))
        .route(&at("/$export"), get(bulk::kick_off))
        .route(
            &at("/$export-status/{id}"),
            get(bulk::status).delete(bulk::delete),
        )
        .route(&at("/$export-file/{id}/{kind}"), get(bulk::file))
        .route(FHIR_BASE_PATH, post(transaction::bundle))
        .route(&at("/{*rest}"), axum::routing::any(request::unsupported))
        // A served path with another method (PUT, DELETE, …): the same
        // OperationOutcome, not a bare 405.
        .method_not_allowed_fallback(request::unsupported)
        .with_state(fhir)
}
