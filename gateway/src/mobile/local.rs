//! The mobile state of one process: the embedded server's, and the split
//! gateway's fallback while its Redis is away.

use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;

use super::budget::{QueryCache, RateLimiter, current_minute, within};
use super::lru::QueryLru;

/// Default bound of the in-memory persisted-query store, per process.
pub const DEFAULT_QUERY_CACHE_BYTES: usize = 8 * 1024 * 1024;

/// Counters kept before those of past minutes are dropped.
const COUNTERS_KEPT: usize = 10_000;

/// Requests per tenant, and per tenant and subject, in the current minute.
#[derive(Debug)]
pub(crate) struct MemoryLimiter {
    /// (minute, count) per tenant, and per tenant and subject.
    counts: Mutex<HashMap<(String, String), (u64, u64)>>,
    pub(crate) per_minute: u64,
    pub(crate) per_subject: u64,
}

impl MemoryLimiter {
    pub(crate) fn new(per_minute: u64, per_subject: u64) -> Self {
        Self {
            counts: Mutex::new(HashMap::new()),
            per_minute,
            per_subject,
        }
    }

    pub(crate) fn allow(&self, tenant: &str, subject: &str) -> bool {
        if self.per_minute == 0 && self.per_subject == 0 {
            return true;
        }
        let minute = current_minute();
        let mut counts = self.counts.lock().expect("rate counts poisoned");
        // Counts of past minutes are dead weight: the map stays as small
        // as the callers of the current minute.
        if counts.len() > COUNTERS_KEPT {
            counts.retain(|_, (m, _)| *m == minute);
        }
        let mut count = |key: (String, String)| {
            let entry = counts.entry(key).or_insert((minute, 0));
            if entry.0 != minute {
                *entry = (minute, 0);
            }
            entry.1 += 1;
            entry.1
        };
        let tenant_count = count((tenant.to_owned(), String::new()));
        let subject_count = count((tenant.to_owned(), subject.to_owned()));
        within(tenant_count, self.per_minute) && within(subject_count, self.per_subject)
    }
}

/// In-process state (embedded server).
#[derive(Debug)]
pub struct MemoryMobile {
    queries: Mutex<QueryLru>,
    limiter: MemoryLimiter,
}

impl MemoryMobile {
    /// `per_minute` requests per tenant; 0 means no limit. Persisted
    /// queries are kept up to [`DEFAULT_QUERY_CACHE_BYTES`].
    pub fn new(per_minute: u64) -> Self {
        Self {
            queries: Mutex::new(QueryLru::new(DEFAULT_QUERY_CACHE_BYTES)),
            limiter: MemoryLimiter::new(per_minute, 0),
        }
    }

    /// And at most `per_minute` per caller (token subject); 0: no limit.
    #[must_use]
    pub fn per_subject(mut self, per_minute: u64) -> Self {
        self.limiter.per_subject = per_minute;
        self
    }

    /// Keep persisted queries up to `bytes` in all (text and key), and a
    /// quarter of that for any one tenant; least recently used go first.
    /// 0 keeps none.
    #[must_use]
    pub fn query_cache_bytes(self, bytes: usize) -> Self {
        Self {
            queries: Mutex::new(QueryLru::new(bytes)),
            ..self
        }
    }
}

#[async_trait]
impl QueryCache for MemoryMobile {
    async fn get(&self, tenant: &str, hash: &str) -> Option<String> {
        self.queries
            .lock()
            .expect("query cache poisoned")
            .get(tenant, hash)
    }

    async fn put(&self, tenant: &str, hash: &str, query: &str) {
        self.queries
            .lock()
            .expect("query cache poisoned")
            .put(tenant, hash, query);
    }
}

#[async_trait]
impl RateLimiter for MemoryMobile {
    async fn allow(&self, tenant: &str, subject: &str) -> bool {
        self.limiter.allow(tenant, subject)
    }
}

#[cfg(test)]
mod tests {
    use super::super::budget::sha256_hex;
    use super::*;

    #[tokio::test]
    async fn the_budget_is_per_tenant_and_per_minute() {
        let limiter = MemoryMobile::new(2);
        assert!(limiter.allow("a", "x").await);
        assert!(limiter.allow("a", "y").await);
        assert!(
            !limiter.allow("a", "z").await,
            "third request in the minute"
        );
        assert!(
            limiter.allow("b", "x").await,
            "another tenant has its own budget"
        );
        assert!(
            MemoryMobile::new(0).allow("a", "x").await,
            "0 means no limit"
        );
    }

    #[tokio::test]
    async fn one_caller_cannot_spend_the_tenants_budget() {
        let limiter = MemoryMobile::new(100).per_subject(2);
        assert!(limiter.allow("a", "phone-1").await);
        assert!(limiter.allow("a", "phone-1").await);
        assert!(!limiter.allow("a", "phone-1").await, "over its own budget");
        assert!(
            limiter.allow("a", "clin-3").await,
            "others of the tenant go on"
        );
    }

    #[tokio::test]
    async fn persisted_queries_are_kept_per_tenant() {
        let cache = MemoryMobile::new(0);
        let hash = sha256_hex("{ plans { edges { cursor } } }");
        cache
            .put("a", &hash, "{ plans { edges { cursor } } }")
            .await;
        assert!(cache.get("a", &hash).await.is_some());
        assert_eq!(cache.get("b", &hash).await, None);
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[tokio::test]
    async fn the_persisted_query_store_is_bounded_by_bytes() {
        let cache = MemoryMobile::new(0).query_cache_bytes(64 * 1024);
        let mut kept = Vec::new();
        for i in 0..200 {
            let query = format!("{{ plan(id: \"{i}\") {{ {} }} }}", "title ".repeat(100));
            let hash = sha256_hex(&query);
            cache.put("a", &hash, &query).await;
            kept.push(hash);
        }
        let bytes = cache.queries.lock().unwrap().bytes();
        assert!(bytes <= 16 * 1024, "a tenant's share is a quarter: {bytes}");
        assert!(
            cache.get("a", &kept[199]).await.is_some(),
            "the newest stays"
        );
        assert_eq!(cache.get("a", &kept[0]).await, None, "the oldest went");
    }
}
