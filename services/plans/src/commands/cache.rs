//! The in-process aggregate cache: each hot plan held at its stream
//! revision, with the command ids it has applied, so a command costs the
//! same on a plan of ten events as on one of ten thousand.
//!
//! One slot per plan stream. Commands for a plan queue in its slot and
//! are decided one after another by whoever holds the slot's state, so
//! two commands of this process never race each other for a revision.
//! Slots nobody is using are evicted, least recently used first, when the
//! cache holds more than its byte budget.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::oneshot;
use trellis_kernel::StreamName;
use trellis_plans_domain::{Plan, PlanCommand, PlanId};
use uuid::Uuid;

use super::outcome::{CommandContext, CommandError, CommandOutcome};

/// What an entry of the command-id index costs in memory, roughly.
const BYTES_PER_COMMAND: usize = 48;
/// Fixed cost of a slot (the plan's identities, maps, the slot itself).
const BYTES_PER_SLOT: usize = 1024;

/// A command waiting in its plan's queue.
#[derive(Debug)]
pub(crate) struct Queued {
    pub ctx: CommandContext,
    pub plan_id: PlanId,
    pub command: PlanCommand,
    pub reply: oneshot::Sender<Result<CommandOutcome, CommandError>>,
    /// The submitting request's span, for the store spans below it.
    pub span: tracing::Span,
}

/// A plan as this process knows it.
#[derive(Debug, Clone)]
pub(crate) struct CachedPlan {
    pub plan: Plan,
    /// Events in the stream, i.e. the next revision.
    pub len: u64,
    /// Every command id applied to the plan, with the revision of its last
    /// event: the index retries are recognised by.
    pub commands: HashMap<Uuid, u64>,
    /// Events folded since the stored snapshot (or since the start).
    pub since_snapshot: u64,
    /// Payload bytes folded in, a stand-in for the plan's weight.
    pub payload_bytes: usize,
}

impl CachedPlan {
    pub fn empty() -> Self {
        Self {
            plan: Plan::default(),
            len: 0,
            commands: HashMap::new(),
            since_snapshot: 0,
            payload_bytes: 0,
        }
    }

    /// What this plan costs the cache's budget.
    pub fn weight(&self) -> usize {
        BYTES_PER_SLOT + self.payload_bytes + self.commands.len() * BYTES_PER_COMMAND
    }
}

/// One plan's place in the cache.
#[derive(Debug)]
pub(crate) struct PlanSlot<Q> {
    /// Commands waiting to be decided, in arrival order.
    pub queue: Mutex<Vec<Q>>,
    /// `None` until loaded, and again after a failure left it unsure.
    pub state: Arc<tokio::sync::Mutex<Option<CachedPlan>>>,
    weight: AtomicUsize,
    last_used: AtomicU64,
}

/// Hot plans by stream, bounded by an approximate byte budget.
#[derive(Debug)]
pub(crate) struct AggregateCache<Q> {
    slots: Mutex<HashMap<StreamName, Arc<PlanSlot<Q>>>>,
    budget: usize,
    weight: AtomicUsize,
    clock: AtomicU64,
}

impl<Q> AggregateCache<Q> {
    pub fn new(budget: usize) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            budget,
            weight: AtomicUsize::new(0),
            clock: AtomicU64::new(0),
        }
    }

    /// The slot of `stream`, made on first use.
    pub fn slot(&self, stream: &StreamName) -> Arc<PlanSlot<Q>> {
        let tick = self.clock.fetch_add(1, Ordering::Relaxed);
        let mut slots = self.slots.lock().expect("aggregate cache poisoned");
        let slot = slots.entry(stream.clone()).or_insert_with(|| {
            Arc::new(PlanSlot {
                queue: Mutex::new(Vec::new()),
                state: Arc::new(tokio::sync::Mutex::new(None)),
                weight: AtomicUsize::new(0),
                last_used: AtomicU64::new(0),
            })
        });
        slot.last_used.store(tick, Ordering::Relaxed);
        Arc::clone(slot)
    }

    /// Records what `slot` weighs now (`None`: nothing worth keeping, e.g.
    /// a plan that does not exist) and evicts cold plans when over budget.
    pub fn settle(&self, stream: &StreamName, slot: &PlanSlot<Q>, state: Option<&CachedPlan>) {
        let new = state.map_or(0, CachedPlan::weight);
        let old = slot.weight.swap(new, Ordering::Relaxed);
        if new >= old {
            self.weight.fetch_add(new - old, Ordering::Relaxed);
        } else {
            self.weight.fetch_sub(old - new, Ordering::Relaxed);
        }
        let absent = state.is_none_or(|s| s.len == 0);
        if absent {
            self.forget_if_idle(stream);
        }
        if self.weight.load(Ordering::Relaxed) > self.budget {
            self.evict();
        }
    }

    /// Drops the slot of a stream with nothing in it, unless in use, so
    /// probing random plan ids does not fill the cache.
    fn forget_if_idle(&self, stream: &StreamName) {
        let mut slots = self.slots.lock().expect("aggregate cache poisoned");
        if let Some(slot) = slots.get(stream)
            && Arc::strong_count(slot) <= 2
            && slot.queue.lock().expect("queue poisoned").is_empty()
        {
            // Two holders: the map and the caller settling it.
            let weight = slot.weight.swap(0, Ordering::Relaxed);
            self.weight.fetch_sub(weight, Ordering::Relaxed);
            slots.remove(stream);
        }
    }

    /// Evicts idle slots, coldest first, down to 90% of the budget (so a
    /// full cache does not sort on every command).
    fn evict(&self) {
        let mut slots = self.slots.lock().expect("aggregate cache poisoned");
        let mut idle: Vec<(u64, StreamName)> = slots
            .iter()
            // Only the map holds it: no command is queued or running.
            .filter(|(_, slot)| Arc::strong_count(slot) == 1)
            .map(|(stream, slot)| (slot.last_used.load(Ordering::Relaxed), stream.clone()))
            .collect();
        idle.sort_unstable_by_key(|(tick, _)| *tick);
        let target = self.budget / 10 * 9;
        for (_, stream) in idle {
            if self.weight.load(Ordering::Relaxed) <= target {
                break;
            }
            if let Some(slot) = slots.remove(&stream) {
                let weight = slot.weight.swap(0, Ordering::Relaxed);
                self.weight.fetch_sub(weight, Ordering::Relaxed);
            }
        }
    }

    /// Plans held (for tests and metrics).
    pub fn len(&self) -> usize {
        self.slots.lock().expect("aggregate cache poisoned").len()
    }

    /// Approximate bytes held.
    pub fn weight(&self) -> usize {
        self.weight.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use trellis_kernel::TenantId;

    fn stream(n: u32) -> StreamName {
        StreamName::new(
            TenantId::parse("cache-test").unwrap(),
            "plan",
            &n.to_string(),
        )
        .unwrap()
    }

    fn plan_of(len: u64, payload_bytes: usize) -> CachedPlan {
        CachedPlan {
            len,
            payload_bytes,
            ..CachedPlan::empty()
        }
    }

    #[test]
    fn cold_plans_are_evicted_first_and_busy_ones_never() {
        let cache: AggregateCache<()> = AggregateCache::new(10 * 1024);
        let busy = cache.slot(&stream(0));
        cache.settle(&stream(0), &busy, Some(&plan_of(1, 3000)));
        for n in 1..=6 {
            let slot = cache.slot(&stream(n));
            cache.settle(&stream(n), &slot, Some(&plan_of(1, 1000)));
        }
        // 4 KiB + 6 × 2 KiB is over 10 KiB: the coldest idle ones went.
        assert!(cache.weight() <= 10 * 1024 / 10 * 9, "{}", cache.weight());
        let held: Vec<bool> = (0..=6)
            .map(|n| cache.slots.lock().unwrap().contains_key(&stream(n)))
            .collect();
        assert!(held[0], "a slot in use was evicted");
        assert!(held[6], "the hottest plan was evicted");
        assert!(!held[1], "the coldest plan stayed");
    }

    #[test]
    fn plans_that_do_not_exist_are_not_kept() {
        let cache: AggregateCache<()> = AggregateCache::new(1 << 20);
        let slot = cache.slot(&stream(1));
        cache.settle(&stream(1), &slot, Some(&CachedPlan::empty()));
        drop(slot);
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.weight(), 0);
    }
}
