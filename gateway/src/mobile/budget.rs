//! What the mobile stores promise, whichever keeps them: the traits, and
//! the arithmetic both share.

use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use sha2::{Digest, Sha256};

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

/// What a caller over budget is told: the rule, and that it passes.
pub(crate) const OVER_BUDGET: &str = "the request budget for this minute is used (the clinic network's or this caller's); retry shortly";

/// Within budget: a limit of 0 means none.
pub(crate) fn within(count: u64, limit: u64) -> bool {
    limit == 0 || count <= limit
}

pub fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub(crate) fn current_minute() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 60)
}
