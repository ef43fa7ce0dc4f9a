//! Documents already parsed and judged, by query text. Clients send the
//! same few queries over and over (a plan screen, a caseload), and parsing
//! one with async-graphql's parser costs more than answering it from the
//! plan cache; a document kept here is cloned instead. Only documents that
//! passed the cost check are kept, each with the limits it passed, so a
//! schema with other limits judges it again (the process keeps one set,
//! `cost.rs`).
//!
//! A kept document is also marked once async-graphql has validated it in
//! full (every rule but the values of variables is a function of the text
//! and the schema alone), so later requests for it may skip that step
//! (`known.rs`).
//!
//! Bounded: queries longer than [`MAX_QUERY_BYTES`] are never kept, and
//! the oldest kept ones go once their text passes [`MAX_TOTAL_BYTES`] in
//! all. A client sending endless new queries only churns it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use async_graphql::parser::types::ExecutableDocument;

/// Longest query text kept.
const MAX_QUERY_BYTES: usize = 16 * 1024;
/// Query text kept in all (the parsed documents take roughly ten times
/// as much).
const MAX_TOTAL_BYTES: usize = 1024 * 1024;

/// Kept documents, each with the judgement `J` it passed (the cost
/// limits, for the cost check).
#[derive(Debug)]
pub(crate) struct ParsedDocuments<J> {
    kept: Mutex<Kept<J>>,
}

#[derive(Debug)]
struct Kept<J> {
    documents: HashMap<Arc<str>, Entry<J>>,
    /// Oldest first.
    order: VecDeque<Arc<str>>,
    bytes: usize,
}

#[derive(Debug)]
struct Entry<J> {
    judgement: J,
    document: Arc<ExecutableDocument>,
    /// Validated in full by async-graphql, and asking for no
    /// introspection (see [`ParsedDocuments::validated`]).
    validated: bool,
}

impl<J> Default for ParsedDocuments<J> {
    fn default() -> Self {
        Self {
            kept: Mutex::new(Kept {
                documents: HashMap::new(),
                order: VecDeque::new(),
                bytes: 0,
            }),
        }
    }
}

impl<J: PartialEq + Copy> ParsedDocuments<J> {
    fn kept(&self) -> std::sync::MutexGuard<'_, Kept<J>> {
        self.kept.lock().expect("parsed documents poisoned")
    }

    /// The document of `query` if it was kept after passing `judgement`.
    pub fn judged(&self, query: &str, judgement: &J) -> Option<Arc<ExecutableDocument>> {
        match self.kept().documents.get(query) {
            Some(entry) if entry.judgement == *judgement => Some(Arc::clone(&entry.document)),
            _ => None,
        }
    }

    /// The document of `query` if it was kept after passing `judgement`
    /// and then marked [`validated`](Self::validated).
    pub fn known(&self, query: &str, judgement: &J) -> Option<Arc<ExecutableDocument>> {
        match self.kept().documents.get(query) {
            Some(entry) if entry.judgement == *judgement && entry.validated => {
                Some(Arc::clone(&entry.document))
            }
            _ => None,
        }
    }

    /// Marks the document of `query`, kept after passing `judgement`, as
    /// validated in full by async-graphql, unless it asks for introspection
    /// (which is judged by caller, so never skipped). The caller must have
    /// seen validation pass for this text against the one schema whose
    /// extension marks documents (`rules.rs`).
    pub fn validated(&self, query: &str, judgement: &J) {
        if let Some(entry) = self.kept().documents.get_mut(query)
            && entry.judgement == *judgement
            && !entry.validated
            && !crate::introspection::asks_for_schema(&entry.document)
        {
            entry.validated = true;
        }
    }

    /// The document of `query`, whatever it passed (for naming the
    /// operation, never for skipping a check).
    pub fn any(&self, query: &str) -> Option<Arc<ExecutableDocument>> {
        self.kept()
            .documents
            .get(query)
            .map(|entry| Arc::clone(&entry.document))
    }

    /// Keeps `document`, the parse of `query`, which passed `judgement`.
    pub fn keep(&self, query: &str, judgement: J, document: ExecutableDocument) {
        if query.len() > MAX_QUERY_BYTES {
            return;
        }
        let mut kept = self.kept();
        if kept.documents.contains_key(query) {
            return;
        }
        let text: Arc<str> = Arc::from(query);
        kept.bytes += text.len();
        kept.order.push_back(Arc::clone(&text));
        let entry = Entry {
            judgement,
            document: Arc::new(document),
            validated: false,
        };
        kept.documents.insert(text, entry);
        while kept.bytes > MAX_TOTAL_BYTES {
            let Some(oldest) = kept.order.pop_front() else {
                break;
            };
            kept.bytes -= oldest.len();
            kept.documents.remove(&oldest);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_graphql::parser::parse_query;

    fn document(query: &str) -> ExecutableDocument {
        parse_query(query).expect("valid query")
    }

    #[test]
    fn a_kept_document_is_found_only_under_the_judgement_it_passed() {
        let parsed = ParsedDocuments::<u8>::default();
        let query = "{ plans { totalCount } }";
        parsed.keep(query, 1, document(query));
        assert!(parsed.judged(query, &1).is_some());
        assert!(parsed.judged(query, &2).is_none());
        assert!(parsed.any(query).is_some());
        assert!(parsed.any("{ other }").is_none());
    }

    #[test]
    fn only_a_validated_document_without_introspection_is_known() {
        let parsed = ParsedDocuments::<u8>::default();
        let (plain, asking) = (
            "{ plans { totalCount } }",
            "{ __schema { types { name } } }",
        );
        parsed.keep(plain, 1, document(plain));
        parsed.keep(asking, 1, document(asking));
        assert!(parsed.known(plain, &1).is_none(), "kept is not validated");
        // A mark under other limits, or for a text never kept, does nothing.
        parsed.validated(plain, &2);
        parsed.validated("{ other }", &1);
        assert!(parsed.known(plain, &1).is_none());
        parsed.validated(plain, &1);
        assert!(parsed.known(plain, &1).is_some());
        assert!(parsed.known(plain, &2).is_none());
        parsed.validated(asking, &1);
        assert!(
            parsed.known(asking, &1).is_none(),
            "introspection is judged every time"
        );
    }

    #[test]
    fn long_queries_are_not_kept_and_old_ones_make_room() {
        let parsed = ParsedDocuments::<u8>::default();
        let long = format!(
            "{{ plans {{ totalCount }} }} #{}",
            "x".repeat(MAX_QUERY_BYTES)
        );
        parsed.keep(&long, 1, document(&long));
        assert!(parsed.any(&long).is_none());

        let first = "{ first: plans { totalCount } }";
        parsed.keep(first, 1, document(first));
        // Fill the budget with other queries until the first one goes.
        let mut n = 0;
        while parsed.any(first).is_some() {
            let query = format!(
                "{{ fill{n}: plans {{ totalCount }} }} #{}",
                "y".repeat(8 * 1024)
            );
            parsed.keep(&query, 1, document(&query));
            n += 1;
            assert!(n < 1_000, "the oldest query was never evicted");
        }
        let total = parsed.kept().bytes;
        assert!(total <= MAX_TOTAL_BYTES, "{total} bytes kept");
        // Only as much went as had to: the budget is still nearly full.
        assert!(total > MAX_TOTAL_BYTES - 9 * 1024, "{total} bytes kept");
    }
}
