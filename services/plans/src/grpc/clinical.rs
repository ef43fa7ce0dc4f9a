//! The clinical record on the wire: diagnoses, presenting problem,
//! interventions, safety plan, clinical context, referrals, service plan.

use trellis_auth::Caller;
use trellis_plans_domain::{
    AddDiagnosis, AddIntervention, AddReferral, ChangeReferralStatus, CrisisContact,
    InterventionId, RecordClinicalContext, RecordPresentingProblem, RecordSafetyPlan,
    RecordServicePlan, ReferralId, Support, Symptom,
};
use trellis_plans_domain::{GoalId, PlanCommand};
use trellis_proto::plans::v1 as pb;

use super::fields::{Fields, Mapped};
use super::wire::{modality, referral_status, support_kind};

pub(super) fn record_presenting_problem(
    _caller: &Caller,
    r: &pb::RecordPresentingProblemRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let pb::RecordPresentingProblemRequest {
        command_id,
        plan_id,
        narrative,
        symptoms,
    } = r;
    let command_id = f.command_id(command_id);
    let plan_id = f.plan_id(plan_id);
    Some(Mapped::plan_wide(
        plan_id?,
        command_id?,
        PlanCommand::RecordPresentingProblem(RecordPresentingProblem {
            narrative: narrative.clone(),
            symptoms: symptoms
                .iter()
                .map(|s| Symptom {
                    name: s.name.clone(),
                    frequency: s.frequency.clone(),
                    intensity: s.intensity.clone(),
                    onset: s.onset.clone(),
                })
                .collect(),
        }),
    ))
}

pub(super) fn add_intervention(
    caller: &Caller,
    r: &pb::AddInterventionRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let pb::AddInterventionRequest {
        command_id,
        plan_id,
        intervention_id,
        modality: kind,
        other_modality,
        technique,
        frequency,
        goal_ids,
        comorbidity,
    } = r;
    let command_id = f.command_id(command_id);
    let plan_id = f.plan_id(plan_id);
    let intervention_id = f.new_id("intervention_id", intervention_id, caller, command_id);
    let kind = f.choice("modality", modality(*kind, other_modality));
    let goals: Vec<Option<GoalId>> = goal_ids
        .iter()
        .map(|g| f.uuid("goal_ids", g).map(GoalId))
        .collect();
    let intervention_id = InterventionId(intervention_id?);
    Some(Mapped {
        plan_id: plan_id?,
        command_id: command_id?,
        entity_id: intervention_id.0,
        command: PlanCommand::AddIntervention(AddIntervention {
            intervention_id,
            modality: kind?,
            technique: technique.clone(),
            frequency: frequency.clone(),
            goal_ids: goals.into_iter().collect::<Option<Vec<_>>>()?,
            comorbidity: comorbidity.clone(),
        }),
    })
}

pub(super) fn record_safety_plan(
    _caller: &Caller,
    r: &pb::RecordSafetyPlanRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let pb::RecordSafetyPlanRequest {
        command_id,
        plan_id,
        warning_signs,
        coping_steps,
        contacts,
        crisis_lines,
    } = r;
    let command_id = f.command_id(command_id);
    let plan_id = f.plan_id(plan_id);
    Some(Mapped::plan_wide(
        plan_id?,
        command_id?,
        PlanCommand::RecordSafetyPlan(RecordSafetyPlan {
            warning_signs: warning_signs.clone(),
            coping_steps: coping_steps.clone(),
            contacts: contacts
                .iter()
                .map(|c| CrisisContact {
                    name: c.name.clone(),
                    relationship: c.relationship.clone(),
                    phone: c.phone.clone(),
                })
                .collect(),
            crisis_lines: crisis_lines.clone(),
        }),
    ))
}

pub(super) fn add_diagnosis(
    _caller: &Caller,
    r: &pb::AddDiagnosisRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let pb::AddDiagnosisRequest {
        command_id,
        plan_id,
        code,
        primary,
    } = r;
    let command_id = f.command_id(command_id);
    let plan_id = f.plan_id(plan_id);
    Some(Mapped::plan_wide(
        plan_id?,
        command_id?,
        PlanCommand::AddDiagnosis(AddDiagnosis {
            code: code.clone(),
            primary: *primary,
        }),
    ))
}

pub(super) fn record_clinical_context(
    _caller: &Caller,
    r: &pb::RecordClinicalContextRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    f.plan_wide(&r.command_id, &r.plan_id, |f| {
        let supports: Vec<Option<Support>> = r
            .supports
            .iter()
            .map(|s| {
                f.choice("supports.kind", support_kind(s.kind))
                    .map(|kind| Support {
                        kind,
                        involvement: s.involvement.clone(),
                    })
            })
            .collect();
        Some(PlanCommand::RecordClinicalContext(RecordClinicalContext {
            strengths: r.strengths.clone(),
            barriers: r.barriers.clone(),
            supports: supports.into_iter().collect::<Option<Vec<_>>>()?,
        }))
    })
}

pub(super) fn add_referral(
    caller: &Caller,
    r: &pb::AddReferralRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let command_id = f.command_id(&r.command_id);
    let plan_id = f.plan_id(&r.plan_id);
    let referral_id = f.new_id("referral_id", &r.referral_id, caller, command_id);
    let status = f.choice("status", referral_status(r.status));
    let referral_id = ReferralId(referral_id?);
    Some(Mapped {
        plan_id: plan_id?,
        command_id: command_id?,
        entity_id: referral_id.0,
        command: PlanCommand::AddReferral(AddReferral {
            referral_id,
            to: r.to.clone(),
            reason: r.reason.clone(),
            status: status?,
        }),
    })
}

pub(super) fn change_referral_status(
    _caller: &Caller,
    r: &pb::ChangeReferralStatusRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let command_id = f.command_id(&r.command_id);
    let plan_id = f.plan_id(&r.plan_id);
    let referral_id = f.uuid("referral_id", &r.referral_id).map(ReferralId);
    let status = f.choice("status", referral_status(r.status));
    let referral_id = referral_id?;
    Some(Mapped {
        plan_id: plan_id?,
        command_id: command_id?,
        entity_id: referral_id.0,
        command: PlanCommand::ChangeReferralStatus(ChangeReferralStatus {
            referral_id,
            status: status?,
        }),
    })
}

pub(super) fn record_service_plan(
    _caller: &Caller,
    r: &pb::RecordServicePlanRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    f.plan_wide(&r.command_id, &r.plan_id, |_| {
        Some(PlanCommand::RecordServicePlan(RecordServicePlan {
            session_type: r.session_type.clone(),
            minutes: r.minutes,
            frequency: r.frequency.clone(),
            sessions_min: r.sessions_min,
            sessions_max: r.sessions_max,
            focus: r.focus.clone(),
            maintenance: r.maintenance.clone(),
            monitoring: r.monitoring.clone(),
        }))
    })
}
