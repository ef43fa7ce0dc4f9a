//! Reviews: scheduled by the tenant's rule or by hand, and held.

use chrono::NaiveDate;

use super::MAX_REVIEW_INTERVAL_DAYS;
use super::{MAX_PARTICIPANTS, Plan, ReviewState};
use crate::ReviewId;
use crate::command::{HoldReview, ScheduleReview};
use crate::error::{FieldViolation, PlanError};
use crate::event::{
    CorrectionTarget, PlanClosure, PlanEvent, ReviewDecision, ReviewHeld, ReviewOrigin,
    ReviewScheduled,
};
use crate::input::{MAX_SHORT_TEXT, MAX_TEXT, Violations};

impl Plan {
    pub(super) fn schedule_review(
        &self,
        c: &ScheduleReview,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        if c.due_on < today {
            return Err(PlanError::Invalid(vec![FieldViolation::new(
                "due_on",
                "must not be in the past",
            )]));
        }
        if self.reviews.contains_key(&c.review_id) {
            return Err(PlanError::ReviewAlreadyScheduled(c.review_id));
        }
        Ok(vec![PlanEvent::ReviewScheduled(ReviewScheduled {
            review_id: c.review_id,
            due_on: c.due_on,
            origin: ReviewOrigin::ByHand,
        })])
    }

    pub(super) fn hold_review(
        &self,
        c: &HoldReview,
        today: NaiveDate,
    ) -> Result<Vec<PlanEvent>, PlanError> {
        let mut v = Violations::default();
        if c.held_on > today {
            v.push("held_on", "must not be in the future");
        }
        if c.participants.is_empty() {
            v.push("participants", "name at least one participant");
        }
        if c.participants.len() > MAX_PARTICIPANTS {
            v.push(
                "participants",
                format!("at most {MAX_PARTICIPANTS} participants"),
            );
        }
        for p in &c.participants {
            v.required("participants", p, MAX_SHORT_TEXT);
        }
        v.required("summary", &c.summary, MAX_TEXT);
        v.finish()?;
        match self.reviews.get(&c.review_id) {
            None => return Err(PlanError::UnknownReview(c.review_id)),
            Some(ReviewState { held: true, .. }) => {
                return Err(PlanError::ReviewAlreadyHeld(c.review_id));
            }
            Some(ReviewState { held: false, .. }) => {}
        }
        if !self.stands(&CorrectionTarget::Review(c.review_id)) {
            return Err(PlanError::EnteredInError);
        }
        let next_due = match c.next_review {
            Some(next) => Some(next_review_due(c.held_on, next)?),
            None => None,
        };
        let mut events = vec![PlanEvent::ReviewHeld(ReviewHeld {
            review_id: c.review_id,
            held_on: c.held_on,
            participants: c.participants.iter().map(|p| p.trim().to_owned()).collect(),
            summary: c.summary.trim().to_owned(),
            decision: c.decision,
        })];
        if c.decision == ReviewDecision::Discharge {
            events.push(PlanEvent::PlanClosed(crate::event::PlanClosed {
                closure: PlanClosure::Discharged,
                closed_on: c.held_on,
                reason: "discharge decided at review".to_owned(),
            }));
        } else if let (Some(next), Some(due_on)) = (c.next_review, next_due)
            && !self.reviews.contains_key(&next.review_id)
            && !self.has_open_rule_review_besides(c.review_id)
        {
            // Holding any review continues the rule's cadence, unless the
            // rule's next review is already on the calendar; a review
            // scheduled by hand is an extra one and does not stop it.
            events.push(PlanEvent::ReviewScheduled(ReviewScheduled {
                review_id: next.review_id,
                due_on,
                origin: ReviewOrigin::Rule,
            }));
        }
        Ok(events)
    }

    /// An open review other than `except` that still stands.
    pub(super) fn has_open_review_besides(&self, except: ReviewId) -> bool {
        self.open_reviews_besides(except).next().is_some()
    }

    /// An open review other than `except`, scheduled by the rule (or
    /// stored before origins were recorded), that still stands.
    pub(super) fn has_open_rule_review_besides(&self, except: ReviewId) -> bool {
        self.open_reviews_besides(except)
            .any(|r| r.origin != ReviewOrigin::ByHand)
    }

    pub(super) fn open_reviews_besides(
        &self,
        except: ReviewId,
    ) -> impl Iterator<Item = &ReviewState> {
        self.reviews.iter().filter_map(move |(id, r)| {
            (*id != except && !r.held && self.stands(&CorrectionTarget::Review(*id))).then_some(r)
        })
    }
}

/// The date a review is due `next.interval_days` after `from`; the
/// interval is the tenant's rule, checked here all the same.
pub(super) fn next_review_due(
    from: NaiveDate,
    next: crate::command::NextReview,
) -> Result<NaiveDate, PlanError> {
    let out_of_range = || {
        PlanError::Invalid(vec![FieldViolation::new(
            "interval_days",
            format!("must be between 1 and {MAX_REVIEW_INTERVAL_DAYS}"),
        )])
    };
    if !(1..=MAX_REVIEW_INTERVAL_DAYS).contains(&next.interval_days) {
        return Err(out_of_range());
    }
    from.checked_add_days(chrono::Days::new(u64::from(next.interval_days)))
        .ok_or_else(out_of_range)
}
