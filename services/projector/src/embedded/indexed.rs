//! `reviewsDue` and `unsignedPlans` from the embedded store's indexes: one
//! query per clinic in the filter (or one for the tenant) that walks a
//! partial index in list order and stops at the limit, so a list costs the
//! plans it returns, not the plans in scope.

use rusqlite::{Connection, ToSql};

use super::SqliteReadModels;
use trellis_kernel::TenantId;

use super::rows::{SUMMARY_OR_DOCUMENT, Summarised, day, summary_with_parts, unavailable};
use crate::compliance::{IndexedList, PlanSummary};
use crate::{PlanFilter, ReadModelError};

/// The query of `list` for one clinic (or every clinic) and the filter's
/// other fields. Which index it walks is chosen here, not left to the
/// planner (a fresh file has no statistics): a client's plans (a few) or a
/// clinician's (a caseload, via `plan_clinicians`) when the filter names
/// one, sorted after; otherwise the list's partial index for the clinic or
/// the tenant, already in list order, so the query stops at the limit.
fn sql(list: IndexedList, clinic: bool, filter: &PlanFilter) -> String {
    let (by_clinic, by_tenant, listed, order) = match list {
        IndexedList::ReviewsDue(_) => (
            "plan_views_reviews_due_by_clinic",
            "plan_views_reviews_due",
            "v.review_due IS NOT NULL AND v.review_due <= :due_by",
            "v.review_due, v.plan_id",
        ),
        IndexedList::Unsigned => (
            "plan_views_unsigned_by_clinic",
            "plan_views_unsigned",
            "v.unsigned = 1",
            "v.plan_id",
        ),
    };
    let source = match (&filter.client_id, &filter.clinician_id) {
        (Some(_), _) => "plan_views AS v INDEXED BY plan_views_by_client".to_owned(),
        // CROSS JOIN keeps the clinician's plans as the outer loop.
        (None, Some(_)) => "plan_clinicians AS c CROSS JOIN plan_views AS v
                 ON v.tenant = c.tenant AND v.plan_id = c.plan_id"
            .to_owned(),
        (None, None) if clinic => format!("plan_views AS v INDEXED BY {by_clinic}"),
        (None, None) => format!("plan_views AS v INDEXED BY {by_tenant}"),
    };
    let mut sql = format!(
        "SELECT v.plan_id, {SUMMARY_OR_DOCUMENT} FROM {source} WHERE v.tenant = :tenant AND {listed}"
    );
    if clinic {
        sql.push_str(" AND v.clinic_id = :clinic");
    }
    if filter.client_id.is_some() {
        sql.push_str(" AND v.client_id = :client");
    }
    if filter.clinician_id.is_some() {
        sql.push_str(if filter.client_id.is_some() {
            " AND v.plan_id IN (SELECT plan_id FROM plan_clinicians
                                WHERE tenant = :tenant AND clinician_id = :clinician)"
        } else {
            " AND c.tenant = :tenant AND c.clinician_id = :clinician"
        });
    }
    sql.push_str(&format!(" ORDER BY {order} LIMIT :limit"));
    sql
}

/// The first `limit` plans of `list` matching `filter` within one clinic
/// (or all).
fn query(
    conn: &Connection,
    list: IndexedList,
    tenant: &str,
    clinic: Option<&str>,
    filter: &PlanFilter,
    limit: usize,
) -> Result<Vec<Summarised>, ReadModelError> {
    let mut stmt = conn
        .prepare_cached(&sql(list, clinic.is_some(), filter))
        .map_err(unavailable)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let due_by = match list {
        IndexedList::ReviewsDue(due_by) => Some(day(due_by)),
        IndexedList::Unsigned => None,
    };
    let mut bound: Vec<(&str, &dyn ToSql)> = vec![
        (":tenant", &tenant),
        (":schema", &PlanSummary::SCHEMA),
        (":limit", &limit),
    ];
    let optional: [(&str, Option<&dyn ToSql>); 4] = [
        (":due_by", due_by.as_ref().map(|d| d as &dyn ToSql)),
        (":clinic", clinic.as_ref().map(|c| c as &dyn ToSql)),
        (
            ":client",
            filter.client_id.as_ref().map(|c| c as &dyn ToSql),
        ),
        (
            ":clinician",
            filter.clinician_id.as_ref().map(|c| c as &dyn ToSql),
        ),
    ];
    bound.extend(optional.into_iter().filter_map(|(n, v)| Some((n, v?))));
    let rows = stmt
        .query_map(bound.as_slice(), |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .map_err(unavailable)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(unavailable)?;
    rows.into_iter()
        .map(|(plan_id, summary, document)| {
            summary_with_parts(conn, tenant, plan_id, summary, document)
        })
        .collect()
}

/// The first `limit` plans of `list` matching `filter`, per clinic when it
/// names clinics (merged after, in list order).
fn first(
    conn: &Connection,
    list: IndexedList,
    tenant: &str,
    filter: &PlanFilter,
    limit: usize,
) -> Result<Vec<Summarised>, ReadModelError> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let found = match &filter.clinic_ids {
        None => query(conn, list, tenant, None, filter, limit)?,
        Some(clinics) => {
            let mut clinics: Vec<&String> = clinics.iter().collect();
            clinics.sort_unstable();
            clinics.dedup();
            let mut found = Vec::new();
            for clinic in clinics {
                found.extend(query(conn, list, tenant, Some(clinic), filter, limit)?);
            }
            found
        }
    };
    Ok(found)
}

impl SqliteReadModels {
    /// The first `limit` plans of `list` matching `filter`.
    pub(super) async fn first_listed(
        &self,
        list: IndexedList,
        tenant: String,
        filter: PlanFilter,
        limit: usize,
    ) -> Result<Vec<PlanSummary>, ReadModelError> {
        let tenant_id = TenantId::parse(&tenant)
            .map_err(|_| ReadModelError::Corrupt("a tenant id is malformed".into()))?;
        let found = self
            .with(move |conn| first(conn, list, &tenant, &filter, limit))
            .await?;
        let found = self.summaries_from(&tenant_id, found).await?;
        // The reference's order (and, over several clinics, the merge); it
        // also drops a plan whose summary, recomputed from its document,
        // left the list.
        Ok(list.pick(found, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan SQLite chooses for each shape of the lists' queries.
    fn plans(filter: &PlanFilter, clinic: bool) -> Vec<String> {
        let dir = tempfile::tempdir().unwrap();
        let models = SqliteReadModels::open(dir.path().join("rm.db")).unwrap();
        let conn = models.conn.lock().unwrap();
        let due = IndexedList::ReviewsDue("2026-12-01".parse().unwrap());
        [due, IndexedList::Unsigned]
            .into_iter()
            .map(|list| {
                let explain = format!("EXPLAIN QUERY PLAN {}", sql(list, clinic, filter));
                let mut stmt = conn.prepare(&explain).unwrap();
                let mut rows = stmt.raw_query();
                let mut plan = Vec::new();
                while let Some(row) = rows.next().unwrap() {
                    plan.push(row.get::<_, String>(3).unwrap());
                }
                plan.join("; ")
            })
            .collect()
    }

    #[test]
    fn each_list_walks_the_index_its_filter_calls_for() {
        let everything = PlanFilter::default();
        let [due, unsigned] = <[String; 2]>::try_from(plans(&everything, true)).unwrap();
        assert!(
            due.contains("INDEX plan_views_reviews_due_by_clinic"),
            "{due}"
        );
        assert!(
            unsigned.contains("INDEX plan_views_unsigned_by_clinic"),
            "{unsigned}"
        );
        let [due, unsigned] = <[String; 2]>::try_from(plans(&everything, false)).unwrap();
        assert!(due.contains("INDEX plan_views_reviews_due ("), "{due}");
        assert!(
            unsigned.contains("INDEX plan_views_unsigned ("),
            "{unsigned}"
        );
        // In list order already: the walk stops at the limit.
        for plan in plans(&everything, true)
            .into_iter()
            .chain(plans(&everything, false))
        {
            assert!(!plan.contains("TEMP B-TREE"), "{plan}");
        }
        let clinician = PlanFilter {
            clinician_id: Some("clin-1".into()),
            ..PlanFilter::default()
        };
        for plan in plans(&clinician, true) {
            assert!(
                plan.starts_with("SEARCH c USING COVERING INDEX plan_clinicians_by_clinician"),
                "{plan}"
            );
        }
        let client = PlanFilter {
            client_id: Some("client-1".into()),
            clinician_id: Some("clin-1".into()),
            ..PlanFilter::default()
        };
        for plan in plans(&client, false) {
            assert!(plan.contains("INDEX plan_views_by_client"), "{plan}");
        }
    }
}
