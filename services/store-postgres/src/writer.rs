//! The writer task: every waiting write in one locked transaction.

use chrono::Utc;
use sqlx::PgConnection;
use sqlx::postgres::PgPool;
use tokio::sync::mpsc;
use trellis_kernel::group_commit::{
    AppendRequest, WriteRequest, WriteResult, answer_all, fail_all, only_probes,
};
use trellis_kernel::{AppendOutcome, EventHash, NewEvent, StoreError, recognise_retry};

use crate::error::unavailable;
use crate::schema::{self, APPEND_LOCK, CHANNEL};

/// Writes committed together at most.
const MAX_GROUP: usize = 512;

pub(crate) async fn run(pool: PgPool, mut requests: mpsc::Receiver<WriteRequest>) {
    while let Some(first) = requests.recv().await {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match requests.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let results = match commit_group(&pool, &group).await {
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

/// One transaction for the whole group: lock, every check before its
/// inserts, notify, commit. A refused append leaves nothing behind; an
/// unexpected database error fails the whole group (nothing committed).
async fn commit_group(
    pool: &PgPool,
    group: &[WriteRequest],
) -> Result<Vec<WriteResult>, StoreError> {
    let mut tx = pool.begin().await.map_err(|e| unavailable(&e))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(APPEND_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
    let mut results = Vec::with_capacity(group.len());
    let mut last_position = None;
    for request in group {
        results.push(match request {
            WriteRequest::Append(request) => {
                let result = append(&mut tx, request).await?;
                if let Ok(outcome) = &result
                    && !outcome.deduplicated
                {
                    last_position = Some(outcome.last_position);
                }
                WriteResult::Append(result)
            }
            WriteRequest::Access(request) => {
                for record in &request.records {
                    schema::insert_access(&mut tx, record).await?;
                }
                WriteResult::Access(Ok(()))
            }
            WriteRequest::Probe(_) => {
                schema::touch_write_probe(&mut tx).await?;
                WriteResult::Probe(Ok(()))
            }
            // This store saves snapshots on its pool (`snapshots.rs`):
            // never in the locked transaction, where a failure would abort
            // the group. One sent here is refused alone.
            WriteRequest::Snapshot(_) => WriteResult::Snapshot(Err(StoreError::Unavailable(
                "this writer takes no snapshots: they are saved on the pool".into(),
            ))),
        });
    }
    if let Some(position) = last_position {
        // Delivered to listeners when (and only if) the transaction commits.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(CHANNEL)
            .bind(position.to_string())
            .execute(&mut *tx)
            .await
            .map_err(|e| unavailable(&e))?;
    }
    tx.commit().await.map_err(|e| unavailable(&e))?;
    Ok(results)
}

/// The outer `Result` is a database failure (fails the group); the inner
/// one is this append's answer.
async fn append(
    conn: &mut PgConnection,
    request: &AppendRequest,
) -> Result<Result<AppendOutcome, StoreError>, StoreError> {
    let stream_text = request.stream.to_string();
    let head = schema::stream_head(conn, &stream_text).await?;
    let actual = head.map(|(revision, _)| revision);
    if !request.expected.admits(actual) {
        let refused = StoreError::WrongExpectedRevision {
            stream: request.stream.clone(),
            expected: request.expected,
            actual,
        };
        return retry_or(
            already_stored(conn, &stream_text, &request.events).await,
            refused,
        );
    }
    let multi = request.events.len() > 1;
    if multi {
        sqlx::query("SAVEPOINT trellis_append")
            .execute(&mut *conn)
            .await
            .map_err(|e| unavailable(&e))?;
    }
    let recorded_at_us = Utc::now().timestamp_micros();
    let mut revision = actual.map_or(0, |r| r + 1);
    let mut previous = head.map_or(EventHash::GENESIS, |(_, hash)| hash);
    let mut last_position = 0;
    for event in &request.events {
        let inserted = schema::insert_event(
            conn,
            &request.stream,
            &stream_text,
            revision,
            event,
            recorded_at_us,
            &previous,
        )
        .await?;
        let Some((position, hash)) = inserted else {
            // The id is stored already: a retry, or a reused id.
            if multi {
                sqlx::query("ROLLBACK TO SAVEPOINT trellis_append")
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| unavailable(&e))?;
            }
            let refused = StoreError::DuplicateEventId(event.event_id);
            return retry_or(
                already_stored(conn, &stream_text, &request.events).await,
                refused,
            );
        };
        last_position = position;
        previous = hash;
        revision += 1;
    }
    if multi {
        sqlx::query("RELEASE SAVEPOINT trellis_append")
            .execute(&mut *conn)
            .await
            .map_err(|e| unavailable(&e))?;
    }
    Ok(Ok(AppendOutcome {
        last_revision: revision - 1,
        last_position,
        deduplicated: false,
    }))
}

/// The append's answer when its ids may be stored already: the earlier
/// outcome for a retry, a refusal for reused ids, else `refused`.
fn retry_or(
    found: Result<Option<AppendOutcome>, StoreError>,
    refused: StoreError,
) -> Result<Result<AppendOutcome, StoreError>, StoreError> {
    match found {
        Ok(Some(outcome)) => Ok(Ok(outcome)),
        Ok(None) => Ok(Err(refused)),
        Err(reused @ StoreError::DuplicateEventId(_)) => Ok(Err(reused)),
        Err(failure) => Err(failure),
    }
}

/// Every event of the append stored consecutively in this stream: a retry.
/// Stored elsewhere or only partly: the ids were reused.
async fn already_stored(
    conn: &mut PgConnection,
    stream: &str,
    events: &[NewEvent],
) -> Result<Option<AppendOutcome>, StoreError> {
    let mut located = Vec::with_capacity(events.len());
    for event in events {
        let at = schema::locate_event(conn, event.event_id).await?;
        let not_a_retry = located.is_empty() && at.is_none();
        located.push(at);
        if not_a_retry {
            break;
        }
    }
    recognise_retry(stream, events, &located)
}
