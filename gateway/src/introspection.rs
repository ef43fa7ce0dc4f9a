//! Who may ask for the schema: staff roles (clinicians, supervisors,
//! auditors, admins) may introspect, as code generators and GraphiQL do;
//! a client's token may not. The published contract is
//! `docs/schema.graphql`, so apps never need to ask at run time.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextParseQuery};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, ServerError, ServerResult, Variables};
use trellis_auth::{Caller, Role};

use crate::error::ErrorCode;

/// The schema extension that refuses introspection to callers holding no
/// staff role.
#[derive(Debug, Clone, Copy, Default)]
pub struct StaffIntrospection;

impl ExtensionFactory for StaffIntrospection {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

/// Whether a selection (fragments included) names `__schema` or `__type`.
fn introspects(set: &SelectionSet, document: &ExecutableDocument, depth: usize) -> bool {
    // Fragments can nest; the cost check has already bounded the document.
    if depth > 32 {
        return false;
    }
    set.items.iter().any(|item| match &item.node {
        Selection::Field(field) => {
            let name = field.node.name.node.as_str();
            name == "__schema" || name == "__type"
        }
        Selection::InlineFragment(inline) => {
            introspects(&inline.node.selection_set.node, document, depth + 1)
        }
        Selection::FragmentSpread(spread) => document
            .fragments
            .get(&spread.node.fragment_name.node)
            .is_some_and(|f| introspects(&f.node.selection_set.node, document, depth + 1)),
    })
}

/// Staff roles may introspect; a caller with only the client role may not.
pub fn may_introspect(caller: &Caller) -> bool {
    caller.roles.iter().any(|r| *r != Role::Client)
}

#[async_trait::async_trait]
impl Extension for StaffIntrospection {
    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        let asks = document
            .operations
            .iter()
            .any(|(_, op)| introspects(&op.node.selection_set.node, &document, 0));
        let allowed = ctx.data_opt::<Caller>().is_some_and(may_introspect);
        if asks && !allowed {
            let mut error = ServerError::new(
                "introspection is for staff roles; the schema is published as docs/schema.graphql",
                None,
            );
            let mut extensions = ErrorExtensionValues::default();
            extensions.set("code", ErrorCode::Forbidden.as_str());
            error.extensions = Some(extensions);
            return Err(error);
        }
        Ok(document)
    }
}

#[cfg(test)]
mod tests {
    use trellis_kernel::TenantId;

    use super::*;

    fn asks(query: &str) -> bool {
        let document = async_graphql::parser::parse_query(query).unwrap();
        document
            .operations
            .iter()
            .any(|(_, op)| introspects(&op.node.selection_set.node, &document, 0))
    }

    #[test]
    fn introspection_is_found_however_it_is_written() {
        assert!(asks("{ __schema { types { name } } }"));
        assert!(asks(
            "{ ... on QueryRoot { __type(name: \"Plan\") { name } } }"
        ));
        assert!(asks(
            "{ ...F } fragment F on QueryRoot { __schema { queryType { name } } }"
        ));
        assert!(!asks("{ plans { edges { cursor } } }"));
        // __typename is not introspection of the schema.
        assert!(!asks("{ __typename }"));
    }

    #[test]
    fn only_staff_roles_may_introspect() {
        let caller = |roles: Vec<Role>| Caller {
            tenant: TenantId::parse("northside").unwrap(),
            subject: "someone".into(),
            roles,
            clinics: vec![],
        };
        assert!(may_introspect(&caller(vec![Role::Clinician])));
        assert!(may_introspect(&caller(vec![Role::Auditor])));
        assert!(!may_introspect(&caller(vec![Role::Client])));
    }
}
