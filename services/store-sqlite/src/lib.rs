//! The embedded event store: a single SQLite file in WAL mode.
//!
//! One writer thread owns the only write connection. Appends queue on a
//! channel; the writer takes every append waiting, applies each inside its
//! own savepoint (so one conflict does not fail its neighbours), commits the
//! lot with a single fsync (`synchronous=FULL`) and only then acknowledges
//! them. Under load the queue fills while the previous commit syncs, so the
//! fsync cost is shared by every append that arrived meanwhile (group commit).
//!
//! Readers use their own read-only connections and never block the writer.
//! The writer keeps the last revision of the streams it wrote, which spares
//! a command both the writer's lookup of its stream's head and, when it
//! catches its plan up, a read that would find nothing new. One process,
//! the server, appends to the file's streams; should any other connection
//! commit to the file (a command-line tool's access record, say), the
//! writer sees `PRAGMA data_version` change at its next group and drops
//! what it kept.
//!
//! Snapshots ([`SnapshotStore`]) live in a `snapshots` table beside the
//! events: saved through the same writer (after the record's commit, in a
//! transaction of their own that waits for no fsync), read by the readers.

mod checkpoint;
mod keys;
mod schema;
mod snapshots;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags};
use tokio::sync::watch;
use trellis_kernel::{
    AccessLog, AccessQuery, AccessRecord, AppendOutcome, AppendSignal, EventStore,
    ExpectedRevision, LoggedAccess, NewEvent, PageFuture, ReadDirection, RecordedEvent, Snapshot,
    SnapshotStore, StoreError, StreamHead, StreamName, SubscriptionStream, TenantId, catch_up,
};

pub use keys::SqliteKeyDirectory;

use trellis_kernel::group_commit::{ProbeGate, WriteRequest, probe_unanswered, writer_stopped};

/// How many events one subscription read fetches at a time.
const SUBSCRIPTION_PAGE: usize = 1024;

/// Tuning of the embedded store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Appends committed together under one fsync at most. 1 turns group
    /// commit off (one transaction and fsync per append), which only the
    /// benchmark uses, to show what group commit buys.
    pub max_group_commit: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_group_commit: 1024,
        }
    }
}

/// Cloneable handle to one embedded store file.
#[derive(Debug, Clone)]
pub struct SqliteEventStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    path: PathBuf,
    writes: Mutex<mpsc::Sender<WriteRequest>>,
    readers: Mutex<Vec<Connection>>,
    probes: ProbeGate,
    /// Global position of the last committed event (0 when empty).
    head: watch::Receiver<u64>,
    /// The last revision of streams the writer committed to.
    heads: writer::CommittedHeads,
}

impl SqliteEventStore {
    /// Opens (creating if needed) the store file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, StoreOptions::default())
    }

    pub fn open_with(path: impl AsRef<Path>, options: StoreOptions) -> Result<Self, StoreError> {
        let path = path.as_ref().to_path_buf();
        let max_group = options.max_group_commit.max(1);
        let conn = schema::open_writer(&path)?;
        let checkpoints = checkpoint::Checkpoints::start(&path)?;
        let head = schema::head_position(&conn)?;
        let (head_tx, head_rx) = watch::channel(head);
        let (tx, rx) = mpsc::channel();
        let heads = writer::CommittedHeads::default();
        let writer_heads = writer::StreamHeads::sharing(heads.clone());
        std::thread::Builder::new()
            .name("trellis-store-writer".into())
            .spawn(move || writer::run(conn, writer_heads, rx, head_tx, max_group, checkpoints))
            .map_err(|e| StoreError::Unavailable(format!("cannot start writer thread: {e}")))?;
        Ok(Self {
            inner: Arc::new(Inner {
                path,
                writes: Mutex::new(tx),
                readers: Mutex::new(Vec::new()),
                probes: ProbeGate::default(),
                head: head_rx,
                heads,
            }),
        })
    }

    /// Global position of the last committed event (0 when empty).
    pub fn head_position(&self) -> u64 {
        *self.inner.head.borrow()
    }

    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    fn write(&self, request: WriteRequest) -> Result<(), StoreError> {
        self.inner
            .writes
            .lock()
            .expect("write queue poisoned")
            .send(request)
            .map_err(|_| writer_stopped())
    }

    /// Runs `f` on a pooled read-only connection off the async runtime.
    async fn with_reader<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let inner = Arc::clone(&self.inner);
        tokio::task::spawn_blocking(move || {
            let pooled = inner.readers.lock().expect("reader pool poisoned").pop();
            let conn = match pooled {
                Some(conn) => conn,
                None => open_reader(&inner.path)?,
            };
            let result = f(&conn);
            inner
                .readers
                .lock()
                .expect("reader pool poisoned")
                .push(conn);
            result
        })
        .await
        .map_err(|e| StoreError::Unavailable(format!("reader task failed: {e}")))?
    }
}

/// Wakes subscribers when the writer's committed head moves past them.
struct HeadSignal(watch::Receiver<u64>);

#[async_trait]
impl AppendSignal for HeadSignal {
    async fn appended_after(&mut self, position: u64) -> bool {
        // Err: the writer (and so the store) is gone.
        self.0.wait_for(|head| *head > position).await.is_ok()
    }
}

#[async_trait]
impl AccessLog for SqliteEventStore {
    async fn record(&self, records: Vec<AccessRecord>) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let (request, acknowledged) = WriteRequest::access(records);
        self.write(request)?;
        acknowledged.wait().await
    }

    async fn query(
        &self,
        tenant: &TenantId,
        query: &AccessQuery,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<LoggedAccess>, StoreError> {
        let (tenant, query) = (tenant.clone(), query.clone());
        self.with_reader(move |conn| {
            schema::query_access(conn, &tenant, &query, after.unwrap_or(0), limit)
        })
        .await
    }
}

/// Snapshots are saved through the writer, so they never wait on
/// SQLite's lock against it, and read by the pooled readers.
#[async_trait]
impl SnapshotStore for SqliteEventStore {
    async fn load_snapshot(&self, stream: &StreamName) -> Result<Option<Snapshot>, StoreError> {
        let stream = stream.clone();
        self.with_reader(move |conn| snapshots::load(conn, &stream))
            .await
    }

    async fn save_snapshot(
        &self,
        stream: &StreamName,
        snapshot: Snapshot,
    ) -> Result<(), StoreError> {
        let (request, acknowledged) = WriteRequest::snapshot(stream.clone(), snapshot);
        self.write(request)?;
        acknowledged.wait().await
    }
}

fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(schema::unavailable)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(schema::unavailable)?;
    schema::configure_session(&conn)?;
    Ok(conn)
}

#[async_trait]
impl EventStore for SqliteEventStore {
    async fn append(
        &self,
        stream: &StreamName,
        expected: ExpectedRevision,
        events: Vec<NewEvent>,
    ) -> Result<AppendOutcome, StoreError> {
        if events.is_empty() {
            return Err(StoreError::EmptyAppend);
        }
        let (request, acknowledged) = WriteRequest::append(stream.clone(), expected, events);
        self.write(request)?;
        acknowledged.wait().await
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        direction: ReadDirection,
        from: Option<u64>,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        // A command catching its plan up asks for what follows the last
        // revision it holds, which is normally nothing: known here, that
        // answer costs no trip to a reader thread.
        if direction == ReadDirection::Forward
            && let Some(from) = from
            && self.inner.heads.ends_before(&stream.to_string(), from)
        {
            return Ok(Vec::new());
        }
        let stream = stream.clone();
        self.with_reader(move |conn| schema::read_stream(conn, &stream, direction, from, max_count))
            .await
    }

    async fn read_all(
        &self,
        after: Option<u64>,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.with_reader(move |conn| schema::read_all(conn, after.unwrap_or(0), max_count))
            .await
    }

    async fn subscribe_all(&self, after: Option<u64>) -> Result<SubscriptionStream, StoreError> {
        let store = self.clone();
        let read_page = move |position| -> PageFuture {
            let store = store.clone();
            Box::pin(async move { store.read_all(Some(position), SUBSCRIPTION_PAGE).await })
        };
        Ok(catch_up(
            after,
            read_page,
            HeadSignal(self.inner.head.clone()),
        ))
    }

    async fn stream_heads(&self, tenant: &TenantId) -> Result<Vec<StreamHead>, StoreError> {
        let tenant = tenant.clone();
        self.with_reader(move |conn| schema::stream_heads(conn, &tenant))
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.with_reader(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(schema::unavailable)
        })
        .await
    }

    /// Queues behind the appends and commits with them: the writer rewrites
    /// the one row of `write_probe`, so the answer is whether a commit
    /// reached the WAL and its fsync just now. (A rolled-back write would
    /// prove nothing: it never leaves the page cache, so a full disk or a
    /// failing fsync would not show.)
    async fn probe_write(&self) -> Result<(), StoreError> {
        let (request, acknowledged) = self.inner.probes.request().ok_or_else(probe_unanswered)?;
        self.write(request)?;
        acknowledged.wait().await
    }

    async fn last_position(&self) -> Result<Option<u64>, StoreError> {
        Ok(Some(self.head_position()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trellis_store_conformance::{fresh_tenant, plan_stream, sample_event};

    fn readers_opened(store: &SqliteEventStore) -> usize {
        store.inner.readers.lock().unwrap().len()
    }

    /// Catching a plan up after its own append asks for what follows its
    /// last revision: answered from the writer's committed heads, exactly,
    /// and without a reader.
    #[tokio::test]
    async fn a_read_past_a_written_stream_s_end_needs_no_reader() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteEventStore::open(dir.path().join("events.db")).unwrap();
        let stream = plan_stream(&fresh_tenant(), "a");
        let events = vec![sample_event(0), sample_event(1)];
        store
            .append(&stream, ExpectedRevision::NoStream, events)
            .await
            .unwrap();

        let past = store
            .read_stream(&stream, ReadDirection::Forward, Some(2), 10)
            .await
            .unwrap();
        assert!(past.is_empty());
        assert_eq!(readers_opened(&store), 0, "answered without a reader");

        let last = store
            .read_stream(&stream, ReadDirection::Forward, Some(1), 10)
            .await
            .unwrap();
        assert_eq!(last.len(), 1, "the last event itself is read");
        assert_eq!(last[0].revision, 1);
        assert_eq!(readers_opened(&store), 1);
    }

    /// Another process (here: another handle, its own connections) wrote
    /// the stream: the next group notices, checks against the file, and
    /// reads find the other's event.
    #[tokio::test]
    async fn a_write_by_another_connection_drops_the_heads() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let here = SqliteEventStore::open(&path).unwrap();
        let elsewhere = SqliteEventStore::open(&path).unwrap();
        let stream = plan_stream(&fresh_tenant(), "a");
        here.append(&stream, ExpectedRevision::NoStream, vec![sample_event(0)])
            .await
            .unwrap();
        elsewhere
            .append(&stream, ExpectedRevision::Exact(0), vec![sample_event(1)])
            .await
            .unwrap();

        let err = here
            .append(&stream, ExpectedRevision::Exact(0), vec![sample_event(2)])
            .await
            .unwrap_err();
        assert!(
            matches!(
                err,
                StoreError::WrongExpectedRevision {
                    actual: Some(1),
                    ..
                }
            ),
            "{err:?}"
        );
        let read = here
            .read_stream(&stream, ReadDirection::Forward, Some(1), 10)
            .await
            .unwrap();
        assert_eq!(read.len(), 1, "the other's event is read");
    }

    /// A stream this process never wrote to is read from the file.
    #[tokio::test]
    async fn a_stream_not_written_here_is_read_from_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let stream = plan_stream(&fresh_tenant(), "a");
        {
            let earlier = SqliteEventStore::open(&path).unwrap();
            earlier
                .append(&stream, ExpectedRevision::NoStream, vec![sample_event(0)])
                .await
                .unwrap();
        }
        let store = SqliteEventStore::open(&path).unwrap();
        let read = store
            .read_stream(&stream, ReadDirection::Forward, Some(0), 10)
            .await
            .unwrap();
        assert_eq!(read.len(), 1);
        let past = store
            .read_stream(&stream, ReadDirection::Forward, Some(1), 10)
            .await
            .unwrap();
        assert!(past.is_empty());
    }

    #[test]
    fn temporaries_stay_in_memory_not_in_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let writer = schema::open_writer(&path).unwrap();
        let reader = open_reader(&path).unwrap();
        for conn in [&writer, &reader] {
            let store: i64 = conn
                .pragma_query_value(None, "temp_store", |row| row.get(0))
                .unwrap();
            assert_eq!(store, 2, "MEMORY");
        }
    }

    /// A read reuses its cached statement as prepared: a new `LIMIT ?` or
    /// stream bound to it does not send SQLite back to the parser.
    #[test]
    fn a_cached_read_is_not_prepared_again_for_new_bindings() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("events.db");
        let _writer = schema::open_writer(&path).unwrap();
        let reader = open_reader(&path).unwrap();
        let sql = "SELECT revision FROM events WHERE stream = ?1 AND revision >= ?2 \
                   ORDER BY revision LIMIT ?3";
        for (stream, limit) in [("t:plan-a", 10), ("t:plan-b", 512), ("t:plan-c", 3)] {
            let mut stmt = reader.prepare_cached(sql).unwrap();
            let rows: Vec<i64> = stmt
                .query_map(rusqlite::params![stream, 0, limit], |row| row.get(0))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(rows.is_empty());
        }
        let stmt = reader.prepare_cached(sql).unwrap();
        assert_eq!(stmt.get_status(rusqlite::StatementStatus::RePrepare), 0);
    }
}
