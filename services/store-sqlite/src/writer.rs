//! The single writer thread and its group commit.

use std::collections::HashMap;
use std::sync::mpsc;

use chrono::Utc;
use rusqlite::Connection;
use tokio::sync::watch;
use trellis_kernel::group_commit::{
    AccessRequest, AppendRequest, WriteRequest, WriteResult, answer_all, fail_all,
};
use trellis_kernel::{AppendOutcome, EventHash, NewEvent, StoreError, recognise_retry};

use crate::schema;

pub(crate) fn run(
    mut conn: Connection,
    requests: mpsc::Receiver<WriteRequest>,
    head: watch::Sender<u64>,
    max_group: usize,
) {
    let mut heads = StreamHeads::default();
    while let Ok(first) = requests.recv() {
        // Everything that queued while the last commit was syncing goes
        // into this one, up to a bound that keeps one commit's latency low.
        let mut group = vec![first];
        while group.len() < max_group {
            match requests.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        let (results, last_position) = commit_group(&mut conn, &mut heads, &group);
        if let Some(position) = last_position {
            head.send_replace(position);
        }
        answer_all(group, results);
    }
    tracing::debug!("store writer stopped: every handle was dropped");
}

/// The last revision of recently written streams, so the hot path does not
/// ask SQLite for it. Only the writer thread writes, so the cache cannot go
/// stale; entries of a group are kept apart until its commit succeeds.
#[derive(Default)]
struct StreamHeads {
    committed: HashMap<String, (u64, EventHash)>,
    pending: HashMap<String, (u64, EventHash)>,
}

impl StreamHeads {
    /// Bounds memory: a store with very many streams just asks SQLite more.
    const MAX_CACHED: usize = 100_000;

    fn get(&self, conn: &Connection, stream: &str) -> Result<Option<(u64, EventHash)>, StoreError> {
        if let Some(head) = self
            .pending
            .get(stream)
            .or_else(|| self.committed.get(stream))
        {
            return Ok(Some(*head));
        }
        schema::stream_head(conn, stream)
    }

    fn set_pending(&mut self, stream: &str, head: (u64, EventHash)) {
        self.pending.insert(stream.to_owned(), head);
    }

    fn commit(&mut self) {
        if self.committed.len() + self.pending.len() > Self::MAX_CACHED {
            self.committed.clear();
        }
        self.committed.extend(self.pending.drain());
    }

    fn discard(&mut self) {
        self.pending.clear();
    }
}

/// Applies every request inside one transaction and commits once (one
/// fsync). A request that fails leaves no trace and fails alone. Returns
/// each request's result and the new head position.
fn commit_group(
    conn: &mut Connection,
    heads: &mut StreamHeads,
    group: &[WriteRequest],
) -> (Vec<WriteResult>, Option<u64>) {
    let mut tx = match conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate) {
        Ok(tx) => tx,
        Err(e) => return (failed_group(group, &e), None),
    };
    let mut results = Vec::with_capacity(group.len());
    let mut last_position = None;
    for request in group {
        let result = match request {
            WriteRequest::Append(request) => {
                let (result, head) = append_one(&mut tx, heads, request);
                if let Some(head) = head {
                    heads.set_pending(&request.stream.to_string(), head);
                }
                if let Ok(outcome) = &result
                    && !outcome.deduplicated
                {
                    last_position = Some(outcome.last_position);
                }
                WriteResult::Append(result)
            }
            WriteRequest::Access(request) => WriteResult::Access(record_access(&mut tx, request)),
        };
        results.push(result);
    }
    match tx.commit() {
        Ok(()) => {
            heads.commit();
            (results, last_position)
        }
        Err(e) => {
            heads.discard();
            (failed_group(group, &e), None)
        }
    }
}

/// One append; also returns the stream's new head when it wrote.
fn append_one(
    tx: &mut rusqlite::Transaction<'_>,
    heads: &StreamHeads,
    request: &AppendRequest,
) -> (Result<AppendOutcome, StoreError>, Option<(u64, EventHash)>) {
    if request.events.len() == 1 {
        // One INSERT is atomic on its own: no savepoint needed.
        return apply(tx, heads, request);
    }
    match tx.savepoint() {
        Ok(mut sp) => {
            let (result, head) = apply(&sp, heads, request);
            let finished = if result.is_ok() {
                sp.commit()
            } else {
                sp.rollback()
            };
            match finished {
                Ok(()) => (result, head),
                Err(e) => (Err(schema::unavailable(e)), None),
            }
        }
        Err(e) => (Err(schema::unavailable(e)), None),
    }
}

fn record_access(
    tx: &mut rusqlite::Transaction<'_>,
    request: &AccessRequest,
) -> Result<(), StoreError> {
    let mut sp = tx.savepoint().map_err(schema::unavailable)?;
    for record in &request.records {
        if let Err(e) = schema::insert_access(&sp, record) {
            let _ = sp.rollback();
            return Err(e);
        }
    }
    sp.commit().map_err(schema::unavailable)
}

fn failed_group(group: &[WriteRequest], e: &rusqlite::Error) -> Vec<WriteResult> {
    tracing::error!(error = %e, "event store commit failed");
    fail_all(group)
}

fn apply(
    conn: &Connection,
    heads: &StreamHeads,
    request: &AppendRequest,
) -> (Result<AppendOutcome, StoreError>, Option<(u64, EventHash)>) {
    let stream_text = request.stream.to_string();
    let head = match heads.get(conn, &stream_text) {
        Ok(head) => head,
        Err(e) => return (Err(e), None),
    };
    let actual = head.map(|(revision, _)| revision);
    if !request.expected.admits(actual) {
        // A retry of an append that already landed no longer meets its
        // expectation; recognise it by its event ids before refusing.
        let result = match already_stored(conn, &stream_text, &request.events) {
            Ok(Some(outcome)) => Ok(outcome),
            Ok(None) => Err(StoreError::WrongExpectedRevision {
                stream: request.stream.clone(),
                expected: request.expected,
                actual,
            }),
            Err(e) => Err(e),
        };
        return (result, None);
    }
    let recorded_at = Utc::now();
    let mut revision = actual.map_or(0, |r| r + 1);
    let mut previous = head.map_or(EventHash::GENESIS, |(_, hash)| hash);
    let mut last_position = 0;
    for event in &request.events {
        match schema::insert_event(
            conn,
            &request.stream,
            &stream_text,
            revision,
            event,
            recorded_at,
            &previous,
        ) {
            Ok((position, hash)) => {
                last_position = position;
                previous = hash;
            }
            Err(schema::InsertError::DuplicateEventId) => {
                // With `Any` a retry passes the check above; the unique
                // event id catches it here.
                let result = match already_stored(conn, &stream_text, &request.events) {
                    Ok(Some(outcome)) => Ok(outcome),
                    Ok(None) => Err(StoreError::DuplicateEventId(event.event_id)),
                    Err(e) => Err(e),
                };
                return (result, None);
            }
            Err(schema::InsertError::Store(e)) => return (Err(e), None),
        }
        revision += 1;
    }
    let outcome = AppendOutcome {
        last_revision: revision - 1,
        last_position,
        deduplicated: false,
    };
    (Ok(outcome), Some((revision - 1, previous)))
}

/// An append whose events are all stored already, consecutively in this
/// stream, is a retry: acknowledge it again without writing. If only some
/// are, or they sit elsewhere, the ids were reused and the append fails.
fn already_stored(
    conn: &Connection,
    stream: &str,
    events: &[NewEvent],
) -> Result<Option<AppendOutcome>, StoreError> {
    let mut located = Vec::with_capacity(events.len());
    for event in events {
        let at = schema::locate_event(conn, event.event_id)?;
        let not_a_retry = located.is_empty() && at.is_none();
        located.push(at);
        if not_a_retry {
            break;
        }
    }
    recognise_retry(stream, events, &located)
}
