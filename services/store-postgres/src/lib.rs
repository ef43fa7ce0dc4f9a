//! The PostgreSQL event store, for clinics that already run managed
//! PostgreSQL.
//!
//! **Gap-safe global order.** A sequence alone is not enough: a
//! transaction that drew position 11 may commit after one that drew 12,
//! and a reader at 12 would skip 11 forever. Here every append
//! transaction takes one transaction-scoped advisory lock before it draws
//! positions, so positions are drawn and committed in the same order, by
//! every process that writes to the database; a reader never sees a
//! position before all smaller ones are visible. Rolled-back transactions
//! leave holes, which readers simply never see filled.
//!
//! **Group commit.** Serialising writers would cost one commit (and WAL
//! flush) per append, so each process funnels its appends through one
//! writer task that puts every append waiting into one transaction: one
//! lock, one flush, many appends. Every check (expected revision, event
//! ids) runs before any insert, so a refused append never aborts its
//! neighbours' transaction.
//!
//! **Subscriptions** wait on `LISTEN trellis_events` (the writer notifies
//! at commit) instead of polling, with a slow poll as a safety net for a
//! notification lost while the listener reconnected.
//!
//! **Snapshots** ([`SnapshotStore`]) live in `trellis_snapshots`, saved
//! and read on the pool, never through the writer (see `snapshots.rs`).

mod batch;
mod error;
mod keys;
mod schema;
mod snapshots;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::mpsc;
use trellis_kernel::{
    AccessLog, AccessQuery, AccessRecord, AppendOutcome, AppendSignal, DataKeyRecord, EventStore,
    ExpectedRevision, KeyDirectory, LoggedAccess, NewEvent, PageFuture, ReadDirection,
    RecordedEvent, Snapshot, SnapshotStore, StoreError, StreamHead, StreamName, SubscriptionStream,
    TenantId, WrappedKey, catch_up,
};

use trellis_kernel::group_commit::{ProbeGate, WriteRequest, probe_unanswered, writer_stopped};

use crate::error::unavailable;
use crate::schema::CHANNEL;

const SUBSCRIPTION_PAGE: usize = 1024;
/// How long an operation waits for a database connection by default.
pub const ANSWER_WITHIN: Duration = Duration::from_secs(1);
/// Work already sent may take this many times the connection bound.
const IN_FLIGHT_FACTOR: u32 = 10;
/// How long a caught-up subscriber waits for a notification before it
/// looks anyway.
const SAFETY_POLL: Duration = Duration::from_secs(2);

/// Cloneable handle to one PostgreSQL database used as the event store.
#[derive(Debug, Clone)]
pub struct PostgresEventStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    pool: PgPool,
    writes: mpsc::Sender<WriteRequest>,
    probes: ProbeGate,
    /// How long work already sent may take before its caller is answered
    /// `Unavailable`: a database that stops answering mid-query (a
    /// partition, a paused server) holds no caller for longer.
    in_flight: Duration,
}

impl PostgresEventStore {
    /// Connects, creates the tables if needed, and starts the writer;
    /// operations wait at most [`ANSWER_WITHIN`] for a connection.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_within(url, ANSWER_WITHIN).await
    }

    /// As [`Self::connect`], with operations failing `Unavailable` once
    /// they have waited `answer_within` for a connection: while the
    /// database is down, commands and reads fail in that time instead of
    /// queueing behind reconnect attempts, and work again when it returns.
    pub async fn connect_within(url: &str, answer_within: Duration) -> Result<Self, StoreError> {
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(answer_within)
            .connect(url)
            .await
            .map_err(|e| unavailable(&e))?;
        schema::migrate(&pool).await?;
        let (writes, requests) = mpsc::channel(4096);
        let in_flight = answer_within * IN_FLIGHT_FACTOR;
        tokio::spawn(writer::run(pool.clone(), requests, in_flight));
        Ok(Self {
            inner: Arc::new(Inner {
                pool,
                writes,
                probes: ProbeGate::default(),
                in_flight,
            }),
        })
    }

    /// `work`, or `Unavailable` once it has taken the in-flight bound. The
    /// work itself may still finish (an append then commits unanswered:
    /// resent with the same command id, it is recognised).
    async fn within<T>(
        &self,
        work: impl std::future::Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.inner.in_flight, work)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(
                    "the database did not answer in time".into(),
                ))
            })
    }

    async fn write(&self, request: WriteRequest) -> Result<(), StoreError> {
        self.inner
            .writes
            .send(request)
            .await
            .map_err(|_| writer_stopped())
    }
}

/// Wakes subscribers on the writer's NOTIFY, or after a safety interval.
struct Notifications(PgListener);

#[async_trait]
impl AppendSignal for Notifications {
    async fn appended_after(&mut self, _position: u64) -> bool {
        if let Ok(Err(e)) = tokio::time::timeout(SAFETY_POLL, self.0.recv()).await {
            // The listener reconnects by itself; meanwhile poll slowly.
            tracing::warn!(error = %e, "event notifications interrupted; polling");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        true
    }
}

#[async_trait]
impl EventStore for PostgresEventStore {
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
        self.write(request).await?;
        self.within(acknowledged.wait()).await
    }

    async fn read_stream(
        &self,
        stream: &StreamName,
        direction: ReadDirection,
        from: Option<u64>,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.within(schema::read_stream(
            &self.inner.pool,
            stream,
            direction,
            from,
            max_count,
        ))
        .await
    }

    async fn read_all(
        &self,
        after: Option<u64>,
        max_count: usize,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.within(schema::read_all(
            &self.inner.pool,
            after.unwrap_or(0),
            max_count,
        ))
        .await
    }

    async fn subscribe_all(&self, after: Option<u64>) -> Result<SubscriptionStream, StoreError> {
        let mut listener = PgListener::connect_with(&self.inner.pool)
            .await
            .map_err(|e| unavailable(&e))?;
        listener
            .listen(CHANNEL)
            .await
            .map_err(|e| unavailable(&e))?;
        let store = self.clone();
        let read_page = move |position| -> PageFuture {
            let store = store.clone();
            Box::pin(async move { store.read_all(Some(position), SUBSCRIPTION_PAGE).await })
        };
        Ok(catch_up(after, read_page, Notifications(listener)))
    }

    async fn stream_heads(&self, tenant: &TenantId) -> Result<Vec<StreamHead>, StoreError> {
        self.within(schema::stream_heads(&self.inner.pool, tenant))
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1")
            .execute(&self.inner.pool)
            .await
            .map(|_| ())
            .map_err(|e| unavailable(&e))
    }

    /// Queues behind the appends and commits with them (the writer
    /// rewrites the one row of `trellis_write_probe`), so the answer is
    /// whether this process's writes reach the database now: pool, writer,
    /// append lock, commit. A read-only standby or a full disk fails it.
    async fn probe_write(&self) -> Result<(), StoreError> {
        let (request, acknowledged) = self.inner.probes.request().ok_or_else(probe_unanswered)?;
        self.write(request).await?;
        self.within(acknowledged.wait()).await
    }

    async fn last_position(&self) -> Result<Option<u64>, StoreError> {
        self.within(schema::last_position(&self.inner.pool))
            .await
            .map(Some)
    }
}

#[async_trait]
impl AccessLog for PostgresEventStore {
    async fn record(&self, records: Vec<AccessRecord>) -> Result<(), StoreError> {
        if records.is_empty() {
            return Ok(());
        }
        let (request, acknowledged) = WriteRequest::access(records);
        self.write(request).await?;
        self.within(acknowledged.wait()).await
    }

    async fn query(
        &self,
        tenant: &TenantId,
        query: &AccessQuery,
        after: Option<u64>,
        limit: usize,
    ) -> Result<Vec<LoggedAccess>, StoreError> {
        self.within(schema::query_access(
            &self.inner.pool,
            tenant,
            query,
            after.unwrap_or(0),
            limit,
        ))
        .await
    }
}

#[async_trait]
impl KeyDirectory for PostgresEventStore {
    async fn subject_key(
        &self,
        tenant: &TenantId,
        subject_tag: &[u8; 32],
    ) -> Result<Option<DataKeyRecord>, StoreError> {
        self.within(keys::subject_key(&self.inner.pool, tenant, subject_tag))
            .await
    }

    async fn key(
        &self,
        tenant: &TenantId,
        key_id: uuid::Uuid,
    ) -> Result<Option<DataKeyRecord>, StoreError> {
        self.within(keys::key(&self.inner.pool, tenant, key_id))
            .await
    }

    async fn issue(&self, record: DataKeyRecord) -> Result<DataKeyRecord, StoreError> {
        self.within(keys::issue(&self.inner.pool, &record)).await
    }

    async fn keys(&self, tenant: &TenantId) -> Result<Vec<DataKeyRecord>, StoreError> {
        self.within(keys::keys(&self.inner.pool, tenant)).await
    }

    async fn tenants(&self) -> Result<Vec<TenantId>, StoreError> {
        self.within(keys::tenants(&self.inner.pool)).await
    }

    async fn rewrap(
        &self,
        tenant: &TenantId,
        key_id: uuid::Uuid,
        from_version: u32,
        wrapped: WrappedKey,
    ) -> Result<bool, StoreError> {
        self.within(keys::rewrap(
            &self.inner.pool,
            tenant,
            key_id,
            from_version,
            &wrapped,
        ))
        .await
    }

    async fn bind_stream(
        &self,
        tenant: &TenantId,
        key_id: uuid::Uuid,
        stream: &str,
    ) -> Result<(), StoreError> {
        self.within(keys::bind_stream(&self.inner.pool, tenant, key_id, stream))
            .await
    }

    async fn streams(
        &self,
        tenant: &TenantId,
        key_id: uuid::Uuid,
    ) -> Result<Vec<String>, StoreError> {
        self.within(keys::streams(&self.inner.pool, tenant, key_id))
            .await
    }

    async fn erase(
        &self,
        tenant: &TenantId,
        key_id: uuid::Uuid,
        tombstone_tag: [u8; 32],
        at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        self.within(keys::erase(
            &self.inner.pool,
            tenant,
            key_id,
            tombstone_tag,
            at,
        ))
        .await
    }
}

#[async_trait]
impl SnapshotStore for PostgresEventStore {
    async fn load_snapshot(&self, stream: &StreamName) -> Result<Option<Snapshot>, StoreError> {
        self.within(snapshots::load(&self.inner.pool, stream)).await
    }

    async fn save_snapshot(
        &self,
        stream: &StreamName,
        snapshot: Snapshot,
    ) -> Result<(), StoreError> {
        self.within(snapshots::save(&self.inner.pool, stream, &snapshot))
            .await
    }
}

/// Creates `database` on the server at `admin_url` if it does not exist;
/// returns the URL of `database`. For tests and first-time setup.
pub async fn ensure_database(admin_url: &str, database: &str) -> Result<String, StoreError> {
    use sqlx::Connection;
    let valid = !database.is_empty()
        && database
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(StoreError::Unavailable("invalid database name".into()));
    }
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .map_err(|e| unavailable(&e))?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(database)
            .fetch_one(&mut admin)
            .await
            .map_err(|e| unavailable(&e))?;
    if !exists {
        // Two creators may race; the loser's "already exists" is fine.
        // The name was checked against [a-z0-9_] above.
        let created = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {database}")))
            .execute(&mut admin)
            .await;
        if let Err(e) = created
            && !e.to_string().contains("already exists")
            && !e.to_string().contains("pg_database_datname_index")
        {
            return Err(unavailable(&e));
        }
    }
    let base = admin_url
        .rsplit_once('/')
        .map_or(admin_url, |(base, _)| base);
    Ok(format!("{base}/{database}"))
}

/// Drops `database` (closing its connections); for benchmarks and tests.
pub async fn drop_database(admin_url: &str, database: &str) -> Result<(), StoreError> {
    use sqlx::Connection;
    if !database
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    {
        return Err(StoreError::Unavailable("invalid database name".into()));
    }
    let mut admin = sqlx::PgConnection::connect(admin_url)
        .await
        .map_err(|e| unavailable(&e))?;
    // The name was checked against [a-z0-9_] above.
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {database} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await
    .map_err(|e| unavailable(&e))?;
    Ok(())
}
