//! What a GraphQL request may cost, judged on the parsed document with
//! every fragment expanded, before validation or execution run.
//!
//! async-graphql's depth and complexity limits see a fragment once, so a
//! chain of fragments each spreading the one before twice (`F1 { ...F0
//! ...F0 }`, `F2 { ...F1 ...F1 }`, …) grows to millions of fields from a
//! kilobyte of text. Here each fragment's cost is computed once and
//! multiplied where it is spread, in saturating arithmetic, so such a
//! request is refused in microseconds.

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use async_graphql::extensions::{ExtensionContext, NextParseQuery};
use async_graphql::parser::types::{
    ExecutableDocument, FragmentDefinition, OperationType, Selection, SelectionSet,
};
use async_graphql::{
    ErrorExtensionValues, Name, Pos, Positioned, ServerError, ServerResult, Variables,
};

use crate::error::ErrorCode;
use crate::parsed::ParsedDocuments;

/// The limits one request must stay within; the defaults fit every query
/// the console, the demo and the documented examples send many times over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CostLimits {
    /// Fields selected in all, fragments expanded.
    pub fields: u64,
    /// Nesting of selections, fragments expanded.
    pub depth: u64,
    /// Fields given an alias (aliases multiply work on one field).
    pub aliases: u64,
    /// Top-level fields of one operation.
    pub root_fields: u64,
    /// Top-level fields of a mutation: commands in one request.
    pub mutations: u64,
    /// Directives used, fragments expanded.
    pub directives: u64,
}

impl Default for CostLimits {
    fn default() -> Self {
        Self {
            fields: 5_000,
            depth: 15,
            aliases: 100,
            root_fields: 20,
            mutations: 10,
            directives: 50,
        }
    }
}

/// The cost of a selection set with its fragments expanded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Cost {
    fields: u64,
    depth: u64,
    aliases: u64,
    directives: u64,
}

impl Cost {
    fn add(self, other: Self) -> Self {
        Self {
            fields: self.fields.saturating_add(other.fields),
            depth: self.depth.max(other.depth),
            aliases: self.aliases.saturating_add(other.aliases),
            directives: self.directives.saturating_add(other.directives),
        }
    }
}

/// Fragments spreading fragments, at most this deep. The walk recurses
/// once per level, so an unbounded chain (`F2 { ...F1 }`, `F3 { ...F2 }`,
/// …) would overflow the stack; no real query nests fragments this far.
const MAX_FRAGMENT_NESTING: usize = 32;

struct Walker<'a> {
    fragments: &'a HashMap<Name, Positioned<FragmentDefinition>>,
    known: HashMap<&'a str, Cost>,
    visiting: Vec<&'a str>,
    /// A spread was found nested past [`MAX_FRAGMENT_NESTING`].
    nested_too_deeply: bool,
}

impl<'a> Walker<'a> {
    fn selection_set(&mut self, set: &'a SelectionSet) -> Cost {
        let mut total = Cost::default();
        for item in &set.items {
            let cost = match &item.node {
                Selection::Field(field) => {
                    let field = &field.node;
                    let inner = self.selection_set(&field.selection_set.node);
                    Cost {
                        fields: inner.fields.saturating_add(1),
                        depth: inner.depth.saturating_add(1),
                        aliases: inner
                            .aliases
                            .saturating_add(u64::from(field.alias.is_some())),
                        directives: inner
                            .directives
                            .saturating_add(field.directives.len() as u64),
                    }
                }
                Selection::FragmentSpread(spread) => {
                    let spread = &spread.node;
                    let mut cost = self.fragment(spread.fragment_name.node.as_str());
                    cost.directives = cost
                        .directives
                        .saturating_add(spread.directives.len() as u64);
                    cost
                }
                Selection::InlineFragment(inline) => {
                    let inline = &inline.node;
                    let mut cost = self.selection_set(&inline.selection_set.node);
                    cost.directives = cost
                        .directives
                        .saturating_add(inline.directives.len() as u64);
                    cost
                }
            };
            total = total.add(cost);
        }
        total
    }

    /// A fragment's cost, computed once however often it is spread. An
    /// unknown or cyclic fragment costs nothing here; validation refuses
    /// the document for it afterwards.
    fn fragment(&mut self, name: &'a str) -> Cost {
        if let Some(cost) = self.known.get(name) {
            return *cost;
        }
        let fragments = self.fragments;
        let Some((key, definition)) = fragments.get_key_value(name) else {
            return Cost::default();
        };
        if self.visiting.contains(&name) {
            return Cost::default();
        }
        if self.visiting.len() >= MAX_FRAGMENT_NESTING {
            self.nested_too_deeply = true;
            return Cost::default();
        }
        self.visiting.push(name);
        let cost = self.selection_set(&definition.node.selection_set.node);
        self.visiting.pop();
        self.known.insert(key.as_str(), cost);
        cost
    }
}

/// Checks a parsed document against `limits`; the error states the rule
/// that was broken, never the query's text.
pub fn check(document: &ExecutableDocument, limits: &CostLimits) -> Result<(), String> {
    let mut walker = Walker {
        fragments: &document.fragments,
        known: HashMap::new(),
        visiting: Vec::new(),
        nested_too_deeply: false,
    };
    let mut total = Cost::default();
    for (_, operation) in document.operations.iter() {
        let operation = &operation.node;
        let roots = operation.selection_set.node.items.len() as u64;
        if roots > limits.root_fields {
            return Err(format!(
                "an operation may select at most {} top-level fields",
                limits.root_fields
            ));
        }
        if operation.ty == OperationType::Mutation && roots > limits.mutations {
            return Err(format!(
                "a request may send at most {} mutations",
                limits.mutations
            ));
        }
        let cost = walker.selection_set(&operation.selection_set.node);
        total = total.add(cost);
        total.directives = total
            .directives
            .saturating_add(operation.directives.len() as u64);
    }
    if walker.nested_too_deeply {
        return Err(format!(
            "the query's fragments spread one another too deeply (at most {MAX_FRAGMENT_NESTING})"
        ));
    }
    let over = |what: &str, limit: u64| Err(format!("the query {what} (at most {limit})"));
    if total.fields > limits.fields {
        return over(
            "selects too many fields once its fragments are expanded",
            limits.fields,
        );
    }
    if total.depth > limits.depth {
        return over(
            "nests too deeply once its fragments are expanded",
            limits.depth,
        );
    }
    if total.aliases > limits.aliases {
        return over("uses too many aliases", limits.aliases);
    }
    if total.directives > limits.directives {
        return over("uses too many directives", limits.directives);
    }
    Ok(())
}

/// The documents this process has parsed and judged (every schema in it
/// shares them; each document is found only under the limits it passed).
fn parsed() -> &'static ParsedDocuments<CostLimits> {
    static PARSED: OnceLock<ParsedDocuments<CostLimits>> = OnceLock::new();
    PARSED.get_or_init(ParsedDocuments::default)
}

/// The kept document of `query`, if any, whatever limits it passed: for
/// naming the operation without parsing again, never for skipping a check.
pub(crate) fn kept_document(query: &str) -> Option<Arc<ExecutableDocument>> {
    parsed().any(query)
}

/// The kept document of `query` if it passed `limits` and then
/// async-graphql's full validation (`known.rs`).
pub(crate) fn known_document(query: &str, limits: &CostLimits) -> Option<Arc<ExecutableDocument>> {
    parsed().known(query, limits)
}

/// The rule that applies [`check`] to every request as it is parsed.
/// Applied by [`crate::rules::RequestRules`].
#[derive(Debug, Clone, Copy, Default)]
pub struct QueryCost(pub CostLimits);

impl QueryCost {
    /// The document of `query`, judged against the limits before `next`
    /// (async-graphql's own parse) runs.
    pub(crate) async fn parse(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        // Judged before `next`: async-graphql's own recursion check runs in
        // the parse step and walks every spread of every fragment, which a
        // fragment chain makes exponential (seconds of CPU).
        let refuse = |rule: String, at: Option<Pos>| {
            let mut error = ServerError::new(rule, at);
            let mut extensions = ErrorExtensionValues::default();
            extensions.set("code", ErrorCode::BadUserInput.as_str());
            error.extensions = Some(extensions);
            error
        };
        if let Some(document) = parsed().judged(query, &self.0) {
            // Parsed and judged before: neither again. The steps after
            // `next` (async-graphql's own parse and recursion check) are
            // functions of the text alone and passed then too.
            return Ok((*document).clone());
        }
        let document = match async_graphql::parser::parse_query(query) {
            Ok(document) => {
                check(&document, &self.0).map_err(|rule| refuse(rule, None))?;
                document
            }
            // The parser's own message quotes the text it stumbled on,
            // which may be anything a client typed: say where, not what.
            Err(error) => {
                let at = error.positions().next();
                return Err(refuse("the query is not valid GraphQL".to_owned(), at));
            }
        };
        let answer = next.run(ctx, query, variables).await?;
        parsed().keep(query, self.0, document);
        Ok(answer)
    }

    /// Marks the kept document of `query` as passed by async-graphql's
    /// full validation against the Trellis schema, the only one whose
    /// requests pass this rule (`rules.rs`).
    pub(crate) fn validated(&self, query: &str) {
        parsed().validated(query, &self.0);
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn judged(query: &str) -> Result<(), String> {
        check(&parse_query(query).unwrap(), &CostLimits::default())
    }

    /// `fragment F1 on QueryRoot { ...F0 ...F0 }` … `{ ...Fn }`: 2^n fields.
    fn fragment_chain(n: usize) -> String {
        let mut query = String::from("fragment F0 on QueryRoot { __typename }\n");
        for i in 1..=n {
            query.push_str(&format!(
                "fragment F{i} on QueryRoot {{ ...F{p} ...F{p} }}\n",
                p = i - 1
            ));
        }
        query.push_str(&format!("{{ ...F{n} }}"));
        query
    }

    #[test]
    fn a_fragment_chain_is_refused_by_its_expanded_size() {
        let refused = judged(&fragment_chain(25)).unwrap_err();
        assert!(refused.contains("too many fields"), "{refused}");
        // 2^64 and beyond saturate instead of overflowing.
        assert!(judged(&fragment_chain(80)).is_err());
        // A short chain is an ordinary query.
        assert!(judged(&fragment_chain(5)).is_ok());
    }

    #[test]
    fn a_long_chain_of_single_spreads_is_refused_without_deep_recursion() {
        // Each fragment spreads the one before once: few fields, but a walk
        // as deep as the chain. 100,000 levels would overflow a stack.
        let chain = |n: usize| {
            let mut query = String::from("fragment F0 on QueryRoot { __typename }\n");
            for i in 1..=n {
                query.push_str(&format!("fragment F{i} on QueryRoot {{ ...F{} }}\n", i - 1));
            }
            query.push_str(&format!("{{ ...F{n} }}"));
            query
        };
        let refused = judged(&chain(100_000)).unwrap_err();
        assert!(
            refused.contains("spread one another too deeply"),
            "{refused}"
        );
        assert!(judged(&chain(MAX_FRAGMENT_NESTING - 1)).is_ok());
        assert!(judged(&chain(MAX_FRAGMENT_NESTING + 1)).is_err());
    }

    #[test]
    fn depth_aliases_roots_and_mutations_are_bounded() {
        let deep = format!("{}{}", "{ a ".repeat(20), "}".repeat(20));
        assert!(judged(&deep).unwrap_err().contains("deeply"));
        let aliases: String = (0..150)
            .map(|i| format!("a{i}: plan(id: \"x\") {{ id }} "))
            .collect();
        assert!(judged(&format!("{{ {aliases} }}")).is_err());
        let roots: String = (0..30).map(|i| format!("f{i} ")).collect();
        assert!(
            judged(&format!("{{ {roots} }}"))
                .unwrap_err()
                .contains("top-level")
        );
        let commands: String = (0..12)
            .map(|i| format!("m{i}: resumePlan(input: {{}}) {{ revision }} "))
            .collect();
        assert!(
            judged(&format!("mutation {{ {commands} }}"))
                .unwrap_err()
                .contains("mutations")
        );
    }

    #[test]
    fn a_fragment_cycle_does_not_loop_here() {
        let cyclic = "fragment A on QueryRoot { ...B } fragment B on QueryRoot { ...A } { ...A }";
        assert!(judged(cyclic).is_ok(), "validation refuses it later");
    }

    #[test]
    fn the_documented_plan_query_fits() {
        let query = "{ plans(first: 10) { edges { cursor node { id title version diagnoses { code description primary } presentingProblem { narrative symptoms { name frequency onset } } goals { description term objectives { description baseline target unit period targetDate progress { value observedOn note } } } interventions { modality technique frequency goalIds } safetyPlan { warningSigns copingSteps contacts { name relationship } crisisLines } reviews { dueOn held } } } pageInfo { hasNextPage endCursor } } }";
        assert!(judged(query).is_ok());
    }
}
