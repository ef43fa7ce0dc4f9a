//! The single writer thread and its group commit.
//!
//! Snapshots queue with the record's writes but are not committed with
//! them: the record's requests commit first (one fsync) and are answered,
//! then the group's snapshots commit in a transaction of their own without
//! an fsync. A snapshot can so never fail or delay an append, and the
//! next fsync of the record makes it durable as a side effect.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, mpsc};

use chrono::Utc;
use rusqlite::Connection;
use tokio::sync::watch;
use trellis_kernel::group_commit::{
    AccessRequest, AppendRequest, WriteRequest, WriteResult, answer_all, fail_all, only_probes,
};
use trellis_kernel::{AppendOutcome, EventHash, NewEvent, StoreError, recognise_retry};

use crate::checkpoint::Checkpoints;
use crate::{schema, snapshots};

pub(crate) fn run(
    conn: Connection,
    heads: StreamHeads,
    requests: mpsc::Receiver<WriteRequest>,
    head: watch::Sender<u64>,
    max_group: usize,
    checkpoints: Checkpoints,
) {
    let mut writer = Writer::new(conn, heads, checkpoints);
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
        writer.write(group, &head);
    }
    tracing::debug!("store writer stopped: every handle was dropped");
}

/// The only write connection and what the writer remembers about it.
struct Writer {
    conn: Connection,
    heads: StreamHeads,
    sync: SyncLevel,
    checkpoints: Checkpoints,
}

impl Writer {
    /// `conn` as `schema::open_writer` left it: `synchronous=FULL`.
    fn new(conn: Connection, heads: StreamHeads, checkpoints: Checkpoints) -> Self {
        Self {
            conn,
            heads,
            sync: SyncLevel::Full,
            checkpoints,
        }
    }

    /// Commits one group and answers each of its callers: the record's
    /// requests first, then the snapshots.
    fn write(&mut self, group: Vec<WriteRequest>, head: &watch::Sender<u64>) {
        let (saves, record): (Vec<_>, Vec<_>) = group
            .into_iter()
            .partition(|request| matches!(request, WriteRequest::Snapshot(_)));
        // What the WAL grows by, roughly: rows of the record, and a
        // snapshot's few pages.
        let rows = record.iter().map(rows_of).sum::<usize>() + saves.len() * 4;
        if !record.is_empty() {
            let (results, last_position) = match self.sync.set(&self.conn, SyncLevel::Full) {
                Ok(()) => commit_group(&mut self.conn, &mut self.heads, &record),
                Err(e) => (failed_group(&record, &e), None),
            };
            if let Some(position) = last_position {
                head.send_replace(position);
            }
            answer_all(record, results);
        }
        if !saves.is_empty() {
            // A cache need not reach the disk at commit. Should lowering
            // the level fail, the snapshots just commit with an fsync.
            let _ = self.sync.set(&self.conn, SyncLevel::Normal);
            let results = snapshots::save_all(&mut self.conn, &saves);
            answer_all(saves, results);
        }
        self.checkpoints.committed(rows);
    }
}

/// The rows a request writes to the record.
fn rows_of(request: &WriteRequest) -> usize {
    match request {
        WriteRequest::Append(append) => append.events.len(),
        WriteRequest::Access(access) => access.records.len(),
        WriteRequest::Probe(_) | WriteRequest::Snapshot(_) => 1,
    }
}

/// The writer connection's `synchronous` level. The record only ever
/// commits at `Full` (an fsync of the WAL per commit): if raising it
/// again fails, the record's writes fail rather than commit without one.
/// `Normal` (in WAL mode: no fsync at commit, the database still
/// consistent) is for snapshots only.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SyncLevel {
    Full,
    Normal,
}

impl SyncLevel {
    fn set(&mut self, conn: &Connection, level: Self) -> Result<(), rusqlite::Error> {
        if *self != level {
            let name = match level {
                Self::Full => "FULL",
                Self::Normal => "NORMAL",
            };
            conn.pragma_update(None, "synchronous", name)?;
            *self = level;
        }
        Ok(())
    }
}

/// The last revision of recently written streams, so the hot path does not
/// ask SQLite for it. Only the writer thread writes, so the cache cannot go
/// stale; entries of a group are kept apart until its commit succeeds.
/// The committed entries are shared with readers ([`CommittedHeads`]).
#[derive(Default)]
pub(crate) struct StreamHeads {
    committed: CommittedHeads,
    pending: HashMap<String, (u64, EventHash)>,
    /// The file's `data_version` when the writer last looked.
    data_version: Option<i64>,
}

/// The heads the writer committed, as readers may ask for them; published
/// before any append of the group is acknowledged. Exact while this
/// process's writer is the file's only one: a commit by another connection
/// empties it at the writer's next group (`forget_if_written_elsewhere`),
/// and an append planned on a head it had moved fails its revision check
/// there and is retried.
#[derive(Clone, Default)]
pub(crate) struct CommittedHeads(Arc<Mutex<HashMap<String, (u64, EventHash)>>>);

impl std::fmt::Debug for CommittedHeads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommittedHeads")
            .field("streams", &self.lock().len())
            .finish()
    }
}

impl CommittedHeads {
    /// Bounds memory: a store with very many streams just asks SQLite more.
    const MAX_CACHED: usize = 100_000;

    /// Whether `stream` is known to end before revision `from`: a forward
    /// read from there finds nothing, without asking SQLite.
    pub(crate) fn ends_before(&self, stream: &str, from: u64) -> bool {
        self.lock()
            .get(stream)
            .is_some_and(|(revision, _)| *revision < from)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u64, EventHash)>> {
        self.0.lock().expect("stream heads poisoned")
    }
}

impl StreamHeads {
    pub(crate) fn sharing(committed: CommittedHeads) -> Self {
        Self {
            committed,
            pending: HashMap::new(),
            data_version: None,
        }
    }

    fn get(&self, conn: &Connection, stream: &str) -> Result<Option<(u64, EventHash)>, StoreError> {
        if let Some(head) = self.pending.get(stream) {
            return Ok(Some(*head));
        }
        if let Some(head) = self.committed.lock().get(stream) {
            return Ok(Some(*head));
        }
        schema::stream_head(conn, stream)
    }

    fn set_pending(&mut self, stream: &str, head: (u64, EventHash)) {
        self.pending.insert(stream.to_owned(), head);
    }

    fn commit(&mut self) {
        let mut committed = self.committed.lock();
        if committed.len() + self.pending.len() > CommittedHeads::MAX_CACHED {
            committed.clear();
        }
        committed.extend(self.pending.drain());
    }

    /// After a failed commit: SQLite may have rolled back more than this
    /// group's last statement, so no stream it touched is trusted.
    fn discard(&mut self) {
        let mut committed = self.committed.lock();
        for stream in self.pending.keys() {
            committed.remove(stream);
        }
        drop(committed);
        self.pending.clear();
    }

    /// Drops every committed head when another connection (another
    /// process) committed to the file since the writer last looked: one
    /// `PRAGMA data_version`, inside the group's write transaction.
    fn forget_if_written_elsewhere(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        let version: i64 = conn.pragma_query_value(None, "data_version", |row| row.get(0))?;
        if self
            .data_version
            .replace(version)
            .is_some_and(|seen| seen != version)
        {
            tracing::debug!("another connection wrote the store; stream heads dropped");
            self.committed.lock().clear();
        }
        Ok(())
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
    if let Err(e) = heads.forget_if_written_elsewhere(&tx) {
        return (failed_group(group, &e), None);
    }
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
            // One statement is atomic on its own; a failure fails it alone.
            WriteRequest::Probe(_) => WriteResult::Probe(schema::touch_write_probe(&tx)),
            WriteRequest::Snapshot(_) => unreachable!("snapshots commit apart from the record"),
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
    if only_probes(group) {
        // Readiness logs what its probes find, once per change.
        tracing::debug!(error = %e, "write probe commit failed");
    } else {
        tracing::error!(error = %e, "event store commit failed");
    }
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

#[cfg(test)]
mod tests {
    use futures::executor::block_on;
    use trellis_kernel::ExpectedRevision;
    use trellis_store_conformance::{fresh_tenant, plan_stream, sample_event, sample_snapshot};

    use super::*;

    fn synchronous(conn: &Connection) -> i64 {
        conn.pragma_query_value(None, "synchronous", |row| row.get(0))
            .unwrap()
    }

    fn writer() -> (tempfile::TempDir, Writer) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let conn = schema::open_writer(&path).unwrap();
        let checkpoints = Checkpoints::start(&path).unwrap();
        (dir, Writer::new(conn, StreamHeads::default(), checkpoints))
    }

    #[test]
    fn the_record_commits_with_an_fsync_and_snapshots_without() {
        let (_dir, mut writer) = writer();
        let (head, position) = watch::channel(0);
        let stream = plan_stream(&fresh_tenant(), "p-1");
        assert_eq!(synchronous(&writer.conn), 2, "FULL from the start");
        let (save, saved) = WriteRequest::snapshot(stream.clone(), sample_snapshot(0, 1, "s"));
        let (append, appended) = WriteRequest::append(
            stream.clone(),
            ExpectedRevision::NoStream,
            vec![sample_event(0)],
        );
        writer.write(vec![save, append], &head);
        assert_eq!(block_on(appended.wait()).unwrap().last_position, 1);
        block_on(saved.wait()).unwrap();
        assert_eq!(*position.borrow(), 1, "the snapshot moved no position");
        assert_eq!(synchronous(&writer.conn), 1, "snapshots commit at NORMAL");

        let (append, appended) =
            WriteRequest::append(stream, ExpectedRevision::Exact(0), vec![sample_event(1)]);
        writer.write(vec![append], &head);
        assert_eq!(block_on(appended.wait()).unwrap().last_revision, 1);
        assert_eq!(synchronous(&writer.conn), 2, "the record commits at FULL");
    }

    #[test]
    fn a_failed_snapshot_fails_only_its_caller() {
        let (_dir, mut writer) = writer();
        let (head, _) = watch::channel(0);
        writer
            .conn
            .execute_batch(
                "CREATE TRIGGER refuse BEFORE INSERT ON snapshots
                 WHEN NEW.stream LIKE '%refused%' BEGIN SELECT RAISE(ABORT, 'refused'); END;",
            )
            .unwrap();
        let tenant = fresh_tenant();
        let (refused, kept) = (
            plan_stream(&tenant, "refused"),
            plan_stream(&tenant, "kept"),
        );
        let (bad, bad_saved) = WriteRequest::snapshot(refused.clone(), sample_snapshot(0, 1, "x"));
        let (append, appended) =
            WriteRequest::append(refused, ExpectedRevision::NoStream, vec![sample_event(0)]);
        let (good, good_saved) = WriteRequest::snapshot(kept.clone(), sample_snapshot(4, 1, "k"));
        let (access, logged) = WriteRequest::access(Vec::new());
        writer.write(vec![bad, append, good, access], &head);
        assert!(block_on(bad_saved.wait()).is_err());
        assert_eq!(block_on(appended.wait()).unwrap().last_revision, 0);
        block_on(good_saved.wait()).expect("its neighbour's failure is not its own");
        block_on(logged.wait()).unwrap();
        let stored = snapshots::load(&writer.conn, &kept).unwrap();
        assert_eq!(stored, Some(sample_snapshot(4, 1, "k")));
        assert_eq!(schema::head_position(&writer.conn).unwrap(), 1);
    }
}
