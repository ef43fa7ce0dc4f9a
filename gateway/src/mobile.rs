//! What mobile clients lean on: automatic persisted queries (send a hash
//! instead of the query text) and a per-tenant request budget.
//!
//! Both keep their state in Redis when the gateway runs as several
//! instances (`RedisMobile`), or in memory in the embedded server
//! (`MemoryMobile`, persisted queries bounded by bytes). Keys begin with
//! the tenant, like every other key.

mod budget;
mod in_redis;
mod local;
mod lru;

pub(crate) use budget::OVER_BUDGET;
pub use budget::{QueryCache, RateLimiter, sha256_hex};
pub use in_redis::{QUERY_TTL, RedisMobile};
pub use local::{DEFAULT_QUERY_CACHE_BYTES, MemoryMobile};
