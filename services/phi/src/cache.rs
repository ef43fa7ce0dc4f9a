//! Unwrapped data keys held by a process, each for a while only: a key
//! another process destroyed (a client erased) is forgotten here within
//! [`KeyCache::RECHECK`], and then reads as erased. Expired keys are
//! dropped (and wiped) by a sweep once a period.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use trellis_kernel::TenantId;
use uuid::Uuid;

use crate::seal::SecretKey;

/// What the directory said of a key when last asked.
#[derive(Clone)]
pub(crate) enum Held {
    Key(SecretKey),
    Erased,
}

pub(crate) struct KeyCache {
    held: Mutex<Cached>,
}

/// The keys, and when expired ones were last dropped.
struct Cached {
    keys: HashMap<(TenantId, Uuid), (Held, Instant)>,
    swept: Instant,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self {
            held: Mutex::new(Cached {
                keys: HashMap::new(),
                swept: Instant::now(),
            }),
        }
    }
}

impl KeyCache {
    /// How long a key is used before the directory is asked again.
    pub(crate) const RECHECK: Duration = Duration::from_secs(30);

    pub(crate) fn get(&self, tenant: &TenantId, key_id: Uuid) -> Option<Held> {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        let key = (tenant.clone(), key_id);
        match held.keys.get(&key) {
            Some((entry, at)) if at.elapsed() < Self::RECHECK => Some(entry.clone()),
            Some(_) => {
                held.keys.remove(&key);
                None
            }
            None => None,
        }
    }

    pub(crate) fn put(&self, tenant: &TenantId, key_id: Uuid, entry: Held) {
        let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
        // Keys nobody asked for within the period leave memory too, not
        // only when asked for again: swept once a period (a sweep on every
        // miss would make warming n keys cost n²).
        if held.swept.elapsed() >= Self::RECHECK {
            held.keys.retain(|_, (_, at)| at.elapsed() < Self::RECHECK);
            held.swept = Instant::now();
        }
        held.keys
            .insert((tenant.clone(), key_id), (entry, Instant::now()));
    }
}
