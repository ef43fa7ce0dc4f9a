//! A tenant's settings over GraphQL: the review rules admins set (the
//! query that reads them is in `compliance.rs`), the staff directory and
//! the retention period erasures are checked against.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use trellis_proto::plans::v1 as pb;

use crate::plans_client::call_plans;

#[derive(Debug, InputObject)]
pub struct SetReviewRuleInput {
    /// Omitted or empty for the tenant's default.
    payer: Option<String>,
    interval_days: u32,
    /// A client-chosen UUID: sent again, the rule is set once and the
    /// answer is the first one. Omitted, every call is a new command.
    command_id: Option<ID>,
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

#[derive(Debug, InputObject)]
pub struct SetStaffMemberInput {
    /// The person's token subject (`sub`), as signatures name them.
    subject: String,
    /// The name shown: one line, at most 200 characters.
    name: String,
    /// Degrees and licences as a payer expects them ("PsyD, LP"); one
    /// line, at most 200 characters.
    credentials: Option<String>,
    /// A client-chosen UUID: sent again, the entry is set once and the
    /// answer is the first one. Omitted, every call is a new command.
    command_id: Option<ID>,
}

/// How a member of staff is shown on plans and payer documents.
#[derive(Debug, SimpleObject)]
pub struct StaffMember {
    /// Their token subject, as `Signature.signerId` names them.
    pub subject: String,
    pub name: String,
    /// Empty when none were given.
    pub credentials: String,
}

fn staff_directory(reply: pb::StaffDirectory) -> Vec<StaffMember> {
    reply
        .members
        .into_iter()
        .map(|m| StaffMember {
            subject: m.subject,
            name: m.name,
            credentials: m.credentials,
        })
        .collect()
}

#[derive(Debug, InputObject)]
pub struct SetRetentionPeriodInput {
    /// Whole years, 1 to 100.
    years: u32,
    /// A client-chosen UUID: sent again, the period is set once and the
    /// answer is the first one. Omitted, every call is a new command.
    command_id: Option<ID>,
}

/// How long after a plan closes its client may be erased without an
/// override reason.
#[derive(Debug, SimpleObject)]
pub struct RetentionPeriod {
    pub years: u32,
    /// True when the tenant set the period; false when the deployment's
    /// default (`TRELLIS_RETENTION_YEARS`, 6 unless configured) applies.
    pub tenant_rule: bool,
}

impl From<pb::RetentionPeriod> for RetentionPeriod {
    fn from(reply: pb::RetentionPeriod) -> Self {
        Self {
            years: reply.years,
            tenant_rule: reply.tenant_rule,
        }
    }
}

#[derive(Debug, Default)]
pub struct SettingsQuery;

#[Object]
impl SettingsQuery {
    /// The names and credentials staff are shown with, by subject (not
    /// for clients).
    async fn staff_directory(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<StaffMember>> {
        let reply = call_plans(
            ctx,
            "GetStaffDirectory",
            pb::GetStaffDirectoryRequest {},
            |mut c, r| async move { c.get_staff_directory(r).await },
        )
        .await?;
        Ok(staff_directory(reply))
    }

    /// The tenant's retention period in force (not for clients).
    async fn retention_period(&self, ctx: &Context<'_>) -> async_graphql::Result<RetentionPeriod> {
        let reply = call_plans(
            ctx,
            "GetRetentionPeriod",
            pb::GetRetentionPeriodRequest {},
            |mut c, r| async move { c.get_retention_period(r).await },
        )
        .await?;
        Ok(reply.into())
    }
}

#[derive(Debug, Default)]
pub struct SettingsMutation;

#[Object]
impl SettingsMutation {
    /// Admin: how often plans of a payer are reviewed; returns every rule.
    async fn set_review_rule(
        &self,
        ctx: &Context<'_>,
        input: SetReviewRuleInput,
    ) -> async_graphql::Result<Vec<ReviewRule>> {
        let message = pb::SetReviewRuleRequest {
            payer: input.payer.unwrap_or_default(),
            interval_days: input.interval_days,
            command_id: input.command_id.map(|c| c.0).unwrap_or_default(),
        };
        let reply = call_plans(ctx, "SetReviewRule", message, |mut c, r| async move {
            c.set_review_rule(r).await
        })
        .await?;
        Ok(review_rules(reply))
    }

    /// Admin: the name and credentials a member of staff is shown with;
    /// setting a subject again replaces its entry. Returns the directory.
    async fn set_staff_member(
        &self,
        ctx: &Context<'_>,
        input: SetStaffMemberInput,
    ) -> async_graphql::Result<Vec<StaffMember>> {
        let message = pb::SetStaffMemberRequest {
            subject: input.subject,
            name: input.name,
            credentials: input.credentials.unwrap_or_default(),
            command_id: input.command_id.map(|c| c.0).unwrap_or_default(),
        };
        let reply = call_plans(ctx, "SetStaffMember", message, |mut c, r| async move {
            c.set_staff_member(r).await
        })
        .await?;
        Ok(staff_directory(reply))
    }

    /// Admin: the tenant's retention period, 1 to 100 years: how long after
    /// a plan closes its client may be erased without an override reason.
    /// Replaces the period set before; returns the one now in force.
    async fn set_retention_period(
        &self,
        ctx: &Context<'_>,
        input: SetRetentionPeriodInput,
    ) -> async_graphql::Result<RetentionPeriod> {
        let message = pb::SetRetentionPeriodRequest {
            years: input.years,
            command_id: input.command_id.map(|c| c.0).unwrap_or_default(),
        };
        let reply = call_plans(ctx, "SetRetentionPeriod", message, |mut c, r| async move {
            c.set_retention_period(r).await
        })
        .await?;
        Ok(reply.into())
    }
}
