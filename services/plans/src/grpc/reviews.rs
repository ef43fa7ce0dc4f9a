//! Reviews on the wire.

use trellis_auth::Caller;
use trellis_plans_domain::NextReview;
use trellis_plans_domain::{HoldReview, PlanCommand, ReviewId, ScheduleReview, derive_id};
use trellis_proto::plans::v1 as pb;

use super::fields::{Fields, Mapped};
use super::wire::review_decision;

pub(super) fn schedule_review(
    caller: &Caller,
    r: &pb::ScheduleReviewRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let pb::ScheduleReviewRequest {
        command_id,
        plan_id,
        review_id,
        due_on,
    } = r;
    let command_id = f.command_id(command_id);
    let plan_id = f.plan_id(plan_id);
    let review_id = f.new_id("review_id", review_id, caller, command_id);
    let due_on = f.date("due_on", due_on);
    let review_id = ReviewId(review_id?);
    Some(Mapped {
        plan_id: plan_id?,
        command_id: command_id?,
        entity_id: review_id.0,
        command: PlanCommand::ScheduleReview(ScheduleReview {
            review_id,
            due_on: due_on?,
        }),
    })
}

pub(super) fn hold_review(
    caller: &Caller,
    r: &pb::HoldReviewRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let pb::HoldReviewRequest {
        command_id,
        plan_id,
        review_id,
        held_on,
        participants,
        summary,
        decision,
    } = r;
    let command_id = f.command_id(command_id);
    let plan_id = f.plan_id(plan_id);
    let review_id = f.uuid("review_id", review_id).map(ReviewId);
    let held_on = f.date("held_on", held_on);
    let decision = f.choice("decision", review_decision(*decision));
    let review_id = review_id?;
    Some(Mapped {
        plan_id: plan_id?,
        command_id: command_id?,
        entity_id: review_id.0,
        command: PlanCommand::HoldReview(HoldReview {
            review_id,
            held_on: held_on?,
            participants: participants.clone(),
            summary: summary.clone(),
            decision: decision?,
            // The service puts the tenant's interval in.
            next_review: Some(NextReview {
                review_id: ReviewId(derive_id(
                    caller.tenant.as_str(),
                    command_id?,
                    "next_review",
                )),
                interval_days: 0,
            }),
        }),
    })
}
