//! Indexing the plans an earlier release wrote, before the compliance
//! lists are read from the indexes. Until `trellis:indexes:<ns>` holds this
//! code's index version, gateways answer the lists from summaries (the
//! default scan); the projector indexes every stored plan, then sets it.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use redis::AsyncCommands;
use trellis_kernel::TenantId;

use super::indexes::index_version;
use super::{RedisReadModels, entry_args};
use crate::ReadModelError;

/// Plans indexed per pipeline.
const CHUNK: usize = 500;

/// `s` as a literal in a SCAN MATCH pattern.
fn glob_literal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

impl RedisReadModels {
    /// Indexes every stored plan of the namespace unless the indexes are
    /// already complete, then marks them so. A namespace nothing was saved
    /// in (a new deployment, a rebuild) is complete at once.
    pub(super) async fn backfill_indexes(&self) -> Result<(), ReadModelError> {
        if self.indexes_ready().await? {
            return Ok(());
        }
        let saved: bool = self
            .retrying(|mut redis| async move { redis.exists(&self.checkpoint_key).await })
            .await?;
        if saved {
            for tenant in self.tenants().await? {
                self.index_tenant(&tenant).await?;
            }
        }
        self.retrying(|mut redis| async move {
            redis
                .set::<_, _, ()>(&self.indexes_key, index_version())
                .await
        })
        .await?;
        self.indexes_ready.store(true, Ordering::Release);
        Ok(())
    }

    /// The tenants with plans in this namespace (each has a versions hash).
    async fn tenants(&self) -> Result<Vec<TenantId>, ReadModelError> {
        let suffix = format!(":{}:plan-versions", self.namespace);
        let pattern = format!("*{}", glob_literal(&suffix));
        let mut tenants = Vec::new();
        let mut cursor = 0u64;
        loop {
            let scan = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(1000)
                .clone();
            let (next, keys): (u64, Vec<String>) = self
                .retrying(|mut redis| {
                    let scan = scan.clone();
                    async move { scan.query_async(&mut redis).await }
                })
                .await?;
            for key in keys {
                match key.strip_suffix(&suffix).map(TenantId::parse) {
                    Some(Ok(tenant)) => tenants.push(tenant),
                    _ => tracing::warn!(key, "not a tenant's plan versions; not indexed"),
                }
            }
            if next == 0 {
                tenants.sort_by(|a, b| a.as_str().cmp(b.as_str()));
                tenants.dedup_by(|a, b| a.as_str() == b.as_str());
                return Ok(tenants);
            }
            cursor = next;
        }
    }

    /// Sets the index entries of every plan of one tenant, each only if
    /// the version it was computed from is still the stored one.
    async fn index_tenant(&self, tenant: &TenantId) -> Result<(), ReadModelError> {
        let t = tenant.as_str();
        let versions_key = self.versions_key(t);
        let versions: HashMap<String, u64> = self
            .retrying(|mut redis| {
                let key = versions_key.clone();
                async move { redis.hgetall(key).await }
            })
            .await?;
        let mut ids: Vec<String> = versions.keys().cloned().collect();
        ids.sort_unstable();
        for ids in ids.chunks(CHUNK) {
            let mut pipe = redis::pipe();
            for summary in self.summaries_of(tenant, ids).await? {
                let Some(version) = versions.get(&summary.plan_id) else {
                    continue;
                };
                let (due, unsigned) = entry_args(&summary);
                let mut invocation = self.index_plan.prepare_invoke();
                for key in self.entry_keys(t, &summary.clinic_id) {
                    invocation.key(key);
                }
                invocation
                    .key(&versions_key)
                    .arg(&summary.plan_id)
                    .arg(version)
                    .arg(due)
                    .arg(unsigned);
                pipe.invoke_script(&invocation).ignore();
            }
            self.retrying(|mut redis| {
                let pipe = pipe.clone();
                async move {
                    self.index_plan
                        .prepare_invoke()
                        .load_async(&mut redis)
                        .await?;
                    pipe.query_async::<()>(&mut redis).await
                }
            })
            .await?;
        }
        Ok(())
    }
}
