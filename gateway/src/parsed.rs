//! Documents already parsed and judged, by query text. Clients send the
//! same few queries over and over (a plan screen, a caseload), and parsing
//! one with async-graphql's parser costs more than answering it from the
//! plan cache; a document kept here is cloned instead. Only documents that
//! passed the cost check are kept, each with the limits it passed, so a
//! schema with other limits judges it again.
//!
//! Bounded: queries longer than [`MAX_QUERY_BYTES`] are never kept, and
//! the oldest kept ones go once their text passes [`MAX_TOTAL_BYTES`] in
//! all. A client sending endless new queries only churns it.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use async_graphql::parser::types::ExecutableDocument;

use crate::cost::CostLimits;

/// Longest query text kept.
const MAX_QUERY_BYTES: usize = 16 * 1024;
/// Query text kept in all (the parsed documents take roughly ten times
/// as much).
const MAX_TOTAL_BYTES: usize = 1024 * 1024;

#[derive(Debug, Default)]
struct Kept {
    documents: HashMap<Arc<str>, (CostLimits, Arc<ExecutableDocument>)>,
    /// Oldest first.
    order: VecDeque<Arc<str>>,
    bytes: usize,
}

/// The process's documents (shared by every schema in it; see the
/// module's note on limits).
fn kept() -> &'static Mutex<Kept> {
    static KEPT: OnceLock<Mutex<Kept>> = OnceLock::new();
    KEPT.get_or_init(Mutex::default)
}

/// The document of `query` if it was kept after passing `limits`.
pub(crate) fn judged(query: &str, limits: &CostLimits) -> Option<Arc<ExecutableDocument>> {
    let kept = kept().lock().expect("parsed documents poisoned");
    match kept.documents.get(query) {
        Some((passed, document)) if passed == limits => Some(Arc::clone(document)),
        _ => None,
    }
}

/// The document of `query`, whatever limits it passed (for naming the
/// operation, never for skipping a check).
pub(crate) fn any(query: &str) -> Option<Arc<ExecutableDocument>> {
    let kept = kept().lock().expect("parsed documents poisoned");
    kept.documents.get(query).map(|(_, d)| Arc::clone(d))
}

/// Keeps `document`, the parse of `query`, which passed `limits`.
pub(crate) fn keep(query: &str, limits: CostLimits, document: ExecutableDocument) {
    if query.len() > MAX_QUERY_BYTES {
        return;
    }
    let mut kept = kept().lock().expect("parsed documents poisoned");
    if kept.documents.contains_key(query) {
        return;
    }
    let text: Arc<str> = Arc::from(query);
    kept.bytes += text.len();
    kept.order.push_back(Arc::clone(&text));
    kept.documents.insert(text, (limits, Arc::new(document)));
    while kept.bytes > MAX_TOTAL_BYTES {
        let Some(oldest) = kept.order.pop_front() else {
            break;
        };
        kept.bytes -= oldest.len();
        kept.documents.remove(&oldest);
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
    fn a_kept_document_is_found_only_under_the_limits_it_passed() {
        let query = "{ parsedTestOnlyLimits: plans { totalCount } }";
        let limits = CostLimits::default();
        keep(query, limits, document(query));
        assert!(judged(query, &limits).is_some());
        let stricter = CostLimits {
            fields: 1,
            ..limits
        };
        assert!(judged(query, &stricter).is_none());
        assert!(any(query).is_some());
    }

    #[test]
    fn long_queries_are_not_kept_and_old_ones_make_room() {
        let limits = CostLimits::default();
        let long = format!(
            "{{ parsedTestOnlyLong: plans {{ totalCount }} }} #{}",
            "x".repeat(MAX_QUERY_BYTES)
        );
        keep(&long, limits, document(&long));
        assert!(any(&long).is_none());

        let first = "{ parsedTestOnlyFirst: plans { totalCount } }";
        keep(first, limits, document(first));
        // Fill the budget with other queries until the first one goes.
        let mut n = 0;
        while any(first).is_some() {
            let query = format!(
                "{{ parsedTestOnlyFill{n}: plans {{ totalCount }} }} #{}",
                "y".repeat(8 * 1024)
            );
            keep(&query, limits, document(&query));
            n += 1;
            assert!(n < 1_000, "the oldest query was never evicted");
        }
        let total = kept().lock().unwrap().bytes;
        assert!(total <= MAX_TOTAL_BYTES, "{total} bytes kept");
    }
}
