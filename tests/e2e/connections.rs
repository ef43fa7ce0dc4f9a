//! Connection hygiene: a cap on each listener's connections (over it:
//! refused at once), header and idle timeouts that leave WebSocket
//! subscriptions alone, and a server that stays quick with thousands of
//! idle connections open.

use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::harness::*;

const IDLE_CONNECTIONS: usize = 2_000;

/// `127.0.0.1:port` of a harness URL.
fn addr(url: &str) -> String {
    url.trim_start_matches("http://").to_owned()
}

/// Lets this test process hold thousands of sockets.
fn raise_own_file_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let Rlimit { maximum, .. } = getrlimit(Resource::Nofile);
    let _ = setrlimit(
        Resource::Nofile,
        Rlimit {
            current: maximum,
            maximum,
        },
    );
}

/// Reads until the server closes the connection (10 s at most); returns
/// what it sent.
async fn until_closed(stream: &mut (impl AsyncRead + Unpin)) -> Vec<u8> {
    let mut data = Vec::new();
    let mut buf = [0; 1024];
    loop {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut buf))
            .await
            .expect("closed within 10 s")
        {
            Ok(0) | Err(_) => return data,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

/// Whether the server still holds the connection open without having
/// answered anything but its own HTTP/2 settings.
fn still_held(stream: &TcpStream, grpc: bool) -> bool {
    let mut buf = [0; 256];
    loop {
        match stream.try_read(&mut buf) {
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
            Ok(n) if n > 0 && grpc => continue,
            _ => return false,
        }
    }
}

/// `GET /healthz`: the status, or `None` when the connection was refused.
async fn healthz(server: &Server) -> Option<u16> {
    let response = reqwest::Client::new()
        .get(format!("{}/healthz", server.http))
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .ok()?;
    Some(response.status().as_u16())
}

async fn start(env: &[(&str, &str)]) -> (Server, tempfile::TempDir) {
    let data = tempfile::tempdir().unwrap();
    let server = Server::start_with(data.path(), env, Stdio::inherit()).await;
    (server, data)
}

#[tokio::test]
async fn a_fresh_client_is_answered_quickly_with_2000_idle_connections_open() {
    raise_own_file_limit();
    // The idle connections may stay longer than this test takes.
    let (server, _data) = start(&[("TRELLIS_HEADER_READ_TIMEOUT_SECS", "60")]).await;
    let (http, grpc) = (addr(&server.http), addr(&server.grpc));
    let opening = Instant::now();
    let mut idle = Vec::with_capacity(IDLE_CONNECTIONS);
    for i in 0..IDLE_CONNECTIONS {
        let target = if i % 2 == 0 { &http } else { &grpc };
        idle.push(TcpStream::connect(target).await.expect("connect"));
    }
    let opened = opening.elapsed();

    let started = Instant::now();
    let token = clinician_token(&fresh_tenant());
    let mut plans = server.plans(&token).await;
    let plan_id = create_plan(&mut plans).await.plan_id;
    let written = started.elapsed();
    let plan = server.plan_at_version(&token, &plan_id, 0).await;
    let read = started.elapsed();
    assert_eq!(plan["id"], plan_id);
    assert!(
        read < Duration::from_secs(5),
        "a fresh client took {read:?} with {IDLE_CONNECTIONS} idle connections open"
    );
    eprintln!(
        "{IDLE_CONNECTIONS} idle connections opened in {opened:?}; a fresh client created a plan \
         over gRPC in {written:?} and read it over GraphQL {read:?} after starting"
    );

    // All of them were held (none refused or dropped) the whole time.
    for (i, stream) in idle.iter().enumerate() {
        assert!(
            still_held(stream, i % 2 == 1),
            "idle connection {i} was closed"
        );
    }
}

#[tokio::test]
async fn over_the_cap_a_connection_is_refused_at_once_and_service_resumes_as_others_close() {
    let (server, _data) = start(&[
        ("TRELLIS_MAX_CONNECTIONS", "16"),
        ("TRELLIS_HEADER_READ_TIMEOUT_SECS", "60"),
    ])
    .await;
    let token = clinician_token(&fresh_tenant());
    let http = addr(&server.http);
    let mut held = Vec::new();
    for _ in 0..16 {
        held.push(TcpStream::connect(&http).await.unwrap());
    }

    let started = Instant::now();
    let mut surplus = TcpStream::connect(&http).await.unwrap();
    let answer = until_closed(&mut surplus).await;
    let refused_in = started.elapsed();
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
    assert!(
        refused_in < Duration::from_secs(1),
        "refused after {refused_in:?}"
    );
    let asked = Instant::now();
    let turned_away = healthz(&server).await;
    let turned_away_in = asked.elapsed();
    assert_ne!(turned_away, Some(200));
    assert!(
        turned_away_in < Duration::from_secs(2),
        "{turned_away_in:?}"
    );
    eprintln!(
        "over the cap: a connection closed after {refused_in:?} ({} bytes read), an HTTP \
         client turned away in {turned_away_in:?} (status {turned_away:?})",
        answer.len()
    );

    // The gRPC listener has a cap of its own: commands still go through.
    let mut plans = server.plans(&token).await;
    create_plan(&mut plans).await;

    // Closed connections free their slots.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    while healthz(&server).await != Some(200) {
        assert!(Instant::now() < deadline, "no slot came free");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let (server, _data) = start(&[("TRELLIS_HEADER_READ_TIMEOUT_SECS", "1")]).await;
    let started = Instant::now();
    let slow = TcpStream::connect(addr(&server.http)).await.unwrap();
    let mut silent_grpc = TcpStream::connect(addr(&server.grpc)).await.unwrap();
    let (mut slow_reads, mut slow_writes) = slow.into_split();
    slow_writes
        .write_all(b"POST /graphql HTTP/1.1\r\nhost: trellis\r\ncontent-type: appl")
        .await
        .unwrap();
    // A byte now and then buys no more time.
    let trickle = tokio::spawn(async move {
        for byte in b"ication/json\r\n" {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if slow_writes.write_all(&[*byte]).await.is_err() {
                return;
            }
        }
    });

    assert!(until_closed(&mut slow_reads).await.is_empty());
    let slow_closed = started.elapsed();
    until_closed(&mut silent_grpc).await;
    let silent_closed = started.elapsed();
    trickle.abort();
    for closed in [slow_closed, silent_closed] {
        assert!(
            closed >= Duration::from_millis(900) && closed < Duration::from_secs(4),
            "closed after {closed:?}"
        );
    }
    eprintln!("partial headers closed after {slow_closed:?}; silent gRPC after {silent_closed:?}");
    assert_eq!(
        healthz(&server).await,
        Some(200),
        "a prompt client is served"
    );
}

#[tokio::test]
async fn a_subscription_outlives_the_idle_timeout_and_a_quiet_grpc_client_reconnects() {
    let (server, _data) = start(&[
        ("TRELLIS_HEADER_READ_TIMEOUT_SECS", "1"),
        ("TRELLIS_IDLE_TIMEOUT_SECS", "1"),
    ])
    .await;
    let token = clinician_token(&fresh_tenant());
    let mut plans = server.plans(&token).await;
    let plan_id = create_plan(&mut plans).await.plan_id;
    server.plan_at_version(&token, &plan_id, 0).await;
    let mut socket = subscribe_plan_changes(&server.http, &token, &plan_id).await;

    // Past both timeouts, with nothing said either way.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    // The gRPC client's idle connection was closed; its next call
    // connects again.
    let goal = plans
        .add_goal(add_goal_request(&plan_id, "Walk every morning"))
        .await
        .expect("AddGoal after the idle timeout")
        .into_inner();
    let change = next_plan_change(&mut socket).await;
    assert_eq!(change["version"], 1);
    assert_eq!(change["plan"]["goals"][0]["id"], goal.entity_id);
}
