//! Introspection follows the configured policy, and the standard
//! introspection query of graphql-js / graphql-core (what GraphiQL, codegen
//! tools and `gql` send) fits the cost and depth limits.

mod common;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, header};
use serde_json::{Value, json};
use tower::ServiceExt;
use trellis_auth::Role;
use trellis_gateway::IntrospectionPolicy;

/// graphql-js 16.9's `getIntrospectionQuery()` with every option on
/// (descriptions, specifiedByUrl, directiveIsRepeatable,
/// schemaDescription, inputValueDeprecation): its `TypeRef` nests
/// `ofType` eight times, nine levels of type.
const STANDARD_INTROSPECTION: &str = r"
    query IntrospectionQuery {
      __schema {
        description
        queryType { name }
        mutationType { name }
        subscriptionType { name }
        types {
          ...FullType
        }
        directives {
          name
          description
          isRepeatable
          locations
          args(includeDeprecated: true) {
            ...InputValue
          }
        }
      }
    }

    fragment FullType on __Type {
      kind
      name
      description
      specifiedByURL
      fields(includeDeprecated: true) {
        name
        description
        args(includeDeprecated: true) {
          ...InputValue
        }
        type {
          ...TypeRef
        }
        isDeprecated
        deprecationReason
      }
      inputFields(includeDeprecated: true) {
        ...InputValue
      }
      interfaces {
        ...TypeRef
      }
      enumValues(includeDeprecated: true) {
        name
        description
        isDeprecated
        deprecationReason
      }
      possibleTypes {
        ...TypeRef
      }
    }

    fragment InputValue on __InputValue {
      name
      description
      type { ...TypeRef }
      defaultValue
      isDeprecated
      deprecationReason
    }

    fragment TypeRef on __Type {
      kind
      name
      ofType {
        kind
        name
        ofType {
          kind
          name
          ofType {
            kind
            name
            ofType {
              kind
              name
              ofType {
                kind
                name
                ofType {
                  kind
                  name
                  ofType {
                    kind
                    name
                    ofType {
                      kind
                      name
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
";

/// The same with graphql-js's and graphql-core's default options.
fn default_introspection() -> String {
    STANDARD_INTROSPECTION
        .replace(
            "        description\n        queryType",
            "        queryType",
        )
        .replace("          isRepeatable\n", "")
        .replace("      specifiedByURL\n", "")
        .replace("args(includeDeprecated: true)", "args")
        .replace("inputFields(includeDeprecated: true)", "inputFields")
        .replace(
            "      defaultValue\n      isDeprecated\n      deprecationReason\n",
            "      defaultValue\n",
        )
}

async fn post(router: &Router, token: &str, query: &str) -> Value {
    let request = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(json!({ "query": query }).to_string()))
        .unwrap();
    let response = router
        .clone()
        .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 4000))))
        .oneshot(request)
        .await
        .unwrap();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    serde_json::from_slice(&body).unwrap()
}

fn refused(body: &Value) -> bool {
    body["errors"][0]["extensions"]["code"] == "FORBIDDEN" && body["data"].is_null()
}

#[tokio::test]
async fn staff_may_run_the_standard_introspection_query() {
    let gateway = common::gateway(|_| {}).await;
    let clinician = common::token("clin-1", &[Role::Clinician]);
    let default = default_introspection();
    for option in [
        "isRepeatable",
        "specifiedByURL",
        "args(includeDeprecated",
        "inputFields(includeDeprecated",
    ] {
        assert!(!default.contains(option), "{option}");
    }
    for query in [STANDARD_INTROSPECTION.to_owned(), default] {
        let body = post(&gateway.router, &clinician, &query).await;
        assert!(body["errors"].is_null(), "{body}");
        assert_eq!(body["data"]["__schema"]["queryType"]["name"], "QueryRoot");
        let types = body["data"]["__schema"]["types"].as_array().unwrap();
        assert!(types.iter().any(|t| t["name"] == "Plan"));
    }
    // The client role may not, by default: the same text, which the
    // staff's requests left parsed and judged for cost, is still judged
    // for the caller.
    let client = common::token("client-1", &[Role::Client]);
    let body = post(&gateway.router, &client, STANDARD_INTROSPECTION).await;
    assert!(refused(&body), "{body}");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("staff"), "{message}");
}

#[tokio::test]
async fn everyone_opens_it_to_every_token() {
    let gateway =
        common::gateway(|config| config.edge.introspection = IntrospectionPolicy::Everyone).await;
    let client = common::token("client-1", &[Role::Client]);
    let body = post(&gateway.router, &client, STANDARD_INTROSPECTION).await;
    assert!(body["errors"].is_null(), "{body}");
}

#[tokio::test]
async fn nobody_closes_it_to_staff_too() {
    let gateway =
        common::gateway(|config| config.edge.introspection = IntrospectionPolicy::Nobody).await;
    for token in [
        common::token("admin-1", &[Role::Admin]),
        common::token("clin-1", &[Role::Clinician]),
    ] {
        let body = post(
            &gateway.router,
            &token,
            "{ __type(name: \"Plan\") { name } }",
        )
        .await;
        assert!(refused(&body), "{body}");
        let message = body["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("turned off"), "{message}");
    }
    // Ordinary queries, and __typename, still run.
    let clinician = common::token("clin-1", &[Role::Clinician]);
    let body = post(&gateway.router, &clinician, "{ __typename }").await;
    assert_eq!(body["data"]["__typename"], "QueryRoot", "{body}");
}
