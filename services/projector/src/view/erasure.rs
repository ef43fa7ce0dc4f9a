//! A plan whose client was erased: rebuilt from the erasure event alone
//! (the events before it no longer open), with its shape, its status and
//! who treated under it, and nothing of its content.

use trellis_kernel::RecordedEvent;
use trellis_plans_domain::{ClientErased, ErasureBasis, PlanClosure, PlanStatus};

use super::plan::{ErasureView, LifecycleView, PlanView};

/// The title an erased plan shows.
pub const ERASED_TITLE: &str = "erased";

pub(super) fn erased_view(e: ClientErased, recorded: &RecordedEvent) -> PlanView {
    PlanView {
        tenant: recorded.tenant().to_string(),
        plan_id: e.plan_id.to_string(),
        client_id: String::new(),
        primary_clinician_id: e.primary_clinician_id,
        clinic_id: e.clinic_id,
        care_team: e.care_team,
        title: ERASED_TITLE.into(),
        created_on: e.erased_on,
        version: recorded.revision,
        updated_at: recorded.recorded_at,
        record_hash: recorded.hash.to_hex(),
        status: match e.status {
            PlanStatus::New | PlanStatus::Draft => LifecycleView::Draft,
            PlanStatus::Active => LifecycleView::Active,
            PlanStatus::OnHold => LifecycleView::OnHold,
            PlanStatus::Closed(PlanClosure::Completed) => LifecycleView::Completed,
            PlanStatus::Closed(PlanClosure::Discharged) => LifecycleView::Discharged,
            PlanStatus::Closed(PlanClosure::Transferred) => LifecycleView::Transferred,
        },
        erasure: Some(ErasureView {
            erased_on: e.erased_on,
            basis: match e.basis {
                ErasureBasis::RetentionElapsed => "retention_elapsed",
                ErasureBasis::Override => "override",
            }
            .into(),
            reason: recorded.metadata.reason.clone(),
            goals: e.shape.goals,
            objectives: e.shape.objectives,
            interventions: e.shape.interventions,
            diagnoses: e.shape.diagnoses,
            reviews: e.shape.reviews,
            measures: e.shape.measures,
            signatures: e.shape.signatures,
            retention_years: e.retention_years,
        }),
        ..PlanView::default()
    }
}
