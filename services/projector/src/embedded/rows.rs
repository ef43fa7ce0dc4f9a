//! What the embedded store's queries share: error mapping, reading a
//! stored summary (or the document it is computed from), and the values a
//! plan is indexed by.

use chrono::NaiveDate;
use rusqlite::{Connection, params};

use super::parts::PartName;

use crate::ReadModelError;
use crate::compliance::PlanSummary;

pub fn unavailable(e: rusqlite::Error) -> ReadModelError {
    ReadModelError::Unavailable(e.to_string())
}

/// A listed plan's summary, or the document to compute it from (which may
/// be sealed: opened by the caller, off the blocking thread).
pub enum Summarised {
    Ready(Box<PlanSummary>),
    /// The head of the document and its parts.
    FromDocument {
        plan_id: String,
        document: String,
        parts: Vec<StoredPart>,
    },
}

/// Selects `summary` and, when that is missing or was written by another
/// version of `PlanSummary::of`, the `document` to compute it from (bind
/// `:schema` to [`PlanSummary::SCHEMA`]). [`summary_of`] reads the pair.
pub const SUMMARY_OR_DOCUMENT: &str = "summary,
    CASE WHEN summary IS NULL OR json_extract(summary, '$.schema') IS NOT :schema
         THEN document END";

/// The summary of a row selected with [`SUMMARY_OR_DOCUMENT`].
pub fn summary_of(
    plan_id: String,
    summary: Option<String>,
    document: Option<String>,
) -> Result<Summarised, ReadModelError> {
    match (summary, document) {
        (_, Some(document)) => Ok(Summarised::FromDocument {
            plan_id,
            document,
            parts: Vec::new(),
        }),
        (Some(summary), None) => serde_json::from_str(&summary)
            .map(|summary| Summarised::Ready(Box::new(summary)))
            .map_err(|_| ReadModelError::Corrupt("malformed plan summary".into())),
        (None, None) => Err(ReadModelError::Corrupt("plan without document".into())),
    }
}

/// [`summary_of`], with the parts of a document read to compute it from.
pub fn summary_with_parts(
    conn: &Connection,
    tenant: &str,
    plan_id: String,
    summary: Option<String>,
    document: Option<String>,
) -> Result<Summarised, ReadModelError> {
    let mut summarised = summary_of(plan_id, summary, document)?;
    if let Summarised::FromDocument { plan_id, parts, .. } = &mut summarised {
        *parts = parts_of(conn, tenant, plan_id)?;
    }
    Ok(summarised)
}

/// A part of a plan's document as the embedded store keeps it
/// ([`super::parts`]).
pub struct StoredPart {
    /// The `part` column: `goals/3`.
    pub key: String,
    /// The plan version it was written at.
    pub written_at: u64,
    /// Its text, sealed when the store seals.
    pub body: String,
}

impl StoredPart {
    /// Which part it is; a list this release does not keep in parts is
    /// corruption.
    pub fn name(&self) -> Result<PartName, ReadModelError> {
        PartName::parse(&self.key).ok_or_else(|| {
            ReadModelError::Corrupt("a plan document has a part of no known list".into())
        })
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

/// The stored parts of a plan's document.
pub fn parts_of(
    conn: &Connection,
    tenant: &str,
    plan_id: &str,
) -> Result<Vec<StoredPart>, ReadModelError> {
    let mut stmt = conn
        .prepare_cached(
            "SELECT part, written_at, body FROM plan_view_parts WHERE tenant = ?1 AND plan_id = ?2",
        )
        .map_err(unavailable)?;
    stmt.query_map(params![tenant, plan_id], |row| {
        Ok(StoredPart {
            key: row.get(0)?,
            written_at: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(u64::MAX),
            body: row.get(2)?,
        })
    })
    .map_err(unavailable)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(unavailable)
}
