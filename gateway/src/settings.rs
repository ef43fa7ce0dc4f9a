//! A tenant's settings over GraphQL: the review rules admins set (the
//! query that reads them is in `compliance.rs`).

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
}
