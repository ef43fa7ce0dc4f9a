//! Live updates over GraphQL subscriptions (graphql-ws /
//! graphql-transport-ws on `/graphql/ws`), tenant-scoped and role-checked
//! like queries; each holds one of its connection's subscription slots.

use std::sync::Arc;

use async_graphql::{Context, ID, Object, Subscription};
use futures::{Stream, StreamExt};
use tokio_stream::wrappers::BroadcastStream;
use trellis_access::{cares_for, reading_role};
use trellis_auth::Role;
use trellis_projector::{LocalChanges, PlanChanged, ReadModelStore};

use crate::context::caller;
use crate::error::{ErrorCode, error};
use crate::plan::{Plan, load_plan_for_caller};
use crate::ws::{Held, claim_slot};

/// A plan reached a new version.
#[derive(Debug)]
pub struct PlanChange(PlanChanged);

#[Object]
impl PlanChange {
    async fn plan_id(&self) -> ID {
        ID(self.0.plan_id.clone())
    }
    async fn version(&self) -> u64 {
        self.0.version
    }
    /// The plan as it now stands (a read of clinical content: logged).
    async fn plan(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Plan>> {
        load_plan_for_caller(ctx, &self.0.plan_id, "graphql:planChanged").await
    }
}

/// A safety flag was raised on a plan the caller cares for.
#[derive(Debug)]
pub struct SafetyFlagAlert {
    plan_id: String,
    flag_id: String,
}

#[Object]
impl SafetyFlagAlert {
    async fn plan_id(&self) -> ID {
        ID(self.plan_id.clone())
    }
    async fn flag_id(&self) -> ID {
        ID(self.flag_id.clone())
    }
    /// The plan as it now stands (a read of clinical content: logged).
    async fn plan(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Plan>> {
        load_plan_for_caller(ctx, &self.plan_id, "graphql:safetyFlagRaised").await
    }
}

#[derive(Debug, Default)]
pub struct SubscriptionRoot;

#[Subscription]
impl SubscriptionRoot {
    /// Every new version of one plan the caller may read. Ends when the
    /// caller may no longer read it (taken off its care team, say).
    async fn plan_changed(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<impl Stream<Item = PlanChange> + use<>> {
        let caller = caller(ctx)?.clone();
        let slot = claim_slot(ctx)?;
        let read_models = ctx.data_unchecked::<Arc<dyn ReadModelStore>>();
        let view = read_models
            .plan(&caller.tenant, id.as_str())
            .await
            .map_err(|_| error(ErrorCode::Internal, "internal error"))?;
        // Someone else's plan, or another tenant's, is simply not found.
        if view
            .as_ref()
            .and_then(|v| reading_role(&caller, v))
            .is_none()
        {
            return Err(error(ErrorCode::NotFound, "plan not found"));
        }
        let changes = ctx
            .data::<LocalChanges>()
            .map_err(|_| {
                error(
                    ErrorCode::Unavailable,
                    "live updates are not available here",
                )
            })?
            .subscribe();
        let plan_id = id.to_string();
        let read_models = Arc::clone(read_models);
        // Each change is checked against the caller's access as it then
        // stands: taken off the care team, the subscription ends (`complete`).
        let stream = BroadcastStream::new(changes)
            .filter_map(move |change| {
                let (caller, plan_id) = (caller.clone(), plan_id.clone());
                let read_models = Arc::clone(&read_models);
                async move {
                    let change = change.ok()?;
                    if change.tenant != caller.tenant.as_str() || change.plan_id != plan_id {
                        return None;
                    }
                    match read_models.plan(&caller.tenant, &plan_id).await {
                        Ok(Some(view)) if reading_role(&caller, &view).is_some() => {
                            Some(Some(PlanChange(change)))
                        }
                        Ok(_) => Some(None),
                        // Unsure now: this change is not told, nor is the
                        // subscription ended.
                        Err(_) => None,
                    }
                }
            })
            .take_while(|change| futures::future::ready(change.is_some()))
            .filter_map(futures::future::ready);
        Ok(Held::new(stream, slot))
    }

    /// Safety flags raised on any plan the caller treats or supervises,
    /// as they are raised (care team only).
    async fn safety_flag_raised(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = SafetyFlagAlert> + use<>> {
        let caller = caller(ctx)?.clone();
        if !caller.has_role(Role::Clinician) && !caller.has_role(Role::Supervisor) {
            return Err(error(
                ErrorCode::Forbidden,
                "safety alerts go to the care team",
            ));
        }
        let slot = claim_slot(ctx)?;
        let changes = ctx
            .data::<LocalChanges>()
            .map_err(|_| {
                error(
                    ErrorCode::Unavailable,
                    "live updates are not available here",
                )
            })?
            .subscribe();
        let read_models = Arc::clone(ctx.data_unchecked::<Arc<dyn ReadModelStore>>());
        let stream = BroadcastStream::new(changes)
            .filter_map(move |change| {
                let caller = caller.clone();
                let read_models = Arc::clone(&read_models);
                async move {
                    let change = change.ok()?;
                    if change.raised_flags.is_empty() || change.tenant != caller.tenant.as_str() {
                        return None;
                    }
                    // Only plans this caller may read: the care team's.
                    let view = read_models
                        .plan(&caller.tenant, &change.plan_id)
                        .await
                        .ok()??;
                    // As clinician or supervisor, whatever other roles the
                    // caller holds (reading_role would name the first).
                    cares_for(&caller, &view).then(|| {
                        futures::stream::iter(change.raised_flags.into_iter().map(move |flag_id| {
                            SafetyFlagAlert {
                                plan_id: change.plan_id.clone(),
                                flag_id,
                            }
                        }))
                    })
                }
            })
            .flatten();
        Ok(Held::new(stream, slot))
    }
}
