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
    /// plan is erased without an override `retention_years` after closing,
    /// in tenants that set no retention rule of their own.
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
        let retention_years = self.retention_period(tenant).await?.years;
        let command = PlanCommand::EraseClientContent(EraseClientContent {
            retention_years,
            override_reason: override_reason.map(str::to_owned),
        });
        if let PlanCommand::EraseClientContent(content) = &command {
            content.check()?;
        }
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
        let fresh: Vec<PlanId> = plans
            .iter()
            .filter(|(_, erased_before)| !erased_before)
            .map(|(id, _)| *id)
            .collect();
        self.mark_erased(ctx, &fresh, &command).await?;
        let mut erased: Vec<PlanId> = plans.iter().map(|(id, _)| *id).collect();
        // Logged before the key goes: an erasure is never left unlogged.
        log_erasures(&erasure, ctx, &erased).await?;
        let Some(bound) = erasure
            .keys
            .destroy_client_key(tenant, client_id.trim())
            .await?
        else {
            return Ok(ClientErasureOutcome {
                plans: erased,
                key_destroyed: false,
            });
        };
        // A plan created for the client while this ran was sealed under the
        // key just destroyed: it is erased too, on the same basis.
        let late: Vec<PlanId> = bound
            .iter()
            .filter_map(|stream| stream.id().parse().ok().map(PlanId))
            .filter(|id| !erased.contains(id))
            .collect();
        if !late.is_empty() {
            let late_command = PlanCommand::EraseClientContent(EraseClientContent {
                retention_years,
                override_reason: Some(override_reason.map_or_else(
                    || "created while its client was erased".to_owned(),
                    str::to_owned,
                )),
            });
            self.mark_erased(ctx, &late, &late_command).await?;
            log_erasures(&erasure, ctx, &late).await?;
            erased.extend(late);
        }
        Ok(ClientErasureOutcome {
            plans: erased,
            key_destroyed: true,
        })
    }

    /// Appends each plan's `ClientErased`, one command per plan, each
    /// recognised when the call is sent again.
    async fn mark_erased(
        &self,
        ctx: &CommandContext,
        plans: &[PlanId],
        command: &PlanCommand,
    ) -> Result<(), CommandError> {
        for &plan_id in plans {
            let mut per_plan = ctx.clone();
            per_plan.command_id = derive_id(
                ctx.caller.tenant.as_str(),
                ctx.command_id,
                &format!("erase-{plan_id}"),
            );
            match self.handle(&per_plan, plan_id, command).await {
                Ok(_) | Err(CommandError::Rejected(PlanError::Erased)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
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

/// One access record per plan erased, by the admin who erased it.
async fn log_erasures(
    erasure: &Erasure,
    ctx: &CommandContext,
    plans: &[PlanId],
) -> Result<(), CommandError> {
    if plans.is_empty() {
        return Ok(());
    }
    let records = plans
        .iter()
        .map(|plan_id| AccessRecord {
            tenant: ctx.caller.tenant.clone(),
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
        .collect();
    erasure.access_log.record(records).await?;
    Ok(())
}
