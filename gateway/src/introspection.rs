//! Who may ask for the schema. By default staff roles (clinicians,
//! supervisors, auditors, admins) may introspect, as code generators and
//! GraphiQL do, and a client's token may not; the operator can open it to
//! every valid token or close it to all (`TRELLIS_INTROSPECTION`). The
//! published contract is `docs/schema.graphql`, so apps never need to ask
//! at run time.

use std::str::FromStr;

use async_graphql::extensions::ExtensionContext;
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, ServerError, ServerResult};
use trellis_auth::{Caller, Role};

use crate::error::ErrorCode;

/// Who may introspect the schema. The HTTP and WebSocket edges put the
/// configured policy into each request's data; without one, `Staff`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IntrospectionPolicy {
    /// Callers holding a staff role (anything but `client`).
    #[default]
    Staff,
    /// Every caller with a valid token (the endpoint needs one anyway).
    Everyone,
    /// Nobody: the published SDL is the only description of the API.
    Nobody,
}

impl IntrospectionPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Staff => "staff",
            Self::Everyone => "everyone",
            Self::Nobody => "nobody",
        }
    }

    /// Whether `caller` (none: not authenticated) may introspect.
    pub fn allows(self, caller: Option<&Caller>) -> bool {
        match self {
            Self::Staff => caller.is_some_and(may_introspect),
            Self::Everyone => caller.is_some(),
            Self::Nobody => false,
        }
    }

    /// The refusal's message: the rule, and where the schema is instead.
    fn refusal(self) -> &'static str {
        match self {
            Self::Nobody => {
                "introspection is turned off on this server; the schema is published as docs/schema.graphql"
            }
            Self::Staff | Self::Everyone => {
                "introspection is for staff roles; the schema is published as docs/schema.graphql"
            }
        }
    }
}

impl FromStr for IntrospectionPolicy {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        [Self::Staff, Self::Everyone, Self::Nobody]
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(value.trim()))
            .ok_or_else(|| "the introspection policy is one of staff, everyone, nobody".to_owned())
    }
}

/// The rule that refuses introspection to callers the request's
/// [`IntrospectionPolicy`] does not admit. Applied by
/// [`crate::rules::RequestRules`] to every parsed document, also to one
/// the cost check answers from the documents it kept (`parsed.rs`): it
/// judges the caller, not the text.
#[derive(Debug, Clone, Copy, Default)]
pub struct IntrospectionGuard;

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

/// Whether any operation of `document` asks for the schema.
pub(crate) fn asks_for_schema(document: &ExecutableDocument) -> bool {
    document
        .operations
        .iter()
        .any(|(_, op)| introspects(&op.node.selection_set.node, document, 0))
}

/// Staff roles may introspect; a caller with only the client role may not.
pub fn may_introspect(caller: &Caller) -> bool {
    caller.roles.iter().any(|r| *r != Role::Client)
}

impl IntrospectionGuard {
    pub(crate) fn judge(
        ctx: &ExtensionContext<'_>,
        document: ExecutableDocument,
    ) -> ServerResult<ExecutableDocument> {
        let asks = asks_for_schema(&document);
        let policy = ctx
            .data_opt::<IntrospectionPolicy>()
            .copied()
            .unwrap_or_default();
        if asks && !policy.allows(ctx.data_opt::<Caller>()) {
            let mut error = ServerError::new(policy.refusal(), None);
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
        asks_for_schema(&async_graphql::parser::parse_query(query).unwrap())
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

    #[test]
    fn the_policy_decides_who_may_introspect() {
        let caller = |roles: Vec<Role>| Caller {
            tenant: TenantId::parse("northside").unwrap(),
            subject: "someone".into(),
            roles,
            clinics: vec![],
        };
        let (staff, client) = (caller(vec![Role::Supervisor]), caller(vec![Role::Client]));
        let staff_only = IntrospectionPolicy::default();
        assert_eq!(staff_only, IntrospectionPolicy::Staff);
        assert!(staff_only.allows(Some(&staff)));
        assert!(!staff_only.allows(Some(&client)));
        assert!(!staff_only.allows(None));
        assert!(IntrospectionPolicy::Everyone.allows(Some(&client)));
        assert!(!IntrospectionPolicy::Everyone.allows(None));
        assert!(!IntrospectionPolicy::Nobody.allows(Some(&staff)));
        assert_eq!("Nobody".parse(), Ok(IntrospectionPolicy::Nobody));
        assert_eq!(" everyone ".parse(), Ok(IntrospectionPolicy::Everyone));
        let refused = "all".parse::<IntrospectionPolicy>().unwrap_err();
        assert!(
            !refused.contains("all"),
            "the rule, not the value: {refused}"
        );
    }
}
