//! The embedded key directory: wrapped data keys in a small file of their
//! own (`keys.db`), not in the event store's WAL. A rollback journal and
//! `secure_delete` mean a key removed from it is overwritten in place,
//! not left behind in WAL frames or free pages of the event file.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, Row, params};
use trellis_kernel::{DataKeyRecord, KeyDirectory, StoreError, TenantId, WrappedKey};
use uuid::Uuid;

use crate::schema::{configure_session, unavailable};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS data_keys (
    tenant        TEXT    NOT NULL,
    key_id        BLOB    NOT NULL,
    subject_tag   BLOB    NOT NULL,
    kek_version   INTEGER NOT NULL,
    wrapped       BLOB    NOT NULL,
    created_at_us INTEGER NOT NULL,
    erased_at_us  INTEGER,
    PRIMARY KEY (tenant, key_id),
    UNIQUE (tenant, subject_tag)
) STRICT;
CREATE TABLE IF NOT EXISTS data_key_streams (
    tenant TEXT NOT NULL,
    key_id BLOB NOT NULL,
    stream TEXT NOT NULL,
    PRIMARY KEY (tenant, stream)
) STRICT;
CREATE INDEX IF NOT EXISTS data_key_streams_by_key ON data_key_streams (tenant, key_id);
";

const COLUMNS: &str =
    "tenant, key_id, subject_tag, kek_version, wrapped, created_at_us, erased_at_us";

/// Cloneable handle to one key directory file.
#[derive(Debug, Clone)]
pub struct SqliteKeyDirectory {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteKeyDirectory {
    /// Opens (creating if needed) the directory file at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let conn = Connection::open(path.as_ref()).map_err(unavailable)?;
        conn.pragma_update(None, "journal_mode", "DELETE")
            .map_err(unavailable)?;
        conn.pragma_update(None, "synchronous", "FULL")
            .map_err(unavailable)?;
        conn.pragma_update(None, "secure_delete", "ON")
            .map_err(unavailable)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(unavailable)?;
        configure_session(&conn)?;
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || f(&conn.lock().unwrap_or_else(|p| p.into_inner())))
            .await
            .map_err(|e| StoreError::Unavailable(format!("key directory task failed: {e}")))?
    }
}

fn malformed(what: &str) -> StoreError {
    StoreError::Corrupt(format!("malformed data key {what}"))
}

fn record(row: &Row<'_>) -> rusqlite::Result<Result<DataKeyRecord, StoreError>> {
    let tenant: String = row.get(0)?;
    let key_id: Vec<u8> = row.get(1)?;
    let tag: Vec<u8> = row.get(2)?;
    let version: i64 = row.get(3)?;
    let wrapped: Vec<u8> = row.get(4)?;
    let created: i64 = row.get(5)?;
    let erased: Option<i64> = row.get(6)?;
    Ok((|| {
        Ok(DataKeyRecord {
            tenant: TenantId::parse(&tenant).map_err(|_| malformed("tenant"))?,
            key_id: Uuid::from_slice(&key_id).map_err(|_| malformed("key id"))?,
            subject_tag: tag.try_into().map_err(|_| malformed("subject tag"))?,
            wrapped: WrappedKey {
                kek_version: u32::try_from(version).map_err(|_| malformed("key version"))?,
                bytes: wrapped,
            },
            created_at: DateTime::<Utc>::from_timestamp_micros(created)
                .ok_or_else(|| malformed("creation time"))?,
            erased_at: erased
                .map(|us| {
                    DateTime::<Utc>::from_timestamp_micros(us)
                        .ok_or_else(|| malformed("erasure time"))
                })
                .transpose()?,
        })
    })())
}

fn one(
    conn: &Connection,
    condition: &str,
    params: impl rusqlite::Params,
) -> Result<Option<DataKeyRecord>, StoreError> {
    conn.query_row(
        &format!("SELECT {COLUMNS} FROM data_keys WHERE {condition}"),
        params,
        record,
    )
    .optional()
    .map_err(unavailable)?
    .transpose()
}

#[async_trait]
impl KeyDirectory for SqliteKeyDirectory {
    async fn subject_key(
        &self,
        tenant: &TenantId,
        subject_tag: &[u8; 32],
    ) -> Result<Option<DataKeyRecord>, StoreError> {
        let (tenant, tag) = (tenant.as_str().to_owned(), subject_tag.to_vec());
        self.with(move |conn| {
            one(
                conn,
                "tenant = ?1 AND subject_tag = ?2",
                params![tenant, tag],
            )
        })
        .await
    }

    async fn key(
        &self,
        tenant: &TenantId,
        key_id: Uuid,
    ) -> Result<Option<DataKeyRecord>, StoreError> {
        let tenant = tenant.as_str().to_owned();
        self.with(move |conn| {
            one(
                conn,
                "tenant = ?1 AND key_id = ?2",
                params![tenant, key_id.as_bytes().to_vec()],
            )
        })
        .await
    }

    async fn issue(&self, record: DataKeyRecord) -> Result<DataKeyRecord, StoreError> {
        self.with(move |conn| {
            conn.execute(
                &format!(
                    "INSERT INTO data_keys ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
                     ON CONFLICT DO NOTHING"
                ),
                params![
                    record.tenant.as_str(),
                    record.key_id.as_bytes().to_vec(),
                    record.subject_tag.to_vec(),
                    i64::from(record.wrapped.kek_version),
                    record.wrapped.bytes,
                    record.created_at.timestamp_micros(),
                    record.erased_at.map(|at| at.timestamp_micros()),
                ],
            )
            .map_err(unavailable)?;
            one(
                conn,
                "tenant = ?1 AND subject_tag = ?2",
                params![record.tenant.as_str(), record.subject_tag.to_vec()],
            )?
            .ok_or_else(|| StoreError::Corrupt("an issued data key was not kept".into()))
        })
        .await
    }

    async fn keys(&self, tenant: &TenantId) -> Result<Vec<DataKeyRecord>, StoreError> {
        let tenant = tenant.as_str().to_owned();
        self.with(move |conn| {
            let mut statement = conn
                .prepare(&format!(
                    "SELECT {COLUMNS} FROM data_keys WHERE tenant = ?1 ORDER BY created_at_us"
                ))
                .map_err(unavailable)?;
            let rows = statement
                .query_map(params![tenant], record)
                .map_err(unavailable)?;
            rows.map(|row| row.map_err(unavailable)?).collect()
        })
        .await
    }

    async fn tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        self.with(|conn| {
            let mut statement = conn
                .prepare("SELECT DISTINCT tenant FROM data_keys ORDER BY tenant")
                .map_err(unavailable)?;
            let rows = statement
                .query_map([], |row| row.get::<_, String>(0))
                .map_err(unavailable)?;
            rows.map(|row| {
                TenantId::parse(&row.map_err(unavailable)?).map_err(|_| malformed("tenant"))
            })
            .collect()
        })
        .await
    }

    async fn rewrap(
        &self,
        tenant: &TenantId,
        key_id: Uuid,
        from_version: u32,
        wrapped: WrappedKey,
    ) -> Result<bool, StoreError> {
        let tenant = tenant.as_str().to_owned();
        self.with(move |conn| {
            let changed = conn
                .execute(
                    "UPDATE data_keys SET kek_version = ?1, wrapped = ?2 \
                     WHERE tenant = ?3 AND key_id = ?4 AND kek_version = ?5 \
                       AND erased_at_us IS NULL",
                    params![
                        i64::from(wrapped.kek_version),
                        wrapped.bytes,
                        tenant,
                        key_id.as_bytes().to_vec(),
                        i64::from(from_version),
                    ],
                )
                .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }

    async fn bind_stream(
        &self,
        tenant: &TenantId,
        key_id: Uuid,
        stream: &str,
    ) -> Result<(), StoreError> {
        let (tenant, stream) = (tenant.as_str().to_owned(), stream.to_owned());
        self.with(move |conn| {
            conn.execute(
                "INSERT INTO data_key_streams (tenant, key_id, stream) VALUES (?1, ?2, ?3) \
                 ON CONFLICT DO NOTHING",
                params![tenant, key_id.as_bytes().to_vec(), stream],
            )
            .map(drop)
            .map_err(unavailable)
        })
        .await
    }

    async fn streams(&self, tenant: &TenantId, key_id: Uuid) -> Result<Vec<String>, StoreError> {
        let tenant = tenant.as_str().to_owned();
        self.with(move |conn| {
            let mut statement = conn
                .prepare(
                    "SELECT stream FROM data_key_streams WHERE tenant = ?1 AND key_id = ?2 \
                     ORDER BY stream",
                )
                .map_err(unavailable)?;
            let rows = statement
                .query_map(params![tenant, key_id.as_bytes().to_vec()], |row| {
                    row.get(0)
                })
                .map_err(unavailable)?;
            rows.collect::<Result<Vec<String>, _>>()
                .map_err(unavailable)
        })
        .await
    }

    async fn erase(
        &self,
        tenant: &TenantId,
        key_id: Uuid,
        tombstone_tag: [u8; 32],
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let tenant = tenant.as_str().to_owned();
        self.with(move |conn| {
            // secure_delete overwrites the old row's bytes in place; the
            // rollback journal that held them is deleted at commit.
            let changed = conn
                .execute(
                    "UPDATE data_keys SET wrapped = X'', subject_tag = ?1, erased_at_us = ?2 \
                     WHERE tenant = ?3 AND key_id = ?4 AND erased_at_us IS NULL",
                    params![
                        tombstone_tag.to_vec(),
                        at.timestamp_micros(),
                        tenant,
                        key_id.as_bytes().to_vec()
                    ],
                )
                .map_err(unavailable)?;
            Ok(changed == 1)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_file_keeps_what_the_directory_contract_asks() {
        let dir = tempfile::tempdir().unwrap();
        let keys = SqliteKeyDirectory::open(dir.path().join("keys.db")).unwrap();
        trellis_store_conformance::key_directory::checks(&keys).await;
        // Kept across opening the file again.
        let again = SqliteKeyDirectory::open(dir.path().join("keys.db")).unwrap();
        assert!(!again.tenants().await.unwrap().is_empty());
    }
}
