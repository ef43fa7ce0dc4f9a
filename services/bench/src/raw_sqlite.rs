//! The baseline W1 is measured against: the least a durable SQLite event
//! log can do. One plain rusqlite writer thread owns the connection (WAL,
//! `synchronous=FULL`) and commits whatever appends are waiting in one
//! transaction, as Trellis's store does, on a table of the same shape
//! (same columns, the same unique indexes on the event id and on stream
//! and revision). Each append still checks its expected revision. What it
//! leaves out is what Trellis adds: the envelope, the hash chain, the
//! retry recognition, the access log and the probes sharing the writer.

use std::path::{Path, PathBuf};
use std::sync::mpsc;

use rusqlite::{Connection, params};
use tokio::sync::oneshot;
use uuid::Uuid;

/// Appends committed together at most (as Trellis's default).
const MAX_GROUP: usize = 1024;

const SCHEMA: &str = "
CREATE TABLE events (
    global_position INTEGER PRIMARY KEY,
    event_id        BLOB    NOT NULL UNIQUE,
    tenant          TEXT    NOT NULL,
    stream          TEXT    NOT NULL,
    revision        INTEGER NOT NULL,
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    payload         BLOB    NOT NULL,
    actor_subject   TEXT    NOT NULL,
    actor_role      TEXT    NOT NULL,
    correlation_id  BLOB    NOT NULL,
    causation_id    BLOB    NOT NULL,
    request_id      TEXT    NOT NULL,
    trace_id        TEXT    NOT NULL,
    span_id         TEXT    NOT NULL,
    reason          TEXT,
    recorded_at_us  INTEGER NOT NULL,
    hash            BLOB    NOT NULL,
    UNIQUE (stream, revision)
) STRICT;
";

/// One append of one event, answered once durable.
#[derive(Debug)]
struct Append {
    stream: String,
    revision: u64,
    event_id: Uuid,
    payload: Vec<u8>,
    done: oneshot::Sender<Result<(), String>>,
}

/// A handle to the writer thread; the thread ends when every handle is
/// dropped.
#[derive(Debug, Clone)]
pub(crate) struct RawLog {
    requests: mpsc::Sender<Append>,
    path: PathBuf,
}

impl RawLog {
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        let (requests, receiver) = mpsc::channel();
        std::thread::Builder::new()
            .name("raw-sqlite-writer".into())
            .spawn(move || write_groups(conn, &receiver))?;
        Ok(Self {
            requests,
            path: path.to_owned(),
        })
    }

    /// Appends one event at `revision` of `stream` (the stream's length
    /// before it); refused if the stream is not that long.
    pub async fn append(
        &self,
        stream: &str,
        revision: u64,
        event_id: Uuid,
        payload: Vec<u8>,
    ) -> Result<(), String> {
        let (done, answer) = oneshot::channel();
        self.requests
            .send(Append {
                stream: stream.to_owned(),
                revision,
                event_id,
                payload,
                done,
            })
            .map_err(|_| "the writer stopped".to_owned())?;
        answer.await.map_err(|_| "the writer stopped".to_owned())?
    }

    /// Every stored revision of `stream`, in order.
    pub fn revisions(&self, stream: &str) -> anyhow::Result<Vec<u64>> {
        let conn = Connection::open(&self.path)?;
        let mut statement =
            conn.prepare("SELECT revision FROM events WHERE stream = ?1 ORDER BY revision")?;
        let rows = statement.query_map([stream], |row| row.get::<_, i64>(0))?;
        Ok(rows
            .map(|r| r.map(|v| u64::try_from(v).unwrap_or(u64::MAX)))
            .collect::<Result<_, _>>()?)
    }
}

fn write_groups(mut conn: Connection, receiver: &mpsc::Receiver<Append>) {
    while let Ok(first) = receiver.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match receiver.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        match commit(&mut conn, &group) {
            Ok(answers) => {
                for (append, answer) in group.into_iter().zip(answers) {
                    let _ = append.done.send(answer);
                }
            }
            Err(e) => {
                for append in group {
                    let _ = append.done.send(Err(e.to_string()));
                }
            }
        }
    }
}

fn commit(conn: &mut Connection, group: &[Append]) -> rusqlite::Result<Vec<Result<(), String>>> {
    let tx = conn.transaction()?;
    let mut answers = Vec::with_capacity(group.len());
    {
        let mut head = tx.prepare_cached("SELECT max(revision) FROM events WHERE stream = ?1")?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO events (event_id, tenant, stream, revision, event_type, \
             schema_version, payload, actor_subject, actor_role, correlation_id, causation_id, \
             request_id, trace_id, span_id, reason, recorded_at_us, hash) \
             VALUES (?1, 'bench', ?2, ?3, 'GoalAdded', 1, ?4, 'bench', 'clinician', ?5, ?5, '', \
             '', '', NULL, ?6, ?7)",
        )?;
        let nil = Uuid::nil();
        let no_hash = [0u8; 32];
        for append in group {
            let last: Option<i64> = head.query_row([&append.stream], |row| row.get(0))?;
            let length = last.map_or(0, |r| r + 1);
            if u64::try_from(length).ok() != Some(append.revision) {
                answers.push(Err(format!(
                    "expected revision {}, stream has {length} events",
                    append.revision
                )));
                continue;
            }
            insert.execute(params![
                append.event_id.as_bytes().as_slice(),
                append.stream,
                length,
                append.payload,
                nil.as_bytes().as_slice(),
                chrono::Utc::now().timestamp_micros(),
                no_hash.as_slice(),
            ])?;
            answers.push(Ok(()));
        }
    }
    tx.commit()?;
    Ok(answers)
}
