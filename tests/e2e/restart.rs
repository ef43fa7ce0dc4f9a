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
