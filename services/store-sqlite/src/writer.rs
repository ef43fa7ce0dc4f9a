//! The single writer thread and its group commit.

use std::sync::mpsc;

use chrono::Utc;
use rusqlite::Connection;
use tokio::sync::{oneshot, watch};
use trellis_kernel::{AppendOutcome, ExpectedRevision, NewEvent, StoreError, StreamName};

use crate::schema;

/// Upper bound of appends committed together; keeps one commit's latency
/// bounded when the queue is very long.
const MAX_GROUP: usize = 1024;

#[derive(Debug)]
pub(crate) struct AppendRequest {
    pub stream: StreamName,
    pub expected: ExpectedRevision,
    pub events: Vec<NewEvent>,
    pub reply: oneshot::Sender<Result<AppendOutcome, StoreError>>,
}

pub(crate) fn run(
    mut conn: Connection,
    requests: mpsc::Receiver<AppendRequest>,
    head: watch::Sender<u64>,
) {
    while let Ok(first) = requests.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match requests.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let (results, last_position) = commit_group(&mut conn, &group);
        if let Some(position) = last_position {
            head.send_replace(position);
        }
        for (request, result) in group.into_iter().zip(results) {
            // The caller may have given up waiting; the append stands anyway.
            let _ = request.reply.send(result);
        }
    }
    tracing::debug!("store writer stopped: every handle was dropped");
}

/// Applies every request in its own savepoint inside one transaction and
/// commits once. Returns each request's result and the new head position.
fn commit_group(
    conn: &mut Connection,
    group: &[AppendRequest],
) -> (Vec<Result<AppendOutcome, StoreError>>, Option<u64>) {
    let mut tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return (fail_all(group.len(), &e), None),
    };
    let mut results = Vec::with_capacity(group.len());
    let mut last_position = None;
    for request in group {
        let result = match tx.savepoint() {
            Ok(mut sp) => {
                let result = apply(&sp, request);
                let finished = if result.is_ok() {
                    sp.commit()
                } else {
                    sp.rollback()
                };
                finished.map_err(schema::unavailable).and(result)
            }
            Err(e) => Err(schema::unavailable(e)),
        };
        if let Ok(outcome) = &result
            && !outcome.deduplicated
        {
            last_position = Some(outcome.last_position);
        }
        results.push(result);
    }
    match tx.commit() {
        Ok(()) => (results, last_position),
        Err(e) => (fail_all(group.len(), &e), None),
    }
}

fn fail_all(n: usize, e: &rusqlite::Error) -> Vec<Result<AppendOutcome, StoreError>> {
    tracing::error!(error = %e, "event store commit failed");
    (0..n)
        .map(|_| Err(StoreError::Unavailable("commit failed".into())))
        .collect()
}

fn apply(conn: &Connection, request: &AppendRequest) -> Result<AppendOutcome, StoreError> {
    let stream_text = request.stream.to_string();
    if let Some(outcome) = already_stored(conn, &stream_text, &request.events)? {
        return Ok(outcome);
    }
    let actual = schema::stream_head(conn, &stream_text)?;
    let holds = match request.expected {
        ExpectedRevision::Any => true,
        ExpectedRevision::NoStream => actual.is_none(),
        ExpectedRevision::Exact(r) => actual == Some(r),
    };
    if !holds {
        return Err(StoreError::WrongExpectedRevision {
            stream: request.stream.clone(),
            expected: request.expected,
            actual,
        });
    }
    let recorded_at = Utc::now();
    let mut revision = actual.map_or(0, |r| r + 1);
    let mut last_position = 0;
    for event in &request.events {
        if schema::locate_event(conn, event.event_id)?.is_some() {
            return Err(StoreError::DuplicateEventId(event.event_id));
        }
        last_position = schema::insert_event(conn, &request.stream, revision, event, recorded_at)?;
        revision += 1;
    }
    Ok(AppendOutcome {
        last_revision: revision - 1,
        last_position,
        deduplicated: false,
    })
}

/// An append whose events are all stored already, consecutively in this
/// stream, is a retry: acknowledge it again without writing. If only some
/// are, or they sit elsewhere, the ids were reused and the append fails.
fn already_stored(
    conn: &Connection,
    stream: &str,
    events: &[NewEvent],
) -> Result<Option<AppendOutcome>, StoreError> {
    let Some(first) = events.first() else {
        return Err(StoreError::EmptyAppend);
    };
    let Some((first_stream, first_revision, _)) = schema::locate_event(conn, first.event_id)?
    else {
        return Ok(None);
    };
    let mut last = (first_revision, 0);
    for (offset, event) in events.iter().enumerate() {
        match schema::locate_event(conn, event.event_id)? {
            Some((s, revision, position))
                if s == stream
                    && first_stream == stream
                    && revision == first_revision + offset as u64 =>
            {
                last = (revision, position);
            }
            _ => return Err(StoreError::DuplicateEventId(event.event_id)),
        }
    }
    Ok(Some(AppendOutcome {
        last_revision: last.0,
        last_position: last.1,
        deduplicated: true,
    }))
}
