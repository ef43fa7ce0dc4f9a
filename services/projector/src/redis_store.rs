//! Read models in Redis, for the distributed topology: the projector
//! process writes them, every gateway instance reads them.
//!
//! Keys begin with the tenant, then the namespace (`trellis` unless a
//! rebuild writes beside the live models): `<tenant>:<ns>:plan:<id>` (the
//! JSON document), `<tenant>:<ns>:plan-versions` (plan id → version),
//! `<tenant>:<ns>:summary:<id>` (the compact summary compliance queries
//! read), and
//! `<tenant>:<ns>:plans[:clinician:<id>|:client:<id>|:clinic:<id>]`
//! (sorted sets of plan ids, for listings in id order; a clinician's set
//! holds every plan whose care team ever had them, and listings check the
//! document). The checkpoint is
//! `trellis:checkpoint:<ns>`. A batch of documents and its checkpoint are
//! written in one MULTI/EXEC; each document only if its version is newer
//! than the stored one, so replaying a batch changes nothing.

use std::future::Future;
use std::time::Duration;

use async_trait::async_trait;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use trellis_kernel::TenantId;

use crate::compliance::PlanSummary;
use crate::{PlanFilter, PlanPage, PlanView, ReadModelError, ReadModelStore};

/// Writes a document, its version, its summary and its index entries only
/// if the version is newer than the stored one.
const SAVE_VIEW: &str = r"
local current = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '-1')
if tonumber(ARGV[2]) > current then
  redis.call('SET', KEYS[1], ARGV[3])
  redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
  redis.call('SET', KEYS[3], ARGV[4])
  for i = 4, #KEYS do redis.call('ZADD', KEYS[i], 0, ARGV[1]) end
  return 1
end
return 0
";

/// Moves the checkpoint forward, never back.
const SAVE_CHECKPOINT: &str = r"
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
";

/// Plan read models in Redis.
#[derive(Clone)]
pub struct RedisReadModels {
    redis: ConnectionManager,
    namespace: String,
    checkpoint_key: String,
    save_view: Script,
    save_checkpoint: Script,
}

impl std::fmt::Debug for RedisReadModels {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisReadModels")
            .field("checkpoint_key", &self.checkpoint_key)
            .finish_non_exhaustive()
    }
}

fn unavailable(e: &redis::RedisError) -> ReadModelError {
    ReadModelError::Unavailable(e.to_string())
}

impl RedisReadModels {
    fn doc_key(&self, tenant: &str, plan_id: &str) -> String {
        format!("{tenant}:{}:plan:{plan_id}", self.namespace)
    }

    fn summary_key(&self, tenant: &str, plan_id: &str) -> String {
        format!("{tenant}:{}:summary:{plan_id}", self.namespace)
    }

    /// The most selective index for `filter`; the rest is checked on the
    /// documents (or summaries).
    fn index_for(&self, tenant: &str, filter: &PlanFilter) -> String {
        match (&filter.client_id, &filter.clinician_id, &filter.clinic_ids) {
            (Some(client), _, _) => self.index_key(tenant, Some(("client", client))),
            (None, Some(clinician), _) => self.index_key(tenant, Some(("clinician", clinician))),
            (None, None, Some(clinics)) if clinics.len() == 1 => {
                self.index_key(tenant, Some(("clinic", &clinics[0])))
            }
            _ => self.index_key(tenant, None),
        }
    }

    /// Plan ids in `index` after `cursor` (a ZRANGE BYLEX bound), at most `count`.
    async fn ids_after(
        &self,
        index: &str,
        cursor: &str,
        count: usize,
    ) -> Result<Vec<String>, ReadModelError> {
        let range = redis::cmd("ZRANGE")
            .arg(index)
            .arg(cursor)
            .arg("+")
            .arg("BYLEX")
            .arg("LIMIT")
            .arg(0)
            .arg(count)
            .clone();
        self.retrying(|mut redis| {
            let range = range.clone();
            async move { range.query_async(&mut redis).await }
        })
        .await
    }

    fn versions_key(&self, tenant: &str) -> String {
        format!("{tenant}:{}:plan-versions", self.namespace)
    }

    fn index_key(&self, tenant: &str, by: Option<(&str, &str)>) -> String {
        match by {
            None => format!("{tenant}:{}:plans", self.namespace),
            Some((kind, id)) => format!("{tenant}:{}:plans:{kind}:{id}", self.namespace),
        }
    }
}

impl RedisReadModels {
    /// The live read models are in namespace `trellis`; a rebuild can be
    /// written beside them in another, with its own checkpoint.
    pub async fn connect(url: &str, namespace: &str) -> Result<Self, ReadModelError> {
        let client = redis::Client::open(url).map_err(|e| unavailable(&e))?;
        let redis = ConnectionManager::new(client)
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(Self {
            redis,
            namespace: namespace.to_owned(),
            checkpoint_key: format!("trellis:checkpoint:{namespace}"),
            save_view: Script::new(SAVE_VIEW),
            save_checkpoint: Script::new(SAVE_CHECKPOINT),
        })
    }

    /// Runs `op`, and again (up to twice, briefly apart) when the
    /// connection dropped: the manager reconnects meanwhile, so a Redis
    /// restart or failover costs a caller a short wait, not an error.
    async fn retrying<T, F, Fut>(&self, op: F) -> Result<T, ReadModelError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, redis::RedisError>>,
    {
        let mut attempt = 0;
        loop {
            match op(self.redis.clone()).await {
                Ok(value) => return Ok(value),
                Err(e)
                    if attempt < 2
                        && (e.is_io_error()
                            || e.is_connection_dropped()
                            || e.is_connection_refusal()) =>
                {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => return Err(unavailable(&e)),
            }
        }
    }

    async fn documents(&self, keys: &[String]) -> Result<Vec<Option<String>>, ReadModelError> {
        if keys.is_empty() {
            return Ok(Vec::new());
        }
        self.retrying(|mut redis| async move { redis.mget(keys).await })
            .await
    }
}

fn decode(document: &str) -> Result<PlanView, ReadModelError> {
    serde_json::from_str(document)
        .map_err(|_| ReadModelError::Corrupt("malformed plan document".into()))
}

#[async_trait]
impl ReadModelStore for RedisReadModels {
    async fn plan(
        &self,
        tenant: &TenantId,
        plan_id: &str,
    ) -> Result<Option<PlanView>, ReadModelError> {
        let key = self.doc_key(tenant.as_str(), plan_id);
        let document: Option<String> = self
            .retrying(|mut redis| {
                let key = key.clone();
                async move { redis.get(key).await }
            })
            .await?;
        document.as_deref().map(decode).transpose()
    }

    async fn plans(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
        after: Option<&str>,
        first: usize,
    ) -> Result<PlanPage, ReadModelError> {
        let t = tenant.as_str();
        // Walk the most selective index; filter the rest on the documents.
        let index = self.index_for(t, filter);
        let mut cursor = after.map_or_else(|| "-".to_owned(), |a| format!("({a}"));
        let mut plans = Vec::new();
        let chunk = (first + 1).max(16) * 2;
        loop {
            let ids = self.ids_after(&index, &cursor, chunk).await?;
            let exhausted = ids.len() < chunk;
            if let Some(last) = ids.last() {
                cursor = format!("({last}");
            }
            let keys: Vec<String> = ids.iter().map(|id| self.doc_key(t, id)).collect();
            for document in self.documents(&keys).await?.into_iter().flatten() {
                let view = decode(&document)?;
                if filter.admits_plan(&view) {
                    plans.push(view);
                }
            }
            if plans.len() > first || exhausted {
                break;
            }
        }
        let has_next_page = plans.len() > first;
        plans.truncate(first);
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
        const CHUNK: usize = 500;
        let t = tenant.as_str();
        let index = self.index_for(t, filter);
        let mut cursor = "-".to_owned();
        let mut summaries = Vec::new();
        loop {
            let ids = self.ids_after(&index, &cursor, CHUNK).await?;
            if let Some(last) = ids.last() {
                cursor = format!("({last}");
            }
            let keys: Vec<String> = ids.iter().map(|id| self.summary_key(t, id)).collect();
            let found = self.documents(&keys).await?;
            // Plans saved before summaries existed answer from the document.
            let missing: Vec<String> = ids
                .iter()
                .zip(&found)
                .filter(|(_, s)| s.is_none())
                .map(|(id, _)| self.doc_key(t, id))
                .collect();
            let mut documents = self.documents(&missing).await?.into_iter();
            for (id, summary) in ids.iter().zip(found) {
                let summary = match summary {
                    Some(s) => serde_json::from_str::<PlanSummary>(&s)
                        .map_err(|_| ReadModelError::Corrupt("malformed plan summary".into()))?,
                    None => match documents.next().flatten() {
                        Some(document) => PlanSummary::of(&decode(&document)?),
                        None => continue,
                    },
                };
                // Written by another version of `PlanSummary::of`: recompute.
                let summary = if summary.schema == PlanSummary::SCHEMA {
                    summary
                } else {
                    match self.plan(tenant, id).await? {
                        Some(view) => PlanSummary::of(&view),
                        None => continue,
                    }
                };
                if filter.admits(&summary.client_id, &summary.clinic_id, |c| {
                    summary.treated_by(c)
                }) {
                    summaries.push(summary);
                }
            }
            if ids.len() < CHUNK {
                return Ok(summaries);
            }
        }
    }

    async fn save(&self, views: Vec<PlanView>, checkpoint: u64) -> Result<(), ReadModelError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        for view in &views {
            let t = view.tenant.as_str();
            let document = serde_json::to_string(view)
                .map_err(|_| ReadModelError::Corrupt("plan view does not serialize".into()))?;
            let summary = serde_json::to_string(&PlanSummary::of(view))
                .map_err(|_| ReadModelError::Corrupt("plan summary does not serialize".into()))?;
            let mut invocation = self.save_view.prepare_invoke();
            invocation
                .key(self.doc_key(t, &view.plan_id))
                .key(self.versions_key(t))
                .key(self.summary_key(t, &view.plan_id))
                .key(self.index_key(t, None))
                .key(self.index_key(t, Some(("clinician", &view.primary_clinician_id))))
                .key(self.index_key(t, Some(("client", &view.client_id))))
                .key(self.index_key(t, Some(("clinic", &view.clinic_id))));
            // Clinician indexes only grow: one who left the team still finds
            // the id there, and the document check filters it out.
            for member in &view.care_team {
                invocation.key(self.index_key(t, Some(("clinician", member))));
            }
            invocation
                .arg(&view.plan_id)
                .arg(view.version)
                .arg(document)
                .arg(summary);
            pipe.invoke_script(&invocation).ignore();
        }
        let mut checkpoint_update = self.save_checkpoint.prepare_invoke();
        checkpoint_update.key(&self.checkpoint_key).arg(checkpoint);
        pipe.invoke_script(&checkpoint_update).ignore();
        // The batch is idempotent (versions and checkpoint only move
        // forward), so sending it again after a dropped connection is safe.
        self.retrying(|mut redis| {
            let pipe = pipe.clone();
            async move {
                // Scripts must be loaded before EVALSHA runs inside MULTI
                // (a restarted Redis has forgotten them).
                for script in [&self.save_view, &self.save_checkpoint] {
                    script.prepare_invoke().load_async(&mut redis).await?;
                }
                pipe.query_async::<()>(&mut redis).await
            }
        })
        .await
    }

    async fn checkpoint(&self) -> Result<Option<u64>, ReadModelError> {
        self.retrying(|mut redis| async move { redis.get(&self.checkpoint_key).await })
            .await
    }

    async fn ping(&self) -> Result<(), ReadModelError> {
        let mut redis = self.redis.clone();
        redis::cmd("PING")
            .query_async::<String>(&mut redis)
            .await
            .map(|_| ())
            .map_err(|e| unavailable(&e))
    }
}
