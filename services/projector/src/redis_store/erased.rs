//! A plan whose client was erased, in Redis: its entry leaves the index
//! named by the client's id.

use super::RedisReadModels;
use crate::compliance::PlanSummary;
use crate::{PlanView, ReadModelError};

impl RedisReadModels {
    /// An erased plan names no client, so its entry leaves its former
    /// client's index: that key's name holds the client's id, and goes
    /// with its last entry. The id is read from the summary being replaced.
    pub(super) async fn forget_erased_clients(
        &self,
        views: &[PlanView],
        pipe: &mut redis::Pipeline,
    ) -> Result<(), ReadModelError> {
        for view in views.iter().filter(|v| v.erasure.is_some()) {
            let t = view.tenant.as_str();
            let key = self.summary_key(t, &view.plan_id);
            let Some(stored) = self.documents(&[key]).await?.pop().flatten() else {
                continue;
            };
            // A summary that does not parse must not stop every later
            // batch: the index entry stays, logged by plan only.
            let Ok(former) = serde_json::from_str::<PlanSummary>(&stored) else {
                tracing::error!(
                    plan_id = %view.plan_id,
                    "an erased plan's summary is unreadable; its client index entry stays"
                );
                continue;
            };
            if !former.client_id.is_empty() {
                let index = self.index_key(t, Some(("client", &former.client_id)));
                pipe.zrem(index, &view.plan_id).ignore();
            }
        }
        Ok(())
    }
}
