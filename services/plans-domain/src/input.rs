//! Input rules every command shares: text lengths, list sizes, and the
//! collector that reports every bad field at once.

use crate::error::{FieldViolation, PlanError};
pub(crate) const MAX_ID: usize = 128;
pub(crate) const MAX_SHORT_TEXT: usize = 200;
pub(crate) const MAX_TEXT: usize = 4000;
pub(crate) const MAX_LIST: usize = 50;

/// Collects every field problem of a command so the caller sees them all at once.
#[derive(Default)]
pub(crate) struct Violations(Vec<FieldViolation>);

impl Violations {
    pub(crate) fn push(&mut self, field: &'static str, description: impl Into<String>) {
        self.0.push(FieldViolation::new(field, description));
    }

    pub(crate) fn required(&mut self, field: &'static str, value: &str, max: usize) {
        if value.trim().is_empty() {
            self.push(field, "is required");
        } else {
            self.optional(field, value, max);
        }
    }

    pub(crate) fn optional(&mut self, field: &'static str, value: &str, max: usize) {
        if value.chars().count() > max {
            self.push(field, format!("must be at most {max} characters"));
        }
    }

    pub(crate) fn list(&mut self, field: &'static str, len: usize) {
        if len > MAX_LIST {
            self.push(field, format!("at most {MAX_LIST} entries"));
        }
    }

    pub(crate) fn finish(self) -> Result<(), PlanError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(PlanError::Invalid(self.0))
        }
    }
}
