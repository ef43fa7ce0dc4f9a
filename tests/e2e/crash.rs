//! kill -9 during a stream of acknowledged commands loses none of them.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Mutex;

use crate::harness::*;

#[tokio::test]
async fn every_acknowledged_command_survives_kill_9() {
    const WRITERS: usize = 4;
    let server = Server::start().await;
    let tenant = fresh_tenant();
    let token = clinician_token(&tenant);
    let mut plans = server.plans(&token).await;
    let mut plan_ids = Vec::new();
    for _ in 0..WRITERS {
        plan_ids.push(create_plan(&mut plans).await.plan_id);
    }

    // Writers add goals as fast as they are acknowledged; each remembers
    // what the server acknowledged, until the server dies under them.
    let acknowledged = Arc::new(Mutex::new(Vec::<(String, String)>::new()));
    let mut writers = Vec::new();
    for plan_id in plan_ids.clone() {
        let mut client = server.plans(&token).await;
        let acknowledged = Arc::clone(&acknowledged);
        writers.push(tokio::spawn(async move {
            for n in 0.. {
                let request = add_goal_request(&plan_id, &format!("Goal {n}"));
                match client.add_goal(request).await {
                    Ok(reply) => acknowledged
                        .lock()
                        .await
                        .push((plan_id.clone(), reply.into_inner().entity_id)),
                    Err(_) => return,
                }
            }
        }));
    }
    // Let a few hundred commands through, then pull the plug mid-stream.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while acknowledged.lock().await.len() < 300 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let data_dir = server.data_dir.clone();
    let dir = server.kill9().await;
    for writer in writers {
        writer.await.unwrap();
    }
    let acknowledged = acknowledged.lock().await.clone();
    assert!(
        acknowledged.len() >= 100,
        "only {} commands got through",
        acknowledged.len()
    );

    let server = Server::start_in(&data_dir).await;
    for plan_id in &plan_ids {
        let ours: Vec<&String> = acknowledged
            .iter()
            .filter(|(p, _)| p == plan_id)
            .map(|(_, goal)| goal)
            .collect();
        // Version = goals + the creation event; at least every acked goal.
        let plan = server
            .plan_at_version(&token, plan_id, ours.len() as u64)
            .await;
        let stored: Vec<&str> = plan["goals"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["id"].as_str().unwrap())
            .collect();
        for goal in ours {
            assert!(
                stored.contains(&goal.as_str()),
                "acknowledged goal {goal} lost"
            );
        }
    }
    server.stop().await;
    drop(dir);
}
