//! Templates, lifecycle and the compliance views, end to end through
//! GraphQL mutations (as a clinic or mobile app sends them) and queries.

use serde_json::{Value, json};
use trellis_auth::Role;

use crate::harness::*;

/// Runs a mutation that must succeed; returns its `data`.
async fn mutate(
    server: &Server,
    token: &str,
    field: &str,
    input_type: &str,
    input: Value,
) -> Value {
    let query = format!(
        "mutation($input: {input_type}!) {{ {field}(input: $input) {{ planId entityId revision }} }}"
    );
    server
        .graphql(token, &query, json!({ "input": input }))
        .await[field]
        .clone()
}

/// Runs a mutation that must fail; returns (code, message).
async fn refused(
    server: &Server,
    token: &str,
    field: &str,
    input_type: &str,
    input: Value,
) -> (String, String) {
    let query =
        format!("mutation($input: {input_type}!) {{ {field}(input: $input) {{ revision }} }}");
    let (_, body) = server
        .graphql_raw(Some(token), &query, json!({ "input": input }))
        .await;
    let error = &body["errors"][0];
    (
        error["extensions"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        error["message"].as_str().unwrap_or_default().to_owned(),
    )
}

const SAVE_TEMPLATE: &str = "mutation($input: SaveTemplateInput!) {
    saveTemplate(input: $input) { id version builtin name goals { description } } }";

fn panic_template(id: Option<&str>, goal: &str) -> Value {
    json!({ "input": {
        "commandId": command_id(),
        "templateId": id,
        "name": "Panic disorder",
        "goals": [{ "description": goal, "term": "SHORT_TERM", "objectives": [
            { "description": "Fewer panic attacks", "unit": "panic attacks", "period": "week" }
        ] }],
        "interventions": [{ "modality": "EXPOSURE", "technique": "Interoceptive exposure",
            "frequency": "weekly", "goalIndexes": [0] }],
        "measureSchedule": [{ "instrument": "GAD7", "intervalDays": 14 }]
    } })
}

#[tokio::test]
async fn a_plan_made_from_a_template_keeps_what_it_copied() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let admin = token(&tenant, "it-1", &[Role::Admin]);
    let clinician = clinician_token(&tenant);

    // Clinicians do not change templates; nobody changes built-in ones.
    let (status, body) = server
        .graphql_raw(Some(&clinician), SAVE_TEMPLATE, panic_template(None, "x"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");
    let (_, body) = server
        .graphql_raw(
            Some(&admin),
            SAVE_TEMPLATE,
            panic_template(Some("builtin-gad"), "x"),
        )
        .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "FORBIDDEN");

    let saved = server
        .graphql(
            &admin,
            SAVE_TEMPLATE,
            panic_template(Some("panic"), "Fewer panic attacks"),
        )
        .await;
    assert_eq!(saved["saveTemplate"]["version"], 1);
    let listed = server
        .graphql(&clinician, "{ templates { id builtin } }", json!({}))
        .await;
    assert_eq!(
        listed["templates"],
        json!([
            { "id": "builtin-gad", "builtin": true },
            { "id": "builtin-mdd", "builtin": true },
            { "id": "panic", "builtin": false }
        ])
    );

    let from_template = |template: &str| {
        json!({ "commandId": command_id(), "clientId": "client-1",
            "primaryClinicianId": CLINICIAN, "clinicId": CLINIC, "templateId": template })
    };
    let first = mutate(
        &server,
        &clinician,
        "createPlanFromTemplate",
        "CreatePlanFromTemplateInput",
        from_template("panic"),
    )
    .await;
    let plan_id = first["planId"].as_str().unwrap().to_owned();

    // A draft with a placeholder cannot be activated; saying so writes nothing.
    let (code, message) = refused(
        &server,
        &clinician,
        "activatePlan",
        "ActivatePlanInput",
        json!({ "commandId": command_id(), "planId": plan_id }),
    )
    .await;
    assert_eq!(code, "FAILED_PRECONDITION");
    assert!(
        message.contains("a diagnosis") && message.contains("the template's objectives completed"),
        "{message}"
    );

    // The template changes; the plan made from it does not.
    server
        .graphql(
            &admin,
            SAVE_TEMPLATE,
            panic_template(Some("panic"), "No panic attacks at all"),
        )
        .await;
    let query = "query($id: ID!) { plan(id: $id) { version template status
        goals { description objectives { id placeholder unit baseline } }
        interventions { modality goalIds } measureSchedule { instrument intervalDays } } }";
    let plan = server
        .plan_at_version(&clinician, &plan_id, first["revision"].as_u64().unwrap())
        .await;
    let plan = server
        .graphql(&clinician, query, json!({ "id": plan["id"] }))
        .await["plan"]
        .clone();
    assert_eq!(plan["template"], "panic@1");
    assert_eq!(plan["status"], "DRAFT");
    assert_eq!(plan["goals"][0]["description"], "Fewer panic attacks");
    assert_eq!(plan["goals"][0]["objectives"][0]["placeholder"], true);
    assert_eq!(plan["goals"][0]["objectives"][0]["baseline"], Value::Null);
    assert_eq!(plan["measureSchedule"][0]["intervalDays"], 14);
    let second = mutate(
        &server,
        &clinician,
        "createPlanFromTemplate",
        "CreatePlanFromTemplateInput",
        from_template("panic"),
    )
    .await;
    let newer = server
        .plan_at_version(
            &clinician,
            second["planId"].as_str().unwrap(),
            second["revision"].as_u64().unwrap(),
        )
        .await;
    let newer = server
        .graphql(&clinician, query, json!({ "id": newer["id"] }))
        .await["plan"]
        .clone();
    assert_eq!(newer["template"], "panic@2");
    assert_eq!(newer["goals"][0]["description"], "No panic attacks at all");

    // Completing the placeholder keeps the template's unit.
    let objective_id = plan["goals"][0]["objectives"][0]["id"].as_str().unwrap();
    let completed = mutate(
        &server,
        &clinician,
        "completeObjective",
        "CompleteObjectiveInput",
        json!({
        "commandId": command_id(), "planId": plan_id, "objectiveId": objective_id,
        "quantity": { "baseline": 4.0, "target": 1.0 },
        "targetDate": (today() + chrono::Duration::days(90)).to_string() }),
    )
    .await;
    server
        .plan_at_version(
            &clinician,
            &plan_id,
            completed["revision"].as_u64().unwrap(),
        )
        .await;
    let plan = server
        .graphql(&clinician, query, json!({ "id": plan_id }))
        .await["plan"]
        .clone();
    assert_eq!(plan["goals"][0]["objectives"][0]["placeholder"], false);
    assert_eq!(plan["goals"][0]["objectives"][0]["unit"], "panic attacks");
    assert_eq!(plan["goals"][0]["objectives"][0]["baseline"], 4.0);

    // Retired: no new plans from it, and the refusal writes nothing.
    let retired = server
        .graphql(
            &admin,
            "mutation($input: RetireTemplateInput!) { retireTemplate(input: $input) }",
            json!({ "input": { "commandId": command_id(), "templateId": "panic" } }),
        )
        .await;
    assert_eq!(retired["retireTemplate"], true);
    let (code, _) = refused(
        &server,
        &clinician,
        "createPlanFromTemplate",
        "CreatePlanFromTemplateInput",
        from_template("panic"),
    )
    .await;
    assert_eq!(code, "NOT_FOUND");
    let listed = server
        .graphql(&clinician, "{ templates { id } }", json!({}))
        .await;
    assert_eq!(listed["templates"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn compliance_views_show_what_needs_attention() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let clinician = clinician_token(&tenant);
    let supervisor = token(&tenant, "sup-1", &[Role::Supervisor]);
    let created = mutate(
        &server,
        &clinician,
        "createPlan",
        "CreatePlanInput",
        json!({
        "commandId": command_id(), "clientId": "client-1",
        "primaryClinicianId": CLINICIAN, "clinicId": CLINIC, "payer": "Medicaid" }),
    )
    .await;
    let plan_id = created["planId"].as_str().unwrap().to_owned();
    let measure = |answers: [u32; 9]| {
        json!({ "commandId": command_id(), "planId": plan_id,
        "instrument": "PHQ9", "answers": answers, "administeredOn": today().to_string(),
        "source": "CLIENT_SELF_REPORT" })
    };
    // Baseline 20 with item 9 answered: a safety flag; then 4: response
    // and remission.
    mutate(
        &server,
        &clinician,
        "recordMeasure",
        "RecordMeasureInput",
        measure([3, 3, 2, 2, 2, 2, 2, 2, 2]),
    )
    .await;
    mutate(
        &server,
        &clinician,
        "recordMeasure",
        "RecordMeasureInput",
        measure([1, 1, 1, 1, 0, 0, 0, 0, 0]),
    )
    .await;
    let review = mutate(
        &server,
        &clinician,
        "scheduleReview",
        "ScheduleReviewInput",
        json!({
        "commandId": command_id(), "planId": plan_id,
        "dueOn": (today() + chrono::Duration::days(3)).to_string() }),
    )
    .await;
    server
        .plan_at_version(&clinician, &plan_id, review["revision"].as_u64().unwrap())
        .await;

    let views = server
        .graphql(
            &supervisor,
            "{
            reviewsDue(withinDays: 7) { overdue plan { id payer } review { dueOn } }
            unsignedPlans { id pendingSignatures }
            openSafetyFlags { plan { id } flag { reason open } }
            outcomes { clientsMeasured responseRate remissionRate }
            caseload { clinicianId draft reviewsOverdue unsigned openSafetyFlags } }",
            json!({}),
        )
        .await;
    assert_eq!(views["reviewsDue"][0]["plan"]["id"], plan_id);
    assert_eq!(views["reviewsDue"][0]["plan"]["payer"], "medicaid");
    assert_eq!(views["reviewsDue"][0]["overdue"], false);
    assert_eq!(
        views["unsignedPlans"][0]["pendingSignatures"],
        json!(["CLINICIAN", "CLIENT"])
    );
    assert_eq!(views["openSafetyFlags"][0]["plan"]["id"], plan_id);
    assert_eq!(views["openSafetyFlags"][0]["flag"]["open"], true);
    assert_eq!(
        views["outcomes"],
        json!({ "clientsMeasured": 1, "responseRate": 1.0, "remissionRate": 1.0 })
    );
    assert_eq!(
        views["caseload"],
        json!([{ "clinicianId": CLINICIAN, "draft": 1,
        "reviewsOverdue": 0, "unsigned": 1, "openSafetyFlags": 1 }])
    );
    let (_, too_far) = server
        .graphql_raw(
            Some(&supervisor),
            "{ reviewsDue(withinDays: 4000000000) { overdue } }",
            json!({}),
        )
        .await;
    assert_eq!(too_far["errors"][0]["extensions"]["code"], "BAD_USER_INPUT");
    let readiness = server
        .graphql(
            &clinician,
            "query($id: ID!) { plan(id: $id) { insuranceReadiness { ready missing } } }",
            json!({ "id": plan_id }),
        )
        .await;
    assert_eq!(readiness["plan"]["insuranceReadiness"]["ready"], false);
    assert!(
        readiness["plan"]["insuranceReadiness"]["missing"]
            .as_array()
            .unwrap()
            .contains(&json!("a primary ICD-10-CM diagnosis"))
    );
}

#[tokio::test]
async fn an_objective_is_revised_with_a_reason_and_its_earlier_target_kept() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let clinician = clinician_token(&tenant);
    let created = mutate(
        &server,
        &clinician,
        "createPlan",
        "CreatePlanInput",
        json!({ "commandId": command_id(), "clientId": "client-1",
        "primaryClinicianId": CLINICIAN, "clinicId": CLINIC }),
    )
    .await;
    let plan_id = created["planId"].as_str().unwrap().to_owned();
    let goal = mutate(
        &server,
        &clinician,
        "addGoal",
        "AddGoalInput",
        json!({ "commandId": command_id(), "planId": plan_id,
        "description": "Sleep through the night", "term": "SHORT_TERM" }),
    )
    .await;
    let first_date = (today() + chrono::Duration::days(60)).to_string();
    let objective = mutate(
        &server,
        &clinician,
        "addObjective",
        "AddObjectiveInput",
        json!({ "commandId": command_id(), "planId": plan_id, "goalId": goal["entityId"],
        "description": "Nights slept through", "targetDate": first_date,
        "quantity": { "baseline": 0.0, "target": 4.0, "unit": "nights", "period": "week" } }),
    )
    .await;
    let objective_id = objective["entityId"].as_str().unwrap().to_owned();

    // A target back at the baseline is refused, naming SMART's letter.
    let (code, message) = refused(
        &server,
        &clinician,
        "reviseObjective",
        "ReviseObjectiveInput",
        json!({ "commandId": command_id(), "planId": plan_id, "objectiveId": objective_id,
        "target": 0.0, "reason": "x" }),
    )
    .await;
    assert_eq!(code, "BAD_USER_INPUT");
    assert!(message.contains("A (achievable)"), "{message}");

    let new_date = (today() + chrono::Duration::days(120)).to_string();
    let revised = mutate(
        &server,
        &clinician,
        "reviseObjective",
        "ReviseObjectiveInput",
        json!({ "commandId": command_id(), "planId": plan_id, "objectiveId": objective_id,
        "target": 2.0, "targetDate": new_date, "reason": "shift work started" }),
    )
    .await;
    assert_eq!(revised["entityId"], objective_id.as_str());
    server
        .plan_at_version(&clinician, &plan_id, revised["revision"].as_u64().unwrap())
        .await;
    let read = server
        .graphql(
            &clinician,
            "query($id: ID!) { plan(id: $id) { goals { objectives { target targetDate
                revisions { previousTarget previousTargetDate reason revisedBy } } } } }",
            json!({ "id": plan_id }),
        )
        .await;
    let objective = &read["plan"]["goals"][0]["objectives"][0];
    assert_eq!(objective["target"], 2.0);
    assert_eq!(objective["targetDate"], new_date.as_str());
    assert_eq!(
        objective["revisions"],
        json!([{ "previousTarget": 4.0, "previousTargetDate": first_date,
            "reason": "shift work started", "revisedBy": CLINICIAN }])
    );
}
