//! The listeners end to end over real sockets, and the clock's rules.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response, StatusCode};
use axum::routing::get;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::sync::oneshot;
use tokio::time::Instant;
use tonic::transport::server::TcpConnectInfo;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::{HealthCheckRequest, health_check_response::ServingStatus};
use tower::Layer as _;

use super::conn::{Clock, Protocol};
use super::grpc::{Peer, TrackCalls};
use super::{Limits, Listener, grpc_server, serve_http};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn limits(max_connections: usize, header_ms: u64, idle_ms: u64) -> Limits {
    Limits {
        max_connections,
        header_read: ms(header_ms),
        idle: ms(idle_ms),
        grpc_keepalive_interval: Duration::from_secs(30),
        grpc_keepalive_timeout: Duration::from_secs(10),
        grpc_max_streams: 10,
    }
}

struct Running {
    addr: SocketAddr,
    slots: Arc<Semaphore>,
    _stop: oneshot::Sender<()>,
}

async fn listener(limits: Limits, grpc: bool) -> (Listener, Running, oneshot::Receiver<()>) {
    let any = "127.0.0.1:0".parse().unwrap();
    let listener = if grpc {
        Listener::grpc(any, limits).await.unwrap()
    } else {
        Listener::http(any, "test", limits).await.unwrap()
    };
    let (stop, stopped) = oneshot::channel();
    let running = Running {
        addr: listener.local_addr().unwrap(),
        slots: Arc::clone(&listener.slots),
        _stop: stop,
    };
    (listener, running, stopped)
}

async fn http_server(limits: Limits) -> Running {
    let (listener, running, stopped) = listener(limits, false).await;
    let app = Router::new()
        .route(
            "/",
            get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.to_string() }),
        )
        .route("/upgrade", get(upgrade_to_echo));
    tokio::spawn(serve_http(listener, app, async {
        let _ = stopped.await;
    }));
    running
}

async fn grpc_health_server(limits: Limits) -> Running {
    let (listener, running, stopped) = listener(limits, true).await;
    let (_, health) = tonic_health::server::health_reporter();
    tokio::spawn(
        grpc_server(&limits)
            .add_service(health)
            .serve_with_incoming_shutdown(listener.incoming(), async {
                let _ = stopped.await;
            }),
    );
    running
}

/// Switches to a protocol that echoes what it is sent.
async fn upgrade_to_echo(mut request: axum::extract::Request) -> Response<axum::body::Body> {
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let Ok(upgraded) = upgrade.await else { return };
        let mut io = TokioIo::new(upgraded);
        let mut buf = [0; 64];
        while let Ok(n @ 1..) = io.read(&mut buf).await {
            if io.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    });
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("connection", "upgrade")
        .header("upgrade", "echo")
        .body(axum::body::Body::empty())
        .unwrap()
}

/// Reads one answer: its status line and body.
async fn read_answer(stream: &mut TcpStream) -> (String, String) {
    let mut data = Vec::new();
    let mut buf = [0; 1024];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .map_or(0, |v| v.trim().parse::<usize>().unwrap());
            if data.len() >= end + 4 + length {
                let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]);
                return (head.lines().next().unwrap().to_owned(), body.into_owned());
            }
        }
        let n = tokio::time::timeout(ms(5000), stream.read(&mut buf))
            .await
            .expect("an answer within 5 s")
            .expect("read");
        assert!(n > 0, "closed before answering");
        data.extend_from_slice(&buf[..n]);
    }
}

async fn get_on(stream: &mut TcpStream, path: &str) -> (String, String) {
    let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    read_answer(stream).await
}

/// Reads until the server closes the connection (5 s at most); returns
/// what was read.
async fn until_closed(stream: &mut TcpStream) -> Vec<u8> {
    let mut data = Vec::new();
    let mut buf = [0; 1024];
    loop {
        match tokio::time::timeout(ms(5000), stream.read(&mut buf))
            .await
            .expect("closed within 5 s")
        {
            Ok(0) | Err(_) => return data,
            Ok(n) => data.extend_from_slice(&buf[..n]),
        }
    }
}

/// Waits until the listener holds `held` connections (2 s at most).
async fn holding(running: &Running, held: usize, max: usize) {
    let deadline = Instant::now() + ms(2000);
    while running.slots.available_permits() != max - held {
        assert!(
            Instant::now() < deadline,
            "holds {} connections, not {held}",
            max - running.slots.available_permits()
        );
        tokio::time::sleep(ms(10)).await;
    }
}

#[tokio::test]
async fn a_request_is_answered_and_knows_its_peer() {
    let server = http_server(limits(4, 1000, 1000)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    let (status, body) = get_on(&mut stream, "/").await;
    assert_eq!(status, "http/1.1 200 ok");
    assert_eq!(body, stream.local_addr().unwrap().to_string());
}

#[tokio::test]
async fn over_the_cap_a_connection_is_closed_at_once_and_a_freed_slot_serves_again() {
    let server = http_server(limits(2, 10_000, 10_000)).await;
    let mut first = TcpStream::connect(server.addr).await.unwrap();
    let mut second = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_on(&mut first, "/").await.0, "http/1.1 200 ok");
    assert_eq!(get_on(&mut second, "/").await.0, "http/1.1 200 ok");

    let started = Instant::now();
    let mut third = TcpStream::connect(server.addr).await.unwrap();
    let answer = until_closed(&mut third).await;
    let refused_in = started.elapsed();
    assert!(refused_in < ms(1000), "refused after {refused_in:?}");
    assert!(
        answer.is_empty() || answer.starts_with(b"HTTP/1.1 503"),
        "{}",
        String::from_utf8_lossy(&answer)
    );

    drop(first);
    holding(&server, 1, 2).await;
    let mut fourth = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_on(&mut fourth, "/").await.0, "http/1.1 200 ok");
}

#[tokio::test]
async fn a_connection_that_does_not_finish_its_headers_in_time_is_closed() {
    let server = http_server(limits(4, 300, 10_000)).await;
    let connected = Instant::now();
    let mut slow = TcpStream::connect(server.addr).await.unwrap();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    slow.write_all(b"GET / HTTP/1.1\r\nhost: te").await.unwrap();
    tokio::time::sleep(ms(150)).await;
    // More bytes do not buy more time.
    slow.write_all(b"st\r\nx-slow: 1\r\n").await.unwrap();
    assert!(until_closed(&mut slow).await.is_empty());
    let slow_closed = connected.elapsed();
    assert!(until_closed(&mut silent).await.is_empty());
    let silent_closed = connected.elapsed();
    for closed in [slow_closed, silent_closed] {
        assert!(
            closed >= ms(250) && closed < ms(2000),
            "closed after {closed:?}"
        );
    }
    let mut prompt = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_on(&mut prompt, "/").await.0, "http/1.1 200 ok");
}

#[tokio::test]
async fn between_requests_a_kept_alive_connection_has_the_idle_timeout() {
    let server = http_server(limits(4, 200, 800)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    assert_eq!(get_on(&mut stream, "/").await.0, "http/1.1 200 ok");
    // Longer than the header timeout, shorter than the idle one.
    tokio::time::sleep(ms(450)).await;
    assert_eq!(get_on(&mut stream, "/").await.0, "http/1.1 200 ok");
    let answered = Instant::now();
    assert!(until_closed(&mut stream).await.is_empty());
    let idle = answered.elapsed();
    assert!(idle >= ms(700) && idle < ms(3000), "closed after {idle:?}");
}

#[tokio::test]
async fn an_upgraded_connection_is_left_to_its_protocol() {
    let server = http_server(limits(4, 200, 300)).await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(
            b"GET /upgrade HTTP/1.1\r\nhost: test\r\nconnection: upgrade\r\nupgrade: echo\r\n\r\n",
        )
        .await
        .unwrap();
    let (status, _) = read_answer(&mut stream).await;
    assert_eq!(status, "http/1.1 101 switching protocols");
    tokio::time::sleep(ms(900)).await;
    stream.write_all(b"ping").await.unwrap();
    let mut echo = [0; 4];
    tokio::time::timeout(ms(2000), stream.read_exact(&mut echo))
        .await
        .expect("echo in time")
        .expect("still open");
    assert_eq!(&echo, b"ping");
    // It still counts against the cap.
    holding(&server, 1, 4).await;
}

#[tokio::test]
async fn grpc_calls_are_served_within_the_cap_and_timeouts() {
    let server = grpc_health_server(limits(2, 1500, 600)).await;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut health = HealthClient::new(channel);
    let check = || HealthCheckRequest {
        service: String::new(),
    };
    let status = health.check(check()).await.unwrap().into_inner().status();
    assert_eq!(status, ServingStatus::Serving);

    // A connection that never starts talking takes the second slot
    // until the header timeout; one more is closed at once.
    let connected = Instant::now();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    holding(&server, 2, 2).await;
    let mut surplus = TcpStream::connect(server.addr).await.unwrap();
    assert!(until_closed(&mut surplus).await.is_empty());
    assert!(
        connected.elapsed() < ms(1000),
        "refused after {:?}",
        connected.elapsed()
    );
    // It reads the server's HTTP/2 settings, then the close.
    until_closed(&mut silent).await;
    let silent_for = connected.elapsed();
    assert!(
        silent_for >= ms(1400) && silent_for < ms(4000),
        "{silent_for:?}"
    );

    // A call in progress (a watch stream) keeps its connection past
    // the idle timeout; once it ends, the idle connection is closed.
    let mut watch = health.watch(check()).await.unwrap().into_inner();
    assert!(watch.message().await.unwrap().is_some());
    tokio::time::sleep(ms(1200)).await;
    holding(&server, 1, 2).await;
    drop(watch);
    tokio::time::sleep(ms(900)).await;
    holding(&server, 0, 2).await;
    // The client reconnects on its next call.
    let status = health.check(check()).await.unwrap().into_inner().status();
    assert_eq!(status, ServingStatus::Serving);
}

#[tokio::test]
async fn a_grpc_call_carries_the_peer_address_and_is_in_flight_until_answered() {
    #[derive(Clone)]
    struct Echo;
    impl tower::Service<Request<()>> for Echo {
        type Response = Response<String>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<String>, Infallible>>;
        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
            Poll::Ready(Ok(()))
        }
        fn call(&mut self, request: Request<()>) -> Self::Future {
            let peer = request.extensions().get::<TcpConnectInfo>().cloned();
            let peer = peer.and_then(|p| p.remote_addr).map(|a| a.to_string());
            std::future::ready(Ok(Response::new(peer.unwrap_or_default())))
        }
    }
    let clock = Arc::new(Clock::new(Protocol::Grpc, &limits(1, 1000, 5000)));
    let peer: SocketAddr = "10.1.2.3:4567".parse().unwrap();
    let mut request = Request::new(());
    request.extensions_mut().insert(Peer {
        tcp: TcpConnectInfo {
            local_addr: None,
            remote_addr: Some(peer),
        },
        clock: Arc::clone(&clock),
    });
    let response = tower::Service::call(&mut TrackCalls.layer(Echo), request)
        .await
        .unwrap();
    assert_eq!(response.body().body, "10.1.2.3:4567");
    assert_eq!(
        clock.deadline(Waker::noop()),
        None,
        "answer still going out"
    );
    drop(response);
    let idle = clock.deadline(Waker::noop()).unwrap();
    assert!(
        idle > Instant::now() + ms(4000),
        "idle timeout once answered"
    );
}

#[test]
fn the_deadline_follows_what_the_connection_does() {
    let waker = Waker::noop();
    let http = Arc::new(Clock::new(Protocol::Http1, &limits(1, 1000, 5000)));
    let accepted = http.state().accepted;
    assert_eq!(http.deadline(waker), Some(accepted + ms(1000)));
    // Bytes before the first request do not extend its header time.
    http.read_some();
    assert_eq!(http.deadline(waker), Some(accepted + ms(1000)));
    let request = http.begin();
    assert_eq!(http.deadline(waker), None);
    drop(request);
    let idle = http.deadline(waker).unwrap();
    assert!(idle >= accepted + ms(5000));
    http.read_some();
    let next_head = http.deadline(waker).unwrap();
    assert!(
        next_head < idle,
        "the next request's headers have the header timeout"
    );
    http.begin();
    http.detach();
    assert_eq!(http.deadline(waker), None, "upgraded");

    let grpc = Arc::new(Clock::new(Protocol::Grpc, &limits(1, 1000, 5000)));
    let (one, two) = (grpc.begin(), grpc.begin());
    drop(one);
    assert_eq!(grpc.deadline(waker), None, "a call still in flight");
    drop(two);
    let idle = grpc.deadline(waker).unwrap();
    // Pings and other frames are not use.
    grpc.read_some();
    grpc.wrote_some();
    assert_eq!(grpc.deadline(waker), Some(idle));
}
