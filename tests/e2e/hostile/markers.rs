//! Point 5: errors state rules, never values. A PHI-looking marker goes
//! into every string field of every rpc, one field at a time and all at
//! once; no answer and no log line may carry it back.

use prost_reflect::{FieldDescriptor, Kind, Value};
use trellis_auth::Role;

use super::wire;
use super::{LoggedServer, MARKER, staff_token};
use crate::harness::{self, CLINIC, CLINICIAN};

/// Ids of records that exist, so a field's marker is checked at the depth
/// a plausible command reaches, not only at the first missing id.
struct Known {
    plan: String,
    goal: String,
    objective: String,
}

/// A plausible value for a field, by its name in the contract.
fn plausible(field: &FieldDescriptor, known: &Known) -> Option<Value> {
    let name = field.name();
    Some(match field.kind() {
        Kind::String => Value::String(match name {
            "command_id" => harness::command_id(),
            "plan_id" => known.plan.clone(),
            "goal_id" | "goal_ids" | "entity_id" => known.goal.clone(),
            "objective_id" => known.objective.clone(),
            "primary_clinician_id" | "subject" | "to" => CLINICIAN.to_owned(),
            "clinic_id" => CLINIC.to_owned(),
            "client_id" => "client-1".to_owned(),
            "code" => "F41.1".to_owned(),
            n if n.ends_with("_on") || n.ends_with("_date") || n == "onset" => {
                harness::today().to_string()
            }
            n if n.ends_with("_id") => harness::command_id(),
            _ => "plain words".to_owned(),
        }),
        Kind::Enum(e) => Value::EnumNumber(e.values().nth(1).map_or(0, |v| v.number())),
        Kind::Bool => Value::Bool(false),
        Kind::Int32 | Kind::Sint32 | Kind::Sfixed32 => Value::I32(1),
        Kind::Int64 | Kind::Sint64 | Kind::Sfixed64 => Value::I64(1),
        Kind::Uint32 | Kind::Fixed32 => Value::U32(1),
        Kind::Uint64 | Kind::Fixed64 => Value::U64(1),
        Kind::Float => Value::F32(1.0),
        Kind::Double => Value::F64(1.0),
        Kind::Bytes => Value::Bytes(bytes::Bytes::from_static(b"plain")),
        Kind::Message(_) => return None,
    })
}

/// The request of `method` with string field number `target` (in fill
/// order; `None` = every one) replaced by a marker naming it.
fn request_with_marker(
    method: &prost_reflect::MethodDescriptor,
    known: &Known,
    target: Option<usize>,
) -> (bytes::Bytes, usize) {
    let mut seen = 0;
    let message = wire::filled(&method.input(), 2, &mut |field| {
        let value = plausible(field, known)?;
        if matches!(value, Value::String(_)) {
            seen += 1;
            if target.is_none_or(|t| t == seen - 1) {
                return Some(Value::String(format!("{MARKER}-{}-{seen}", field.name())));
            }
        }
        Some(value)
    });
    (wire::encode(&message), seen)
}

#[tokio::test]
async fn no_answer_or_log_line_carries_a_value_back() {
    let server = LoggedServer::start(&[]).await;
    let tenant = harness::fresh_tenant();
    let token = staff_token(&tenant);
    let mut client = server.server.plans(&token).await;
    let plan = harness::create_plan(&mut client).await.plan_id;
    let goal = client
        .add_goal(harness::add_goal_request(&plan, "Sleep through the night"))
        .await
        .expect("AddGoal")
        .into_inner()
        .entity_id;
    let objective = client
        .add_objective(harness::add_objective_request(&plan, &goal))
        .await
        .expect("AddObjective")
        .into_inner()
        .entity_id;
    let known = Known {
        plan,
        goal,
        objective,
    };

    let channel = server.channel().await;
    let (mut cases, mut refused) = (0, 0);
    for method in wire::methods() {
        let path = wire::path(&method);
        let (_, strings) = request_with_marker(&method, &known, None);
        let targets = (0..strings).map(Some).chain([None]);
        for target in targets {
            let (body, _) = request_with_marker(&method, &known, target);
            let status = wire::call(&channel, &path, &token, body).await;
            cases += 1;
            if status.code() != tonic::Code::Ok {
                refused += 1;
            }
            assert!(
                !matches!(
                    status.code(),
                    tonic::Code::Internal | tonic::Code::Unknown | tonic::Code::DataLoss
                ),
                "{path} field #{target:?}: {:?}",
                status.code()
            );
            assert!(
                !wire::shown(&status).contains(MARKER),
                "{path} echoed a value: {status:?}"
            );
        }
    }
    assert!(cases > 150, "only {cases} cases");
    assert!(
        refused > 50,
        "only {refused} of {cases} refused: the markers reached no rule"
    );
    server.assert_log_free_of(MARKER).await;
}

#[tokio::test]
async fn graphql_errors_do_not_quote_the_request() {
    let server = LoggedServer::start(&[]).await;
    let tenant = harness::fresh_tenant();
    let token = harness::token(&tenant, CLINICIAN, &[Role::Clinician]);
    let queries = [
        // A syntax error right after a string literal.
        format!(r#"{{ plan(id: "{MARKER}-id") {{ title "#),
        // A value of the wrong type.
        format!(r#"{{ plan(id: {{ x: "{MARKER}-obj" }}) {{ title }} }}"#),
        // A string where an enum belongs.
        format!(
            r#"mutation {{ addGoal(input: {{ commandId: "c", planId: "p", description: "d",
                term: "{MARKER}-term" }}) {{ revision }} }}"#
        ),
        // A mutation whose input breaks rules.
        format!(
            r#"mutation {{ addDiagnosis(input: {{ commandId: "{MARKER}-cmd", planId: "{MARKER}-plan",
                code: "{MARKER}-code" }}) {{ revision }} }}"#
        ),
    ];
    for query in &queries {
        let (status, body) = server
            .server
            .graphql_raw(Some(&token), query, serde_json::json!({}))
            .await;
        assert!(status < 500, "{status}: {body}");
        assert!(body.get("errors").is_some(), "no error for {query}: {body}");
        assert!(
            !body.to_string().contains(MARKER),
            "the answer quotes the request: {body}"
        );
    }
    // Variables with wrong types are refused without their values.
    let (_, body) = server
        .server
        .graphql_raw(
            Some(&token),
            "query($id: ID!) { plan(id: $id) { title } }",
            serde_json::json!({ "id": { "nested": MARKER } }),
        )
        .await;
    assert!(body.get("errors").is_some(), "{body}");
    assert!(!body.to_string().contains(MARKER), "{body}");
    // Bodies that are not GraphQL requests: the JSON parser's complaint
    // would quote them.
    for body in [
        format!(r#"{{"query": "{{ __typename }}", "variables": "{MARKER}-vars"}}"#),
        format!(r#"{{"query": ["{MARKER}-query"]}}"#),
        format!(r#"{{"query": "{{ __typename }}", "operationName": {{"{MARKER}": 1}}}}"#),
        format!(r#"{{"query": "{MARKER}-unterminated"#),
    ] {
        let response = reqwest::Client::new()
            .post(format!("{}/graphql", server.server.http))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("post");
        assert_eq!(response.status(), 400);
        let text = response.text().await.expect("body");
        assert!(text.contains("BAD_USER_INPUT"), "{text}");
        assert!(!text.contains(MARKER), "the answer quotes the body: {text}");
    }
    server.assert_log_free_of(MARKER).await;
}
