//! The in-memory persisted-query store: bounded by bytes, least recently
//! used first out, and with a per-tenant share so that one tenant
//! registering queries without end evicts only its own.

use std::collections::{BTreeMap, HashMap};

/// What an entry is charged: its text and its key.
fn charge(tenant: &str, hash: &str, query: &str) -> usize {
    tenant.len() + hash.len() + query.len()
}

#[derive(Debug)]
struct Entry {
    query: String,
    /// When it was last used (a counter, not a clock).
    used: u64,
}

#[derive(Debug, Default)]
struct TenantShare {
    bytes: usize,
    /// This tenant's hashes by last use, oldest first.
    by_use: BTreeMap<u64, String>,
}

/// Persisted queries, at most `total` bytes in all and `per_tenant` bytes
/// for any one tenant.
#[derive(Debug)]
pub(crate) struct QueryLru {
    total: usize,
    per_tenant: usize,
    bytes: usize,
    clock: u64,
    entries: HashMap<(String, String), Entry>,
    /// Every (tenant, hash) by last use, oldest first.
    by_use: BTreeMap<u64, (String, String)>,
    tenants: HashMap<String, TenantShare>,
}

impl QueryLru {
    /// A store of at most `total` bytes, a quarter of it for any tenant.
    pub(crate) fn new(total: usize) -> Self {
        Self {
            total,
            per_tenant: total / 4,
            bytes: 0,
            clock: 0,
            entries: HashMap::new(),
            by_use: BTreeMap::new(),
            tenants: HashMap::new(),
        }
    }

    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    pub(crate) fn tenant_bytes(&self, tenant: &str) -> usize {
        self.tenants.get(tenant).map_or(0, |t| t.bytes)
    }

    fn tick(&mut self) -> u64 {
        self.clock += 1;
        self.clock
    }

    /// The query, now the most recently used.
    pub(crate) fn get(&mut self, tenant: &str, hash: &str) -> Option<String> {
        let key = (tenant.to_owned(), hash.to_owned());
        let now = self.tick();
        let entry = self.entries.get_mut(&key)?;
        let before = std::mem::replace(&mut entry.used, now);
        let query = entry.query.clone();
        self.by_use.remove(&before);
        self.by_use.insert(now, key);
        if let Some(share) = self.tenants.get_mut(tenant) {
            share.by_use.remove(&before);
            share.by_use.insert(now, hash.to_owned());
        }
        Some(query)
    }

    /// Keeps the query, evicting the tenant's own least recently used ones
    /// past its share, then anyone's past the total. A query larger than a
    /// tenant's share is not kept (the client sends its text each time).
    pub(crate) fn put(&mut self, tenant: &str, hash: &str, query: &str) {
        let size = charge(tenant, hash, query);
        if size > self.per_tenant {
            return;
        }
        if self.get(tenant, hash).is_some() {
            // The hash names the text: nothing new to keep.
            return;
        }
        while self.tenant_bytes(tenant) + size > self.per_tenant {
            let Some(oldest) = self
                .tenants
                .get(tenant)
                .and_then(|t| t.by_use.first_key_value())
                .map(|(_, hash)| hash.clone())
            else {
                break;
            };
            self.remove(tenant, &oldest);
        }
        while self.bytes + size > self.total {
            let Some((tenant, hash)) = self.by_use.first_key_value().map(|(_, k)| k.clone()) else {
                break;
            };
            self.remove(&tenant, &hash);
        }
        let now = self.tick();
        let key = (tenant.to_owned(), hash.to_owned());
        self.entries.insert(
            key.clone(),
            Entry {
                query: query.to_owned(),
                used: now,
            },
        );
        self.by_use.insert(now, key);
        let share = self.tenants.entry(tenant.to_owned()).or_default();
        share.bytes += size;
        share.by_use.insert(now, hash.to_owned());
        self.bytes += size;
    }

    fn remove(&mut self, tenant: &str, hash: &str) {
        let Some(entry) = self.entries.remove(&(tenant.to_owned(), hash.to_owned())) else {
            return;
        };
        let size = charge(tenant, hash, &entry.query);
        self.by_use.remove(&entry.used);
        self.bytes -= size;
        if let Some(share) = self.tenants.get_mut(tenant) {
            share.by_use.remove(&entry.used);
            share.bytes -= size;
            if share.by_use.is_empty() {
                self.tenants.remove(tenant);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A query of exactly `n` bytes charged with key ("t", 64-hex hash).
    fn query(i: usize, n: usize) -> (String, String) {
        let hash = format!("{i:064}");
        let text = "x".repeat(n - 1 - hash.len());
        (hash, text)
    }

    #[test]
    fn the_least_recently_used_query_goes_first() {
        // 4,000 bytes in all, 1,000 per tenant.
        let mut lru = QueryLru::new(4_000);
        let tenants = ["a", "b", "c", "d", "e"];
        for (i, tenant) in tenants.iter().enumerate() {
            let (hash, text) = query(i, 1_000);
            lru.put(tenant, &hash, &text);
        }
        assert!(lru.bytes() <= 4_000, "{}", lru.bytes());
        // "a" was the oldest when "e" arrived.
        assert_eq!(lru.get("a", &query(0, 1_000).0), None);
        assert!(lru.get("e", &query(4, 1_000).0).is_some());
        // A read makes a query young again: "b" survives the next one.
        assert!(lru.get("b", &query(1, 1_000).0).is_some());
        let (hash, text) = query(5, 1_000);
        lru.put("f", &hash, &text);
        assert!(lru.get("b", &query(1, 1_000).0).is_some());
        assert_eq!(lru.get("c", &query(2, 1_000).0), None);
    }

    #[test]
    fn one_tenant_evicts_only_its_own() {
        let mut lru = QueryLru::new(4_000);
        let (kept_hash, kept) = query(0, 500);
        lru.put("quiet", &kept_hash, &kept);
        for i in 1..200 {
            let (hash, text) = query(i, 300);
            lru.put("noisy", &hash, &text);
            assert!(lru.tenant_bytes("noisy") <= 1_000);
        }
        assert_eq!(lru.get("quiet", &kept_hash).as_deref(), Some(kept.as_str()));
        // The noisy tenant keeps its most recent queries.
        assert!(lru.get("noisy", &query(199, 300).0).is_some());
        assert_eq!(lru.get("noisy", &query(1, 300).0), None);
        assert_eq!(
            lru.bytes(),
            lru.tenant_bytes("quiet") + lru.tenant_bytes("noisy")
        );
    }

    #[test]
    fn what_cannot_fit_is_not_kept_and_zero_keeps_nothing() {
        let mut lru = QueryLru::new(4_000);
        let (hash, text) = query(0, 1_001);
        lru.put("a", &hash, &text);
        assert_eq!(lru.get("a", &hash), None);
        assert_eq!(lru.bytes(), 0);
        let mut off = QueryLru::new(0);
        let (hash, text) = query(1, 100);
        off.put("a", &hash, &text);
        assert_eq!(off.get("a", &hash), None);
    }

    #[test]
    fn registering_again_charges_once() {
        let mut lru = QueryLru::new(4_000);
        let (hash, text) = query(0, 400);
        lru.put("a", &hash, &text);
        lru.put("a", &hash, &text);
        assert_eq!(lru.bytes(), 400);
        assert_eq!(lru.tenant_bytes("a"), 400);
    }
}
