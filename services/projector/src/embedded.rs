//! Read models in a SQLite file beside the event store (embedded mode).
//! The tables and their indexes are in [`schema`]; the compliance lists
//! answered from those indexes in [`indexed`].

mod indexed;
mod rows;
mod schema;

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use chrono::NaiveDate;
use rusqlite::config::DbConfig;
use rusqlite::{Connection, OptionalExtension, named_params, params};
use trellis_kernel::TenantId;

use crate::compliance::{IndexedList, PlanSummary};
use crate::sealing::{DocumentSeal, Documents};
use crate::{PlanFilter, PlanPage, PlanView, ReadModelError, ReadModelStore};
use rows::{Summarised, index_values, summary_of, unavailable};

const PROJECTION: &str = "plans";

/// Plan read models in one SQLite file. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteReadModels {
    conn: Arc<Mutex<Connection>>,
    documents: Documents,
}

impl SqliteReadModels {
    /// Opens (or creates) the file, bringing what an earlier release
    /// wrote up to this one's tables and indexes ([`schema::prepare`]).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ReadModelError> {
        let mut conn = Connection::open(path).map_err(unavailable)?;
        // Read models are rebuilt from events, so NORMAL (no fsync per
        // commit) is enough: a crash can only lose a suffix, and the
        // checkpoint in the same transaction is lost with it.
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(unavailable)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(unavailable)?;
        // Sorts and temporary tables in memory, not in files under /tmp.
        conn.pragma_update(None, "temp_store", "MEMORY")
            .map_err(unavailable)?;
        // Cached statements keep their plans whatever is bound: since
        // SQLite 3.54 a bound `LIMIT ?` otherwise re-prepares a statement
        // on every reuse.
        conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)
            .map_err(unavailable)?;
        schema::prepare(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            documents: Documents::default(),
        })
    }

    /// Keeps every plan document sealed by `seal`.
    pub fn sealed_by(mut self, seal: Arc<dyn DocumentSeal>) -> Self {
        self.documents = Documents::sealed_by(seal);
        self
    }

    /// The summaries of listed rows, opening the documents of those whose
    /// summary must be computed again.
    async fn summaries_from(
        &self,
        tenant: &TenantId,
        rows: Vec<Summarised>,
    ) -> Result<Vec<PlanSummary>, ReadModelError> {
        let mut summaries = Vec::with_capacity(rows.len());
        for row in rows {
            summaries.push(match row {
                Summarised::Ready(summary) => self.documents.open_summary(tenant, *summary).await?,
                Summarised::FromDocument { plan_id, document } => {
                    match self.documents.decode(tenant, &plan_id, document).await? {
                        Some(view) => PlanSummary::of(&view),
                        None => continue,
                    }
                }
            });
        }
        Ok(summaries)
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

/// The `PlanFilter` as SQL over `:tenant`, `:client`, `:clinician` (the
/// primary clinician or any of the care team, from `plan_clinicians`) and
/// `:clinics` (a JSON array), shared by listings and summaries.
macro_rules! plan_filter {
    () => {
        "(:client IS NULL OR client_id = :client)
         AND (:clinician IS NULL OR plan_id IN (SELECT plan_id FROM plan_clinicians
                                                WHERE tenant = :tenant AND clinician_id = :clinician))
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

#[async_trait]
impl ReadModelStore for SqliteReadModels {
    async fn plan(
        &self,
        tenant: &TenantId,
        plan_id: &str,
    ) -> Result<Option<PlanView>, ReadModelError> {
        let (t, id) = (tenant.to_string(), plan_id.to_owned());
        let document: Option<String> = self
            .with(move |conn| {
                conn.query_row(
                    "SELECT document FROM plan_views WHERE tenant = ?1 AND plan_id = ?2",
                    params![t, id],
                    |row| row.get(0),
                )
                .optional()
                .map_err(unavailable)
            })
            .await?;
        match document {
            Some(document) => self.documents.decode(tenant, plan_id, document).await,
            None => Ok(None),
        }
    }

    async fn plans(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
        after: Option<&str>,
        first: usize,
    ) -> Result<PlanPage, ReadModelError> {
        let tenant_id = tenant.clone();
        let tenant = tenant.to_string();
        let filter = filter.clone();
        let after = after.unwrap_or("").to_owned();
        let (documents, has_next_page) = self
            .with(move |conn| {
                let mut stmt = conn
                    .prepare_cached(concat!(
                        "SELECT plan_id, document FROM plan_views
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
                        |row| Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?)),
                    )
                    .map_err(unavailable)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(unavailable)?;
                let has_next_page = documents.len() > first;
                Ok((documents.into_iter().take(first).collect(), has_next_page))
            })
            .await?;
        Ok(PlanPage {
            plans: self.documents.decode_all(&tenant_id, documents).await?,
            has_next_page,
        })
    }

    async fn summaries(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
    ) -> Result<Vec<PlanSummary>, ReadModelError> {
        let tenant_id = tenant.clone();
        let tenant = tenant.to_string();
        let filter = filter.clone();
        let rows = self
            .with(move |conn| {
                let mut stmt = conn
                    .prepare_cached(concat!(
                        "SELECT plan_id, summary,
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
                                row.get::<_, String>(0)?,
                                row.get::<_, Option<String>>(1)?,
                                row.get::<_, Option<String>>(2)?,
                            ))
                        },
                    )
                    .map_err(unavailable)?
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(unavailable)?;
                // A document comes back when the summary is missing or was
                // written by another version of `PlanSummary::of`.
                rows.into_iter()
                    .map(|(plan_id, summary, document)| summary_of(plan_id, summary, document))
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        self.summaries_from(&tenant_id, rows).await
    }

    async fn reviews_due(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
        due_by: NaiveDate,
        limit: usize,
    ) -> Result<Vec<PlanSummary>, ReadModelError> {
        let list = IndexedList::ReviewsDue(due_by);
        self.first_listed(list, tenant.to_string(), filter.clone(), limit)
            .await
    }

    async fn unsigned_plans(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
        limit: usize,
    ) -> Result<Vec<PlanSummary>, ReadModelError> {
        self.first_listed(
            IndexedList::Unsigned,
            tenant.to_string(),
            filter.clone(),
            limit,
        )
        .await
    }

    async fn save(&self, views: Vec<PlanView>, checkpoint: u64) -> Result<(), ReadModelError> {
        let mut stored = Vec::with_capacity(views.len());
        for view in &views {
            let summary = PlanSummary::of(view);
            let summary_text = self.documents.encode_summary(&summary).await?;
            stored.push((self.documents.encode(view).await?, summary, summary_text));
        }
        self.with(move |conn| {
            let tx = conn.transaction().map_err(unavailable)?;
            for (view, (document, summary, summary_text)) in views.iter().zip(stored) {
                let (review_due, unsigned) = index_values(&summary);
                let written = tx
                    .prepare_cached(
                        "INSERT INTO plan_views (tenant, plan_id, client_id, primary_clinician_id,
                             clinic_id, version, review_due, unsigned, summary, document)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                         ON CONFLICT (tenant, plan_id) DO UPDATE SET
                            client_id = excluded.client_id,
                            primary_clinician_id = excluded.primary_clinician_id,
                            clinic_id = excluded.clinic_id,
                            version = excluded.version,
                            review_due = excluded.review_due,
                            unsigned = excluded.unsigned,
                            summary = excluded.summary,
                            document = excluded.document
                         WHERE excluded.version > plan_views.version",
                    )
                    .and_then(|mut insert| {
                        insert.execute(params![
                            view.tenant,
                            view.plan_id,
                            view.client_id,
                            view.primary_clinician_id,
                            view.clinic_id,
                            i64::try_from(view.version).unwrap_or(i64::MAX),
                            review_due,
                            unsigned,
                            summary_text,
                            document
                        ])
                    })
                    .map_err(unavailable)?;
                // Only a newer version replaces what the plan is indexed by.
                if written > 0 {
                    schema::set_clinicians(&tx, &summary)?;
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn temporaries_stay_in_memory_not_in_tmp() {
        let dir = tempfile::tempdir().unwrap();
        let read_models = SqliteReadModels::open(dir.path().join("read-models.db")).unwrap();
        let store: i64 = read_models
            .with(|conn| {
                conn.pragma_query_value(None, "temp_store", |row| row.get(0))
                    .map_err(unavailable)
            })
            .await
            .unwrap();
        assert_eq!(store, 2, "MEMORY");
    }
}
