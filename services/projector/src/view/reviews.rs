//! Folds review events: when due, held, and where they came from.

use trellis_kernel::RecordedEvent;
use trellis_plans_domain::PlanEvent;

use super::plan::{PlanView, ReviewView};

pub(super) fn apply(view: &mut PlanView, event: PlanEvent, _recorded: &RecordedEvent) {
    match event {
        PlanEvent::ReviewScheduled(e) => view.reviews.push(ReviewView {
            review_id: e.review_id.to_string(),
            due_on: e.due_on,
            held_on: None,
            participants: Vec::new(),
            summary: None,
            decision: None,
            entered_in_error: None,
            origin: e.origin,
        }),
        PlanEvent::ReviewHeld(e) => {
            let id = e.review_id.to_string();
            if let Some(review) = view.reviews.iter_mut().find(|r| r.review_id == id) {
                review.held_on = Some(e.held_on);
                review.participants = e.participants;
                review.summary = Some(e.summary);
                review.decision = Some(e.decision);
            }
        }
        _ => {}
    }
}
