//! The writer task: every waiting write in one locked transaction, with a
//! round trip per kind of work rather than per append (see `batch.rs`).

pub(crate) mod plan;
#[cfg(test)]
mod tests;

use std::collections::HashSet;

use chrono::Utc;
use sqlx::PgConnection;
use sqlx::postgres::PgPool;
use tokio::sync::mpsc;
use trellis_kernel::group_commit::{
    AppendRequest, WriteRequest, WriteResult, answer_all, fail_all, only_probes,
};
use trellis_kernel::{AccessRecord, AppendOutcome, StoreError};

use crate::batch;
use crate::error::unavailable;
use crate::schema::{self, APPEND_LOCK};
use plan::Plan;

/// Writes committed together at most.
const MAX_GROUP: usize = 512;
/// Scheduling turns a group waits at most for more writes to join it.
const GATHER_TURNS: usize = 8;

/// Commits groups until every handle is gone. A group still uncommitted
/// after `in_flight` (a database that stopped answering) is failed, so
/// the writer moves on instead of holding everyone behind it.
pub(crate) async fn run(
    pool: PgPool,
    mut requests: mpsc::Receiver<WriteRequest>,
    in_flight: std::time::Duration,
) {
    while let Some(first) = requests.recv().await {
        let mut group = vec![first];
        // The callers the last group answered may be about to write again:
        // let them run first, so they join this group instead of waiting a
        // whole commit for the next one. Scheduling turns while each brings
        // more writes (a few at most), no timer.
        for _ in 0..GATHER_TURNS {
            let before = group.len();
            tokio::task::yield_now().await;
            while group.len() < MAX_GROUP {
                match requests.try_recv() {
                    Ok(next) => group.push(next),
                    Err(_) => break,
                }
            }
            if group.len() == before || group.len() == MAX_GROUP {
                break;
            }
        }
        let committed = tokio::time::timeout(in_flight, commit_group(&pool, &group))
            .await
            .unwrap_or_else(|_| {
                Err(trellis_kernel::StoreError::Unavailable(
                    "the database did not answer in time".into(),
                ))
            });
        let results = match committed {
            Ok(results) => results,
            Err(e) if only_probes(&group) => {
                // Readiness logs what its probes find, once per change.
                tracing::debug!(error = %e, "write probe commit failed");
                fail_all(&group)
            }
            Err(e) => {
                tracing::error!(error = %e, "event store commit failed");
                fail_all(&group)
            }
        };
        answer_all(group, results);
    }
}

/// One transaction for the whole group: lock; read the heads and stored
/// ids the appends need (one query); decide every append in Rust; one
/// insert (which notifies) for the accepted events, one for the access
/// records; commit. A refused append leaves nothing behind; an unexpected
/// database error fails the whole group (nothing committed).
pub(crate) async fn commit_group(
    pool: &PgPool,
    group: &[WriteRequest],
) -> Result<Vec<WriteResult>, StoreError> {
    let mut tx = pool.begin().await.map_err(|e| unavailable(&e))?;
    // The group's statements are prepared once per connection, and are
    // planned once too: their generic plans suit groups of any size, and
    // the custom plans PostgreSQL would otherwise make at every execution
    // cost about as much as running them. Their reads go by key (a
    // stream's last revision, an event id); planned while the table is
    // nearly empty, a sequential scan looks cheapest and would stay in the
    // cached plan as the table grows, so sequential scans are off. Both
    // settings hold for this transaction only.
    sqlx::query(
        "SELECT pg_advisory_xact_lock($1), set_config('plan_cache_mode', 'force_generic_plan', true),
            set_config('enable_seqscan', 'off', true)",
    )
        .bind(APPEND_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
    let appends: Vec<&AppendRequest> = group
        .iter()
        .filter_map(|request| match request {
            WriteRequest::Append(append) => Some(append),
            _ => None,
        })
        .collect();
    let outcomes = append_all(&mut tx, &appends).await?;
    let records: Vec<&AccessRecord> = group
        .iter()
        .filter_map(|request| match request {
            WriteRequest::Access(access) => Some(&access.records),
            _ => None,
        })
        .flatten()
        .collect();
    if !records.is_empty() {
        batch::insert_access(&mut tx, &records).await?;
    }
    if group.iter().any(|r| matches!(r, WriteRequest::Probe(_))) {
        // One rewrite of the probe row answers every probe of the group.
        schema::touch_write_probe(&mut tx).await?;
    }
    tx.commit().await.map_err(|e| unavailable(&e))?;
    let mut outcomes = outcomes.into_iter();
    Ok(group
        .iter()
        .map(|request| match request {
            WriteRequest::Append(_) => WriteResult::Append(
                outcomes
                    .next()
                    .unwrap_or_else(|| Err(StoreError::Unavailable("commit failed".into()))),
            ),
            WriteRequest::Access(_) => WriteResult::Access(Ok(())),
            WriteRequest::Probe(_) => WriteResult::Probe(Ok(())),
            // This store saves snapshots on its pool (`snapshots.rs`):
            // never in the locked transaction, where a failure would abort
            // the group. One sent here is refused alone.
            WriteRequest::Snapshot(_) => WriteResult::Snapshot(Err(StoreError::Unavailable(
                "this writer takes no snapshots: they are saved on the pool".into(),
            ))),
        })
        .collect())
}

/// Decides and writes the group's appends (notifying listeners if any
/// event was written): each one's answer, in order.
async fn append_all(
    conn: &mut PgConnection,
    appends: &[&AppendRequest],
) -> Result<Vec<Result<AppendOutcome, StoreError>>, StoreError> {
    if appends.is_empty() {
        return Ok(Vec::new());
    }
    let mut streams = Vec::new();
    let mut seen = HashSet::new();
    for append in appends {
        let stream = append.stream.to_string();
        if seen.insert(stream.clone()) {
            streams.push(stream);
        }
    }
    let ids: Vec<&[u8]> = appends
        .iter()
        .flat_map(|append| &append.events)
        .map(|event| event.event_id.as_bytes().as_slice())
        .collect();
    let (heads, stored) = batch::read(conn, &streams, &ids).await?;
    let plan = Plan::decide(appends, heads, stored, || Utc::now().timestamp_micros());
    let positions = if plan.rows.is_empty() {
        Vec::new()
    } else {
        batch::insert_events(conn, &plan.rows).await?
    };
    plan.outcomes(&positions)
}
