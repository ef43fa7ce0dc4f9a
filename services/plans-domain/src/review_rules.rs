//! A tenant's review rules: how often a plan is reviewed, by payer.
//!
//! One stream per tenant (`<tenant>:reviewrules-tenant`), holding
//! [`ReviewRuleEvent`]s. Admins set rules; the plan service reads them
//! when it activates a plan or holds a review, and puts the interval into
//! the plan command, so the plan aggregate stays pure.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::codec::stored_events;
use crate::error::{FieldViolation, PlanError};
use crate::plan::MAX_REVIEW_INTERVAL_DAYS;

/// Stream category and id of a tenant's rule stream.
pub const REVIEW_RULES_CATEGORY: &str = "reviewrules";
pub const REVIEW_RULES_STREAM_ID: &str = "tenant";
/// Without a rule, a plan is reviewed every 90 days.
pub const DEFAULT_REVIEW_INTERVAL_DAYS: u32 = 90;

/// The review interval for plans of `payer`; an empty payer sets the
/// tenant's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRuleSet {
    pub payer: String,
    pub interval_days: u32,
}

stored_events! {
    /// What happens to a tenant's review rules.
    pub enum ReviewRuleEvent {
        RuleSet(ReviewRuleSet) = "ReviewRuleSet" @ 1,
    }
}

/// The rules in force.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReviewRules {
    default_days: Option<u32>,
    by_payer: BTreeMap<String, u32>,
}

impl ReviewRules {
    pub fn evolve(&mut self, event: &ReviewRuleEvent) {
        let ReviewRuleEvent::RuleSet(event) = event;
        if event.payer.is_empty() {
            self.default_days = Some(event.interval_days);
        } else {
            self.by_payer
                .insert(event.payer.clone(), event.interval_days);
        }
    }

    /// Days between reviews for a plan of `payer`.
    pub fn interval_for(&self, payer: &str) -> u32 {
        self.by_payer
            .get(payer)
            .copied()
            .or(self.default_days)
            .unwrap_or(DEFAULT_REVIEW_INTERVAL_DAYS)
    }

    /// Every rule: the default first (payer ""), then by payer.
    pub fn rules(&self) -> Vec<(String, u32)> {
        let mut rules = vec![(String::new(), self.interval_for(""))];
        rules.extend(self.by_payer.iter().map(|(p, d)| (p.clone(), *d)));
        rules
    }

    /// Sets `payer`'s interval (payer names are case-insensitive).
    pub fn set(&self, payer: &str, interval_days: u32) -> Result<ReviewRuleEvent, PlanError> {
        let mut violations = Vec::new();
        if !(1..=MAX_REVIEW_INTERVAL_DAYS).contains(&interval_days) {
            violations.push(FieldViolation::new(
                "interval_days",
                format!("must be between 1 and {MAX_REVIEW_INTERVAL_DAYS}"),
            ));
        }
        if payer.chars().count() > 128 {
            violations.push(FieldViolation::new(
                "payer",
                "must be at most 128 characters",
            ));
        }
        if !violations.is_empty() {
            return Err(PlanError::Invalid(violations));
        }
        Ok(ReviewRuleEvent::RuleSet(ReviewRuleSet {
            payer: payer.trim().to_ascii_lowercase(),
            interval_days,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(events: &[ReviewRuleEvent]) -> ReviewRules {
        let mut rules = ReviewRules::default();
        for e in events {
            rules.evolve(e);
        }
        rules
    }

    #[test]
    fn without_rules_plans_are_reviewed_every_ninety_days() {
        assert_eq!(rules(&[]).interval_for("medicaid"), 90);
    }

    #[test]
    fn a_payer_rule_wins_over_the_tenant_default() {
        let given = rules(&[
            ReviewRules::default().set("", 60).unwrap(),
            ReviewRules::default().set("Medicaid", 30).unwrap(),
        ]);
        assert_eq!(given.interval_for("medicaid"), 30);
        assert_eq!(given.interval_for("aetna"), 60);
        assert_eq!(
            given.rules(),
            vec![(String::new(), 60), ("medicaid".into(), 30)]
        );
    }

    #[test]
    fn an_interval_outside_a_year_is_refused() {
        for days in [0, 367] {
            let refused = ReviewRules::default().set("medicaid", days).unwrap_err();
            assert_eq!(refused.field_violations()[0].field, "interval_days");
        }
    }
}
