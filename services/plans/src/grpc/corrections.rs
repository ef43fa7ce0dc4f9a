//! Entered-in-error corrections on the wire.

use trellis_auth::Caller;
use trellis_plans_domain::{CorrectionTarget, EnterInError, InterventionId, ReferralId};
use trellis_plans_domain::{GoalId, MeasureId, ObjectiveId, PlanCommand, ReviewId};
use trellis_proto::plans::v1 as pb;

use super::fields::{Fields, Mapped};

pub(super) fn enter_in_error(
    _caller: &Caller,
    r: &pb::EnterInErrorRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let pb::EnterInErrorRequest {
        command_id,
        plan_id,
        kind,
        entry_id,
        reason,
    } = r;
    let command_id = f.command_id(command_id);
    let plan_id = f.plan_id(plan_id);
    let kind = f.choice(
        "kind",
        pb::EntryKind::try_from(*kind)
            .ok()
            .filter(|k| *k != pb::EntryKind::Unspecified),
    );
    // Diagnoses are named by code; every other entry by its id.
    let entry = match kind {
        Some(pb::EntryKind::Diagnosis) => {
            if entry_id.trim().is_empty() {
                f.violation("entry_id", "is required");
            }
            None
        }
        _ => f.uuid("entry_id", entry_id),
    };
    let plan_id = plan_id?;
    let target = match kind? {
        pb::EntryKind::Goal => CorrectionTarget::Goal(GoalId(entry?)),
        pb::EntryKind::Objective => CorrectionTarget::Objective(ObjectiveId(entry?)),
        pb::EntryKind::Intervention => CorrectionTarget::Intervention(InterventionId(entry?)),
        pb::EntryKind::Measure => CorrectionTarget::Measure(MeasureId(entry?)),
        pb::EntryKind::Referral => CorrectionTarget::Referral(ReferralId(entry?)),
        pb::EntryKind::Review => CorrectionTarget::Review(ReviewId(entry?)),
        pb::EntryKind::Diagnosis => {
            CorrectionTarget::Diagnosis(entry_id.trim().to_ascii_uppercase())
        }
        pb::EntryKind::Unspecified => return None,
    };
    Some(Mapped {
        plan_id,
        command_id: command_id?,
        entity_id: entry.unwrap_or(plan_id.0),
        command: PlanCommand::EnterInError(EnterInError {
            target,
            reason: reason.clone(),
        }),
    })
}
