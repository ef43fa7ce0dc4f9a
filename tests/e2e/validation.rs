//! Bad input gets a clear error and writes nothing.

use serde_json::json;
use tonic::Code;
use tonic_types::StatusExt;
use trellis_proto::plans::v1 as pb;

use crate::harness::*;

fn violated_fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_error_details()
        .bad_request()
        .map(|b| b.field_violations.iter().map(|v| v.field.clone()).collect())
        .unwrap_or_default()
}

/// A plan with one goal, and the version it is at.
async fn plan_with_goal(server: &Server, token: &str) -> (PlanClient, String, String, u64) {
    let mut plans = server.plans(token).await;
    let plan_id = create_plan(&mut plans).await.plan_id;
    let goal = plans
        .add_goal(add_goal_request(&plan_id, "Reduce worry"))
        .await
        .unwrap()
        .into_inner();
    server.plan_at_version(token, &plan_id, goal.revision).await;
    (plans, plan_id, goal.entity_id, goal.revision)
}

#[tokio::test]
async fn bad_commands_are_refused_with_clear_errors_and_write_nothing() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let token = clinician_token(&tenant);
    let (mut plans, plan_id, goal_id, version) = plan_with_goal(&server, &token).await;

    // Empty ids: every missing field named at once.
    let mut empty = add_objective_request("", "");
    empty.command_id = String::new();
    let err = plans.add_objective(empty).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["command_id", "plan_id", "goal_id"]);

    // A malformed date.
    let mut bad_date = add_objective_request(&plan_id, &goal_id);
    bad_date.target_date = "next spring".into();
    let err = plans.add_objective(bad_date).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&err), ["target_date"]);

    // Not SMART: the error names the letter.
    let mut no_unit = add_objective_request(&plan_id, &goal_id);
    no_unit.quantity.as_mut().unwrap().unit = String::new();
    let err = plans.add_objective(no_unit).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("M (measurable)"),
        "{}",
        err.message()
    );
    assert_eq!(violated_fields(&err), ["quantity.unit"]);
    let mut no_date = add_objective_request(&plan_id, &goal_id);
    no_date.target_date = String::new();
    let err = plans.add_objective(no_date).await.unwrap_err();
    assert!(
        err.message().contains("T (time-bound)"),
        "{}",
        err.message()
    );

    // An unknown goal.
    let unknown = add_objective_request(&plan_id, &uuid::Uuid::new_v4().to_string());
    let err = plans.add_objective(unknown).await.unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);

    // An objective met twice.
    let objective = plans
        .add_objective(add_objective_request(&plan_id, &goal_id))
        .await
        .unwrap()
        .into_inner();
    let met = |id: &str| pb::MarkObjectiveMetRequest {
        command_id: command_id(),
        plan_id: plan_id.clone(),
        objective_id: id.to_owned(),
    };
    plans
        .mark_objective_met(met(&objective.entity_id))
        .await
        .unwrap();
    let err = plans
        .mark_objective_met(met(&objective.entity_id))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("already met"));

    // Only the objective and its one "met" were written.
    let plan = server.plan_at_version(&token, &plan_id, version + 2).await;
    assert_eq!(plan["version"], version + 2);
    assert_eq!(plan["goals"][0]["objectives"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn callers_without_a_valid_token_are_unauthenticated() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let token = clinician_token(&tenant);
    let (_, plan_id, _, version) = plan_with_goal(&server, &token).await;

    let channel = tonic::transport::Channel::from_shared(server.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    for bearer in [
        Bearer::none(),
        Bearer::new("not-a-jwt"),
        Bearer::new(&format!("{token}x")),
    ] {
        let mut anonymous =
            trellis_proto::plans::v1::plan_service_client::PlanServiceClient::with_interceptor(
                channel.clone(),
                bearer,
            );
        let err = anonymous
            .add_goal(add_goal_request(&plan_id, "x"))
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Unauthenticated);
    }

    let (status, body) = server
        .graphql_raw(None, PLAN_QUERY, json!({ "id": plan_id }))
        .await;
    assert_eq!(status, 401);
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let (status, _) = server
        .graphql_raw(Some("garbage"), PLAN_QUERY, json!({ "id": plan_id }))
        .await;
    assert_eq!(status, 401);

    let plan = server.plan_at_version(&token, &plan_id, version).await;
    assert_eq!(plan["version"], version, "nothing was written");
}

#[tokio::test]
async fn oversized_messages_are_refused() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let token = clinician_token(&tenant);
    let (mut plans, plan_id, _, version) = plan_with_goal(&server, &token).await;
    let huge = add_goal_request(&plan_id, &"worry ".repeat(20_000));
    let err = plans.add_goal(huge).await.unwrap_err();
    assert_eq!(err.code(), Code::OutOfRange, "{err:?}");
    assert!(err.message().contains("too large"), "{}", err.message());

    let (status, _) = server
        .graphql_raw(
            Some(&token),
            &format!(
                "{{ plans {{ edges {{ cursor }} }} }} #{}",
                "x".repeat(100_000)
            ),
            json!({}),
        )
        .await;
    assert_eq!(status, 413);

    let plan = server.plan_at_version(&token, &plan_id, version).await;
    assert_eq!(
        plan["goals"].as_array().unwrap().len(),
        1,
        "nothing was written"
    );
}

#[tokio::test]
async fn graphql_page_sizes_are_bounded() {
    let server = Server::start().await;
    let token = clinician_token(&fresh_tenant());
    let (status, body) = server
        .graphql_raw(
            Some(&token),
            "{ plans(first: 1000) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
}

/// 25 fragments, each spreading the one before twice: 2^24 fields from
/// about 1 KB. Refused on its expanded size before it runs, and the
/// server goes on answering.
#[tokio::test]
async fn a_fragment_bomb_is_refused_before_it_runs() {
    let server = Server::start().await;
    let token = clinician_token(&fresh_tenant());
    let mut bomb = String::from("fragment F0 on QueryRoot { __typename }\n");
    for i in 1..=25 {
        bomb.push_str(&format!(
            "fragment F{i} on QueryRoot {{ ...F{p} ...F{p} }}\n",
            p = i - 1
        ));
    }
    bomb.push_str("{ ...F25 }");
    let started = std::time::Instant::now();
    let (status, body) = server.graphql_raw(Some(&token), &bomb, json!({})).await;
    eprintln!("fragment bomb answered in {:?}", started.elapsed());
    assert_eq!(status, 200);
    assert_eq!(body["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let message = body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("too many fields"), "{message}");
    assert!(
        !message.contains("F25"),
        "the rule, not the query: {message}"
    );
    assert!(body["data"].is_null());
    let (status, _) = server
        .graphql_raw(Some(&token), "{ plans { edges { cursor } } }", json!({}))
        .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn answers_carry_security_headers_and_only_json_is_accepted() {
    let server = Server::start().await;
    let token = clinician_token(&fresh_tenant());
    let client = reqwest::Client::new();
    let answer = client
        .post(format!("{}/graphql", server.http))
        .bearer_auth(&token)
        .json(&json!({ "query": "{ plans { edges { cursor } } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    let headers = answer.headers();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    // A form post, as a browser sends one cross-site without asking.
    let form = client
        .post(format!("{}/graphql", server.http))
        .bearer_auth(&token)
        .header("content-type", "text/plain")
        .body(r#"{"query":"{ plans { edges { cursor } } }"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 415);
    assert_eq!(form.headers()["x-content-type-options"], "nosniff");
}

#[tokio::test]
async fn a_query_that_does_not_parse_is_refused_without_quoting_it() {
    let server = Server::start().await;
    let token = clinician_token(&fresh_tenant());
    let (status, body) = server
        .graphql_raw(Some(&token), "{ plans { Jane-Doe-555-0100 }", json!({}))
        .await;
    assert_eq!(status, 200);
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(error["message"], "the query is not valid GraphQL");
    assert!(!body.to_string().contains("Jane"), "{body}");
    assert!(error["locations"][0]["line"].is_number(), "{body}");
}

/// Sends its bytes as they are, whatever the rpc expects.
#[derive(Debug, Clone)]
struct RawBytes;

#[derive(Debug)]
struct RawEncoder;

impl tonic::codec::Encoder for RawEncoder {
    type Item = Vec<u8>;
    type Error = tonic::Status;

    fn encode(
        &mut self,
        item: Vec<u8>,
        dst: &mut tonic::codec::EncodeBuf<'_>,
    ) -> Result<(), tonic::Status> {
        bytes::BufMut::put_slice(dst, &item);
        Ok(())
    }
}

impl tonic::codec::Codec for RawBytes {
    type Encode = Vec<u8>;
    type Decode = pb::CommandResponse;
    type Encoder = RawEncoder;
    type Decoder = trellis_proto::codec::Decoder<pb::CommandResponse>;

    fn encoder(&mut self) -> Self::Encoder {
        RawEncoder
    }

    fn decoder(&mut self) -> Self::Decoder {
        tonic::codec::Codec::decoder(&mut trellis_proto::codec::Codec::<
            pb::CommandResponse,
            pb::CommandResponse,
        >::default())
    }
}

#[tokio::test]
async fn bytes_that_are_not_the_message_are_the_callers_error() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let token = clinician_token(&tenant);
    let channel = tonic::transport::Channel::from_shared(server.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut grpc = tonic::client::Grpc::new(channel);
    // A length-delimited field whose length runs past the end, a varint
    // that never ends, a wire type that does not exist.
    for garbage in [
        vec![0x0a, 0x7f, 0x41],
        vec![0x08, 0xff, 0xff, 0xff],
        vec![0x0f],
    ] {
        grpc.ready().await.unwrap();
        let mut request = tonic::Request::new(garbage);
        request
            .metadata_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(
            "/trellis.plans.v1.PlanService/AddGoal",
        );
        let refused = grpc.unary(request, path, RawBytes).await.unwrap_err();
        assert_eq!(refused.code(), Code::InvalidArgument, "{refused:?}");
        assert_eq!(refused.message(), trellis_proto::codec::UNDECODABLE);
    }
}

/// graphql-js's `getIntrospectionQuery()`, as `gql`, codegen tools and
/// GraphiQL send it.
const STANDARD_INTROSPECTION: &str = "query IntrospectionQuery { __schema {
  queryType { name } mutationType { name } subscriptionType { name }
  types { ...FullType }
  directives { name description locations args { ...InputValue } } } }
fragment FullType on __Type { kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef }
    isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef } }
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } } }";

#[tokio::test]
async fn staff_may_introspect_the_schema_and_clients_may_not() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let clinician = clinician_token(&tenant);
    let (status, body) = server
        .graphql_raw(Some(&clinician), STANDARD_INTROSPECTION, json!({}))
        .await;
    assert_eq!(status, 200);
    assert!(body["errors"].is_null(), "{body}");
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], "QueryRoot");
    let client = token(&tenant, "client-1", &[trellis_auth::Role::Client]);
    let (_, body) = server
        .graphql_raw(Some(&client), STANDARD_INTROSPECTION, json!({}))
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert!(body["data"].is_null());
}
