//! A plan's life over real gRPC and GraphQL, and tenants kept apart.

use serde_json::json;
use tonic::Code;
use trellis_auth::Role;
use trellis_proto::plans::v1 as pb;

use crate::harness::*;

#[tokio::test]
async fn a_plan_travels_from_grpc_commands_to_the_graphql_read_model() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let token = clinician_token(&tenant);
    let mut plans = server.plans(&token).await;

    let created = create_plan(&mut plans).await;
    let plan_id = created.plan_id.clone();
    assert_eq!(created.revision, 0);
    let goal = plans
        .add_goal(add_goal_request(&plan_id, "Reduce excessive worry"))
        .await
        .unwrap()
        .into_inner();
    let objective = plans
        .add_objective(add_objective_request(&plan_id, &goal.entity_id))
        .await
        .unwrap()
        .into_inner();
    plans
        .record_objective_progress(pb::RecordObjectiveProgressRequest {
            command_id: command_id(),
            plan_id: plan_id.clone(),
            objective_id: objective.entity_id.clone(),
            value: 2.0,
            observed_on: today().to_string(),
            source: pb::ProgressSource::Clinician as i32,
            note: "Two this week".into(),
        })
        .await
        .unwrap();
    plans
        .mark_objective_met(pb::MarkObjectiveMetRequest {
            command_id: command_id(),
            plan_id: plan_id.clone(),
            objective_id: objective.entity_id.clone(),
        })
        .await
        .unwrap();
    let (_, held) = hold_review_today(&mut plans, &plan_id, "Objective met; continue").await;
    // Held at revision 6; the next review, by the tenant's rule, at 7.
    assert_eq!(held.revision, 7);

    let plan = server.plan_at_version(&token, &plan_id, 6).await;
    assert_eq!(plan["id"], plan_id);
    assert_eq!(plan["clinicId"], CLINIC);
    let goal_view = &plan["goals"][0];
    assert_eq!(goal_view["id"], goal.entity_id);
    assert_eq!(goal_view["term"], "SHORT_TERM");
    let objective_view = &goal_view["objectives"][0];
    assert_eq!(objective_view["id"], objective.entity_id);
    assert_eq!(objective_view["baseline"], 4.0);
    assert_eq!(objective_view["target"], 1.0);
    assert_eq!(objective_view["met"], true);
    assert_eq!(objective_view["latestValue"], 2.0);
    assert_eq!(objective_view["progress"][0]["recordedBy"], CLINICIAN);
    assert_eq!(objective_view["progress"][0]["source"], "CLINICIAN");
    let review_view = &plan["reviews"][0];
    assert_eq!(review_view["held"], true);
    assert_eq!(review_view["decision"], "CONTINUE");
    assert_eq!(review_view["participants"], json!([CLINICIAN, "client-1"]));

    let listed = server
        .graphql(
            &token,
            "{ plans(first: 10) { edges { node { id } } pageInfo { hasNextPage } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        listed["plans"]["edges"],
        json!([{ "node": { "id": plan_id } }])
    );
}

#[tokio::test]
async fn another_tenant_sees_nothing_and_cannot_write() {
    let server = Server::start().await;
    let (home, other) = (fresh_tenant(), fresh_tenant());
    let home_token = clinician_token(&home);
    // The same subject and clinic, in another tenant.
    let other_token = clinician_token(&other);
    let mut plans = server.plans(&home_token).await;
    let plan_id = create_plan(&mut plans).await.plan_id;
    server.plan_at_version(&home_token, &plan_id, 0).await;

    let seen = server
        .graphql(&other_token, PLAN_QUERY, json!({ "id": plan_id }))
        .await;
    assert_eq!(seen["plan"], serde_json::Value::Null);
    let listed = server
        .graphql(
            &other_token,
            "{ plans { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["plans"]["edges"], json!([]));
    let auditor = token(&other, "aud-1", &[Role::Auditor]);
    let listed = server
        .graphql(&auditor, "{ plans { edges { node { id } } } }", json!({}))
        .await;
    assert_eq!(
        listed["plans"]["edges"],
        json!([]),
        "not even an auditor of another tenant"
    );

    let mut intruder = server.plans(&other_token).await;
    let err = intruder
        .add_goal(add_goal_request(&plan_id, "Injected goal"))
        .await
        .unwrap_err();
    let missing = intruder
        .add_goal(add_goal_request(&uuid::Uuid::new_v4().to_string(), "x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(
        (err.code(), err.message()),
        (missing.code(), missing.message()),
        "another tenant's plan is answered exactly like a missing one"
    );
    let plan = server.plan_at_version(&home_token, &plan_id, 0).await;
    assert_eq!(plan["goals"], json!([]), "nothing was written");
}

#[tokio::test]
async fn roles_see_only_their_plans() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let token_clin = clinician_token(&tenant);
    let mut plans = server.plans(&token_clin).await;
    let plan_id = create_plan(&mut plans).await.plan_id;
    server.plan_at_version(&token_clin, &plan_id, 0).await;

    let read = |token: String| {
        let server = &server;
        let plan_id = plan_id.clone();
        async move {
            server
                .graphql(
                    &token,
                    "query($id: ID!) { plan(id: $id) { id } }",
                    json!({ "id": plan_id }),
                )
                .await["plan"]
                .clone()
        }
    };
    assert_eq!(
        read(token(&tenant, "client-1", &[Role::Client])).await["id"],
        plan_id
    );
    assert_eq!(
        read(token(&tenant, "client-2", &[Role::Client])).await,
        serde_json::Value::Null
    );
    assert_eq!(
        read(token(&tenant, "clin-2", &[Role::Clinician])).await,
        serde_json::Value::Null
    );
    assert_eq!(
        read(token(&tenant, "sup-1", &[Role::Supervisor])).await["id"],
        plan_id
    );
    assert_eq!(
        read(token(&tenant, "aud-1", &[Role::Auditor])).await["id"],
        plan_id
    );
    assert_eq!(
        read(token(&tenant, "adm-1", &[Role::Admin])).await,
        serde_json::Value::Null
    );

    // A client may not change their plan, only self-report.
    let mut client_app = server
        .plans(&token(&tenant, "client-1", &[Role::Client]))
        .await;
    let err = client_app
        .add_goal(add_goal_request(&plan_id, "x"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn a_retried_command_appends_nothing_new() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let token = clinician_token(&tenant);
    let mut plans = server.plans(&token).await;
    let plan_id = create_plan(&mut plans).await.plan_id;
    let request = add_goal_request(&plan_id, "Sleep through the night");
    let first = plans.add_goal(request.clone()).await.unwrap().into_inner();
    let retry = plans.add_goal(request).await.unwrap().into_inner();
    assert!(!first.duplicate);
    assert!(retry.duplicate);
    assert_eq!(retry.entity_id, first.entity_id);
    assert_eq!(retry.revision, first.revision);
    let plan = server
        .plan_at_version(&token, &plan_id, first.revision)
        .await;
    assert_eq!(plan["goals"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn health_endpoints_answer() {
    let server = Server::start().await;
    let http = reqwest::Client::new();
    let alive = http
        .get(format!("{}/healthz", server.http))
        .send()
        .await
        .unwrap();
    assert_eq!(alive.status(), 200);
    let ready = http
        .get(format!("{}/readyz", server.http))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 200);
    let graphiql = http
        .get(format!("{}/graphql", server.http))
        .send()
        .await
        .unwrap();
    assert_eq!(graphiql.status(), 200);
    assert!(graphiql.text().await.unwrap().contains("graphiql"));
}

#[tokio::test]
async fn grpc_health_and_reflection_answer() {
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let server = Server::start().await;
    let channel = tonic::transport::Channel::from_shared(server.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let status = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "trellis.plans.v1.PlanService".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .status;
    assert_eq!(status, ServingStatus::Serving as i32);

    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = ServerReflectionClient::new(channel)
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let first = responses
        .message()
        .await
        .unwrap()
        .expect("a reflection answer");
    let Some(MessageResponse::ListServicesResponse(list)) = first.message_response else {
        panic!("expected a service list");
    };
    let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    assert!(
        names.contains(&"trellis.plans.v1.PlanService".to_owned()),
        "{names:?}"
    );

    // Clients that only speak the older v1alpha protocol get the same answer.
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient as V1Alpha;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest as AlphaRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse as AlphaResponse;
    let request = tonic_reflection::pb::v1alpha::ServerReflectionRequest {
        host: String::new(),
        message_request: Some(AlphaRequest::FileContainingSymbol(
            "trellis.plans.v1.PlanService".into(),
        )),
    };
    let channel = tonic::transport::Channel::from_shared(server.grpc.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut alpha = V1Alpha::new(channel)
        .server_reflection_info(tokio_stream::once(request))
        .await
        .unwrap()
        .into_inner();
    let answer = alpha.message().await.unwrap().expect("a v1alpha answer");
    let Some(AlphaResponse::FileDescriptorResponse(files)) = answer.message_response else {
        panic!("expected the file declaring PlanService");
    };
    assert!(!files.file_descriptor_proto.is_empty());
}

#[tokio::test]
async fn graphql_mutations_send_commands_through_the_plans_service() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let clinician = clinician_token(&tenant);
    let created = server
        .graphql(
            &clinician,
            "mutation($input: CreatePlanInput!) { createPlan(input: $input) { planId revision duplicate } }",
            json!({ "input": {
                "commandId": command_id(), "clientId": "client-1",
                "primaryClinicianId": CLINICIAN, "clinicId": CLINIC
            }}),
        )
        .await;
    let plan_id = created["createPlan"]["planId"].as_str().unwrap().to_owned();
    let goal = server
        .graphql(
            &clinician,
            "mutation($input: AddGoalInput!) { addGoal(input: $input) { entityId } }",
            json!({ "input": { "commandId": command_id(), "planId": plan_id, "description": "Sleep through the night", "term": "SHORT_TERM" }}),
        )
        .await;
    let goal_id = goal["addGoal"]["entityId"].as_str().unwrap().to_owned();
    let objective = server
        .graphql(
            &clinician,
            "mutation($input: AddObjectiveInput!) { addObjective(input: $input) { entityId revision } }",
            json!({ "input": {
                "commandId": command_id(), "planId": plan_id, "goalId": goal_id,
                "description": "Nights slept through",
                "quantity": { "baseline": 0, "target": 2, "unit": "nights", "period": "week" },
                "targetDate": (today() + chrono::Duration::days(90)).to_string()
            }}),
        )
        .await;
    let objective_id = objective["addObjective"]["entityId"]
        .as_str()
        .unwrap()
        .to_owned();

    // The client self-reports from their phone; they may do nothing else.
    let client = token(&tenant, "client-1", &[Role::Client]);
    let reported = server
        .graphql(
            &client,
            "mutation($input: RecordObjectiveProgressInput!) { recordObjectiveProgress(input: $input) { revision } }",
            json!({ "input": {
                "commandId": command_id(), "planId": plan_id, "objectiveId": objective_id,
                "value": 1, "observedOn": today().to_string(), "source": "CLIENT_SELF_REPORT"
            }}),
        )
        .await;
    let revision = reported["recordObjectiveProgress"]["revision"]
        .as_u64()
        .unwrap();
    let (_, denied) = server
        .graphql_raw(
            Some(&client),
            "mutation($input: MarkObjectiveMetInput!) { markObjectiveMet(input: $input) { revision } }",
            json!({ "input": { "commandId": command_id(), "planId": plan_id, "objectiveId": objective_id }}),
            )
        .await;
    assert_eq!(denied["errors"][0]["extensions"]["code"], "FORBIDDEN");

    // Bad input comes back with its field violations.
    let (_, refused) = server
        .graphql_raw(
            Some(&clinician),
            "mutation($input: AddObjectiveInput!) { addObjective(input: $input) { revision } }",
            json!({ "input": {
                "commandId": command_id(), "planId": plan_id, "goalId": goal_id,
                "description": "Nights slept through",
                "quantity": { "baseline": 0, "target": 2, "period": "week" },
                "targetDate": "2030-01-01"
            }}),
        )
        .await;
    let error = &refused["errors"][0];
    assert_eq!(error["extensions"]["code"], "BAD_USER_INPUT");
    assert_eq!(
        error["extensions"]["fieldViolations"][0]["field"],
        "quantity.unit"
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("M (measurable)")
    );

    let plan = server.plan_at_version(&clinician, &plan_id, revision).await;
    let progress = &plan["goals"][0]["objectives"][0]["progress"][0];
    assert_eq!(progress["source"], "CLIENT_SELF_REPORT");
    assert_eq!(progress["recordedBy"], "client-1");
    assert_eq!(
        plan["version"], revision,
        "the refused commands wrote nothing"
    );
}

#[tokio::test]
async fn a_subscriber_hears_every_new_version_of_a_plan_it_may_read() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let token = clinician_token(&tenant);
    let mut plans = server.plans(&token).await;
    let plan_id = create_plan(&mut plans).await.plan_id;
    server.plan_at_version(&token, &plan_id, 0).await;

    let mut socket = subscribe_plan_changes(&server.http, &token, &plan_id).await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let goal = plans
        .add_goal(add_goal_request(&plan_id, "Sleep through the night"))
        .await
        .unwrap()
        .into_inner();
    let change = next_plan_change(&mut socket).await;
    assert_eq!(change["version"], 1);
    assert_eq!(change["plan"]["goals"][0]["id"], goal.entity_id);
}

#[tokio::test]
async fn a_client_answers_a_phq9_and_the_care_team_is_alerted_until_someone_acknowledges() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let clinician = clinician_token(&tenant);
    let client = token(&tenant, "client-1", &[Role::Client]);
    let mut plans = server.plans(&clinician).await;
    let plan_id = create_plan(&mut plans).await.plan_id;
    server.plan_at_version(&clinician, &plan_id, 0).await;

    let alerts = "subscription { safetyFlagRaised { planId flagId plan { safetyFlags(open: true) { id reason } } } }";
    let mut care_team = subscribe_to(&server.http, &clinician, alerts, json!({})).await;
    let mut outsider = subscribe_to(
        &server.http,
        &token(&tenant, "clin-9", &[Role::Clinician]),
        alerts,
        json!({}),
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;

    // The client answers a PHQ-9 on their phone: item 9 is 1.
    let answered = server
        .graphql(
            &client,
            "mutation($input: RecordMeasureInput!) { recordMeasure(input: $input) { entityId revision } }",
            json!({ "input": {
                "commandId": command_id(), "planId": plan_id, "instrument": "PHQ9",
                "answers": [2, 2, 1, 1, 2, 1, 2, 1, 1], "administeredOn": today().to_string(),
                "source": "CLIENT_SELF_REPORT"
            }}),
        )
        .await;
    let revision = answered["recordMeasure"]["revision"].as_u64().unwrap();
    assert_eq!(revision, 2, "the measure and the flag it raised");

    let alert = next_payload(&mut care_team).await["safetyFlagRaised"].clone();
    assert_eq!(alert["planId"], plan_id);
    let flag_id = alert["flagId"].as_str().unwrap().to_owned();
    assert_eq!(alert["plan"]["safetyFlags"][0]["id"], flag_id);
    let nothing = tokio::time::timeout(
        std::time::Duration::from_millis(500),
        futures::StreamExt::next(&mut outsider),
    )
    .await;
    assert!(
        nothing.is_err(),
        "a clinician outside the care team hears nothing"
    );

    let plan = server
        .graphql(
            &clinician,
            "query($id: ID!) { plan(id: $id) { measures(instrument: PHQ9) { total band loinc
                changeFromBaseline response remission } } }",
            json!({ "id": plan_id }),
        )
        .await;
    let measure = &plan["plan"]["measures"][0];
    assert_eq!(measure["total"], 13);
    assert_eq!(measure["band"], "MODERATE");
    assert_eq!(measure["loinc"], "44261-6");
    assert_eq!(measure["remission"], false);

    // Only the care team acknowledges; then the flag is closed.
    let acknowledge = |token: String| {
        let server = &server;
        let (plan_id, flag_id) = (plan_id.clone(), flag_id.clone());
        async move {
            server
                .graphql_raw(
                    Some(&token),
                    "mutation($input: AcknowledgeSafetyFlagInput!) { acknowledgeSafetyFlag(input: $input) { revision } }",
                    json!({ "input": { "commandId": command_id(), "planId": plan_id, "flagId": flag_id,
                                       "note": "Called the client; safety plan reviewed" }}),
                )
                .await
                .1
        }
    };
    let refused = acknowledge(client.clone()).await;
    assert_eq!(refused["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let done = acknowledge(clinician.clone()).await;
    assert_eq!(done["data"]["acknowledgeSafetyFlag"]["revision"], 3);
    let plan = server.plan_at_version(&clinician, &plan_id, 3).await;
    let _ = plan;
    let open = server
        .graphql(
            &clinician,
            "query($id: ID!) { plan(id: $id) { safetyFlags(open: true) { id } } }",
            json!({ "id": plan_id }),
        )
        .await;
    assert_eq!(open["plan"]["safetyFlags"], json!([]));
}

#[tokio::test]
async fn the_demo_loads_both_seed_plans_complete() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let demo = run_demo(&server, &tenant);
    let plan = |key: &str| demo.plan(key);
    let clinician = token(&tenant, "dr-rivera", &[Role::Clinician]);
    // Every section of the seed plans, as a clinician reads it.
    let query = "query($id: ID!) { plan(id: $id) { status title payer template planVersion
        diagnoses { code description primary added { by role at } }
        presentingProblem { narrative symptoms { name frequency intensity onset } }
        goals { term description added { by role } objectives { description baseline target
            unit period targetDate placeholder measure { instrument reductionPercent }
            added { by role } } }
        interventions { modality technique frequency goalIds comorbidity added { by role } }
        servicePlan { sessionType minutes frequency sessionsMin sessionsMax focus maintenance
            monitoring }
        measureSchedule { instrument intervalDays lastAdministered dueOn overdue }
        measures { instrument total band }
        safetyFlags { open acknowledgedBy }
        clinicalContext { strengths barriers supports { kind involvement } }
        referrals { to reason status }
        safetyPlan { warningSigns copingSteps contacts { name } crisisLines }
        consents { kind }
        signatures(current: true) { role signerId version }
        pendingSignatures
        reviews { held decision dueOn origin }
        nextReview { dueOn }
        reviewStanding
        insuranceReadiness { ready missing } } }";
    for (key, goals, interventions, primary, schedule, signers) in [
        ("emma-lee", 6, 9, "F41.1", 2, 2),
        ("doug-mcgee", 7, 7, "F32.1", 1, 3),
    ] {
        let id = plan(key);
        // The demo's last command activates the plan.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        let p = loop {
            let data = server.graphql(&clinician, query, json!({ "id": id })).await;
            if data["plan"]["status"] == "ACTIVE" {
                break data["plan"].clone();
            }
            assert!(std::time::Instant::now() < deadline, "{key} never active");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        assert_eq!(
            p["template"],
            format!(
                "builtin-{}@1",
                if key == "emma-lee" { "gad" } else { "mdd" }
            )
        );
        assert!(p["title"].as_str().unwrap().contains(if key == "emma-lee" {
            "Emma Lee, 27"
        } else {
            "Doug McGee, 67"
        }));
        assert_eq!(p["diagnoses"][0]["code"], primary);
        assert_eq!(p["diagnoses"][0]["primary"], true);
        assert!(p["presentingProblem"]["narrative"].as_str().unwrap().len() > 300);
        assert_eq!(
            p["presentingProblem"]["symptoms"].as_array().unwrap().len(),
            7
        );
        let goal_list = p["goals"].as_array().unwrap();
        assert_eq!(goal_list.len(), goals, "{key}");
        let terms: Vec<&str> = goal_list
            .iter()
            .map(|g| g["term"].as_str().unwrap())
            .collect();
        assert!(terms.contains(&"SHORT_TERM") && terms.contains(&"LONG_TERM"));
        // Every template placeholder completed, some measured by a questionnaire.
        let objectives: Vec<&serde_json::Value> = goal_list
            .iter()
            .flat_map(|g| g["objectives"].as_array().unwrap())
            .collect();
        assert!(
            objectives
                .iter()
                .all(|o| o["placeholder"] == false && !o["targetDate"].is_null())
        );
        assert!(objectives.iter().any(|o| !o["measure"].is_null()));
        assert_eq!(
            p["interventions"].as_array().unwrap().len(),
            interventions,
            "{key}"
        );
        assert!(
            p["interventions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["comorbidity"] != "")
        );
        assert_eq!(p["servicePlan"]["sessionsMin"], 12);
        assert_eq!(p["servicePlan"]["sessionsMax"], 16);
        assert!(
            p["servicePlan"]["maintenance"]
                .as_str()
                .unwrap()
                .contains("4-6 weeks")
        );
        assert_eq!(p["measureSchedule"].as_array().unwrap().len(), schedule);
        assert!(
            p["measureSchedule"]
                .as_array()
                .unwrap()
                .iter()
                .all(|m| !m["lastAdministered"].is_null())
        );
        assert!(p["clinicalContext"]["supports"].as_array().unwrap().len() == 2);
        assert_eq!(p["referrals"].as_array().unwrap().len(), 2);
        assert_eq!(p["referrals"][0]["to"], "psychiatrist");
        assert_eq!(
            p["safetyPlan"]["crisisLines"][0],
            "988 Suicide & Crisis Lifeline (call or text 988)"
        );
        assert_eq!(p["consents"][0]["kind"], "TREATMENT");
        assert_eq!(p["signatures"].as_array().unwrap().len(), signers, "{key}");
        assert_eq!(p["pendingSignatures"], json!([]));
        assert_eq!(p["planVersion"], 1);
        // "Reviewed every 4-6 weeks": the demo's rule, 42 days.
        assert_eq!(
            p["nextReview"]["dueOn"],
            (today() + chrono::Duration::days(42)).to_string()
        );
        assert_eq!(p["reviewStanding"], "ON_SCHEDULE");
        let reviews = p["reviews"].as_array().unwrap();
        assert_eq!(reviews.last().unwrap()["origin"], "RULE", "{key}");
        // Who entered each item, as the clinician sees it.
        let by_rivera = json!({ "by": "dr-rivera", "role": "clinician" });
        let entries = goal_list
            .iter()
            .chain(p["interventions"].as_array().unwrap())
            .chain(objectives.iter().copied());
        for entry in entries {
            assert_eq!(entry["added"], by_rivera, "{key}");
        }
        assert_eq!(p["diagnoses"][0]["added"]["by"], "dr-rivera");
        let added_at = p["diagnoses"][0]["added"]["at"].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(added_at).is_ok(),
            "{added_at}"
        );
        assert_eq!(
            p["insuranceReadiness"],
            json!({ "ready": true, "missing": [] }),
            "{key}"
        );
    }
    // Doug's PHQ-9 item 9 raised a flag, acknowledged at intake.
    let doug = server
        .graphql(&clinician, query, json!({ "id": plan("doug-mcgee") }))
        .await;
    assert_eq!(doug["plan"]["safetyFlags"][0]["open"], false);
    assert_eq!(doug["plan"]["reviews"][0]["held"], true);
    // The intake review was scheduled by hand; holding it started the
    // rule's cadence.
    assert_eq!(doug["plan"]["reviews"][0]["origin"], "BY_HAND");
    assert_eq!(doug["plan"]["reviews"][1]["origin"], "RULE");
    // Running the demo again changes nothing: every command is a retry.
    let versions = |data: &serde_json::Value| data["plan"]["version"].clone();
    let before = server
        .graphql(
            &clinician,
            "query($id: ID!) { plan(id: $id) { version } }",
            json!({ "id": plan("emma-lee") }),
        )
        .await;
    let again = run_demo(&server, &tenant);
    assert_eq!(again.plan_lines(), demo.plan_lines());
    let after = server
        .graphql(
            &clinician,
            "query($id: ID!) { plan(id: $id) { version } }",
            json!({ "id": plan("emma-lee") }),
        )
        .await;
    assert_eq!(versions(&before), versions(&after));
    // The template's goal, made Doug's own in the seed's words.
    assert_eq!(
        doug["plan"]["goals"][6]["description"],
        "Improve quality of life, including engaging in interpersonal relationships, joining a \
         community group, planning travel to visit his kids, and returning to his hobby of \
         woodworking."
    );
}
