//! A tenant's retention rule: how many years after a plan closes its
//! client may be erased without an override reason.
//!
//! One stream per tenant (`<tenant>:retention-tenant`) of
//! [`RetentionEvent`]s. Admins set the period (state law and payer
//! contracts differ between clinic networks); the plan service reads it
//! when it erases a client and puts the years into the plan command, so
//! the plan aggregate stays pure. Without a rule, the deployment's default
//! applies.

use serde::{Deserialize, Serialize};

use crate::codec::stored_events;
use crate::error::{FieldViolation, PlanError};

/// Stream category and id of a tenant's retention stream.
pub const RETENTION_CATEGORY: &str = "retention";
pub const RETENTION_STREAM_ID: &str = "tenant";
/// The longest period a tenant may set.
pub const MAX_RETENTION_YEARS: u32 = 100;

/// The tenant's retention period from now on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetentionPeriodSet {
    pub years: u32,
}

stored_events! {
    /// What happens to a tenant's retention rule.
    pub enum RetentionEvent {
        PeriodSet(RetentionPeriodSet) = "RetentionPeriodSet" @ 1,
    }
}

/// The rule in force: the tenant's own period, if it set one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RetentionRule {
    years: Option<u32>,
}

impl RetentionRule {
    pub fn evolve(&mut self, event: &RetentionEvent) {
        let RetentionEvent::PeriodSet(set) = event;
        self.years = Some(set.years);
    }

    /// The tenant's own period; `None` while the deployment's default
    /// applies.
    pub fn tenant_years(&self) -> Option<u32> {
        self.years
    }

    /// The period in force, `default` where the tenant set none.
    pub fn years_or(&self, default: u32) -> u32 {
        self.years.unwrap_or(default)
    }

    /// Sets the period. At least a year, so a plan just closed is never
    /// erasable without a stated reason.
    pub fn set(&self, years: u32) -> Result<RetentionEvent, PlanError> {
        if !(1..=MAX_RETENTION_YEARS).contains(&years) {
            return Err(PlanError::Invalid(vec![FieldViolation::new(
                "years",
                format!("must be between 1 and {MAX_RETENTION_YEARS}"),
            )]));
        }
        Ok(RetentionEvent::PeriodSet(RetentionPeriodSet { years }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn given(events: &[RetentionEvent]) -> RetentionRule {
        let mut rule = RetentionRule::default();
        for event in events {
            rule.evolve(event);
        }
        rule
    }

    #[test]
    fn without_a_rule_the_deployment_default_applies() {
        let rule = given(&[]);
        assert_eq!(rule.tenant_years(), None);
        assert_eq!(rule.years_or(6), 6);
    }

    #[test]
    fn the_latest_period_set_is_in_force() {
        let rule = given(&[
            RetentionRule::default().set(10).unwrap(),
            RetentionRule::default().set(7).unwrap(),
        ]);
        assert_eq!(rule.tenant_years(), Some(7));
        assert_eq!(rule.years_or(6), 7);
    }

    #[test]
    fn a_period_under_a_year_or_over_a_century_is_refused() {
        for years in [0, MAX_RETENTION_YEARS + 1] {
            let refused = RetentionRule::default().set(years).unwrap_err();
            let violations = refused.field_violations();
            assert_eq!(violations[0].field, "years");
            assert_eq!(violations[0].description, "must be between 1 and 100");
        }
    }
}
