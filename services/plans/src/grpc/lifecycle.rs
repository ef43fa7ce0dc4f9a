//! A plan's life on the wire: creation, status, consent, signatures,
//! care team.

use trellis_auth::Caller;
use trellis_plans_domain::{
    ActivatePlan, AssignCareTeam, ClosePlan, NextReview, PutPlanOnHold, RecordConsent, ResumePlan,
    SignPlan,
};
use trellis_plans_domain::{CreatePlan, PlanCommand, ReviewId, derive_id};
use trellis_proto::plans::v1 as pb;
use uuid::Uuid;

use crate::PlanCommands;

use super::fields::{Fields, Mapped};
use super::wire::{consent_kind, plan_closure, signer_role};

pub(super) fn create_plan(
    caller: &Caller,
    r: &pb::CreatePlanRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let (command_id, create) = map_create_plan(caller, r, f)?;
    Some(Mapped {
        plan_id: create.plan_id,
        command_id,
        entity_id: create.plan_id.0,
        command: PlanCommand::CreatePlan(create),
    })
}

pub(super) fn activate_plan(
    caller: &Caller,
    r: &pb::ActivatePlanRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let command_id = f.command_id(&r.command_id);
    let plan_id = f.plan_id(&r.plan_id);
    let command_id = command_id?;
    let review_id = ReviewId(derive_id(
        caller.tenant.as_str(),
        command_id,
        "first_review",
    ));
    Some(Mapped {
        plan_id: plan_id?,
        command_id,
        entity_id: review_id.0,
        command: PlanCommand::ActivatePlan(ActivatePlan {
            // The service puts the tenant's interval in.
            first_review: NextReview {
                review_id,
                interval_days: 0,
            },
        }),
    })
}

pub(super) fn put_plan_on_hold(
    _caller: &Caller,
    r: &pb::PutPlanOnHoldRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    f.plan_wide(&r.command_id, &r.plan_id, |_| {
        Some(PlanCommand::PutPlanOnHold(PutPlanOnHold {
            reason: r.reason.clone(),
        }))
    })
}

pub(super) fn resume_plan(
    _caller: &Caller,
    r: &pb::ResumePlanRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    f.plan_wide(&r.command_id, &r.plan_id, |_| {
        Some(PlanCommand::ResumePlan(ResumePlan))
    })
}

pub(super) fn close_plan(
    _caller: &Caller,
    r: &pb::ClosePlanRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    f.plan_wide(&r.command_id, &r.plan_id, |f| {
        let closure = f.choice("closure", plan_closure(r.closure));
        Some(PlanCommand::ClosePlan(ClosePlan {
            closure: closure?,
            reason: r.reason.clone(),
        }))
    })
}

pub(super) fn record_consent(
    _caller: &Caller,
    r: &pb::RecordConsentRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    f.plan_wide(&r.command_id, &r.plan_id, |f| {
        let kind = f.choice("kind", consent_kind(r.kind));
        let given_on = f.date("given_on", &r.given_on);
        Some(PlanCommand::RecordConsent(RecordConsent {
            kind: kind?,
            given_on: given_on?,
            note: r.note.clone(),
        }))
    })
}

pub(super) fn sign_plan(
    caller: &Caller,
    r: &pb::SignPlanRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    f.plan_wide(&r.command_id, &r.plan_id, |f| {
        let role = f.choice("role", signer_role(r.role));
        Some(PlanCommand::SignPlan(SignPlan {
            role: role?,
            // One signs as oneself, never on another's behalf.
            signer_id: caller.subject.clone(),
        }))
    })
}

pub(super) fn assign_care_team(
    _caller: &Caller,
    r: &pb::AssignCareTeamRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    f.plan_wide(&r.command_id, &r.plan_id, |_| {
        Some(PlanCommand::AssignCareTeam(AssignCareTeam {
            primary_clinician_id: r.primary_clinician_id.clone(),
            members: r.members.clone(),
        }))
    })
}

/// The command id and plan of a `CreatePlanRequest`, alone or inside
/// `CreatePlanFromTemplateRequest`.
pub(super) fn map_create_plan(
    caller: &Caller,
    r: &pb::CreatePlanRequest,
    f: &mut Fields,
) -> Option<(Uuid, CreatePlan)> {
    let command_id = f.command_id(&r.command_id);
    // Without a client-chosen id, the one the command layer documents.
    let plan_id = if r.plan_id.trim().is_empty() {
        command_id.map(|c| PlanCommands::derived_plan_id(&caller.tenant, c))
    } else {
        f.plan_id(&r.plan_id)
    };
    let (command_id, plan_id) = (command_id?, plan_id?);
    Some((
        command_id,
        CreatePlan {
            plan_id,
            client_id: r.client_id.clone(),
            primary_clinician_id: r.primary_clinician_id.clone(),
            clinic_id: r.clinic_id.clone(),
            title: r.title.clone(),
            payer: r.payer.clone(),
        },
    ))
}
