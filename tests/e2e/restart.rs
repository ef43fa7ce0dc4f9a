//! Stopping and starting the server again loses nothing.

use serde_json::json;

use crate::harness::*;

#[tokio::test]
async fn data_and_read_models_survive_a_restart() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let token = clinician_token(&tenant);
    let mut plans = server.plans(&token).await;
    let plan_id = create_plan(&mut plans).await.plan_id;
    let goal = plans
        .add_goal(add_goal_request(&plan_id, "Return to woodworking"))
        .await
        .unwrap()
        .into_inner();
    let before = server
        .plan_at_version(&token, &plan_id, goal.revision)
        .await;
    let data_dir = server.data_dir.clone();
    let dir = server.stop().await;

    let server = Server::start_in(&data_dir).await;
    // Read immediately: the read model is whole from its own file, not
    // waiting for a replay.
    let after = server
        .graphql(&token, PLAN_QUERY, json!({ "id": plan_id }))
        .await;
    assert_eq!(after["plan"], before);

    // The stream continues where it was.
    let mut plans = server.plans(&token).await;
    let second = plans
        .add_goal(add_goal_request(&plan_id, "Join a community group"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(second.revision, goal.revision + 1);
    let plan = server
        .plan_at_version(&token, &plan_id, second.revision)
        .await;
    assert_eq!(plan["goals"].as_array().unwrap().len(), 2);
    server.stop().await;
    drop(dir);
}

#[tokio::test]
async fn read_models_are_rebuilt_when_deleted() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let token = clinician_token(&tenant);
    let mut plans = server.plans(&token).await;
    let plan_id = create_plan(&mut plans).await.plan_id;
    let goal = plans
        .add_goal(add_goal_request(&plan_id, "Reduce alcohol use"))
        .await
        .unwrap()
        .into_inner();
    let before = server
        .plan_at_version(&token, &plan_id, goal.revision)
        .await;
    let data_dir = server.data_dir.clone();
    let dir = server.stop().await;
    for file in ["read-models.db", "read-models.db-wal", "read-models.db-shm"] {
        let _ = std::fs::remove_file(data_dir.join(file));
    }

    let server = Server::start_in(&data_dir).await;
    let rebuilt = server
        .plan_at_version(&token, &plan_id, goal.revision)
        .await;
    assert_eq!(
        rebuilt, before,
        "a rebuild from the events gives the same plan"
    );
    server.stop().await;
    drop(dir);
}

#[tokio::test]
async fn a_long_plan_is_kept_sealed_in_parts_and_reads_back_whole_after_a_restart() {
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let token = clinician_token(&tenant);
    let mut plans = server.plans(&token).await;
    let plan_id = create_plan(&mut plans).await.plan_id;
    // More goals than one part holds: the goals are kept in two parts.
    let mut revision = 0;
    for n in 0..20 {
        let request = add_goal_request(&plan_id, &format!("Practise woodworking, step {n}"));
        revision = plans.add_goal(request).await.unwrap().into_inner().revision;
    }
    let before = server.plan_at_version(&token, &plan_id, revision).await;
    let data_dir = server.data_dir.clone();
    let dir = server.stop().await;

    let read_models = rusqlite::Connection::open(data_dir.join("read-models.db")).unwrap();
    let parts: Vec<(String, String)> = read_models
        .prepare("SELECT part, body FROM plan_view_parts WHERE tenant = ?1 ORDER BY part")
        .unwrap()
        .query_map([&tenant], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let names: Vec<&str> = parts.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["goals/0", "goals/1"]);
    for (name, body) in &parts {
        assert!(body.starts_with("sealed:"), "{name} is sealed");
        assert!(
            !body.contains("woodworking"),
            "{name} holds no goal in clear"
        );
    }
    drop(read_models);

    let server = Server::start_in(&data_dir).await;
    let after = server
        .graphql(&token, PLAN_QUERY, json!({ "id": plan_id }))
        .await;
    assert_eq!(after["plan"], before);
    let goals = after["plan"]["goals"].as_array().unwrap();
    assert_eq!(goals.len(), 20);
    assert_eq!(goals[19]["description"], "Practise woodworking, step 19");
    server.stop().await;
    drop(dir);
}
