//! A plan as the embedded store writes and reads it: its row in
//! `plan_views` (the head of its document, its summary and index values)
//! and the parts of its long lists in `plan_view_parts` ([`super::parts`]).

use std::sync::Mutex;

use rusqlite::{Transaction, params};
use trellis_kernel::TenantId;

use super::parts::{self, PartName, WrittenPart, WrittenParts};
use super::rows::{StoredPart, index_values, unavailable};
use super::schema;
use crate::compliance::PlanSummary;
use crate::sealing::{Documents, SealedPart, tenant_of};
use crate::{PlanView, ReadModelError};

/// A plan ready to be written: encoded and sealed, with only the parts
/// whose text changed since this process last wrote them.
pub struct StoredPlan {
    /// (tenant, plan id).
    pub key: (String, String),
    client_id: String,
    primary_clinician_id: String,
    clinic_id: String,
    version: i64,
    summary: PlanSummary,
    summary_text: String,
    head: String,
    /// The parts to write (`part` key, stored text), all at `version`.
    changed: Vec<(String, String)>,
    /// Every part the plan has now: its digest and the version it was
    /// written at.
    pub parts: Vec<WrittenPart>,
    /// The stored copy was found corrupt: this replaces it even at the
    /// version stored (folded again from the record, it is the same plan).
    pub rewrite: bool,
}

/// Encodes and seals `view` for writing, leaving out the parts `written`
/// says are written already as they are.
pub async fn stored_plan(
    documents: &Documents,
    written: &Mutex<WrittenParts>,
    view: PlanView,
) -> Result<StoredPlan, ReadModelError> {
    let summary = PlanSummary::of(&view);
    let summary_text = documents.encode_summary(&summary).await?;
    let tenant = tenant_of(&view)?;
    let key = (view.tenant.clone(), view.plan_id.clone());
    // An erased plan holds no content (so no parts), and its key is gone.
    let erased = view.erasure.is_some();
    let (client_id, primary_clinician_id, clinic_id) = (
        view.client_id.clone(),
        view.primary_clinician_id.clone(),
        view.clinic_id.clone(),
    );
    let version = view.version;
    let split = parts::split(view)?;
    let mut parts = Vec::with_capacity(split.parts.len());
    let mut unwritten = Vec::new();
    let rewrite;
    {
        let written = written.lock().expect("written parts poisoned");
        rewrite = written.is_corrupt(&key);
        for (name, text) in split.parts {
            let digest = written.digest(&text);
            match written.written_at(&key, name, digest) {
                Some(at) => parts.push((name, digest, at)),
                None => {
                    parts.push((name, digest, version));
                    unwritten.push((name, text));
                }
            }
        }
    }
    let recorded: Vec<(PartName, u64)> = parts.iter().map(|(n, _, at)| (*n, *at)).collect();
    let mut head = parts::head_text(&split.head, &recorded)?;
    if !erased {
        head = documents
            .seal_part(&tenant, &key.1, SealedPart::Document, head)
            .await?;
    }
    let mut changed = Vec::with_capacity(unwritten.len());
    for (name, text) in unwritten {
        let part = SealedPart::List {
            list: name.list,
            index: name.index,
            written_at: version,
        };
        changed.push((
            name.key(),
            documents.seal_part(&tenant, &key.1, part, text).await?,
        ));
    }
    Ok(StoredPlan {
        key,
        client_id,
        primary_clinician_id,
        clinic_id,
        version: i64::try_from(version).unwrap_or(i64::MAX),
        summary,
        summary_text,
        head,
        changed,
        parts,
        rewrite,
    })
}

/// Writes the plan unless the store holds it at a later version, or at
/// this one and its copy was not found corrupt; whether it was written.
pub fn write(tx: &Transaction<'_>, plan: &StoredPlan) -> Result<bool, ReadModelError> {
    let (tenant, plan_id) = &plan.key;
    let (review_due, unsigned) = index_values(&plan.summary);
    let written = tx
        .prepare_cached(
            "INSERT INTO plan_views (tenant, plan_id, client_id, primary_clinician_id,
                 clinic_id, version, review_due, unsigned, summary, document)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
             ON CONFLICT (tenant, plan_id) DO UPDATE SET
                client_id = excluded.client_id,
                primary_clinician_id = excluded.primary_clinician_id,
                clinic_id = excluded.clinic_id,
                version = excluded.version,
                review_due = excluded.review_due,
                unsigned = excluded.unsigned,
                summary = excluded.summary,
                document = excluded.document
             WHERE excluded.version > plan_views.version
                OR (?11 AND excluded.version = plan_views.version)",
        )
        .and_then(|mut insert| {
            insert.execute(params![
                tenant,
                plan_id,
                plan.client_id,
                plan.primary_clinician_id,
                plan.clinic_id,
                plan.version,
                review_due,
                unsigned,
                plan.summary_text,
                plan.head,
                plan.rewrite
            ])
        })
        .map_err(unavailable)?;
    // Only a newer version replaces what the plan is indexed by, and its parts.
    if written == 0 {
        return Ok(false);
    }
    schema::set_clinicians(tx, &plan.summary)?;
    let mut upsert = tx
        .prepare_cached(
            "INSERT INTO plan_view_parts (tenant, plan_id, part, written_at, body)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT (tenant, plan_id, part) DO UPDATE SET
                written_at = excluded.written_at, body = excluded.body",
        )
        .map_err(unavailable)?;
    for (part, body) in &plan.changed {
        upsert
            .execute(params![tenant, plan_id, part, plan.version, body])
            .map_err(unavailable)?;
    }
    // Parts past the plan's lists' ends (an erased plan has none left).
    let kept: Vec<String> = plan.parts.iter().map(|(name, _, _)| name.key()).collect();
    let kept = serde_json::to_string(&kept).expect("strings serialize");
    tx.prepare_cached(
        "DELETE FROM plan_view_parts WHERE tenant = ?1 AND plan_id = ?2
             AND part NOT IN (SELECT value FROM json_each(?3))",
    )
    .and_then(|mut delete| delete.execute(params![tenant, plan_id, kept]))
    .map_err(unavailable)?;
    Ok(true)
}

/// The plan from its stored head and parts, opened; `None` while it is
/// sealed under a destroyed key (until the projector writes the erased
/// plan). Each part opens only as the part, and at the version, it was
/// sealed as; which parts there are, and at which versions, the head says
/// ([`parts::join`]).
pub async fn open_plan(
    documents: &Documents,
    tenant: &TenantId,
    plan_id: &str,
    head: String,
    stored_parts: Vec<StoredPart>,
) -> Result<Option<PlanView>, ReadModelError> {
    let Some(head) = documents
        .open_part(tenant, plan_id, SealedPart::Document, head)
        .await?
    else {
        return Ok(None);
    };
    let mut opened = Vec::with_capacity(stored_parts.len());
    for stored in stored_parts {
        let name = stored.name()?;
        let part = SealedPart::List {
            list: name.list,
            index: name.index,
            written_at: stored.written_at,
        };
        let Some(text) = documents
            .open_part(tenant, plan_id, part, stored.body)
            .await?
        else {
            return Ok(None);
        };
        opened.push((name, stored.written_at, text));
    }
    parts::join(&head, opened).map(Some)
}
