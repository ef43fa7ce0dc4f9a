//! Goals and objectives on the wire.

use trellis_auth::Caller;
use trellis_plans_domain::{
    AddGoal, AddObjective, CloseGoal, GoalId, MarkObjectiveMet, ObjectiveId, PlanCommand,
    QuantityTarget, RecordObjectiveProgress,
};
use trellis_plans_domain::{MarkObjectiveNotMet, MeasureTarget, ReviseGoal, ReviseObjective};
use trellis_proto::plans::v1 as pb;

use super::fields::{Fields, Mapped};
use super::wire::{goal_outcome, goal_term, instrument, progress_source};

pub(super) fn add_goal(caller: &Caller, r: &pb::AddGoalRequest, f: &mut Fields) -> Option<Mapped> {
    let pb::AddGoalRequest {
        command_id,
        plan_id,
        goal_id,
        description,
        term,
    } = r;
    let command_id = f.command_id(command_id);
    let plan_id = f.plan_id(plan_id);
    let goal_id = f.new_id("goal_id", goal_id, caller, command_id);
    let term = f.choice("term", goal_term(*term));
    let goal_id = GoalId(goal_id?);
    Some(Mapped {
        plan_id: plan_id?,
        command_id: command_id?,
        entity_id: goal_id.0,
        command: PlanCommand::AddGoal(AddGoal {
            goal_id,
            description: description.clone(),
            term: term?,
        }),
    })
}

pub(super) fn close_goal(
    _caller: &Caller,
    r: &pb::CloseGoalRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let pb::CloseGoalRequest {
        command_id,
        plan_id,
        goal_id,
        outcome,
    } = r;
    let command_id = f.command_id(command_id);
    let plan_id = f.plan_id(plan_id);
    let goal_id = f.uuid("goal_id", goal_id).map(GoalId);
    let outcome = f.choice("outcome", goal_outcome(*outcome));
    let goal_id = goal_id?;
    Some(Mapped {
        plan_id: plan_id?,
        command_id: command_id?,
        entity_id: goal_id.0,
        command: PlanCommand::CloseGoal(CloseGoal {
            goal_id,
            outcome: outcome?,
        }),
    })
}

pub(super) fn add_objective(
    caller: &Caller,
    r: &pb::AddObjectiveRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let pb::AddObjectiveRequest {
        command_id,
        plan_id,
        objective_id,
        goal_id,
        description,
        quantity,
        target_date,
        measure,
    } = r;
    let command_id = f.command_id(command_id);
    let plan_id = f.plan_id(plan_id);
    let objective_id = f.new_id("objective_id", objective_id, caller, command_id);
    let goal_id = f.uuid("goal_id", goal_id).map(GoalId);
    let target_date = f.optional_date("target_date", target_date);
    let quantity = quantity.as_ref().map(|q| {
        let pb::Quantity {
            baseline,
            target,
            unit,
            period,
        } = q;
        QuantityTarget {
            baseline: *baseline,
            target: *target,
            unit: unit.clone(),
            period: period.clone(),
        }
    });
    let measure = match measure {
        None => Some(None),
        Some(m) => f
            .choice("measure.instrument", instrument(m.instrument))
            .map(|instrument| {
                Some(MeasureTarget {
                    instrument,
                    // Out-of-range shares saturate and are refused
                    // by the plan's own range check.
                    reduction_percent: u8::try_from(m.reduction_percent).unwrap_or(u8::MAX),
                })
            }),
    };
    let objective_id = ObjectiveId(objective_id?);
    Some(Mapped {
        plan_id: plan_id?,
        command_id: command_id?,
        entity_id: objective_id.0,
        command: PlanCommand::AddObjective(AddObjective {
            objective_id,
            goal_id: goal_id?,
            description: description.clone(),
            quantity,
            measure: measure?,
            target_date: target_date?,
        }),
    })
}

pub(super) fn record_objective_progress(
    _caller: &Caller,
    r: &pb::RecordObjectiveProgressRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let pb::RecordObjectiveProgressRequest {
        command_id,
        plan_id,
        objective_id,
        value,
        observed_on,
        source,
        note,
    } = r;
    let command_id = f.command_id(command_id);
    let plan_id = f.plan_id(plan_id);
    let objective_id = f.uuid("objective_id", objective_id).map(ObjectiveId);
    let observed_on = f.date("observed_on", observed_on);
    let source = f.choice("source", progress_source(*source));
    let objective_id = objective_id?;
    Some(Mapped {
        plan_id: plan_id?,
        command_id: command_id?,
        entity_id: objective_id.0,
        command: PlanCommand::RecordObjectiveProgress(RecordObjectiveProgress {
            objective_id,
            value: *value,
            observed_on: observed_on?,
            source: source?,
            note: note.clone(),
        }),
    })
}

pub(super) fn mark_objective_met(
    _caller: &Caller,
    r: &pb::MarkObjectiveMetRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let pb::MarkObjectiveMetRequest {
        command_id,
        plan_id,
        objective_id,
    } = r;
    let command_id = f.command_id(command_id);
    let plan_id = f.plan_id(plan_id);
    let objective_id = f.uuid("objective_id", objective_id).map(ObjectiveId);
    let objective_id = objective_id?;
    Some(Mapped {
        plan_id: plan_id?,
        command_id: command_id?,
        entity_id: objective_id.0,
        command: PlanCommand::MarkObjectiveMet(MarkObjectiveMet { objective_id }),
    })
}

pub(super) fn revise_goal(
    _caller: &Caller,
    r: &pb::ReviseGoalRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let command_id = f.command_id(&r.command_id);
    let plan_id = f.plan_id(&r.plan_id);
    let goal_id = f.uuid("goal_id", &r.goal_id).map(GoalId)?;
    Some(Mapped {
        plan_id: plan_id?,
        command_id: command_id?,
        entity_id: goal_id.0,
        command: PlanCommand::ReviseGoal(ReviseGoal {
            goal_id,
            description: r.description.clone(),
            reason: r.reason.clone(),
        }),
    })
}

pub(super) fn mark_objective_not_met(
    _caller: &Caller,
    r: &pb::MarkObjectiveNotMetRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let command_id = f.command_id(&r.command_id);
    let plan_id = f.plan_id(&r.plan_id);
    let objective_id = f.uuid("objective_id", &r.objective_id).map(ObjectiveId)?;
    Some(Mapped {
        plan_id: plan_id?,
        command_id: command_id?,
        entity_id: objective_id.0,
        command: PlanCommand::MarkObjectiveNotMet(MarkObjectiveNotMet {
            objective_id,
            reason: r.reason.clone(),
        }),
    })
}

pub(super) fn revise_objective(
    _caller: &Caller,
    r: &pb::ReviseObjectiveRequest,
    f: &mut Fields,
) -> Option<Mapped> {
    let command_id = f.command_id(&r.command_id);
    let plan_id = f.plan_id(&r.plan_id);
    let objective_id = f.uuid("objective_id", &r.objective_id).map(ObjectiveId);
    let target_date = f.optional_date("target_date", &r.target_date);
    let objective_id = objective_id?;
    Some(Mapped {
        plan_id: plan_id?,
        command_id: command_id?,
        entity_id: objective_id.0,
        command: PlanCommand::ReviseObjective(ReviseObjective {
            objective_id,
            target: r.target,
            target_date: target_date?,
            reason: r.reason.clone(),
        }),
    })
}
