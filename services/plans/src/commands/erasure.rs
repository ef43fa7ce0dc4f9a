//! Erasing a client (crypto-shredding): every plan of theirs is checked,
//! then marked erased (`ClientErased`, in clear), then their data key is
//! destroyed, so nothing of their content opens again while the history
//! (envelopes and hashes) still verifies.

use std::sync::Arc;

use chrono::Utc;
use trellis_access::AccessDenied;
use trellis_auth::Role;
use trellis_kernel::{AccessLog, AccessRecord, ClientErasure, StreamName};
use trellis_plans_domain::{EraseClientContent, Plan, PlanCommand, PlanError, PlanId, derive_id};

use super::erasure_keys::Erasure;
use super::{CommandContext, CommandError, PlanCommands, decode};

/// What an erasure did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientErasureOutcome {
    /// The client's plans, every one now erased.
    pub plans: Vec<PlanId>,
    /// Whether this call destroyed a data key (none left: it was before).
    pub key_destroyed: bool,
}

impl PlanCommands {
    /// Lets admins erase clients: `keys` finds a client's plans and
    /// destroys their key, `access_log` records each erasure, and a closed
    /// plan is erased without an override `retention_years` after closing.
    #[must_use]
    pub fn with_erasure(
        mut self,
        keys: Arc<dyn ClientErasure>,
        access_log: Arc<dyn AccessLog>,
        retention_years: u32,
    ) -> Self {
        self.erasure = Some(Erasure {
            keys,
            access_log,
            retention_years,
        });
        self
    }

    /// Admin: erases `client_id`. Every plan is checked first, so one that
    /// may not be erased yet leaves all of them as they were.
    pub async fn erase_client(
        &self,
        ctx: &CommandContext,
        client_id: &str,
        override_reason: Option<&str>,
    ) -> Result<ClientErasureOutcome, CommandError> {
        if !ctx.caller.roles.contains(&Role::Admin) {
            return Err(AccessDenied::RoleMayNot.into());
        }
        let erasure = self
            .erasure
            .clone()
            .ok_or(CommandError::ErasureUnavailable)?;
        let tenant = &ctx.caller.tenant;
        let command = PlanCommand::EraseClientContent(EraseClientContent {
            retention_years: erasure.retention_years,
            override_reason: override_reason.map(str::to_owned),
        });
        let today = (self.today)();
        let mut plans = Vec::new();
        for stream in erasure
            .keys
            .client_streams(tenant, client_id.trim())
            .await?
        {
            let plan = self.fold(&stream).await?;
            let Some(plan_id) = plan.id() else { continue };
            match plan.decide(&command, today) {
                Ok(_) => plans.push((plan_id, false)),
                Err(PlanError::Erased) => plans.push((plan_id, true)),
                Err(refused) => return Err(refused.into()),
            }
        }
        for &(plan_id, erased_before) in &plans {
            if erased_before {
                continue;
            }
            let mut per_plan = ctx.clone();
            // One command per plan, each recognised when the call is sent again.
            per_plan.command_id =
                derive_id(tenant.as_str(), ctx.command_id, &format!("erase-{plan_id}"));
            match self.handle(&per_plan, plan_id, &command).await {
                Ok(_) | Err(CommandError::Rejected(PlanError::Erased)) => {}
                Err(e) => return Err(e),
            }
        }
        let key_destroyed = erasure
            .keys
            .destroy_client_key(tenant, client_id.trim())
            .await?;
        let records = plans
            .iter()
            .map(|(plan_id, _)| AccessRecord {
                tenant: tenant.clone(),
                subject: ctx.caller.subject.clone(),
                role: Role::Admin.as_str().to_owned(),
                plan_id: Some(plan_id.to_string()),
                operation: "grpc:PlanService/EraseClient".into(),
                fields: vec!["erased".into()],
                api: "grpc".into(),
                address: String::new(),
                request_id: ctx.request_id.clone(),
                at: Utc::now(),
            })
            .collect::<Vec<_>>();
        if !records.is_empty() {
            erasure.access_log.record(records).await?;
        }
        Ok(ClientErasureOutcome {
            plans: plans.into_iter().map(|(id, _)| id).collect(),
            key_destroyed,
        })
    }

    /// The plan as its stored events make it (those erased skipped).
    async fn fold(&self, stream: &StreamName) -> Result<Plan, CommandError> {
        let mut plan = Plan::default();
        for recorded in self.load(stream).await? {
            if let Some(event) = decode(&recorded)? {
                plan.evolve(&event);
            }
        }
        Ok(plan)
    }
}
