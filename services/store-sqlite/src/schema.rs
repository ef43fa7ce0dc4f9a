//! Table layout and the row-level reads and writes of the embedded store.

use std::path::Path;

use chrono::{DateTime, Utc};
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, Row, params};
use trellis_kernel::{
    AccessQuery, AccessRecord, Actor, ChainInput, EventHash, EventMetadata, LoggedAccess, NewEvent,
    ReadDirection, RecordedEvent, StoreError, StreamHead, StreamName, TenantId, chain_hash,
};
use uuid::Uuid;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
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
CREATE TABLE IF NOT EXISTS access_log (
    id          INTEGER PRIMARY KEY,
    tenant      TEXT    NOT NULL,
    subject     TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    plan_id     TEXT,
    operation   TEXT    NOT NULL,
    fields      TEXT    NOT NULL,
    api         TEXT    NOT NULL,
    address     TEXT    NOT NULL,
    request_id  TEXT    NOT NULL,
    at_us       INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS access_by_plan ON access_log (tenant, plan_id, id);
CREATE INDEX IF NOT EXISTS access_by_subject ON access_log (tenant, subject, id);
CREATE TABLE IF NOT EXISTS write_probe (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    probed_at_us INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS snapshots (
    stream          TEXT    PRIMARY KEY,
    revision        INTEGER NOT NULL,
    schema_version  INTEGER NOT NULL,
    payload         BLOB    NOT NULL,
    saved_at_us     INTEGER NOT NULL
) STRICT;
";

const COLUMNS: &str = "global_position, event_id, stream, revision, event_type, schema_version, \
     payload, actor_subject, actor_role, correlation_id, causation_id, request_id, trace_id, \
     span_id, reason, recorded_at_us, hash";

pub(crate) fn unavailable(e: rusqlite::Error) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// The writer's own automatic checkpoint (pages in the WAL): the bound on
/// the WAL, 64 MiB of 4 KiB pages, which lets it start over under steady
/// writes (`checkpoint.rs` says why).
const WRITER_AUTOCHECKPOINT_PAGES: i64 = 16_384;

pub(crate) fn open_writer(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open(path).map_err(unavailable)?;
    // WAL lets readers run beside the writer; synchronous=FULL fsyncs the
    // WAL on every commit, so an acknowledged append survives power loss.
    conn.pragma_update(None, "journal_mode", "WAL")
        .map_err(unavailable)?;
    conn.pragma_update(None, "synchronous", "FULL")
        .map_err(unavailable)?;
    // Checkpoints run on a thread of their own (`checkpoint.rs`); the
    // writer's own is the bound on the WAL.
    conn.pragma_update(None, "wal_autocheckpoint", WRITER_AUTOCHECKPOINT_PAGES)
        .map_err(unavailable)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(unavailable)?;
    // Keep the hot index pages of a large store in memory.
    conn.pragma_update(None, "cache_size", -65_536)
        .map_err(unavailable)?;
    configure_session(&conn)?;
    conn.execute_batch(SCHEMA).map_err(unavailable)?;
    Ok(conn)
}

/// What every connection to a store file is set to:
/// - Sorts and temporary tables stay in memory: SQLite would otherwise put
///   them, PHI included, in files under /tmp, outside the data directory's
///   0700.
/// - A cached statement keeps its plan whatever is bound to it (the query
///   planner stability guarantee). Since SQLite 3.54 a bound `LIMIT ?`
///   otherwise marks a statement for a full re-prepare on every new
///   binding, and the statement cache clears bindings on each reuse: every
///   stream read parsed its SQL again (9 % of the server's CPU under W2).
pub(crate) fn configure_session(conn: &Connection) -> Result<(), StoreError> {
    conn.pragma_update(None, "temp_store", "MEMORY")
        .map_err(unavailable)?;
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
        .map(drop)
        .map_err(unavailable)
}

/// Rewrites the one row of `write_probe`: readiness's write, which touches
/// no event, position, chain or access record.
pub(crate) fn touch_write_probe(conn: &Connection) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO write_probe (id, probed_at_us) VALUES (1, ?1) \
         ON CONFLICT (id) DO UPDATE SET probed_at_us = excluded.probed_at_us",
    )
    .and_then(|mut stmt| stmt.execute([Utc::now().timestamp_micros()]))
    .map(|_| ())
    .map_err(unavailable)
}

pub(crate) fn head_position(conn: &Connection) -> Result<u64, StoreError> {
    conn.query_row(
        "SELECT COALESCE(MAX(global_position), 0) FROM events",
        [],
        |row| row.get::<_, i64>(0),
    )
    .map(to_u64)
    .map_err(unavailable)
}

/// The last revision of a stream and its hash.
pub(crate) fn stream_head(
    conn: &Connection,
    stream: &str,
) -> Result<Option<(u64, EventHash)>, StoreError> {
    conn.prepare_cached(
        "SELECT revision, hash FROM events WHERE stream = ?1 ORDER BY revision DESC LIMIT 1",
    )
    .and_then(|mut stmt| {
        stmt.query_row([stream], |row| {
            Ok((to_u64(row.get(0)?), row.get::<_, Vec<u8>>(1)?))
        })
        .optional()
    })
    .map_err(unavailable)?
    .map(|(revision, hash)| Ok((revision, decode_hash(&hash)?)))
    .transpose()
}

fn decode_hash(bytes: &[u8]) -> Result<EventHash, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(EventHash)
        .map_err(|_| StoreError::Corrupt("malformed event hash".into()))
}

/// Heads of every stream of a tenant. Stream names begin with
/// `<tenant>:`, so the range scan uses the (stream, revision) index.
pub(crate) fn stream_heads(
    conn: &Connection,
    tenant: &TenantId,
) -> Result<Vec<StreamHead>, StoreError> {
    let from = format!("{tenant}:");
    let to = format!("{tenant};");
    let mut stmt = conn
        .prepare_cached(
            "SELECT stream, MAX(revision), hash FROM events
             WHERE stream >= ?1 AND stream < ?2 GROUP BY stream ORDER BY stream",
        )
        .map_err(unavailable)?;
    let rows = stmt
        .query_map(params![from, to], |row| {
            Ok((
                row.get::<_, String>(0)?,
                to_u64(row.get(1)?),
                row.get::<_, Vec<u8>>(2)?,
            ))
        })
        .map_err(unavailable)?;
    let mut heads = Vec::new();
    for row in rows {
        let (stream, revision, hash) = row.map_err(unavailable)?;
        heads.push(StreamHead {
            stream: StreamName::parse(&stream)
                .map_err(|_| StoreError::Corrupt("malformed stream name".into()))?,
            revision,
            hash: decode_hash(&hash)?,
        });
    }
    Ok(heads)
}

pub(crate) fn insert_access(conn: &Connection, record: &AccessRecord) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT INTO access_log (tenant, subject, role, plan_id, operation, fields, api, address, \
         request_id, at_us) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            record.tenant.as_str(),
            record.subject,
            record.role,
            record.plan_id,
            record.operation,
            serde_json::to_string(&record.fields).expect("strings serialize"),
            record.api,
            record.address,
            record.request_id,
            record.at.timestamp_micros(),
        ])
    })
    .map_err(unavailable)?;
    Ok(())
}

pub(crate) fn query_access(
    conn: &Connection,
    tenant: &TenantId,
    query: &AccessQuery,
    after: u64,
    limit: usize,
) -> Result<Vec<LoggedAccess>, StoreError> {
    let (column, value) = match query {
        AccessQuery::Plan(plan) => ("plan_id", plan),
        AccessQuery::Subject(subject) => ("subject", subject),
    };
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT id, tenant, subject, role, plan_id, operation, fields, api, address, request_id, at_us
             FROM access_log WHERE tenant = ?1 AND {column} = ?2 AND id > ?3 ORDER BY id LIMIT ?4"
        ))
        .map_err(unavailable)?;
    let rows = stmt
        .query_map(
            params![tenant.as_str(), value, to_i64(after), to_i64(limit as u64)],
            |row| {
                Ok((
                    to_u64(row.get(0)?),
                    row.get::<_, String>(1)?,
                    row.get::<_, String>(2)?,
                    row.get::<_, String>(3)?,
                    row.get::<_, Option<String>>(4)?,
                    row.get::<_, String>(5)?,
                    row.get::<_, String>(6)?,
                    row.get::<_, String>(7)?,
                    row.get::<_, String>(8)?,
                    row.get::<_, String>(9)?,
                    row.get::<_, i64>(10)?,
                ))
            },
        )
        .map_err(unavailable)?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("malformed access record {what}"));
    let mut out = Vec::new();
    for row in rows {
        let (
            id,
            tenant,
            subject,
            role,
            plan_id,
            operation,
            fields,
            api,
            address,
            request_id,
            at_us,
        ) = row.map_err(unavailable)?;
        out.push(LoggedAccess {
            id,
            record: AccessRecord {
                tenant: TenantId::parse(&tenant).map_err(|_| corrupt("tenant"))?,
                subject,
                role,
                plan_id,
                operation,
                fields: serde_json::from_str(&fields).map_err(|_| corrupt("fields"))?,
                api,
                address,
                request_id,
                at: DateTime::from_timestamp_micros(at_us).ok_or_else(|| corrupt("time"))?,
            },
        });
    }
    Ok(out)
}

/// Where an event id is stored, if it is.
pub(crate) fn locate_event(
    conn: &Connection,
    event_id: Uuid,
) -> Result<Option<(String, u64, u64)>, StoreError> {
    conn.prepare_cached("SELECT stream, revision, global_position FROM events WHERE event_id = ?1")
        .and_then(|mut stmt| {
            stmt.query_row([event_id.as_bytes().as_slice()], |row| {
                Ok((row.get(0)?, to_u64(row.get(1)?), to_u64(row.get(2)?)))
            })
            .optional()
        })
        .map_err(unavailable)
}

pub(crate) enum InsertError {
    /// The event id is stored already (anywhere).
    DuplicateEventId,
    Store(StoreError),
}

/// Inserts one event chained to `previous`; returns its global position
/// and hash.
pub(crate) fn insert_event(
    conn: &Connection,
    stream: &StreamName,
    stream_text: &str,
    revision: u64,
    event: &NewEvent,
    recorded_at: DateTime<Utc>,
    previous: &EventHash,
) -> Result<(u64, EventHash), InsertError> {
    let m = &event.metadata;
    let recorded_at_us = recorded_at.timestamp_micros();
    let hash = chain_hash(
        previous,
        &ChainInput::new_event(stream, revision, event, recorded_at_us),
    );
    conn.prepare_cached(
        "INSERT INTO events (event_id, tenant, stream, revision, event_type, schema_version, \
         payload, actor_subject, actor_role, correlation_id, causation_id, request_id, trace_id, \
         span_id, reason, recorded_at_us, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17)",
    )
    .and_then(|mut stmt| {
        stmt.execute(params![
            event.event_id.as_bytes().as_slice(),
            stream.tenant().as_str(),
            stream_text,
            to_i64(revision),
            event.event_type,
            event.schema_version,
            event.payload,
            m.actor.subject,
            m.actor.role,
            m.correlation_id.as_bytes().as_slice(),
            m.causation_id.as_bytes().as_slice(),
            m.request_id,
            m.trace_id,
            m.span_id,
            m.reason,
            recorded_at_us,
            hash.0.as_slice(),
        ])
    })
    .map_err(|e| match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => InsertError::DuplicateEventId,
        _ => InsertError::Store(unavailable(e)),
    })?;
    Ok((to_u64(conn.last_insert_rowid()), hash))
}

pub(crate) fn read_stream(
    conn: &Connection,
    stream: &StreamName,
    direction: ReadDirection,
    from: Option<u64>,
    max_count: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let (sql, from) = match direction {
        ReadDirection::Forward => (
            format!(
                "SELECT {COLUMNS} FROM events WHERE stream = ?1 AND revision >= ?2 \
                 ORDER BY revision ASC LIMIT ?3"
            ),
            from.map_or(0, to_i64),
        ),
        ReadDirection::Backward => (
            format!(
                "SELECT {COLUMNS} FROM events WHERE stream = ?1 AND revision <= ?2 \
                 ORDER BY revision DESC LIMIT ?3"
            ),
            from.map_or(i64::MAX, to_i64),
        ),
    };
    let mut stmt = conn.prepare_cached(&sql).map_err(unavailable)?;
    let rows = stmt
        .query_map(
            params![stream.to_string(), from, to_i64(max_count as u64)],
            decode_row,
        )
        .map_err(unavailable)?;
    collect(rows)
}

pub(crate) fn read_all(
    conn: &Connection,
    after: u64,
    max_count: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut stmt = conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM events WHERE global_position > ?1 \
             ORDER BY global_position ASC LIMIT ?2"
        ))
        .map_err(unavailable)?;
    let rows = stmt
        .query_map(params![to_i64(after), to_i64(max_count as u64)], decode_row)
        .map_err(unavailable)?;
    collect(rows)
}

fn collect(
    rows: impl Iterator<Item = rusqlite::Result<Result<RecordedEvent, StoreError>>>,
) -> Result<Vec<RecordedEvent>, StoreError> {
    rows.map(|row| row.map_err(unavailable)?).collect()
}

/// Row → event. Malformed stored values surface as `Corrupt`, never a panic.
fn decode_row(row: &Row<'_>) -> rusqlite::Result<Result<RecordedEvent, StoreError>> {
    let uuid = |i: usize| -> rusqlite::Result<Result<Uuid, StoreError>> {
        let bytes: Vec<u8> = row.get(i)?;
        Ok(Uuid::from_slice(&bytes).map_err(|_| StoreError::Corrupt("malformed uuid".into())))
    };
    let stream: String = row.get(2)?;
    let recorded_at_us: i64 = row.get(15)?;
    let decoded = (|| {
        Ok(RecordedEvent {
            global_position: to_u64(row.get(0)?),
            event_id: uuid(1)??,
            stream: StreamName::parse(&stream)
                .map_err(|_| StoreError::Corrupt("malformed stream name".into()))?,
            revision: to_u64(row.get(3)?),
            event_type: row.get(4)?,
            schema_version: row.get(5)?,
            payload: row.get(6)?,
            metadata: EventMetadata {
                actor: Actor {
                    subject: row.get(7)?,
                    role: row.get(8)?,
                },
                correlation_id: uuid(9)??,
                causation_id: uuid(10)??,
                request_id: row.get(11)?,
                trace_id: row.get(12)?,
                span_id: row.get(13)?,
                reason: row.get(14)?,
            },
            recorded_at: DateTime::from_timestamp_micros(recorded_at_us)
                .ok_or_else(|| StoreError::Corrupt("malformed timestamp".into()))?,
            hash: decode_hash(&row.get::<_, Vec<u8>>(16)?)?,
        })
    })();
    match decoded {
        Ok(event) => Ok(Ok(event)),
        Err(DecodeError::Sql(e)) => Err(e),
        Err(DecodeError::Store(e)) => Ok(Err(e)),
    }
}

enum DecodeError {
    Sql(rusqlite::Error),
    Store(StoreError),
}

impl From<rusqlite::Error> for DecodeError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sql(e)
    }
}

impl From<StoreError> for DecodeError {
    fn from(e: StoreError) -> Self {
        Self::Store(e)
    }
}

/// SQLite integers are signed; positions and revisions never exceed i64::MAX.
fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
