//! WebSocket hygiene: a socket that never says `connection_init` is
//! closed, one connection holds a bounded number of subscriptions, a
//! message is no larger than an HTTP body may be, and operations sent over
//! a socket count against the request budget as HTTP requests do.

mod common;

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use trellis_auth::Role;
use trellis_gateway::WebSocketLimits;
use trellis_projector::{ChangePublisher, LocalChanges, PlanChanged, ReadModelStore};

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn open(address: std::net::SocketAddr) -> Socket {
    let mut request = format!("ws://{address}/graphql/ws")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .unwrap();
}

/// The next text message (5 s at most).
async fn next(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .expect("socket open")
            .expect("socket healthy");
        if let Ok(text) = message.to_text()
            && !text.is_empty()
        {
            return serde_json::from_str(text).unwrap();
        }
    }
}

fn subscribe(id: &str) -> Value {
    json!({
        "id": id, "type": "subscribe",
        "payload": {
            "query": "subscription($id: ID!) { planChanged(id: $id) { planId version } }",
            "variables": { "id": common::PLAN_ID }
        }
    })
}

#[tokio::test]
async fn a_socket_without_connection_init_is_closed() {
    let gateway = common::gateway(|config| {
        config.edge.websocket = WebSocketLimits {
            init_timeout: Duration::from_millis(300),
            ..WebSocketLimits::default()
        };
    })
    .await;
    let address = common::serve(gateway.router).await;
    let mut socket = open(address).await;
    let started = std::time::Instant::now();
    let closed = tokio::time::timeout(Duration::from_secs(5), socket.next())
        .await
        .expect("closed within 5 s");
    match closed {
        Some(Ok(Message::Close(Some(frame)))) => {
            assert_eq!(u16::from(frame.code), 4408);
        }
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(250));

    // A socket that does say it in time is served as before.
    let mut socket = open(address).await;
    let token = common::token("clin-1", &[Role::Clinician]);
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }),
    )
    .await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    tokio::time::sleep(Duration::from_millis(600)).await;
    send(&mut socket, json!({ "type": "ping" })).await;
    assert_eq!(next(&mut socket).await["type"], "pong");
}

#[tokio::test]
async fn one_connection_holds_a_bounded_number_of_subscriptions() {
    let gateway = common::gateway(|config| {
        config.edge.websocket = WebSocketLimits {
            max_subscriptions: 2,
            ..WebSocketLimits::default()
        };
    })
    .await;
    let changes = gateway.changes.clone();
    let address = common::serve(gateway.router).await;
    let mut socket = open(address).await;
    let token = common::token("clin-1", &[Role::Clinician]);
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }),
    )
    .await;
    assert_eq!(next(&mut socket).await["type"], "connection_ack");

    // One after another: subscriptions sent together start in any order.
    send(&mut socket, subscribe("1")).await;
    hear_changes(&mut socket, &changes, &["1"]).await;
    send(&mut socket, subscribe("2")).await;
    hear_changes(&mut socket, &changes, &["1", "2"]).await;
    send(&mut socket, subscribe("3")).await;
    let refused = next(&mut socket).await;
    assert_eq!(refused["id"], "3", "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "TOO_MANY_SUBSCRIPTIONS",
        "{refused}"
    );
    assert_eq!(next(&mut socket).await["type"], "complete");

    // The first two run on.
    hear_changes(&mut socket, &changes, &["1", "2"]).await;

    // Stopping one frees its place.
    send(&mut socket, json!({ "id": "1", "type": "complete" })).await;
    let stopped = next(&mut socket).await;
    assert_eq!(
        (&stopped["type"], &stopped["id"]),
        (&json!("complete"), &json!("1"))
    );
    send(&mut socket, subscribe("4")).await;
    hear_changes(&mut socket, &changes, &["2", "4"]).await;
}

async fn init(socket: &mut Socket, subject: &str) {
    let token = common::token(subject, &[Role::Clinician]);
    send(
        socket,
        json!({ "type": "connection_init", "payload": { "authorization": format!("Bearer {token}") } }),
    )
    .await;
    assert_eq!(next(socket).await["type"], "connection_ack");
}

#[tokio::test]
async fn a_subscription_ends_when_its_caller_may_no_longer_read_the_plan() {
    let gateway = common::gateway(|_| {}).await;
    let (changes, read_models) = (gateway.changes.clone(), gateway.read_models.clone());
    let address = common::serve(gateway.router).await;
    let mut socket = open(address).await;
    init(&mut socket, "clin-1").await;
    send(&mut socket, subscribe("1")).await;
    hear_changes(&mut socket, &changes, &["1"]).await;

    // The plan passes to another clinician: clin-1 hears no more of it.
    let mut handed_over = common::plan();
    handed_over.primary_clinician_id = "clin-2".into();
    handed_over.version += 1;
    read_models.save(vec![handed_over], 2).await.unwrap();
    let change = PlanChanged {
        tenant: common::TENANT.into(),
        plan_id: common::PLAN_ID.into(),
        version: 8,
        raised_flags: vec![],
    };
    changes.publish(std::slice::from_ref(&change)).await;
    let ended = next(&mut socket).await;
    assert_eq!(
        (&ended["type"], &ended["id"]),
        (&json!("complete"), &json!("1")),
        "{ended}"
    );
}

#[tokio::test]
async fn queries_over_a_socket_count_against_the_request_budget() {
    let gateway = common::gateway(|config| {
        config.limiter = std::sync::Arc::new(trellis_gateway::mobile::MemoryMobile::new(2));
    })
    .await;
    let address = common::serve(gateway.router).await;
    let mut socket = open(address).await;
    init(&mut socket, "clin-1").await;
    let query = |id: &str| {
        json!({ "id": id, "type": "subscribe",
                "payload": { "query": "{ plan(id: \"00000000-0000-0000-0000-000000000000\") { id } }" } })
    };
    for id in ["1", "2"] {
        send(&mut socket, query(id)).await;
        let answer = next(&mut socket).await;
        assert_eq!(
            (&answer["type"], &answer["id"]),
            (&json!("next"), &json!(id)),
            "{answer}"
        );
        assert!(answer["payload"].get("errors").is_none(), "{answer}");
        assert_eq!(next(&mut socket).await["type"], "complete");
    }
    // The tenant's budget of 2 a minute is spent: the third is refused,
    // and nothing of it ran.
    send(&mut socket, query("3")).await;
    let refused = next(&mut socket).await;
    assert_eq!(refused["id"], "3", "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "RATE_LIMITED",
        "{refused}"
    );
    assert!(refused["payload"]["data"].is_null(), "{refused}");
}

#[tokio::test]
async fn a_message_larger_than_a_request_body_closes_the_socket() {
    let gateway = common::gateway(|_| {}).await;
    let address = common::serve(gateway.router).await;
    let mut socket = open(address).await;
    // Read before the token is checked, so a valid token does not help:
    // the server must not hold megabytes for anyone.
    let token = common::token("clin-1", &[Role::Clinician]);
    let padding = "x".repeat(trellis_gateway::MAX_REQUEST_BYTES + 1);
    let oversized = json!({ "type": "connection_init",
                       "payload": { "authorization": format!("Bearer {token}"), "padding": padding } });
    let _ = socket.send(Message::text(oversized.to_string())).await;
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match socket.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(other)) => assert!(
                    !other
                        .to_text()
                        .unwrap_or_default()
                        .contains("connection_ack"),
                    "an oversized init was acknowledged"
                ),
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the socket stayed open");

    // A message within the limit is served as ever.
    let mut socket = open(address).await;
    init(&mut socket, "clin-1").await;
}

/// Announces changes of the plan until each of `ids` has heard one; no
/// other subscription may hear any. (A subscription listens only once its
/// resolver has run, so one announcement may come too early.)
async fn hear_changes(socket: &mut Socket, changes: &LocalChanges, ids: &[&str]) {
    let change = PlanChanged {
        tenant: common::TENANT.into(),
        plan_id: common::PLAN_ID.into(),
        version: 7,
        raised_flags: vec![],
    };
    let mut heard = std::collections::BTreeSet::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while heard.len() < ids.len() {
        assert!(std::time::Instant::now() < deadline, "heard only {heard:?}");
        changes.publish(std::slice::from_ref(&change)).await;
        while let Ok(Some(Ok(message))) =
            tokio::time::timeout(Duration::from_millis(200), socket.next()).await
        {
            let Ok(text) = message.to_text() else {
                continue;
            };
            let message: Value = serde_json::from_str(text).unwrap();
            let id = message["id"].as_str().unwrap_or_default().to_owned();
            if message["type"] == "complete" {
                assert!(!ids.contains(&id.as_str()), "{id} completed");
                continue;
            }
            assert_eq!(message["type"], "next", "{message}");
            assert_eq!(message["payload"]["data"]["planChanged"]["version"], 7);
            assert!(ids.contains(&id.as_str()), "{id} is not subscribed");
            heard.insert(id);
        }
    }
}
