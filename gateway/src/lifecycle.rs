//! A plan's status, consent and signatures.

use async_graphql::{Enum, SimpleObject};
use trellis_projector::{ConsentView, ErasureView, LifecycleView, SignatureView, StatusChangeView};

use crate::contract;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "PlanStatus")]
pub enum GqlPlanStatus {
    Draft,
    Active,
    OnHold,
    Completed,
    Discharged,
    Transferred,
}

pub(crate) fn plan_status(s: LifecycleView) -> GqlPlanStatus {
    match s {
        LifecycleView::Draft => GqlPlanStatus::Draft,
        LifecycleView::Active => GqlPlanStatus::Active,
        LifecycleView::OnHold => GqlPlanStatus::OnHold,
        LifecycleView::Completed => GqlPlanStatus::Completed,
        LifecycleView::Discharged => GqlPlanStatus::Discharged,
        LifecycleView::Transferred => GqlPlanStatus::Transferred,
    }
}

#[derive(Debug, SimpleObject)]
pub struct StatusChange {
    status: GqlPlanStatus,
    on: String,
    reason: String,
    by: String,
}

impl From<&StatusChangeView> for StatusChange {
    fn from(v: &StatusChangeView) -> Self {
        Self {
            status: plan_status(v.status),
            on: v.on.to_string(),
            reason: v.reason.clone(),
            by: v.by.clone(),
        }
    }
}

#[derive(Debug, SimpleObject)]
pub struct Consent {
    kind: contract::ConsentKind,
    given_on: String,
    note: String,
    recorded_by: String,
}

impl From<&ConsentView> for Consent {
    fn from(v: &ConsentView) -> Self {
        Self {
            kind: v.kind.into(),
            given_on: v.given_on.to_string(),
            note: v.note.clone(),
            recorded_by: v.recorded_by.clone(),
        }
    }
}

/// A signature, bound to the plan version it was given for.
#[derive(Debug, SimpleObject)]
pub struct Signature {
    version: u32,
    role: contract::SignerRole,
    signer_id: String,
    signed_on: String,
    /// When the server recorded the signature (RFC 3339); null only for
    /// plans projected before it was kept.
    recorded_at: Option<String>,
    /// The plan version (stream revision) whose event holds the
    /// signature; null only for plans projected before it was kept.
    revision: Option<u64>,
}

impl From<&SignatureView> for Signature {
    fn from(v: &SignatureView) -> Self {
        Self {
            version: v.version,
            role: v.role.into(),
            signer_id: v.signer_id.clone(),
            signed_on: v.signed_on.to_string(),
            recorded_at: v.recorded_at.map(|at| at.to_rfc3339()),
            revision: v.revision,
        }
    }
}

/// What is left of a plan whose client was erased.
#[derive(Debug, SimpleObject)]
pub struct Erasure {
    /// The day the client's data key was destroyed (ISO 8601).
    erased_on: String,
    /// `retention_elapsed` (closed longer than the retention period) or
    /// `override` (sooner, on the stated legal basis).
    basis: String,
    /// The override's stated legal basis; null after a retention period.
    reason: Option<String>,
    /// After a retention period: the tenant's period in years that the
    /// plan was checked against (the period in force that day); null for
    /// an override, and for erasures recorded before 2026-12-05.
    retention_years: Option<u32>,
    /// How many of each the plan held (its shape, not its content).
    goals: u32,
    objectives: u32,
    interventions: u32,
    diagnoses: u32,
    reviews: u32,
    measures: u32,
    signatures: u32,
}

impl From<&ErasureView> for Erasure {
    fn from(v: &ErasureView) -> Self {
        Self {
            erased_on: v.erased_on.to_string(),
            basis: v.basis.clone(),
            reason: v.reason.clone(),
            retention_years: v.retention_years,
            goals: v.goals,
            objectives: v.objectives,
            interventions: v.interventions,
            diagnoses: v.diagnoses,
            reviews: v.reviews,
            measures: v.measures,
            signatures: v.signatures,
        }
    }
}
