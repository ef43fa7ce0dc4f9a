//! The `trellis_snapshots` table: one row per stream, the latest folded
//! state the caller saved. A cache beside the record: no position, no
//! revision of its own, no chain; nothing that reads events reads it, and
//! its rows may be deleted at any time.
//!
//! Saved on the pool, not through the writer. PostgreSQL locks rows, so a
//! single upsert needs no single writer to stay correct (concurrent saves
//! of one stream serialise on its row, and the newer revision wins). The
//! writer's transaction holds the append lock every process waits on, and
//! any failed statement in it would abort the whole group: a cache has no
//! business in either. Nor does it need its commit flushed: the save
//! commits with `synchronous_commit` off.

use chrono::Utc;
use sqlx::Row;
use sqlx::postgres::PgPool;
use trellis_kernel::{Snapshot, StoreError, StreamName};

use crate::error::unavailable;

/// The stream's snapshot, if one is stored.
pub(crate) async fn load(
    pool: &PgPool,
    stream: &StreamName,
) -> Result<Option<Snapshot>, StoreError> {
    let row = sqlx::query(
        "SELECT revision, schema_version, payload FROM trellis_snapshots WHERE stream = $1",
    )
    .bind(stream.to_string())
    .fetch_optional(pool)
    .await
    .map_err(|e| unavailable(&e))?;
    let Some(row) = row else {
        return Ok(None);
    };
    let get = |e: sqlx::Error| unavailable(&e);
    let corrupt = |what: &str| StoreError::Corrupt(format!("malformed snapshot {what}"));
    let revision: i64 = row.try_get("revision").map_err(get)?;
    let schema_version: i64 = row.try_get("schema_version").map_err(get)?;
    Ok(Some(Snapshot {
        revision: u64::try_from(revision).map_err(|_| corrupt("revision"))?,
        schema_version: u32::try_from(schema_version).map_err(|_| corrupt("schema version"))?,
        payload: row.try_get("payload").map_err(get)?,
    }))
}

/// Keeps `snapshot` unless the stored one is at the same or a later
/// revision.
pub(crate) async fn save(
    pool: &PgPool,
    stream: &StreamName,
    snapshot: &Snapshot,
) -> Result<(), StoreError> {
    let revision = i64::try_from(snapshot.revision)
        .map_err(|_| StoreError::Corrupt("snapshot revision out of range".into()))?;
    let mut tx = pool.begin().await.map_err(|e| unavailable(&e))?;
    // A cache: losing the last saves in a crash costs a fold, nothing more.
    sqlx::query("SET LOCAL synchronous_commit = off")
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
    sqlx::query(
        "INSERT INTO trellis_snapshots (stream, revision, schema_version, payload, saved_at_us)
            VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (stream) DO UPDATE SET revision = excluded.revision,
            schema_version = excluded.schema_version, payload = excluded.payload,
            saved_at_us = excluded.saved_at_us
         WHERE excluded.revision > trellis_snapshots.revision",
    )
    .bind(stream.to_string())
    .bind(revision)
    .bind(i64::from(snapshot.schema_version))
    .bind(&snapshot.payload)
    .bind(Utc::now().timestamp_micros())
    .execute(&mut *tx)
    .await
    .map_err(|e| unavailable(&e))?;
    tx.commit().await.map_err(|e| unavailable(&e))
}
