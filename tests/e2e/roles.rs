//! Every role, allowed and denied, on gRPC and GraphQL. A denied command
//! writes nothing: the next accepted command lands at the very next
//! revision.

use serde_json::json;
use tonic::Code;
use trellis_auth::Role;
use trellis_proto::plans::v1 as pb;

use crate::harness::*;

fn sign(plan_id: &str, role: pb::SignerRole) -> pb::SignPlanRequest {
    pb::SignPlanRequest {
        command_id: command_id(),
        plan_id: plan_id.into(),
        role: role as i32,
    }
}

fn self_report(
    plan_id: &str,
    objective_id: &str,
    source: pb::ProgressSource,
) -> pb::RecordObjectiveProgressRequest {
    pb::RecordObjectiveProgressRequest {
        command_id: command_id(),
        plan_id: plan_id.into(),
        objective_id: objective_id.into(),
        value: 3.0,
        observed_on: today().to_string(),
        source: source as i32,
        note: String::new(),
    }
}

fn phq9(plan_id: &str, source: pb::ProgressSource) -> pb::RecordMeasureRequest {
    pb::RecordMeasureRequest {
        command_id: command_id(),
        plan_id: plan_id.into(),
        measure_id: String::new(),
        instrument: pb::Instrument::Phq9 as i32,
        answers: vec![1, 1, 1, 1, 1, 1, 1, 1, 0],
        total: None,
        administered_on: today().to_string(),
        source: source as i32,
    }
}

#[tokio::test]
async fn each_role_may_do_its_part_and_nothing_else_and_a_refusal_writes_nothing() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let mut clinician = server.plans(&clinician_token(&tenant)).await;
    let plan = create_plan(&mut clinician).await;
    let plan_id = plan.plan_id.clone();
    let goal = clinician
        .add_goal(add_goal_request(&plan_id, "Sleep through the night"))
        .await
        .unwrap()
        .into_inner();
    let objective = clinician
        .add_objective(add_objective_request(&plan_id, &goal.entity_id))
        .await
        .unwrap()
        .into_inner();
    let mut revision = objective.revision;

    let client = token_in(&tenant, "client-1", &[Role::Client], &[]);
    let other_client = token_in(&tenant, "client-2", &[Role::Client], &[]);
    let supervisor = token(&tenant, "sup-1", &[Role::Supervisor]);
    let other_supervisor = token_in(&tenant, "sup-2", &[Role::Supervisor], &["clinic-b"]);
    let other_clinician = token(&tenant, "clin-2", &[Role::Clinician]);
    let admin = token(&tenant, "it-1", &[Role::Admin]);
    let auditor = token(&tenant, "aud-1", &[Role::Auditor]);

    // Denied: (who, what, expected code).
    let mut as_client = server.plans(&client).await;
    let mut denied: Vec<(&str, Code)> = Vec::new();
    let code = |r: Result<tonic::Response<pb::CommandResponse>, tonic::Status>| {
        r.expect_err("must be refused").code()
    };
    denied.push((
        "client adds a goal",
        code(as_client.add_goal(add_goal_request(&plan_id, "x")).await),
    ));
    denied.push((
        "client records clinician progress",
        code(
            as_client
                .record_objective_progress(self_report(
                    &plan_id,
                    &objective.entity_id,
                    pb::ProgressSource::Clinician,
                ))
                .await,
        ),
    ));
    denied.push((
        "client signs as clinician",
        code(
            as_client
                .sign_plan(sign(&plan_id, pb::SignerRole::Clinician))
                .await,
        ),
    ));
    denied.push((
        "client signs before consenting",
        code(
            as_client
                .sign_plan(sign(&plan_id, pb::SignerRole::Client))
                .await,
        ),
    ));
    denied.push((
        "another client self-reports",
        code(
            server
                .plans(&other_client)
                .await
                .record_measure(phq9(&plan_id, pb::ProgressSource::ClientSelfReport))
                .await,
        ),
    ));
    denied.push((
        "another clinician adds a goal",
        code(
            server
                .plans(&other_clinician)
                .await
                .add_goal(add_goal_request(&plan_id, "x"))
                .await,
        ),
    ));
    denied.push((
        "a supervisor of another clinic co-signs",
        code(
            server
                .plans(&other_supervisor)
                .await
                .sign_plan(sign(&plan_id, pb::SignerRole::Supervisor))
                .await,
        ),
    ));
    denied.push((
        "the supervisor co-signs before the clinician",
        code(
            server
                .plans(&supervisor)
                .await
                .sign_plan(sign(&plan_id, pb::SignerRole::Supervisor))
                .await,
        ),
    ));
    for who in [&admin, &auditor] {
        denied.push((
            "admin or auditor adds a goal",
            code(
                server
                    .plans(who)
                    .await
                    .add_goal(add_goal_request(&plan_id, "x"))
                    .await,
            ),
        ));
    }
    assert_eq!(
        denied.iter().map(|(_, c)| *c).collect::<Vec<_>>(),
        [
            Code::PermissionDenied,
            Code::PermissionDenied,
            Code::PermissionDenied,
            Code::FailedPrecondition,
            Code::NotFound,
            Code::NotFound,
            Code::NotFound,
            Code::FailedPrecondition,
            Code::PermissionDenied,
            Code::PermissionDenied,
        ],
        "{denied:?}"
    );
    // Tenant settings: admins only.
    for who in [&clinician_token(&tenant), &supervisor, &auditor, &client] {
        let refused = server
            .plans(who)
            .await
            .set_review_rule(pb::SetReviewRuleRequest {
                payer: "medicaid".into(),
                interval_days: 30,
                command_id: String::new(),
            })
            .await
            .unwrap_err();
        assert_eq!(refused.code(), Code::PermissionDenied);
    }
    // Nothing above was written.
    let consent = clinician
        .record_consent(pb::RecordConsentRequest {
            command_id: command_id(),
            plan_id: plan_id.clone(),
            kind: pb::ConsentKind::Treatment as i32,
            given_on: today().to_string(),
            note: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(consent.revision, revision + 1);
    revision = consent.revision;

    // Allowed: the client self-reports, answers a questionnaire and signs;
    // the clinician signs; the supervisor of the clinic co-signs and adds.
    for (who, n) in [
        (
            as_client
                .record_objective_progress(self_report(
                    &plan_id,
                    &objective.entity_id,
                    pb::ProgressSource::ClientSelfReport,
                ))
                .await,
            1,
        ),
        (
            as_client
                .record_measure(phq9(&plan_id, pb::ProgressSource::ClientSelfReport))
                .await,
            1,
        ),
        (
            as_client
                .sign_plan(sign(&plan_id, pb::SignerRole::Client))
                .await,
            1,
        ),
        (
            clinician
                .sign_plan(sign(&plan_id, pb::SignerRole::Clinician))
                .await,
            1,
        ),
        (
            server
                .plans(&supervisor)
                .await
                .sign_plan(sign(&plan_id, pb::SignerRole::Supervisor))
                .await,
            1,
        ),
        (
            server
                .plans(&supervisor)
                .await
                .add_goal(add_goal_request(&plan_id, "Return to woodworking"))
                .await,
            // After signing, a new goal starts version 2 first.
            2,
        ),
    ] {
        let accepted = who.expect("allowed").into_inner();
        assert_eq!(accepted.revision, revision + n);
        revision = accepted.revision;
    }
    assert_eq!(
        server
            .plans(&admin)
            .await
            .set_review_rule(pb::SetReviewRuleRequest {
                payer: "medicaid".into(),
                interval_days: 30,
                command_id: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .rules
            .len(),
        2
    );

    // GraphQL reads: the client sees their own plan, not another's; the
    // admin reads no clinical content; the auditor reads everything.
    server.plan_at_version(&auditor, &plan_id, revision).await;
    let query = "query($id: ID!) { plan(id: $id) { id planVersion pendingSignatures } }";
    let own = server
        .graphql(&client, query, json!({ "id": plan_id }))
        .await;
    assert_eq!(own["plan"]["planVersion"], 2);
    assert_eq!(
        own["plan"]["pendingSignatures"],
        json!(["CLINICIAN", "CLIENT"])
    );
    let theirs = server
        .graphql(&other_client, query, json!({ "id": plan_id }))
        .await;
    assert_eq!(theirs["plan"], serde_json::Value::Null);
    let hidden = server
        .graphql(&admin, query, json!({ "id": plan_id }))
        .await;
    assert_eq!(hidden["plan"], serde_json::Value::Null);
    let (_, listing) = server
        .graphql_raw(Some(&admin), "{ caseload { clinicianId } }", json!({}))
        .await;
    assert_eq!(listing["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let caseload = server
        .graphql(
            &auditor,
            "{ caseload { clinicianId draft unsigned } }",
            json!({}),
        )
        .await;
    assert_eq!(
        caseload["caseload"],
        json!([{ "clinicianId": CLINICIAN, "draft": 1, "unsigned": 1 }])
    );
    // A client's GraphQL mutation beyond their part is refused, and the
    // client signs the new version through GraphQL.
    let (_, refused) = server
        .graphql_raw(
            Some(&client),
            "mutation($input: AddGoalInput!) { addGoal(input: $input) { revision } }",
            json!({ "input": { "commandId": command_id(), "planId": plan_id,
                "description": "x", "term": "SHORT_TERM" } }),
        )
        .await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let signed = server
        .graphql(
            &client,
            "mutation($input: SignPlanInput!) { signPlan(input: $input) { revision } }",
            json!({ "input": { "commandId": command_id(), "planId": plan_id, "role": "CLIENT" } }),
        )
        .await;
    assert_eq!(signed["signPlan"]["revision"], revision + 1);
}

#[tokio::test]
async fn a_clinician_added_to_the_care_team_treats_under_the_plan() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let mut clinician = server.plans(&clinician_token(&tenant)).await;
    let plan = create_plan(&mut clinician).await;
    let colleague = token(&tenant, "clin-2", &[Role::Clinician]);
    let admin = token(&tenant, "it-1", &[Role::Admin]);
    let refused = server
        .plans(&colleague)
        .await
        .add_goal(add_goal_request(&plan.plan_id, "Sleep"))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::NotFound);

    let assign = |command_id: String| {
        json!({ "input": { "commandId": command_id, "planId": plan.plan_id,
            "primaryClinicianId": CLINICIAN, "members": ["clin-2"] } })
    };
    let mutation =
        "mutation($input: AssignCareTeamInput!) { assignCareTeam(input: $input) { revision } }";
    // Clinicians do not assign care teams; admins do, without reading care.
    let (_, body) = server
        .graphql_raw(
            Some(&clinician_token(&tenant)),
            mutation,
            assign(command_id()),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let assigned = server.graphql(&admin, mutation, assign(command_id())).await;
    assert_eq!(assigned["assignCareTeam"]["revision"], plan.revision + 1);

    let added = server
        .plans(&colleague)
        .await
        .add_goal(add_goal_request(&plan.plan_id, "Sleep"))
        .await
        .unwrap()
        .into_inner();
    server
        .plan_at_version(&colleague, &plan.plan_id, added.revision)
        .await;
    let listed = server
        .graphql(
            &colleague,
            "{ plans { edges { node { id careTeam } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["plans"]["edges"],
        json!([{ "node": { "id": plan.plan_id, "careTeam": ["clin-2"] } }])
    );
    // The plan is in both clinicians' caseloads, primary for one.
    let supervisor = token(&tenant, "sup-1", &[Role::Supervisor]);
    let caseload = server
        .graphql(
            &supervisor,
            "{ caseload { clinicianId primary draft } }",
            json!({}),
        )
        .await;
    assert_eq!(
        caseload["caseload"],
        json!([
            { "clinicianId": CLINICIAN, "primary": 1, "draft": 1 },
            { "clinicianId": "clin-2", "primary": 0, "draft": 1 }
        ])
    );
}
