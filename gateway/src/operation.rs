//! What a GraphQL request is called in metrics and span names: a label
//! from a closed set, never the client's own operation name. Clients
//! choose `operationName` freely (five made-up names were five new metric
//! series), so the label is made from what the operation selects at its
//! root — `query plan`, `mutation addGoal` — checked against the schema's
//! root fields; several root fields are `query multiple`, and anything
//! else (an unknown field, a fragment at the root, no single operation)
//! is `other`. The set is as large as the schema's root, whatever clients
//! send.

use std::collections::HashSet;
use std::sync::OnceLock;

use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, OperationType, Selection, TypeKind,
    TypeSystemDefinition,
};

/// The label of requests that fit no other.
pub const OTHER: &str = "other";

/// The root fields of a schema, by operation type.
#[derive(Debug, Default)]
pub struct RootFields {
    /// `query plan`, `mutation addGoal`, …
    fields: HashSet<String>,
}

fn kind_name(kind: OperationType) -> &'static str {
    match kind {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    }
}

impl RootFields {
    /// The root fields declared in `sdl` (the schema's own export).
    pub fn of_sdl(sdl: &str) -> Self {
        let mut fields = HashSet::new();
        let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
            return Self::default();
        };
        for definition in &document.definitions {
            let TypeSystemDefinition::Type(definition) = definition else {
                continue;
            };
            let kind = match definition.node.name.node.as_str() {
                "QueryRoot" => OperationType::Query,
                "MutationRoot" => OperationType::Mutation,
                "SubscriptionRoot" => OperationType::Subscription,
                _ => continue,
            };
            if let TypeKind::Object(object) = &definition.node.kind {
                for field in &object.fields {
                    fields.insert(format!("{} {}", kind_name(kind), field.node.name.node));
                }
            }
        }
        Self { fields }
    }

    /// The label of `document` run as `operation_name` (or its only
    /// operation).
    pub fn label(&self, document: &ExecutableDocument, operation_name: Option<&str>) -> String {
        let operation = match (&document.operations, operation_name) {
            (DocumentOperations::Single(operation), _) => operation,
            (DocumentOperations::Multiple(operations), Some(name)) => match operations.get(name) {
                Some(operation) => operation,
                None => return OTHER.into(),
            },
            (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
                match operations.values().next() {
                    Some(operation) => operation,
                    None => return OTHER.into(),
                }
            }
            _ => return OTHER.into(),
        };
        let kind = kind_name(operation.node.ty);
        let mut selected: Vec<&str> = Vec::new();
        for selection in &operation.node.selection_set.node.items {
            let Selection::Field(field) = &selection.node else {
                return OTHER.into();
            };
            let name = field.node.name.node.as_str();
            if name == "__typename" {
                continue;
            }
            if name.starts_with("__") {
                return format!("{kind} introspection");
            }
            if !self.fields.contains(&format!("{kind} {name}")) {
                return OTHER.into();
            }
            if !selected.contains(&name) {
                selected.push(name);
            }
        }
        match selected.as_slice() {
            [only] => format!("{kind} {only}"),
            [] => OTHER.into(),
            _ => format!("{kind} multiple"),
        }
    }
}

/// The root fields of Trellis's schema (the same for every instance).
pub fn trellis_root_fields(schema: &crate::TrellisSchema) -> &'static RootFields {
    static FIELDS: OnceLock<RootFields> = OnceLock::new();
    FIELDS.get_or_init(|| RootFields::of_sdl(&schema.sdl()))
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    const SDL: &str = "type QueryRoot { plan(id: ID!): Int plans: Int }
        type MutationRoot { addGoal(x: Int): Int }
        schema { query: QueryRoot mutation: MutationRoot }";

    fn label(query: &str, name: Option<&str>) -> String {
        RootFields::of_sdl(SDL).label(&parse_query(query).unwrap(), name)
    }

    #[test]
    fn labels_come_from_the_root_fields_not_the_clients_names() {
        assert_eq!(
            label("query Mine($id: ID!) { plan(id: $id) }", None),
            "query plan"
        );
        assert_eq!(
            label("{ a: plan(id: 1) b: plan(id: 2) }", None),
            "query plan"
        );
        assert_eq!(
            label("mutation X { addGoal(x: 1) __typename }", None),
            "mutation addGoal"
        );
        assert_eq!(label("{ plan(id: 1) plans }", None), "query multiple");
        assert_eq!(
            label("{ __schema { types { name } } }", None),
            "query introspection"
        );
        assert_eq!(label("{ madeUpField }", None), OTHER);
        assert_eq!(
            label("{ ...F } fragment F on QueryRoot { plans }", None),
            OTHER
        );
        assert_eq!(
            label("query A { plans } query B { plan(id: 1) }", Some("B")),
            "query plan"
        );
        assert_eq!(
            label("query A { plans } query B { plan(id: 1) }", None),
            OTHER
        );
        assert_eq!(label("query A { plans }", Some("Nope")), OTHER);
    }

    #[test]
    fn a_flood_of_made_up_names_makes_no_new_labels() {
        let fields = RootFields::of_sdl(SDL);
        let mut labels = HashSet::new();
        for n in 0..1_000 {
            let query = format!("query Invented{n} {{ plans }} ");
            labels
                .insert(fields.label(&parse_query(&query).unwrap(), Some(&format!("Invented{n}"))));
            let unknown = format!("{{ field{n} }}");
            labels.insert(fields.label(&parse_query(&unknown).unwrap(), None));
        }
        let expected: HashSet<String> = ["query plans".to_owned(), OTHER.to_owned()].into();
        assert_eq!(labels, expected);
    }

    #[test]
    fn the_trellis_schema_names_its_root_fields() {
        let sdl = include_str!("../../docs/schema.graphql");
        let fields = RootFields::of_sdl(sdl);
        let query = parse_query("{ plan(id: \"x\") { id } }").unwrap();
        assert_eq!(fields.label(&query, None), "query plan");
        let mutation = parse_query("mutation { addGoal(input: {}) { revision } }").unwrap();
        assert_eq!(fields.label(&mutation, None), "mutation addGoal");
    }
}
