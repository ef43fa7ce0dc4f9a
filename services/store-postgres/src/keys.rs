//! The `trellis_data_keys` table: the key directory of a PostgreSQL
//! deployment, shared by every process of it. Rows are written and read
//! on the pool (never in the writer's locked transaction); a key is
//! issued by an insert that keeps the first row for a subject.

use chrono::DateTime;
use sqlx::Row;
use sqlx::postgres::{PgPool, PgRow};
use trellis_kernel::{DataKeyRecord, StoreError, TenantId, WrappedKey};
use uuid::Uuid;

use crate::error::unavailable;

macro_rules! key_columns {
    () => {
        "tenant, key_id, subject_tag, kek_version, wrapped, created_at_us, erased_at_us"
    };
}

fn malformed(what: &str) -> StoreError {
    StoreError::Corrupt(format!("malformed data key {what}"))
}

fn record(row: &PgRow) -> Result<DataKeyRecord, StoreError> {
    let get = |e: sqlx::Error| unavailable(&e);
    let tenant: String = row.try_get("tenant").map_err(get)?;
    let key_id: Vec<u8> = row.try_get("key_id").map_err(get)?;
    let tag: Vec<u8> = row.try_get("subject_tag").map_err(get)?;
    let version: i64 = row.try_get("kek_version").map_err(get)?;
    let created: i64 = row.try_get("created_at_us").map_err(get)?;
    let erased: Option<i64> = row.try_get("erased_at_us").map_err(get)?;
    Ok(DataKeyRecord {
        tenant: TenantId::parse(&tenant).map_err(|_| malformed("tenant"))?,
        key_id: Uuid::from_slice(&key_id).map_err(|_| malformed("key id"))?,
        subject_tag: tag.try_into().map_err(|_| malformed("subject tag"))?,
        wrapped: WrappedKey {
            kek_version: u32::try_from(version).map_err(|_| malformed("key version"))?,
            bytes: row.try_get("wrapped").map_err(get)?,
        },
        created_at: DateTime::from_timestamp_micros(created)
            .ok_or_else(|| malformed("creation time"))?,
        erased_at: erased
            .map(|us| DateTime::from_timestamp_micros(us).ok_or_else(|| malformed("erasure time")))
            .transpose()?,
    })
}

pub(crate) async fn subject_key(
    pool: &PgPool,
    tenant: &TenantId,
    tag: &[u8; 32],
) -> Result<Option<DataKeyRecord>, StoreError> {
    sqlx::query(concat!(
        "SELECT ",
        key_columns!(),
        " FROM trellis_data_keys WHERE tenant = $1 AND subject_tag = $2"
    ))
    .bind(tenant.as_str())
    .bind(tag.as_slice())
    .fetch_optional(pool)
    .await
    .map_err(|e| unavailable(&e))?
    .as_ref()
    .map(record)
    .transpose()
}

pub(crate) async fn key(
    pool: &PgPool,
    tenant: &TenantId,
    key_id: Uuid,
) -> Result<Option<DataKeyRecord>, StoreError> {
    sqlx::query(concat!(
        "SELECT ",
        key_columns!(),
        " FROM trellis_data_keys WHERE tenant = $1 AND key_id = $2"
    ))
    .bind(tenant.as_str())
    .bind(key_id.as_bytes().as_slice())
    .fetch_optional(pool)
    .await
    .map_err(|e| unavailable(&e))?
    .as_ref()
    .map(record)
    .transpose()
}

pub(crate) async fn issue(
    pool: &PgPool,
    record: &DataKeyRecord,
) -> Result<DataKeyRecord, StoreError> {
    sqlx::query(concat!(
        "INSERT INTO trellis_data_keys (",
        key_columns!(),
        ") VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING"
    ))
    .bind(record.tenant.as_str())
    .bind(record.key_id.as_bytes().as_slice())
    .bind(record.subject_tag.as_slice())
    .bind(i64::from(record.wrapped.kek_version))
    .bind(record.wrapped.bytes.as_slice())
    .bind(record.created_at.timestamp_micros())
    .bind(record.erased_at.map(|at| at.timestamp_micros()))
    .execute(pool)
    .await
    .map_err(|e| unavailable(&e))?;
    subject_key(pool, &record.tenant, &record.subject_tag)
        .await?
        .ok_or_else(|| StoreError::Corrupt("an issued data key was not kept".into()))
}

pub(crate) async fn keys(
    pool: &PgPool,
    tenant: &TenantId,
) -> Result<Vec<DataKeyRecord>, StoreError> {
    sqlx::query(concat!(
        "SELECT ",
        key_columns!(),
        " FROM trellis_data_keys WHERE tenant = $1 ORDER BY created_at_us"
    ))
    .bind(tenant.as_str())
    .fetch_all(pool)
    .await
    .map_err(|e| unavailable(&e))?
    .iter()
    .map(record)
    .collect()
}

pub(crate) async fn tenants(pool: &PgPool) -> Result<Vec<TenantId>, StoreError> {
    sqlx::query_scalar::<_, String>("SELECT DISTINCT tenant FROM trellis_data_keys ORDER BY tenant")
        .fetch_all(pool)
        .await
        .map_err(|e| unavailable(&e))?
        .iter()
        .map(|t| TenantId::parse(t).map_err(|_| malformed("tenant")))
        .collect()
}

pub(crate) async fn rewrap(
    pool: &PgPool,
    tenant: &TenantId,
    key_id: Uuid,
    from_version: u32,
    wrapped: &WrappedKey,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE trellis_data_keys SET kek_version = $1, wrapped = $2 \
         WHERE tenant = $3 AND key_id = $4 AND kek_version = $5 AND erased_at_us IS NULL",
    )
    .bind(i64::from(wrapped.kek_version))
    .bind(wrapped.bytes.as_slice())
    .bind(tenant.as_str())
    .bind(key_id.as_bytes().as_slice())
    .bind(i64::from(from_version))
    .execute(pool)
    .await
    .map_err(|e| unavailable(&e))?;
    Ok(done.rows_affected() == 1)
}

pub(crate) async fn bind_stream(
    pool: &PgPool,
    tenant: &TenantId,
    key_id: Uuid,
    stream: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO trellis_data_key_streams (tenant, key_id, stream) VALUES ($1, $2, $3) \
         ON CONFLICT DO NOTHING",
    )
    .bind(tenant.as_str())
    .bind(key_id.as_bytes().as_slice())
    .bind(stream)
    .execute(pool)
    .await
    .map(drop)
    .map_err(|e| unavailable(&e))
}

pub(crate) async fn streams(
    pool: &PgPool,
    tenant: &TenantId,
    key_id: Uuid,
) -> Result<Vec<String>, StoreError> {
    sqlx::query_scalar(
        "SELECT stream FROM trellis_data_key_streams WHERE tenant = $1 AND key_id = $2 \
         ORDER BY stream",
    )
    .bind(tenant.as_str())
    .bind(key_id.as_bytes().as_slice())
    .fetch_all(pool)
    .await
    .map_err(|e| unavailable(&e))
}

pub(crate) async fn erase(
    pool: &PgPool,
    tenant: &TenantId,
    key_id: Uuid,
    tombstone_tag: [u8; 32],
    at: DateTime<chrono::Utc>,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "UPDATE trellis_data_keys SET wrapped = ''::bytea, subject_tag = $1, erased_at_us = $2 \
         WHERE tenant = $3 AND key_id = $4 AND erased_at_us IS NULL",
    )
    .bind(tombstone_tag.as_slice())
    .bind(at.timestamp_micros())
    .bind(tenant.as_str())
    .bind(key_id.as_bytes().as_slice())
    .execute(pool)
    .await
    .map_err(|e| unavailable(&e))?;
    Ok(done.rows_affected() == 1)
}
