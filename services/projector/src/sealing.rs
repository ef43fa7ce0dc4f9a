//! Plan documents sealed at rest. A read-model store given a
//! [`DocumentSeal`] keeps each plan's document (all of its clinical text)
//! sealed under the plan's client key and opens it on reading; the columns
//! and keys listings are answered from (ids, status, due dates, the
//! compact summary) stay in clear. Without one, documents are kept as JSON.

use std::sync::Arc;

use async_trait::async_trait;
use trellis_kernel::TenantId;

use crate::{PlanView, ReadModelError};

/// Seals and opens one plan's document. The process supplies it (the
/// vault of `trellis-phi`); this crate only calls it.
#[async_trait]
pub trait DocumentSeal: Send + Sync + 'static {
    async fn seal(
        &self,
        tenant: &TenantId,
        plan_id: &str,
        document: String,
    ) -> Result<String, ReadModelError>;

    /// Opens what `seal` made for the same plan; a document in clear (from
    /// before sealing) passes as it is. `None`: sealed under a destroyed
    /// key (the plan's client was erased; the projector writes the erased
    /// plan in its place).
    async fn open(
        &self,
        tenant: &TenantId,
        plan_id: &str,
        document: String,
    ) -> Result<Option<String>, ReadModelError>;
}

/// A store's optional seal, with the encode and decode every store shares.
#[derive(Clone, Default)]
pub(crate) struct Documents {
    seal: Option<Arc<dyn DocumentSeal>>,
}

impl std::fmt::Debug for Documents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Documents")
            .field("sealed", &self.seal.is_some())
            .finish()
    }
}

impl Documents {
    pub(crate) fn sealed_by(seal: Arc<dyn DocumentSeal>) -> Self {
        Self { seal: Some(seal) }
    }

    /// The view as the store keeps it.
    pub(crate) async fn encode(&self, view: &PlanView) -> Result<String, ReadModelError> {
        let document = serde_json::to_string(view)
            .map_err(|_| ReadModelError::Corrupt("plan view does not serialize".into()))?;
        match &self.seal {
            // An erased plan holds no content, and its key is gone.
            Some(seal) if view.erasure.is_none() => {
                let tenant = tenant_of(view)?;
                seal.seal(&tenant, &view.plan_id, document).await
            }
            _ => Ok(document),
        }
    }

    /// The view from what the store keeps for `plan_id` of `tenant`;
    /// `None` while a plan whose key was destroyed still has its sealed
    /// document (until the projector writes the erased plan).
    pub(crate) async fn decode(
        &self,
        tenant: &TenantId,
        plan_id: &str,
        stored: String,
    ) -> Result<Option<PlanView>, ReadModelError> {
        let document = match &self.seal {
            Some(seal) => seal.open(tenant, plan_id, stored).await?,
            None => Some(stored),
        };
        document.as_deref().map(decode_json).transpose()
    }

    /// Decodes many (plan id, stored document) pairs in order, leaving out
    /// those that no longer open.
    pub(crate) async fn decode_all(
        &self,
        tenant: &TenantId,
        stored: Vec<(String, String)>,
    ) -> Result<Vec<PlanView>, ReadModelError> {
        let mut views = Vec::with_capacity(stored.len());
        for (plan_id, document) in stored {
            views.extend(self.decode(tenant, &plan_id, document).await?);
        }
        Ok(views)
    }
}

/// A document in clear (JSON).
pub(crate) fn decode_json(document: &str) -> Result<PlanView, ReadModelError> {
    serde_json::from_str(document)
        .map_err(|_| ReadModelError::Corrupt("malformed plan document".into()))
}

fn tenant_of(view: &PlanView) -> Result<TenantId, ReadModelError> {
    TenantId::parse(&view.tenant)
        .map_err(|_| ReadModelError::Corrupt("a plan view names no valid tenant".into()))
}
