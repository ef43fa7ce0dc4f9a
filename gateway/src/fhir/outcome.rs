//! Answers in FHIR's shape: resources as `application/fhir+json`, and
//! every refusal as an `OperationOutcome` that states the rule (never the
//! submitted value) with the element it concerns.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::inprocess::Failure;

pub(crate) const FHIR_JSON: &str = "application/fhir+json; charset=utf-8";

/// A resource (or Bundle) answered with `status`.
pub(crate) fn resource(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(FHIR_JSON));
    response
}

/// One issue of an OperationOutcome.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Issue {
    /// FHIR's issue type (`invalid`, `forbidden`, `not-found`, …).
    pub(crate) code: &'static str,
    /// The rule, in words.
    pub(crate) diagnostics: String,
    /// The element concerned, as a FHIRPath (e.g. `Observation.subject`).
    pub(crate) expression: Option<String>,
}

impl Issue {
    pub(crate) fn new(code: &'static str, diagnostics: impl Into<String>) -> Self {
        Self {
            code,
            diagnostics: diagnostics.into(),
            expression: None,
        }
    }

    pub(crate) fn at(mut self, expression: impl Into<String>) -> Self {
        self.expression = Some(expression.into());
        self
    }
}

/// A refusal: the HTTP status and the issues behind it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Refusal {
    pub(crate) status: StatusCode,
    pub(crate) issues: Vec<Issue>,
}

impl Refusal {
    pub(crate) fn new(status: StatusCode, issue: Issue) -> Self {
        Self {
            status,
            issues: vec![issue],
        }
    }

    pub(crate) fn invalid(diagnostics: impl Into<String>, expression: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            Issue::new("invalid", diagnostics).at(expression),
        )
    }

    pub(crate) fn not_found(diagnostics: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, Issue::new("not-found", diagnostics))
    }

    /// The API's refusal, in FHIR's words: the same rule, the status its
    /// code stands for, and each refused field as an issue.
    pub(crate) fn of(failure: &Failure) -> Self {
        let (status, code) = match failure.code.as_str() {
            "UNAUTHENTICATED" => (StatusCode::UNAUTHORIZED, "login"),
            "FORBIDDEN" => (StatusCode::FORBIDDEN, "forbidden"),
            // GRAPHQL_ERROR: input the schema itself refused (a type or
            // range), which only a request's values can cause.
            "BAD_USER_INPUT" | "GRAPHQL_ERROR" => (StatusCode::BAD_REQUEST, "invalid"),
            "NOT_FOUND" => (StatusCode::NOT_FOUND, "not-found"),
            "ALREADY_EXISTS" => (StatusCode::CONFLICT, "duplicate"),
            "FAILED_PRECONDITION" => (StatusCode::UNPROCESSABLE_ENTITY, "business-rule"),
            "CONFLICT" => (StatusCode::CONFLICT, "conflict"),
            "RATE_LIMITED" => (StatusCode::TOO_MANY_REQUESTS, "throttled"),
            "UNAVAILABLE" => (StatusCode::SERVICE_UNAVAILABLE, "transient"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "exception"),
        };
        // Field violations say more than the summary that joins them.
        let issues = if failure.violations.is_empty() {
            vec![Issue::new(code, failure.message.clone())]
        } else {
            failure
                .violations
                .iter()
                .map(|(field, rule)| Issue::new(code, format!("{field}: {rule}")))
                .collect()
        };
        Self { status, issues }
    }

    pub(crate) fn outcome(&self) -> Value {
        operation_outcome(&self.issues)
    }
}

/// An OperationOutcome holding `issues`, all errors.
pub(crate) fn operation_outcome(issues: &[Issue]) -> Value {
    let issues: Vec<Value> = issues
        .iter()
        .map(|i| {
            let mut issue = json!({
                "severity": "error",
                "code": i.code,
                "diagnostics": i.diagnostics,
            });
            if let Some(expression) = &i.expression {
                issue["expression"] = json!([expression]);
            }
            issue
        })
        .collect();
    json!({ "resourceType": "OperationOutcome", "issue": issues })
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let mut response = resource(self.status, &self.outcome());
        let headers = response.headers_mut();
        match self.status {
            StatusCode::UNAUTHORIZED => {
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            StatusCode::TOO_MANY_REQUESTS => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("60"));
            }
            _ => {}
        }
        response
    }
}

impl From<Failure> for Refusal {
    fn from(failure: Failure) -> Self {
        Self::of(&failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_api_refusal_keeps_its_rule_and_fields() {
        let failure = Failure {
            code: "BAD_USER_INPUT".into(),
            message: "the command is invalid".into(),
            violations: vec![("answers".into(), "PHQ-9 has 9 items".into())],
        };
        let refusal = Refusal::of(&failure);
        assert_eq!(refusal.status, StatusCode::BAD_REQUEST);
        let outcome = refusal.outcome();
        assert_eq!(outcome["issue"][0]["code"], "invalid");
        assert_eq!(
            outcome["issue"][0]["diagnostics"],
            "answers: PHQ-9 has 9 items"
        );
        assert_eq!(outcome["issue"].as_array().map(Vec::len), Some(1));
    }

    #[test]
    fn server_faults_are_exceptions() {
        let refusal = Refusal::of(&Failure::internal());
        assert_eq!(refusal.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(refusal.outcome()["issue"][0]["code"], "exception");
    }
}
