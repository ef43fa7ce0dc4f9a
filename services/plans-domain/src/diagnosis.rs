//! ICD-10-CM codes for behavioural health (DSM-5-TR uses the same codes),
//! from the official code set: `data/icd10cm-behavioural.tsv`, made by
//! `scripts/extract-icd10`.

use std::collections::HashMap;
use std::sync::OnceLock;

const CODE_SET: &str = include_str!("../data/icd10cm-behavioural.tsv");

fn codes() -> &'static HashMap<&'static str, &'static str> {
    static CODES: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    CODES.get_or_init(|| {
        CODE_SET
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| l.split_once('\t'))
            .collect()
    })
}

/// The official description of a billable code, `None` when the code is
/// not one of the behavioural-health codes (or not billable).
pub fn describe(code: &str) -> Option<&'static str> {
    codes()
        .get(code.trim().to_ascii_uppercase().as_str())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seed_diagnoses_are_known() {
        assert_eq!(describe("F41.1"), Some("Generalized anxiety disorder"));
        assert_eq!(
            describe("f32.1"),
            Some("Major depressive disorder, single episode, moderate")
        );
        assert_eq!(
            describe("Z63.0"),
            Some("Problems in relationship with spouse or partner")
        );
    }

    #[test]
    fn unknown_and_non_billable_codes_are_not() {
        assert_eq!(describe("F41"), None, "a category, not a billable code");
        assert_eq!(describe("J45.909"), None, "asthma: not behavioural health");
        assert_eq!(describe("F99.99"), None);
        assert!(codes().len() > 900);
    }
}
