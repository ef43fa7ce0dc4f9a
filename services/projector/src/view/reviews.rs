//! Reviews: when due, held, and where they came from.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use trellis_kernel::RecordedEvent;
use trellis_plans_domain::{PlanEvent, ReviewDecision, ReviewOrigin};

use super::PlanView;

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

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewView {
    pub review_id: String,
    pub due_on: NaiveDate,
    pub held_on: Option<NaiveDate>,
    pub participants: Vec<String>,
    pub summary: Option<String>,
    pub decision: Option<ReviewDecision>,
    #[serde(default)]
    pub entered_in_error: Option<String>,
    /// Scheduled by the tenant's rule or by hand.
    #[serde(default = "unrecorded_origin")]
    pub origin: ReviewOrigin,
}

fn unrecorded_origin() -> ReviewOrigin {
    ReviewOrigin::Unrecorded
}
