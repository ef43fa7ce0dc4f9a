//! Every error a GraphQL client can get, by `extensions.code`, and the one
//! place a plans-service status becomes one. Messages state rules, never
//! values (a value may be PHI).

use async_graphql::ErrorExtensions;
use tonic::{Code, Status};
use tonic_types::StatusExt;

/// The `extensions.code` of a GraphQL error. The README's error table
/// lists each with what it means (a test keeps the two equal).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// No bearer token, or one that does not verify (HTTP 401).
    Unauthenticated,
    /// The caller's role may not do this (e.g. an auditor sending a command).
    Forbidden,
    /// The input breaks a rule; `extensions.fieldViolations` names the fields.
    BadUserInput,
    /// No such plan, or one the caller may not see (answered alike).
    NotFound,
    /// The id was used before for something else (a goal, a referral, …).
    AlreadyExists,
    /// The plan's state does not allow it (e.g. a review held twice).
    FailedPrecondition,
    /// Lost to concurrent changes of the same plan; retry the same command.
    Conflict,
    /// A service behind the gateway did not answer; retry later.
    Unavailable,
    /// Too many requests for the tenant; retry after a pause (HTTP 429).
    RateLimited,
    /// An automatic persisted query's hash is unknown; send the query text.
    PersistedQueryNotFound,
    /// The WebSocket connection holds as many subscriptions as it may;
    /// stop one first (the others keep running).
    TooManySubscriptions,
    /// A fault of the server; details are only in its log.
    Internal,
}

impl ErrorCode {
    /// Whether an error with this `extensions.code` is the server's fault
    /// (its telemetry marks the request as failed), not the caller's.
    pub fn is_server_fault(code: &str) -> bool {
        code == Self::Internal.as_str() || code == Self::Unavailable.as_str()
    }

    /// The `extensions.code` of an error as answered: one of ours, or
    /// `GRAPHQL_ERROR` for async-graphql's own (a document that does not
    /// parse or validate). A closed set, so fit for metric labels.
    pub fn of_error(error: &async_graphql::ServerError) -> String {
        error
            .extensions
            .as_ref()
            .and_then(|x| x.get("code"))
            .map_or_else(
                || "GRAPHQL_ERROR".to_owned(),
                |c| c.to_string().trim_matches('"').to_owned(),
            )
    }

    pub const ALL: &'static [Self] = &[
        Self::Unauthenticated,
        Self::Forbidden,
        Self::BadUserInput,
        Self::NotFound,
        Self::AlreadyExists,
        Self::FailedPrecondition,
        Self::Conflict,
        Self::Unavailable,
        Self::RateLimited,
        Self::PersistedQueryNotFound,
        Self::TooManySubscriptions,
        Self::Internal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::NotFound => "NOT_FOUND",
            Self::AlreadyExists => "ALREADY_EXISTS",
            Self::FailedPrecondition => "FAILED_PRECONDITION",
            Self::Conflict => "CONFLICT",
            Self::Unavailable => "UNAVAILABLE",
            Self::RateLimited => "RATE_LIMITED",
            Self::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::TooManySubscriptions => "TOO_MANY_SUBSCRIPTIONS",
            Self::Internal => "INTERNAL",
        }
    }

    /// The code for a plans-service (gRPC) status.
    pub fn of_grpc(code: Code) -> Self {
        match code {
            Code::InvalidArgument | Code::OutOfRange => Self::BadUserInput,
            Code::NotFound => Self::NotFound,
            Code::AlreadyExists => Self::AlreadyExists,
            Code::FailedPrecondition => Self::FailedPrecondition,
            Code::PermissionDenied => Self::Forbidden,
            Code::Unauthenticated => Self::Unauthenticated,
            Code::Aborted => Self::Conflict,
            Code::Unavailable | Code::DeadlineExceeded => Self::Unavailable,
            Code::ResourceExhausted => Self::RateLimited,
            _ => Self::Internal,
        }
    }
}

/// A GraphQL error with `extensions.code`.
pub(crate) fn error(code: ErrorCode, message: &str) -> async_graphql::Error {
    async_graphql::Error::new(message).extend_with(|_, e| e.set("code", code.as_str()))
}

/// A plans-service status as a GraphQL error, with the field violations of
/// `INVALID_ARGUMENT` as `extensions.fieldViolations`.
pub(crate) fn from_status(status: &Status) -> async_graphql::Error {
    // A status with a source was made by this process's client (the
    // connection was refused or failed): its text is the transport's, not a
    // rule of ours. Our services never answer UNKNOWN or CANCELLED either:
    // that is the connection failing mid-call (the service stopped or
    // restarted). Whether a command was applied is then not known; the
    // same command id makes a retry safe.
    let from_transport = std::error::Error::source(status).is_some()
        && matches!(status.code(), tonic::Code::Unavailable);
    if from_transport || matches!(status.code(), tonic::Code::Unknown | tonic::Code::Cancelled) {
        tracing::warn!(error = %status, "the service did not answer");
        return error(
            ErrorCode::Unavailable,
            "the service did not answer; send the request again (a command with the same command id)",
        );
    }
    let code = ErrorCode::of_grpc(status.code());
    let message = if code == ErrorCode::Internal {
        tracing::error!(code = ?status.code(), "plans service failed");
        "internal error"
    } else {
        // The plans service's messages state rules, never values.
        status.message()
    };
    let violations: Vec<(String, String)> = status
        .get_error_details()
        .bad_request()
        .map(|b| {
            b.field_violations
                .iter()
                .map(|v| (v.field.clone(), v.description.clone()))
                .collect()
        })
        .unwrap_or_default();
    error(code, message).extend_with(move |_, e| {
        if !violations.is_empty() {
            let list: Vec<async_graphql::Value> = violations
                .iter()
                .map(|(field, description)| {
                    let mut v = async_graphql::indexmap::IndexMap::new();
                    v.insert(async_graphql::Name::new("field"), field.clone().into());
                    v.insert(
                        async_graphql::Name::new("description"),
                        description.clone().into(),
                    );
                    async_graphql::Value::Object(v)
                })
                .collect();
            e.set("fieldViolations", list);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code_of(error: &async_graphql::Error) -> String {
        let value = error.extensions.as_ref().and_then(|x| x.get("code"));
        value.map(|c| c.to_string()).unwrap_or_default()
    }

    #[test]
    fn grpc_statuses_map_to_their_codes_and_internal_text_stays_inside() {
        let cases = [
            (Code::InvalidArgument, "\"BAD_USER_INPUT\""),
            (Code::NotFound, "\"NOT_FOUND\""),
            (Code::PermissionDenied, "\"FORBIDDEN\""),
            (Code::Aborted, "\"CONFLICT\""),
            (Code::DeadlineExceeded, "\"UNAVAILABLE\""),
            (Code::DataLoss, "\"INTERNAL\""),
        ];
        for (grpc, expected) in cases {
            let e = from_status(&Status::new(grpc, "rule text"));
            assert_eq!(code_of(&e), expected, "{grpc:?}");
        }
        let internal = from_status(&Status::internal("disk /var/db failed"));
        assert_eq!(internal.message, "internal error");
    }

    #[test]
    fn field_violations_reach_the_client() {
        let status = Status::with_error_details(
            Code::InvalidArgument,
            "plan_id: must be a UUID",
            tonic_types::ErrorDetails::with_bad_request_violation("plan_id", "must be a UUID"),
        );
        let e = from_status(&status);
        let violations = e
            .extensions
            .as_ref()
            .and_then(|x| x.get("fieldViolations"))
            .map(|v| v.to_string())
            .unwrap_or_default();
        assert!(violations.contains("plan_id"), "{violations}");
    }

    #[test]
    fn the_readme_lists_every_code() {
        let readme = include_str!("../../README.md");
        for code in ErrorCode::ALL {
            assert!(
                readme.contains(&format!("`{}`", code.as_str())),
                "README does not list {}",
                code.as_str()
            );
        }
    }
}
