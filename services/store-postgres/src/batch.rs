//! The statements of one writer group: a round trip per kind of work, not
//! per append. The heads of every stream the group touches and where each
//! of its event ids is stored are read in one query; its events are
//! written (and listeners notified) with one `INSERT … SELECT … FROM
//! UNNEST`, its access records with another. All of it runs inside the
//! group's locked transaction.

use std::collections::HashMap;

use sqlx::{PgConnection, Row};
use trellis_kernel::{AccessRecord, StoreError};

use crate::error::unavailable;
use crate::schema::{CHANNEL, corrupt, decode_hash, decode_uuid, to_i64, to_u64};
use crate::writer::plan::{Head, Row as EventRow, Stored};

/// What the group's appends are decided on, in one query: the head (last
/// revision and its hash) of each of `streams` that has events, one
/// backward index probe per stream; and where each of `event_ids` is
/// stored already. Streams and ids absent from the answer have none.
pub(crate) async fn read(
    conn: &mut PgConnection,
    streams: &[String],
    event_ids: &[&[u8]],
) -> Result<(HashMap<String, Head>, Vec<Stored>), StoreError> {
    let rows = sqlx::query(
        "SELECT s.stream, h.revision, h.hash, NULL::bytea AS event_id,
            NULL::bigint AS global_position
         FROM UNNEST($1::text[]) AS s(stream)
         CROSS JOIN LATERAL (
            SELECT revision, hash FROM trellis_events e
            WHERE e.stream = s.stream ORDER BY revision DESC LIMIT 1
         ) h
         UNION ALL
         SELECT stream, revision, NULL, event_id, global_position FROM trellis_events
         WHERE event_id = ANY($2::bytea[])",
    )
    .bind(streams)
    .bind(event_ids)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| unavailable(&e))?;
    let mut heads = HashMap::with_capacity(streams.len());
    let mut stored = Vec::new();
    for row in &rows {
        let get = |e: sqlx::Error| unavailable(&e);
        let stream: String = row.try_get("stream").map_err(get)?;
        let revision = to_u64(row.try_get("revision").map_err(get)?);
        match row.try_get::<Option<&[u8]>, _>("event_id").map_err(get)? {
            Some(event_id) => stored.push(Stored {
                event_id: decode_uuid(event_id)?,
                stream,
                revision,
                position: to_u64(row.try_get("global_position").map_err(get)?),
            }),
            None => {
                let hash = decode_hash(row.try_get("hash").map_err(get)?)?;
                heads.insert(stream, (revision, hash));
            }
        }
    }
    Ok((heads, stored))
}

/// Inserts `rows` in one statement, which also notifies listeners (on
/// commit) with the last position, and returns the global position of
/// each row, in the rows' order. Positions come from the sequence, drawn under
/// the append lock like every other append's, and are handed out in row
/// order (the n-th smallest drawn to the n-th row), so positions rise with
/// the group's order and with revisions within a stream. The rows' ids
/// were checked against the table under the same lock: a clash here is an
/// unexpected error and fails the group.
pub(crate) async fn insert_events(
    conn: &mut PgConnection,
    rows: &[EventRow<'_>],
) -> Result<Vec<u64>, StoreError> {
    let mut event_id = Vec::with_capacity(rows.len());
    let mut tenant = Vec::with_capacity(rows.len());
    let mut stream = Vec::with_capacity(rows.len());
    let mut revision = Vec::with_capacity(rows.len());
    let mut event_type = Vec::with_capacity(rows.len());
    let mut schema_version = Vec::with_capacity(rows.len());
    let mut payload = Vec::with_capacity(rows.len());
    let mut actor_subject = Vec::with_capacity(rows.len());
    let mut actor_role = Vec::with_capacity(rows.len());
    let mut correlation_id = Vec::with_capacity(rows.len());
    let mut causation_id = Vec::with_capacity(rows.len());
    let mut request_id = Vec::with_capacity(rows.len());
    let mut trace_id = Vec::with_capacity(rows.len());
    let mut span_id = Vec::with_capacity(rows.len());
    let mut reason = Vec::with_capacity(rows.len());
    let mut recorded_at_us = Vec::with_capacity(rows.len());
    let mut hash = Vec::with_capacity(rows.len());
    for row in rows {
        let (event, m) = (row.event, &row.event.metadata);
        event_id.push(event.event_id.as_bytes().as_slice());
        tenant.push(row.stream.tenant().as_str());
        stream.push(row.stream_text.as_str());
        revision.push(to_i64(row.revision));
        event_type.push(event.event_type.as_str());
        schema_version.push(i32::try_from(event.schema_version).unwrap_or(i32::MAX));
        payload.push(event.payload.as_slice());
        actor_subject.push(m.actor.subject.as_str());
        actor_role.push(m.actor.role.as_str());
        correlation_id.push(m.correlation_id.as_bytes().as_slice());
        causation_id.push(m.causation_id.as_bytes().as_slice());
        request_id.push(m.request_id.as_str());
        trace_id.push(m.trace_id.as_str());
        span_id.push(m.span_id.as_str());
        reason.push(m.reason.as_deref());
        recorded_at_us.push(row.recorded_at_us);
        hash.push(row.hash.0.as_slice());
    }
    let inserted = sqlx::query(
        "WITH drawn AS (
            SELECT nextval('trellis_global_position') AS global_position
            FROM generate_series(1, cardinality($1::bytea[]))
         ), numbered AS (
            SELECT global_position, row_number() OVER (ORDER BY global_position) AS ord
            FROM drawn
         ), inserted AS (
            INSERT INTO trellis_events (global_position, event_id, tenant, stream, revision,
                event_type, schema_version, payload, actor_subject, actor_role, correlation_id,
                causation_id, request_id, trace_id, span_id, reason, recorded_at_us, hash)
            SELECT n.global_position, r.event_id, r.tenant, r.stream, r.revision,
                r.event_type, r.schema_version, r.payload, r.actor_subject, r.actor_role,
                r.correlation_id, r.causation_id, r.request_id, r.trace_id, r.span_id,
                r.reason, r.recorded_at_us, r.hash
            FROM UNNEST($1::bytea[], $2::text[], $3::text[], $4::bigint[], $5::text[],
                $6::integer[], $7::bytea[], $8::text[], $9::text[], $10::bytea[],
                $11::bytea[], $12::text[], $13::text[], $14::text[], $15::text[],
                $16::bigint[], $17::bytea[])
                WITH ORDINALITY AS r(event_id, tenant, stream, revision, event_type,
                schema_version, payload, actor_subject, actor_role, correlation_id,
                causation_id, request_id, trace_id, span_id, reason, recorded_at_us, hash,
                ord)
            JOIN numbered n ON n.ord = r.ord
            RETURNING global_position, event_id
         ), notified AS (
            -- Delivered to listeners when (and only if) the group commits.
            SELECT pg_notify($18, max(global_position)::text) FROM inserted
         )
         SELECT global_position, event_id FROM inserted, notified",
    )
    .bind(event_id)
    .bind(tenant)
    .bind(stream)
    .bind(revision)
    .bind(event_type)
    .bind(schema_version)
    .bind(payload)
    .bind(actor_subject)
    .bind(actor_role)
    .bind(correlation_id)
    .bind(causation_id)
    .bind(request_id)
    .bind(trace_id)
    .bind(span_id)
    .bind(reason)
    .bind(recorded_at_us)
    .bind(hash)
    .bind(CHANNEL)
    .fetch_all(&mut *conn)
    .await
    .map_err(|e| unavailable(&e))?;
    positions_in_row_order(rows, &inserted)
}

/// Each row's position, by event id (unique within a group); refuses an
/// answer that misses a row or breaks the rising order.
fn positions_in_row_order(
    rows: &[EventRow<'_>],
    inserted: &[sqlx::postgres::PgRow],
) -> Result<Vec<u64>, StoreError> {
    let mut by_id = HashMap::with_capacity(inserted.len());
    for row in inserted {
        let get = |e: sqlx::Error| unavailable(&e);
        let id = decode_uuid(row.try_get("event_id").map_err(get)?)?;
        by_id.insert(id, to_u64(row.try_get("global_position").map_err(get)?));
    }
    let positions = rows
        .iter()
        .map(|row| by_id.get(&row.event.event_id).copied())
        .collect::<Option<Vec<u64>>>()
        .filter(|positions| positions.len() == inserted.len())
        .ok_or_else(|| corrupt("insert answer"))?;
    if positions.windows(2).any(|pair| pair[0] >= pair[1]) {
        return Err(corrupt("position order"));
    }
    Ok(positions)
}

/// One column of `records` for `UNNEST`.
fn column<'r, U>(records: &[&'r AccessRecord], value: impl Fn(&'r AccessRecord) -> U) -> Vec<U> {
    records.iter().map(|r| value(r)).collect()
}

/// Inserts every access record of the group, in order, in one statement.
pub(crate) async fn insert_access(
    conn: &mut PgConnection,
    records: &[&AccessRecord],
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO trellis_access_log (tenant, subject, role, plan_id, operation, fields, api,
            address, request_id, at_us)
         SELECT tenant, subject, role, plan_id, operation, fields, api, address, request_id, at_us
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
            $7::text[], $8::text[], $9::text[], $10::bigint[])
            WITH ORDINALITY AS a(tenant, subject, role, plan_id, operation, fields, api,
            address, request_id, at_us, ord)
         ORDER BY ord",
    )
    .bind(column(records, |r| r.tenant.as_str()))
    .bind(column(records, |r| r.subject.as_str()))
    .bind(column(records, |r| r.role.as_str()))
    .bind(column(records, |r| r.plan_id.as_deref()))
    .bind(column(records, |r| r.operation.as_str()))
    .bind(column(records, |r| {
        serde_json::to_string(&r.fields).expect("strings serialize")
    }))
    .bind(column(records, |r| r.api.as_str()))
    .bind(column(records, |r| r.address.as_str()))
    .bind(column(records, |r| r.request_id.as_str()))
    .bind(column(records, |r| r.at.timestamp_micros()))
    .execute(&mut *conn)
    .await
    .map_err(|e| unavailable(&e))?;
    Ok(())
}
