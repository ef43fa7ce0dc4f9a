//! Reading wire fields into a domain command: every bad field is
//! collected, so one INVALID_ARGUMENT names them all.

use std::str::FromStr;

use chrono::NaiveDate;
use tonic::Status;
use trellis_auth::Caller;
use trellis_plans_domain::{FieldViolation, PlanCommand, PlanId, derive_id};
use uuid::Uuid;

/// A wire request turned into a domain command.
#[derive(Debug)]
pub(super) struct Mapped {
    pub(super) plan_id: PlanId,
    pub(super) command_id: Uuid,
    pub(super) entity_id: Uuid,
    pub(super) command: PlanCommand,
}

impl Mapped {
    /// A command on the plan as a whole: the answer's entity is the plan.
    pub(super) fn plan_wide(plan_id: PlanId, command_id: Uuid, command: PlanCommand) -> Self {
        Self {
            plan_id,
            command_id,
            entity_id: plan_id.0,
            command,
        }
    }
}

/// Parses wire fields, collecting every violation so the caller sees all
/// of them in one `INVALID_ARGUMENT`.
#[derive(Debug, Default)]
pub(super) struct Fields(pub(super) Vec<FieldViolation>);

impl Fields {
    /// A command on the plan as a whole: its command id and plan id are
    /// read first (their violations come first, and all are collected),
    /// then the rest of the command from `command`.
    pub(super) fn plan_wide(
        &mut self,
        command_id: &str,
        plan_id: &str,
        command: impl FnOnce(&mut Self) -> Option<PlanCommand>,
    ) -> Option<Mapped> {
        let command_id = self.command_id(command_id);
        let plan_id = self.plan_id(plan_id);
        let command = command(self);
        Some(Mapped::plan_wide(plan_id?, command_id?, command?))
    }

    pub(super) fn violation(&mut self, field: &'static str, description: &str) {
        self.0.push(FieldViolation::new(field, description));
    }

    pub(super) fn uuid(&mut self, field: &'static str, raw: &str) -> Option<Uuid> {
        if raw.trim().is_empty() {
            self.violation(field, "is required");
            return None;
        }
        let parsed = Uuid::parse_str(raw.trim()).ok();
        if parsed.is_none() {
            self.violation(field, "must be a UUID");
        }
        parsed
    }

    pub(super) fn command_id(&mut self, raw: &str) -> Option<Uuid> {
        self.uuid("command_id", raw)
    }

    pub(super) fn plan_id(&mut self, raw: &str) -> Option<PlanId> {
        self.uuid("plan_id", raw).map(PlanId)
    }

    /// A client-chosen id, or one derived from the command id when empty.
    pub(super) fn new_id(
        &mut self,
        field: &'static str,
        raw: &str,
        caller: &Caller,
        command_id: Option<Uuid>,
    ) -> Option<Uuid> {
        if raw.trim().is_empty() {
            return command_id.map(|c| derive_id(caller.tenant.as_str(), c, field));
        }
        self.uuid(field, raw)
    }

    pub(super) fn date(&mut self, field: &'static str, raw: &str) -> Option<NaiveDate> {
        if raw.trim().is_empty() {
            self.violation(field, "is required");
            return None;
        }
        let parsed = NaiveDate::from_str(raw.trim()).ok();
        if parsed.is_none() {
            self.violation(field, "must be a date of the form YYYY-MM-DD");
        }
        parsed
    }

    /// A date the domain may judge missing (SMART time-bound) itself.
    pub(super) fn optional_date(
        &mut self,
        field: &'static str,
        raw: &str,
    ) -> Option<Option<NaiveDate>> {
        if raw.trim().is_empty() {
            return Some(None);
        }
        self.date(field, raw).map(Some)
    }

    pub(super) fn choice<T>(&mut self, field: &'static str, value: Option<T>) -> Option<T> {
        if value.is_none() {
            self.violation(field, "must be one of the listed values");
        }
        value
    }

    pub(super) fn into_status(self) -> Option<Status> {
        (!self.0.is_empty()).then(|| invalid_argument(&self.0))
    }
}

pub(super) fn invalid_argument(violations: &[FieldViolation]) -> Status {
    let summary = violations
        .iter()
        .map(|v| format!("{}: {}", v.field, v.description))
        .collect::<Vec<_>>()
        .join("; ");
    trellis_grpc_edge::invalid_argument(
        &summary,
        violations.iter().map(|v| (v.field, v.description.as_str())),
    )
}

#[cfg(test)]
mod tests {
    use tonic::Code;
    use tonic_types::StatusExt;

    use super::*;

    #[test]
    pub(super) fn every_field_problem_is_reported_at_once() {
        let mut f = Fields::default();
        assert_eq!(f.command_id(""), None);
        assert_eq!(f.plan_id("not-a-uuid"), None);
        assert_eq!(f.date("due_on", "01/02/2027"), None);
        let status = f.into_status().expect("violations");
        assert_eq!(status.code(), Code::InvalidArgument);
        let details = status.get_error_details();
        let fields: Vec<String> = details
            .bad_request()
            .expect("bad request details")
            .field_violations
            .iter()
            .map(|v| v.field.clone())
            .collect();
        assert_eq!(fields, ["command_id", "plan_id", "due_on"]);
    }
}
