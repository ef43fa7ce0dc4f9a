//! Plan documents sealed at rest. A read-model store given a
//! [`DocumentSeal`] keeps each plan's document (all of its clinical text)
//! and the scores of its compact summary sealed under the plan's client
//! key, and opens them on reading; the columns and keys listings are
//! answered from (ids, status, due dates, counts) stay in clear. Without
//! one, documents and summaries are kept as JSON.

use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use trellis_kernel::TenantId;

use crate::compliance::{DatedScore, PlanSummary, ScoreChange};
use crate::{PlanView, ReadModelError};

/// Which part of a plan's read model is sealed. Each is bound to its part,
/// so sealed bytes of one do not open as the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedPart {
    /// The whole plan document.
    Document,
    /// The standardized scores of the plan's compact summary.
    Scores,
    /// One part of a long list of the document, which the embedded store
    /// keeps apart from the rest (the rest is then sealed as `Document`),
    /// as written at one version of the plan.
    List {
        list: &'static str,
        index: u32,
        written_at: u64,
    },
}

/// Seals and opens one plan's document. The process supplies it (the
/// vault of `trellis-phi`); this crate only calls it.
#[async_trait]
pub trait DocumentSeal: Send + Sync + 'static {
    async fn seal(
        &self,
        tenant: &TenantId,
        plan_id: &str,
        part: SealedPart,
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
        part: SealedPart,
        document: String,
    ) -> Result<Option<String>, ReadModelError>;
}

/// A summary's scores as they are sealed.
#[derive(Serialize, Deserialize)]
struct SummaryScores {
    score_changes: Vec<ScoreChange>,
    scores: Vec<DatedScore>,
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
        // An erased plan holds no content, and its key is gone.
        if view.erasure.is_some() {
            return Ok(document);
        }
        let tenant = tenant_of(view)?;
        self.seal_part(&tenant, &view.plan_id, SealedPart::Document, document)
            .await
    }

    /// One part of a plan's read model as the store keeps it: sealed, when
    /// the store seals.
    pub(crate) async fn seal_part(
        &self,
        tenant: &TenantId,
        plan_id: &str,
        part: SealedPart,
        text: String,
    ) -> Result<String, ReadModelError> {
        match &self.seal {
            Some(seal) => seal.seal(tenant, plan_id, part, text).await,
            None => Ok(text),
        }
    }

    /// What [`Documents::seal_part`] made, opened; `None` under a
    /// destroyed key.
    pub(crate) async fn open_part(
        &self,
        tenant: &TenantId,
        plan_id: &str,
        part: SealedPart,
        stored: String,
    ) -> Result<Option<String>, ReadModelError> {
        match &self.seal {
            Some(seal) => seal.open(tenant, plan_id, part, stored).await,
            None => Ok(Some(stored)),
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
        let document = self
            .open_part(tenant, plan_id, SealedPart::Document, stored)
            .await?;
        document.as_deref().map(decode_json).transpose()
    }

    /// The summary as the store keeps it: its scores sealed, when the
    /// store seals (the rest is what listings are answered from).
    pub(crate) async fn encode_summary(
        &self,
        summary: &PlanSummary,
    ) -> Result<String, ReadModelError> {
        let mut stored = summary.clone();
        // An erased plan has no scores left to seal (and no key).
        let has_scores = !(stored.scores.is_empty() && stored.score_changes.is_empty());
        if let (Some(seal), true) = (&self.seal, has_scores) {
            let scores = SummaryScores {
                score_changes: std::mem::take(&mut stored.score_changes),
                scores: std::mem::take(&mut stored.scores),
            };
            let text = serde_json::to_string(&scores)
                .map_err(|_| ReadModelError::Corrupt("plan scores do not serialize".into()))?;
            let tenant = TenantId::parse(&summary.tenant).map_err(|_| {
                ReadModelError::Corrupt("a plan summary names no valid tenant".into())
            })?;
            stored.sealed_scores = Some(
                seal.seal(&tenant, &summary.plan_id, SealedPart::Scores, text)
                    .await?,
            );
        }
        serde_json::to_string(&stored)
            .map_err(|_| ReadModelError::Corrupt("plan summary does not serialize".into()))
    }

    /// A stored summary with its scores opened. Under a destroyed key (the
    /// client was erased) it comes back without scores, until the
    /// projector writes the erased plan in its place.
    pub(crate) async fn open_summary(
        &self,
        tenant: &TenantId,
        mut summary: PlanSummary,
    ) -> Result<PlanSummary, ReadModelError> {
        let Some(sealed) = summary.sealed_scores.take() else {
            return Ok(summary);
        };
        let Some(seal) = &self.seal else {
            return Err(ReadModelError::Corrupt(
                "a plan summary is sealed and this store was given no keys".into(),
            ));
        };
        let opened = seal
            .open(tenant, &summary.plan_id, SealedPart::Scores, sealed)
            .await?;
        if let Some(text) = opened {
            let scores: SummaryScores = serde_json::from_str(&text)
                .map_err(|_| ReadModelError::Corrupt("malformed plan scores".into()))?;
            summary.score_changes = scores.score_changes;
            summary.scores = scores.scores;
        }
        Ok(summary)
    }
}

/// A document in clear (JSON).
pub(crate) fn decode_json(document: &str) -> Result<PlanView, ReadModelError> {
    serde_json::from_str(document)
        .map_err(|_| ReadModelError::Corrupt("malformed plan document".into()))
}

pub(crate) fn tenant_of(view: &PlanView) -> Result<TenantId, ReadModelError> {
    TenantId::parse(&view.tenant)
        .map_err(|_| ReadModelError::Corrupt("a plan view names no valid tenant".into()))
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use trellis_plans_domain::Instrument;

    use super::*;
    use crate::compliance::{DatedScore, ScoreChange};
    use crate::view::LifecycleView;

    /// Seals by reversing the text behind a marker naming the part; erased
    /// plans' parts no longer open.
    struct Reversing;

    #[async_trait]
    impl DocumentSeal for Reversing {
        async fn seal(
            &self,
            _: &TenantId,
            plan_id: &str,
            part: SealedPart,
            document: String,
        ) -> Result<String, ReadModelError> {
            Ok(format!(
                "sealed:{plan_id}:{part:?}:{}",
                document.chars().rev().collect::<String>()
            ))
        }

        async fn open(
            &self,
            _: &TenantId,
            plan_id: &str,
            part: SealedPart,
            document: String,
        ) -> Result<Option<String>, ReadModelError> {
            if plan_id == "erased" {
                return Ok(None);
            }
            let text = document
                .strip_prefix(&format!("sealed:{plan_id}:{part:?}:"))
                .ok_or_else(|| ReadModelError::Corrupt("does not open".into()))?;
            Ok(Some(text.chars().rev().collect()))
        }
    }

    fn summary(plan_id: &str) -> PlanSummary {
        let on = NaiveDate::from_ymd_opt(2026, 3, 2).unwrap();
        PlanSummary {
            schema: PlanSummary::SCHEMA,
            tenant: "north".into(),
            plan_id: plan_id.into(),
            client_id: "client-1042".into(),
            primary_clinician_id: "dr-rivera".into(),
            care_team: vec![],
            clinic_id: "clinic-1".into(),
            status: LifecycleView::Active,
            next_review_due: Some(on),
            pending_signatures: vec![],
            open_safety_flags: 0,
            oldest_open_flag: None,
            objectives: 3,
            objectives_met: 1,
            score_changes: vec![ScoreChange {
                instrument: Instrument::Phq9,
                baseline: 19,
                latest: 7,
            }],
            scores: vec![DatedScore {
                instrument: Instrument::Phq9,
                on,
                total: 19,
            }],
            objective_dates: vec![],
            sealed_scores: None,
        }
    }

    #[tokio::test]
    async fn a_sealed_summary_keeps_its_scores_sealed_and_opens_whole() {
        let documents = Documents::sealed_by(Arc::new(Reversing));
        let tenant = TenantId::parse("north").unwrap();
        let stored = documents.encode_summary(&summary("p-1")).await.unwrap();

        let kept: PlanSummary = serde_json::from_str(&stored).unwrap();
        assert!(kept.scores.is_empty() && kept.score_changes.is_empty());
        assert!(!stored.contains("19"), "no score in clear: {stored}");
        // What listings are answered from stays readable.
        assert_eq!(kept.next_review_due, summary("p-1").next_review_due);
        assert_eq!(kept.objectives, 3);

        let opened = documents.open_summary(&tenant, kept).await.unwrap();
        assert_eq!(opened, summary("p-1"));
    }

    #[tokio::test]
    async fn sealed_scores_need_keys_and_an_erased_key_leaves_none() {
        let sealing = Documents::sealed_by(Arc::new(Reversing));
        let tenant = TenantId::parse("north").unwrap();
        let stored = sealing.encode_summary(&summary("erased")).await.unwrap();
        let kept: PlanSummary = serde_json::from_str(&stored).unwrap();

        let opened = sealing.open_summary(&tenant, kept.clone()).await.unwrap();
        assert!(opened.scores.is_empty() && opened.sealed_scores.is_none());

        let without_keys = Documents::default().open_summary(&tenant, kept).await;
        assert!(matches!(without_keys, Err(ReadModelError::Corrupt(_))));
    }

    #[tokio::test]
    async fn a_store_without_a_seal_keeps_scores_as_they_are() {
        let stored = Documents::default()
            .encode_summary(&summary("p-1"))
            .await
            .unwrap();
        assert_eq!(
            serde_json::from_str::<PlanSummary>(&stored).unwrap(),
            summary("p-1")
        );
    }
}
