//! The access log records the client behind a trusted proxy, and the TCP
//! peer otherwise, whatever the request claims.

mod common;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Request, StatusCode, header};
use tower::ServiceExt;
use trellis_auth::Role;

/// Reads the plan from `peer` with `X-Forwarded-For: 198.51.100.7`; the
/// address its access record names.
async fn recorded_address(trusted: &str, peer: [u8; 4]) -> String {
    let trusted = trusted.parse().unwrap();
    let gateway = common::gateway(|config| config.edge.trusted_proxies = trusted).await;
    let token = common::token("clin-1", &[Role::Clinician]);
    let query = format!("{{ plan(id: \"{}\") {{ title }} }}", common::PLAN_ID);
    let request = Request::post("/graphql")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .header("x-forwarded-for", "203.0.113.1, 198.51.100.7")
        .body(Body::from(
            serde_json::json!({ "query": query }).to_string(),
        ))
        .unwrap();
    let response = gateway
        .router
        .layer(MockConnectInfo(SocketAddr::from((peer, 4000))))
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let records = gateway.log.0.lock().unwrap();
    assert_eq!(records.len(), 1, "one read, one record");
    records[0].address.clone()
}

#[tokio::test]
async fn the_client_address_comes_from_a_trusted_proxy_only() {
    assert_eq!(recorded_address("", [10, 0, 0, 5]).await, "10.0.0.5:4000");
    assert_eq!(
        recorded_address("192.0.2.0/24", [10, 0, 0, 5]).await,
        "10.0.0.5:4000"
    );
    assert_eq!(
        recorded_address("10.0.0.0/8", [10, 0, 0, 5]).await,
        "198.51.100.7"
    );
}
