//! Command errors become gRPC statuses here, once. Internal details go
//! to the log (without payloads), never to the caller.

use tonic::{Code, Status};
use tonic_types::StatusExt;
use trellis_plans_domain::PlanError;

use crate::{AccessDenied, CommandError};

use super::fields::invalid_argument;

/// Maps command errors to gRPC status, once, here. Internal details go to
/// the log (without payloads), never to the caller.
pub(super) fn to_status(error: CommandError) -> Status {
    match error {
        CommandError::Rejected(e) => match &e {
            PlanError::Invalid(_) | PlanError::NotSmart { .. } => {
                let mut status = invalid_argument(&e.field_violations());
                if let PlanError::NotSmart { .. } = e {
                    status = Status::with_error_details(
                        Code::InvalidArgument,
                        e.to_string(),
                        status.get_error_details(),
                    );
                }
                status
            }
            PlanError::PlanNotFound => Status::not_found("plan not found"),
            PlanError::PlanAlreadyExists
            | PlanError::GoalAlreadyExists(_)
            | PlanError::ObjectiveAlreadyExists(_)
            | PlanError::ReviewAlreadyScheduled(_) => Status::already_exists(e.to_string()),
            PlanError::UnknownGoal(_)
            | PlanError::GoalClosed(_)
            | PlanError::UnknownObjective(_)
            | PlanError::ObjectiveAlreadyMet(_)
            | PlanError::UnknownReview(_)
            | PlanError::ReviewAlreadyHeld(_)
            | PlanError::UnknownSafetyFlag(_)
            | PlanError::SafetyFlagAlreadyAcknowledged(_)
            | PlanError::UnknownCorrectionTarget
            | PlanError::AlreadyEnteredInError
            | PlanError::ObjectiveClosed(_)
            | PlanError::WrongStatus { .. }
            | PlanError::NotReadyToActivate(_)
            | PlanError::UnknownReferral(_)
            | PlanError::ConsentRequired
            | PlanError::CosignBeforeClinician
            | PlanError::CosignBySameSigner
            | PlanError::EnteredInError
            | PlanError::Erased
            | PlanError::RetentionNotElapsed(_)
            | PlanError::NotClosedForErasure(_) => Status::failed_precondition(e.to_string()),
            PlanError::ReferralAlreadyExists(_)
            | PlanError::AlreadySigned(_)
            | PlanError::ObjectiveAlreadyComplete(_) => Status::already_exists(e.to_string()),
            PlanError::UnknownTemplate => Status::not_found(e.to_string()),
            PlanError::TemplateReadOnly => Status::permission_denied(e.to_string()),
            PlanError::ObjectiveIncomplete(_) => Status::failed_precondition(e.to_string()),
            PlanError::MeasureAlreadyRecorded(_)
            | PlanError::InterventionAlreadyExists(_)
            | PlanError::DiagnosisAlreadyRecorded(_) => Status::already_exists(e.to_string()),
        },
        // Answered exactly like a plan that does not exist.
        CommandError::Denied(AccessDenied::NotVisible) => Status::not_found("plan not found"),
        CommandError::Denied(AccessDenied::RoleMayNot) => {
            Status::permission_denied("your role may not send this command")
        }
        CommandError::Contended => Status::aborted(error.to_string()),
        // Definite and not retryable: the field is the client's to change.
        CommandError::CommandIdReused => Status::with_error_details(
            Code::AlreadyExists,
            "command_id: was already used for another command",
            tonic_types::ErrorDetails::with_bad_request_violation(
                "command_id",
                "was already used for another command",
            ),
        ),
        CommandError::ErasureUnavailable => Status::failed_precondition(error.to_string()),
        CommandError::Store(e) => {
            tracing::error!(error = %e, "event store failed during a command");
            Status::unavailable("event store unavailable; retry the command")
        }
        CommandError::Corrupt(detail) => {
            tracing::error!(%detail, "unreadable plan event");
            Status::internal("internal error")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hidden_plan_is_answered_like_a_missing_one() {
        let hidden = to_status(CommandError::Denied(AccessDenied::NotVisible));
        let missing = to_status(CommandError::Rejected(PlanError::PlanNotFound));
        assert_eq!(hidden.code(), missing.code());
        assert_eq!(hidden.message(), missing.message());
    }
}
