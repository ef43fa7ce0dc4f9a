//! `trellis audit check-document FILE.pdf`: whether a payer document was
//! made from the record. The document names its plan, version and the
//! hash-chain link of the event at that version (in its footer and, for
//! machines, its Keywords); the audit service's history must hold exactly
//! that event. `trellis audit verify` proves the chain itself.

use anyhow::{Context, bail};
use trellis_proto::audit::v1 as pb;

/// What a payer document says it was made from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentSeal {
    pub plan_id: String,
    pub version: u64,
    pub record_hash: String,
}

/// Reads the seal from the document's Keywords
/// (`trellis-plan=… trellis-version=… trellis-record=…`).
pub fn seal_of(pdf: &[u8]) -> anyhow::Result<DocumentSeal> {
    let start = find(pdf, b"trellis-plan=").context(
        "this PDF carries no Trellis seal (trellis-plan=… in its Keywords): it is not a payer document made by Trellis",
    )?;
    let end = pdf[start..]
        .iter()
        .position(|&b| b == b')' || b == b'\n')
        .map_or(pdf.len(), |n| start + n);
    let keywords = std::str::from_utf8(&pdf[start..end]).context("the seal is not text")?;
    let field = |name: &str| {
        keywords
            .split(' ')
            .find_map(|pair| pair.strip_prefix(name))
            .map(str::to_owned)
            .with_context(|| format!("the seal has no {name}"))
    };
    Ok(DocumentSeal {
        plan_id: field("trellis-plan=")?,
        version: field("trellis-version=")?
            .parse()
            .context("the seal's version is not a number")?,
        record_hash: field("trellis-record=")?,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The history request that fetches the event the seal names.
pub fn request(seal: &DocumentSeal) -> pb::PlanHistoryRequest {
    pb::PlanHistoryRequest {
        plan_id: seal.plan_id.clone(),
        after_revision: seal.version.checked_sub(1),
        page_size: 1,
        ..Default::default()
    }
}

/// Whether the history's answer holds the event the seal names: the
/// sentence to print when it does.
pub fn verdict(seal: &DocumentSeal, entries: &[pb::HistoryEntry]) -> anyhow::Result<String> {
    match entries.first().filter(|e| e.revision == seal.version) {
        Some(event) if event.hash == seal.record_hash => Ok(format!(
            "OK: made from plan {} at version {}, which the record holds (hash-chain link {}); \
             `trellis audit verify` proves the chain",
            seal.plan_id, seal.version, seal.record_hash
        )),
        Some(event) => bail!(
            "does NOT match the record: plan {} at version {} has hash-chain link {}, the document says {}",
            seal.plan_id,
            seal.version,
            event.hash,
            seal.record_hash
        ),
        None => bail!(
            "does NOT match the record: plan {} has no version {}",
            seal.plan_id,
            seal.version
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_seal_is_read_from_the_keywords() {
        let pdf = b"%PDF-1.7\n5 0 obj\n<< /Keywords (trellis-plan=p-1 trellis-version=42 trellis-record=ab12) >>";
        let seal = seal_of(pdf).unwrap();
        assert_eq!(
            seal,
            DocumentSeal {
                plan_id: "p-1".into(),
                version: 42,
                record_hash: "ab12".into(),
            }
        );
        let error = seal_of(b"%PDF-1.7 no seal").unwrap_err().to_string();
        assert!(error.contains("no Trellis seal"), "{error}");
    }

    #[test]
    fn only_the_same_link_at_the_same_version_matches() {
        let seal = DocumentSeal {
            plan_id: "p".into(),
            version: 3,
            record_hash: "aa".into(),
        };
        assert_eq!(request(&seal).after_revision, Some(2));
        let entry = |revision, hash: &str| pb::HistoryEntry {
            revision,
            hash: hash.into(),
            ..Default::default()
        };
        assert!(verdict(&seal, &[entry(3, "aa")]).is_ok());
        assert!(verdict(&seal, &[entry(3, "bb")]).is_err());
        assert!(verdict(&seal, &[entry(4, "aa")]).is_err());
        assert!(verdict(&seal, &[]).is_err());
    }
}
