//! Read models in a SQLite file beside the event store (embedded mode).

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, named_params, params};
use trellis_kernel::TenantId;

use crate::compliance::PlanSummary;
use crate::{PlanFilter, PlanPage, PlanView, ReadModelError, ReadModelStore};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS plan_views (
    tenant               TEXT    NOT NULL,
    plan_id              TEXT    NOT NULL,
    client_id            TEXT    NOT NULL,
    primary_clinician_id TEXT    NOT NULL,
    clinic_id            TEXT    NOT NULL,
    version              INTEGER NOT NULL,
    document             TEXT    NOT NULL,
    PRIMARY KEY (tenant, plan_id)
) STRICT;
CREATE INDEX IF NOT EXISTS plan_views_by_client ON plan_views (tenant, client_id, plan_id);
CREATE INDEX IF NOT EXISTS plan_views_by_clinician ON plan_views (tenant, primary_clinician_id, plan_id);
CREATE TABLE IF NOT EXISTS checkpoints (
    projection TEXT PRIMARY KEY,
    position   INTEGER NOT NULL
) STRICT;
";

const PROJECTION: &str = "plans";

/// Plan read models in one SQLite file. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteReadModels {
    conn: Arc<Mutex<Connection>>,
}

fn unavailable(e: rusqlite::Error) -> ReadModelError {
    ReadModelError::Unavailable(e.to_string())
}

impl SqliteReadModels {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReadModelError> {
        let conn = Connection::open(path).map_err(unavailable)?;
        // Read models are rebuilt from events, so NORMAL (no fsync per
        // commit) is enough: a crash can only lose a suffix, and the
        // checkpoint in the same transaction is lost with it.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(unavailable)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(unavailable)?;
        conn.execute_batch(SCHEMA).map_err(unavailable)?;
        // Read models written before summaries existed get the column;
        // their rows answer from the document until rewritten.
        let has_summary: bool = conn
            .query_row(
                "SELECT COUNT(*) FROM pragma_table_info('plan_views') WHERE name = 'summary'",
                [],
                |row| row.get::<_, i64>(0),
            )
            .map_err(unavailable)?
            > 0;
        if !has_summary {
            conn.execute_batch("ALTER TABLE plan_views ADD COLUMN summary TEXT")
                .map_err(unavailable)?;
        }
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    async fn with<T, F>(&self, f: F) -> Result<T, ReadModelError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, ReadModelError> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().expect("read model connection poisoned");
            f(&mut conn)
        })
        .await
        .map_err(|e| ReadModelError::Unavailable(format!("read model task failed: {e}")))?
    }
}

/// The `PlanFilter` as SQL over `:client`, `:clinician` (any of the care
/// team) and `:clinics` (a JSON array), shared by listings and summaries.
macro_rules! plan_filter {
    () => {
        "(:client IS NULL OR client_id = :client)
         AND (:clinician IS NULL OR primary_clinician_id = :clinician
              OR EXISTS (SELECT 1 FROM json_each(document, '$.care_team')
                         WHERE value = :clinician))
         AND (:clinics IS NULL OR clinic_id IN (SELECT value FROM json_each(:clinics)))"
    };
}

/// Clinic lists are small (a caller's clinics); they travel as JSON.
fn clinics_json(filter: &PlanFilter) -> Option<String> {
    filter
        .clinic_ids
        .as_ref()
        .map(|c| serde_json::to_string(c).expect("strings serialize"))
}

fn decode(document: &str) -> Result<PlanView, ReadModelError> {
    serde_json::from_str(document)
        .map_err(|_| ReadModelError::Corrupt("malformed plan document".into()))
}

#[async_trait]
impl ReadModelStore for SqliteReadModels {
    async fn plan(
        &self,
        tenant: &TenantId,
        plan_id: &str,
    ) -> Result<Option<PlanView>, ReadModelError> {
        let (tenant, plan_id) = (tenant.to_string(), plan_id.to_owned());
        self.with(move |conn| {
            let document: Option<String> = conn
                .query_row(
                    "SELECT document FROM plan_views WHERE tenant = ?1 AND plan_id = ?2",
                    params![tenant, plan_id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(unavailable)?;
            document.as_deref().map(decode).transpose()
        })
        .await
    }

    async fn plans(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
        after: Option<&str>,
        first: usize,
    ) -> Result<PlanPage, ReadModelError> {
        let tenant = tenant.to_string();
        let filter = filter.clone();
        let after = after.unwrap_or("").to_owned();
        self.with(move |conn| {
            let mut stmt = conn
                .prepare_cached(concat!(
                    "SELECT document FROM plan_views
                     WHERE tenant = :tenant AND plan_id > :after AND ",
                    plan_filter!(),
                    " ORDER BY plan_id LIMIT :limit"
                ))
                .map_err(unavailable)?;
            let limit = i64::try_from(first + 1).unwrap_or(i64::MAX);
            let clinics = clinics_json(&filter);
            let documents = stmt
                .query_map(
                    named_params! {
                        ":tenant": tenant,
                        ":after": after,
                        ":client": filter.client_id,
                        ":clinician": filter.clinician_id,
                        ":clinics": clinics,
                        ":limit": limit,
                    },
                    |row| row.get::<_, String>(0),
                )
                .map_err(unavailable)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(unavailable)?;
            let has_next_page = documents.len() > first;
            let plans = documents
                .iter()
                .take(first)
                .map(|d| decode(d))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(PlanPage {
                plans,
                has_next_page,
            })
        })
        .await
    }

    async fn summaries(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
    ) -> Result<Vec<PlanSummary>, ReadModelError> {
        let tenant = tenant.to_string();
        let filter = filter.clone();
        self.with(move |conn| {
            let mut stmt = conn
                .prepare_cached(concat!(
                    "SELECT summary,
                            CASE WHEN summary IS NULL
                                   OR json_extract(summary, '$.schema') IS NOT :schema
                                 THEN document END
                     FROM plan_views
                     WHERE tenant = :tenant AND ",
                    plan_filter!(),
                    " ORDER BY plan_id"
                ))
                .map_err(unavailable)?;
            let clinics = clinics_json(&filter);
            let rows = stmt
                .query_map(
                    named_params! {
                        ":tenant": tenant,
                        ":client": filter.client_id,
                        ":clinician": filter.clinician_id,
                        ":clinics": clinics,
                        ":schema": PlanSummary::SCHEMA,
                    },
                    |row| {
                        Ok((
                            row.get::<_, Option<String>>(0)?,
                            row.get::<_, Option<String>>(1)?,
                        ))
                    },
                )
                .map_err(unavailable)?
                .collect::<Result<Vec<_>, _>>()
                .map_err(unavailable)?;
            rows.into_iter()
                // A document comes back when the summary is missing or was
                // written by another version of `PlanSummary::of`.
                .map(|(summary, document)| match (summary, document) {
                    (_, Some(document)) => decode(&document).map(|v| PlanSummary::of(&v)),
                    (Some(summary), None) => serde_json::from_str(&summary)
                        .map_err(|_| ReadModelError::Corrupt("malformed plan summary".into())),
                    (None, None) => Err(ReadModelError::Corrupt("plan without document".into())),
                })
                .collect()
        })
        .await
    }

    async fn save(&self, views: Vec<PlanView>, checkpoint: u64) -> Result<(), ReadModelError> {
        self.with(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            for view in &views {
                let document = serde_json::to_string(view)
                    .map_err(|_| ReadModelError::Corrupt("plan view does not serialize".into()))?;
                let summary = serde_json::to_string(&PlanSummary::of(view))
                    .map_err(|_| ReadModelError::Corrupt("plan summary does not serialize".into()))?;
                tx.execute(
                    "INSERT INTO plan_views (tenant, plan_id, client_id, primary_clinician_id, clinic_id, version, document, summary)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                     ON CONFLICT (tenant, plan_id) DO UPDATE SET
                        client_id = excluded.client_id,
                        primary_clinician_id = excluded.primary_clinician_id,
                        clinic_id = excluded.clinic_id,
                        version = excluded.version,
                        document = excluded.document,
                        summary = excluded.summary
                     WHERE excluded.version > plan_views.version",
                    params![
                        view.tenant,
                        view.plan_id,
                        view.client_id,
                        view.primary_clinician_id,
                        view.clinic_id,
                        i64::try_from(view.version).unwrap_or(i64::MAX),
                        document,
                        summary
                    ],
                )
                .map_err(unavailable)?;
            }
            tx.execute(
                "INSERT INTO checkpoints (projection, position) VALUES (?1, ?2)
                 ON CONFLICT (projection) DO UPDATE SET position = MAX(position, excluded.position)",
                params![PROJECTION, i64::try_from(checkpoint).unwrap_or(i64::MAX)],
            )
            .map_err(unavailable)?;
            tx.commit().map_err(unavailable)
        })
        .await
    }

    async fn checkpoint(&self) -> Result<Option<u64>, ReadModelError> {
        self.with(|conn| {
            conn.query_row(
                "SELECT position FROM checkpoints WHERE projection = ?1",
                [PROJECTION],
                |row| row.get::<_, i64>(0),
            )
            .optional()
            .map(|p| p.and_then(|p| u64::try_from(p).ok()))
            .map_err(unavailable)
        })
        .await
    }

    async fn ping(&self) -> Result<(), ReadModelError> {
        self.with(|conn| {
            conn.query_row("SELECT 1", [], |_| Ok(()))
                .map_err(unavailable)
        })
        .await
    }
}
