//! The embedded store's tables and indexes, and bringing a file an earlier
//! release wrote up to them on open.
//!
//! Beside each document `plan_views` keeps its compact summary and the two
//! values the compliance lists are answered from — `review_due` (the next
//! open review's due date; NULL when there is none or the plan is closed)
//! and `unsigned` — each with a partial index per tenant and per clinic, so
//! a list reads only the plans it returns. `plan_clinicians` indexes who
//! treats under each plan (the primary clinician and the care team), so a
//! clinician's listing need not open every document of the tenant.
//! `plan_view_parts` keeps the long lists of large documents in parts
//! ([`super::parts`]); `plan_views.document` is then the rest (the head).

use rusqlite::{Connection, Transaction, params};

use super::parts::join;
use super::rows::{
    SUMMARY_OR_DOCUMENT, StoredPart, Summarised, index_values, summary_with_parts, unavailable,
};
use crate::compliance::PlanSummary;
use crate::{PlanView, ReadModelError};

const TABLES: &str = "
CREATE TABLE IF NOT EXISTS plan_views (
    tenant               TEXT    NOT NULL,
    plan_id              TEXT    NOT NULL,
    client_id            TEXT    NOT NULL,
    primary_clinician_id TEXT    NOT NULL,
    clinic_id            TEXT    NOT NULL,
    version              INTEGER NOT NULL,
    review_due           TEXT,
    unsigned             INTEGER NOT NULL DEFAULT 0,
    summary              TEXT,
    document             TEXT    NOT NULL,
    PRIMARY KEY (tenant, plan_id)
) STRICT;
CREATE INDEX IF NOT EXISTS plan_views_by_client ON plan_views (tenant, client_id, plan_id);
CREATE INDEX IF NOT EXISTS plan_views_by_clinician ON plan_views (tenant, primary_clinician_id, plan_id);
CREATE TABLE IF NOT EXISTS plan_clinicians (
    tenant       TEXT NOT NULL,
    plan_id      TEXT NOT NULL,
    clinician_id TEXT NOT NULL,
    PRIMARY KEY (tenant, plan_id, clinician_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS plan_clinicians_by_clinician
    ON plan_clinicians (tenant, clinician_id, plan_id);
CREATE TABLE IF NOT EXISTS plan_view_parts (
    tenant     TEXT    NOT NULL,
    plan_id    TEXT    NOT NULL,
    part       TEXT    NOT NULL,
    written_at INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    PRIMARY KEY (tenant, plan_id, part)
) STRICT;
CREATE TABLE IF NOT EXISTS checkpoints (
    projection TEXT PRIMARY KEY,
    position   INTEGER NOT NULL
) STRICT;
";

/// Columns an earlier release's `plan_views` may lack, added on open.
const ADDED_COLUMNS: [(&str, &str); 3] = [
    ("summary", "summary TEXT"),
    ("review_due", "review_due TEXT"),
    ("unsigned", "unsigned INTEGER NOT NULL DEFAULT 0"),
];

/// On the added columns, so created after them.
const INDEXES: &str = "
CREATE INDEX IF NOT EXISTS plan_views_reviews_due
    ON plan_views (tenant, review_due, plan_id) WHERE review_due IS NOT NULL;
CREATE INDEX IF NOT EXISTS plan_views_reviews_due_by_clinic
    ON plan_views (tenant, clinic_id, review_due, plan_id) WHERE review_due IS NOT NULL;
CREATE INDEX IF NOT EXISTS plan_views_unsigned
    ON plan_views (tenant, plan_id) WHERE unsigned = 1;
CREATE INDEX IF NOT EXISTS plan_views_unsigned_by_clinic
    ON plan_views (tenant, clinic_id, plan_id) WHERE unsigned = 1;
";

/// Bumped whenever what the index columns and `plan_clinicians` hold
/// changes; with the summary schema, kept in `PRAGMA user_version`.
const INDEX_LAYOUT: i64 = 1;

fn index_version() -> i64 {
    (INDEX_LAYOUT << 16) | i64::from(PlanSummary::SCHEMA)
}

/// Creates what is missing and fills the index columns and table of rows
/// written before them (or by another version of `PlanSummary::of`).
pub fn prepare(conn: &mut Connection) -> Result<(), ReadModelError> {
    conn.execute_batch(TABLES).map_err(unavailable)?;
    // Parts written before their version was kept read as corrupt (no
    // version matches), so the projector folds those plans again.
    if !has_column(conn, "plan_view_parts", "written_at")? {
        conn.execute_batch(
            "ALTER TABLE plan_view_parts ADD COLUMN written_at INTEGER NOT NULL DEFAULT -1",
        )
        .map_err(unavailable)?;
    }
    let mut added = false;
    for (name, definition) in ADDED_COLUMNS {
        if !has_column(conn, "plan_views", name)? {
            conn.execute_batch(&format!("ALTER TABLE plan_views ADD COLUMN {definition}"))
                .map_err(unavailable)?;
            added = true;
        }
    }
    conn.execute_batch(INDEXES).map_err(unavailable)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(unavailable)?;
    if added || version != index_version() {
        backfill(conn)?;
    }
    Ok(())
}

fn has_column(conn: &Connection, table: &str, column: &str) -> Result<bool, ReadModelError> {
    conn.query_row(
        "SELECT COUNT(*) FROM pragma_table_info(?1) WHERE name = ?2",
        [table, column],
        |row| row.get::<_, i64>(0),
    )
    .map(|n| n > 0)
    .map_err(unavailable)
}

/// Recomputes every row's index values from its summary (or its document,
/// where the summary is missing or stale, and then stores the summary too),
/// in one transaction with the new `user_version`.
fn backfill(conn: &mut Connection) -> Result<(), ReadModelError> {
    let tx = conn.transaction().map_err(unavailable)?;
    tx.execute("DELETE FROM plan_clinicians", [])
        .map_err(unavailable)?;
    {
        let mut rows = tx
            .prepare(&format!(
                "SELECT rowid, tenant, plan_id, {SUMMARY_OR_DOCUMENT} FROM plan_views ORDER BY rowid"
            ))
            .map_err(unavailable)?;
        let mut rows = rows
            .query(rusqlite::named_params! { ":schema": PlanSummary::SCHEMA })
            .map_err(unavailable)?;
        // Updating the row a rowid-order scan stands on, by its rowid, is
        // safe in SQLite; the scan goes on with the next row.
        while let Some(row) = rows.next().map_err(unavailable)? {
            let rowid: i64 = row.get(0).map_err(unavailable)?;
            let tenant: String = row.get(1).map_err(unavailable)?;
            let plan_id: String = row.get(2).map_err(unavailable)?;
            let stored: Option<String> = row.get(3).map_err(unavailable)?;
            let document: Option<String> = row.get(4).map_err(unavailable)?;
            let recomputed = document.is_some();
            let summary = match summary_with_parts(&tx, &tenant, plan_id, stored, document) {
                Ok(Summarised::Ready(summary)) => *summary,
                Ok(Summarised::FromDocument {
                    document, parts, ..
                }) => match join_in_clear(&document, parts) {
                    Ok(view) => PlanSummary::of(&view),
                    // A sealed document opens only with the process's
                    // keys, not here: the row keeps what it has, and
                    // listings compute its summary from the opened document.
                    Err(_) if !document.starts_with('{') => continue,
                    Err(_) => {
                        tracing::error!(
                            rowid,
                            "stored plan is unreadable; left out of the indexes"
                        );
                        continue;
                    }
                },
                Err(_) => {
                    // Logged by row only: the text may hold PHI.
                    tracing::error!(rowid, "stored plan is unreadable; left out of the indexes");
                    continue;
                }
            };
            let (review_due, unsigned) = index_values(&summary);
            let text = recomputed
                .then(|| serde_json::to_string(&summary))
                .transpose()
                .map_err(|_| ReadModelError::Corrupt("plan summary does not serialize".into()))?;
            tx.execute(
                "UPDATE plan_views SET review_due = ?1, unsigned = ?2,
                        summary = COALESCE(?3, summary)
                 WHERE rowid = ?4",
                params![review_due, unsigned, text, rowid],
            )
            .map_err(unavailable)?;
            set_clinicians(&tx, &summary)?;
        }
    }
    tx.pragma_update(None, "user_version", index_version())
        .map_err(unavailable)?;
    tx.commit().map_err(unavailable)
}

/// A document kept in clear, joined with its parts as stored.
fn join_in_clear(head: &str, parts: Vec<StoredPart>) -> Result<PlanView, ReadModelError> {
    let parts = parts
        .into_iter()
        .map(|p| Ok((p.name()?, p.written_at, p.body)))
        .collect::<Result<Vec<_>, _>>()?;
    join(head, parts)
}

/// Replaces who treats under the summary's plan in `plan_clinicians`.
pub fn set_clinicians(tx: &Transaction<'_>, summary: &PlanSummary) -> Result<(), ReadModelError> {
    tx.prepare_cached("DELETE FROM plan_clinicians WHERE tenant = ?1 AND plan_id = ?2")
        .and_then(|mut s| s.execute(params![summary.tenant, summary.plan_id]))
        .map_err(unavailable)?;
    let mut insert = tx
        .prepare_cached(
            "INSERT OR IGNORE INTO plan_clinicians (tenant, plan_id, clinician_id)
             VALUES (?1, ?2, ?3)",
        )
        .map_err(unavailable)?;
    for clinician in std::iter::once(&summary.primary_clinician_id).chain(&summary.care_team) {
        insert
            .execute(params![summary.tenant, summary.plan_id, clinician])
            .map_err(unavailable)?;
    }
    Ok(())
}
