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
//! document), and the compliance lists' indexes
//! `<tenant>:<ns>:reviews-due[:clinic:<id>]` (open plans by the due date of
//! their next review, as days since 1970) and
//! `<tenant>:<ns>:unsigned[:clinic:<id>]` (unsigned open plans, by id; see
//! [`indexes`]). The checkpoint is `trellis:checkpoint:<ns>`, and
//! `trellis:indexes:<ns>` says which version of the compliance indexes
//! holds every plan of the namespace ([`backfill`]). A batch of documents
//! and its checkpoint are written in one MULTI/EXEC; each document only if
//! its version is newer than the stored one, so replaying a batch changes
//! nothing. `trellis:generation:<ns>` and `trellis:rebuilding:<ns>` tell
//! a Redis that lost its content from one that holds it ([`generation`]).

mod backfill;
mod erased;
mod generation;
mod indexes;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use async_trait::async_trait;
use chrono::NaiveDate;
use redis::aio::ConnectionManager;
use redis::{AsyncCommands, Script};
use tracing::Instrument as _;
use trellis_kernel::TenantId;

use crate::compliance::{IndexedList, PlanSummary};
use crate::sealing::{DocumentSeal, Documents};
use crate::{PlanFilter, PlanPage, PlanView, ReadModelError, ReadModelStore};

/// Sets a plan's entries in the compliance indexes (KEYS 1–4: reviews due
/// of the tenant and of the clinic, unsigned of the tenant and of the
/// clinic) from ARGV 1 (plan id), 3 (due date score, empty for none) and 4
/// (`1` when unsigned): a changed due date moves the entry, a plan that
/// leaves a list leaves its index.
macro_rules! index_entries {
    () => {
        r"
for i = 1, 2 do
  if ARGV[3] == '' then redis.call('ZREM', KEYS[i], ARGV[1])
  else redis.call('ZADD', KEYS[i], ARGV[3], ARGV[1]) end
end
for i = 3, 4 do
  if ARGV[4] == '1' then redis.call('ZADD', KEYS[i], 0, ARGV[1])
  else redis.call('ZREM', KEYS[i], ARGV[1]) end
end
"
    };
}

/// Writes a document, its version, its summary and its index entries only
/// if the version is newer than the stored one. KEYS 1–4 as
/// `index_entries!`, 5 the versions, 6 the document, 7 the summary, 8… the
/// listing indexes; ARGV 1–4 as `index_entries!` (2: the version), 5 the
/// document, 6 the summary.
const SAVE_VIEW: &str = concat!(
    r"
local current = tonumber(redis.call('HGET', KEYS[5], ARGV[1]) or '-1')
if tonumber(ARGV[2]) > current then
  redis.call('SET', KEYS[6], ARGV[5])
  redis.call('HSET', KEYS[5], ARGV[1], ARGV[2])
  redis.call('SET', KEYS[7], ARGV[6])
  for i = 8, #KEYS do redis.call('ZADD', KEYS[i], 0, ARGV[1]) end
",
    index_entries!(),
    r"
  return 1
end
return 0
"
);

/// Sets a plan's compliance index entries computed from version ARGV 2,
/// only if that is still the stored version (KEYS 5): a newer save has
/// written its own.
const INDEX_PLAN: &str = concat!(
    r"
if tonumber(redis.call('HGET', KEYS[5], ARGV[1]) or '-1') == tonumber(ARGV[2]) then
",
    index_entries!(),
    r"
  return 1
end
return 0
"
);

/// Moves the checkpoint forward, never back.
const SAVE_CHECKPOINT: &str = r"
local current = tonumber(redis.call('GET', KEYS[1]) or '-1')
if tonumber(ARGV[1]) > current then redis.call('SET', KEYS[1], ARGV[1]) end
return 0
";

/// The longest a read-model operation waits for Redis before it answers
/// "unavailable" (reads are retried by their callers; the projector
/// resumes from its checkpoint).
pub const ANSWER_WITHIN: Duration = Duration::from_millis(500);
/// The same for a batch of documents the projector saves.
const SAVE_WITHIN: Duration = Duration::from_secs(10);

/// Plan read models in Redis.
#[derive(Clone)]
pub struct RedisReadModels {
    redis: ConnectionManager,
    namespace: String,
    checkpoint_key: String,
    /// `trellis:indexes:<ns>`: the version of the compliance indexes that
    /// holds every plan.
    indexes_key: String,
    /// Seen `indexes_key` at this version (it never goes back).
    indexes_ready: Arc<AtomicBool>,
    save_view: Script,
    index_plan: Script,
    save_checkpoint: Script,
    /// `trellis:generation:<ns>` and the one this process adopted, and
    /// `trellis:rebuilding:<ns>` ([`generation`]).
    generation_key: String,
    generation: Arc<std::sync::Mutex<Option<String>>>,
    rebuilding_key: String,
    /// `trellis:projector:<ns>`: which projector may write.
    lease_key: String,
    documents: Documents,
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

    /// The compliance index of `list` for the tenant or one of its clinics.
    fn list_key(&self, tenant: &str, list: IndexedList, clinic: Option<&str>) -> String {
        let name = match list {
            IndexedList::ReviewsDue(_) => "reviews-due",
            IndexedList::Unsigned => "unsigned",
        };
        match clinic {
            None => format!("{tenant}:{}:{name}", self.namespace),
            Some(clinic) => format!("{tenant}:{}:{name}:clinic:{clinic}", self.namespace),
        }
    }

    /// KEYS 1–4 of `index_entries!` for a plan of this tenant and clinic.
    fn entry_keys(&self, tenant: &str, clinic: &str) -> [String; 4] {
        let due = IndexedList::ReviewsDue(NaiveDate::MIN);
        [
            self.list_key(tenant, due, None),
            self.list_key(tenant, due, Some(clinic)),
            self.list_key(tenant, IndexedList::Unsigned, None),
            self.list_key(tenant, IndexedList::Unsigned, Some(clinic)),
        ]
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
        // Bounded, so a Redis that is away answers "unavailable" within
        // ANSWER_WITHIN instead of holding every read while it reconnects.
        // Each operation bounds its own wait (a batch save may take longer
        // than a read).
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(ANSWER_WITHIN / 2))
            .set_response_timeout(None)
            .set_number_of_retries(1);
        let redis = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| unavailable(&e))?;
        Ok(Self {
            redis,
            namespace: namespace.to_owned(),
            checkpoint_key: format!("trellis:checkpoint:{namespace}"),
            indexes_key: format!("trellis:indexes:{namespace}"),
            indexes_ready: Arc::new(AtomicBool::new(false)),
            save_view: Script::new(SAVE_VIEW),
            index_plan: Script::new(INDEX_PLAN),
            save_checkpoint: Script::new(SAVE_CHECKPOINT),
            generation_key: format!("trellis:generation:{namespace}"),
            generation: Arc::default(),
            rebuilding_key: format!("trellis:rebuilding:{namespace}"),
            lease_key: format!("trellis:projector:{namespace}"),
            documents: Documents::default(),
        })
    }

    /// Keeps every plan document sealed by `seal`.
    pub fn sealed_by(mut self, seal: Arc<dyn DocumentSeal>) -> Self {
        self.documents = Documents::sealed_by(seal);
        self
    }

    /// Runs `op`, and again (briefly apart) when the connection dropped
    /// and time is left: the manager reconnects meanwhile, so a Redis
    /// restart or failover costs a caller a short wait, not an error. A
    /// Redis that stays away is "unavailable" within [`ANSWER_WITHIN`].
    async fn retrying<T, F, Fut>(&self, op: F) -> Result<T, ReadModelError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, redis::RedisError>>,
    {
        self.retrying_within(ANSWER_WITHIN, op).await
    }

    /// [`Self::retrying`] with its own bound (a batch save gets longer).
    async fn retrying_within<T, F, Fut>(&self, within: Duration, op: F) -> Result<T, ReadModelError>
    where
        F: Fn(ConnectionManager) -> Fut,
        Fut: Future<Output = Result<T, redis::RedisError>>,
    {
        let deadline = tokio::time::Instant::now() + within;
        let mut attempt = 0;
        loop {
            let answer = tokio::time::timeout_at(deadline, op(self.redis.clone())).await;
            match answer {
                Ok(Ok(value)) => return Ok(value),
                Ok(Err(e))
                    if attempt < 2
                        && (e.is_io_error()
                            || e.is_connection_dropped()
                            || e.is_connection_refusal()) =>
                {
                    attempt += 1;
                    let pause = Duration::from_millis(100 * attempt);
                    if tokio::time::Instant::now() + pause >= deadline {
                        return Err(unavailable(&e));
                    }
                    tokio::time::sleep(pause).await;
                }
                Ok(Err(e)) => return Err(unavailable(&e)),
                Err(_) => {
                    return Err(ReadModelError::Unavailable(format!(
                        "Redis did not answer within {} ms",
                        within.as_millis()
                    )));
                }
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

/// A due date as a compliance index scores it: days since 1970-01-01.
fn due_score(date: NaiveDate) -> i64 {
    (date - NaiveDate::default()).num_days()
}

/// ARGV 3 and 4 of `index_entries!` for a plan with this summary.
fn entry_args(summary: &PlanSummary) -> (String, &'static str) {
    (
        summary
            .open_review_due()
            .map_or_else(String::new, |d| due_score(d).to_string()),
        if summary.is_unsigned() { "1" } else { "0" },
    )
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
        match document {
            Some(document) => self.documents.decode(tenant, plan_id, document).await,
            None => Ok(None),
        }
    }

    async fn plan_for_reader(
        &self,
        tenant: &TenantId,
        plan_id: &str,
    ) -> Result<Option<PlanView>, ReadModelError> {
        let key = self.doc_key(tenant.as_str(), plan_id);
        async {
            match self.unless_rebuilding(key).await? {
                Some(document) => self.documents.decode(tenant, plan_id, document).await,
                None => Ok(None),
            }
        }
        .instrument(crate::store::plan_read_span(tenant, plan_id))
        .await
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
            let found = self.documents(&keys).await?;
            for (id, document) in ids.iter().zip(found) {
                let Some(document) = document else { continue };
                let Some(view) = self.documents.decode(tenant, id, document).await? else {
                    continue;
                };
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
            summaries.extend(
                self.summaries_of(tenant, &ids)
                    .await?
                    .into_iter()
                    .filter(|s| filter.admits(&s.client_id, &s.clinic_id, |c| s.treated_by(c))),
            );
            if ids.len() < CHUNK {
                return Ok(summaries);
            }
        }
    }

    async fn reviews_due(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
        due_by: NaiveDate,
        limit: usize,
    ) -> Result<Vec<PlanSummary>, ReadModelError> {
        self.first_listed(tenant, filter, IndexedList::ReviewsDue(due_by), limit)
            .await
    }

    async fn unsigned_plans(
        &self,
        tenant: &TenantId,
        filter: &PlanFilter,
        limit: usize,
    ) -> Result<Vec<PlanSummary>, ReadModelError> {
        self.first_listed(tenant, filter, IndexedList::Unsigned, limit)
            .await
    }

    async fn prepare(&self) -> Result<(), ReadModelError> {
        self.backfill_indexes().await?;
        self.adopt_generation().await
    }

    async fn intact(&self) -> Result<bool, ReadModelError> {
        self.generation_intact().await
    }

    async fn start_rebuild(&self) -> Result<(), ReadModelError> {
        self.begin_rebuild().await
    }

    async fn rebuilt(&self) -> Result<(), ReadModelError> {
        self.end_rebuild().await
    }

    async fn rebuilding(&self) -> Result<bool, ReadModelError> {
        self.is_rebuilding().await
    }

    async fn hold_lease(&self, holder: &str, ttl: Duration) -> Result<bool, ReadModelError> {
        self.lease(holder, ttl).await
    }

    async fn save(&self, views: Vec<PlanView>, checkpoint: u64) -> Result<(), ReadModelError> {
        let mut pipe = redis::pipe();
        pipe.atomic();
        self.forget_erased_clients(&views, &mut pipe).await?;
        for view in &views {
            let t = view.tenant.as_str();
            let document = self.documents.encode(view).await?;
            let summary = PlanSummary::of(view);
            let (due, unsigned) = entry_args(&summary);
            let summary = self.documents.encode_summary(&summary).await?;
            let mut invocation = self.save_view.prepare_invoke();
            for key in self.entry_keys(t, &view.clinic_id) {
                invocation.key(key);
            }
            invocation
                .key(self.versions_key(t))
                .key(self.doc_key(t, &view.plan_id))
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
                .arg(due)
                .arg(unsigned)
                .arg(document)
                .arg(summary);
            pipe.invoke_script(&invocation).ignore();
        }
        let mut checkpoint_update = self.save_checkpoint.prepare_invoke();
        checkpoint_update.key(&self.checkpoint_key).arg(checkpoint);
        pipe.invoke_script(&checkpoint_update).ignore();
        // The batch is idempotent (versions and checkpoint only move
        // forward), so sending it again after a dropped connection is safe.
        self.retrying_within(SAVE_WITHIN, |mut redis| {
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
