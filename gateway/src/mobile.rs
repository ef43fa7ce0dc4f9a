//! What mobile clients lean on: automatic persisted queries (send a hash
//! instead of the query text) and a per-tenant request budget.
//!
//! Both keep their state in Redis when the gateway runs as several
//! instances, or in memory in the embedded server. Keys begin with the
//! tenant, like every other key.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::ConnectionManager;
use sha2::{Digest, Sha256};

/// How long a persisted query is remembered after its last registration.
const QUERY_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Queries kept in memory at most (embedded).
const MEMORY_QUERIES: usize = 10_000;

/// Where persisted queries live, by tenant and SHA-256 of the text.
#[async_trait]
pub trait QueryCache: Send + Sync + 'static {
    async fn get(&self, tenant: &str, hash: &str) -> Option<String>;
    async fn put(&self, tenant: &str, hash: &str, query: &str);
}

/// Counts requests per tenant and per caller, per minute: one noisy app
/// or person cannot spend a whole clinic network's budget.
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// True while `tenant`, and `subject` within it, are within their
    /// budgets for the current minute.
    async fn allow(&self, tenant: &str, subject: &str) -> bool;
}

/// Within budget: a limit of 0 means none.
fn within(count: u64, limit: u64) -> bool {
    limit == 0 || count <= limit
}

pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn current_minute() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60)
}

/// In-process state (embedded server).
#[derive(Debug)]
pub struct MemoryMobile {
    queries: Mutex<HashMap<(String, String), String>>,
    /// (minute, count) per tenant, and per tenant and subject.
    counts: Mutex<HashMap<(String, String), (u64, u64)>>,
    per_minute: u64,
    per_subject: u64,
}

impl MemoryMobile {
    /// `per_minute` requests per tenant; 0 means no limit.
    pub fn new(per_minute: u64) -> Self {
        Self {
            queries: Mutex::new(HashMap::new()),
            counts: Mutex::new(HashMap::new()),
            per_minute,
            per_subject: 0,
        }
    }

    /// And at most `per_minute` per caller (token subject); 0: no limit.
    #[must_use]
    pub fn per_subject(mut self, per_minute: u64) -> Self {
        self.per_subject = per_minute;
        self
    }
}

#[async_trait]
impl QueryCache for MemoryMobile {
    async fn get(&self, tenant: &str, hash: &str) -> Option<String> {
        self.queries
            .lock()
            .expect("query cache poisoned")
            .get(&(tenant.to_owned(), hash.to_owned()))
            .cloned()
    }

    async fn put(&self, tenant: &str, hash: &str, query: &str) {
        let mut queries = self.queries.lock().expect("query cache poisoned");
        if queries.len() >= MEMORY_QUERIES {
            queries.clear();
        }
        queries.insert((tenant.to_owned(), hash.to_owned()), query.to_owned());
    }
}

#[async_trait]
impl RateLimiter for MemoryMobile {
    async fn allow(&self, tenant: &str, subject: &str) -> bool {
        if self.per_minute == 0 && self.per_subject == 0 {
            return true;
        }
        let minute = current_minute();
        let mut counts = self.counts.lock().expect("rate counts poisoned");
        // Counts of past minutes are dead weight: the map stays as small
        // as the callers of the current minute.
        if counts.len() > MEMORY_QUERIES {
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

/// Shared state in Redis (several gateway instances).
#[derive(Clone)]
pub struct RedisMobile {
    redis: ConnectionManager,
    per_minute: u64,
    per_subject: u64,
}

impl std::fmt::Debug for RedisMobile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisMobile")
            .field("per_minute", &self.per_minute)
            .finish_non_exhaustive()
    }
}

impl RedisMobile {
    pub async fn connect(url: &str, per_minute: u64) -> Result<Self, redis::RedisError> {
        let redis = ConnectionManager::new(redis::Client::open(url)?).await?;
        Ok(Self {
            redis,
            per_minute,
            per_subject: 0,
        })
    }

    /// And at most `per_minute` per caller (token subject); 0: no limit.
    #[must_use]
    pub fn per_subject(mut self, per_minute: u64) -> Self {
        self.per_subject = per_minute;
        self
    }
}

#[async_trait]
impl QueryCache for RedisMobile {
    async fn get(&self, tenant: &str, hash: &str) -> Option<String> {
        let mut redis = self.redis.clone();
        redis
            .get(format!("{tenant}:trellis:apq:{hash}"))
            .await
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "persisted query lookup failed");
                None
            })
    }

    async fn put(&self, tenant: &str, hash: &str, query: &str) {
        let mut redis = self.redis.clone();
        let stored: Result<(), _> = redis
            .set_ex(
                format!("{tenant}:trellis:apq:{hash}"),
                query,
                QUERY_TTL.as_secs(),
            )
            .await;
        if let Err(e) = stored {
            tracing::warn!(error = %e, "persisted query not stored");
        }
    }
}

#[async_trait]
impl RateLimiter for RedisMobile {
    async fn allow(&self, tenant: &str, subject: &str) -> bool {
        if self.per_minute == 0 && self.per_subject == 0 {
            return true;
        }
        let minute = current_minute();
        let key = format!("{tenant}:trellis:rate:{minute}");
        // The subject is hashed into the key: ids stay out of Redis keys.
        let subject_key = format!(
            "{tenant}:trellis:rate:{minute}:{}",
            &sha256_hex(subject)[..16]
        );
        let mut redis = self.redis.clone();
        let counted: Result<(u64, (), u64, ()), _> = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .expire(&key, 120)
            .incr(&subject_key, 1)
            .expire(&subject_key, 120)
            .query_async(&mut redis)
            .await;
        match counted {
            Ok((count, (), subject_count, ())) => {
                within(count, self.per_minute) && within(subject_count, self.per_subject)
            }
            Err(e) => {
                // Fail open: an unavailable limiter must not stop care.
                tracing::warn!(error = %e, "rate limiter unavailable; request allowed");
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
}
