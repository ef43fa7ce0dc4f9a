//! Tables, and the row-level reads and writes of the PostgreSQL store.

use chrono::DateTime;
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{PgConnection, Row};
use trellis_kernel::{
    AccessQuery, AccessRecord, Actor, EventHash, EventMetadata, LoggedAccess, ReadDirection,
    RecordedEvent, StoreError, StreamHead, StreamName, TenantId,
};
use uuid::Uuid;

use crate::error::unavailable;

/// Advisory lock key for migrations (one process migrates at a time).
const MIGRATION_LOCK: i64 = 0x7472_656c_6c69_0001;
/// Advisory lock key every append transaction takes: see the crate docs.
pub(crate) const APPEND_LOCK: i64 = 0x7472_656c_6c69_0002;
/// The channel the writer notifies on commit.
pub(crate) const CHANNEL: &str = "trellis_events";

const SCHEMA: &[&str] = &[
    "CREATE SEQUENCE IF NOT EXISTS trellis_global_position",
    "CREATE TABLE IF NOT EXISTS trellis_events (
        global_position BIGINT  PRIMARY KEY,
        event_id        BYTEA   NOT NULL UNIQUE,
        tenant          TEXT    NOT NULL,
        stream          TEXT    NOT NULL,
        revision        BIGINT  NOT NULL,
        event_type      TEXT    NOT NULL,
        schema_version  INTEGER NOT NULL,
        payload         BYTEA   NOT NULL,
        actor_subject   TEXT    NOT NULL,
        actor_role      TEXT    NOT NULL,
        correlation_id  BYTEA   NOT NULL,
        causation_id    BYTEA   NOT NULL,
        request_id      TEXT    NOT NULL,
        trace_id        TEXT    NOT NULL,
        span_id         TEXT    NOT NULL,
        reason          TEXT,
        recorded_at_us  BIGINT  NOT NULL,
        hash            BYTEA   NOT NULL,
        UNIQUE (stream, revision)
    )",
    "CREATE TABLE IF NOT EXISTS trellis_access_log (
        id          BIGSERIAL PRIMARY KEY,
        tenant      TEXT   NOT NULL,
        subject     TEXT   NOT NULL,
        role        TEXT   NOT NULL,
        plan_id     TEXT,
        operation   TEXT   NOT NULL,
        fields      TEXT   NOT NULL,
        api         TEXT   NOT NULL,
        address     TEXT   NOT NULL,
        request_id  TEXT   NOT NULL,
        at_us       BIGINT NOT NULL
    )",
    "CREATE INDEX IF NOT EXISTS trellis_access_by_plan ON trellis_access_log (tenant, plan_id, id)",
    "CREATE INDEX IF NOT EXISTS trellis_access_by_subject ON trellis_access_log (tenant, subject, id)",
    "CREATE TABLE IF NOT EXISTS trellis_write_probe (
        id        SMALLINT    PRIMARY KEY CHECK (id = 1),
        probed_at TIMESTAMPTZ NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS trellis_snapshots (
        stream          TEXT   PRIMARY KEY,
        revision        BIGINT NOT NULL,
        schema_version  BIGINT NOT NULL,
        payload         BYTEA  NOT NULL,
        saved_at_us     BIGINT NOT NULL
    )",
    "CREATE TABLE IF NOT EXISTS trellis_data_keys (
        tenant        TEXT   NOT NULL,
        key_id        BYTEA  NOT NULL,
        subject_tag   BYTEA  NOT NULL,
        kek_version   BIGINT NOT NULL,
        wrapped       BYTEA  NOT NULL,
        created_at_us BIGINT NOT NULL,
        erased_at_us  BIGINT,
        PRIMARY KEY (tenant, key_id),
        UNIQUE (tenant, subject_tag)
    )",
    // Databases that made the table before erasure existed.
    "ALTER TABLE trellis_data_keys ADD COLUMN IF NOT EXISTS erased_at_us BIGINT",
    "CREATE TABLE IF NOT EXISTS trellis_data_key_streams (
        tenant TEXT  NOT NULL,
        key_id BYTEA NOT NULL,
        stream TEXT  NOT NULL,
        PRIMARY KEY (tenant, stream)
    )",
    "CREATE INDEX IF NOT EXISTS trellis_data_key_streams_by_key
        ON trellis_data_key_streams (tenant, key_id)",
];

/// The event columns, as a literal so queries stay `&'static str` (sqlx
/// refuses SQL built at run time unless asserted safe).
macro_rules! columns {
    () => {
        "global_position, event_id, stream, revision, event_type, schema_version, payload, \
         actor_subject, actor_role, correlation_id, causation_id, request_id, trace_id, span_id, \
         reason, recorded_at_us, hash"
    };
}

pub(crate) async fn migrate(pool: &PgPool) -> Result<(), StoreError> {
    let mut tx = pool.begin().await.map_err(|e| unavailable(&e))?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(MIGRATION_LOCK)
        .execute(&mut *tx)
        .await
        .map_err(|e| unavailable(&e))?;
    for statement in SCHEMA {
        sqlx::query(*statement)
            .execute(&mut *tx)
            .await
            .map_err(|e| unavailable(&e))?;
    }
    tx.commit().await.map_err(|e| unavailable(&e))
}

pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

pub(crate) fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

pub(crate) fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("malformed {what}"))
}

pub(crate) fn decode_hash(bytes: &[u8]) -> Result<EventHash, StoreError> {
    <[u8; 32]>::try_from(bytes)
        .map(EventHash)
        .map_err(|_| corrupt("event hash"))
}

pub(crate) fn decode_uuid(bytes: &[u8]) -> Result<Uuid, StoreError> {
    Uuid::from_slice(bytes).map_err(|_| corrupt("uuid"))
}

fn decode_row(row: &PgRow) -> Result<RecordedEvent, StoreError> {
    let get = |e: sqlx::Error| unavailable(&e);
    let stream: String = row.try_get("stream").map_err(get)?;
    let recorded_at_us: i64 = row.try_get("recorded_at_us").map_err(get)?;
    let schema_version: i32 = row.try_get("schema_version").map_err(get)?;
    Ok(RecordedEvent {
        global_position: to_u64(row.try_get("global_position").map_err(get)?),
        event_id: decode_uuid(row.try_get("event_id").map_err(get)?)?,
        stream: StreamName::parse(&stream).map_err(|_| corrupt("stream name"))?,
        revision: to_u64(row.try_get("revision").map_err(get)?),
        event_type: row.try_get("event_type").map_err(get)?,
        schema_version: u32::try_from(schema_version).map_err(|_| corrupt("schema version"))?,
        payload: row.try_get("payload").map_err(get)?,
        metadata: EventMetadata {
            actor: Actor {
                subject: row.try_get("actor_subject").map_err(get)?,
                role: row.try_get("actor_role").map_err(get)?,
            },
            correlation_id: decode_uuid(row.try_get("correlation_id").map_err(get)?)?,
            causation_id: decode_uuid(row.try_get("causation_id").map_err(get)?)?,
            request_id: row.try_get("request_id").map_err(get)?,
            trace_id: row.try_get("trace_id").map_err(get)?,
            span_id: row.try_get("span_id").map_err(get)?,
            reason: row.try_get("reason").map_err(get)?,
        },
        recorded_at: DateTime::from_timestamp_micros(recorded_at_us)
            .ok_or_else(|| corrupt("timestamp"))?,
        hash: decode_hash(row.try_get("hash").map_err(get)?)?,
    })
}

pub(crate) async fn read_stream(
    pool: &PgPool,
    stream: &StreamName,
    direction: ReadDirection,
    from: Option<u64>,
    max_count: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let (sql, from) = match direction {
        ReadDirection::Forward => (
            concat!(
                "SELECT ",
                columns!(),
                " FROM trellis_events WHERE stream = $1 AND revision >= $2 \
                 ORDER BY revision ASC LIMIT $3"
            ),
            from.map_or(0, to_i64),
        ),
        ReadDirection::Backward => (
            concat!(
                "SELECT ",
                columns!(),
                " FROM trellis_events WHERE stream = $1 AND revision <= $2 \
                 ORDER BY revision DESC LIMIT $3"
            ),
            from.map_or(i64::MAX, to_i64),
        ),
    };
    let rows = sqlx::query(sql)
        .bind(stream.to_string())
        .bind(from)
        .bind(to_i64(max_count as u64))
        .fetch_all(pool)
        .await
        .map_err(|e| unavailable(&e))?;
    rows.iter().map(decode_row).collect()
}

pub(crate) async fn read_all(
    pool: &PgPool,
    after: u64,
    max_count: usize,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let rows = sqlx::query(concat!(
        "SELECT ",
        columns!(),
        " FROM trellis_events WHERE global_position > $1 \
         ORDER BY global_position ASC LIMIT $2"
    ))
    .bind(to_i64(after))
    .bind(to_i64(max_count as u64))
    .fetch_all(pool)
    .await
    .map_err(|e| unavailable(&e))?;
    rows.iter().map(decode_row).collect()
}

pub(crate) async fn stream_heads(
    pool: &PgPool,
    tenant: &TenantId,
) -> Result<Vec<StreamHead>, StoreError> {
    // Stream names begin with "<tenant>:", so a range covers the tenant.
    let rows = sqlx::query(
        "SELECT DISTINCT ON (stream) stream, revision, hash FROM trellis_events
         WHERE stream >= $1 AND stream < $2 ORDER BY stream, revision DESC",
    )
    .bind(format!("{tenant}:"))
    .bind(format!("{tenant};"))
    .fetch_all(pool)
    .await
    .map_err(|e| unavailable(&e))?;
    rows.iter()
        .map(|row| {
            let get = |e: sqlx::Error| unavailable(&e);
            let stream: String = row.try_get("stream").map_err(get)?;
            Ok(StreamHead {
                stream: StreamName::parse(&stream).map_err(|_| corrupt("stream name"))?,
                revision: to_u64(row.try_get("revision").map_err(get)?),
                hash: decode_hash(row.try_get("hash").map_err(get)?)?,
            })
        })
        .collect()
}

/// Rewrites the one row of `trellis_write_probe`: readiness's write, which
/// touches no event, position, chain or access record.
pub(crate) async fn touch_write_probe(conn: &mut PgConnection) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO trellis_write_probe (id, probed_at) VALUES (1, clock_timestamp())
            ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at",
    )
    .execute(&mut *conn)
    .await
    .map_err(|e| unavailable(&e))?;
    Ok(())
}

/// The position of the last committed event (0 when empty). Positions
/// count events, give or take the few a rolled-back group drew.
pub(crate) async fn last_position(pool: &PgPool) -> Result<u64, StoreError> {
    sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(global_position), 0) FROM trellis_events")
        .fetch_one(pool)
        .await
        .map(to_u64)
        .map_err(|e| unavailable(&e))
}

pub(crate) async fn query_access(
    pool: &PgPool,
    tenant: &TenantId,
    query: &AccessQuery,
    after: u64,
    limit: usize,
) -> Result<Vec<LoggedAccess>, StoreError> {
    const BY_PLAN: &str = "SELECT id, tenant, subject, role, plan_id, operation, fields, api, \
        address, request_id, at_us FROM trellis_access_log \
        WHERE tenant = $1 AND plan_id = $2 AND id > $3 ORDER BY id LIMIT $4";
    const BY_SUBJECT: &str = "SELECT id, tenant, subject, role, plan_id, operation, fields, api, \
        address, request_id, at_us FROM trellis_access_log \
        WHERE tenant = $1 AND subject = $2 AND id > $3 ORDER BY id LIMIT $4";
    let (sql, value) = match query {
        AccessQuery::Plan(plan) => (BY_PLAN, plan),
        AccessQuery::Subject(subject) => (BY_SUBJECT, subject),
    };
    let rows = sqlx::query(sql)
        .bind(tenant.as_str())
        .bind(value)
        .bind(to_i64(after))
        .bind(to_i64(limit as u64))
        .fetch_all(pool)
        .await
        .map_err(|e| unavailable(&e))?;
    rows.iter()
        .map(|row| {
            let get = |e: sqlx::Error| unavailable(&e);
            let tenant: String = row.try_get("tenant").map_err(get)?;
            let fields: String = row.try_get("fields").map_err(get)?;
            let at_us: i64 = row.try_get("at_us").map_err(get)?;
            Ok(LoggedAccess {
                id: to_u64(row.try_get("id").map_err(get)?),
                record: AccessRecord {
                    tenant: TenantId::parse(&tenant).map_err(|_| corrupt("access tenant"))?,
                    subject: row.try_get("subject").map_err(get)?,
                    role: row.try_get("role").map_err(get)?,
                    plan_id: row.try_get("plan_id").map_err(get)?,
                    operation: row.try_get("operation").map_err(get)?,
                    fields: serde_json::from_str(&fields).map_err(|_| corrupt("access fields"))?,
                    api: row.try_get("api").map_err(get)?,
                    address: row.try_get("address").map_err(get)?,
                    request_id: row.try_get("request_id").map_err(get)?,
                    at: DateTime::from_timestamp_micros(at_us)
                        .ok_or_else(|| corrupt("access time"))?,
                },
            })
        })
        .collect()
}
