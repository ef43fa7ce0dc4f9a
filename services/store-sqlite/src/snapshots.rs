//! The `snapshots` table: one row per stream, the latest folded state the
//! caller saved. A cache beside the record: no position, no revision of
//! its own, no chain; nothing that reads events ever reads it, and its rows
//! may be deleted at any time.

use chrono::Utc;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};
use trellis_kernel::group_commit::{SnapshotRequest, WriteRequest, WriteResult, fail_all};
use trellis_kernel::{Snapshot, StoreError, StreamName};

use crate::schema::unavailable;

/// The stream's snapshot, if one is stored.
pub(crate) fn load(conn: &Connection, stream: &StreamName) -> Result<Option<Snapshot>, StoreError> {
    let row = conn
        .prepare_cached("SELECT revision, schema_version, payload FROM snapshots WHERE stream = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([stream.to_string()], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, i64>(1)?,
                    row.get::<_, Vec<u8>>(2)?,
                ))
            })
            .optional()
        })
        .map_err(unavailable)?;
    let Some((revision, schema_version, payload)) = row else {
        return Ok(None);
    };
    let corrupt = |what: &str| StoreError::Corrupt(format!("malformed snapshot {what}"));
    Ok(Some(Snapshot {
        revision: u64::try_from(revision).map_err(|_| corrupt("revision"))?,
        schema_version: u32::try_from(schema_version).map_err(|_| corrupt("schema version"))?,
        payload,
    }))
}

/// Saves every snapshot of `group` (snapshot requests only) in one
/// transaction of their own. Each upsert is one statement, atomic alone,
/// so one that fails fails only its caller; a failed commit fails them
/// all. The caller decides how durable the commit is.
pub(crate) fn save_all(conn: &mut Connection, group: &[WriteRequest]) -> Vec<WriteResult> {
    let tx = match conn.transaction_with_behavior(TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return failed(group, &e),
    };
    let results = group
        .iter()
        .map(|request| match request {
            WriteRequest::Snapshot(request) => WriteResult::Snapshot(upsert(&tx, request)),
            _ => unreachable!("the writer hands over snapshot requests only"),
        })
        .collect();
    match tx.commit() {
        Ok(()) => results,
        Err(e) => failed(group, &e),
    }
}

/// Keeps the snapshot unless the stored one is at the same or a later
/// revision.
fn upsert(conn: &Connection, request: &SnapshotRequest) -> Result<(), StoreError> {
    let snapshot = &request.snapshot;
    let revision = i64::try_from(snapshot.revision)
        .map_err(|_| StoreError::Corrupt("snapshot revision out of range".into()))?;
    conn.prepare_cached(
        "INSERT INTO snapshots (stream, revision, schema_version, payload, saved_at_us) \
         VALUES (?1, ?2, ?3, ?4, ?5) \
         ON CONFLICT (stream) DO UPDATE SET revision = excluded.revision, \
             schema_version = excluded.schema_version, payload = excluded.payload, \
             saved_at_us = excluded.saved_at_us \
         WHERE excluded.revision > snapshots.revision",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            request.stream.to_string(),
            revision,
            snapshot.schema_version,
            snapshot.payload,
            Utc::now().timestamp_micros(),
        ])
    })
    .map(|_| ())
    .map_err(unavailable)
}

fn failed(group: &[WriteRequest], e: &rusqlite::Error) -> Vec<WriteResult> {
    // A cache write: worth a warning, never an error of the record.
    tracing::warn!(error = %e, "snapshot commit failed");
    fail_all(group)
}
