//! Plan documents the projector has folded but not yet saved.
//!
//! The projector folds events as they arrive and saves what changed in the
//! background, one save at a time (write-behind). A reader in the same
//! process that asks for a plan gets it from here while its save is still
//! running, so what a command changed shows within a fold, not a write of
//! every large document a batch touched. Nothing here is the record: the
//! events are, and a projector restarted from its checkpoint folds the same
//! documents again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use trellis_kernel::RecordedEvent;

use crate::{PlanView, apply_event};

/// A plan's key: tenant and plan id.
pub(crate) type PlanKey = (String, String);

/// The folded, unsaved documents, shared by the projector that folds them
/// and the readers of its process ([`crate::CachedReadModels::showing_unsaved`]).
#[derive(Debug, Default)]
pub struct UnsavedViews {
    /// `None`: the plan's stream has events but no creation yet. Shared
    /// (`Arc`) with the save and the readers that took a copy, so the lock
    /// is not held while a large document is copied for them.
    views: Mutex<HashMap<PlanKey, Option<Arc<PlanView>>>>,
}

impl UnsavedViews {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<PlanKey, Option<Arc<PlanView>>>> {
        self.views.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The plan as folded so far, when it is folded but not yet saved.
    pub fn plan(&self, tenant: &str, plan_id: &str) -> Option<PlanView> {
        let shared = self
            .lock()
            .get(&(tenant.to_owned(), plan_id.to_owned()))
            .and_then(Clone::clone);
        shared.map(|view| PlanView::clone(&view))
    }

    pub(crate) fn holds(&self, key: &PlanKey) -> bool {
        self.lock().contains_key(key)
    }

    /// Starts folding onto `saved`, what the read models hold for `key`;
    /// a plan already held keeps what was folded onto it.
    pub(crate) fn adopt(&self, key: PlanKey, saved: Option<PlanView>) {
        self.lock().entry(key).or_insert(saved.map(Arc::new));
    }

    /// Applies `event` to the plan of `key` (adopted before). An event that
    /// cannot be projected is left out and answered as an error. Only the
    /// projector folds, so nothing changes the plan between the two locks
    /// below; a reader meanwhile gets the version before this event.
    pub(crate) fn fold(&self, key: &PlanKey, event: &RecordedEvent) -> Result<(), ()> {
        let shared = {
            let mut views = self.lock();
            let slot = views.entry(key.clone()).or_default();
            // No save or reader holds it: changed in place.
            if slot
                .as_mut()
                .is_none_or(|view| Arc::get_mut(view).is_some())
            {
                let mut folded = slot.take().map(Arc::unwrap_or_clone);
                let applied = apply_event(&mut folded, event).map_err(drop);
                *slot = folded.map(Arc::new);
                return applied;
            }
            slot.clone()
        };
        // Held by a save or a reader: copied outside the lock, which
        // readers of other plans share.
        let mut view = shared.map(Arc::unwrap_or_clone);
        let applied = apply_event(&mut view, event).map_err(drop);
        self.lock().insert(key.clone(), view.map(Arc::new));
        applied
    }

    /// The plans of `keys` as they are now (what a save writes), and the
    /// version each key is at (0 for a plan not yet created), which
    /// [`UnsavedViews::forget_saved`] takes once the save is done.
    pub(crate) fn snapshot(
        &self,
        keys: impl IntoIterator<Item = PlanKey>,
    ) -> (Vec<Arc<PlanView>>, Vec<(PlanKey, u64)>) {
        let views = self.lock();
        let mut plans = Vec::new();
        let mut versions = Vec::new();
        for key in keys {
            let plan = views.get(&key).cloned().flatten();
            versions.push((key, plan.as_ref().map_or(0, |p| p.version)));
            plans.extend(plan);
        }
        (plans, versions)
    }

    /// After a save of these versions: plans not folded further since are
    /// now in the read models and need not be held.
    pub(crate) fn forget_saved(&self, saved: &[(PlanKey, u64)]) {
        let mut views = self.lock();
        for (key, version) in saved {
            if views
                .get(key)
                .is_some_and(|v| v.as_ref().is_none_or(|v| v.version <= *version))
            {
                views.remove(key);
            }
        }
    }

    /// How many plans are held.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Forgets everything: the projector starts again from its checkpoint.
    pub(crate) fn clear(&self) {
        self.lock().clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::view::tests::{created, goal, recorded};

    fn key() -> PlanKey {
        ("northside".into(), "p1".into())
    }

    #[test]
    fn a_plan_folded_again_while_saving_stays_held_and_readers_keep_their_copy() {
        let unsaved = UnsavedViews::default();
        unsaved.adopt(key(), None);
        unsaved.fold(&key(), &recorded(0, &created())).unwrap();
        unsaved.fold(&key(), &recorded(1, &goal())).unwrap();
        let (saving, versions) = unsaved.snapshot([key()]);
        assert_eq!(versions, vec![(key(), 1)]);
        let read = unsaved.plan("northside", "p1").expect("held");

        unsaved.fold(&key(), &recorded(2, &goal())).unwrap();
        assert_eq!(saving[0].version, 1, "the save keeps what it took");
        assert_eq!(read.version, 1);
        unsaved.forget_saved(&[(key(), 1)]);
        let held = unsaved.plan("northside", "p1").expect("folded since");
        assert_eq!((held.version, held.goals.len()), (2, 2));

        unsaved.forget_saved(&[(key(), 2)]);
        assert_eq!(unsaved.plan("northside", "p1"), None);
        assert_eq!(unsaved.len(), 0);
    }
}
