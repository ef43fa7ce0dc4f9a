//! What the embedded store's queries share: error mapping, decoding a
//! stored document or summary, and the values a plan is indexed by.

use chrono::NaiveDate;

use crate::compliance::PlanSummary;
use crate::{PlanView, ReadModelError};

pub fn unavailable(e: rusqlite::Error) -> ReadModelError {
    ReadModelError::Unavailable(e.to_string())
}

pub fn decode(document: &str) -> Result<PlanView, ReadModelError> {
    serde_json::from_str(document)
        .map_err(|_| ReadModelError::Corrupt("malformed plan document".into()))
}

/// Selects `summary` and, when that is missing or was written by another
/// version of `PlanSummary::of`, the `document` to compute it from (bind
/// `:schema` to [`PlanSummary::SCHEMA`]). [`summary_of`] reads the pair.
pub const SUMMARY_OR_DOCUMENT: &str = "summary,
    CASE WHEN summary IS NULL OR json_extract(summary, '$.schema') IS NOT :schema
         THEN document END";

/// The summary of a row selected with [`SUMMARY_OR_DOCUMENT`].
pub fn summary_of(
    summary: Option<String>,
    document: Option<String>,
) -> Result<PlanSummary, ReadModelError> {
    match (summary, document) {
        (_, Some(document)) => decode(&document).map(|v| PlanSummary::of(&v)),
        (Some(summary), None) => serde_json::from_str(&summary)
            .map_err(|_| ReadModelError::Corrupt("malformed plan summary".into())),
        (None, None) => Err(ReadModelError::Corrupt("plan without document".into())),
    }
}

/// A due date as the `review_due` column keeps it: ISO 8601, which sorts
/// as the dates do.
pub fn day(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// The values of the columns `reviewsDue` and `unsignedPlans` are answered
/// from: the open review's due date and whether the plan is unsigned.
pub fn index_values(summary: &PlanSummary) -> (Option<String>, i64) {
    (
        summary.open_review_due().map(day),
        i64::from(summary.is_unsigned()),
    )
}
