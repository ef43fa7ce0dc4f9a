//! Reviews: due, held, and whether the rule or a clinician scheduled them.

use async_graphql::{Enum, ID, Object};
use trellis_projector::ReviewView;
use trellis_projector::compliance::ReviewStanding;

use crate::contract;

/// Why a review is on the plan's calendar.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "ReviewOrigin", remote = "trellis_plans_domain::ReviewOrigin")]
pub enum GqlReviewOrigin {
    /// Scheduled by the tenant's review rule (at activation, or when a
    /// review was held): the plan's regular cadence.
    Rule,
    /// Scheduled by a clinician besides the cadence.
    ByHand,
    /// Scheduled before Trellis recorded the origin.
    Unrecorded,
}

#[derive(Debug)]
pub struct Review<'a>(pub(crate) &'a ReviewView);

#[Object]
impl Review<'_> {
    async fn id(&self) -> ID {
        ID(self.0.review_id.clone())
    }
    async fn due_on(&self) -> String {
        self.0.due_on.to_string()
    }
    async fn held(&self) -> bool {
        self.0.held_on.is_some()
    }
    async fn held_on(&self) -> Option<String> {
        self.0.held_on.map(|d| d.to_string())
    }
    async fn participants(&self) -> &[String] {
        &self.0.participants
    }
    async fn summary(&self) -> Option<&str> {
        self.0.summary.as_deref()
    }
    /// Why this review was marked entered in error; null when it stands.
    async fn entered_in_error(&self) -> Option<&str> {
        self.0.entered_in_error.as_deref()
    }
    async fn decision(&self) -> Option<contract::ReviewDecision> {
        self.0.decision.map(Into::into)
    }
    /// Whether the tenant's rule or a clinician scheduled it. Holding any
    /// review schedules the rule's next one unless a review by the rule is
    /// still open; a review by hand never stops the cadence.
    async fn origin(&self) -> GqlReviewOrigin {
        self.0.origin.into()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "ReviewStanding")]
pub enum GqlReviewStanding {
    NotScheduled,
    OnSchedule,
    /// Due within 14 days.
    DueSoon,
    Overdue,
}

pub(crate) fn standing(s: ReviewStanding) -> GqlReviewStanding {
    match s {
        ReviewStanding::NotScheduled => GqlReviewStanding::NotScheduled,
        ReviewStanding::OnSchedule => GqlReviewStanding::OnSchedule,
        ReviewStanding::DueSoon => GqlReviewStanding::DueSoon,
        ReviewStanding::Overdue => GqlReviewStanding::Overdue,
    }
}
