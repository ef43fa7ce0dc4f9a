//! `reviewsDue` and `unsignedPlans` from the compliance indexes: sorted
//! sets per tenant and per clinic that the save script keeps in list order
//! (a due date's score, then the plan id; unsigned plans all score 0, so by
//! id). A list reads the first entries of each clinic's set in its scope
//! and only those plans' summaries, each checked against the filter and the
//! list before it counts, so an entry a save has not caught up with yet
//! never shows.

use std::sync::atomic::Ordering;

use redis::AsyncCommands;
use trellis_kernel::TenantId;

use super::{RedisReadModels, due_score};
use crate::compliance::{IndexedList, PlanSummary};
use crate::{PlanFilter, ReadModelError, ReadModelStore};

/// Which version of the compliance indexes this code reads and writes;
/// with the summary schema, the value of `trellis:indexes:<ns>`.
const INDEX_LAYOUT: u32 = 1;

pub(super) fn index_version() -> String {
    format!("{INDEX_LAYOUT}.{}", PlanSummary::SCHEMA)
}

impl RedisReadModels {
    /// Whether the compliance indexes hold every plan of the namespace:
    /// not until the projector has indexed the plans an earlier release
    /// wrote ([`RedisReadModels::backfill_indexes`]).
    pub(super) async fn indexes_ready(&self) -> Result<bool, ReadModelError> {
        if self.indexes_ready.load(Ordering::Acquire) {
            return Ok(true);
        }
        let version: Option<String> = self
            .retrying(|mut redis| async move { redis.get(&self.indexes_key).await })
            .await?;
        let ready = version.is_some_and(|v| v == index_version());
        if ready {
            self.indexes_ready.store(true, Ordering::Release);
        }
        Ok(ready)
    }

    /// The first `limit` plans of `list` matching `filter`.
    pub(super) async fn first_listed(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
        list: IndexedList,
        limit: usize,
    ) -> Result<Vec<PlanSummary>, ReadModelError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // A client's or a clinician's plans are few: their listing index
        // and summaries answer. So do all summaries, as the default does,
        // while the indexes are not complete yet.
        if filter.client_id.is_some()
            || filter.clinician_id.is_some()
            || !self.indexes_ready().await?
        {
            let plans = self.summaries(tenant, filter).await?;
            return Ok(list.pick(plans, limit));
        }
        let t = tenant.as_str();
        let keys = match &filter.clinic_ids {
            None => vec![self.list_key(t, list, None)],
            Some(clinics) => {
                let mut clinics: Vec<&String> = clinics.iter().collect();
                clinics.sort_unstable();
                clinics.dedup();
                clinics
                    .into_iter()
                    .map(|c| self.list_key(t, list, Some(c)))
                    .collect()
            }
        };
        let mut found = Vec::new();
        for key in keys {
            found.extend(self.walk(tenant, &key, filter, list, limit).await?);
        }
        found.sort_by(|a, b| a.plan_id.cmp(&b.plan_id));
        found.dedup_by(|a, b| a.plan_id == b.plan_id);
        Ok(list.pick(found, limit))
    }

    /// Up to `limit` plans of `list` matching `filter` from one index, in
    /// its order, reading a little more than asked so that an entry that
    /// fails the check rarely costs another round trip.
    async fn walk(
        &self,
        tenant: &TenantId,
        key: &str,
        filter: &PlanFilter,
        list: IndexedList,
        limit: usize,
    ) -> Result<Vec<PlanSummary>, ReadModelError> {
        let chunk = limit + limit / 4 + 8;
        let max = match list {
            IndexedList::ReviewsDue(due_by) => due_score(due_by).to_string(),
            IndexedList::Unsigned => "+inf".to_owned(),
        };
        let mut found = Vec::new();
        let mut offset = 0;
        loop {
            let range = redis::cmd("ZRANGE")
                .arg(key)
                .arg("-inf")
                .arg(&max)
                .arg("BYSCORE")
                .arg("LIMIT")
                .arg(offset)
                .arg(chunk)
                .clone();
            let ids: Vec<String> = self
                .retrying(|mut redis| {
                    let range = range.clone();
                    async move { range.query_async(&mut redis).await }
                })
                .await?;
            found.extend(
                self.summaries_of(tenant, &ids)
                    .await?
                    .into_iter()
                    .filter(|s| {
                        list.lists(s)
                            && filter.admits(&s.client_id, &s.clinic_id, |c| s.treated_by(c))
                    }),
            );
            if found.len() >= limit || ids.len() < chunk {
                return Ok(found);
            }
            offset += ids.len();
        }
    }

    /// The summaries of these plans (skipping any not stored), from their
    /// own keys; a plan saved before summaries existed, or whose summary
    /// another version of `PlanSummary::of` wrote, from its document.
    pub(super) async fn summaries_of(
        &self,
        tenant: &TenantId,
        ids: &[String],
    ) -> Result<Vec<PlanSummary>, ReadModelError> {
        let t = tenant.as_str();
        let keys: Vec<String> = ids.iter().map(|id| self.summary_key(t, id)).collect();
        let found = self.documents(&keys).await?;
        let missing: Vec<String> = ids
            .iter()
            .zip(&found)
            .filter(|(_, s)| s.is_none())
            .map(|(id, _)| self.doc_key(t, id))
            .collect();
        let mut documents = self.documents(&missing).await?.into_iter();
        let mut summaries = Vec::with_capacity(ids.len());
        for (id, summary) in ids.iter().zip(found) {
            let summary = match summary {
                Some(s) => {
                    let stored = serde_json::from_str::<PlanSummary>(&s)
                        .map_err(|_| ReadModelError::Corrupt("malformed plan summary".into()))?;
                    self.documents.open_summary(tenant, stored).await?
                }
                None => match documents.next().flatten() {
                    Some(document) => match self.documents.decode(tenant, id, document).await? {
                        Some(view) => PlanSummary::of(&view),
                        None => continue,
                    },
                    None => continue,
                },
            };
            if summary.schema == PlanSummary::SCHEMA {
                summaries.push(summary);
            } else if let Some(view) = self.plan(tenant, id).await? {
                summaries.push(PlanSummary::of(&view));
            }
        }
        Ok(summaries)
    }
}
