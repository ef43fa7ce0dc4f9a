//! Requests for a document this process has already judged and validated
//! in full, answered without doing either again.
//!
//! A screen sends the same query text thousands of times with new
//! variables. Validating it is a walk of the document per rule (a tenth of
//! the server's CPU in W3), and every rule but one is a function of the
//! text and the schema alone: once async-graphql passed a text in full,
//! only the values of its variables are new. So a request whose text was
//! kept and marked validated (`parsed.rs`, marked by the rules' extension
//! in `rules.rs`) goes to a twin schema with no extension and
//! async-graphql's fast validation, once the values of the variables it
//! declares are shown valid here. Everything else, and anything this
//! check is unsure of, takes the full path: a request is never answered
//! differently for having taken this one.

use async_graphql::parser::types::{
    BaseType, DocumentOperations, ExecutableDocument, OperationDefinition, Type,
};
use async_graphql::{Request, Value};

use crate::cost::{CostLimits, known_document};

/// The kept document of `request`'s text, when the request may skip the
/// checks that document has passed: it was validated in full, the
/// operation to run is found, and every variable that operation declares
/// is a plain scalar with a value valid for its type.
pub(crate) fn admit(request: &Request, limits: &CostLimits) -> Option<ExecutableDocument> {
    let document = known_document(&request.query, limits)?;
    let operation = selected(&document, request.operation_name.as_deref())?;
    let plain = operation.variable_definitions.iter().all(|definition| {
        let definition = &definition.node;
        plainly_valid(
            &definition.var_type.node,
            request.variables.get(&definition.name.node),
        )
    });
    plain.then(|| (*document).clone())
}

/// The operation async-graphql would run; `None` where it would refuse
/// the request, which the full path then does with its own error.
fn selected<'d>(
    document: &'d ExecutableDocument,
    name: Option<&str>,
) -> Option<&'d OperationDefinition> {
    match (&document.operations, name) {
        (DocumentOperations::Single(operation), None) => Some(&operation.node),
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|o| &o.node)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|o| &o.node)
        }
        _ => None,
    }
}

/// Whether `value` is valid for a variable of type `ty` by the rules
/// async-graphql's full validation applies (its scalars' `is_valid`): a
/// sound subset of them. Lists, enums, input objects and custom scalars,
/// a missing value for a non-null variable, or a value of another kind,
/// are left to the full path.
fn plainly_valid(ty: &Type, value: Option<&Value>) -> bool {
    let BaseType::Named(name) = &ty.base else {
        return false;
    };
    match value {
        None | Some(Value::Null) => ty.nullable,
        Some(value) => match (name.as_str(), value) {
            ("ID" | "String", Value::String(_)) => true,
            ("ID" | "Int", Value::Number(n)) => {
                n.as_i64().is_some_and(|n| i32::try_from(n).is_ok())
            }
            ("Boolean", Value::Boolean(_)) => true,
            _ => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use async_graphql::Variables;
    use async_graphql::parser::parse_query;
    use serde_json::json;
    use trellis_audit::{Audit, DigestKey};
    use trellis_auth::{Caller, Role};
    use trellis_kernel::{AccessLog, AccessQuery, TenantId};
    use trellis_projector::{PlanView, ReadModelStore, SqliteReadModels};
    use trellis_store_sqlite::SqliteEventStore;

    use super::*;

    fn variable(declared: &str, value: Option<serde_json::Value>) -> bool {
        let document = parse_query(format!("query($v: {declared}) {{ plan(id: $v) {{ id }} }}"))
            .expect("valid query");
        let DocumentOperations::Single(operation) = &document.operations else {
            panic!("one operation");
        };
        let ty = &operation.node.variable_definitions[0].node.var_type.node;
        let value = value.map(|v| Value::from_json(v).expect("a GraphQL value"));
        plainly_valid(ty, value.as_ref())
    }

    #[test]
    fn plain_scalar_values_are_admitted() {
        assert!(variable("ID!", Some(json!("plan-1"))));
        assert!(variable("ID", Some(json!(12))));
        assert!(variable("String!", Some(json!(""))));
        assert!(variable("Int", Some(json!(-5))));
        assert!(variable("Boolean!", Some(json!(true))));
        assert!(
            variable("String", None),
            "a nullable variable may be left out"
        );
        assert!(variable("Int", Some(json!(null))));
    }

    #[test]
    fn anything_unsure_takes_the_full_path() {
        assert!(!variable("ID!", None), "missing");
        assert!(!variable("ID!", Some(json!(null))));
        assert!(!variable("String!", Some(json!(5))), "another kind");
        assert!(!variable("Int", Some(json!(1.5))));
        assert!(!variable("Int", Some(json!(i64::from(i32::MAX) + 1))));
        assert!(!variable("Boolean", Some(json!("true"))));
        assert!(!variable("[ID!]", Some(json!(["a"]))), "lists");
        assert!(!variable("Term", Some(json!("SHORT"))), "enums");
        assert!(!variable("AddGoalInput!", Some(json!({}))), "input objects");
    }

    #[test]
    fn the_operation_is_the_one_async_graphql_would_run() {
        let one = parse_query("query Screen { plans { totalCount } }").unwrap();
        assert!(selected(&one, None).is_some());
        assert!(selected(&one, Some("Screen")).is_some());
        assert!(selected(&one, Some("Other")).is_none());
        let anonymous = parse_query("{ plans { totalCount } }").unwrap();
        assert!(selected(&anonymous, None).is_some());
        assert!(selected(&anonymous, Some("Screen")).is_none());
        let two = parse_query("query A { a } query B { b }").unwrap();
        assert!(
            selected(&two, None).is_none(),
            "which one is the client's to say"
        );
        assert!(selected(&two, Some("B")).is_some());
    }

    /// The Trellis schema over one plan (clin-1's, `plan-1`), and its
    /// access log.
    async fn schema() -> (
        crate::TrellisSchema,
        Arc<SqliteEventStore>,
        tempfile::TempDir,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let read_models = SqliteReadModels::open(dir.path().join("rm.db")).unwrap();
        let plan: PlanView = serde_json::from_value(json!({
            "tenant": "north", "plan_id": "plan-1", "client_id": "client-1",
            "primary_clinician_id": "clin-1", "clinic_id": "clinic-a", "title": "t",
            "created_on": "2026-10-01", "version": 1, "status": "active",
            "updated_at": "2026-10-01T00:00:00Z", "goals": [], "reviews": []
        }))
        .unwrap();
        read_models.save(vec![plan], 1).await.unwrap();
        let store = Arc::new(SqliteEventStore::open(dir.path().join("events.db")).unwrap());
        let key = DigestKey::development();
        let audit = Audit::new(store.clone(), store.clone(), key.clone(), key.public_key());
        let schema = crate::build_schema(
            Arc::new(read_models),
            store.clone(),
            crate::AuditBackend::Local(Box::new(audit)),
            None,
            None,
        );
        (schema, store, dir)
    }

    fn caller(role: Role) -> Caller {
        Caller {
            tenant: TenantId::parse("north").unwrap(),
            subject: "clin-1".into(),
            roles: vec![role],
            clinics: vec!["clinic-a".into()],
        }
    }

    fn request(query: &str, variables: serde_json::Value, role: Role) -> Request {
        Request::new(query)
            .variables(Variables::from_json(variables))
            .data(caller(role))
    }

    async fn reads_of_plan_1(store: &SqliteEventStore) -> usize {
        let tenant = TenantId::parse("north").unwrap();
        let plan = AccessQuery::Plan("plan-1".into());
        store.query(&tenant, &plan, None, 100).await.unwrap().len()
    }

    #[tokio::test]
    async fn a_text_is_known_once_it_passed_validation_and_answers_the_same() {
        let (schema, store, _dir) = schema().await;
        let query = "query($id: ID!) { plan(id: $id) { id title } } # known: answers the same";
        let ask = || request(query, json!({ "id": "plan-1" }), Role::Clinician);
        assert!(
            admit(&ask(), &CostLimits::default()).is_none(),
            "never seen"
        );
        let first = schema.execute(ask()).await;
        assert!(first.errors.is_empty(), "{:?}", first.errors);
        assert!(
            admit(&ask(), &CostLimits::default()).is_some(),
            "validated now"
        );
        let again = schema.execute(ask()).await;
        assert_eq!(again.data, first.data);
        assert!(again.errors.is_empty(), "{:?}", again.errors);
        // The known path reads through the same resolvers: each read logged.
        assert_eq!(reads_of_plan_1(&store).await, 2);
    }

    #[tokio::test]
    async fn bad_values_for_a_known_text_get_the_full_validations_error() {
        let (schema, store, _dir) = schema().await;
        let query = "query($id: ID!) { plan(id: $id) { id } } # known: bad values";
        schema
            .execute(request(query, json!({ "id": "plan-1" }), Role::Clinician))
            .await;
        let never_seen = "query($id: ID!) { plan(id: $id) { id } } # known: bad values, fresh";
        for bad in [
            json!({ "id": { "x": 1 } }),
            json!({ "id": true }),
            json!({}),
        ] {
            let known = schema
                .execute(request(query, bad.clone(), Role::Clinician))
                .await;
            let fresh = schema
                .execute(request(never_seen, bad.clone(), Role::Clinician))
                .await;
            assert!(!known.errors.is_empty(), "{bad} refused");
            let messages = |r: &async_graphql::Response| {
                r.errors
                    .iter()
                    .map(|e| e.message.clone())
                    .collect::<Vec<_>>()
            };
            assert_eq!(messages(&known), messages(&fresh), "{bad}");
            assert_eq!(known.data, fresh.data, "{bad}");
        }
        assert_eq!(
            reads_of_plan_1(&store).await,
            1,
            "nothing read for bad values"
        );
    }

    #[tokio::test]
    async fn introspection_is_judged_for_every_caller_of_a_text() {
        let (schema, _store, _dir) = schema().await;
        let query = "{ __schema { queryType { name } } } # known: introspection";
        let staff = schema
            .execute(request(query, json!({}), Role::Clinician))
            .await;
        assert!(staff.errors.is_empty(), "{:?}", staff.errors);
        assert!(
            admit(
                &request(query, json!({}), Role::Client),
                &CostLimits::default()
            )
            .is_none()
        );
        let client = schema
            .execute(request(query, json!({}), Role::Client))
            .await;
        assert_eq!(client.errors.len(), 1, "{:?}", client.errors);
        assert!(
            client.errors[0]
                .message
                .contains("introspection is for staff roles")
        );
    }
}
