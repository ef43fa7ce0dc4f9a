//! Mobile conventions: automatic persisted queries and a per-tenant budget.

use std::process::Stdio;

use serde_json::{Value, json};
use trellis_auth::Role;

use crate::harness::*;

async fn post(server: &Server, token: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{}/graphql", server.http))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn sha256(text: &str) -> String {
    trellis_gateway::mobile::sha256_hex(text)
}

#[tokio::test]
async fn a_persisted_query_is_sent_by_hash_after_the_first_time() {
    let server = Server::start().await;
    let token = clinician_token(&fresh_tenant());
    let query = "{ plans(first: 1) { edges { cursor } } }";
    let extension = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256(query) } });

    let (_, unknown) = post(&server, &token, json!({ "extensions": extension })).await;
    assert_eq!(
        unknown["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    let (status, registered) = post(
        &server,
        &token,
        json!({ "query": query, "extensions": extension }),
    )
    .await;
    assert_eq!(status, 200, "{registered}");
    assert!(registered.get("errors").is_none(), "{registered}");
    let (_, by_hash) = post(&server, &token, json!({ "extensions": extension })).await;
    assert_eq!(by_hash["data"], registered["data"]);

    // Another tenant cannot use this tenant's registration.
    let stranger = clinician_token(&fresh_tenant());
    let (_, other) = post(&server, &stranger, json!({ "extensions": extension })).await;
    assert_eq!(
        other["errors"][0]["extensions"]["code"],
        "PERSISTED_QUERY_NOT_FOUND"
    );
    let wrong =
        json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256("something else") } });
    let (status, mismatch) = post(
        &server,
        &token,
        json!({ "query": query, "extensions": wrong }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(
        mismatch["errors"][0]["extensions"]["code"],
        "BAD_USER_INPUT"
    );
}

#[tokio::test]
async fn a_tenant_over_its_budget_is_told_to_slow_down() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        data.path(),
        &[("TRELLIS_RATE_LIMIT_PER_MINUTE", "3")],
        Stdio::inherit(),
    )
    .await;
    let busy = clinician_token(&fresh_tenant());
    let query = json!({ "query": "{ plans { edges { cursor } } }" });
    for _ in 0..3 {
        let (status, _) = post(&server, &busy, query.clone()).await;
        assert_eq!(status, 200);
    }
    let (status, limited) = post(&server, &busy, query.clone()).await;
    assert_eq!(status, 429);
    assert_eq!(limited["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    let calm = clinician_token(&fresh_tenant());
    let (status, _) = post(&server, &calm, query).await;
    assert_eq!(status, 200, "another clinic network is not affected");
}

#[tokio::test]
async fn one_caller_over_its_budget_does_not_stop_its_colleagues() {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(
        data.path(),
        &[("TRELLIS_RATE_LIMIT_PER_SUBJECT", "2")],
        Stdio::inherit(),
    )
    .await;
    let tenant = fresh_tenant();
    let noisy = token(&tenant, "client-7", &[Role::Client]);
    let query = json!({ "query": "{ plans { edges { cursor } } }" });
    for _ in 0..2 {
        let (status, _) = post(&server, &noisy, query.clone()).await;
        assert_eq!(status, 200);
    }
    let (status, limited) = post(&server, &noisy, query.clone()).await;
    assert_eq!(status, 429);
    assert_eq!(limited["errors"][0]["extensions"]["code"], "RATE_LIMITED");
    let colleague = clinician_token(&tenant);
    let (status, _) = post(&server, &colleague, query).await;
    assert_eq!(status, 200, "the same clinic network's others go on");
}
