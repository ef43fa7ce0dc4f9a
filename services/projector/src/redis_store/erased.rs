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
            let former: PlanSummary = serde_json::from_str(&stored)
                .map_err(|_| ReadModelError::Corrupt("malformed plan summary".into()))?;
            if !former.client_id.is_empty() {
                let index = self.index_key(t, Some(("client", &former.client_id)));
                pipe.zrem(index, &view.plan_id).ignore();
            }
        }
        Ok(())
    }
}
