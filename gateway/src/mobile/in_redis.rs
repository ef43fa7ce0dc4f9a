//! The split gateways' shared mobile state, in Redis.
//!
//! Persisted queries expire [`QUERY_TTL`] after they were registered
//! (clients register them again when told `PERSISTED_QUERY_NOT_FOUND`).
//! While Redis does not answer, the budgets are counted in this process
//! instead, with the same limits (so each gateway instance allows up to the
//! whole budget on its own), persisted queries miss, and one warning says
//! so; Redis is asked again at most once a second and takes over as soon
//! as it answers.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::budget::{QueryCache, RateLimiter, current_minute, sha256_hex, within};
use super::local::MemoryLimiter;

/// How long a persisted query is remembered after its last registration.
pub const QUERY_TTL: Duration = Duration::from_secs(24 * 3600);
/// Longest a request waits for Redis before the local fallback decides.
const REDIS_WAIT: Duration = Duration::from_millis(500);
/// How often Redis is asked again while it is away.
const RETRY_EVERY: Duration = Duration::from_secs(1);

/// Whether Redis is away, and when it may be asked again.
#[derive(Debug, Default)]
struct Outage {
    retry_at: Mutex<Option<Instant>>,
}

impl Outage {
    /// True when this request should go to Redis: it answers, or this
    /// request is the one that asks again (the others skip it meanwhile).
    fn try_redis(&self) -> bool {
        let mut retry_at = self.retry_at.lock().expect("outage state poisoned");
        match *retry_at {
            None => true,
            Some(at) if Instant::now() >= at => {
                *retry_at = Some(Instant::now() + RETRY_EVERY);
                true
            }
            Some(_) => false,
        }
    }

    fn failed(&self, error: &dyn std::fmt::Display) {
        let mut retry_at = self.retry_at.lock().expect("outage state poisoned");
        if retry_at.is_none() {
            tracing::warn!(
                error = %error,
                "Redis unavailable: request budgets are counted in this process and persisted queries miss until it answers"
            );
        }
        *retry_at = Some(Instant::now() + RETRY_EVERY);
    }

    fn answered(&self) {
        let mut retry_at = self.retry_at.lock().expect("outage state poisoned");
        if retry_at.take().is_some() {
            tracing::info!("Redis answers again: request budgets are shared again");
        }
    }
}

/// Shared state in Redis (several gateway instances).
#[derive(Clone)]
pub struct RedisMobile {
    redis: ConnectionManager,
    local: Arc<MemoryLimiter>,
    outage: Arc<Outage>,
}

impl std::fmt::Debug for RedisMobile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisMobile")
            .field("per_minute", &self.local.per_minute)
            .field("per_subject", &self.local.per_subject)
            .finish_non_exhaustive()
    }
}

fn manager_config() -> ConnectionManagerConfig {
    ConnectionManagerConfig::new()
        .set_connection_timeout(Some(REDIS_WAIT))
        .set_response_timeout(Some(REDIS_WAIT))
        .set_number_of_retries(2)
}

impl RedisMobile {
    /// Connects now: fails when Redis cannot be reached at start.
    pub async fn connect(url: &str, per_minute: u64) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let redis = ConnectionManager::new_with_config(client, manager_config()).await?;
        Ok(Self::with(redis, per_minute))
    }

    /// Connects on first use; until Redis answers, the local fallback
    /// decides.
    pub fn lazy(url: &str, per_minute: u64) -> Result<Self, redis::RedisError> {
        let client = redis::Client::open(url)?;
        let redis = ConnectionManager::new_lazy_with_config(client, manager_config())?;
        Ok(Self::with(redis, per_minute))
    }

    fn with(redis: ConnectionManager, per_minute: u64) -> Self {
        Self {
            redis,
            local: Arc::new(MemoryLimiter::new(per_minute, 0)),
            outage: Arc::new(Outage::default()),
        }
    }

    /// And at most `per_minute` per caller (token subject); 0: no limit.
    #[must_use]
    pub fn per_subject(self, per_minute: u64) -> Self {
        let per_tenant = self.local.per_minute;
        Self {
            local: Arc::new(MemoryLimiter::new(per_tenant, per_minute)),
            ..self
        }
    }

    /// Runs `command` against Redis unless it is known to be away; `None`
    /// when it is, or does not answer in time (noted once per outage).
    async fn ask<T, F>(&self, command: F) -> Option<T>
    where
        F: std::future::Future<Output = redis::RedisResult<T>>,
    {
        if !self.outage.try_redis() {
            return None;
        }
        match tokio::time::timeout(REDIS_WAIT, command).await {
            Ok(Ok(answer)) => {
                self.outage.answered();
                Some(answer)
            }
            Ok(Err(e)) => {
                self.outage.failed(&e);
                None
            }
            Err(_) => {
                self.outage.failed(&"no answer in time");
                None
            }
        }
    }
}

fn query_key(tenant: &str, hash: &str) -> String {
    format!("{tenant}:trellis:apq:{hash}")
}

#[async_trait]
impl QueryCache for RedisMobile {
    async fn get(&self, tenant: &str, hash: &str) -> Option<String> {
        let mut redis = self.redis.clone();
        let key = query_key(tenant, hash);
        let found: Option<Option<String>> = self.ask(redis.get(&key)).await;
        found.flatten()
    }

    async fn put(&self, tenant: &str, hash: &str, query: &str) {
        let mut redis = self.redis.clone();
        let key = query_key(tenant, hash);
        let _: Option<()> = self
            .ask(redis.set_ex(&key, query, QUERY_TTL.as_secs()))
            .await;
    }
}

#[async_trait]
impl RateLimiter for RedisMobile {
    async fn allow(&self, tenant: &str, subject: &str) -> bool {
        let (per_minute, per_subject) = (self.local.per_minute, self.local.per_subject);
        if per_minute == 0 && per_subject == 0 {
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
        let pipe = redis::pipe()
            .atomic()
            .incr(&key, 1)
            .expire(&key, 120)
            .incr(&subject_key, 1)
            .expire(&subject_key, 120)
            .to_owned();
        let counted: Option<(u64, (), u64, ())> = self.ask(pipe.query_async(&mut redis)).await;
        match counted {
            Some((count, (), subject_count, ())) => {
                within(count, per_minute) && within(subject_count, per_subject)
            }
            // Redis is away: the same budgets, counted here. Neither open
            // (anyone could flood) nor shut (care would stop).
            None => self.local.allow(tenant, subject),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_redis_the_budget_is_kept_locally() {
        // Nothing listens on port 1: every attempt is refused.
        let limiter = RedisMobile::lazy("redis://127.0.0.1:1", 4)
            .unwrap()
            .per_subject(2);
        assert!(limiter.allow("a", "phone-1").await);
        assert!(limiter.allow("a", "phone-1").await);
        assert!(
            !limiter.allow("a", "phone-1").await,
            "over the caller's budget although Redis is away"
        );
        assert!(limiter.allow("a", "phone-2").await);
        assert!(
            !limiter.allow("a", "phone-3").await,
            "over the tenant's budget although Redis is away"
        );
        assert!(limiter.outage.retry_at.lock().unwrap().is_some());
        // Persisted queries miss rather than fail.
        limiter.put("a", "abc", "{ __typename }").await;
        assert_eq!(limiter.get("a", "abc").await, None);
    }

    #[test]
    fn an_outage_is_reported_once_and_retried_by_one_request_a_second() {
        let outage = Outage::default();
        assert!(outage.try_redis());
        outage.failed(&"refused");
        assert!(!outage.try_redis(), "within the second: local");
        *outage.retry_at.lock().unwrap() = Some(Instant::now());
        assert!(outage.try_redis(), "one request asks again");
        assert!(!outage.try_redis(), "the others meanwhile do not");
        outage.answered();
        assert!(outage.try_redis());
        assert!(outage.retry_at.lock().unwrap().is_none());
    }
}
