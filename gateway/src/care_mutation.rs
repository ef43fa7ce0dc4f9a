//! Mutations for the rest of a plan's life: goal revisions, the clinical
//! context, referrals, the service plan and measure schedule, lifecycle,
//! consent and signatures, and the admin's review rules. Each is sent to
//! the plans gRPC service like every other command.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use trellis_proto::plans::v1 as pb;

use crate::mutation::{CommandResult, call_plans, id, send, wire_instrument};
use crate::schema::GqlInstrument;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "SupportKind")]
pub enum GqlSupportKind {
    Family,
    Social,
    Community,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "ReferralStatus")]
pub enum GqlReferralStatus {
    /// To be made if a condition holds ("if symptoms persist").
    Planned,
    Made,
    Completed,
    Declined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "PlanClosure")]
pub enum GqlPlanClosure {
    Completed,
    Discharged,
    Transferred,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "ConsentKind")]
pub enum GqlConsentKind {
    Treatment,
    InformationRelease,
    Telehealth,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[graphql(name = "SignerRole")]
pub enum GqlSignerRole {
    Clinician,
    Client,
    Supervisor,
}

#[derive(Debug, InputObject)]
pub struct ReviseGoalInput {
    command_id: ID,
    plan_id: ID,
    goal_id: ID,
    description: String,
    /// Required: why the goal changed.
    reason: String,
}

#[derive(Debug, InputObject)]
pub struct MarkObjectiveNotMetInput {
    command_id: ID,
    plan_id: ID,
    objective_id: ID,
    reason: String,
}

#[derive(Debug, InputObject)]
pub struct SupportInput {
    kind: GqlSupportKind,
    involvement: String,
}

#[derive(Debug, InputObject)]
pub struct RecordClinicalContextInput {
    command_id: ID,
    plan_id: ID,
    #[graphql(default)]
    strengths: Vec<String>,
    #[graphql(default)]
    barriers: Vec<String>,
    #[graphql(default)]
    supports: Vec<SupportInput>,
}

#[derive(Debug, InputObject)]
pub struct AddReferralInput {
    command_id: ID,
    plan_id: ID,
    referral_id: Option<ID>,
    to: String,
    reason: String,
    status: GqlReferralStatus,
}

#[derive(Debug, InputObject)]
pub struct ChangeReferralStatusInput {
    command_id: ID,
    plan_id: ID,
    referral_id: ID,
    status: GqlReferralStatus,
}

#[derive(Debug, InputObject)]
pub struct RecordServicePlanInput {
    command_id: ID,
    plan_id: ID,
    /// e.g. "individual psychotherapy".
    session_type: String,
    minutes: u32,
    /// e.g. "weekly".
    frequency: String,
    sessions_min: u32,
    sessions_max: u32,
    focus: Option<String>,
    maintenance: Option<String>,
    #[graphql(default)]
    monitoring: Vec<String>,
}

#[derive(Debug, InputObject)]
pub struct ScheduleMeasureInput {
    command_id: ID,
    plan_id: ID,
    instrument: GqlInstrument,
    /// Days between administrations; 0 takes it off the schedule.
    interval_days: u32,
}

#[derive(Debug, InputObject)]
pub struct PlanCommandInput {
    command_id: ID,
    plan_id: ID,
}

#[derive(Debug, InputObject)]
pub struct PutPlanOnHoldInput {
    command_id: ID,
    plan_id: ID,
    reason: String,
}

#[derive(Debug, InputObject)]
pub struct ClosePlanInput {
    command_id: ID,
    plan_id: ID,
    closure: GqlPlanClosure,
    reason: String,
}

#[derive(Debug, InputObject)]
pub struct RecordConsentInput {
    command_id: ID,
    plan_id: ID,
    kind: GqlConsentKind,
    /// ISO date.
    given_on: String,
    note: Option<String>,
}

#[derive(Debug, InputObject)]
pub struct SignPlanInput {
    command_id: ID,
    plan_id: ID,
    /// The role the caller signs in; they must hold it.
    role: GqlSignerRole,
}

#[derive(Debug, InputObject)]
pub struct AssignCareTeamInput {
    command_id: ID,
    plan_id: ID,
    primary_clinician_id: String,
    /// The care team besides the primary clinician.
    #[graphql(default)]
    members: Vec<String>,
}

#[derive(Debug, InputObject)]
pub struct SetReviewRuleInput {
    /// Omitted or empty for the tenant's default.
    payer: Option<String>,
    interval_days: u32,
}

/// How often plans of a payer are reviewed.
#[derive(Debug, SimpleObject)]
pub struct ReviewRule {
    /// Empty for the tenant's default.
    pub payer: String,
    pub interval_days: u32,
}

pub(crate) fn review_rules(reply: pb::ReviewRules) -> Vec<ReviewRule> {
    reply
        .rules
        .into_iter()
        .map(|r| ReviewRule {
            payer: r.payer,
            interval_days: r.interval_days,
        })
        .collect()
}

fn referral_status(s: GqlReferralStatus) -> i32 {
    (match s {
        GqlReferralStatus::Planned => pb::ReferralStatus::Planned,
        GqlReferralStatus::Made => pb::ReferralStatus::Made,
        GqlReferralStatus::Completed => pb::ReferralStatus::Completed,
        GqlReferralStatus::Declined => pb::ReferralStatus::Declined,
    }) as i32
}

#[derive(Debug, Default)]
pub struct CareMutation;

#[Object]
impl CareMutation {
    /// Rewords a goal; the earlier wording and the reason stay on record.
    async fn revise_goal(
        &self,
        ctx: &Context<'_>,
        input: ReviseGoalInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::ReviseGoalRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            goal_id: input.goal_id.0,
            description: input.description,
            reason: input.reason,
        };
        send(ctx, "ReviseGoal", message, |mut c, r| async move {
            c.revise_goal(r).await
        })
        .await
    }

    async fn mark_objective_not_met(
        &self,
        ctx: &Context<'_>,
        input: MarkObjectiveNotMetInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::MarkObjectiveNotMetRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            objective_id: input.objective_id.0,
            reason: input.reason,
        };
        send(ctx, "MarkObjectiveNotMet", message, |mut c, r| async move {
            c.mark_objective_not_met(r).await
        })
        .await
    }

    /// Strengths, barriers, family and social supports (replaces the last).
    async fn record_clinical_context(
        &self,
        ctx: &Context<'_>,
        input: RecordClinicalContextInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::RecordClinicalContextRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            strengths: input.strengths,
            barriers: input.barriers,
            supports: input
                .supports
                .into_iter()
                .map(|s| pb::Support {
                    kind: (match s.kind {
                        GqlSupportKind::Family => pb::SupportKind::Family,
                        GqlSupportKind::Social => pb::SupportKind::Social,
                        GqlSupportKind::Community => pb::SupportKind::Community,
                    }) as i32,
                    involvement: s.involvement,
                })
                .collect(),
        };
        send(
            ctx,
            "RecordClinicalContext",
            message,
            |mut c, r| async move { c.record_clinical_context(r).await },
        )
        .await
    }

    async fn add_referral(
        &self,
        ctx: &Context<'_>,
        input: AddReferralInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::AddReferralRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            referral_id: id(input.referral_id),
            to: input.to,
            reason: input.reason,
            status: referral_status(input.status),
        };
        send(ctx, "AddReferral", message, |mut c, r| async move {
            c.add_referral(r).await
        })
        .await
    }

    async fn change_referral_status(
        &self,
        ctx: &Context<'_>,
        input: ChangeReferralStatusInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::ChangeReferralStatusRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            referral_id: input.referral_id.0,
            status: referral_status(input.status),
        };
        send(
            ctx,
            "ChangeReferralStatus",
            message,
            |mut c, r| async move { c.change_referral_status(r).await },
        )
        .await
    }

    /// Session type, minutes, frequency and expected sessions (replaces the last).
    async fn record_service_plan(
        &self,
        ctx: &Context<'_>,
        input: RecordServicePlanInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::RecordServicePlanRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            session_type: input.session_type,
            minutes: input.minutes,
            frequency: input.frequency,
            sessions_min: input.sessions_min,
            sessions_max: input.sessions_max,
            focus: input.focus.unwrap_or_default(),
            maintenance: input.maintenance.unwrap_or_default(),
            monitoring: input.monitoring,
        };
        send(ctx, "RecordServicePlan", message, |mut c, r| async move {
            c.record_service_plan(r).await
        })
        .await
    }

    async fn schedule_measure(
        &self,
        ctx: &Context<'_>,
        input: ScheduleMeasureInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::ScheduleMeasureRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            instrument: wire_instrument(input.instrument) as i32,
            interval_days: input.interval_days,
        };
        send(ctx, "ScheduleMeasure", message, |mut c, r| async move {
            c.schedule_measure(r).await
        })
        .await
    }

    /// Draft → active; the answer names what is missing if it cannot be.
    async fn activate_plan(
        &self,
        ctx: &Context<'_>,
        input: PlanCommandInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::ActivatePlanRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
        };
        send(ctx, "ActivatePlan", message, |mut c, r| async move {
            c.activate_plan(r).await
        })
        .await
    }

    async fn put_plan_on_hold(
        &self,
        ctx: &Context<'_>,
        input: PutPlanOnHoldInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::PutPlanOnHoldRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            reason: input.reason,
        };
        send(ctx, "PutPlanOnHold", message, |mut c, r| async move {
            c.put_plan_on_hold(r).await
        })
        .await
    }

    async fn resume_plan(
        &self,
        ctx: &Context<'_>,
        input: PlanCommandInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::ResumePlanRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
        };
        send(ctx, "ResumePlan", message, |mut c, r| async move {
            c.resume_plan(r).await
        })
        .await
    }

    async fn close_plan(
        &self,
        ctx: &Context<'_>,
        input: ClosePlanInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::ClosePlanRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            closure: (match input.closure {
                GqlPlanClosure::Completed => pb::PlanClosure::Completed,
                GqlPlanClosure::Discharged => pb::PlanClosure::Discharged,
                GqlPlanClosure::Transferred => pb::PlanClosure::Transferred,
            }) as i32,
            reason: input.reason,
        };
        send(ctx, "ClosePlan", message, |mut c, r| async move {
            c.close_plan(r).await
        })
        .await
    }

    async fn record_consent(
        &self,
        ctx: &Context<'_>,
        input: RecordConsentInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::RecordConsentRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            kind: (match input.kind {
                GqlConsentKind::Treatment => pb::ConsentKind::Treatment,
                GqlConsentKind::InformationRelease => pb::ConsentKind::InformationRelease,
                GqlConsentKind::Telehealth => pb::ConsentKind::Telehealth,
            }) as i32,
            given_on: input.given_on,
            note: input.note.unwrap_or_default(),
        };
        send(ctx, "RecordConsent", message, |mut c, r| async move {
            c.record_consent(r).await
        })
        .await
    }

    /// Signs the plan's current version as the caller, in `role`.
    async fn sign_plan(
        &self,
        ctx: &Context<'_>,
        input: SignPlanInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::SignPlanRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            role: (match input.role {
                GqlSignerRole::Clinician => pb::SignerRole::Clinician,
                GqlSignerRole::Client => pb::SignerRole::Client,
                GqlSignerRole::Supervisor => pb::SignerRole::Supervisor,
            }) as i32,
        };
        send(ctx, "SignPlan", message, |mut c, r| async move {
            c.sign_plan(r).await
        })
        .await
    }

    /// Admin or supervisor: who treats under the plan.
    async fn assign_care_team(
        &self,
        ctx: &Context<'_>,
        input: AssignCareTeamInput,
    ) -> async_graphql::Result<CommandResult> {
        let message = pb::AssignCareTeamRequest {
            command_id: input.command_id.0,
            plan_id: input.plan_id.0,
            primary_clinician_id: input.primary_clinician_id,
            members: input.members,
        };
        send(ctx, "AssignCareTeam", message, |mut c, r| async move {
            c.assign_care_team(r).await
        })
        .await
    }

    /// Admin: how often plans of a payer are reviewed; returns every rule.
    async fn set_review_rule(
        &self,
        ctx: &Context<'_>,
        input: SetReviewRuleInput,
    ) -> async_graphql::Result<Vec<ReviewRule>> {
        let message = pb::SetReviewRuleRequest {
            payer: input.payer.unwrap_or_default(),
            interval_days: input.interval_days,
        };
        let reply = call_plans(ctx, "SetReviewRule", message, |mut c, r| async move {
            c.set_review_rule(r).await
        })
        .await?;
        Ok(review_rules(reply))
    }
}
