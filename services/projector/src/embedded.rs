//! Read models in a SQLite file beside the event store (embedded mode).
//! The tables and their indexes are in [`schema`]; the compliance lists
//! answered from those indexes in [`indexed`].

mod indexed;
mod pace;
mod parts;
mod rows;
mod schema;
mod stored;

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
use pace::EncodingPace;
use parts::WrittenParts;
use rows::{Summarised, parts_of, summary_with_parts, unavailable};

const PROJECTION: &str = "plans";

/// Plan read models in one SQLite file. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SqliteReadModels {
    conn: Arc<Mutex<Connection>>,
    documents: Documents,
    /// Which parts of long documents this process wrote, and as what.
    written: Arc<Mutex<WrittenParts>>,
    /// One save at a time: a save leaves out the parts it finds written,
    /// which holds only if no other save writes them meanwhile.
    saving: Arc<tokio::sync::Mutex<()>>,
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
            written: Arc::default(),
            saving: Arc::default(),
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
                Summarised::FromDocument {
                    plan_id,
                    document,
                    parts,
                } => {
                    match stored::open_plan(&self.documents, tenant, &plan_id, document, parts)
                        .await?
                    {
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

/// Writes the plans and the checkpoint in one transaction; which plans
/// were written ([`stored::write`] says which are not).
fn save_in_one(
    conn: &mut Connection,
    plans: &[stored::StoredPlan],
    checkpoint: u64,
) -> Result<Vec<bool>, ReadModelError> {
    let tx = conn.transaction().map_err(unavailable)?;
    let wrote = plans
        .iter()
        .map(|plan| stored::write(&tx, plan))
        .collect::<Result<Vec<_>, _>>()?;
    tx.execute(
        "INSERT INTO checkpoints (projection, position) VALUES (?1, ?2)
         ON CONFLICT (projection) DO UPDATE SET position = MAX(position, excluded.position)",
        params![PROJECTION, i64::try_from(checkpoint).unwrap_or(i64::MAX)],
    )
    .map_err(unavailable)?;
    tx.commit().map_err(unavailable)?;
    Ok(wrote)
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
        let stored = self
            .with(move |conn| {
                let head: Option<String> = conn
                    .prepare_cached(
                        "SELECT document FROM plan_views WHERE tenant = ?1 AND plan_id = ?2",
                    )
                    .and_then(|mut s| s.query_row(params![t, id], |row| row.get(0)).optional())
                    .map_err(unavailable)?;
                head.map(|head| Ok((head, parts_of(conn, &t, &id)?)))
                    .transpose()
            })
            .await?;
        let Some((head, parts)) = stored else {
            return Ok(None);
        };
        let opened = stored::open_plan(&self.documents, tenant, plan_id, head, parts).await;
        if let Err(ReadModelError::Corrupt(_)) = &opened {
            // Whatever is on disk, the next save writes the plan whole.
            self.written
                .lock()
                .expect("written parts poisoned")
                .found_corrupt((tenant.to_string(), plan_id.to_owned()));
        }
        opened
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
                let documents = documents
                    .into_iter()
                    .take(first)
                    .map(|(plan_id, head)| {
                        let parts = parts_of(conn, &tenant, &plan_id)?;
                        Ok((plan_id, head, parts))
                    })
                    .collect::<Result<Vec<_>, ReadModelError>>()?;
                Ok((documents, has_next_page))
            })
            .await?;
        let mut plans = Vec::with_capacity(documents.len());
        for (plan_id, head, parts) in documents {
            plans.extend(
                stored::open_plan(&self.documents, &tenant_id, &plan_id, head, parts).await?,
            );
        }
        Ok(PlanPage {
            plans,
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
                    .map(|(plan_id, summary, document)| {
                        summary_with_parts(conn, &tenant, plan_id, summary, document)
                    })
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
        // Held until the write ends, even if this future is dropped first.
        let one_at_a_time = Arc::clone(&self.saving).lock_owned().await;
        let mut plans = Vec::with_capacity(views.len());
        let mut pace = EncodingPace::start();
        for view in views {
            // Before each plan, not after: no rest between the last and
            // the write.
            pace.rest_if_due().await;
            plans.push(stored::stored_plan(&self.documents, &self.written, view).await?);
        }
        let written = Arc::clone(&self.written);
        self.with(move |conn| {
            let _one_at_a_time = one_at_a_time;
            let saved = save_in_one(conn, &plans, checkpoint);
            // What is on disk is known only of what committed.
            let mut known = written.lock().expect("written parts poisoned");
            match &saved {
                Ok(wrote) => {
                    for (plan, wrote) in plans.into_iter().zip(wrote) {
                        if *wrote {
                            known.wrote(plan.key, plan.parts, plan.rewrite);
                        } else {
                            known.forget(&plan.key);
                        }
                    }
                }
                Err(_) => plans.iter().for_each(|plan| known.forget(&plan.key)),
            }
            saved.map(|_| ())
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
