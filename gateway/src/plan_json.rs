//! The plan as GraphQL shows it, for answers given outside GraphQL: the
//! audit service's `GetPlanAsOf` sends this JSON as `plan_json`.
//!
//! [`GraphqlPlanRenderer`] runs one query that selects every field of
//! `Plan`, and of every object type beneath it, against a schema whose only
//! query field returns the plan it is given. The selection is read from
//! that schema's own SDL when the renderer is made, so a field added to
//! `Plan` or below it is in the JSON without anyone listing it. Fields that
//! take arguments get none, so their defaults: `measures` of every
//! instrument, every `safetyFlags`, every `signatures`. `signedVersion`
//! (another state of the plan, replayed per request) is left out. No field it selects needs the request (caller, read
//! models, access log); one that did would fail [`PlanRenderer::render`],
//! and the tests here.

use std::collections::HashMap;

use async_graphql::parser::types::{BaseType, Type, TypeKind, TypeSystemDefinition};
use async_graphql::{Context, EmptyMutation, EmptySubscription, Object, Schema};
use trellis_audit::{PlanRenderer, RenderError};
use trellis_projector::PlanView;

use crate::plan::Plan;

/// The plan one render shows; request data of the render's query.
struct Shown(PlanView);

/// The render schema's query root: the plan it is given, nothing else.
#[derive(Debug, Default)]
struct ShownPlanQuery;

#[Object]
impl ShownPlanQuery {
    async fn plan(&self, ctx: &Context<'_>) -> async_graphql::Result<Plan> {
        Ok(Plan(ctx.data::<Shown>()?.0.clone()))
    }
}

/// Renders a [`PlanView`] as the JSON of GraphQL's `Plan` with every field
/// selected (camelCase names, enum values as in `docs/schema.graphql`,
/// `id` for the plan id, no tenant), nested types alike.
pub struct GraphqlPlanRenderer {
    schema: Schema<ShownPlanQuery, EmptyMutation, EmptySubscription>,
    selection: String,
    query: String,
}

impl std::fmt::Debug for GraphqlPlanRenderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GraphqlPlanRenderer")
            .field("selection", &self.selection)
            .finish_non_exhaustive()
    }
}

impl GraphqlPlanRenderer {
    /// Fails only if `Plan` has a field no query can select whole: one
    /// with a required argument, or an interface or union type beneath it.
    pub fn new() -> Result<Self, RenderError> {
        let schema = Schema::build(ShownPlanQuery, EmptyMutation, EmptySubscription).finish();
        let selection = full_selection(&schema.sdl(), "Plan")?;
        let query = format!("{{ plan {selection} }}");
        Ok(Self {
            schema,
            selection,
            query,
        })
    }

    /// The selection set on `Plan` every render runs, `{ id clientId … }`:
    /// a GraphQL client selecting it gets the same JSON.
    pub fn selection(&self) -> &str {
        &self.selection
    }
}

#[async_trait::async_trait]
impl PlanRenderer for GraphqlPlanRenderer {
    async fn render(&self, view: &PlanView) -> Result<serde_json::Value, RenderError> {
        let request = async_graphql::Request::new(self.query.as_str()).data(Shown(view.clone()));
        let response = self.schema.execute(request).await;
        if let Some(e) = response.errors.first() {
            // Resolver messages state rules; paths are field names and
            // list indices. Neither carries a value of the plan.
            let path: Vec<String> = e
                .path
                .iter()
                .map(|segment| match segment {
                    async_graphql::PathSegment::Field(name) => name.clone(),
                    async_graphql::PathSegment::Index(i) => i.to_string(),
                })
                .collect();
            return Err(RenderError(format!(
                "{} (at {})",
                e.message,
                path.join(".")
            )));
        }
        let mut data = response
            .data
            .into_json()
            .map_err(|_| RenderError("the answer is not JSON".into()))?;
        match data.get_mut("plan").map(serde_json::Value::take) {
            Some(plan @ serde_json::Value::Object(_)) => Ok(plan),
            _ => Err(RenderError("the answer has no plan".into())),
        }
    }
}

/// Fields that are other states of the plan rather than parts of it.
const NOT_PARTS: [(&str, &str); 1] = [("Plan", "signedVersion")];

/// Every field of `root` in `sdl`, recursively, as one selection set.
pub(crate) fn full_selection(sdl: &str, root: &str) -> Result<String, RenderError> {
    let document = async_graphql::parser::parse_schema(sdl)
        .map_err(|e| RenderError(format!("the schema does not parse: {e}")))?;
    let types: HashMap<String, TypeKind> = document
        .definitions
        .into_iter()
        .filter_map(|d| match d {
            TypeSystemDefinition::Type(t) => {
                let t = t.node;
                Some((t.name.node.to_string(), t.kind))
            }
            _ => None,
        })
        .collect();
    let mut path = Vec::new();
    selection_of(&types, root, &mut path)
}

/// The named type beneath any list and non-null wrappers.
fn named(ty: &Type) -> &str {
    match &ty.base {
        BaseType::Named(name) => name.as_str(),
        BaseType::List(inner) => named(inner),
    }
}

fn selection_of(
    types: &HashMap<String, TypeKind>,
    name: &str,
    path: &mut Vec<String>,
) -> Result<String, RenderError> {
    let Some(TypeKind::Object(object)) = types.get(name) else {
        return Err(RenderError(format!("{name} is not an object type")));
    };
    if path.iter().any(|p| p == name) {
        return Err(RenderError(format!(
            "{name} contains itself ({}), so no selection is whole",
            path.join(" > ")
        )));
    }
    path.push(name.to_owned());
    let mut fields = Vec::with_capacity(object.fields.len());
    for field in &object.fields {
        let field = &field.node;
        let field_name = field.name.node.as_str();
        if let Some(required) = field
            .arguments
            .iter()
            .find(|a| !a.node.ty.node.nullable && a.node.default_value.is_none())
        {
            return Err(RenderError(format!(
                "{name}.{field_name} requires the argument {}",
                required.node.name.node
            )));
        }
        let of = named(&field.ty.node);
        match types.get(of) {
            // Built-in scalars are not in the SDL.
            None | Some(TypeKind::Scalar | TypeKind::Enum(_)) => fields.push(field_name.to_owned()),
            // Another state of the plan, replayed per request: not a part
            // of this one.
            Some(TypeKind::Object(_)) if NOT_PARTS.contains(&(name, field_name)) => {}
            Some(TypeKind::Object(_)) => {
                let inner = selection_of(types, of, path)?;
                fields.push(format!("{field_name} {inner}"));
            }
            Some(TypeKind::Interface(_) | TypeKind::Union(_) | TypeKind::InputObject(_)) => {
                return Err(RenderError(format!(
                    "{name}.{field_name} is of {of}, which needs fragments to select"
                )));
            }
        }
    }
    path.pop();
    Ok(format!("{{ {} }}", fields.join(" ")))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use serde_json::json;
    use trellis_audit::{Audit, DigestKey};
    use trellis_projector::SqliteReadModels;
    use trellis_store_sqlite::SqliteEventStore;

    use super::*;

    fn served_sdl() -> String {
        let dir = tempfile::tempdir().unwrap();
        let read_models = SqliteReadModels::open(dir.path().join("rm.db")).unwrap();
        let store = Arc::new(SqliteEventStore::open(dir.path().join("events.db")).unwrap());
        let key = DigestKey::development();
        let audit = Audit::new(store.clone(), store.clone(), key.clone(), key.public_key());
        crate::build_schema(
            Arc::new(read_models),
            store,
            crate::AuditBackend::Local(Box::new(audit)),
            None,
            None,
        )
        .sdl()
    }

    /// A plan with a long- and a short-term goal, an objective with
    /// progress, a held review, a score and a diagnosis.
    fn view() -> PlanView {
        serde_json::from_value(json!({
            "tenant": "north",
            "plan_id": "5f0c0000-0000-0000-0000-000000000001",
            "client_id": "client-1",
            "primary_clinician_id": "clin-1",
            "clinic_id": "clinic-a",
            "title": "Plan",
            "created_on": "2026-01-05",
            "version": 4,
            "updated_at": "2026-01-06T10:00:00Z",
            "goals": [
                {
                    "goal_id": "g-1",
                    "description": "Sleep through the night",
                    "term": "long_term",
                    "outcome": null,
                    "closed_on": null,
                    "objectives": [{
                        "objective_id": "o-1",
                        "description": "Nights woken",
                        "baseline": 4.0,
                        "target": 1.0,
                        "unit": "nights",
                        "period": "week",
                        "target_date": "2026-06-01",
                        "met_on": null,
                        "progress": [{
                            "value": 3.0,
                            "observed_on": "2026-01-06",
                            "source": "clinician",
                            "note": "",
                            "recorded_by": "clin-1",
                            "recorded_at": "2026-01-06T10:00:00Z"
                        }]
                    }]
                },
                {
                    "goal_id": "g-2",
                    "description": "Walk daily",
                    "term": "short_term",
                    "outcome": null,
                    "closed_on": null,
                    "objectives": []
                }
            ],
            "reviews": [{
                "review_id": "r-1",
                "due_on": "2026-01-06",
                "held_on": "2026-01-06",
                "participants": ["clin-1"],
                "summary": "Continue",
                "decision": "continue"
            }],
            "diagnoses": [{
                "code": "F41.1",
                "description": "Generalized anxiety disorder",
                "primary": true
            }]
        }))
        .expect("a plan view")
    }

    #[test]
    fn the_selection_is_every_field_of_the_served_plan() {
        let renderer = GraphqlPlanRenderer::new().unwrap();
        assert_eq!(
            renderer.selection(),
            full_selection(&served_sdl(), "Plan").unwrap(),
            "the renderer's Plan differs from the one /graphql serves"
        );
        for field in ["id", "goals {", "term", "measures {", "signatures {"] {
            assert!(renderer.selection().contains(field), "{field}");
        }
    }

    #[tokio::test]
    async fn a_plan_renders_in_graphql_names_without_a_request() {
        let renderer = GraphqlPlanRenderer::new().unwrap();
        let plan = renderer.render(&view()).await.unwrap();
        assert_eq!(plan["id"], "5f0c0000-0000-0000-0000-000000000001");
        assert_eq!(plan["clientId"], "client-1");
        assert_eq!(plan["goals"][0]["term"], "LONG_TERM");
        assert_eq!(plan["goals"][1]["term"], "SHORT_TERM");
        assert_eq!(plan["goals"][0]["objectives"][0]["latestValue"], 3.0);
        assert_eq!(plan["reviews"][0]["decision"], "CONTINUE");
        assert_eq!(plan["diagnoses"][0]["code"], "F41.1");
        let keys: Vec<&str> = plan
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        for internal in ["tenant", "plan_id", "planId", "client_id"] {
            assert!(!keys.contains(&internal), "{internal} in {keys:?}");
        }
        // Every field of the served `Plan` is there, and nothing else.
        let served = full_selection(&served_sdl(), "Plan").unwrap();
        let top: Vec<&str> = top_level_fields(&served);
        let mut sorted_keys = keys.clone();
        sorted_keys.sort_unstable();
        let mut sorted_top = top.clone();
        sorted_top.sort_unstable();
        assert_eq!(sorted_keys, sorted_top);
    }

    /// The field names of the outermost level of a selection set.
    fn top_level_fields(selection: &str) -> Vec<&str> {
        let mut depth = 0;
        let mut fields = Vec::new();
        for token in selection.split_whitespace() {
            match token {
                "{" => depth += 1,
                "}" => depth -= 1,
                name if depth == 1 => fields.push(name),
                _ => {}
            }
        }
        fields
    }

    #[test]
    fn a_field_no_query_can_select_whole_is_refused() {
        let sdl = "type Query { plan: Plan! }
                   type Plan { id: ID! notes(first: Int!): [String!]! }";
        let err = full_selection(sdl, "Plan").unwrap_err();
        assert!(
            err.0.contains("Plan.notes requires the argument first"),
            "{err}"
        );
        let cyclic = "type Plan { id: ID! next: Plan }";
        assert!(full_selection(cyclic, "Plan").is_err());
        let signed = "type Plan { id: ID! signedVersion: Plan }";
        assert_eq!(
            full_selection(signed, "Plan").unwrap(),
            "{ id }",
            "another state of the plan is left out"
        );
        let defaulted = "type Plan { id: ID! notes(first: Int! = 3, open: Boolean): [Note!]! }
                         type Note { text: String! kind: Kind }
                         enum Kind { A B }";
        assert_eq!(
            full_selection(defaulted, "Plan").unwrap(),
            "{ id notes { text kind } }"
        );
    }
}
